"""C++ autograd kernels: first and second derivatives of gelu, derivatives of
gelu_backward with respect to both arguments."""

from __future__ import annotations

import gelu_ext
import pytest
import torch
from conftest import (
    DTYPES,
    MODES,
    assert_bitwise_equal,
    dtype_id,
    native_gelu,
    ref_gelu_grad,
    ref_gelu_grad2,
)
from torch.autograd import gradcheck, gradgradcheck

SHAPES = [(13,), (3, 5), (2, 3, 4)]


@pytest.fixture(autouse=True)
def _seeded_global_rng():
    # gradgradcheck draws its random grad_outputs from the global RNG: make
    # every run see the same ones, without leaking the seed to other tests.
    with torch.random.fork_rng():
        torch.manual_seed(1234)
        yield


def _inputs(shape, seed):
    """float64 values mixing N(0, 2^2), points near 0 and both tails."""
    g = torch.Generator().manual_seed(seed)
    n = 1
    for s in shape:
        n *= s
    special = torch.tensor(
        [0.0, 1e-3, -1e-3, 1e-8, -0.75, 0.75, -4.5, 4.5, -7.0, 6.0, -9.0, 2.7, -2.7],
        dtype=torch.float64,
    )
    x = torch.randn(n, generator=g, dtype=torch.float64) * 2
    k = min(n, special.numel())
    x[:k] = special[:k]
    return x[torch.randperm(n, generator=g)].reshape(shape)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("mode", MODES)
def test_gradcheck_gelu(mode, shape):
    x = _inputs(shape, 0).requires_grad_()
    assert gradcheck(lambda t: gelu_ext.gelu(t, mode), (x,), eps=1e-6, atol=1e-8, rtol=1e-6)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("mode", MODES)
def test_gradgradcheck_gelu(mode, shape):
    x = _inputs(shape, 1).requires_grad_()
    assert gradgradcheck(lambda t: gelu_ext.gelu(t, mode), (x,), eps=1e-6, atol=1e-8, rtol=1e-6)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("mode", MODES)
def test_gradcheck_gelu_backward_both_args(mode, shape):
    x = _inputs(shape, 2).requires_grad_()
    g = torch.randn(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    g.requires_grad_()
    fn = lambda gg, xx: gelu_ext.gelu_backward(gg, xx, mode)  # noqa: E731
    assert gradcheck(fn, (g, x), eps=1e-6, atol=1e-8, rtol=1e-6)
    # Third derivative, by finite differences of the library's f''. In tanh
    # mode f'' for x > 0 is computed with 1 - sigmoid(2u) by subtraction, so
    # its rounding noise (~1e-16 absolute) / eps reaches ~2e-8 at x = 4.5..6
    # (see test_tanh_second_derivative_is_even): gradcheck's default
    # tolerances, not the tighter ones above.
    assert gradgradcheck(fn, (g, x), eps=1e-6, atol=1e-5, rtol=1e-3)


@pytest.mark.parametrize("which", ["grad_output", "self"])
@pytest.mark.parametrize("mode", MODES)
def test_gradcheck_gelu_backward_one_arg(mode, which):
    """needs_input_grad: only one of the two arguments requires grad."""
    x = _inputs((4, 3), 4)
    g = torch.randn(4, 3, dtype=torch.float64)
    (g if which == "grad_output" else x).requires_grad_()
    assert gradcheck(
        lambda a, b: gelu_ext.gelu_backward(a, b, mode), (g, x), eps=1e-6, atol=1e-8, rtol=1e-6
    )


@pytest.mark.parametrize("mode", MODES)
def test_gradcheck_non_contiguous(mode):
    x = _inputs((5, 6), 5).t().requires_grad_()
    assert not x.is_contiguous()
    assert gradcheck(lambda t: gelu_ext.gelu(t, mode), (x,), eps=1e-6, atol=1e-8, rtol=1e-6)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_grad_is_gelu_backward(dtype, mode):
    x = (torch.randn(257, dtype=torch.float64) * 3).to(dtype).requires_grad_()
    g = torch.randn(257, dtype=torch.float64).to(dtype)
    y = gelu_ext.gelu(x, mode)
    assert y.requires_grad and y.grad_fn is not None
    y.backward(g)
    assert x.grad.dtype == dtype
    assert_bitwise_equal(x.grad, gelu_ext.gelu_backward(g, x.detach(), mode), "x.grad")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_grad_matches_torch_autograd(dtype, mode):
    x0 = torch.randn(500, dtype=torch.float64, generator=torch.Generator().manual_seed(8)) * 3
    x1 = x0.to(dtype).requires_grad_()
    x2 = x0.to(dtype).requires_grad_()
    gelu_ext.gelu(x1, mode).sum().backward()
    native_gelu(x2, mode).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad)


@pytest.mark.parametrize("mode", MODES)
def test_second_derivative_values(mode):
    x = torch.cat(
        [
            torch.linspace(-12, 12, 2001, dtype=torch.float64),
            torch.tensor([0.0, -0.0], dtype=torch.float64),
        ]
    ).requires_grad_()
    (d1,) = torch.autograd.grad(gelu_ext.gelu(x, mode).sum(), x, create_graph=True)
    (d2,) = torch.autograd.grad(d1.sum(), x)
    torch.testing.assert_close(d1.detach(), ref_gelu_grad(x, mode), rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(d2, ref_gelu_grad2(x, mode), rtol=1e-10, atol=1e-300)
    # and PyTorch's own double backward agrees
    xn = x.detach().clone().requires_grad_()
    (n1,) = torch.autograd.grad(native_gelu(xn, mode).sum(), xn, create_graph=True)
    (n2,) = torch.autograd.grad(n1.sum(), xn)
    torch.testing.assert_close(d2, n2, rtol=1e-7, atol=1e-7)


def test_tanh_second_derivative_is_even():
    """f'' is even; a 1 - sigmoid(2u) by subtraction would lose x > 0."""
    x = torch.tensor([6.0, 7.0, 7.5, 10.0], dtype=torch.float64)
    both = torch.cat([x, -x]).requires_grad_()
    (d1,) = torch.autograd.grad(gelu_ext.gelu(both, "tanh").sum(), both, create_graph=True)
    (d2,) = torch.autograd.grad(d1.sum(), both)
    torch.testing.assert_close(d2[:4], d2[4:], rtol=1e-9, atol=0)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_derivatives_at_infinities_and_nan(dtype, mode):
    inf = float("inf")
    x = torch.tensor([inf, -inf, 1e4, -1e4, float("nan")], dtype=dtype, requires_grad=True)
    (d1,) = torch.autograd.grad(gelu_ext.gelu(x, mode).sum(), x, create_graph=True)
    assert d1[:4].tolist() == [1.0, 0.0, 1.0, 0.0] and d1[4].isnan()
    (d2,) = torch.autograd.grad(d1.sum(), x)
    # f'' -> 0 in both tails: never NaN from 0 * inf
    assert d2[:4].tolist() == [0.0, 0.0, 0.0, 0.0], d2
    assert d2[4].isnan()


@pytest.mark.parametrize("mode", MODES)
def test_double_backward_wrt_grad_output(mode):
    """d/dg of gelu_backward(g, x) = f'(x), i.e. gelu_backward(gg, x)."""
    x = torch.randn(64, dtype=torch.float64)
    g = torch.randn(64, dtype=torch.float64, requires_grad=True)
    gg = torch.randn(64, dtype=torch.float64)
    out = gelu_ext.gelu_backward(g, x, mode)
    (dg,) = torch.autograd.grad(out, g, gg)
    assert_bitwise_equal(dg, gelu_ext.gelu_backward(gg, x, mode), "d/dg")
    # d/dx = gg * g * f''(x)
    x.requires_grad_()
    out = gelu_ext.gelu_backward(g.detach(), x, mode)
    (dx,) = torch.autograd.grad(out, x, gg)
    torch.testing.assert_close(
        dx, gg * g.detach() * ref_gelu_grad2(x, mode), rtol=1e-10, atol=1e-14
    )


@pytest.mark.parametrize("mode", MODES)
def test_no_grad_and_detach(mode):
    x = torch.randn(8, requires_grad=True)
    with torch.no_grad():
        y = gelu_ext.gelu(x, mode)
    assert not y.requires_grad
    y = gelu_ext.gelu(x.detach(), mode)
    assert not y.requires_grad
    with torch.inference_mode():
        y = gelu_ext.gelu(x, mode)
    assert not y.requires_grad and torch.equal(y, gelu_ext.gelu(x.detach(), mode))


def test_approximate_is_kept_for_backward():
    """The saved 'approximate' string drives backward, not a default."""
    x = torch.tensor([-1.5, 0.3, 2.0], dtype=torch.float64, requires_grad=True)
    (gt,) = torch.autograd.grad(gelu_ext.gelu(x, "tanh").sum(), x)
    (ge,) = torch.autograd.grad(gelu_ext.gelu(x, "none").sum(), x)
    assert not torch.equal(gt, ge)
    torch.testing.assert_close(gt, ref_gelu_grad(x, "tanh"), rtol=1e-13, atol=0)
    torch.testing.assert_close(ge, ref_gelu_grad(x, "none"), rtol=1e-13, atol=0)


def test_retain_graph_and_accumulation():
    x = torch.randn(32, dtype=torch.float64, requires_grad=True)
    y = gelu_ext.gelu(x).sum()
    y.backward(retain_graph=True)
    first = x.grad.clone()
    y.backward()
    torch.testing.assert_close(x.grad, 2 * first, rtol=0, atol=0)
