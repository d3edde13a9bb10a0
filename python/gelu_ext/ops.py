"""Typed functional wrappers around ``torch.ops.gelu_ext``."""

from __future__ import annotations

from typing import Literal, Optional

import torch

Approximate = Literal["none", "tanh", "sigmoid"]

__all__ = ["Approximate", "gelu", "gelu_", "gelu_backward"]


def gelu(
    input: torch.Tensor, approximate: Approximate = "none", *, out: Optional[torch.Tensor] = None
) -> torch.Tensor:
    r"""Gaussian Error Linear Unit, a drop-in for :func:`torch.nn.functional.gelu`.

    ``approximate="none"`` computes :math:`x\,\Phi(x)` with :math:`\Phi` the
    standard normal CDF; ``"tanh"`` computes
    :math:`\tfrac12 x\,(1 + \tanh(\sqrt{2/\pi}\,(x + 0.044715x^3)))` and
    ``"sigmoid"`` computes :math:`x\,\sigma(1.702x)` (the GELU paper's sigmoid
    approximation, which CLIP-family models call QuickGELU).
    All three keep full relative accuracy for negative inputs, where the textbook
    formulas cancel. Supports float32, float64, bfloat16 and float16 tensors of
    any shape and layout, and is differentiable (twice).

    Args:
        input: floating-point tensor.
        approximate: ``"none"`` (exact, default), ``"tanh"`` or ``"sigmoid"``.
        out: optional tensor to write into (``gelu_ext::gelu.out``): same
            shape, dtype and device as ``input``, never resized; may be
            ``input`` itself. It saves the allocation (and, for large
            tensors, the first-touch page faults of fresh memory) but is not
            differentiable.

    Returns:
        A new tensor with the same shape, dtype, device and layout as
        ``input``, or ``out``.
    """
    if out is not None:
        return torch.ops.gelu_ext.gelu.out(input, approximate, out=out)
    return torch.ops.gelu_ext.gelu.default(input, approximate)


def gelu_(input: torch.Tensor, approximate: Approximate = "none") -> torch.Tensor:
    """In-place :func:`gelu`: overwrites ``input`` and returns it.

    Saves the activation's memory where its input is not needed again. It
    refuses (RuntimeError) an ``input`` that requires grad while grad mode is
    on, since the gradient of GELU needs the values it overwrites; under
    :func:`torch.no_grad` it runs, and bumps the tensor's version like any
    in-place op.
    """
    return torch.ops.gelu_ext.gelu_.default(input, approximate)


def gelu_backward(
    grad_output: torch.Tensor,
    input: torch.Tensor,
    approximate: Approximate = "none",
    *,
    grad_input: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """``grad_output * GELU'(input)``, like ``torch.ops.aten.gelu_backward``.

    ``grad_output`` and ``input`` must have the same shape, dtype and device.
    Differentiable with respect to both arguments. With ``grad_input`` (same
    shape, dtype and device; may be either argument) the result is written
    there (``gelu_ext::gelu_backward.grad_input``, not differentiable).
    """
    if grad_input is not None:
        return torch.ops.gelu_ext.gelu_backward.grad_input(
            grad_output, input, approximate, grad_input=grad_input
        )
    return torch.ops.gelu_ext.gelu_backward.default(grad_output, input, approximate)
