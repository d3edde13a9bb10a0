"""Run-time CPU paths (scalar / AVX2 / AVX-512) and thread counts must not change
a single bit of the result."""

from __future__ import annotations

import gelu_ext
import pytest
import torch
from conftest import (
    DTYPES,
    HALF_DTYPES,
    MODES,
    all_16bit_values,
    assert_bitwise_equal,
    dtype_id,
    random_values,
    special_values,
)
from gelu_ext import _C

PATHS = _C.simd_supported()
OTHER_PATHS = [p for p in PATHS if p != "scalar"]


def _inputs(dtype: torch.dtype) -> torch.Tensor:
    """Special values, random data, a dense grid over the interesting range and,
    for the 16-bit types, every bit pattern. Odd length: exercises vector tails."""
    parts = [
        special_values(dtype),
        random_values(dtype, 30_001, seed=11),
        torch.linspace(-16, 16, 20_011, dtype=torch.float64).to(dtype),
    ]
    if dtype in HALF_DTYPES:
        x = all_16bit_values(dtype)
        parts.append(x[~x.isnan()])  # NaN payloads: see the test at the bottom
    return torch.cat(parts)


def _run_all_paths(fn):
    out = {}
    for path in PATHS:
        _C.set_simd(path)
        assert _C.simd_selected() == path
        out[path] = fn()
    return out


def test_simd_facts(restore_simd):
    compiled = _C.simd_compiled()
    assert "scalar" in compiled and "scalar" in PATHS
    assert set(PATHS) <= set(compiled) <= {"scalar", "avx2", "avx512", "avx512-gather"}
    assert _C.simd_selected() in PATHS
    for path in PATHS:
        _C.set_simd(path)
        assert _C.simd_selected() == path


def test_default_is_best_supported():
    # the library picks the widest supported path unless GELU_EXT_SIMD says otherwise
    import os

    if os.environ.get("GELU_EXT_SIMD"):
        pytest.skip("GELU_EXT_SIMD is set in the environment")
    assert _C.simd_selected() == PATHS[-1]


def _cpuinfo() -> dict[str, str]:
    """The first processor's fields in /proc/cpuinfo (empty where there is none)."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    return fields


# Intel family 6 models of the server cores from Sapphire Rapids on: Sapphire
# Rapids, Emerald Rapids, Granite Rapids (two models).
FAST_GATHER_MODELS = {0x8F, 0xCF, 0xAD, 0xAE}


@pytest.mark.skipif("avx512-gather" not in PATHS, reason="this CPU has no AVX-512 path")
@pytest.mark.skipif("flags" not in _cpuinfo(), reason="no /proc/cpuinfo flags to compare with")
def test_gather_table_preferred_only_on_fast_gather_cpus():
    # both AVX-512 tables are supported; the one that reads the 16-bit result
    # tables by gathers ranks best only where the CPU has AVX512-FP16 or is
    # one of the Intel server models where gathers measured faster than
    # scalar loads (the kernel's own account of the CPU, not CPUID's)
    info = _cpuinfo()
    fast = "avx512_fp16" in info["flags"].split() or (
        info.get("vendor_id") == "GenuineIntel"
        and info.get("cpu family") == "6"
        and int(info.get("model", "-1")) in FAST_GATHER_MODELS
    )
    assert "avx512" in PATHS
    assert PATHS[-1] == ("avx512-gather" if fast else "avx512")
    assert set(PATHS[-2:]) == {"avx512", "avx512-gather"}


@pytest.mark.parametrize("name", ["", "sse2", "AVX2", "neon", "avx1024"])
def test_set_simd_rejects_unknown(name, restore_simd):
    with pytest.raises(ValueError, match="not a SIMD path this CPU supports"):
        _C.set_simd(name)
    assert _C.simd_selected() == restore_simd


@pytest.mark.skipif(len(PATHS) < 2, reason="only the scalar path is supported on this CPU")
@pytest.mark.parametrize("path", OTHER_PATHS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_paths_bitwise_identical(dtype, mode, path, restore_simd):
    x = _inputs(dtype)
    g = _inputs(dtype).flip(0) * 0.75  # includes inf/0 grads, NaN only from special values
    g = torch.where(g.isnan(), torch.ones_like(g), g)

    def compute():
        return (
            gelu_ext.gelu(x, mode),
            gelu_ext.gelu_backward(g, x, mode),
            gelu_ext.gelu_backward(torch.ones_like(x), x, mode),
            gelu_ext.gelu(x[::3], mode),  # strided: staged through the same kernel
        )

    res = _run_all_paths(compute)
    for i, what in enumerate(["forward", "backward", "backward(g=1)", "strided forward"]):
        a, b = res[path][i], res["scalar"][i]
        # Every non-NaN output bit for bit; NaN exactly where the scalar path
        # has NaN. NaN payloads are not part of the contract (F16C keeps a
        # float16 payload that the portable conversion canonicalises).
        assert torch.equal(a.isnan(), b.isnan()), f"{path} vs scalar: {what}: NaN positions"
        keep = ~b.isnan()
        assert_bitwise_equal(a[keep], b[keep], f"{path} vs scalar: {what}")


@pytest.mark.skipif(len(PATHS) < 2, reason="only the scalar path is supported on this CPU")
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16], ids=dtype_id)
@pytest.mark.parametrize("n", [1, 7, 8, 15, 16, 17, 31, 32, 33, 35, 63, 64, 65, 97])
def test_paths_identical_on_vector_tails(n, mode, dtype, restore_simd):
    # n around 16 and 32: the vector width, and the 16-bit lookup's loop step
    x = random_values(dtype, n, seed=n)
    res = _run_all_paths(lambda: gelu_ext.gelu(x, mode))
    for path in OTHER_PATHS:
        assert_bitwise_equal(res[path], res["scalar"], f"n={n} {path}")


@pytest.mark.skipif(len(PATHS) < 2, reason="only the scalar path is supported on this CPU")
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=dtype_id)
def test_paths_agree_on_nan(dtype, mode, restore_simd):
    """Arbitrary NaN bit patterns (signs, payloads, signalling): NaN in every path."""
    if dtype == torch.float32:
        g = torch.Generator().manual_seed(4)
        x = torch.randint(-(2**31), 2**31 - 1, (100_000,), generator=g, dtype=torch.int64)
        x = x.to(torch.int32).view(torch.float32)
    else:
        x = all_16bit_values(dtype)
    grad = x.flip(0).clone()
    res = _run_all_paths(lambda: (gelu_ext.gelu(x, mode), gelu_ext.gelu_backward(grad, x, mode)))
    for path in OTHER_PATHS:
        for a, b in zip(res[path], res["scalar"]):
            assert torch.equal(a.isnan(), b.isnan())
            keep = ~a.isnan()
            assert_bitwise_equal(a[keep], b[keep], f"{path} non-NaN outputs")


def _beyond_normal_range() -> tuple[torch.Tensor, torch.Tensor]:
    """float32 inputs on both sides of the loops' normal-range screen
    (gelu_math.h: NormalRange, 12 / 9 / 40 for the three modes) and out to
    where every result is 0 or x, as whole vectors of one kind and mixed
    within a vector (one input beyond the screen sends a whole vector through
    the full-range form), with gradients that are subnormal, tiny, infinite,
    NaN and zero."""
    grid = torch.linspace(0, 70, 70_001, dtype=torch.float64).to(torch.float32)
    bounds = torch.tensor([9.0, 12.0, 40.0, 11.0, 15.0, 64.0])
    near = torch.cat([bounds, bounds.nextafter(bounds + 1), bounds.nextafter(bounds - 1)])
    sub = torch.tensor([1e-45, 1e-42, 1e-40, 1e-39, 1.1e-38, 1.2e-38])
    y = torch.cat([grid, near, sub, torch.tensor([0.0, float("inf")])])
    x = torch.cat([y, -y])
    mixed = x[torch.randperm(x.numel(), generator=torch.Generator().manual_seed(5))]
    x = torch.cat([x, mixed, torch.tensor([float("nan")])])
    g = torch.randn(x.numel(), generator=torch.Generator().manual_seed(6))
    g[::7] = 1e-40
    g[3::11] = 1e-30
    g[5::13] = float("inf")
    g[6::17] = 0.0
    g[2::19] = float("nan")
    return x, g


@pytest.mark.skipif(len(PATHS) < 2, reason="only the scalar path is supported on this CPU")
@pytest.mark.parametrize("mode", MODES)
def test_paths_identical_beyond_normal_range(mode, restore_simd):
    # The SIMD loops evaluate vectors with an input beyond the normal range
    # through the formulas' full-range form (subnormal results rounded through
    # integers, products in double): the same bits as the scalar path, NaN
    # positions included.
    x, g = _beyond_normal_range()
    res = _run_all_paths(
        lambda: (
            gelu_ext.gelu(x, mode),
            gelu_ext.gelu_backward(g, x, mode),
            gelu_ext.gelu_backward(torch.ones_like(x), x, mode),
        )
    )
    for path in OTHER_PATHS:
        for what, a, b in zip(["forward", "backward", "backward(g=1)"], res[path], res["scalar"]):
            assert torch.equal(a.isnan(), b.isnan()), f"{path}: {what}: NaN positions"
            keep = ~a.isnan()
            assert_bitwise_equal(a[keep], b[keep], f"{path} vs scalar: {what}")
    # and the inputs do reach results below the normal range
    f = res["scalar"][0]
    assert ((f != 0) & (f.abs() < 2.0**-126)).sum() > 100


def _near_boundaries(ends: list[float], bound: float) -> torch.Tensor:
    """float32 inputs around a near form (csrc/gelu_math.h: gelu_exact_near,
    from -8.625 up, gelu_tanh_near, from -7 up, and
    gelu_tanh_derivative_near, from -8 up): the ends of
    its 32 intervals and +-bound with their neighbours, both signs; then
    16-lane blocks in a shuffled order that makes the loops switch between
    their runs: all near, one lane below -bound, all below -12.5 (the
    full-range run), one NaN, one +inf."""
    e = torch.tensor(ends + [bound], dtype=torch.float32)
    up, down = e.nextafter(torch.full_like(e, 99.0)), e.nextafter(torch.zeros_like(e))
    e = torch.cat([e, up, down, up.nextafter(torch.full_like(e, 99.0))])
    gen = torch.Generator().manual_seed(5)
    blocks = []
    for kind in torch.randint(0, 5, (400,), generator=gen).tolist():
        b = torch.randn(16, generator=gen) * 2
        if kind == 1:
            b[int(torch.randint(0, 16, (1,), generator=gen))] = -bound - 0.375
        elif kind == 2:
            b = -12.5 - torch.rand(16, generator=gen) * 3
        elif kind == 3:
            b[3] = float("nan")
        elif kind == 4:
            b[7] = float("inf")
        blocks.append(b)
    return torch.cat([e, -e, *blocks])


def _inverse(g, v: float) -> float:
    """The y in [0, 16] with g(y) = v, g increasing (bisection)."""
    lo, hi = 0.0, 16.0
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if g(mid) < v else (lo, mid)
    return lo


# The near forms' interval ends y(n + 1/2): rint(g(y)) = n with
# g = 5 y (y + 3) / 16 for the exact forward, y (5/4 + y (3/16 + y 9/256))
# for the tanh forward, y (5/4 + y (1/8 + y 213/8192)) for the tanh backward.
EXACT_NEAR_ENDS = [_inverse(lambda y: 5 * y * (y + 3) / 16, n + 0.5) for n in range(31)]
TANH_FORWARD_NEAR_ENDS = [
    _inverse(lambda y: y * (1.25 + y * (0.1875 + y * 9 / 256)), n + 0.5) for n in range(30)
]
TANH_NEAR_ENDS = [
    _inverse(lambda y: y * (1.25 + y * (0.125 + y * 213 / 8192)), n + 0.5) for n in range(31)
]


@pytest.mark.skipif(len(PATHS) < 2, reason="only the scalar path is supported on this CPU")
@pytest.mark.parametrize(
    "mode, direction, ends, bound",
    [
        ("none", "forward", EXACT_NEAR_ENDS, 8.625),
        ("tanh", "forward", TANH_FORWARD_NEAR_ENDS, 7.0),
        ("tanh", "backward", TANH_NEAR_ENDS, 8.0),
    ],
    ids=["exact-forward", "tanh-forward", "tanh-backward"],
)
def test_paths_identical_at_near_form_boundaries(mode, direction, ends, bound, restore_simd):
    # The SIMD loops take the near form for vectors with every lane from
    # -bound up, both forms and a per-lane choice for the others; the scalar
    # path chooses per element. Same bits, NaN positions included, across
    # every switch between the kinds of run.
    x = _near_boundaries(ends, bound)
    g = torch.randn(x.shape, generator=torch.Generator().manual_seed(6))
    if direction == "forward":
        res = _run_all_paths(lambda: gelu_ext.gelu(x, mode))
    else:
        res = _run_all_paths(lambda: gelu_ext.gelu_backward(g, x, mode))
    for path in OTHER_PATHS:
        a, b = res[path], res["scalar"]
        assert torch.equal(a.isnan(), b.isnan()), f"{path}: NaN positions"
        keep = ~b.isnan()
        assert_bitwise_equal(
            a[keep], b[keep], f"{path} vs scalar: {mode} {direction} near -{bound}"
        )
    # both forms are reached: values on both sides of -bound
    assert (x < -bound).sum() > 100 and ((x >= -bound) & (x < 0)).sum() > 1000


def _float64_edges() -> torch.Tensor:
    """float64 inputs where its formulas switch: the deep tails down to
    subnormal and zero results, both clamps, and the borders of the pieces
    of its tail polynomial (gelu_math_f64.h: piece i ends at t = (i + 1)/31,
    t = 1/(|x| + 4)), each with its neighbours."""
    y = torch.tensor([31.0 / (i + 1) - 4.0 for i in range(7)] + [23.0, 40.0], dtype=torch.float64)
    near = torch.cat([y, y.nextafter(torch.zeros_like(y)), y.nextafter(torch.full_like(y, 99.0))])
    near = torch.cat([near, near * (1 + 1e-12), near * (1 - 1e-12)])
    deep = torch.cat(
        [
            torch.linspace(-41, -36, 5001, dtype=torch.float64),
            torch.linspace(-24, -20, 4001, dtype=torch.float64),
        ]
    )
    return torch.cat([near, -near, deep, torch.logspace(-320, 308, 2001, dtype=torch.float64)])


@pytest.mark.skipif(len(PATHS) < 2, reason="only the scalar path is supported on this CPU")
@pytest.mark.parametrize("mode", MODES)
def test_float64_paths_identical_at_edges(mode, restore_simd):
    x = _float64_edges()
    x = torch.cat([x, -x])
    res = _run_all_paths(
        lambda: (gelu_ext.gelu(x, mode), gelu_ext.gelu_backward(torch.ones_like(x), x, mode))
    )
    for path in OTHER_PATHS:
        for a, b, what in zip(res[path], res["scalar"], ["forward", "backward"]):
            assert_bitwise_equal(a, b, f"float64 {path} vs scalar: {what}")


@pytest.mark.skipif(len(PATHS) < 2, reason="only the scalar path is supported on this CPU")
@pytest.mark.parametrize("mode", MODES)
def test_float64_paths_agree_on_random_bits(mode, restore_simd):
    """Random float64 bit patterns: every exponent, NaNs of any sign and payload."""
    g = torch.Generator().manual_seed(6)
    x = torch.randint(-(2**63), 2**63 - 1, (100_000,), generator=g, dtype=torch.int64)
    x = x.view(torch.float64)
    grad = x.flip(0).clone()
    res = _run_all_paths(lambda: (gelu_ext.gelu(x, mode), gelu_ext.gelu_backward(grad, x, mode)))
    for path in OTHER_PATHS:
        for a, b in zip(res[path], res["scalar"]):
            assert torch.equal(a.isnan(), b.isnan())
            assert_bitwise_equal(a, b, f"float64 {path} vs scalar")


# ---------------------------------------------------------------------------
# Threads
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float64], ids=dtype_id)
def test_thread_count_does_not_change_bits(dtype, mode, restore_threads):
    n = 1 << 20
    g = torch.Generator().manual_seed(9)
    x = (torch.randn(n, generator=g) * 4).to(dtype)
    grad = torch.randn(n, generator=g).to(dtype)
    xs = x.view(1024, 1024).t()  # strided, too

    def compute():
        return (
            gelu_ext.gelu(x, mode),
            gelu_ext.gelu_backward(grad, x, mode),
            gelu_ext.gelu(xs, mode),
        )

    torch.set_num_threads(1)
    one = compute()
    torch.set_num_threads(2)
    assert torch.get_num_threads() == 2
    two = compute()
    for a, b in zip(one, two):
        assert_bitwise_equal(a, b, "1 vs 2 threads")


@pytest.mark.skipif(len(PATHS) < 2, reason="only the scalar path is supported on this CPU")
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", HALF_DTYPES, ids=dtype_id)
def test_half_paths_identical_nan_bits_included(dtype, mode, restore_simd):
    """The 16-bit types: every input, forward and backward, every output bit,
    NaN results included (all NaN results are one canonical NaN), with grads
    that make NaNs both ways: a NaN grad, and an infinite grad times f'(x) = 0."""
    x = all_16bit_values(dtype)
    grads = [
        torch.full_like(x, v)
        for v in (float("nan"), float("inf"), float("-inf"), 0.0, 1.0, -3.5, 1e-3)
    ] + [x.flip(0)]

    def compute():
        return [gelu_ext.gelu(x, mode)] + [gelu_ext.gelu_backward(g, x, mode) for g in grads]

    res = _run_all_paths(compute)
    # the inf * 0 case is there: more NaN results with g = inf than NaN inputs
    assert int(res["scalar"][2].isnan().sum()) > int(x.isnan().sum())
    for path in OTHER_PATHS:
        for i, (a, b) in enumerate(zip(res[path], res["scalar"])):
            assert_bitwise_equal(a, b, f"{path} vs scalar, output {i}")
