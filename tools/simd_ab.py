"""Two settings of gelu_ext's CPU kernels against each other, interleaved in one process.

Run:  python tools/simd_ab.py [--paths avx512,avx512-gather | --stores]
          [--dtype bfloat16,float16] [--mode none,tanh] [--sizes 4K,64K,1M,16M]
          [--threads 2,1] [--rounds 25] [--json FILE]

Separate benchmark runs, one per `GELU_EXT_SIMD`, see whatever else the
machine did between them: on a shared VM their cells moved by 0.6-2.5x. This
loop switches the setting between timed batches of the same call instead,
round after round, and compares the medians: two SIMD paths
(`gelu_ext._C.set_simd`), or with --stores ordinary against non-temporal
stores on the selected path (`gelu_ext._C.set_streaming_bytes`: never, or
every out= of any size where the kernels can). Each cell is the first
setting's time over the second's: above 1, the second is faster. The calls
write into an out= tensor allocated once (kernel against kernel); inputs are
N(0, 3^2) (the benchmark's input scale). Either way the bits are the same,
so only the time differs.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import time

import gelu_ext  # noqa: F401  (registers torch.ops.gelu_ext)
import torch
from gelu_ext import _C
from gelu_ext.cli import bench
from gelu_ext.cli.common import size_list
from gelu_ext.cli.info import cpu_model

STORES = {"ordinary": 1 << 62, "streamed": 0}  # set_streaming_bytes for each


def measure(call, settings: dict, n: int, rounds: int) -> dict[str, float]:
    """Median seconds per call under each setting (name -> function that
    applies it), batches of calls interleaved."""
    reps = max(1, (1 << 22) // n)  # about 4M elements per batch
    times: dict[str, list[float]] = {p: [] for p in settings}
    for _ in range(rounds):
        for p, apply in settings.items():
            apply()
            call()  # the first call after a switch is not timed
            t0 = time.perf_counter()
            for _ in range(reps):
                call()
            times[p].append((time.perf_counter() - t0) / reps)
    return {p: statistics.median(v) for p, v in times.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--paths", default="avx512,avx512-gather")
    p.add_argument(
        "--stores", action="store_true", help="ordinary against streamed stores instead of paths"
    )
    p.add_argument("--dtype", default="bfloat16,float16")
    p.add_argument("--mode", default="none,tanh")
    p.add_argument("--sizes", type=size_list, default=size_list("4K,64K,1M,16M"))
    p.add_argument("--threads", default="2,1")
    p.add_argument("--rounds", type=int, default=25)
    p.add_argument("--json", default=None, help="also write the medians here")
    args = p.parse_args(argv)
    if args.stores:
        settings = {k: functools.partial(_C.set_streaming_bytes, b) for k, b in STORES.items()}
    else:
        paths = args.paths.split(",")
        supported = list(_C.simd_supported())
        missing = [x for x in paths if x not in supported]
        if len(paths) != 2 or missing:
            p.error(f"--paths takes two of this CPU's paths ({', '.join(supported)})")
        settings = {x: functools.partial(_C.set_simd, x) for x in paths}
    names = list(settings)
    before = _C.simd_selected(), _C.streaming_bytes()
    print(f"# {cpu_model()} | torch {torch.__version__} | {args.rounds} rounds")
    print(f"# time with {names[0]} / time with {names[1]} (path {before[0]})")
    print("| dtype | mode | dir | threads | " + " | ".join(map(str, args.sizes)) + " |")
    print("|---|---|---|---|" + "---|" * len(args.sizes))
    ops = torch.ops.gelu_ext
    rows = []
    try:
        for threads in (int(t) for t in args.threads.split(",")):
            torch.set_num_threads(threads)
            for name in args.dtype.split(","):
                dtype = getattr(torch, name)
                for mode in args.mode.split(","):
                    for direction in ("fwd", "bwd"):
                        cells = []
                        for n in args.sizes:
                            gen = torch.Generator().manual_seed(0)
                            x = (torch.randn(n, generator=gen) * bench.INPUT_SCALE).to(dtype)
                            g = torch.randn(n, generator=gen).to(dtype)
                            out = torch.empty_like(x)
                            if direction == "fwd":
                                call = functools.partial(ops.gelu.out, x, mode, out=out)
                            else:
                                call = functools.partial(
                                    ops.gelu_backward.grad_input, g, x, mode, grad_input=out
                                )
                            s = measure(call, settings, n, args.rounds)
                            cells.append(s[names[0]] / s[names[1]])
                            rows.append(
                                {
                                    "dtype": name,
                                    "mode": mode,
                                    "direction": direction,
                                    "threads": threads,
                                    "n": n,
                                    "seconds": s,
                                }
                            )
                        print(
                            f"| {name} | {mode} | {direction} | {threads} | "
                            + " | ".join(f"{c:.2f}" for c in cells)
                            + " |",
                            flush=True,
                        )
    finally:
        _C.set_simd(before[0])
        _C.set_streaming_bytes(before[1])
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"cpu": cpu_model(), "torch": torch.__version__, "settings": names, "rows": rows},
                f,
                indent=1,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
