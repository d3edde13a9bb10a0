"""``python -m gelu_ext <command>``: demo, plots, benchmark, accuracy, build facts.

    python -m gelu_ext                 # the demo: info, accuracy, speed, figures, summary
    python -m gelu_ext plot --out DIR  # PNG figures of GELU from the kernels
    python -m gelu_ext bench --quick   # speed against PyTorch (CPU; --device all adds the GPU)
    python -m gelu_ext accuracy        # max error in ulps against a float64 reference
    python -m gelu_ext info            # version, build, SIMD path, devices
    python -m gelu_ext export --out D  # TorchScript / torch.export files for C++

Every command takes --help. Exit status: 0 on success, 1 on a failure
(one line on stderr), 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from typing import Callable, Sequence

import torch

from . import accuracy, bench, info, plots
from .common import DIRECTIONS, MODES, Parser, fmt_ulp, positive_float, run_guarded

PROG = "python -m gelu_ext"
_MODE_NAME = {"none": "exact", "tanh": "tanh"}


# ---------------------------------------------------------------------------
# demo
# ---------------------------------------------------------------------------
# The demo's speed run and summary: every dtype, float32 first.
SUMMARY_DTYPES = ("float32", "bfloat16", "float16", "float64")


def _section(title: str) -> None:
    print(f"\n== {title} ==", flush=True)


def _fmt_speed(ratios: list[float]) -> str:
    lo, hi = min(ratios), max(ratios)
    return f"{lo:.2f}x" if hi - lo < 0.005 else f"{lo:.2f}-{hi:.2f}x"


def _fmt_err(value: float) -> str:
    return "inf (non-finite results)" if value == float("inf") else fmt_ulp(value)


def summary_lines(
    acc_rows: Sequence[accuracy.AccuracyRow],
    cpu_rows: Sequence[bench.Row],
    gpu_rows: Sequence[bench.Row],
) -> list[str]:
    """Seven lines: float32 per mode and direction, then bfloat16, float16 and
    float64, each as a whole.

    Speed is PyTorch's time over gelu_ext's (above 1x: gelu_ext is faster);
    errors are the largest over the accuracy sweep, in ulps.
    """

    def speeds(rows: Sequence[bench.Row], dtype: str, modes: Sequence[str],
               directions: Sequence[str]) -> tuple[str, bool]:
        """The speed-up (range) of the matching rows, and whether any was noisy."""
        picked = [r for r in rows if r.dtype == dtype and r.approximate in modes
                  and r.direction in directions]
        if not picked:
            return "", False
        noisy = any(r.noise > bench.NOISY for r in picked)
        return _fmt_speed([r.speedup for r in picked]), noisy

    def errors(impl: str, dtype: str, modes: Sequence[str], directions: Sequence[str]) -> float:
        return max(r.max_ulp for r in acc_rows if r.impl == impl and r.dtype == dtype
                   and r.mode in modes and r.direction in directions)

    groups = [(f"{_MODE_NAME[m]} {d} float32", "float32", [m], [d])
              for m in MODES for d in DIRECTIONS]
    groups += [(f"{dtype}, both modes, fwd+bwd", dtype, list(MODES), list(DIRECTIONS))
               for dtype in SUMMARY_DTYPES[1:]]
    lines = []
    for label, dtype, modes, directions in groups:
        cpu, noisy = speeds(cpu_rows, dtype, modes, directions)
        speed = f"{cpu} PyTorch's speed on the CPU"
        gpu, gpu_noisy = speeds(gpu_rows, dtype, modes, directions)
        if gpu:
            speed += f", {gpu} on the GPU"
        if noisy or gpu_noisy:
            speed += " (noisy timings)"
        ours, theirs = errors("gelu_ext", dtype, modes, directions), errors("torch", dtype, modes,
                                                                           directions)
        lines.append(f"{label}: {speed}; max error {_fmt_err(ours)} ulp "
                     f"vs PyTorch's {_fmt_err(theirs)}")
    return lines


def demo(args: argparse.Namespace) -> int:
    """info, a short accuracy sweep, a short benchmark, the figures, a summary."""
    start = time.perf_counter()
    _section("gelu_ext info")
    print(info.format_info(info.collect()))

    _section("accuracy (short sweep; python -m gelu_ext accuracy for the dense one)")
    acc_rows = accuracy.run(list(accuracy.DTYPE_NAMES), list(MODES), quick=True)
    print(accuracy.LEGEND)
    print(accuracy.format_table(acc_rows))

    threads = torch.get_num_threads()
    _section(f"speed on the CPU, {threads} threads, 1M elements, kernel against kernel "
             "(out= on both sides; python -m gelu_ext bench --outputs preallocated)")
    cpu_rows = bench.run_cpu(list(SUMMARY_DTYPES), list(MODES), [1 << 20], list(DIRECTIONS),
                             threads=[threads], min_time=args.min_time,
                             outputs=["preallocated"])
    print(bench.format_table(cpu_rows, "cpu"))
    gpu_rows: list[bench.Row] = []
    reason = bench.cuda_unavailable_reason()
    if reason is None:
        _section("speed on the GPU, 16M elements")
        gpu_rows = bench.run_cuda(["float32", "bfloat16"], list(MODES), [1 << 24],
                                  list(DIRECTIONS), min_time=args.min_time)
        print(bench.format_table(gpu_rows, "cuda"))
    else:
        print(f"(GPU part skipped: {reason})")

    _section("figures")
    missing = plots.matplotlib_missing()
    paths = [] if missing else plots.write_figures(args.out)
    for path in paths:
        print(path)
    if missing:
        print(f"(figures skipped: {missing})")

    _section(f"summary (ran in {time.perf_counter() - start:.0f} s)")
    for line in summary_lines(acc_rows, cpu_rows, gpu_rows):
        print(line)
    if paths:
        print(f"figures: {os.path.abspath(args.out)}/ ({len(paths)} PNG files)")
    else:
        print(f"figures: none ({missing})")
    return 0


# ---------------------------------------------------------------------------
# export (forwarded)
# ---------------------------------------------------------------------------
def _export(argv: Sequence[str]) -> int:
    """Forwards to ``gelu_ext.cli.export.main`` (imported only when asked for)."""
    prog = f"{PROG} export"
    try:
        module = importlib.import_module("gelu_ext.cli.export")
    except ModuleNotFoundError as e:
        if e.name != "gelu_ext.cli.export":
            raise
        print(f"{prog}: error: this gelu_ext installation has no export module",
              file=sys.stderr)
        return 1
    return run_guarded(prog, lambda: int(module.main(list(argv)) or 0))


# ---------------------------------------------------------------------------
# parser
# ---------------------------------------------------------------------------
def _add_demo_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default=plots.DEFAULT_OUT, metavar="DIR",
                   help=f"directory for the figures (default ./{plots.DEFAULT_OUT})")
    p.add_argument("--min-time", type=positive_float, default=0.1,
                   help="seconds per speed measurement (default 0.1)")


COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None],
                          Callable[[argparse.Namespace], int]]] = {
    "demo": ("info, short accuracy and speed runs, the figures, a summary (the default)",
             _add_demo_arguments, demo),
    "plot": ("write PNG figures of GELU, its derivatives and the tanh error",
             plots.add_arguments, plots.command),
    "bench": ("time gelu_ext against PyTorch's GELU (CPU, GPU), print a table, --json",
              bench.add_arguments, bench.command),
    "accuracy": ("max error in ulps of gelu_ext and PyTorch vs a float64 reference, --json",
                 accuracy.add_arguments, accuracy.command),
    "info": ("version, torch built against, CUDA archs, SIMD path, devices",
             info.add_arguments, info.command),
}


def build_parser() -> Parser:
    """The top-level parser with one sub-parser per command."""
    p = Parser(prog=PROG, description=__doc__,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="command")
    for name, (summary, add_arguments, _) in COMMANDS.items():
        module_doc = {"bench": bench.__doc__, "accuracy": accuracy.__doc__,
                      "plot": plots.DESCRIPTION}.get(name)
        sp = sub.add_parser(name, help=summary, description=module_doc or summary,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
        add_arguments(sp)
    sub.add_parser("export", add_help=False,
                   help="export a model block using gelu_ext for C++ (see: export --help)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m gelu_ext``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "export":
        return _export(argv[1:])
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["demo", *argv]  # no command: the demo, with any demo options given
    args = build_parser().parse_args(argv)
    _, _, run = COMMANDS[args.command]
    return run_guarded(f"{PROG} {args.command}", lambda: run(args))
