"""AOTInductor packages of exported programs that call gelu_ext, for C++.

An AOTInductor package (``torch._inductor.aoti_compile_and_package``) holds
compiled code for the aten ops of a ``torch.export`` program; every other op
it calls through the dispatcher of the process that loads it (AOTI's proxy
executor), so that op must be registered in C++: ``gelu_ext::*`` from the op
library is, an op defined in Python is not. :func:`check_program_ops` checks
this before compiling, and that every :class:`gelu_ext.GELU` of the model
really was traced into a ``gelu_ext`` op.

:func:`compile_package` stores, in the package's metadata, the schema of each
``gelu_ext`` op the package calls (``gelu_ext.ops``) and the example input's
shape (``gelu_ext.input_shape``, dimension 0 dynamic): ``gelu_ext_infer``
checks the schemas against the loaded op library before loading the package,
and makes inputs of that shape for ``--batch``.
"""

from __future__ import annotations

import argparse
import operator
import re
from collections.abc import Sequence

import torch
from torch import nn

from ..nn import GELU
from ..ops import Approximate
from .common import CliError

__all__ = [
    "AOTI_DEVICES",
    "EncoderBlock",
    "ExportCheckError",
    "aoti_devices",
    "parse_devices",
    "check_program_ops",
    "compile_package",
]

AOTI_DEVICES = ("cpu", "cuda")

# Python operators on symbolic sizes (batch * seq, ...) that torch.export
# leaves in a graph with dynamic shapes; AOTInductor compiles them itself.
_SYMBOLIC_ARITHMETIC = {
    operator.add,
    operator.sub,
    operator.mul,
    operator.floordiv,
    operator.mod,
    operator.neg,
    operator.eq,
    operator.ne,
    operator.lt,
    operator.le,
    operator.gt,
    operator.ge,
    operator.getitem,
}


class ExportCheckError(CliError):
    """An exported program that an AOTI package could not run without Python."""


def parse_devices(text: str) -> str | list[str]:
    """argparse type of ``--aoti``: ``auto``, ``none`` or comma-separated devices."""
    if text in ("auto", "none"):
        return text
    items = [v.strip() for v in text.split(",") if v.strip()]
    if not items or any(v not in AOTI_DEVICES for v in items):
        raise argparse.ArgumentTypeError(
            f"expected 'auto', 'none' or a comma-separated list of {', '.join(AOTI_DEVICES)}, "
            f"got {text!r}"
        )
    return list(dict.fromkeys(items))


def aoti_devices(requested: str | Sequence[str]) -> list[str]:
    """The devices to compile packages for: ``auto`` is the CPU, and CUDA when
    a GPU is present; ``none`` is none."""
    if requested == "none":
        return []
    if requested == "auto":
        return ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]
    if "cuda" in requested and not torch.cuda.is_available():
        raise CliError("--aoti cuda: CUDA is not available in this process")
    return list(requested)


def _registered_in_python(op: torch._ops.OpOverload) -> bool:
    # The dispatcher records where a schema was defined: a C++ file for the op
    # library's TORCH_LIBRARY block, a .py file for torch.library (Python).
    dump = torch._C._dispatch_dump(op._schema.name)
    found = re.search(r"^debug: registered at (\S+?):\d+", dump, re.MULTILINE)
    return found is not None and found.group(1).endswith(".py")


def _name(target: object) -> str:
    if isinstance(target, torch._ops.OpOverload):
        return f"{target.namespace}::{target._schema.name.split('::')[1]}" + (
            f".{target._overloadname}" if target._overloadname != "default" else ""
        )
    return getattr(target, "__name__", repr(target))


def check_program_ops(program: torch.export.ExportedProgram, model: nn.Module) -> list[str]:
    """Checks that an AOTI package of ``program`` (exported from ``model``)
    can run without Python; returns the schemas of the gelu_ext ops it calls.

    Raises :class:`ExportCheckError` when a call target is neither an aten op
    nor a ``gelu_ext`` op defined by the C++ op library, or when a
    :class:`gelu_ext.GELU` of ``model`` was traced into ops other than
    gelu_ext's (for example ``aten.gelu``, or a decomposition).
    """
    gelus = {name for name, m in model.named_modules() if isinstance(m, GELU)}
    traced: dict[str, list[str]] = {}  # GELU module path -> targets traced inside it
    schemas: dict[str, str] = {}
    for node in program.graph.nodes:
        if node.op != "call_function":
            continue
        target = node.target
        if isinstance(target, torch._ops.OpOverload):
            if target.namespace == "gelu_ext":
                if _registered_in_python(target):
                    raise ExportCheckError(
                        f"the exported graph calls {_name(target)}, which is defined in Python, "
                        "not by the gelu_ext op library; an AOTI package cannot run it in C++"
                    )
                schemas[_name(target)] = str(target._schema)
            elif target.namespace != "aten":
                raise ExportCheckError(
                    f"the exported graph calls {_name(target)}, which is neither an aten op "
                    "nor a gelu_ext op; an AOTI package would need its library at run time"
                )
        elif target not in _SYMBOLIC_ARITHMETIC:
            raise ExportCheckError(
                f"the exported graph calls {_name(target)}, which is neither an aten op "
                "nor a gelu_ext op"
            )
        for path, _ in (node.meta.get("nn_module_stack") or {}).values():
            if path in gelus:
                traced.setdefault(path, []).append(_name(target))
    for path, targets in traced.items():
        if not any(t.startswith("gelu_ext::") for t in targets):
            raise ExportCheckError(
                f"gelu_ext.GELU at '{path}' was traced into {', '.join(dict.fromkeys(targets))}, "
                "not a gelu_ext op: the package would not run gelu_ext's kernels"
            )
    if gelus and not schemas:
        raise ExportCheckError(
            "the model has gelu_ext.GELU modules but the graph calls no gelu_ext op"
        )
    return sorted(schemas.values())


def compile_package(
    program: torch.export.ExportedProgram,
    model: nn.Module,
    path: str,
    device: str,
) -> str:
    """Checks ``program`` (:func:`check_program_ops`) and compiles it into an
    AOTI package at ``path`` for ``device`` (``program`` must hold tensors on
    that device); returns ``path``."""
    schemas = check_program_ops(program, model)
    (example,), _ = program.example_inputs
    metadata = {
        "gelu_ext.ops": ";".join(schemas),
        "gelu_ext.input_shape": ",".join(str(int(s)) for s in example.shape),
    }
    return torch._inductor.aoti_compile_and_package(
        program,
        package_path=path,
        inductor_configs={"aot_inductor.metadata": metadata},
    )


class EncoderBlock(nn.Module):
    """A small pre-norm transformer encoder layer (self-attention, then a
    feed-forward block with :class:`gelu_ext.GELU`), batch first:
    ``[batch, seq, d_model]`` in and out."""

    def __init__(
        self, d_model: int = 32, heads: int = 4, hidden: int = 64, approximate: Approximate = "tanh"
    ) -> None:
        super().__init__()
        self.in_features = d_model
        self.layer = nn.TransformerEncoderLayer(
            d_model,
            heads,
            hidden,
            dropout=0.0,
            activation=GELU(approximate),
            batch_first=True,
            norm_first=True,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)
