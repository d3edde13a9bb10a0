"""Benchmark gelu_ext against PyTorch's own GELU, in one run, as ratios.

    python -m gelu_ext bench                  # CPU, float32+bfloat16, 16M, torch's threads
    python -m gelu_ext bench --quick          # 1M elements, 0.1 s per measurement
    python -m gelu_ext bench --sizes 4096,64K,16M --threads 1,2 --json out.json
    python -m gelu_ext bench --device all     # CPU, then the GPU when there is one
    python -m gelu_ext bench --outputs both   # also kernel vs kernel into preallocated outputs
    python -m gelu_ext bench --quick --sizes 4K,64K,1M --plot gbps.png   # GB/s against size

Forward compares ``gelu_ext.gelu`` with ``torch.nn.functional.gelu``;
backward compares ``gelu_ext.gelu_backward`` with
``torch.ops.aten.gelu_backward``; for ``sigmoid``, which PyTorch lacks, with
the composite ``x * torch.sigmoid(1.702 * x)`` and the kernels autograd runs
for its backward. Both sides are functional calls (each
allocates its output), timed alternately in the same loop so that machine
noise hits both alike; a copy of the same bytes is measured beside them as
the memory-bandwidth yardstick. With ``--outputs preallocated`` (or
``both``) both sides write into outputs allocated once
(``gelu_ext::gelu.out`` against ``aten::gelu.out``,
``gelu_ext::gelu_backward.grad_input`` against
``aten::gelu_backward.grad_input``): kernel against kernel, without the
first-touch page faults that a fresh large output costs. Times are
medians; GB/s counts bytes read plus written; ratio = PyTorch's time /
gelu_ext's (above 1: gelu_ext is faster).

The GPU part (when gelu_ext has CUDA kernels and torch sees a device) times
with CUDA events around batches of calls, and adds the seed article's
composite formula in eager PyTorch, one kernel per operation, as a third
contender. It also measures the host time per call (Python, dispatcher,
launch) around the same batches: below 2^16 elements, where launches
dominate, its table shows gelu_ext's minus PyTorch's (``launch +us``).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from typing import Callable, Iterator, NamedTuple, Sequence

import torch
import torch.nn.functional as F

import gelu_ext

from .. import _C
from .common import (
    DIRECTIONS,
    DTYPES,
    MODES,
    CliError,
    Progress,
    add_list_option,
    check_writable,
    choice_list,
    fmt_size,
    png_file,
    positive_float,
    positive_int_list,
    size_list,
    write_json,
)
from .figure_common import require_matplotlib, save_png
from .info import cpu_model
from .reference import K_SIGMOID, textbook_gelu, textbook_gelu_backward
from .result_plots import bench_figure

DESCRIPTION = __doc__

# Rows whose ours/native timings spread more than this (interquartile range
# over the median) are marked as noisy in the tables.
NOISY = 0.2
# GPU: below this many elements the table shows the per-call host overhead.
SMALL = 1 << 16
# Input layouts (CPU), each with n elements: "strided" is every second
# element of a 2n-element tensor (x[::2]); "transposed" the transpose of a
# contiguous 2-D tensor (x.t()), whose preallocated outputs are contiguous,
# so that the kernel reads across rows (functional outputs follow the
# input's layout).
LAYOUTS = ("contiguous", "strided", "transposed")
# "functional": each call allocates its result; "preallocated": the out=
# variants on both sides, into outputs allocated once.
OUTPUTS = ("functional", "preallocated")


@dataclass(kw_only=True)
class Row:
    """One benchmark cell: gelu_ext and PyTorch on the same tensor, on one device.

    Times are medians per call in microseconds (on the GPU, CUDA-event time);
    GB/s count bytes read plus written. A field that only one device
    measures is None on the other and left out of :meth:`to_json`.
    """

    device: str  # "cpu" or "cuda"
    gpu: str | None = None  # cuda: the device's name
    direction: str  # "fwd" or "bwd"
    dtype: str
    approximate: str
    n: int
    threads: int | None = None  # cpu: torch's thread count
    ours_us: float
    native_us: float
    seed_us: float | None = None  # cuda: the seed article's composite formula
    copy_us: float
    ours_gbps: float
    native_gbps: float
    copy_gbps: float | None = None  # cuda
    pct_of_copy: float | None = None  # cuda: ours' bandwidth as a share of the copy's
    native_pct_of_copy: float | None = None  # cuda
    speedup: float  # native time / ours time; > 1 means gelu_ext is faster
    speedup_vs_seed: float | None = None  # cuda: seed time / ours time
    ours_host_us: float | None = None  # cuda: host time per call
    native_host_us: float | None = None  # cuda
    overhead_us: float | None = None  # cuda: ours_host_us - native_host_us
    noise: float = 0.0  # larger (q3 - q1) / median of the ours and native samples
    outputs: str | None = None  # cpu: one of OUTPUTS
    layout: str | None = None  # cpu: the inputs' layout, one of LAYOUTS

    def to_json(self) -> dict[str, object]:
        """The row as a JSON object: the fields its device measures."""
        return {k: v for k, v in asdict(self).items() if v is not None}


# ---------------------------------------------------------------------------
# Timers: one per device, same contract
# ---------------------------------------------------------------------------
class Timing(NamedTuple):
    """One callable's median seconds per call, the spread of its samples
    ((q3 - q1) / median) and, on the GPU, its median host seconds per call."""

    seconds: float
    spread: float
    host_seconds: float | None = None


Calls = dict[str, Callable[[], object]]


def spread(samples: Sequence[float]) -> float:
    """Interquartile range over median."""
    q1, _, q3 = statistics.quantiles(samples, n=4)
    return (q3 - q1) / statistics.median(samples)


def _warm_up(fns: Calls, rounds: int) -> None:
    """Calls every callable ``rounds`` times, interleaved."""
    for _ in range(rounds):
        for fn in fns.values():
            fn()


def _rounds(seconds: float) -> Iterator[None]:
    """The measurement rounds: 5 at least, then more until ``seconds`` have
    passed since the first, 30 at most."""
    deadline = time.perf_counter() + seconds
    rounds = 0
    while rounds < 5 or (time.perf_counter() < deadline and rounds < 30):
        yield
        rounds += 1


def time_cpu(fns: Calls, min_time: float) -> dict[str, Timing]:
    """Per callable, its time measured with ``perf_counter`` in interleaved
    batches; a batch of the first callable takes about ``min_time / 10``."""
    # Warm-up: lazy initialisation, and the allocator settling into its steady
    # state (glibc raises its mmap threshold after the first large frees, so
    # the first few functional calls pay extra page faults).
    _warm_up(fns, 8)
    first = next(iter(fns.values()))
    t0 = time.perf_counter()
    first()
    one = max(time.perf_counter() - t0, 1e-7)
    inner = max(1, int(min_time / 10 / one))
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in _rounds(min_time * len(fns)):
        for name, fn in fns.items():
            t = time.perf_counter()
            for _ in range(inner):
                fn()
            samples[name].append((time.perf_counter() - t) / inner)
    return {k: Timing(statistics.median(s), spread(s)) for k, s in samples.items()}


def time_cuda(fns: Calls, min_time: float) -> dict[str, Timing]:
    """Per callable, its GPU time from CUDA events around interleaved
    batches, and the host time around the same batches; a batch of the
    slowest callable takes about ``min_time / 10``."""
    _warm_up(fns, 3)  # lazy init, allocator, clocks
    torch.cuda.synchronize()
    slowest = 0.0
    for fn in fns.values():
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        t0 = time.perf_counter()
        start.record()
        fn()
        end.record()
        end.synchronize()
        slowest = max(slowest, start.elapsed_time(end) / 1e3, time.perf_counter() - t0)
    inner = max(1, min(2000, int(min_time / 10 / max(slowest, 1e-6))))
    events: dict[str, list[tuple[torch.cuda.Event, torch.cuda.Event]]] = {k: [] for k in fns}
    host: dict[str, list[float]] = {k: [] for k in fns}
    for _ in _rounds(min_time * len(fns)):
        for name, fn in fns.items():
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            torch.cuda.synchronize()  # each batch starts on an idle GPU
            t0 = time.perf_counter()
            start.record()
            for _ in range(inner):
                fn()
            end.record()
            host[name].append((time.perf_counter() - t0) / inner)
            events[name].append((start, end))
    torch.cuda.synchronize()
    out = {}
    for name in fns:
        gpu = [s.elapsed_time(e) / 1e3 / inner for s, e in events[name]]
        out[name] = Timing(statistics.median(gpu), spread(gpu), statistics.median(host[name]))
    return out


# ---------------------------------------------------------------------------
# What is timed
# ---------------------------------------------------------------------------
def _native_sigmoid(
    direction: str, x: torch.Tensor, g: torch.Tensor | None, out: torch.Tensor | None
) -> Callable[[], object]:
    """PyTorch has no sigmoid GELU: its way is the composite x * sigmoid(1.702 x)
    that models write (three kernels forward), and for backward the kernels
    autograd runs for it, given the sigmoid saved by the forward (mul,
    sigmoid_backward, mul, mul, add). With ``out``, every kernel writes into
    preallocated tensors."""
    k = K_SIGMOID
    if direction == "fwd":
        if out is None:
            return lambda: textbook_gelu(x, "sigmoid")
        t = torch.empty_like(x)
        return lambda: torch.mul(x, torch.sigmoid(torch.mul(x, k, out=t), out=t), out=out)
    assert g is not None
    s = torch.sigmoid(x * k)  # saved by the forward
    if out is None:
        return lambda: g * s + torch.ops.aten.sigmoid_backward(g * x, s) * k
    t = torch.empty_like(x)

    def backward() -> torch.Tensor:
        torch.mul(g, x, out=t)
        torch.ops.aten.sigmoid_backward.grad_input(t, s, grad_input=t)
        torch.mul(t, k, out=t)
        torch.mul(g, s, out=out)
        return out.add_(t)

    return backward


def _contenders(
    direction: str,
    mode: str,
    x: torch.Tensor,
    g: torch.Tensor | None,
    outs: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> Calls:
    """gelu_ext ("ours") and PyTorch ("native") on the same inputs: functional
    calls, or with ``outs`` the out= variants writing into those tensors."""
    o1, o2 = outs if outs is not None else (None, None)
    if mode == "sigmoid":  # PyTorch has no sigmoid GELU: the composite models write
        native = _native_sigmoid(direction, x, g, o2)
    if direction == "fwd":
        if o1 is None:
            ours = lambda: gelu_ext.gelu(x, mode)  # noqa: E731
            aten = lambda: F.gelu(x, approximate=mode)  # noqa: E731
        else:
            ours = lambda: torch.ops.gelu_ext.gelu.out(x, mode, out=o1)  # noqa: E731
            aten = lambda: torch.ops.aten.gelu.out(x, approximate=mode, out=o2)  # noqa: E731
    elif o1 is None:
        ours = lambda: gelu_ext.gelu_backward(g, x, mode)  # noqa: E731
        aten = lambda: torch.ops.aten.gelu_backward(g, x, approximate=mode)  # noqa: E731
    else:
        ours = lambda: torch.ops.gelu_ext.gelu_backward.grad_input(  # noqa: E731
            g, x, mode, grad_input=o1
        )
        aten = lambda: torch.ops.aten.gelu_backward.grad_input(  # noqa: E731
            g, x, approximate=mode, grad_input=o2
        )
    return {"ours": ours, "native": native if mode == "sigmoid" else aten}


def _row(timing: dict[str, Timing], nbytes: int, **fields: object) -> Row:
    """The fields every device reports, from the "ours", "native" and "copy" timings."""
    ours, native, copy = (timing[k].seconds for k in ("ours", "native", "copy"))
    return Row(
        ours_us=ours * 1e6,
        native_us=native * 1e6,
        copy_us=copy * 1e6,
        ours_gbps=nbytes / ours / 1e9,
        native_gbps=nbytes / native / 1e9,
        speedup=native / ours,
        noise=max(timing["ours"].spread, timing["native"].spread),
        **fields,
    )  # type: ignore[arg-type]


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


# ---------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------
# The inputs' standard deviation unless --input-scale says otherwise (CPU), and
# always on the GPU.
INPUT_SCALE = 3.0


def run_cpu(
    dtypes: Sequence[str],
    modes: Sequence[str],
    sizes: Sequence[int],
    directions: Sequence[str],
    *,
    threads: Sequence[int],
    min_time: float,
    progress: bool = True,
    outputs: Sequence[str] = ("functional",),
    layouts: Sequence[str] = ("contiguous",),
    input_scale: float = INPUT_SCALE,
) -> list[Row]:
    """Times every combination on the CPU, one row per cell; ``progress``
    shows a line on stderr once the run has taken a couple of seconds. Inputs
    are N(0, input_scale^2), gradients N(0, 1)."""
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
    rows: list[Row] = []
    saved_threads = torch.get_num_threads()
    try:
        with Progress(len(cases), enabled=progress) as bar:
            for idx, (t, dname, mode, n, direction, out_kind, layout) in enumerate(cases):
                torch.set_num_threads(t)
                bar.update(idx, f"{direction} {dname} {mode} n={n} threads={t} {out_kind} {layout}")
                dtype = DTYPES[dname]
                x = _make_input((torch.randn(n, generator=gen) * input_scale).to(dtype), layout)
                sink = torch.empty(x.shape, dtype=dtype)  # contiguous, whatever x's layout
                outs = (
                    (torch.empty_like(sink), torch.empty_like(sink))
                    if out_kind == "preallocated"
                    else None
                )
                if direction == "fwd":
                    fns = _contenders(direction, mode, x, None, outs)
                    fns["copy"] = lambda: sink.copy_(x)
                    nbytes = 2 * x.numel() * x.element_size()
                else:
                    g = _make_input(torch.randn(n, generator=gen).to(dtype), layout)
                    fns = _contenders(direction, mode, x, g, outs)
                    # The same bytes: read two tensors, write one.
                    fns["copy"] = lambda: torch.add(g, x, out=sink)
                    nbytes = 3 * x.numel() * x.element_size()
                with torch.no_grad():
                    timing = time_cpu(fns, min_time)
                rows.append(
                    _row(
                        timing,
                        nbytes,
                        device="cpu",
                        direction=direction,
                        dtype=dname,
                        approximate=mode,
                        n=n,
                        threads=t,
                        outputs=out_kind,
                        layout=layout,
                    )
                )
    finally:
        torch.set_num_threads(saved_threads)
    return rows


def _cuda_input(n: int, dtype: torch.dtype, gen: torch.Generator) -> torch.Tensor:
    """``n`` seeded values from N(0, INPUT_SCALE^2) on the GPU, as ``dtype``."""
    return (torch.randn(n, device="cuda", generator=gen) * INPUT_SCALE).to(dtype)


def _cuda_row(
    direction: str, dname: str, mode: str, n: int, min_time: float, gen: torch.Generator, gpu: str
) -> Row:
    """One GPU cell: ours, native, the seed composite and a copy of the same bytes."""
    dtype = DTYPES[dname]
    x = _cuda_input(n, dtype, gen)
    if direction == "fwd":
        fns = _contenders(direction, mode, x, None)
        fns["seed"] = lambda: textbook_gelu(x, mode)
        tensors = 2
    else:
        g = _cuda_input(n, dtype, gen)
        fns = _contenders(direction, mode, x, g)
        fns["seed"] = lambda: textbook_gelu_backward(g, x, mode)
        tensors = 3
    nbytes = tensors * n * x.element_size()
    # The copy moves the same bytes: reads nbytes / 2, writes nbytes / 2.
    src = torch.zeros(nbytes // 2, dtype=torch.uint8, device=x.device)
    dst = torch.empty_like(src)
    fns["copy"] = lambda: dst.copy_(src)
    t = time_cuda(fns, min_time)
    ours, native, seed, copy = (t[k].seconds for k in ("ours", "native", "seed", "copy"))
    ours_host, native_host = t["ours"].host_seconds or 0.0, t["native"].host_seconds or 0.0
    return _row(
        t,
        nbytes,
        device="cuda",
        gpu=gpu,
        direction=direction,
        dtype=dname,
        approximate=mode,
        n=n,
        seed_us=seed * 1e6,
        copy_gbps=nbytes / copy / 1e9,
        pct_of_copy=100.0 * copy / ours,
        native_pct_of_copy=100.0 * copy / native,
        speedup_vs_seed=seed / ours,
        ours_host_us=ours_host * 1e6,
        native_host_us=native_host * 1e6,
        overhead_us=(ours_host - native_host) * 1e6,
    )


def run_cuda(
    dtypes: Sequence[str],
    modes: Sequence[str],
    sizes: Sequence[int],
    directions: Sequence[str],
    *,
    min_time: float,
    progress: bool = True,
) -> list[Row]:
    """Times every combination on the current CUDA device, one row per cell.
    A size that does not fit in GPU memory is reported on stderr and left out."""
    reason = cuda_unavailable_reason()
    if reason is not None:
        raise CliError(reason)
    cases = [(d, m, n, di) for d in dtypes for m in modes for n in sizes for di in directions]
    gen = torch.Generator(device="cuda").manual_seed(0)
    gpu = torch.cuda.get_device_name()
    rows: list[Row] = []
    with Progress(len(cases), enabled=progress) as bar:
        for i, (dname, mode, n, direction) in enumerate(cases):
            bar.update(i, f"{direction} {dname} {mode} n={fmt_size(n)}")
            try:
                rows.append(_cuda_row(direction, dname, mode, n, min_time, gen, gpu))
            except torch.OutOfMemoryError:
                print(
                    f"{direction} {dname} {mode} n={n}: does not fit in GPU memory, skipped",
                    file=sys.stderr,
                )
            torch.cuda.empty_cache()
    return rows


def cuda_unavailable_reason() -> str | None:
    """Why the GPU part cannot run here, or None when it can."""
    if not torch.cuda.is_available():
        return "no CUDA device is visible to torch"
    if not _C.cuda_compiled():
        return "gelu_ext was built without CUDA kernels"
    return None


# ---------------------------------------------------------------------------
# Tables and environment
# ---------------------------------------------------------------------------
def _op(r: Row) -> str:
    """The op a row times, as the tables name it."""
    return "gelu" if r.direction == "fwd" else "gelu_backward"


def _noisy_note(rows: Sequence[Row], advice: str = "") -> list[str]:
    """The footnote for rows marked ``*``, if any is."""
    if not any(r.noise > NOISY for r in rows):
        return []
    return [f"* timings spread by more than {NOISY:.0%} (interquartile range / median){advice}"]


def _cpu_table(rows: Sequence[Row]) -> str:
    """The CPU rows' table (see format_table)."""
    with_layout = any(r.layout != "contiguous" for r in rows)
    head = (
        f"{'op':<13} {'dtype':<8} {'mode':<4} {'size':>9} {'thr':>3} {'out':<3} "
        + (f"{'layout':<10} " if with_layout else "")
        + f"{'gelu_ext us':>11} {'torch us':>10} {'gelu_ext GB/s':>13} {'torch GB/s':>10} "
        f"{'copy GB/s':>9} {'ratio':>6}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        copy_gbps = r.ours_gbps * r.ours_us / r.copy_us
        lines.append(
            f"{_op(r):<13} {r.dtype:<8} {r.approximate:<4} {fmt_size(r.n):>9} {r.threads:>3} "
            f"{'pre' if r.outputs == 'preallocated' else 'new':<3} "
            + (f"{r.layout:<10} " if with_layout else "")
            + f"{r.ours_us:>11.1f} {r.native_us:>10.1f} "
            f"{r.ours_gbps:>13.2f} {r.native_gbps:>10.2f} "
            f"{copy_gbps:>9.2f} {r.speedup:>5.2f}x" + (" *" if r.noise > NOISY else "")
        )
    lines.append(
        "out: new = functional calls (each allocates its output), pre = out= variants "
        "into outputs allocated once (kernel against kernel)"
    )
    if with_layout:
        lines.append(
            "layout: the inputs' (strided = x[::2]; transposed = x.t(), whose "
            "preallocated outputs are contiguous)"
        )
        lines += layout_ratios(rows)
    lines += _noisy_note(rows, ": the machine was busy; rerun for firm numbers")
    return "\n".join(lines)


def _cuda_table(rows: Sequence[Row]) -> str:
    """The GPU rows' table (see format_table)."""
    head = (
        f"{'op':<13} {'dtype':<8} {'mode':<4} {'size':>5} {'ours us':>9} {'torch us':>9} "
        f"{'seed us':>9} {'copy us':>9} {'ours GB/s':>9} {'%copy':>6} {'torch%':>6} "
        f"{'vs torch':>8} {'vs seed':>7} {'launch +us':>10}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        launch = f"{r.overhead_us:+10.2f}" if r.n < SMALL else f"{'':>10}"
        lines.append(
            f"{_op(r):<13} {r.dtype:<8} {r.approximate:<4} {fmt_size(r.n):>5} "
            f"{r.ours_us:>9.1f} {r.native_us:>9.1f} {r.seed_us:>9.1f} "
            f"{r.copy_us:>9.1f} {r.ours_gbps:>9.0f} {r.pct_of_copy:>5.0f}% "
            f"{r.native_pct_of_copy:>5.0f}% {r.speedup:>7.2f}x {r.speedup_vs_seed:>6.1f}x "
            f"{launch}" + (" *" if r.noise > NOISY else "")
        )
    lines.append(
        "us: GPU time per call (CUDA events, median); %copy / torch%: bandwidth as a share of "
        "the same run's device copy; vs torch / vs seed: their time over ours; launch +us: host "
        f"time per call, ours minus torch (sizes below {fmt_size(SMALL)})"
    )
    lines += _noisy_note(rows)
    return "\n".join(lines)


def format_table(rows: Sequence[Row], device: str) -> str:
    """One device's rows as a text table: on the CPU op, dtype, mode, size,
    threads, outputs, times, GB/s and ratio (and the input layout when some
    row's is not contiguous); on the GPU also the seed formula, the shares
    of the copy's bandwidth and the launch overhead of small sizes."""
    return (_cuda_table if device == "cuda" else _cpu_table)(rows)


def layout_ratios(rows: Sequence[Row]) -> list[str]:
    """gelu_ext's time on each non-contiguous layout over its time on the
    contiguous input of the same cell (1.00: as fast), one line per cell."""
    contiguous = {_cell(r): r.ours_us for r in rows if r.layout == "contiguous"}
    lines = []
    for r in rows:
        base = contiguous.get(_cell(r))
        if r.layout != "contiguous" and base:
            lines.append(
                f"  {r.layout}/contiguous {_op(r)} {r.dtype} {r.approximate} "
                f"{fmt_size(r.n)} thr={r.threads} {r.outputs}: "
                f"{r.ours_us / base:.2f}"
            )
    return ["gelu_ext time, layout / contiguous:"] + lines if lines else []


def _cell(r: Row) -> tuple[object, ...]:
    """What identifies a row's cell, its input layout aside."""
    return (r.device, r.direction, r.dtype, r.approximate, r.n, r.threads, r.outputs)


def environment(device: str) -> dict[str, object]:
    """The machine and build one device's numbers come from (written into the JSON)."""
    if device == "cuda":
        props = torch.cuda.get_device_properties(torch.cuda.current_device())
        return {
            "gelu_ext": gelu_ext.__version__,
            "gelu_ext_cuda_archs": _C.cuda_archs(),
            "torch": torch.__version__,
            "torch_cuda": torch.version.cuda,
            "python": platform.python_version(),
            "gpu": props.name,
            "gpu_memory_gib": round(props.total_memory / 2**30, 1),
            "sm_count": props.multi_processor_count,
            "compute_capability": f"{props.major}.{props.minor}",
        }
    return {
        "gelu_ext": gelu_ext.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": cpu_model(),
        "cpu_count": torch.get_num_threads(),
        "simd_selected": _C.simd_selected(),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        # oneDNN (native's contiguous float32 exact forward) picks its own
        # instruction set unless this caps it; ATEN_CPU_CAPABILITY does not.
        "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA"),
        "cuda_device": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }


# ---------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------
def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``bench`` options."""
    p.add_argument(
        "--device",
        choices=["cpu", "cuda", "all"],
        default="cpu",
        help="cpu (default), cuda, or all: the CPU, then the GPU when present",
    )
    add_list_option(p, "--dtype", list(DTYPES), ["float32", "bfloat16"], "dtypes")
    add_list_option(p, "--mode", MODES, MODES, "approximate modes")
    add_list_option(p, "--direction", DIRECTIONS, DIRECTIONS, "directions")
    p.add_argument(
        "--sizes",
        type=size_list,
        default=None,
        help="element counts, K/M/G = 2^10/2^20/2^30 (default 16M; --quick: 1M)",
    )
    p.add_argument(
        "--threads",
        type=positive_int_list,
        default=None,
        help=f"CPU thread counts (default: torch's, here {torch.get_num_threads()})",
    )
    p.add_argument(
        "--min-time",
        type=positive_float,
        default=None,
        help="seconds per measurement (default 0.3; --quick: 0.1)",
    )
    p.add_argument(
        "--outputs",
        choices=[*OUTPUTS, "both"],
        default="functional",
        help="functional calls (default), out= variants into preallocated outputs "
        "on both sides (kernel against kernel), or both (CPU)",
    )
    p.add_argument(
        "--layouts",
        type=choice_list(list(LAYOUTS)),
        default=["contiguous"],
        help="input layouts (CPU): contiguous (default), strided (x[::2]), transposed "
        "(x.t() of a 2-D tensor; contiguous preallocated outputs)",
    )
    p.add_argument(
        "--input-scale",
        type=positive_float,
        default=INPUT_SCALE,
        metavar="S",
        help="CPU inputs drawn from N(0, S^2) (default 3); large S puts many inputs in the "
        "far tails, where results are subnormal or exactly 0 or x",
    )
    p.add_argument("--quick", action="store_true", help="short run: 1M elements, 0.1 s per cell")
    p.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    p.add_argument("--json", metavar="FILE", help="also write rows and environment as JSON")
    p.add_argument(
        "--plot",
        type=png_file,
        metavar="FILE.png",
        help="also draw GB/s against size for gelu_ext, PyTorch and the copy (needs matplotlib)",
    )


def command(args: argparse.Namespace) -> int:
    """Runs ``bench`` with parsed arguments."""
    sizes = args.sizes or ([1 << 20] if args.quick else [1 << 24])
    min_time = args.min_time or (0.1 if args.quick else 0.3)
    check_writable(args.json)
    if args.plot:
        require_matplotlib()
        check_writable(args.plot)
    progress = not args.no_progress
    skipped = None
    if args.device in ("cuda", "all"):
        skipped = cuda_unavailable_reason()
        if skipped is not None and args.device == "cuda":
            raise CliError(f"--device cuda: {skipped}")
    env = environment("cpu")
    print(
        f"# gelu_ext {env['gelu_ext']} | torch {env['torch']} | {env['processor']} | "
        f"SIMD {env['simd_selected']} (torch: {env['torch_cpu_capability']}"
        + (f", oneDNN: {env['onednn_max_cpu_isa']}" if env["onednn_max_cpu_isa"] else "")
        + ")"
    )
    rows: list[Row] = []
    if args.device in ("cpu", "all"):
        cpu_rows = run_cpu(
            args.dtype,
            args.mode,
            sizes,
            args.direction,
            threads=args.threads or [torch.get_num_threads()],
            min_time=min_time,
            progress=progress,
            outputs=list(OUTPUTS) if args.outputs == "both" else [args.outputs],
            layouts=args.layouts,
            input_scale=args.input_scale,
        )
        if args.input_scale != INPUT_SCALE:
            print(f"# CPU inputs: N(0, {args.input_scale:g}^2)")
        env["cpu_input_scale"] = args.input_scale
        print(format_table(cpu_rows, "cpu"))
        rows += cpu_rows
    if args.device in ("cuda", "all"):
        if skipped is None:
            env["gpu_environment"] = environment("cuda")
            cuda_rows = run_cuda(
                args.dtype, args.mode, sizes, args.direction, min_time=min_time, progress=progress
            )
            print(f"# GPU: {env['cuda_device']}")
            print(format_table(cuda_rows, "cuda"))
            rows += cuda_rows
        else:
            print(f"# GPU part skipped: {skipped}")
    data = [r.to_json() for r in rows]
    if args.json:
        write_json(args.json, {"environment": env, "rows": data})
    if args.plot:
        save_png(bench_figure(data), args.plot)
        print(f"# wrote {args.plot}")
    return 0
