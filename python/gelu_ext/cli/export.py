"""Export models that use gelu_ext, for C++ deployment.

    python -m gelu_ext export --out models            # every mode
    python -m gelu_ext export --out models --mode tanh --features 256 --hidden 1024
    python -m gelu_ext export --out models --aoti none   # no AOTInductor packages (fast)

For each mode (``--mode``, default all: ``none``, ``tanh``, ``sigmoid``) this
writes, in ``--out``, a transformer MLP block (Linear -> :class:`gelu_ext.GELU`
-> Linear, float32, seeded weights) as:

- ``mlp_<mode>_aoti_<device>.pt2``: an AOTInductor package, compiled for each
  device of ``--aoti`` (default ``auto``: the CPU, and CUDA when a GPU is
  present), batch dimension dynamic, for ``torch::inductor::
  AOTIModelPackageLoader`` in C++ (``examples/cpp_inference``) or
  ``torch._inductor.aoti_load_package`` in Python (after ``import gelu_ext``);
- ``mlp_<mode>.pt``: TorchScript (``torch.jit.script``), the legacy C++ path
  (``torch::jit::load``);
- ``mlp_<mode>.pt2``: the ``torch.export`` program (``torch.export.load``;
  the loading process must ``import gelu_ext``);
- ``mlp_<mode>_input.pt``, ``mlp_<mode>_expected.pt``: an input of ``--batch``
  rows and the block's output for it; ``mlp_<mode>_input_b1.pt``,
  ``mlp_<mode>_expected_b1.pt``: the same for one row (a second size through
  the dynamic dimension); ``mlp_<mode>_input_grad.pt``: the gradient of
  ``output.sum()`` with respect to the input (``torch.save`` files, which C++
  reads with ``torch::pickle_load``).

Unless ``--no-encoder``, it also writes a small transformer encoder layer
(self-attention and a feed-forward block with ``gelu_ext.GELU("tanh")``,
input ``[batch, 16, 32]``) as ``encoder_tanh.pt2`` and
``encoder_tanh_aoti_<device>.pt2``, with inputs and outputs for two batch
sizes named as above.

Before compiling a package, the export checks that every op of the graph is
an aten op or a gelu_ext op of the C++ op library, and that every
``gelu_ext.GELU`` was traced into a gelu_ext op; it fails with a message
naming the op otherwise. AOTInductor compiles C++ with the system compiler:
the default export (four packages) took 45-60 s on 2 cores. The block's int attribute
``in_features`` tells a C++ program the TorchScript model's input width.
"""

from __future__ import annotations

import argparse
import copy
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from ..nn import GELU
from ..ops import Approximate
from .aoti import EncoderBlock, aoti_devices, compile_package, parse_devices
from .common import MODES, choice_list, int_range, quoted_choices

__all__ = ["MLPBlock", "ModelFiles", "ExportedFiles", "export_block", "export_encoder"]

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


@dataclass(kw_only=True)
class ModelFiles:
    """Paths written for one model: its ``torch.export`` program, inputs and
    outputs at two batch sizes, and its AOTI packages (device -> path)."""

    exported_program: str
    input: str
    expected: str
    input_b1: str
    expected_b1: str
    aoti: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def named(stem: str) -> dict[str, str]:
        """The paths of the fields above for files named ``stem``*."""
        return {
            "exported_program": f"{stem}.pt2",
            "input": f"{stem}_input.pt",
            "expected": f"{stem}_expected.pt",
            "input_b1": f"{stem}_input_b1.pt",
            "expected_b1": f"{stem}_expected_b1.pt",
        }

    def paths(self) -> list[str]:
        """Every path written, the packages last."""
        files = [p for p in vars(self).values() if isinstance(p, str)]
        return files + list(self.aoti.values())


@dataclass(kw_only=True)
class ExportedFiles(ModelFiles):
    """Paths written for one mode by :func:`export_block`: also TorchScript
    and the input gradient."""

    torchscript: str
    input_grad: str


def _export(model: nn.Module, x: torch.Tensor) -> torch.export.ExportedProgram:
    # The batch dimension stays dynamic, as a deployed model sees any batch.
    return torch.export.export(
        model, (x,), dynamic_shapes={"x": {0: torch.export.Dim("batch", min=1)}}
    )


def _write_packages(
    model: nn.Module, program: torch.export.ExportedProgram, x: torch.Tensor, stem: str, devices
) -> dict[str, str]:
    """One AOTI package per device; the CPU one is compiled from ``program``."""
    packages = {}
    for device in devices:
        if device == "cpu":
            on_device, exported = model, program
        else:  # a copy on the GPU, exported again with an input there (untested: no GPU here)
            on_device = copy.deepcopy(model).to(device)
            exported = _export(on_device, x.to(device))
        packages[device] = compile_package(exported, on_device, f"{stem}_aoti_{device}.pt2", device)
    return packages


def _save_inputs(model: nn.Module, stem: str, x: torch.Tensor, x1: torch.Tensor) -> None:
    with torch.no_grad():
        torch.save(x, f"{stem}_input.pt")
        torch.save(model(x), f"{stem}_expected.pt")
        torch.save(x1, f"{stem}_input_b1.pt")
        torch.save(model(x1), f"{stem}_expected_b1.pt")


def export_block(
    out_dir: str,
    approximate: Approximate = "none",
    *,
    batch: int = 8,
    features: int = 64,
    hidden: int = 256,
    seed: int = 0,
    aoti: Sequence[str] = (),
) -> ExportedFiles:
    """Build a seeded :class:`MLPBlock` and write it (see the module
    docstring); ``aoti`` lists the devices to compile AOTI packages for."""
    if approximate not in MODES:
        raise ValueError(
            f"export_block: approximate must be {quoted_choices(MODES)}, got {approximate!r}"
        )
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(seed)
    block = MLPBlock(features, hidden, approximate).eval()
    x = torch.randn(batch, features)
    x1 = torch.randn(1, features)

    stem = os.path.join(out_dir, f"mlp_{approximate}")
    files = ExportedFiles(
        **ModelFiles.named(stem), torchscript=f"{stem}.pt", input_grad=f"{stem}_input_grad.pt"
    )
    with warnings.catch_warnings():
        # TorchScript is what legacy C++ LibTorch programs load; its
        # deprecation notice says nothing to someone who asked for it.
        warnings.filterwarnings(
            "ignore", message=".*torch.jit.script.*deprecated", category=FutureWarning
        )
        torch.jit.script(block).save(files.torchscript)
    program = _export(block, x)
    torch.export.save(program, files.exported_program)
    files.aoti = _write_packages(block, program, x, stem, aoti)

    _save_inputs(block, stem, x, x1)
    xg = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(block(xg).sum(), xg)
    torch.save(grad, files.input_grad)
    return files


def export_encoder(
    out_dir: str,
    approximate: Approximate = "tanh",
    *,
    batch: int = 4,
    seq: int = 16,
    seed: int = 0,
    aoti: Sequence[str] = (),
) -> ModelFiles:
    """Build a seeded :class:`EncoderBlock` and write it (see the module docstring)."""
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(seed)
    encoder = EncoderBlock(approximate=approximate).eval()
    x = torch.randn(batch, seq, encoder.in_features)
    x1 = torch.randn(1, seq, encoder.in_features)
    stem = os.path.join(out_dir, f"encoder_{approximate}")
    files = ModelFiles(**ModelFiles.named(stem))
    program = _export(encoder, x)
    torch.export.save(program, files.exported_program)
    files.aoti = _write_packages(encoder, program, x, stem, aoti)
    _save_inputs(encoder, stem, x, x1)
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
    p.add_argument(
        "--aoti",
        type=parse_devices,
        default="auto",
        help="devices to compile AOTInductor packages for: comma-separated cpu, cuda, or "
        "'auto' (the CPU, and CUDA when a GPU is present; the default) or 'none'",
    )
    p.add_argument(
        "--no-encoder", action="store_true", help="leave out the transformer encoder layer"
    )
    positive = int_range(1)
    p.add_argument("--batch", type=positive, default=8, help="rows of the saved input (default 8)")
    p.add_argument("--features", type=positive, default=64, help="block width (default 64)")
    p.add_argument("--hidden", type=positive, default=256, help="hidden width (default 256)")
    p.add_argument("--seed", type=int, default=0, help="seed of weights and input (default 0)")


def command(args: argparse.Namespace) -> int:
    """Runs ``export`` with parsed arguments: prints the paths written."""
    devices = aoti_devices(args.aoti)  # here: CUDA is looked for only when exporting
    for mode in args.mode:
        files = export_block(
            args.out,
            mode,
            batch=args.batch,
            features=args.features,
            hidden=args.hidden,
            seed=args.seed,
            aoti=devices,
        )
        print("\n".join(files.paths()), flush=True)
    if not args.no_encoder:
        print("\n".join(export_encoder(args.out, seed=args.seed, aoti=devices).paths()))
    return 0
