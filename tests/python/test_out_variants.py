"""The allocation-free variants: gelu.out, gelu_backward.grad_input and the
in-place gelu_. Same values as the functional ops (bitwise), any layout of
the output, aliasing of an input allowed, everything else refused clearly;
autograd refusal where the overwritten values would be needed; the version
counter; Meta kernels, opcheck, torch.compile."""

from __future__ import annotations

from pathlib import Path

import gelu_ext
import pytest
import torch
from conftest import DTYPES, MODES, assert_bitwise_equal, dtype_id, random_values
from gelu_ext import _C
from torch.library import opcheck

ops = torch.ops.gelu_ext


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_out_matches_functional(dtype, mode):
    x = random_values(dtype, 3000, seed=1)
    g = random_values(dtype, 3000, seed=2)
    out = torch.full_like(x, 7.0)
    r = gelu_ext.gelu(x, mode, out=out)
    assert r.data_ptr() == out.data_ptr()
    assert_bitwise_equal(out, gelu_ext.gelu(x, mode))
    gi = torch.full_like(x, 7.0)
    r = gelu_ext.gelu_backward(g, x, mode, grad_input=gi)
    assert r.data_ptr() == gi.data_ptr()
    assert_bitwise_equal(gi, gelu_ext.gelu_backward(g, x, mode))
    y = x.clone()
    r = gelu_ext.gelu_(y, mode)
    assert r.data_ptr() == y.data_ptr()
    assert_bitwise_equal(y, gelu_ext.gelu(x, mode))


@pytest.fixture
def stream_everything():
    """Every out= / in-place output written with non-temporal stores where
    the kernels can (normally only outputs larger than the last-level cache)."""
    before = _C.streaming_bytes()
    _C.set_streaming_bytes(0)
    try:
        yield
    finally:
        _C.set_streaming_bytes(before)
    assert _C.streaming_bytes() == before


@pytest.mark.parametrize("path", _C.simd_supported())
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16], ids=dtype_id)
def test_streaming_stores_same_values(dtype, mode, path, stream_everything, restore_simd):
    # outputs through the non-temporal stores (on AVX-512: float32, the
    # 16-bit backward, and the 16-bit forward, a cache line of 32 entries per
    # store):
    # the same bits as the functional results (ordinary stores), for lengths
    # around the vector and line widths, and for outputs not aligned to a
    # vector (ordinary stores then).
    _C.set_simd(path)
    for n in (1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 1000, 40_000):
        x = random_values(dtype, n, seed=n)
        g = random_values(dtype, n, seed=n + 1)
        if n > 3:
            x[::4] = torch.tensor([float("nan"), float("inf"), -float("inf"), -0.0]).repeat(n)[
                : len(x[::4])
            ]
        expect_f = gelu_ext.gelu(x, mode)
        expect_b = gelu_ext.gelu_backward(g, x, mode)
        for offset in (0, 1, 3):
            out = torch.full((n + offset,), 7.0, dtype=dtype)[offset:]
            gelu_ext.gelu(x, mode, out=out)
            assert_bitwise_equal(out, expect_f, f"{path} n={n} offset={offset} forward")
            gelu_ext.gelu_backward(g, x, mode, grad_input=out)
            assert_bitwise_equal(out, expect_b, f"{path} n={n} offset={offset} backward")
        y = x.clone()
        gelu_ext.gelu_(y, mode)
        assert_bitwise_equal(y, expect_f, f"{path} n={n} in place")


def _l3_bytes() -> int | None:
    """The last-level (L3) cache's size as the kernel reports it, or None."""
    for index in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
        try:
            if (index / "level").read_text().strip() == "3":
                size = (index / "size").read_text().strip()
                scale = {"K": 1 << 10, "M": 1 << 20}.get(size[-1], 1)
                return int(size.rstrip("KM")) * scale
        except (OSError, ValueError):
            return None
    return None


def test_streaming_bytes_default_is_the_llc_at_most_32_mib():
    # the default (outputs streamed from this size on) is the last-level
    # cache's size, capped at 32 MiB: on the servers' large shared caches a
    # larger output leaves the cache before its next reader comes
    default = _C.streaming_bytes()
    assert 0 < default <= 32 << 20
    l3 = _l3_bytes()
    if l3 is not None and l3 >= 32 << 20:
        assert default == 32 << 20


def test_streaming_bytes_setting():
    before = _C.streaming_bytes()
    try:
        _C.set_streaming_bytes(12345)
        assert _C.streaming_bytes() == 12345
        with pytest.raises(ValueError, match="set_streaming_bytes: bytes must be >= 0"):
            _C.set_streaming_bytes(-1)
        assert _C.streaming_bytes() == 12345
    finally:
        _C.set_streaming_bytes(before)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=dtype_id)
def test_large_fresh_outputs_match_out(dtype, threads, restore_threads):
    # Functional outputs of 4 MiB and more are populated in 1 MiB pieces
    # before the kernel writes them (csrc/cpu/gelu_cpu.cpp); the pieces
    # must cover every element once. An odd length leaves partial pages and
    # a partial last piece; the transposed input gives a transposed output.
    torch.set_num_threads(threads)
    n = (3 << 20) // dtype.itemsize * 2 + 4099
    x = random_values(dtype, n, seed=5)
    g = random_values(dtype, n, seed=6)
    shape = (1021, (9 << 19) // dtype.itemsize // 1021)  # 4.5 MiB
    xt = x[: shape[0] * shape[1]].view(shape).t()
    gt = g[: xt.numel()].view(shape).t()
    for mode in MODES:
        for inp, grad in ((x, g), (xt, gt)):
            out = torch.full_like(inp, 7.0)
            assert_bitwise_equal(gelu_ext.gelu(inp, mode), gelu_ext.gelu(inp, mode, out=out))
            gi = torch.full_like(inp, 7.0)
            assert_bitwise_equal(
                gelu_ext.gelu_backward(grad, inp, mode),
                gelu_ext.gelu_backward(grad, inp, mode, grad_input=gi),
            )


@pytest.mark.parametrize("mode", MODES)
def test_strided_outputs_and_inputs(mode):
    x = torch.randn(64, 48)
    want = gelu_ext.gelu(x, mode)
    # Transposed, sliced and channels-last outputs keep their layout.
    out_t = torch.empty(48, 64).t()
    gelu_ext.gelu(x, mode, out=out_t)
    assert out_t.stride() == (1, 64) and torch.equal(out_t, want)
    base = torch.zeros(64, 96)
    gelu_ext.gelu(x, mode, out=base[:, ::2])
    assert torch.equal(base[:, ::2], want) and not base[:, 1::2].any()
    x4 = torch.randn(2, 3, 5, 7).contiguous(memory_format=torch.channels_last)
    out4 = torch.empty_like(x4)
    gelu_ext.gelu(x4, mode, out=out4)
    assert out4.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(out4, gelu_ext.gelu(x4, mode))
    # In place on a strided view changes exactly that view of the base.
    base = torch.randn(10, 12)
    orig = base.clone()
    gelu_ext.gelu_(base[1::3, ::2], mode)
    want_base = orig.clone()
    want_base[1::3, ::2] = gelu_ext.gelu(orig[1::3, ::2], mode)
    assert torch.equal(base, want_base)


@pytest.mark.parametrize("mode", MODES)
def test_aliasing_an_input_is_allowed(mode):
    x = torch.randn(33, 17)
    g = torch.randn(33, 17)
    want = gelu_ext.gelu(x, mode)
    y = x.clone()
    gelu_ext.gelu(y, mode, out=y)
    assert torch.equal(y, want)
    want_b = gelu_ext.gelu_backward(g, x, mode)
    g2 = g.clone()
    gelu_ext.gelu_backward(g2, x, mode, grad_input=g2)
    assert torch.equal(g2, want_b)
    x2 = x.clone()
    gelu_ext.gelu_backward(g, x2, mode, grad_input=x2)
    assert torch.equal(x2, want_b)
    # Transposed views of one buffer: same memory, another order -> refused.
    sq = torch.randn(8, 8)
    with pytest.raises(RuntimeError, match=r"gelu_ext::gelu.out: out overlaps self in memory"):
        gelu_ext.gelu(sq, mode, out=sq.t())


def test_empty_and_zero_dim():
    e = torch.empty(0, 3)
    assert gelu_ext.gelu(e, out=torch.empty(0, 3)).shape == (0, 3)
    assert gelu_ext.gelu_(torch.empty(0)).shape == (0,)
    x = torch.tensor(-2.5)
    out = torch.empty(())
    gelu_ext.gelu(x, out=out)
    assert torch.equal(out, gelu_ext.gelu(x))
    y = x.clone()
    gelu_ext.gelu_(y, "tanh")
    assert torch.equal(y, gelu_ext.gelu(x, "tanh"))


def test_special_values_in_place():
    x = torch.tensor([0.0, -0.0, float("inf"), float("-inf"), float("nan"), 1e-45, -1e-45])
    y = x.clone()
    gelu_ext.gelu_(y)
    assert_bitwise_equal(y, gelu_ext.gelu(x))
    assert torch.equal(y[:2].sign(), x[:2].sign()) and torch.signbit(y[1])


BAD_OUT = [
    (
        lambda x: torch.empty(3),
        RuntimeError,
        r"gelu_ext::gelu.out: out must have shape \[4, 5\] "
        r"\(the input's; it is not resized\), got \[3\]",
    ),
    (
        lambda x: torch.empty(4, 5, dtype=torch.float64),
        TypeError,
        r"gelu_ext::gelu.out: out must have dtype Float \(the input's\), got Double",
    ),
    (
        lambda x: torch.empty(5).expand(4, 5),
        RuntimeError,
        r"gelu_ext::gelu.out: out has elements that share memory",
    ),
    (
        lambda x: torch.empty(4, 5, device="meta"),
        RuntimeError,
        r"gelu_ext::gelu.out: out must be on cpu \(the input's device\), got meta",
    ),
]


@pytest.mark.parametrize("make, exc, msg", BAD_OUT)
def test_bad_out_is_refused(make, exc, msg):
    x = torch.randn(4, 5)
    out = make(x)
    with pytest.raises(exc, match=msg):
        gelu_ext.gelu(x, out=out)


def test_bad_grad_input_is_refused():
    x, g = torch.randn(4, 5), torch.randn(4, 5)
    with pytest.raises(
        RuntimeError, match=r"gelu_ext::gelu_backward.grad_input: grad_input must have shape"
    ):
        gelu_ext.gelu_backward(g, x, grad_input=torch.empty(5, 4))
    with pytest.raises(
        TypeError,
        match=r"gelu_ext::gelu_backward.grad_input: grad_output and self must have the same dtype",
    ):
        gelu_ext.gelu_backward(g.double(), x, grad_input=torch.empty(4, 5))
    buf = torch.randn(30)
    with pytest.raises(RuntimeError, match=r"grad_input overlaps grad_output in memory"):
        gelu_ext.gelu_backward(buf[:20].view(4, 5), x, grad_input=buf[5:25].view(4, 5))
    with pytest.raises(
        ValueError,
        match=r"gelu_ext::gelu_backward.grad_input: "
        r"approximate must be 'none', 'tanh' or 'sigmoid'",
    ):
        gelu_ext.gelu_backward(g, x, "erf", grad_input=torch.empty(4, 5))  # type: ignore[arg-type]


def test_in_place_refusals():
    with pytest.raises(RuntimeError, match=r"gelu_ext::gelu_: self has elements that share memory"):
        gelu_ext.gelu_(torch.randn(5).expand(3, 5))
    with pytest.raises(TypeError, match=r"gelu_ext::gelu_: self must be a floating-point tensor"):
        gelu_ext.gelu_(torch.arange(4))
    with pytest.raises(
        ValueError,
        match=r"gelu_ext::gelu_: approximate must be 'none', 'tanh' or 'sigmoid', got 'fast'",
    ):
        gelu_ext.gelu_(torch.randn(3), "fast")  # type: ignore[arg-type]


def test_autograd_refusals_and_no_grad():
    leaf = torch.randn(6, requires_grad=True)
    with pytest.raises(
        RuntimeError,
        match=r"gelu_ext::gelu_: self requires grad, but its gradient would need the input values",
    ):
        gelu_ext.gelu_(leaf)
    with pytest.raises(RuntimeError, match=r"gelu_ext::gelu_: self requires grad"):
        gelu_ext.gelu_(leaf * 2)  # a non-leaf in the graph
    with pytest.raises(
        RuntimeError,
        match=r"gelu_ext::gelu.out: self requires grad, "
        r"but out= variants do not support automatic differentiation",
    ):
        gelu_ext.gelu(leaf, out=torch.empty(6))
    with pytest.raises(RuntimeError, match=r"gelu_ext::gelu.out: out requires grad"):
        gelu_ext.gelu(torch.randn(6), out=torch.empty(6, requires_grad=True))
    with pytest.raises(
        RuntimeError, match=r"gelu_ext::gelu_backward.grad_input: grad_output requires grad"
    ):
        gelu_ext.gelu_backward(leaf, torch.randn(6), grad_input=torch.empty(6))
    # Without grad mode they run (an optimizer-style update of a parameter).
    before = leaf.detach().clone()
    with torch.no_grad():
        gelu_ext.gelu_(leaf)
        out = torch.empty(6)
        gelu_ext.gelu(leaf, out=out)
    assert torch.equal(leaf.detach(), gelu_ext.gelu(before))
    assert torch.equal(out, gelu_ext.gelu(leaf.detach()))


def test_version_counter_catches_stale_saved_tensors():
    a = torch.randn(5, requires_grad=True)
    b = a * 2
    c = b.exp()  # saves its result (c) for backward
    v = c._version
    with torch.no_grad():
        gelu_ext.gelu_(c)
    assert c._version == v + 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        c.sum().backward()
    out = torch.empty(5)
    v = out._version
    gelu_ext.gelu(torch.randn(5), out=out)
    assert out._version == v + 1


def test_inference_mode():
    with torch.inference_mode():
        x = torch.randn(100)
        y = x.clone()
        gelu_ext.gelu_(y)
        out = torch.empty(100)
        gelu_ext.gelu(x, out=out)
    assert torch.equal(y, out) and torch.equal(y, gelu_ext.gelu(x))


def test_meta_tensors():
    x = torch.empty(3, 4, device="meta", dtype=torch.bfloat16)
    out = torch.empty(3, 4, device="meta", dtype=torch.bfloat16)
    assert ops.gelu.out(x, "tanh", out=out) is out
    assert ops.gelu_(x, "none") is x
    with pytest.raises(RuntimeError, match="out must have shape"):
        ops.gelu.out(x, out=torch.empty(4, 3, device="meta", dtype=torch.bfloat16))


@pytest.mark.parametrize("mode", MODES)
def test_opcheck(mode):
    x = torch.randn(5, 6)
    g = torch.randn(5, 6)
    for op, args, kwargs in [
        (ops.gelu.out, (x, mode), {"out": torch.empty_like(x)}),
        (ops.gelu.out, (x.t(), mode), {"out": torch.empty(6, 5)}),
        (ops.gelu_.default, (x.clone(), mode), {}),
        (ops.gelu_.default, (torch.randn(3, 4, dtype=torch.bfloat16)[:, ::2], mode), {}),
        (ops.gelu_backward.grad_input, (g, x, mode), {"grad_input": torch.empty_like(x)}),
    ]:
        opcheck(op, args, kwargs)


@pytest.mark.parametrize("mode", MODES)
def test_torch_compile_fullgraph(mode):
    def fn(t: torch.Tensor) -> torch.Tensor:
        u = t * 2
        gelu_ext.gelu_(u, mode)
        o = torch.empty_like(u)
        gelu_ext.gelu(u, mode, out=o)
        gi = torch.empty_like(u)
        gelu_ext.gelu_backward(o, u, mode, grad_input=gi)
        return gi + u

    x = torch.randn(8, 9)
    compiled = torch.compile(fn, fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(x), fn(x), rtol=0, atol=0)


def test_compiled_in_place_on_a_graph_input_writes_back():
    def fn(t: torch.Tensor) -> None:
        gelu_ext.gelu_(t, "tanh")

    x = torch.randn(16)
    want = gelu_ext.gelu(x, "tanh")
    torch.compile(fn, fullgraph=True, backend="aot_eager")(x)
    assert torch.equal(x, want)
