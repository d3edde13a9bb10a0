"""Benchmark gelu_ext against PyTorch's own GELU, in one run, as ratios.

    python -m gelu_ext bench                  # CPU, float32+bfloat16, 16M, torch's threads
    python -m gelu_ext bench --quick          # 1M elements, 0.1 s per measurement
    python -m gelu_ext bench --sizes 4096,64K,16M --threads 1,2 --json out.json
    python -m gelu_ext bench --device all     # CPU, then the GPU when there is one
    python -m gelu_ext bench --outputs both   # also kernel vs kernel into preallocated outputs

Forward compares
``gelu_ext.gelu`` with ``torch.nn.functional.gelu``; backward compares
``gelu_ext.gelu_backward`` with ``torch.ops.aten.gelu_backward``. Both
sides are functional calls (each allocates its output), timed alternately in
the same loop so that machine noise hits both alike; a ``copy_`` of the same
bytes is measured beside them as the memory-bandwidth yardstick. With
``--outputs preallocated`` (or ``both``) both sides write into outputs
allocated once (``gelu_ext::gelu.out`` against ``aten::gelu.out``,
``gelu_ext::gelu_backward.grad_input`` against
``aten::gelu_backward.grad_input``): kernel against kernel, without the
first-touch page faults that a fresh large output costs. Times are
medians; GB/s counts bytes read plus written; ratio = PyTorch's time /
gelu_ext's (above 1: gelu_ext is faster). The GPU part is
``gelu_ext.cli.benchmark_cuda`` (CUDA events), used when gelu_ext has CUDA
kernels and torch sees a device.
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F

import gelu_ext

from .common import (
    DIRECTIONS,
    MODES,
    CliError,
    Progress,
    check_writable,
    choice_list,
    positive_float,
    positive_int_list,
    size_list,
    write_json,
)
from .info import cpu_model

DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}


# Rows whose timings spread more than this (interquartile range over the
# median) are marked as noisy in the table.
NOISY = 0.2


@dataclass
class Row:
    """One benchmark cell: gelu_ext and PyTorch on the same tensor."""

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
    noise: float = 0.0  # larger (q3 - q1) / median of the ours and native samples
    outputs: str = "functional"  # or "preallocated": both sides write into existing outputs
    layout: str = "contiguous"  # or "strided" / "transposed": the inputs' layout (LAYOUTS)


# Input layouts, each with n elements: "strided" is every second element of a
# 2n-element tensor (x[::2]); "transposed" the transpose of a contiguous 2-D
# tensor (x.t()), whose preallocated outputs are contiguous, so that the
# kernel reads across rows (functional outputs follow the input's layout).
LAYOUTS = ("contiguous", "strided", "transposed")


def _shape_2d(n: int) -> tuple[int, int]:
    """Rows and columns for ``n`` elements, as square as its factors of 2 allow."""
    rows = 1 << ((n & -n).bit_length() - 1) // 2
    return rows, n // rows


def _make_input(values: torch.Tensor, layout: str) -> torch.Tensor:
    """The n elements of 1-D ``values`` in a tensor with layout ``layout``."""
    if layout == "strided":
        view = torch.empty(2 * values.numel(), dtype=values.dtype, device=values.device)[::2]
        return view.copy_(values)
    if layout == "transposed":
        rows, cols = _shape_2d(values.numel())
        return values.reshape(rows, cols).t()
    return values


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _time_pair(
    ours: Callable[[], object],
    native: Callable[[], object],
    copy: Callable[[], object],
    device: str,
    min_time: float,
) -> tuple[float, float, float, float]:
    """Median seconds per call of three callables, measured interleaved, and
    the spread of the first two (interquartile range over median)."""
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
    spread = []
    for s in samples[:2]:
        q1, _, q3 = statistics.quantiles(s, n=4)
        spread.append((q3 - q1) / statistics.median(s))
    return med[0], med[1], med[2], max(spread)


def run(
    device: str,
    dtypes: Sequence[str],
    modes: Sequence[str],
    sizes: Sequence[int],
    threads: Sequence[int],
    directions: Sequence[str],
    min_time: float,
    progress: bool = True,
    outputs: Sequence[str] = ("functional",),
    layouts: Sequence[str] = ("contiguous",),
) -> list[Row]:
    """Times every combination; ``progress`` shows a line on stderr once the
    run has taken more than a couple of seconds. ``outputs``: "functional"
    (each call allocates its result) and/or "preallocated" (out= variants);
    ``layouts``: input layouts (LAYOUTS)."""
    rows: list[Row] = []
    saved_threads = torch.get_num_threads()
    cases = [
        (t, d, m, n, direction, out_kind, layout)
        for t in threads
        for d in dtypes
        for m in modes
        for n in sizes
        for direction in directions
        for out_kind in outputs
        for layout in layouts
    ]
    gen = torch.Generator(device="cpu").manual_seed(0)
    bar = Progress(len(cases), enabled=progress)
    try:
        for idx, (t, dname, mode, n, direction, out_kind, layout) in enumerate(cases):
            if device == "cpu":
                torch.set_num_threads(t)
            bar.update(idx, f"{direction} {dname} {mode} n={n} threads={t} {out_kind} {layout}")
            pre = out_kind == "preallocated"
            dtype = DTYPES[dname]
            x = (torch.randn(n, generator=gen) * 3).to(device=device, dtype=dtype)
            x = _make_input(x, layout)
            # contiguous, whatever x's layout
            sink = torch.empty(x.shape, dtype=dtype, device=device)
            o1, o2 = (torch.empty_like(sink), torch.empty_like(sink)) if pre else (sink, sink)
            if direction == "fwd" and pre:
                ours = lambda: torch.ops.gelu_ext.gelu.out(x, mode, out=o1)  # noqa: E731
                native = lambda: torch.ops.aten.gelu.out(x, approximate=mode, out=o2)  # noqa: E731
            elif direction == "fwd":
                ours = lambda: gelu_ext.gelu(x, mode)  # noqa: E731
                native = lambda: F.gelu(x, approximate=mode)  # noqa: E731
            if direction == "fwd":
                nbytes = 2 * x.numel() * x.element_size()
                copy = lambda: sink.copy_(x)  # noqa: E731
            else:
                g = _make_input(torch.randn(n, generator=gen).to(device=device, dtype=dtype),
                                layout)
                if pre:
                    ours = lambda: torch.ops.gelu_ext.gelu_backward.grad_input(  # noqa: E731
                        g, x, mode, grad_input=o1)
                    native = lambda: torch.ops.aten.gelu_backward.grad_input(  # noqa: E731
                        g, x, approximate=mode, grad_input=o2)
                else:
                    ours = lambda: gelu_ext.gelu_backward(g, x, mode)  # noqa: E731
                    native = lambda: torch.ops.aten.gelu_backward(  # noqa: E731
                        g, x, approximate=mode)
                nbytes = 3 * x.numel() * x.element_size()
                # The same bytes: read two tensors, write one.
                copy = lambda: torch.add(g, x, out=sink)  # noqa: E731
            with torch.no_grad():
                t_ours, t_native, t_copy, noise = _time_pair(ours, native, copy, device,
                                                             min_time)
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
                    noise=noise,
                    outputs=out_kind,
                    layout=layout,
                )
            )
    finally:
        torch.set_num_threads(saved_threads)
        bar.close()
    return rows


def format_table(rows: Sequence[Row]) -> str:
    """The CPU rows as a table: op, dtype, mode, size, threads, times, GB/s, ratio
    (and the input layout, when some row's is not contiguous)."""
    with_layout = any(r.layout != "contiguous" for r in rows)
    head = (
        f"{'op':<13} {'dtype':<8} {'mode':<4} {'size':>9} {'thr':>3} {'out':<3} "
        + (f"{'layout':<10} " if with_layout else "") +
        f"{'gelu_ext us':>11} {'torch us':>10} {'gelu_ext GB/s':>13} {'torch GB/s':>10} "
        f"{'copy GB/s':>9} {'ratio':>6}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        op = "gelu" if r.direction == "fwd" else "gelu_backward"
        copy_gbps = r.ours_gbps * r.ours_us / r.copy_us
        lines.append(
            f"{op:<13} {r.dtype:<8} {r.approximate:<4} {fmt_size(r.n):>9} {r.threads:>3} "
            f"{'pre' if r.outputs == 'preallocated' else 'new':<3} "
            + (f"{r.layout:<10} " if with_layout else "") +
            f"{r.ours_us:>11.1f} {r.native_us:>10.1f} {r.ours_gbps:>13.2f} {r.native_gbps:>10.2f} "
            f"{copy_gbps:>9.2f} {r.speedup:>5.2f}x" + (" *" if r.noise > NOISY else "")
        )
    lines.append("out: new = functional calls (each allocates its output), pre = out= variants "
                 "into outputs allocated once (kernel against kernel)")
    if with_layout:
        lines.append("layout: the inputs' (strided = x[::2]; transposed = x.t(), whose "
                     "preallocated outputs are contiguous)")
        lines += layout_ratios(rows)
    if any(r.noise > NOISY for r in rows):
        lines.append(f"* timings spread by more than {NOISY:.0%} (interquartile range / median): "
                     "the machine was busy; rerun for firm numbers")
    return "\n".join(lines)


def layout_ratios(rows: Sequence[Row]) -> list[str]:
    """gelu_ext's time on each non-contiguous layout over its time on the
    contiguous input of the same cell (1.00: as fast), one line per cell."""
    contiguous = {_cell(r): r.ours_us for r in rows if r.layout == "contiguous"}
    lines = []
    for r in rows:
        base = contiguous.get(_cell(r))
        if r.layout != "contiguous" and base:
            op = "gelu" if r.direction == "fwd" else "gelu_backward"
            lines.append(f"  {r.layout}/contiguous {op} {r.dtype} {r.approximate} "
                         f"{fmt_size(r.n)} thr={r.threads} {r.outputs}: "
                         f"{r.ours_us / base:.2f}")
    return ["gelu_ext time, layout / contiguous:"] + lines if lines else []


def _cell(r: Row) -> tuple[object, ...]:
    return (r.device, r.direction, r.dtype, r.approximate, r.n, r.threads, r.outputs)


def fmt_size(n: int) -> str:
    """4096 -> 4K, 16777216 -> 16M; other counts as digits."""
    for suffix, scale in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale}{suffix}"
    return str(n)


def environment() -> dict[str, object]:
    """The machine and build the numbers come from (written into the JSON)."""
    from .. import _C

    return {
        "gelu_ext": gelu_ext.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": cpu_model(),
        "cpu_count": torch.get_num_threads(),
        "simd_selected": _C.simd_selected(),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cuda_device": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }


def cuda_unavailable_reason() -> str | None:
    """Why the GPU benchmark cannot run here, or None when it can."""
    from .. import _C

    if not torch.cuda.is_available():
        return "no CUDA device is visible to torch"
    if not _C.cuda_compiled():
        return "gelu_ext was built without CUDA kernels"
    if importlib.util.find_spec("gelu_ext.cli.benchmark_cuda") is None:
        return "the GPU benchmark module gelu_ext.cli.benchmark_cuda is missing"
    return None


def run_cuda(args: argparse.Namespace, progress: bool) -> tuple[list[dict[str, Any]], str]:
    """The GPU rows (as dicts) and their table, from gelu_ext.cli.benchmark_cuda."""
    from . import benchmark_cuda

    rows = benchmark_cuda.run(args.dtype, args.mode, args.sizes, args.direction,
                              min_time=args.min_time, progress=progress)
    return rows, benchmark_cuda.format_table(rows)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``bench`` options."""
    p.add_argument("--device", choices=["cpu", "cuda", "all"], default="cpu",
                   help="cpu (default), cuda, or all: the CPU, then the GPU when present")
    p.add_argument(
        "--dtype", type=choice_list(list(DTYPES)), default=["float32", "bfloat16"],
        help="comma-separated dtypes or 'all' (default float32,bfloat16)",
    )
    p.add_argument(
        "--mode", type=choice_list(MODES), default=list(MODES),
        help="approximate modes (default none,tanh)",
    )
    p.add_argument(
        "--direction", type=choice_list(DIRECTIONS), default=list(DIRECTIONS),
        help="fwd, bwd or both (default)",
    )
    p.add_argument("--sizes", type=size_list, default=None,
                   help="element counts, K/M/G = 2^10/2^20/2^30 (default 16M; --quick: 1M)")
    p.add_argument("--threads", type=positive_int_list, default=None,
                   help=f"CPU thread counts (default: torch's, here {torch.get_num_threads()})")
    p.add_argument("--min-time", type=positive_float, default=None,
                   help="seconds per measurement (default 0.3; --quick: 0.1)")
    p.add_argument("--outputs", choices=["functional", "preallocated", "both"],
                   default="functional",
                   help="functional calls (default), out= variants into preallocated outputs "
                        "on both sides (kernel against kernel), or both (CPU)")
    p.add_argument(
        "--layouts", type=choice_list(list(LAYOUTS)), default=["contiguous"],
        help="input layouts (CPU): contiguous (default), strided (x[::2]), transposed "
             "(x.t() of a 2-D tensor; contiguous preallocated outputs)",
    )
    p.add_argument("--quick", action="store_true", help="short run: 1M elements, 0.1 s per cell")
    p.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    p.add_argument("--json", metavar="FILE", help="also write rows and environment as JSON")


def command(args: argparse.Namespace) -> int:
    """Runs ``bench`` with parsed arguments."""
    if args.sizes is None:
        args.sizes = [1 << 20] if args.quick else [1 << 24]
    if args.min_time is None:
        args.min_time = 0.1 if args.quick else 0.3
    if args.threads is None:
        args.threads = [torch.get_num_threads()]
    check_writable(args.json)
    progress = not args.no_progress
    skipped = None
    if args.device in ("cuda", "all"):
        skipped = cuda_unavailable_reason()
        if skipped is not None and args.device == "cuda":
            raise CliError(f"--device cuda: {skipped}")
    env = environment()
    print(f"# gelu_ext {env['gelu_ext']} | torch {env['torch']} | {env['processor']} | "
          f"SIMD {env['simd_selected']} (torch: {env['torch_cpu_capability']})")
    rows: list[dict[str, Any]] = []
    if args.device in ("cpu", "all"):
        outputs = ["functional", "preallocated"] if args.outputs == "both" else [args.outputs]
        cpu_rows = run("cpu", args.dtype, args.mode, args.sizes, args.threads, args.direction,
                       args.min_time, progress=progress, outputs=outputs,
                       layouts=args.layouts)
        print(format_table(cpu_rows))
        rows += [asdict(r) for r in cpu_rows]
    if args.device in ("cuda", "all"):
        if skipped is None:
            from . import benchmark_cuda

            env["gpu_environment"] = benchmark_cuda.environment()
            cuda_rows, table = run_cuda(args, progress)
            print(f"# GPU: {env['cuda_device']}")
            print(table)
            rows += cuda_rows
        else:
            print(f"# GPU part skipped: {skipped}")
    if args.json:
        write_json(args.json, {"environment": env, "rows": rows})
    return 0
