"""GPU benchmark: gelu_ext's CUDA kernels against PyTorch, in one run, as ratios.

    python -m gelu_ext.cli.benchmark_cuda                       # 3 dtypes, 2 modes, fwd+bwd, 4K..256M
    python -m gelu_ext.cli.benchmark_cuda --sizes 4K,16M --dtype bfloat16 --json gpu.json
    python -m gelu_ext bench --device cuda ...              # the same rows through the CLI

For each dtype, mode, direction and size it times, interleaved in the same
loop so that clock and thermal drift hit all alike:

* ours: ``gelu_ext.gelu`` / ``gelu_ext.gelu_backward``;
* native: ``torch.nn.functional.gelu`` / ``torch.ops.aten.gelu_backward``;
* seed: the seed article's composite formula in eager PyTorch, one kernel
  per operation: ``0.5*x*(1 + tanh(sqrt(2/pi)*(x + 0.044715*x^3)))`` for
  ``tanh``, ``0.5*x*(1 + erf(x/sqrt(2)))`` for ``none``, and their
  derivatives times the gradient for the backward direction;
* copy: a device-to-device copy of the same number of bytes (read + write),
  the memory-bandwidth yardstick.

GPU time per call comes from CUDA events around a batch of calls (warm-up
first, then the median of the batches). The host time per call (Python,
dispatcher, autograd wrapper, launch) is measured around the same batches;
below 2^16 elements, where launches dominate, the table shows ours minus
native (``launch +us``). GB/s counts bytes read plus written; ``%copy`` is
the bandwidth as a share of the same run's copy; ``vs native`` and ``vs
seed`` are their times over ours (above 1: gelu_ext is faster).
"""

from __future__ import annotations

import math
import platform
import statistics
import sys
import time
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F

import gelu_ext

from .common import (
    DIRECTIONS,
    MODES,
    CliError,
    Parser,
    Progress,
    check_writable,
    choice_list,
    positive_float,
    run_guarded,
    size_list,
    write_json,
)
from .benchmark import fmt_size

DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
    "float64": torch.float64,
}
DEFAULT_DTYPES = ["float32", "bfloat16", "float16"]
DEFAULT_SIZES = [1 << k for k in range(12, 29)]
# Below this many elements the per-call (host) overhead is what is compared.
SMALL = 1 << 16
# Rows whose ours/native samples spread more than this (interquartile range
# over the median) are marked as noisy.
NOISY = 0.2

_C_TANH = math.sqrt(2.0 / math.pi)
_KAPPA = 0.044715
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


# ---------------------------------------------------------------------------
# The seed article's formulas, as eager PyTorch composites
# ---------------------------------------------------------------------------
def seed_gelu(x: torch.Tensor, approximate: str) -> torch.Tensor:
    """GELU as the seed article writes it, one eager op at a time."""
    if approximate == "tanh":
        return 0.5 * x * (1.0 + torch.tanh(_C_TANH * (x + _KAPPA * torch.pow(x, 3))))
    return 0.5 * x * (1.0 + torch.erf(x * _INV_SQRT2))


def seed_gelu_backward(g: torch.Tensor, x: torch.Tensor, approximate: str) -> torch.Tensor:
    """g * GELU'(x) from the seed's formulas, one eager op at a time."""
    if approximate == "tanh":
        t = torch.tanh(_C_TANH * (x + _KAPPA * torch.pow(x, 3)))
        du = _C_TANH * (1.0 + 3.0 * _KAPPA * x * x)
        return g * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du)
    cdf = 0.5 * (1.0 + torch.erf(x * _INV_SQRT2))
    return g * (cdf + x * torch.exp(-0.5 * x * x) * _INV_SQRT_2PI)


# ---------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------
def _time_interleaved(
    fns: dict[str, Callable[[], object]], min_time: float
) -> dict[str, tuple[float, float, float]]:
    """Per callable: (median GPU seconds per call, median host seconds per
    call, spread), measured in interleaved batches with CUDA events."""
    for _ in range(3):  # warm-up: lazy init, allocator, clocks
        for fn in fns.values():
            fn()
    torch.cuda.synchronize()
    # Batch size: each batch of the slowest callable takes ~min_time / 10.
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
    deadline = time.perf_counter() + min_time * len(fns)
    rounds = 0
    while rounds < 5 or (time.perf_counter() < deadline and rounds < 30):
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
        rounds += 1
    torch.cuda.synchronize()
    out = {}
    for name in fns:
        gpu = [s.elapsed_time(e) / 1e3 / inner for s, e in events[name]]
        med = statistics.median(gpu)
        q1, _, q3 = statistics.quantiles(gpu, n=4)
        out[name] = (med, statistics.median(host[name]), (q3 - q1) / med)
    return out


def _inputs(n: int, dtype: torch.dtype, gen: torch.Generator) -> torch.Tensor:
    return (torch.randn(n, device="cuda", generator=gen) * 3).to(dtype)


def _row(direction: str, dname: str, mode: str, n: int, min_time: float,
         gen: torch.Generator) -> dict[str, Any]:
    dtype = DTYPES[dname]
    x = _inputs(n, dtype, gen)
    if direction == "fwd":
        tensors = 2
        fns: dict[str, Callable[[], object]] = {
            "ours": lambda: gelu_ext.gelu(x, mode),
            "native": lambda: F.gelu(x, approximate=mode),
            "seed": lambda: seed_gelu(x, mode),
        }
    else:
        tensors = 3
        g = _inputs(n, dtype, gen)
        fns = {
            "ours": lambda: gelu_ext.gelu_backward(g, x, mode),
            "native": lambda: torch.ops.aten.gelu_backward(g, x, approximate=mode),
            "seed": lambda: seed_gelu_backward(g, x, mode),
        }
    nbytes = tensors * n * x.element_size()
    # The copy moves the same bytes: reads nbytes / 2, writes nbytes / 2.
    src = torch.zeros(nbytes // 2, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    fns["copy"] = lambda: dst.copy_(src)
    t = _time_interleaved(fns, min_time)
    ours, native, seed, copy = (t[k][0] for k in ("ours", "native", "seed", "copy"))
    return {
        "device": "cuda",
        "gpu": torch.cuda.get_device_name(),
        "direction": direction,
        "dtype": dname,
        "approximate": mode,
        "n": n,
        "ours_us": ours * 1e6,
        "native_us": native * 1e6,
        "seed_us": seed * 1e6,
        "copy_us": copy * 1e6,
        "ours_gbps": nbytes / ours / 1e9,
        "native_gbps": nbytes / native / 1e9,
        "copy_gbps": nbytes / copy / 1e9,
        "pct_of_copy": 100.0 * copy / ours,
        "native_pct_of_copy": 100.0 * copy / native,
        "speedup": native / ours,
        "speedup_vs_seed": seed / ours,
        "ours_host_us": t["ours"][1] * 1e6,
        "native_host_us": t["native"][1] * 1e6,
        "overhead_us": (t["ours"][1] - t["native"][1]) * 1e6,
        "noise": max(t["ours"][2], t["native"][2]),
    }


def run(
    dtypes: Sequence[str],
    modes: Sequence[str],
    sizes: Sequence[int],
    directions: Sequence[str],
    *,
    min_time: float,
    progress: bool,
) -> list[dict[str, Any]]:
    """Times every combination on the current CUDA device; one dict per cell.

    Each dict has device, gpu, direction ("fwd"/"bwd"), dtype, approximate, n,
    ours_us, native_us, seed_us, copy_us (GPU time per call), ours_gbps,
    native_gbps, copy_gbps, pct_of_copy, native_pct_of_copy, speedup (native
    over ours), speedup_vs_seed, ours_host_us, native_host_us, overhead_us
    (host time per call, ours minus native) and noise. A size that does not
    fit in GPU memory is reported on stderr and left out.
    """
    if not torch.cuda.is_available():
        raise RuntimeError("gelu_ext.cli.benchmark_cuda: no CUDA device is visible to torch")
    if not gelu_ext._C.cuda_compiled():
        raise RuntimeError("gelu_ext.cli.benchmark_cuda: gelu_ext was built without CUDA kernels")
    for name in dtypes:
        if name not in DTYPES:
            raise ValueError(f"gelu_ext.cli.benchmark_cuda: unknown dtype {name!r}; "
                             f"choose from {', '.join(DTYPES)}")
    cases = [(d, m, n, di) for d in dtypes for m in modes for n in sizes for di in directions]
    gen = torch.Generator(device="cuda").manual_seed(0)
    rows: list[dict[str, Any]] = []
    bar = Progress(len(cases), enabled=progress)
    try:
        for i, (dname, mode, n, direction) in enumerate(cases):
            bar.update(i, f"{direction} {dname} {mode} n={fmt_size(n)}")
            try:
                rows.append(_row(direction, dname, mode, n, min_time, gen))
            except torch.OutOfMemoryError:
                print(f"{direction} {dname} {mode} n={n}: does not fit in GPU memory, skipped",
                      file=sys.stderr)
            torch.cuda.empty_cache()
    finally:
        bar.close()
    return rows


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------
def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as a text table, with the speed targets' yardsticks."""
    head = (
        f"{'op':<13} {'dtype':<8} {'mode':<4} {'size':>5} {'ours us':>9} {'torch us':>9} "
        f"{'seed us':>9} {'copy us':>9} {'ours GB/s':>9} {'%copy':>6} {'torch%':>6} "
        f"{'vs torch':>8} {'vs seed':>7} {'launch +us':>10}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        op = "gelu" if r["direction"] == "fwd" else "gelu_backward"
        launch = f"{r['overhead_us']:+10.2f}" if r["n"] < SMALL else f"{'':>10}"
        lines.append(
            f"{op:<13} {r['dtype']:<8} {r['approximate']:<4} {fmt_size(r['n']):>5} "
            f"{r['ours_us']:>9.1f} {r['native_us']:>9.1f} {r['seed_us']:>9.1f} "
            f"{r['copy_us']:>9.1f} {r['ours_gbps']:>9.0f} {r['pct_of_copy']:>5.0f}% "
            f"{r['native_pct_of_copy']:>5.0f}% {r['speedup']:>7.2f}x {r['speedup_vs_seed']:>6.1f}x "
            f"{launch}" + (" *" if r["noise"] > NOISY else "")
        )
    lines.append(
        "us: GPU time per call (CUDA events, median); %copy / torch%: bandwidth as a share of "
        "the same run's device copy; vs torch / vs seed: their time over ours; launch +us: host "
        f"time per call, ours minus torch (sizes below {fmt_size(SMALL)})"
    )
    if any(r["noise"] > NOISY for r in rows):
        lines.append(f"* timings spread by more than {NOISY:.0%} (interquartile range / median)")
    return "\n".join(lines)


def environment() -> dict[str, Any]:
    """The GPU, driver-side versions and build the numbers come from."""
    props = torch.cuda.get_device_properties(torch.cuda.current_device())
    return {
        "gelu_ext": gelu_ext.__version__,
        "gelu_ext_cuda_archs": gelu_ext._C.cuda_archs(),
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "python": platform.python_version(),
        "gpu": props.name,
        "gpu_memory_gib": round(props.total_memory / 2**30, 1),
        "sm_count": props.multi_processor_count,
        "compute_capability": f"{props.major}.{props.minor}",
    }


def unavailable_reason() -> str | None:
    """Why the GPU benchmark cannot run here, or None when it can."""
    if not gelu_ext._C.cuda_compiled():
        return "gelu_ext was built without CUDA kernels"
    if not torch.cuda.is_available():
        return "no CUDA device is visible to torch"
    return None


def command(args: Any) -> int:
    """Runs the benchmark with parsed arguments: table on stdout, JSON if asked."""
    reason = unavailable_reason()
    if reason is not None:
        raise CliError(reason)
    check_writable(args.json)
    env = environment()
    print(f"# gelu_ext {env['gelu_ext']} ({','.join(env['gelu_ext_cuda_archs'])}) | torch "
          f"{env['torch']} CUDA {env['torch_cuda']} | {env['gpu']} ({env['sm_count']} SMs)")
    rows = run(args.dtype, args.mode, args.sizes, args.direction, min_time=args.min_time,
               progress=not args.no_progress)
    print(format_table(rows))
    if args.json:
        write_json(args.json, {"environment": env, "rows": rows})
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gelu_ext.cli.benchmark_cuda``: print the table, optionally save JSON."""
    p = Parser(
        prog="python -m gelu_ext.cli.benchmark_cuda",
        description="Time gelu_ext's CUDA kernels against PyTorch, the seed formula and a copy.")
    p.add_argument("--dtype", type=choice_list(list(DTYPES)), default=DEFAULT_DTYPES,
                   help="comma-separated dtypes or 'all' (default float32,bfloat16,float16)")
    p.add_argument("--mode", type=choice_list(MODES), default=list(MODES),
                   help="approximate modes (default none,tanh)")
    p.add_argument("--direction", type=choice_list(DIRECTIONS), default=list(DIRECTIONS),
                   help="fwd, bwd or both (default)")
    p.add_argument("--sizes", type=size_list, default=DEFAULT_SIZES,
                   help="element counts, K/M/G = 2^10/2^20/2^30 (default every power of 2 "
                        "from 4K to 256M)")
    p.add_argument("--min-time", type=positive_float, default=0.1,
                   help="seconds per measured callable and cell (default 0.1)")
    p.add_argument("--json", metavar="FILE", help="also write rows and environment as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    args = p.parse_args(argv)
    return run_guarded(p.prog, lambda: command(args))


if __name__ == "__main__":
    sys.exit(main())
