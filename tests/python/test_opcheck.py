"""torch.library.opcheck: schema, autograd registration, FakeTensor/Meta
kernels and AOT dispatch, for both ops over representative samples."""

from __future__ import annotations

import gelu_ext  # noqa: F401  (registers the ops)
import pytest
import torch
from conftest import DTYPES, MODES, dtype_id
from torch.library import opcheck

GELU = torch.ops.gelu_ext.gelu.default
GELU_BACKWARD = torch.ops.gelu_ext.gelu_backward.default

EXPECTED_TESTS = {
    "test_schema",
    "test_autograd_registration",
    "test_faketensor",
    "test_aot_dispatch_dynamic",
}


def _make(layout: str, dtype: torch.dtype, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: (torch.randn(*s, generator=g, dtype=torch.float64) * 2).to(dtype)  # noqa: E731
    if layout == "contiguous":
        return r(3, 4)
    if layout == "1d":
        return r(17)
    if layout == "transposed":
        return r(5, 3).t()
    if layout == "sliced":
        return r(4, 10)[:, ::3]
    if layout == "expanded":
        return r(1, 4).expand(3, 4)
    if layout == "channels_last":
        return r(2, 3, 4, 5).contiguous(memory_format=torch.channels_last)
    if layout == "zero_dim":
        return r(1).reshape(())
    if layout == "empty":
        return torch.empty(3, 0, 2, dtype=dtype)
    raise ValueError(layout)


LAYOUTS = [
    "contiguous",
    "1d",
    "transposed",
    "sliced",
    "expanded",
    "channels_last",
    "zero_dim",
    "empty",
]


def _check(op, args, kwargs=None):
    # opcheck raises on any failure; also make sure every sub-test really ran
    result = opcheck(op, args, kwargs)
    assert set(result) == EXPECTED_TESTS, result
    assert all(v == "SUCCESS" for v in result.values()), result


@pytest.mark.parametrize("requires_grad", [False, True], ids=["nograd", "grad"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_opcheck_dtypes(dtype, mode, requires_grad):
    x = _make("contiguous", dtype, 0).requires_grad_(requires_grad)
    g = _make("contiguous", dtype, 1).requires_grad_(requires_grad)
    _check(GELU, (x, mode))
    _check(GELU_BACKWARD, (g, x, mode))


@pytest.mark.parametrize("requires_grad", [False, True], ids=["nograd", "grad"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_opcheck_layouts(layout, requires_grad):
    for mode in MODES:
        x = _make(layout, torch.float32, 0)
        g = _make(layout, torch.float32, 1)
        if requires_grad and x.is_leaf:
            x.requires_grad_()
            g.requires_grad_()
        elif requires_grad:  # views of a leaf: make them leaves themselves
            x = x.detach().requires_grad_()
            g = g.detach().requires_grad_()
        _check(GELU, (x, mode))
        _check(GELU_BACKWARD, (g, x, mode))


@pytest.mark.parametrize("mode", MODES)
def test_opcheck_default_and_keyword_argument(mode):
    x = _make("contiguous", torch.float64, 0).requires_grad_()
    g = _make("contiguous", torch.float64, 1)
    _check(GELU, (x,))
    _check(GELU, (x,), {"approximate": mode})
    _check(GELU_BACKWARD, (g, x))
    _check(GELU_BACKWARD, (g, x), {"approximate": mode})


def test_opcheck_mixed_layout_backward():
    x = _make("transposed", torch.float32, 0).detach().requires_grad_()
    g = torch.randn(x.shape).requires_grad_()
    assert g.is_contiguous() and not x.is_contiguous()
    _check(GELU_BACKWARD, (g, x, "tanh"))


def test_schemas():
    assert str(GELU._schema) == 'gelu_ext::gelu(Tensor self, str approximate="none") -> Tensor'
    assert str(GELU_BACKWARD._schema) == (
        'gelu_ext::gelu_backward(Tensor grad_output, Tensor self, str approximate="none") -> Tensor'
    )
    # functional, no aliasing or mutation annotations
    for op in (GELU, GELU_BACKWARD):
        assert not op._schema.is_mutable
        assert all(a.alias_info is None for a in op._schema.arguments)


@pytest.mark.parametrize("mode", MODES)
def test_meta_and_fake_tensors(mode):
    x = torch.empty(2, 3, 5, 7, device="meta").contiguous(memory_format=torch.channels_last)
    y = GELU(x, mode)
    assert y.device.type == "meta" and y.shape == x.shape and y.stride() == x.stride()
    yb = GELU_BACKWARD(x, x, mode)
    assert yb.device.type == "meta" and yb.shape == x.shape and yb.stride() == x.stride()
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode():
        f = torch.empty(4, 6, dtype=torch.bfloat16).t()
        out = GELU(f, mode)
        assert out.shape == (6, 4) and out.dtype == torch.bfloat16 and out.stride() == f.stride()
