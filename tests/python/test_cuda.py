"""CUDA kernels (future work: not compiled into the current build). These run
only on a machine with a CUDA device and a build with CUDA kernels; elsewhere
they are skipped with the reason shown in the test summary (-rs)."""

from __future__ import annotations

import pytest
import torch

import gelu_ext
from gelu_ext import _C
from conftest import DTYPES, MODES, dtype_id, random_values, ref_gelu, ulp_error

pytestmark = [
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device available"),
    pytest.mark.skipif(
        not _C.cuda_compiled(),
        reason="gelu_ext was built without CUDA kernels (_C.cuda_compiled() is False)",
    ),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_cuda_matches_cpu(dtype, mode):
    x = random_values(dtype, 1 << 16, seed=21)
    g = random_values(dtype, 1 << 16, seed=22)
    xc, gc = x.cuda(), g.cuda()
    fwd = gelu_ext.gelu(xc, mode)
    bwd = gelu_ext.gelu_backward(gc, xc, mode)
    assert fwd.device == xc.device and fwd.dtype == dtype
    # DESIGN.md: CPU vs CUDA float32 <= 2 ulp apart (goal: bitwise)
    max_ulp = 2 if dtype in (torch.float32, torch.float64) else 1
    for cpu, gpu in ((gelu_ext.gelu(x, mode), fwd), (gelu_ext.gelu_backward(g, x, mode), bwd)):
        assert torch.equal(cpu.isnan(), gpu.cpu().isnan())
        keep = ~cpu.isnan()
        assert ulp_error(gpu.cpu()[keep], cpu[keep].double(), dtype).max() <= max_ulp


@pytest.mark.parametrize("mode", MODES)
def test_cuda_special_values_and_accuracy(mode):
    x = torch.tensor([0.0, -0.0, float("inf"), -float("inf"), float("nan"), -5.0, 3.0],
                     device="cuda")
    y = gelu_ext.gelu(x, mode).cpu()
    assert not torch.signbit(y[0]) and torch.signbit(y[1])
    assert y[2] == float("inf") and y[3] == 0 and y[4].isnan()
    xs = x.cpu()[5:]
    assert ulp_error(y[5:], ref_gelu(xs, mode), torch.float32).max() <= 3


@pytest.mark.parametrize("mode", MODES)
def test_cuda_autograd_and_opcheck(mode):
    x = torch.randn(4, 5, dtype=torch.float64, device="cuda", requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: gelu_ext.gelu(t, mode), (x,))
    assert torch.autograd.gradgradcheck(lambda t: gelu_ext.gelu(t, mode), (x,))
    torch.library.opcheck(torch.ops.gelu_ext.gelu.default, (x.float().detach(), mode))
    g = torch.randn(4, 5, device="cuda")
    torch.library.opcheck(torch.ops.gelu_ext.gelu_backward.default, (g, x.float().detach(), mode))


def test_cuda_layouts_and_device_mismatch():
    x = torch.randn(2, 3, 4, 5, device="cuda").contiguous(memory_format=torch.channels_last)
    y = gelu_ext.gelu(x)
    assert y.stride() == torch.nn.functional.gelu(x).stride()
    assert torch.equal(y.contiguous(), gelu_ext.gelu(x.contiguous()))
    with pytest.raises(RuntimeError, match="gelu_ext::gelu_backward: grad_output and self must be "
                                           "on the same device"):
        gelu_ext.gelu_backward(x.cpu(), x)
