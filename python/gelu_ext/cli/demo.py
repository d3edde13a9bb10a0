"""The demo, ``python -m gelu_ext`` with no command: the build facts, a short
accuracy sweep, a short benchmark, the figures (those of ``plot``, and the
error in ulps against x and GB/s against size drawn from the demo's own
runs) and a summary."""

from __future__ import annotations

import argparse
import math
import os
import time
from dataclasses import asdict
from typing import Sequence

import torch

from . import accuracy, bench, info, plots, result_plots
from .common import DIRECTIONS, DTYPE_NAMES, MODES, fmt_ulp, positive_float
from .figure_common import matplotlib_missing, save_png

# The demo's speed run and summary: every dtype, float32 first.
SUMMARY_DTYPES = ("float32", "bfloat16", "float16", "float64")
# Smaller sizes timed for the GB/s figure (float32, beside the speed run's 1M).
FIGURE_SIZES = (1 << 12, 1 << 16)
# How the summary names a mode (the others by their own name).
_MODE_NAME = {"none": "exact"}


def _section(title: str) -> None:
    """A section heading of the demo's output."""
    print(f"\n== {title} ==", flush=True)


def _fmt_speed(ratios: list[float]) -> str:
    """A speed-up, or the range of several: 1.17x, 1.19-5.35x."""
    lo, hi = min(ratios), max(ratios)
    return f"{lo:.2f}x" if hi - lo < 0.005 else f"{lo:.2f}-{hi:.2f}x"


def _fmt_err(value: float) -> str:
    """An error in ulps for the summary (inf: non-finite results)."""
    return "inf (non-finite results)" if value == float("inf") else fmt_ulp(value)


def summary_lines(
    acc_rows: Sequence[accuracy.AccuracyRow],
    cpu_rows: Sequence[bench.Row],
    gpu_rows: Sequence[bench.Row],
) -> list[str]:
    """One line per float32 mode and direction, then bfloat16, float16 and
    float64, each as a whole (nine lines for the three modes). A group with
    no accuracy rows is left out.

    Speed is PyTorch's time over gelu_ext's (above 1x: gelu_ext is faster);
    errors are the largest over the accuracy sweep, in ulps.
    """

    def speeds(
        rows: Sequence[bench.Row], dtype: str, modes: Sequence[str], directions: Sequence[str]
    ) -> tuple[str, bool]:
        """The speed-up (range) of the matching rows, and whether any was noisy."""
        picked = [
            r
            for r in rows
            if r.dtype == dtype and r.approximate in modes and r.direction in directions
        ]
        if not picked:
            return "", False
        noisy = any(r.noise > bench.NOISY for r in picked)
        return _fmt_speed([r.speedup for r in picked]), noisy

    def errors(impl: str, dtype: str, modes: Sequence[str], directions: Sequence[str]) -> float:
        return max(
            (
                r.max_ulp
                for r in acc_rows
                if r.impl == impl
                and r.dtype == dtype
                and r.mode in modes
                and r.direction in directions
            ),
            default=math.nan,
        )

    groups = [
        (f"{_MODE_NAME.get(m, m)} {d} float32", "float32", [m], [d])
        for m in MODES
        for d in DIRECTIONS
    ]
    groups += [
        (f"{dtype}, all modes, fwd+bwd", dtype, list(MODES), list(DIRECTIONS))
        for dtype in SUMMARY_DTYPES[1:]
    ]
    lines = []
    for label, dtype, modes, directions in groups:
        cpu, noisy = speeds(cpu_rows, dtype, modes, directions)
        speed = f"{cpu} PyTorch's speed on the CPU"
        gpu, gpu_noisy = speeds(gpu_rows, dtype, modes, directions)
        if gpu:
            speed += f", {gpu} on the GPU"
        if noisy or gpu_noisy:
            speed += " (noisy timings)"
        ours, theirs = (
            errors("gelu_ext", dtype, modes, directions),
            errors("torch", dtype, modes, directions),
        )
        if math.isnan(ours):
            continue
        lines.append(
            f"{label}: {speed}; max error {_fmt_err(ours)} ulp vs PyTorch's {_fmt_err(theirs)}"
        )
    return lines


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``demo`` options."""
    p.add_argument(
        "--out",
        default=plots.DEFAULT_OUT,
        metavar="DIR",
        help=f"directory for the figures (default ./{plots.DEFAULT_OUT})",
    )
    p.add_argument(
        "--min-time",
        type=positive_float,
        default=0.1,
        help="seconds per speed measurement (default 0.1)",
    )


def command(args: argparse.Namespace) -> int:
    """Runs the demo: info, a short accuracy sweep, a short benchmark, the
    figures, a summary."""
    start = time.perf_counter()
    _section("gelu_ext info")
    print(info.format_info(info.collect()))

    _section("accuracy (short sweep; python -m gelu_ext accuracy for the dense one)")
    acc_rows = accuracy.run(list(DTYPE_NAMES), list(MODES), quick=True)
    print(accuracy.LEGEND)
    print(accuracy.format_table(acc_rows))

    threads = torch.get_num_threads()
    _section(
        f"speed on the CPU, {threads} threads, 1M elements, kernel against kernel "
        "(out= on both sides; python -m gelu_ext bench --outputs preallocated)"
    )
    cpu_rows = bench.run_cpu(
        list(SUMMARY_DTYPES),
        list(MODES),
        [1 << 20],
        list(DIRECTIONS),
        threads=[threads],
        min_time=args.min_time,
        outputs=["preallocated"],
    )
    print(bench.format_table(cpu_rows, "cpu"))
    missing = matplotlib_missing()
    size_rows: list[bench.Row] = []
    if missing is None:
        _section(f"speed against size on the CPU, float32, for {result_plots.FILE_NAMES['bench']}")
        size_rows = bench.run_cpu(
            ["float32"],
            list(MODES),
            list(FIGURE_SIZES),
            list(DIRECTIONS),
            threads=[threads],
            min_time=args.min_time / 2,
            outputs=["preallocated"],
        )
        print(bench.format_table(size_rows, "cpu"))
    gpu_rows: list[bench.Row] = []
    reason = bench.cuda_unavailable_reason()
    if reason is None:
        _section("speed on the GPU, 16M elements")
        gpu_rows = bench.run_cuda(
            ["float32", "bfloat16"],
            list(MODES),
            [1 << 24],
            list(DIRECTIONS),
            min_time=args.min_time,
        )
        print(bench.format_table(gpu_rows, "cuda"))
    else:
        print(f"(GPU part skipped: {reason})")

    _section("figures")
    paths = [] if missing else plots.write_figures(args.out)
    if paths:
        drawn = {
            "accuracy": result_plots.accuracy_figure(
                [asdict(r) for r in acc_rows], accuracy.TAIL_FROM
            ),
            "bench": result_plots.bench_figure(
                [r.to_json() for r in [*cpu_rows, *size_rows, *gpu_rows]]
            ),
        }
        for kind, fig in drawn.items():
            paths.append(os.path.join(args.out, result_plots.FILE_NAMES[kind]))
            save_png(fig, paths[-1])
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
