"""TorchScript: script and trace modules that use gelu_ext, save, load, run,
differentiate.

TorchScript is deprecated upstream (docs/DESIGN.md). On torch 2.14 each
``torch.jit.script`` / ``trace`` / ``trace_method`` / ``load`` / ``save`` call
emits ``FutureWarning: `torch.jit.<fn>` is deprecated. Please switch to
`torch.compile` or `torch.export`.`` (DeprecationWarning on torch 2.10-2.13,
"is not supported in Python 3.14+" on Python 3.14). We still support
TorchScript, so the tests ignore exactly that warning -- by category and
message -- and nothing else. A proposal would turn these calls into errors in
2.14+ unless TORCH_2_14_ONLY_UNSAFE_SILENCE_TORCHSCRIPT_ERROR is set; the
fixture sets it (harmless where unused) so the tests keep exercising our
TorchScript support on such a torch.
"""

from __future__ import annotations

import warnings

import gelu_ext
import pytest
import torch
from conftest import MODES, assert_bitwise_equal
from torch import nn

_JIT_DEPRECATION = r"`torch\.jit\.\w+` is (deprecated|not supported in Python)"


@pytest.fixture
def jit(monkeypatch):
    # Opt in to TorchScript where a future torch makes it an error by default.
    monkeypatch.setenv("TORCH_2_14_ONLY_UNSAFE_SILENCE_TORCHSCRIPT_ERROR", "1")
    with warnings.catch_warnings():
        for category in (DeprecationWarning, FutureWarning):
            warnings.filterwarnings("ignore", message=_JIT_DEPRECATION, category=category)
        yield torch.jit


class Block(nn.Module):
    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.act = gelu_ext.GELU(approximate)
        self.fc2 = nn.Linear(16, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class DirectOp(nn.Module):
    """Calls the op directly (no gelu_ext Python code in the graph)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.gelu_ext.gelu(x, "tanh") + torch.ops.gelu_ext.gelu(x)


def _roundtrip(jit, module, tmp_path, name):
    path = tmp_path / f"{name}.pt"
    module.save(str(path))
    return jit.load(str(path))


def _check_backward(module, x):
    x1 = x.detach().clone().requires_grad_()
    module(x1).pow(2).sum().backward()
    assert x1.grad is not None and x1.grad.isfinite().all()
    return x1.grad


@pytest.mark.parametrize("mode", MODES)
def test_script_module(jit, mode, tmp_path):
    torch.manual_seed(0)
    eager = Block(mode)
    scripted = jit.script(eager)
    assert "gelu_ext::gelu" in str(scripted.act.graph)
    x = torch.randn(5, 8)
    assert_bitwise_equal(scripted(x), eager(x), "scripted")
    loaded = _roundtrip(jit, scripted, tmp_path, f"script_{mode}")
    assert_bitwise_equal(loaded(x), eager(x), "loaded")
    assert loaded.act.approximate == mode
    assert_bitwise_equal(_check_backward(loaded, x), _check_backward(eager, x), "grad")


@pytest.mark.parametrize("mode", MODES)
def test_trace_module(jit, mode, tmp_path):
    torch.manual_seed(1)
    eager = Block(mode)
    x = torch.randn(5, 8)
    traced = jit.trace(eager, (x,))
    assert "gelu_ext::gelu" in str(traced.graph) or "gelu_ext::gelu" in str(traced.inlined_graph)
    x2 = torch.randn(3, 8)  # another batch size
    assert_bitwise_equal(traced(x2), eager(x2), "traced")
    loaded = _roundtrip(jit, traced, tmp_path, f"trace_{mode}")
    assert_bitwise_equal(loaded(x2), eager(x2), "loaded")
    assert_bitwise_equal(_check_backward(loaded, x2), _check_backward(eager, x2), "grad")


def test_script_direct_op_call(jit, tmp_path):
    eager = DirectOp()
    scripted = jit.script(eager)
    graph = str(scripted.graph)
    assert graph.count("gelu_ext::gelu") == 2
    x = torch.randn(4, 4, dtype=torch.float64)
    assert_bitwise_equal(scripted(x), eager(x), "scripted")
    loaded = _roundtrip(jit, scripted, tmp_path, "direct")
    assert_bitwise_equal(loaded(x), eager(x), "loaded")
    assert_bitwise_equal(_check_backward(loaded, x), _check_backward(eager, x), "grad")


def test_script_function_with_backward_op(jit):
    @torch.jit.script
    def f(g: torch.Tensor, x: torch.Tensor, approximate: str) -> torch.Tensor:
        return torch.ops.gelu_ext.gelu_backward(g, x, approximate)

    x, g = torch.randn(10), torch.randn(10)
    for mode in MODES:
        assert_bitwise_equal(f(g, x, mode), gelu_ext.gelu_backward(g, x, mode), mode)
    # the TorchScript interpreter re-raises the op's ValueError as RuntimeError
    with pytest.raises(RuntimeError, match="gelu_ext::gelu_backward: approximate must be"):
        f(g, x, "bad")


def test_script_double_backward(jit):
    scripted = jit.script(Block("tanh").double())
    x = torch.randn(3, 8, dtype=torch.float64, requires_grad=True)
    (gx,) = torch.autograd.grad(scripted(x).sum(), x, create_graph=True)
    (ggx,) = torch.autograd.grad(gx.sum(), x)
    assert ggx.isfinite().all() and ggx.abs().sum() > 0


def test_jit_warning_filter_is_narrow(jit):
    """The fixture silences only the TorchScript deprecation message."""
    with warnings.catch_warnings(record=True) as rec:  # keeps the fixture's filters
        warnings.filterwarnings("always", message="something else")  # even under -W error
        warnings.warn("something else", FutureWarning)
        warnings.warn(
            "`torch.jit.script` is deprecated. Please switch to `torch.compile` or `torch.export`.",
            FutureWarning,
        )
        warnings.warn("`torch.jit.trace` is deprecated. x", DeprecationWarning)
    assert [str(w.message) for w in rec] == ["something else"]


def test_torchscript_really_warns():
    """Guard for the fixture: without it, scripting warns (so the filter matters)."""
    with pytest.warns((FutureWarning, DeprecationWarning), match=_JIT_DEPRECATION):
        torch.jit.script(DirectOp())
