"""Benchmark gelu_ext against PyTorch's own GELU, in one run, as ratios.

    python -m gelu_ext.benchmark                       # CPU, float32+bfloat16, 16M, 2 threads
    python -m gelu_ext.benchmark --sizes 4096,65536 --threads 1,2 --json out.json

Forward compares ``gelu_ext.gelu`` with ``torch.nn.functional.gelu``; backward
compares ``gelu_ext.gelu_backward`` with ``torch.ops.aten.gelu_backward``. Both
sides are functional calls (each allocates its output), timed alternately in
the same loop so that machine noise hits both alike; a ``copy_`` of the same
bytes is measured beside them as the memory-bandwidth yardstick. Times are
medians; GB/s counts bytes read plus written.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

import gelu_ext

DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}


@dataclass
class Row:
    device: str
    direction: str  # "fwd" or "bwd"
    dtype: str
    approximate: str
    n: int
    threads: int
    ours_us: float
    native_us: float
    copy_us: float
    ours_gbps: float
    native_gbps: float
    speedup: float  # native time / ours time; > 1 means gelu_ext is faster


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _time_pair(
    ours: Callable[[], object],
    native: Callable[[], object],
    copy: Callable[[], object],
    device: str,
    min_time: float,
) -> tuple[float, float, float]:
    """Median seconds per call of three callables, measured interleaved."""
    fns = (ours, native, copy)
    # Warm-up: lazy initialisation, and the allocator settling into its steady
    # state (glibc raises its mmap threshold after the first large frees, so
    # the first few functional calls pay extra page faults).
    for _ in range(8):
        for fn in fns:
            fn()
    _sync(device)
    # Calibrate the repeat count so one sample takes ~min_time/10.
    t0 = time.perf_counter()
    ours()
    _sync(device)
    one = max(time.perf_counter() - t0, 1e-7)
    inner = max(1, int(min_time / 10 / one))
    samples: list[list[float]] = [[], [], []]
    deadline = time.perf_counter() + min_time * 3
    while len(samples[0]) < 5 or (time.perf_counter() < deadline and len(samples[0]) < 30):
        for i, fn in enumerate(fns):
            _sync(device)
            t = time.perf_counter()
            for _ in range(inner):
                fn()
            _sync(device)
            samples[i].append((time.perf_counter() - t) / inner)
    med = [statistics.median(s) for s in samples]
    return med[0], med[1], med[2]


def run(
    device: str,
    dtypes: Sequence[str],
    modes: Sequence[str],
    sizes: Sequence[int],
    threads: Sequence[int],
    directions: Sequence[str],
    min_time: float,
    progress: bool = True,
) -> list[Row]:
    rows: list[Row] = []
    saved_threads = torch.get_num_threads()
    cases = [
        (t, d, m, n, direction)
        for t in threads
        for d in dtypes
        for m in modes
        for n in sizes
        for direction in directions
    ]
    gen = torch.Generator(device="cpu").manual_seed(0)
    try:
        for idx, (t, dname, mode, n, direction) in enumerate(cases):
            if device == "cpu":
                torch.set_num_threads(t)
            if progress:
                print(
                    f"\r[{idx + 1}/{len(cases)}] {direction} {dname} {mode} n={n} threads={t}   ",
                    end="",
                    file=sys.stderr,
                    flush=True,
                )
            dtype = DTYPES[dname]
            x = (torch.randn(n, generator=gen) * 3).to(device=device, dtype=dtype)
            sink = torch.empty_like(x)
            if direction == "fwd":
                ours = lambda: gelu_ext.gelu(x, mode)  # noqa: E731
                native = lambda: F.gelu(x, approximate=mode)  # noqa: E731
                nbytes = 2 * x.numel() * x.element_size()
                copy = lambda: sink.copy_(x)  # noqa: E731
            else:
                g = torch.randn(n, generator=gen).to(device=device, dtype=dtype)
                ours = lambda: gelu_ext.gelu_backward(g, x, mode)  # noqa: E731
                native = lambda: torch.ops.aten.gelu_backward(g, x, approximate=mode)  # noqa: E731
                nbytes = 3 * x.numel() * x.element_size()
                # The same bytes: read two tensors, write one.
                copy = lambda: torch.add(g, x, out=sink)  # noqa: E731
            with torch.no_grad():
                t_ours, t_native, t_copy = _time_pair(ours, native, copy, device, min_time)
            rows.append(
                Row(
                    device=device,
                    direction=direction,
                    dtype=dname,
                    approximate=mode,
                    n=n,
                    threads=t if device == "cpu" else 0,
                    ours_us=t_ours * 1e6,
                    native_us=t_native * 1e6,
                    copy_us=t_copy * 1e6,
                    ours_gbps=nbytes / t_ours / 1e9,
                    native_gbps=nbytes / t_native / 1e9,
                    speedup=t_native / t_ours,
                )
            )
    finally:
        torch.set_num_threads(saved_threads)
        if progress:
            print("\r" + " " * 78 + "\r", end="", file=sys.stderr, flush=True)
    return rows


def format_table(rows: Sequence[Row]) -> str:
    head = (
        f"{'dir':<4} {'dtype':<9} {'mode':<5} {'n':>10} {'thr':>3} "
        f"{'ours us':>10} {'native us':>10} {'copy us':>10} {'ours GB/s':>9} {'speedup':>8}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r.direction:<4} {r.dtype:<9} {r.approximate:<5} {r.n:>10} {r.threads:>3} "
            f"{r.ours_us:>10.1f} {r.native_us:>10.1f} {r.copy_us:>10.1f} "
            f"{r.ours_gbps:>9.2f} {r.speedup:>7.2f}x"
        )
    return "\n".join(lines)


def environment() -> dict[str, object]:
    from . import _C

    return {
        "gelu_ext": gelu_ext.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": _cpu_model(),
        "cpu_count": torch.get_num_threads(),
        "simd_selected": _C.simd_selected(),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cuda_device": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _int_list(text: str) -> list[int]:
    try:
        return [int(float(v)) for v in text.split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}")


def _choice_list(choices: Sequence[str]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        items = [v for v in text.split(",") if v]
        bad = [v for v in items if v not in choices]
        if bad or not items:
            raise argparse.ArgumentTypeError(f"choose from {', '.join(choices)}; got {text!r}")
        return items

    return parse


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m gelu_ext.benchmark",
        description="Time gelu_ext against PyTorch's native GELU (same run, ratios).",
    )
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument(
        "--dtype", type=_choice_list(list(DTYPES)), default=["float32", "bfloat16"],
        help="comma-separated dtypes (default float32,bfloat16)",
    )
    p.add_argument(
        "--mode", type=_choice_list(["none", "tanh"]), default=["none", "tanh"],
        help="approximate modes (default none,tanh)",
    )
    p.add_argument(
        "--direction", type=_choice_list(["fwd", "bwd"]), default=["fwd", "bwd"],
        help="fwd, bwd or both (default)",
    )
    p.add_argument("--sizes", type=_int_list, default=[1 << 24], help="element counts (default 16M)")
    p.add_argument("--threads", type=_int_list, default=[2], help="CPU thread counts (default 2)")
    p.add_argument("--min-time", type=float, default=0.3, help="seconds per measurement (default 0.3)")
    p.add_argument("--quick", action="store_true", help="short run: 1M elements, 0.1 s per cell")
    p.add_argument("--json", metavar="FILE", help="also write rows and environment as JSON")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda but no CUDA device is available", file=sys.stderr)
        return 2
    if args.quick:
        args.sizes, args.min_time = [1 << 20], 0.1
    rows = run(
        args.device, args.dtype, args.mode, args.sizes, args.threads, args.direction,
        args.min_time, progress=sys.stderr.isatty(),
    )
    env = environment()
    print(f"# gelu_ext {env['gelu_ext']} | torch {env['torch']} | {env['processor']} | "
          f"SIMD {env['simd_selected']} (torch: {env['torch_cpu_capability']})")
    print(format_table(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"environment": env, "rows": [asdict(r) for r in rows]}, f, indent=1)
        print(f"# wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
