"""Typed functional wrappers around ``torch.ops.gelu_ext``."""

from __future__ import annotations

from typing import Literal

import torch

Approximate = Literal["none", "tanh"]

__all__ = ["Approximate", "gelu", "gelu_backward"]


def gelu(input: torch.Tensor, approximate: Approximate = "none") -> torch.Tensor:
    r"""Gaussian Error Linear Unit, a drop-in for :func:`torch.nn.functional.gelu`.

    ``approximate="none"`` computes :math:`x\,\Phi(x)` with :math:`\Phi` the
    standard normal CDF; ``"tanh"`` computes
    :math:`\tfrac12 x\,(1 + \tanh(\sqrt{2/\pi}\,(x + 0.044715x^3)))`.
    Both keep full relative accuracy for negative inputs, where the textbook
    formulas cancel. Supports float32, float64, bfloat16 and float16 tensors of
    any shape and layout, and is differentiable (twice).

    Args:
        input: floating-point tensor.
        approximate: ``"none"`` (exact, default) or ``"tanh"``.

    Returns:
        A new tensor with the same shape, dtype, device and layout as ``input``.
    """
    return torch.ops.gelu_ext.gelu.default(input, approximate)


def gelu_backward(
    grad_output: torch.Tensor, input: torch.Tensor, approximate: Approximate = "none"
) -> torch.Tensor:
    """``grad_output * GELU'(input)``, like ``torch.ops.aten.gelu_backward``.

    ``grad_output`` and ``input`` must have the same shape, dtype and device.
    Differentiable with respect to both arguments.
    """
    return torch.ops.gelu_ext.gelu_backward.default(grad_output, input, approximate)
