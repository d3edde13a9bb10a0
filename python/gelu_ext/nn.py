"""``nn.Module`` front end: :class:`GELU` and :func:`replace_gelu`."""

from __future__ import annotations

import torch
from torch import nn

from .ops import Approximate

__all__ = ["GELU", "replace_gelu"]


class GELU(nn.Module):
    """Drop-in replacement for :class:`torch.nn.GELU` backed by gelu_ext.

    Same constructor, same ``extra_repr``, scriptable with
    :func:`torch.jit.script` and traceable by ``torch.compile`` /
    ``torch.export``.

    Args:
        approximate: ``"none"`` (exact, default), ``"tanh"`` or ``"sigmoid"``
            (x * sigmoid(1.702 x), QuickGELU).
    """

    __constants__ = ["approximate"]
    approximate: str

    def __init__(self, approximate: Approximate = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh", "sigmoid"):
            raise ValueError(
                "gelu_ext.GELU: approximate must be 'none', 'tanh' or 'sigmoid', "
                f"got {approximate!r}"
            )
        self.approximate = approximate

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return torch.ops.gelu_ext.gelu(input, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={repr(self.approximate)}"


def replace_gelu(model: nn.Module) -> int:
    """Replace every :class:`torch.nn.GELU` submodule of ``model`` in place.

    Each replacement keeps its ``approximate`` setting. ``model`` itself is not
    replaced (wrap it in a container if it is a bare ``nn.GELU``). Modules that
    are already :class:`gelu_ext.GELU` are left alone.

    Returns:
        The number of modules replaced.

    Raises:
        TypeError: ``model`` is not an ``nn.Module``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"gelu_ext.replace_gelu: model must be a torch.nn.Module, got {type(model).__name__}"
        )
    count = 0
    for parent in model.modules():
        for name, child in list(parent.named_children()):
            if type(child) is nn.GELU:
                setattr(parent, name, GELU(child.approximate))  # type: ignore[arg-type]
                count += 1
    return count
