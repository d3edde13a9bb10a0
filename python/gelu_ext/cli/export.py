"""Export a transformer MLP block that uses gelu_ext, for C++ deployment.

    python -m gelu_ext export --out models            # every mode
    python -m gelu_ext export --out models --mode tanh --features 256 --hidden 1024

For each mode (``--mode``, default all: ``none``, ``tanh``) this writes,
in ``--out``:

- ``mlp_<mode>.pt``: the block as TorchScript (``torch.jit.script``), for
  ``torch::jit::load`` in C++ (``examples/cpp_inference``) or
  ``torch.jit.load`` in Python;
- ``mlp_<mode>.pt2``: the block as a ``torch.export`` program
  (``torch.export.load``; the loading process must ``import gelu_ext``);
- ``mlp_<mode>_input.pt``, ``mlp_<mode>_expected.pt``: an input and the
  block's output for it, and ``mlp_<mode>_input_grad.pt``: the gradient of
  ``output.sum()`` with respect to the input (``torch.save`` files, which C++
  reads with ``torch::pickle_load``).

The block is Linear -> :class:`gelu_ext.GELU` -> Linear, float32, with seeded
weights; its int attribute ``in_features`` tells a C++ program the input
width.
"""

from __future__ import annotations

import argparse
import os
import warnings
from dataclasses import dataclass

import torch
from torch import nn

from ..nn import GELU
from ..ops import Approximate
from .common import MODES, choice_list, int_range, quoted_choices

__all__ = ["MLPBlock", "ExportedFiles", "export_block"]

DESCRIPTION = __doc__


class MLPBlock(nn.Module):
    """A transformer feed-forward block: Linear -> GELU -> Linear.

    ``in_features`` (an int, inferred as such by TorchScript) stays an
    attribute of the scripted module, where C++ programs read it.
    """

    def __init__(self, features: int, hidden: int, approximate: Approximate = "none") -> None:
        super().__init__()
        self.in_features = features
        self.fc1 = nn.Linear(features, hidden)
        self.act = GELU(approximate)
        self.fc2 = nn.Linear(hidden, features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


@dataclass
class ExportedFiles:
    """Paths written for one mode by :func:`export_block`."""

    torchscript: str
    exported_program: str
    input: str
    expected: str
    input_grad: str


def export_block(
    out_dir: str,
    approximate: Approximate = "none",
    *,
    batch: int = 8,
    features: int = 64,
    hidden: int = 256,
    seed: int = 0,
) -> ExportedFiles:
    """Build a seeded :class:`MLPBlock` and write it (see the module docstring)."""
    if approximate not in MODES:
        raise ValueError(
            f"export_block: approximate must be {quoted_choices(MODES)}, got {approximate!r}"
        )
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(seed)
    block = MLPBlock(features, hidden, approximate).eval()
    x = torch.randn(batch, features)

    stem = os.path.join(out_dir, f"mlp_{approximate}")
    files = ExportedFiles(
        torchscript=f"{stem}.pt",
        exported_program=f"{stem}.pt2",
        input=f"{stem}_input.pt",
        expected=f"{stem}_expected.pt",
        input_grad=f"{stem}_input_grad.pt",
    )
    with warnings.catch_warnings():
        # TorchScript is what C++ LibTorch programs load; its deprecation
        # notice says nothing to someone who asked for it.
        warnings.filterwarnings(
            "ignore", message=".*torch.jit.script.*deprecated", category=FutureWarning
        )
        torch.jit.script(block).save(files.torchscript)
    # The batch dimension stays dynamic, as a deployed block sees any batch.
    program = torch.export.export(
        block, (x,), dynamic_shapes={"x": {0: torch.export.Dim("batch", min=1)}}
    )
    torch.export.save(program, files.exported_program)

    xg = x.clone().requires_grad_(True)
    y = block(xg)
    (grad,) = torch.autograd.grad(y.sum(), xg)
    torch.save(x, files.input)
    torch.save(y.detach(), files.expected)
    torch.save(grad, files.input_grad)
    return files


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``export`` options."""
    p.add_argument("--out", required=True, help="directory to write into (created if missing)")
    p.add_argument(
        "--mode",
        type=choice_list(MODES, everything=("all", "both")),
        default=list(MODES),
        help="comma-separated GELU modes or 'all' (default: all)",
    )
    positive = int_range(1)
    p.add_argument("--batch", type=positive, default=8, help="rows of the saved input (default 8)")
    p.add_argument("--features", type=positive, default=64, help="block width (default 64)")
    p.add_argument("--hidden", type=positive, default=256, help="hidden width (default 256)")
    p.add_argument("--seed", type=int, default=0, help="seed of weights and input (default 0)")


def command(args: argparse.Namespace) -> int:
    """Runs ``export`` with parsed arguments: prints the paths written."""
    for mode in args.mode:
        files = export_block(
            args.out,
            mode,
            batch=args.batch,
            features=args.features,
            hidden=args.hidden,
            seed=args.seed,
        )
        for path in vars(files).values():
            print(path)
    return 0
