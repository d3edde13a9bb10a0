"""``python -m gelu_ext <command>``: demo, plots, benchmark, accuracy, build facts.

    python -m gelu_ext                 # the demo: info, accuracy, speed, figures, summary
    python -m gelu_ext plot --out DIR  # PNG figures of GELU from the kernels
    python -m gelu_ext bench --quick   # speed against PyTorch (CPU; --device all adds the GPU)
    python -m gelu_ext bench-models    # real models end to end, native against swapped GELUs
    python -m gelu_ext accuracy        # max error in ulps against a float64 reference
    python -m gelu_ext info            # version, build, SIMD path, devices
    python -m gelu_ext export --out D  # TorchScript / torch.export files for C++

Every command takes --help. Exit status: 0 on success, 1 on a failure
(one line on stderr), 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from types import ModuleType
from typing import Sequence

from . import accuracy, bench, bench_models, demo, export, info, plots
from .common import Parser, run_guarded

PROG = "python -m gelu_ext"

# Each command is a module with add_arguments(parser) and command(args) -> exit
# status, and optionally a DESCRIPTION for its --help (else its summary here).
COMMANDS: dict[str, tuple[ModuleType, str]] = {
    "demo": (demo, "info, short accuracy and speed runs, the figures, a summary (the default)"),
    "plot": (plots, "write PNG figures of GELU, its derivatives and the tanh error"),
    "bench": (bench, "time gelu_ext against PyTorch's GELU (CPU, GPU), print a table, --json"),
    "bench-models": (
        bench_models,
        "time real models end to end, native against their GELUs swapped, --json",
    ),
    "accuracy": (
        accuracy,
        "max error in ulps of gelu_ext and PyTorch vs a float64 reference, --json",
    ),
    "info": (info, "version, torch built against, CUDA archs, SIMD path, devices"),
    "export": (export, "export a model block using gelu_ext for C++ (TorchScript, torch.export)"),
}


def build_parser() -> Parser:
    """The top-level parser with one sub-parser per command."""
    p = Parser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="command")
    for name, (module, summary) in COMMANDS.items():
        sp = sub.add_parser(
            name,
            help=summary,
            description=getattr(module, "DESCRIPTION", summary),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(sp)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m gelu_ext``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["demo", *argv]  # no command: the demo, with any demo options given
    args = build_parser().parse_args(argv)
    module, _ = COMMANDS[args.command]
    return run_guarded(f"{PROG} {args.command}", lambda: module.command(args))
