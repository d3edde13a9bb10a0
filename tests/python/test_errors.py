"""Bad inputs raise the documented Python exception with a message naming the
op and the problem (csrc/gelu.cpp, csrc/gelu_checks.h); nothing crashes.
docs/ERRORS.md lists every case; test_error_catalogue.py checks each of its
rows exactly, these tests sweep the same checks over many inputs."""

from __future__ import annotations

import warnings

import gelu_ext
import pytest
import torch

GELU = torch.ops.gelu_ext.gelu
GELU_BWD = torch.ops.gelu_ext.gelu_backward

APPROX_MSG = r"approximate must be 'none', 'tanh' or 'sigmoid', got '{}'"
FLOAT_MSG = r"must be a floating-point tensor \(float32, float64, bfloat16 or float16\), got "

# Every entry point: the typed Python wrappers and the raw ops.
FORWARD_FNS = {
    "gelu_ext.gelu": lambda x, a: gelu_ext.gelu(x, a),
    "torch.ops": lambda x, a: GELU(x, a),
    "torch.ops.default": lambda x, a: GELU.default(x, a),
}
BACKWARD_FNS = {
    "gelu_ext.gelu_backward": lambda g, x, a: gelu_ext.gelu_backward(g, x, a),
    "torch.ops": lambda g, x, a: GELU_BWD(g, x, a),
}
DEVICES = ["cpu", "meta"]  # the Meta kernels validate exactly like the CPU ones


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("bad", ["TANH", "None", "exact", "", "tanh ", "gelu"])
@pytest.mark.parametrize("entry", list(FORWARD_FNS))
def test_bad_approximate_forward(entry, bad, device):
    x = torch.randn(3, device=device)
    with pytest.raises(ValueError, match="gelu_ext::gelu: " + APPROX_MSG.format(bad)):
        FORWARD_FNS[entry](x, bad)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("entry", list(BACKWARD_FNS))
def test_bad_approximate_backward(entry, device):
    x = torch.randn(3, device=device)
    with pytest.raises(ValueError, match="gelu_ext::gelu_backward: " + APPROX_MSG.format("quick")):
        BACKWARD_FNS[entry](x, x, "quick")


def test_bad_approximate_checked_before_anything_else():
    # even for an empty or an integer tensor, and under autograd
    with pytest.raises(ValueError, match="gelu_ext::gelu: approximate"):
        gelu_ext.gelu(torch.empty(0), "bad")
    with pytest.raises(ValueError, match="gelu_ext::gelu: approximate"):
        gelu_ext.gelu(torch.arange(3), "bad")
    with pytest.raises(ValueError, match="gelu_ext::gelu: approximate"):
        gelu_ext.gelu(torch.randn(3, requires_grad=True), "bad")


@pytest.mark.parametrize("approximate", [None, 1, 0.5])
def test_approximate_must_be_a_string(approximate):
    with pytest.raises(
        RuntimeError, match="Expected a value of type 'str' for argument 'approximate'"
    ):
        GELU(torch.randn(3), approximate)


NON_FLOAT = {
    "int64": lambda d: torch.arange(4, device=d),
    "int32": lambda d: torch.ones(4, dtype=torch.int32, device=d),
    "uint8": lambda d: torch.ones(4, dtype=torch.uint8, device=d),
    "bool": lambda d: torch.ones(4, dtype=torch.bool, device=d),
    "complex64": lambda d: torch.ones(4, dtype=torch.complex64, device=d),
    "complex128": lambda d: torch.ones(4, dtype=torch.complex128, device=d),
    "float8_e4m3fn": lambda d: torch.ones(4, device=d).to(torch.float8_e4m3fn),
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kind", list(NON_FLOAT))
def test_non_float_forward(kind, device):
    x = NON_FLOAT[kind](device)
    for mode in ("none", "tanh"):
        with pytest.raises(TypeError, match="gelu_ext::gelu: self " + FLOAT_MSG):
            gelu_ext.gelu(x, mode)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kind", ["int64", "bool", "complex64"])
def test_non_float_backward(kind, device):
    bad = NON_FLOAT[kind](device)
    good = torch.randn(4, device=device)
    with pytest.raises(TypeError, match="gelu_ext::gelu_backward: grad_output " + FLOAT_MSG):
        gelu_ext.gelu_backward(bad, bad)
    with pytest.raises(TypeError, match="gelu_ext::gelu_backward: grad_output " + FLOAT_MSG):
        gelu_ext.gelu_backward(bad, good)
    with pytest.raises(TypeError, match="gelu_ext::gelu_backward: self " + FLOAT_MSG):
        gelu_ext.gelu_backward(good, bad)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    "gd,xd",
    [
        (torch.float64, torch.float32),
        (torch.float32, torch.bfloat16),
        (torch.float16, torch.bfloat16),
    ],
)
def test_backward_dtype_mismatch(gd, xd, device):
    g = torch.randn(5, device=device, dtype=gd)
    x = torch.randn(5, device=device, dtype=xd)
    with pytest.raises(
        TypeError, match="gelu_ext::gelu_backward: grad_output and self must have the same dtype"
    ):
        gelu_ext.gelu_backward(g, x)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    "gs,xs", [((4,), (3,)), ((1,), (3,)), ((3, 1), (3, 4)), ((12,), (3, 4)), ((), (1,))]
)
def test_backward_shape_mismatch(gs, xs, device):
    """No broadcasting, not even of size-1 dims or 0-dim tensors."""
    g, x = torch.randn(gs, device=device), torch.randn(xs, device=device)
    with pytest.raises(
        RuntimeError,
        match=r"gelu_ext::gelu_backward: grad_output and self must "
        r"have the same shape, got \[",
    ):
        gelu_ext.gelu_backward(g, x)


@pytest.mark.parametrize("g_dev,x_dev", [("meta", "cpu"), ("cpu", "meta")])
def test_backward_device_mismatch(g_dev, x_dev):
    g, x = torch.randn(3, device=g_dev), torch.randn(3, device=x_dev)
    with pytest.raises(
        RuntimeError,
        match=f"gelu_ext::gelu_backward: grad_output and self must be "
        f"on the same device, got {g_dev} and {x_dev}",
    ):
        gelu_ext.gelu_backward(g, x)


def _sparse_inputs():
    x = torch.randn(3, 3)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return {"coo": x.to_sparse(), "csr": x.to_sparse_csr()}


# The dispatcher finds no Sparse* kernel and says so, naming the op and the
# backend (docs/ERRORS.md, rows L1-L4). A check of our own ("must be a dense
# (strided) tensor") in the Autograd kernels would be accepted too.
SPARSE_MSG = r"(must be a dense \(strided\) tensor|with arguments from the 'Sparse\w*' backend)"


@pytest.mark.parametrize("kind", ["coo", "csr"])
def test_sparse_rejected(kind):
    xs = _sparse_inputs()[kind]
    with pytest.raises(NotImplementedError, match=r"gelu_ext::gelu'?\b.*" + SPARSE_MSG):
        gelu_ext.gelu(xs)
    with pytest.raises(NotImplementedError, match=r"gelu_ext::gelu_backward'?\b.*" + SPARSE_MSG):
        gelu_ext.gelu_backward(xs, xs)


def test_quantized_rejected():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*quantize.* deprecated", category=UserWarning)
        q = torch.quantize_per_tensor(torch.randn(4), 0.1, 0, torch.qint8)
    with pytest.raises(NotImplementedError, match=r"gelu_ext::gelu.*(Quantized|quantized)"):
        gelu_ext.gelu(q)


def test_other_exotic_inputs_raise_cleanly():
    with pytest.raises(RuntimeError, match="Expected a value of type 'Tensor' for argument 'self'"):
        GELU([1.0, 2.0])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The PyTorch API of nested tensors")
        nt = torch.nested.nested_tensor([torch.randn(2), torch.randn(3)])
    with pytest.raises((RuntimeError, NotImplementedError)):
        gelu_ext.gelu(nt)


def test_errors_leave_library_usable():
    x = torch.randn(8)
    for bad in (
        lambda: gelu_ext.gelu(x, "x"),
        lambda: gelu_ext.gelu(torch.arange(2)),
        lambda: gelu_ext.gelu_backward(torch.randn(2), x),
    ):
        with pytest.raises((ValueError, TypeError, RuntimeError)):
            bad()
    torch.testing.assert_close(gelu_ext.gelu(x), torch.nn.functional.gelu(x))
