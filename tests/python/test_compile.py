"""torch.compile (fullgraph, aot_eager and inductor) and torch.export."""

from __future__ import annotations

import gelu_ext
import pytest
import torch
from conftest import MODES, assert_bitwise_equal, dtype_id
from torch import nn

GELU_OP = torch.ops.gelu_ext.gelu.default
GELU_BWD_OP = torch.ops.gelu_ext.gelu_backward.default


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def recording_aot_backend(graphs: list):
    """aot_eager that also records the forward and backward FX graphs."""
    from functorch.compile import make_boxed_func
    from torch._dynamo.backends.common import aot_autograd

    def compiler(kind):
        def compile_fn(gm, example_inputs):
            graphs.append((kind, gm))
            return make_boxed_func(gm.forward)

        return compile_fn

    return aot_autograd(fw_compiler=compiler("fw"), bw_compiler=compiler("bw"))


def _targets(gm):
    return [n.target for n in gm.graph.nodes if n.op == "call_function"]


def fn(x, mode: str):
    return torch.ops.gelu_ext.gelu(x * 2.0, mode) + 1.0


def _eager_and_compiled(compiled, x, mode):
    xe = x.detach().clone().requires_grad_()
    xc = x.detach().clone().requires_grad_()
    ye, yc = fn(xe, mode), compiled(xc, mode)
    grad = torch.randn_like(ye)
    ye.backward(grad)
    yc.backward(grad)
    return (ye, xe.grad), (yc, xc.grad)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float64], ids=dtype_id)
@pytest.mark.parametrize("mode", MODES)
def test_compile_graph_contains_ops_and_matches_eager(mode, dtype):
    graphs: list = []
    compiled = torch.compile(fn, backend=recording_aot_backend(graphs), fullgraph=True)
    x = torch.randn(6, 7, dtype=dtype)
    (ye, ge), (yc, gc) = _eager_and_compiled(compiled, x, mode)
    assert_bitwise_equal(yc, ye, "forward")
    assert_bitwise_equal(gc, ge, "grad")
    kinds = {k: _targets(gm) for k, gm in graphs}
    assert set(kinds) == {"fw", "bw"}
    assert GELU_OP in kinds["fw"]
    assert GELU_BWD_OP in kinds["bw"]  # the C++ autograd kernel, traced by AOT
    # the approximate argument is baked into the graph
    node = next(n for k, gm in graphs if k == "fw" for n in gm.graph.nodes if n.target == GELU_OP)
    assert (
        mode in node.args
        or node.kwargs.get("approximate") == mode
        or (mode == "none" and len(node.args) == 1)
    )


@pytest.mark.parametrize("mode", MODES)
def test_compile_aot_eager(mode):
    compiled = torch.compile(fn, backend="aot_eager", fullgraph=True)
    x = torch.randn(33, 5)
    (ye, ge), (yc, gc) = _eager_and_compiled(compiled, x, mode)
    assert_bitwise_equal(yc, ye, "forward")
    assert_bitwise_equal(gc, ge, "grad")


def test_compile_dynamic_shapes():
    compiled = torch.compile(fn, backend="aot_eager", fullgraph=True, dynamic=True)
    for shape in [(3, 4), (5, 9), (2, 3, 11)]:
        x = torch.randn(shape)
        (ye, ge), (yc, gc) = _eager_and_compiled(compiled, x, "tanh")
        assert_bitwise_equal(yc, ye, f"forward {shape}")
        assert_bitwise_equal(gc, ge, f"grad {shape}")


def test_compile_module_and_double_backward():
    model = nn.Sequential(nn.Linear(4, 8), gelu_ext.GELU("tanh"), nn.Linear(8, 2)).double()
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
    x = torch.randn(3, 4, dtype=torch.float64)
    assert_bitwise_equal(compiled(x), model(x), "module forward")
    xc = x.clone().requires_grad_()
    (g,) = torch.autograd.grad(compiled(xc).sum(), xc)
    xe = x.clone().requires_grad_()
    (ge,) = torch.autograd.grad(model(xe).sum(), xe)
    assert_bitwise_equal(g, ge, "module grad")


def test_compile_inductor():
    """Default backend. On this 2-core CPU the first (cold cache) compile takes
    ~20 s, so inductor is covered by this single test (exact and tanh, fwd+bwd)."""

    def f(x):
        return gelu_ext.gelu(x, "none") * 0.5 + torch.ops.gelu_ext.gelu(x, "tanh")

    compiled = torch.compile(f, fullgraph=True)
    x = torch.randn(64, 33)
    xe, xc = x.clone().requires_grad_(), x.clone().requires_grad_()
    ye, yc = f(xe), compiled(xc)
    grad = torch.randn_like(ye)
    ye.backward(grad)
    yc.backward(grad)
    # our op runs as an extern kernel; inductor may fuse the surrounding
    # arithmetic differently, hence a float32-rounding tolerance.
    torch.testing.assert_close(yc, ye, rtol=2e-7, atol=1e-7)
    torch.testing.assert_close(xc.grad, xe.grad, rtol=2e-7, atol=1e-7)


# ---------------------------------------------------------------------------
# torch.export
# ---------------------------------------------------------------------------
class Block(nn.Module):
    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.act = gelu_ext.GELU(approximate)

    def forward(self, x):
        return self.act(self.fc(x))


@pytest.mark.parametrize("mode", MODES)
def test_export(mode, tmp_path):
    torch.manual_seed(0)
    model = Block(mode).eval()
    x = torch.randn(3, 8)
    ep = torch.export.export(model, (x,))
    targets = [n.target for n in ep.graph.nodes if n.op == "call_function"]
    assert GELU_OP in targets
    assert_bitwise_equal(ep.module()(x), model(x), "exported")
    # the custom op survives decomposition to the core ATen opset
    decomposed = ep.run_decompositions()
    assert GELU_OP in [n.target for n in decomposed.graph.nodes if n.op == "call_function"]
    assert_bitwise_equal(decomposed.module()(x), model(x), "decomposed")
    # save / load round trip
    path = tmp_path / f"block_{mode}.pt2"
    torch.export.save(ep, str(path))
    loaded = torch.export.load(str(path))
    assert_bitwise_equal(loaded.module()(x), model(x), "loaded")


def test_export_dynamic_batch():
    model = Block("tanh").eval()
    batch = torch.export.Dim("batch", min=1, max=1024)
    ep = torch.export.export(model, (torch.randn(4, 8),), dynamic_shapes={"x": {0: batch}})
    for n in (1, 7, 64):
        x = torch.randn(n, 8)
        assert_bitwise_equal(ep.module()(x), model(x), f"batch {n}")
