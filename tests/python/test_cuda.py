"""CUDA kernels: values against the float64 reference and against native
PyTorch, special values, CPU-vs-CUDA agreement, layouts, autograd, opcheck,
torch.compile, CUDA graphs, devices and streams, out-of-memory behaviour and
tensors with more than 2^31 elements.

These run on a machine with a CUDA device and a build with CUDA kernels
(``scripts/gpu_check.sh`` runs this file, the ``huge`` tests as their own step,
and ``test_sanitizer_smoke`` under compute-sanitizer). Elsewhere these tests
are skipped with the reason shown in the test summary (``pytest -rs``); the
GPU benchmark module's pure-Python parts are tested everywhere.
"""

from __future__ import annotations

import json
import math

import gelu_ext
import pytest
import torch
import torch.nn.functional as F
from conftest import (
    DTYPES,
    HALF_DTYPES,
    MODES,
    accuracy_inputs,
    all_16bit_values,
    assert_bitwise_equal,
    assert_ulp_close,
    bits,
    dtype_id,
    random_values,
    ref_gelu,
    ref_gelu_grad,
    special_values,
    ulp,
)
from gelu_ext import _C, cli
from gelu_ext.cli import bench
from gelu_ext.cli.reference import textbook_gelu, textbook_gelu_backward
from test_compile import _eager_and_compiled
from test_compile import fn as compile_fn
from test_layouts import _MIXED_BUILD, _STRIDE_MISMATCH, LAYOUTS, MIXED
from test_opcheck import LAYOUTS as OPCHECK_LAYOUTS
from test_opcheck import _check, _make
from test_values import F64_LOWER, TOL, _mp_reference, reference
from test_values import run as run_op

if not _C.cuda_compiled():
    _NO_CUDA = "gelu_ext was built without CUDA kernels (_C.cuda_compiled() is False)"
elif not torch.cuda.is_available():
    _NO_CUDA = "no CUDA device available"
else:
    _NO_CUDA = ""
# Every test here but the benchmark module's pure-Python helpers needs a GPU.
needs_cuda = pytest.mark.skipif(bool(_NO_CUDA), reason=_NO_CUDA)

GELU = torch.ops.gelu_ext.gelu.default
GELU_BACKWARD = torch.ops.gelu_ext.gelu_backward.default
DIRECTIONS = ["forward", "backward"]


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------
def on_cuda(t: torch.Tensor, device: str | torch.device = "cuda") -> torch.Tensor:
    """The same view of a GPU copy of ``t``'s storage: sizes, strides, storage
    offset (hence alignment) and the gaps between elements all preserved.
    (``t.cuda()`` would make non-dense views dense.)"""
    n = t.untyped_storage().nbytes() // t.element_size()
    flat = torch.empty(0, dtype=t.dtype).set_(t.untyped_storage(), 0, (n,), (1,))
    return flat.to(device).as_strided(t.size(), t.stride(), t.storage_offset())


def native(direction: str, x: torch.Tensor, mode: str, g: torch.Tensor) -> torch.Tensor:
    if direction == "forward":
        return F.gelu(x, approximate=mode)
    return torch.ops.aten.gelu_backward(g, x, approximate=mode)


def ours(direction: str, x: torch.Tensor, mode: str, g: torch.Tensor) -> torch.Tensor:
    if direction == "forward":
        return gelu_ext.gelu(x, mode)
    return gelu_ext.gelu_backward(g, x, mode)


def excess_ulp(
    out: torch.Tensor, ref: torch.Tensor, dtype: torch.dtype, abs_tol: float = 0.0
) -> torch.Tensor:
    """Error beyond ``abs_tol`` in ulps of ``dtype`` at ``ref`` (NaN refs dropped)."""
    o, r = out.detach().cpu().double().flatten(), ref.double().flatten()
    keep = ~r.isnan()
    o, r = o[keep], r[keep]
    err = torch.where(o == r, torch.zeros_like(r), (o - r).abs())
    err = torch.where(err.isnan(), torch.full_like(err, math.inf), err)
    return (err - abs_tol).clamp(min=0.0) / ulp(r, dtype)


def assert_same_nans(a: torch.Tensor, b: torch.Tensor, what: str) -> None:
    assert torch.equal(a.cpu().isnan(), b.cpu().isnan()), f"{what}: NaN positions differ"


def assert_cpu_cuda_close(cpu: torch.Tensor, gpu: torch.Tensor, what: str) -> None:
    """CPU and CUDA results of the same op: NaN at the same places, and the
    others within the docs/DESIGN.md CPU-vs-CUDA bound (float32 <= 2 ulp; the
    16-bit types, whose device formulas differ from the CPU's, <= 1 ulp of the type;
    float64 <= 8 ulp: each device within its own 4-ulp contract, the device's
    exp/erfc being different code from the host libm's)."""
    dtype = cpu.dtype
    max_ulp = {torch.float32: 2, torch.float64: 8}.get(dtype, 1)
    assert gpu.dtype == dtype and gpu.shape == cpu.shape and gpu.is_cuda, what
    assert_same_nans(cpu, gpu, what)
    err = excess_ulp(gpu, cpu.double(), dtype)
    if err.numel():
        assert err.max() <= max_ulp, f"{what}: CPU and CUDA {err.max().item():.3g} ulp apart"


def cpu_cuda_inputs(dtype: torch.dtype, seed: int) -> torch.Tensor:
    """Random values, special values and (16-bit types) every bit pattern."""
    parts = [random_values(dtype, 1 << 16, seed=seed), special_values(dtype)]
    if dtype in HALF_DTYPES:
        parts.append(all_16bit_values(dtype))
    return torch.cat(parts)


# ---------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16], ids=dtype_id)
@needs_cuda
def test_values_match_float64_reference(dtype, mode, direction):
    """The docs/DESIGN.md contract on the GPU (16-bit types: all finite inputs)."""
    x = accuracy_inputs(dtype)
    out = run_op(direction, x.cuda(), mode)
    assert out.is_cuda and out.dtype == dtype and out.shape == x.shape
    assert_ulp_close(
        out.cpu(),
        reference(direction, x, mode),
        x,
        **TOL[(dtype, direction)],
        what=f"cuda {dtype_id(dtype)} {mode} {direction}",
    )


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("mode", MODES)
@needs_cuda
def test_float64_vs_high_precision(mode, direction):
    """float64 on the GPU: <= 4 ulp against mpmath, dense range and tails."""
    x = torch.cat(
        [
            torch.linspace(F64_LOWER[mode], 12.0, 801, dtype=torch.float64),
            torch.linspace(-0.80, -0.70, 101, dtype=torch.float64),  # root of f'
        ]
    )
    ref = _mp_reference(x.tolist(), mode, direction == "backward")
    out = run_op(direction, x.cuda(), mode).cpu()
    assert_ulp_close(
        out,
        ref,
        x,
        **TOL[(torch.float64, direction)],
        what=f"cuda float64 {mode} {direction} vs mpmath",
    )


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@needs_cuda
def test_values_vs_native(dtype, mode, direction):
    """Against PyTorch's CUDA GELU: finite wherever native is, equal within the
    dtype's usual tolerance where native does not cancel (-3 <= x), and never a
    larger worst-case error than native's against the float64 reference.
    (Native returns NaN at +-inf, and in tanh backward for huge |x|; those
    inputs are left out of the comparison: test_special_values has them.)"""
    x = torch.cat([random_values(dtype, 1 << 16, seed=31), special_values(dtype)])
    xc = x.cuda()
    gc = torch.ones_like(xc)  # the contract's grad_output (random ones: test_cpu_and_cuda_agree)
    mine, theirs = ours(direction, xc, mode, gc).cpu(), native(direction, xc, mode, gc).cpu()
    what = f"{dtype_id(dtype)} {mode} {direction}"
    assert torch.equal(mine.isnan(), x.isnan()), f"{what}: NaN only from NaN"
    both = x.isfinite() & theirs.isfinite()
    assert mine[both].isfinite().all(), f"{what}: not finite where native is"
    calm = both & (x >= -3)
    torch.testing.assert_close(mine[calm], theirs[calm], msg=what)
    if dtype != torch.float64:  # a float64 reference is too coarse to rank float64 results
        ref = reference(direction, x, mode)[both]
        tol = TOL[(dtype, direction)]
        worst_ours = excess_ulp(mine[both], ref, dtype, tol["abs_tol"]).max().item()
        worst_native = excess_ulp(theirs[both], ref, dtype, tol["abs_tol"]).max().item()
        assert worst_ours <= max(worst_native, tol["max_ulp"]), (
            f"{what}: ours {worst_ours:.3g} ulp, native {worst_native:.3g} ulp"
        )


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@needs_cuda
def test_special_values(dtype, mode):
    x = special_values(dtype).cuda()
    y = gelu_ext.gelu(x, mode).cpu()
    d = gelu_ext.gelu_backward(torch.ones_like(x), x, mode).cpu()
    xs = x.cpu()
    for v, want_y, want_d in [(math.inf, math.inf, 1.0), (-math.inf, 0.0, 0.0)]:
        i = (xs == v).nonzero()[0]
        assert y[i].item() == want_y and d[i].item() == want_d, (v, y[i], d[i])
    zeros = xs == 0
    assert (y[zeros] == 0).all()
    assert torch.equal(torch.signbit(y[zeros]), torch.signbit(xs[zeros])), "f(+-0) = +-0"
    assert torch.equal(y.isnan(), xs.isnan()) and torch.equal(d.isnan(), xs.isnan())
    # and the same bits as the CPU kernels
    assert_cpu_cuda_close(gelu_ext.gelu(xs, mode), gelu_ext.gelu(x, mode), "forward")
    assert_cpu_cuda_close(
        gelu_ext.gelu_backward(torch.ones_like(xs), xs, mode),
        gelu_ext.gelu_backward(torch.ones_like(x), x, mode),
        "backward",
    )


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@needs_cuda
def test_cpu_and_cuda_agree(dtype, mode):
    """docs/DESIGN.md: CPU vs CUDA float32 within 2 ulp (other dtypes: see
    assert_cpu_cuda_close), forward and backward with a random grad_output."""
    x = cpu_cuda_inputs(dtype, seed=21)
    g = random_values(dtype, x.numel(), seed=22)
    xc, gc = x.cuda(), g.cuda()
    assert_cpu_cuda_close(gelu_ext.gelu(x, mode), gelu_ext.gelu(xc, mode), "forward")
    assert_cpu_cuda_close(
        gelu_ext.gelu_backward(g, x, mode), gelu_ext.gelu_backward(gc, xc, mode), "backward"
    )


@pytest.mark.parametrize("mode", ["none"])
@pytest.mark.parametrize("dtype", [torch.float32], ids=dtype_id)
@needs_cuda
def test_cpu_and_cuda_bitwise(dtype, mode):
    """What the float32 exact backward, the exact forward below -8.625, the
    tanh forward from -7 up and the tanh backward from -8 up (their near
    tables, gelu_tanh_near and gelu_tanh_derivative_near) are written for,
    beyond the contract's 2 ulp (test_cpu_and_cuda_agree): bit for bit equal
    to the CPU (same formulas and tables, explicit FMAs, no contraction, IEEE
    division, one rounding). NaN payloads may differ.
    The CPU's exact forward from -8.625 up takes its near table, which CUDA
    does not (csrc/gelu_math.h, gelu_exact_tables); there the two are within
    2 representable numbers of each other for every float32 input
    (docs/ACCURACY.md), see test_cpu_and_cuda_differences. The other float32
    modes (and the tanh mode below its near forms' bounds) and the 16-bit
    types use the device formulas (csrc/gelu_math_device.h)."""
    x = cpu_cuda_inputs(dtype, seed=23)
    g = random_values(dtype, x.numel(), seed=24)
    xc, gc = x.cuda(), g.cuda()
    tail = x < -8.625
    near = x >= -8.0  # the tanh near forms' ranges (both devices take them)
    near_fwd = x >= -7.0
    pairs = [
        (
            "forward below -8.625",
            gelu_ext.gelu(x, mode)[tail],
            gelu_ext.gelu(xc, mode)[tail.cuda()],
        ),
        ("backward", gelu_ext.gelu_backward(g, x, mode), gelu_ext.gelu_backward(gc, xc, mode)),
        (
            "tanh forward from -7 up",
            gelu_ext.gelu(x, "tanh")[near_fwd],
            gelu_ext.gelu(xc, "tanh")[near_fwd.cuda()],
        ),
        (
            "tanh backward from -8 up",
            gelu_ext.gelu_backward(g, x, "tanh")[near],
            gelu_ext.gelu_backward(gc, xc, "tanh")[near.cuda()],
        ),
    ]
    for what, cpu, gpu in pairs:
        gpu = gpu.cpu()
        assert_same_nans(cpu, gpu, what)
        keep = ~cpu.isnan()
        assert_bitwise_equal(gpu[keep], cpu[keep], f"{dtype_id(dtype)} {mode} {what}")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16], ids=dtype_id)
@needs_cuda
def test_cpu_and_cuda_differences(dtype, mode, record_property):
    """Every 16-bit input, and the float32 sample of cpu_cuda_inputs: CUDA
    within the agreement contract of the CPU (1 ulp of the type, 2 ulp for
    float32), and how many results differ at all, reported (the CPU-side
    emulation, tests/cpp/test_device_math.cpp, predicts up to 1.7% for the
    16-bit types and 0.3% for the float32 sigmoid forms; the float32 exact
    backward and the tanh mode from -7 / -8 up are bitwise,
    test_cpu_and_cuda_bitwise, and the exact forward
    differs only from -8.625 up, where the CPU takes its near table)."""
    if dtype == torch.float32:
        x = cpu_cuda_inputs(dtype, seed=25)
    else:
        x = torch.arange(-32768, 32768, dtype=torch.int32).to(torch.int16).view(dtype)
    x = x[~x.isnan()]
    xc = x.cuda()
    for what, cpu, gpu in [
        ("forward", gelu_ext.gelu(x, mode), gelu_ext.gelu(xc, mode)),
        (
            "backward",
            gelu_ext.gelu_backward(torch.ones_like(x), x, mode),
            gelu_ext.gelu_backward(torch.ones_like(xc), xc, mode),
        ),
    ]:
        assert_cpu_cuda_close(cpu, gpu, f"{dtype_id(dtype)} {mode} {what}")
        gpu = gpu.cpu()
        ints = torch.int32 if dtype == torch.float32 else torch.int16
        differ = (cpu.view(ints) != gpu.view(ints)) & ~cpu.isnan()
        share = differ.double().mean().item()
        record_property(f"{what}_differ_fraction", share)
        print(f"{dtype_id(dtype)} {mode} {what}: {share:.3%} of inputs differ from the CPU")


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@needs_cuda
def test_sizes_around_the_vector_width(dtype):
    """Every length from 0 to 40 and some past a block's span: the 128-bit
    packs, the scalar tail and the grid-stride loop all give the CPU's values."""
    for n in list(range(41)) + [255, 256, 1023, 1025, 4097, 65537, 1_000_003]:
        x = random_values(dtype, n, seed=n)
        xc = x.cuda()
        for mode in MODES:
            assert_cpu_cuda_close(gelu_ext.gelu(x, mode), gelu_ext.gelu(xc, mode), f"n={n}")
            assert_cpu_cuda_close(
                gelu_ext.gelu_backward(x, x, mode),
                gelu_ext.gelu_backward(xc, xc, mode),
                f"bwd n={n}",
            )


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@needs_cuda
def test_misaligned_views(dtype):
    """Views that start one or more elements past a 16-byte boundary take
    the element-wise kernel; their values equal the aligned (vector) path's."""
    base = random_values(dtype, 5000, seed=7).cuda()
    per_pack = 16 // base.element_size()
    for offset in range(per_pack):
        for grad_offset in (0, offset):
            x = base[offset : offset + 4001]
            g = base.flip(0)[grad_offset : grad_offset + 4001]
            for mode in MODES:
                assert_bitwise_equal(
                    gelu_ext.gelu(x, mode), gelu_ext.gelu(x.clone(), mode), f"offset {offset}"
                )
                assert_bitwise_equal(
                    gelu_ext.gelu_backward(g, x, mode),
                    gelu_ext.gelu_backward(g.clone(), x.clone(), mode),
                    f"offsets {grad_offset}/{offset}",
                )


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@needs_cuda
def test_equally_misaligned_operands(dtype):
    """In place on x[k:], out= into a view k elements in, and backward with
    grad_output, self and grad_input all k elements in (also into
    grad_output itself): every operand is as far past a 16-byte boundary, so
    the vector kernel does the elements up to the boundary one by one and
    the rest as packs. Results equal the out-of-place results on dense
    clones bit for bit, for lengths shorter than that head, around it and
    past a block's span; the elements around the view are untouched."""
    size = torch.empty((), dtype=dtype).element_size()
    per_pack = 16 // size
    for offset in range(1, per_pack):
        head = per_pack - offset
        for n in sorted({1, head, head + 1, head + per_pack + 1, 4001, (1 << 16) + 3}):
            x_base = random_values(dtype, offset + n + 3, seed=n + offset).cuda()
            g_base = random_values(dtype, offset + n + 3, seed=n + offset + 1).cuda()
            x, g = x_base[offset : offset + n], g_base[offset : offset + n]
            assert x.data_ptr() % 16 == g.data_ptr() % 16 == offset * size
            for mode in MODES:
                what = f"offset {offset}, n={n}, {mode}"
                want = gelu_ext.gelu(x.clone(), mode)
                want_gi = gelu_ext.gelu_backward(g.clone(), x.clone(), mode)
                runs = []
                y_base = x_base.clone()
                gelu_ext.gelu_(y_base[offset : offset + n], mode)
                runs.append(("in place", y_base, x_base, want))
                o_base = torch.full_like(x_base, 7.0)
                gelu_ext.gelu(x, mode, out=o_base[offset : offset + n])
                runs.append(("out=", o_base, torch.full_like(x_base, 7.0), want))
                gi_base = torch.full_like(x_base, 7.0)
                gelu_ext.gelu_backward(g, x, mode, grad_input=gi_base[offset : offset + n])
                runs.append(("grad_input=", gi_base, torch.full_like(x_base, 7.0), want_gi))
                g2_base = g_base.clone()
                g2 = g2_base[offset : offset + n]
                gelu_ext.gelu_backward(g2, x, mode, grad_input=g2)
                runs.append(("into grad_output", g2_base, g_base, want_gi))
                for name, base, before, expected in runs:
                    assert_bitwise_equal(base[offset : offset + n], expected, f"{what}: {name}")
                    assert_bitwise_equal(base[:offset], before[:offset], f"{what}: before {name}")
                    assert_bitwise_equal(
                        base[offset + n :], before[offset + n :], f"{what}: after {name}"
                    )


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@needs_cuda
def test_mid_size_launches(dtype):
    """Sizes whose grid is split into smaller blocks to cover the
    multiprocessors (2^16 to 2^20 elements), below and above the switch to
    the one-pack-per-trip kernel (~2^17 on an H200), with and without a
    tail, give the CPU's values: forward, backward, and in place on a view
    one element in (the vector kernel with its first elements done one by
    one)."""
    for n in (1 << 16, (1 << 16) + 3, (1 << 17) - 1, 140_001, 1 << 18, (1 << 20) + 5):
        x = random_values(dtype, n + 1, seed=n)
        g = random_values(dtype, n, seed=n + 1)
        xs = x[:n].contiguous()
        xc, gc = xs.cuda(), g.cuda()
        for mode in MODES:
            what = f"n={n} {mode}"
            assert_cpu_cuda_close(gelu_ext.gelu(xs, mode), gelu_ext.gelu(xc, mode), what)
            assert_cpu_cuda_close(
                gelu_ext.gelu_backward(g, xs, mode),
                gelu_ext.gelu_backward(gc, xc, mode),
                f"backward {what}",
            )
            shifted = x.cuda()  # shifted[1:] starts one element past a 16-byte boundary
            gelu_ext.gelu_(shifted[1:], mode)
            assert_cpu_cuda_close(
                gelu_ext.gelu(x[1:].contiguous(), mode), shifted[1:], f"in place, one in, {what}"
            )


@needs_cuda
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_out_and_inplace_variants(dtype, mode):
    """gelu.out, gelu_backward.grad_input and gelu_ give the functional
    results bit for bit: dense, strided and misaligned outputs, an output that
    is an input, and in place on views (the rest of the base untouched)."""
    x = random_values(dtype, 3001, seed=11).cuda()
    g = random_values(dtype, 3001, seed=12).cuda()
    want, want_gi = gelu_ext.gelu(x, mode), gelu_ext.gelu_backward(g, x, mode)
    out = torch.full_like(x, 7.0)
    assert gelu_ext.gelu(x, mode, out=out).data_ptr() == out.data_ptr()
    assert_bitwise_equal(out, want, "out")
    gi = torch.full_like(x, 7.0)
    assert gelu_ext.gelu_backward(g, x, mode, grad_input=gi).data_ptr() == gi.data_ptr()
    assert_bitwise_equal(gi, want_gi, "grad_input")
    for which in ("grad_output", "self"):  # grad_input is one of the inputs
        g2, x2 = g.clone(), x.clone()
        gelu_ext.gelu_backward(g2, x2, mode, grad_input=g2 if which == "grad_output" else x2)
        assert_bitwise_equal(g2 if which == "grad_output" else x2, want_gi, f"into {which}")
    pair = torch.stack([torch.zeros_like(x), g], 1)  # out = pair[:, 0], stride 2
    gelu_ext.gelu(x, mode, out=pair[:, 0])
    assert_bitwise_equal(pair[:, 0], want, "strided out")
    assert_bitwise_equal(pair[:, 1], g, "next to the strided out")
    y = x.clone()
    assert gelu_ext.gelu_(y, mode).data_ptr() == y.data_ptr()
    assert_bitwise_equal(y, want, "in place")
    pair = torch.stack([x, g], 1)
    gelu_ext.gelu_(pair[:, 0], mode)
    assert_bitwise_equal(pair[:, 0], want, "in place, strided")
    assert_bitwise_equal(pair[:, 1], g, "next to the strided view")
    shifted = torch.cat([g[:1], x])  # shifted[1:] starts off a 16-byte boundary
    gelu_ext.gelu_(shifted[1:], mode)
    assert_bitwise_equal(shifted[1:], want, "in place, misaligned")
    assert_bitwise_equal(shifted[:1], g[:1], "before the misaligned view")


# ---------------------------------------------------------------------------
# Layouts (the CPU suite's layouts, rebuilt on the GPU view for view)
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("layout", list(LAYOUTS))
@needs_cuda
def test_layouts(layout, dtype, mode):
    x = on_cuda(LAYOUTS[layout](dtype, 0))
    g = on_cuda(LAYOUTS[layout](dtype, 1))
    x_before, g_before = x.clone(), g.clone()
    y = gelu_ext.gelu(x, mode)
    assert y.shape == x.shape and y.dtype == dtype and y.device == x.device
    assert y.stride() == F.gelu(x, approximate=mode).stride(), layout
    assert_bitwise_equal(y.contiguous(), gelu_ext.gelu(x.contiguous(), mode), layout)
    gi = gelu_ext.gelu_backward(g, x, mode)
    assert gi.stride() == torch.ops.aten.gelu_backward(g, x, approximate=mode).stride(), layout
    assert_bitwise_equal(
        gi.contiguous(), gelu_ext.gelu_backward(g.contiguous(), x.contiguous(), mode), layout
    )
    assert_bitwise_equal(x, x_before, "self modified")
    assert_bitwise_equal(g, g_before, "grad_output modified")


@pytest.mark.parametrize("x_layout", MIXED)
@pytest.mark.parametrize("g_layout", MIXED)
@needs_cuda
def test_backward_mixed_layouts(g_layout, x_layout):
    g, x = on_cuda(_MIXED_BUILD[g_layout](1)), on_cuda(_MIXED_BUILD[x_layout](0))
    for mode in MODES:
        out = gelu_ext.gelu_backward(g, x, mode)
        expect = gelu_ext.gelu_backward(g.contiguous(), x.contiguous(), mode)
        assert_bitwise_equal(out.contiguous(), expect, f"{g_layout}/{x_layout}")
        if (g_layout, x_layout) not in _STRIDE_MISMATCH:  # the CPU suite's known gap
            assert out.stride() == torch.ops.aten.gelu_backward(g, x, approximate=mode).stride()


@needs_cuda
def test_strided_view_reads_only_its_elements():
    base = torch.full((8, 16), float("nan"), device="cuda")
    view = base[::2, ::4]
    view.copy_(random_values(torch.float32, 16, seed=3).view(4, 4))
    out = gelu_ext.gelu(view)
    assert not out.isnan().any()
    assert_bitwise_equal(out, gelu_ext.gelu(view.contiguous()))
    assert base.isnan().sum() == base.numel() - view.numel()


# ---------------------------------------------------------------------------
# Autograd, opcheck, torch.compile, CUDA graphs
# ---------------------------------------------------------------------------
@pytest.fixture
def seeded_rng():
    """gradgradcheck draws random grad_outputs from the global RNGs."""
    with torch.random.fork_rng(devices=[torch.cuda.current_device()]):
        torch.manual_seed(1234)
        yield


def _grad_inputs(seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    special = torch.tensor(
        [0.0, 1e-3, -0.75, 0.75, -4.5, 4.5, -7.0, 2.7, -2.7], dtype=torch.float64
    )
    x = torch.cat([special, torch.randn(11, generator=g, dtype=torch.float64) * 2])
    return x.view(4, 5).cuda()


@pytest.mark.usefixtures("seeded_rng")
@pytest.mark.parametrize("mode", MODES)
@needs_cuda
def test_gradcheck_and_gradgradcheck(mode):
    x = _grad_inputs(0).requires_grad_()
    g = _grad_inputs(1).requires_grad_()
    kw = dict(eps=1e-6, atol=1e-8, rtol=1e-6)
    assert torch.autograd.gradcheck(lambda t: gelu_ext.gelu(t, mode), (x,), **kw)
    assert torch.autograd.gradgradcheck(lambda t: gelu_ext.gelu(t, mode), (x,), **kw)
    bwd = lambda a, b: gelu_ext.gelu_backward(a, b, mode)  # noqa: E731
    assert torch.autograd.gradcheck(bwd, (g, x), **kw)
    # third derivative by finite differences of f'': the CPU suite's tolerances
    # (test_autograd.py explains the tanh-mode rounding noise they allow for)
    assert torch.autograd.gradgradcheck(bwd, (g, x), eps=1e-6, atol=1e-5, rtol=1e-3)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@needs_cuda
def test_autograd_grad_is_gelu_backward(dtype, mode):
    x = random_values(dtype, 999, seed=4).cuda().requires_grad_()
    g = random_values(dtype, 999, seed=5).cuda()
    (grad,) = torch.autograd.grad(gelu_ext.gelu(x, mode), x, g)
    assert grad.is_cuda
    assert_bitwise_equal(grad, gelu_ext.gelu_backward(g, x.detach(), mode))


@pytest.mark.parametrize("requires_grad", [False, True], ids=["nograd", "grad"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@needs_cuda
def test_opcheck_dtypes(dtype, mode, requires_grad):
    x = _make("contiguous", dtype, 0).cuda().requires_grad_(requires_grad)
    g = _make("contiguous", dtype, 1).cuda().requires_grad_(requires_grad)
    _check(GELU, (x, mode))
    _check(GELU_BACKWARD, (g, x, mode))


@pytest.mark.parametrize("layout", OPCHECK_LAYOUTS)
@needs_cuda
def test_opcheck_layouts(layout):
    for mode in MODES:
        x = on_cuda(_make(layout, torch.float32, 0)).detach().requires_grad_()
        g = on_cuda(_make(layout, torch.float32, 1)).detach()
        _check(GELU, (x, mode))
        _check(GELU_BACKWARD, (g, x, mode))


@needs_cuda
@pytest.mark.parametrize("mode", MODES)
def test_opcheck_out_variants(mode):
    x = torch.randn(5, 6, device="cuda")
    g = torch.randn(5, 6, device="cuda")
    ops = torch.ops.gelu_ext
    for op, args, kwargs in [
        (ops.gelu.out, (x, mode), {"out": torch.empty_like(x)}),
        (ops.gelu.out, (x.t(), mode), {"out": torch.empty(6, 5, device="cuda")}),
        (ops.gelu_.default, (x.clone(), mode), {}),
        (ops.gelu_.default, (torch.randn(3, 4, device="cuda").bfloat16()[:, ::2], mode), {}),
        (ops.gelu_backward.grad_input, (g, x, mode), {"grad_input": torch.empty_like(x)}),
    ]:
        torch.library.opcheck(op, args, kwargs)


@pytest.fixture
def fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


@pytest.mark.usefixtures("fresh_dynamo")
@pytest.mark.parametrize("mode", MODES)
@needs_cuda
def test_compile_aot_eager(mode):
    compiled = torch.compile(compile_fn, backend="aot_eager", fullgraph=True)
    x = torch.randn(33, 5, device="cuda")
    (ye, ge), (yc, gc) = _eager_and_compiled(compiled, x, mode)
    assert yc.is_cuda
    assert_bitwise_equal(yc, ye, "forward")
    assert_bitwise_equal(gc, ge, "grad")


@pytest.mark.usefixtures("fresh_dynamo")
@pytest.mark.parametrize("mode", MODES)
@needs_cuda
def test_compile_inductor(mode):
    """Default backend (Triton kernels around our op), forward and backward."""
    from torch.utils._triton import has_triton

    if not has_triton():
        pytest.skip("torch.compile's inductor backend needs Triton, which is not installed")
    compiled = torch.compile(compile_fn, fullgraph=True)
    x = torch.randn(64, 33, device="cuda")
    (ye, ge), (yc, gc) = _eager_and_compiled(compiled, x, mode)
    # our op runs as an extern kernel; the surrounding arithmetic may fuse
    # differently, hence a float32-rounding tolerance.
    torch.testing.assert_close(yc, ye, rtol=2e-7, atol=1e-7)
    torch.testing.assert_close(gc, ge, rtol=2e-7, atol=1e-7)


@pytest.mark.parametrize("mode", MODES)
@needs_cuda
def test_cuda_graph_capture_and_replay(mode):
    """Capture needs every launch on the capturing (current) stream: a launch
    on the legacy default stream would make capture fail. Replays see new
    input values; the strided path (a copy, then the kernel) is captured too."""
    x = torch.randn(4099, device="cuda")
    g = torch.randn(4099, device="cuda")
    xt = torch.randn(37, 61, device="cuda").t()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up off the default stream, as torch advises
        for _ in range(2):
            gelu_ext.gelu(x, mode), gelu_ext.gelu_backward(g, x, mode), gelu_ext.gelu(xt, mode)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        y = gelu_ext.gelu(x, mode)
        gi = gelu_ext.gelu_backward(g, x, mode)
        yt = gelu_ext.gelu(xt, mode)
    for seed in (1, 2):
        gen = torch.Generator(device="cuda").manual_seed(seed)
        x.copy_(torch.randn(x.shape, device="cuda", generator=gen) * 4)
        g.copy_(torch.randn(g.shape, device="cuda", generator=gen))
        xt.copy_(torch.randn(xt.shape, device="cuda", generator=gen) * 4)
        graph.replay()
        torch.cuda.synchronize()
        assert_bitwise_equal(y, gelu_ext.gelu(x, mode), f"replay {seed} forward")
        assert_bitwise_equal(gi, gelu_ext.gelu_backward(g, x, mode), f"replay {seed} backward")
        assert_bitwise_equal(yt, gelu_ext.gelu(xt, mode), f"replay {seed} strided")


@pytest.mark.parametrize("mode", MODES)
@needs_cuda
def test_side_stream(mode):
    """Work queued on a non-default stream sees the inputs written there."""
    side = torch.cuda.Stream()
    with torch.cuda.stream(side):
        x = torch.randn(1 << 20, device="cuda") * 4
        y = gelu_ext.gelu(x, mode)
        d = gelu_ext.gelu_backward(torch.ones_like(x), x, mode)
    side.synchronize()
    xs = x.cpu()
    assert_cpu_cuda_close(gelu_ext.gelu(xs, mode), y, "forward on a side stream")
    assert_cpu_cuda_close(gelu_ext.gelu_backward(torch.ones_like(xs), xs, mode), d, "backward")


# ---------------------------------------------------------------------------
# Devices and errors
# ---------------------------------------------------------------------------
@needs_cuda
def test_mixed_devices_are_refused():
    x = torch.randn(3, 4, device="cuda")
    msg = "gelu_ext::gelu_backward: grad_output and self must be on the same device"
    with pytest.raises(RuntimeError, match=msg):
        gelu_ext.gelu_backward(x.cpu(), x)
    with pytest.raises(RuntimeError, match=msg):
        gelu_ext.gelu_backward(x, x.cpu())
    with pytest.raises(RuntimeError, match="gelu_ext::gelu.out: out must be on cuda"):
        gelu_ext.gelu(x, out=torch.empty(3, 4))


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs at least 2 CUDA devices")
@pytest.mark.parametrize("mode", MODES)
@needs_cuda
def test_second_device(mode):
    """Tensors on cuda:1 while cuda:0 is current: the device guard puts the
    output and the launch there, and leaves the current device alone."""
    torch.cuda.set_device(0)
    x = (torch.randn(100_003) * 4).to("cuda:1")
    g = torch.randn(100_003).to("cuda:1")
    y = gelu_ext.gelu(x, mode)
    gi = gelu_ext.gelu_backward(g, x, mode)
    assert y.device == x.device and gi.device == x.device
    assert torch.cuda.current_device() == 0
    assert_bitwise_equal(y.cpu(), gelu_ext.gelu(x.to("cuda:0"), mode).cpu(), "cuda:1 forward")
    assert_bitwise_equal(
        gi.cpu(),
        gelu_ext.gelu_backward(g.to("cuda:0"), x.to("cuda:0"), mode).cpu(),
        "cuda:1 backward",
    )
    with pytest.raises(RuntimeError, match="must be on the same device"):
        gelu_ext.gelu_backward(g.to("cuda:0"), x)


@needs_cuda
def test_errors_match_the_cpu():
    """Bad input fails with the CPU's exception type and message."""
    cases = [
        lambda dev: gelu_ext.gelu(torch.ones(3, dtype=torch.int32, device=dev)),
        lambda dev: gelu_ext.gelu(torch.ones(3, device=dev), "fast"),
        lambda dev: gelu_ext.gelu_backward(
            torch.ones(3, device=dev), torch.ones(3, dtype=torch.float64, device=dev)
        ),
        lambda dev: gelu_ext.gelu_backward(torch.ones(3, device=dev), torch.ones(4, device=dev)),
        lambda dev: gelu_ext.gelu(torch.ones(3, device=dev), out=torch.ones(4, device=dev)),
        lambda dev: gelu_ext.gelu_(torch.ones(1, device=dev).expand(3)),
        lambda dev: gelu_ext.gelu_backward(
            torch.ones(3, device=dev),
            torch.ones(3, device=dev),
            grad_input=torch.ones(3, dtype=torch.float64, device=dev),
        ),
    ]
    for case in cases:
        errors = []
        for dev in ("cpu", "cuda"):
            with pytest.raises(Exception) as info:
                case(dev)
            errors.append((type(info.value), str(info.value).splitlines()[0]))
        assert errors[0] == errors[1]


# ---------------------------------------------------------------------------
# Memory: out-of-memory, more than 2^31 elements
# ---------------------------------------------------------------------------
@needs_cuda
def test_out_of_memory_raises_and_process_stays_usable():
    """An output larger than the free memory raises torch.OutOfMemoryError
    (nothing is launched), and the next calls work with the memory back."""
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    free, _ = torch.cuda.mem_get_info()
    # x takes 60% of the free memory, so no output of its size fits.
    x = torch.zeros(int(free * 0.6) // 4, device="cuda")
    baseline = torch.cuda.memory_allocated()
    with pytest.raises(torch.OutOfMemoryError):
        gelu_ext.gelu(x)
    with pytest.raises(torch.OutOfMemoryError):
        gelu_ext.gelu_backward(x, x, "tanh")
    assert torch.cuda.memory_allocated() == baseline, "a failed call kept memory"
    del x
    torch.cuda.empty_cache()
    small = cpu_cuda_inputs(torch.float32, seed=8)
    assert_cpu_cuda_close(gelu_ext.gelu(small), gelu_ext.gelu(small.cuda()), "after OOM")


HUGE_N = 2**31 + 3 * 65536 + 5  # > 2^31, not a multiple of the 8-element pack


def _require_free_bytes(need: int) -> None:
    torch.cuda.empty_cache()
    free, total = torch.cuda.mem_get_info()
    if free < need:
        pytest.skip(
            f"needs {need / 2**30:.0f} GiB of free GPU memory, "
            f"{free / 2**30:.1f} of {total / 2**30:.1f} GiB free"
        )


def _poisoned_like(n: int) -> None:
    """Leave a freed block of n bfloat16 NaNs with an odd payload in the
    caching allocator, so an output that reuses it shows any skipped element."""
    poison = torch.full((n,), -1, dtype=torch.int16, device="cuda").view(torch.bfloat16)
    del poison


def _check_rows(out: torch.Tensor, row: torch.Tensor, what: str) -> None:
    """out (n elements) equals `row` repeated, bit for bit."""
    width = row.numel()
    m = out.numel() // width
    head = bits(out[: m * width]).view(m, width)
    assert torch.equal(head, bits(row).expand(m, width)), f"{what}: some element differs"
    rest = out.numel() - m * width
    assert torch.equal(bits(out[m * width :]), bits(row[:rest])), f"{what}: tail differs"


@pytest.mark.parametrize("mode", MODES)
@needs_cuda
def test_huge_tensor_forward(mode):
    """More than 2^31 bfloat16 elements (64-bit indexing): every element
    equals the result of the same input in a small tensor. Also a view that
    starts one element in (misaligned: the element-wise kernel)."""
    _require_free_bytes(24 * 2**30)
    row = all_16bit_values(torch.bfloat16).cuda()
    reps = -(-HUGE_N // row.numel())
    x = row.repeat(reps)[:HUGE_N]
    want = gelu_ext.gelu(row, mode)
    _poisoned_like(HUGE_N)
    y = gelu_ext.gelu(x, mode)
    _check_rows(y, want, "aligned")
    del y
    _poisoned_like(HUGE_N - 1)
    y1 = gelu_ext.gelu(x[1:], mode)
    assert y1.numel() > 2**31
    _check_rows(y1, want.roll(-1), "misaligned")


@pytest.mark.parametrize("mode", MODES)
@needs_cuda
def test_huge_tensor_backward(mode):
    _require_free_bytes(24 * 2**30)
    row = all_16bit_values(torch.bfloat16).cuda()
    grad_row = row.flip(0)
    reps = -(-HUGE_N // row.numel())
    x = row.repeat(reps)[:HUGE_N]
    g = grad_row.repeat(reps)[:HUGE_N]
    _poisoned_like(HUGE_N)
    gi = gelu_ext.gelu_backward(g, x, mode)
    _check_rows(gi, gelu_ext.gelu_backward(grad_row, row, mode), "backward")


# ---------------------------------------------------------------------------
# The short run for compute-sanitizer (memcheck, racecheck, initcheck)
# ---------------------------------------------------------------------------
@needs_cuda
def test_sanitizer_smoke():
    """Each kernel instantiation once, small: every dtype and mode, forward
    and backward, aligned (vector packs + scalar tail) and misaligned
    (element-wise), a strided input (copy, then kernel), and in place, also
    on a view one element in (vector packs with a head done one by one)."""
    for dtype in DTYPES:
        base = random_values(dtype, 1 << 12, seed=9).cuda()
        for mode in MODES:
            for x in (base[:1027], base[1:1028], base.view(64, 64)[:, ::3]):
                g = torch.ones_like(x)
                want = gelu_ext.gelu(x.cpu(), mode)
                assert_cpu_cuda_close(want, gelu_ext.gelu(x, mode), "forward")
                assert_cpu_cuda_close(
                    gelu_ext.gelu_backward(g.cpu(), x.cpu(), mode),
                    gelu_ext.gelu_backward(g, x, mode),
                    "backward",
                )
                assert_cpu_cuda_close(want, gelu_ext.gelu_(x.clone(), mode), "in place")
            shifted = base.clone()[1:1028]
            assert_cpu_cuda_close(
                gelu_ext.gelu(base[1:1028].cpu(), mode),
                gelu_ext.gelu_(shifted, mode),
                "in place, misaligned",
            )


# ---------------------------------------------------------------------------
# The benchmark's GPU part (gelu_ext.cli.bench)
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_benchmark_seed_formulas(mode):
    """The seed composites (the benchmark's textbook formulas) compute GELU and
    g * GELU' (where they do not cancel)."""
    x = torch.linspace(-3.0, 3.0, 1001, dtype=torch.float64)
    g = torch.linspace(-2.0, 2.0, 1001, dtype=torch.float64)
    torch.testing.assert_close(textbook_gelu(x, mode), ref_gelu(x, mode), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(
        textbook_gelu_backward(g, x, mode), g * ref_gelu_grad(x, mode), rtol=1e-12, atol=1e-14
    )


def _fake_row(n: int, direction: str) -> bench.Row:
    return bench.Row(
        device="cuda",
        gpu="test",
        direction=direction,
        dtype="bfloat16",
        approximate="tanh",
        n=n,
        ours_us=2.0,
        native_us=3.0,
        seed_us=20.0,
        copy_us=1.8,
        ours_gbps=1.0,
        native_gbps=0.7,
        copy_gbps=1.1,
        pct_of_copy=90.0,
        native_pct_of_copy=60.0,
        speedup=1.5,
        speedup_vs_seed=10.0,
        ours_host_us=4.25,
        native_host_us=3.0,
        overhead_us=1.25,
        noise=0.5,
    )


def test_benchmark_table():
    rows = [_fake_row(4096, "fwd"), _fake_row(1 << 24, "bwd")]
    lines = bench.format_table(rows, "cuda").splitlines()
    small = next(ln for ln in lines if ln.startswith("gelu ") and " 4K " in ln)
    large = next(ln for ln in lines if ln.startswith("gelu_backward") and " 16M " in ln)
    for line in (small, large):
        assert "1.50x" in line and "10.0x" in line and "90%" in line and "60%" in line
        assert line.endswith(" *")  # noise 0.5 > NOISY
    assert "+1.25" in small and "+1.25" not in large  # launch overhead: small sizes only
    assert any("spread" in ln for ln in lines)


@pytest.mark.skipif(not _NO_CUDA, reason="checks the message shown where no GPU is usable")
def test_benchmark_refuses_without_gpu(capsys):
    assert cli.main(["bench", "--device", "cuda", "--sizes", "4K", "--no-progress"]) == 1
    assert capsys.readouterr().err.strip() == (
        f"python -m gelu_ext bench: error: --device cuda: {bench.cuda_unavailable_reason()}"
    )


@needs_cuda
def test_benchmark_run_on_gpu(tmp_path):
    """A tiny run through the command line: the contract's fields, sane values."""
    out = tmp_path / "bench.json"
    assert (
        cli.main(
            [
                "bench",
                "--device",
                "cuda",
                "--dtype",
                "float32,bfloat16",
                "--mode",
                "tanh",
                "--sizes",
                "4K,1M",
                "--min-time",
                "0.01",
                "--json",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    data = json.loads(out.read_text())
    rows = data["rows"]
    assert len(rows) == 2 * 2 * 2 and data["environment"]["gpu_environment"]["gpu"]
    assert all(r["device"] == "cuda" and r["gpu"] for r in rows)
    for r in rows:
        for key in ("ours_us", "native_us", "seed_us", "copy_us"):
            assert 0 < r[key] < 1e6, (key, r)
        assert r["speedup"] == pytest.approx(r["native_us"] / r["ours_us"])
        assert r["pct_of_copy"] == pytest.approx(100 * r["copy_us"] / r["ours_us"])
