"""gelu_ext's time on non-contiguous inputs over its time on contiguous ones.

Run:  python tools/layout_ratios.py [--threads 1,2] [--dtype float32,...]
          [--mode none] [--rounds 40] [--json FILE]

`python -m gelu_ext bench --layouts ...` times each layout in its own cell,
so on a shared machine its layout ratios move with whatever else ran between
the cells. This loop alternates the calls instead: per dtype, the forward
and the backward of

* a contiguous tensor of 2^20 elements,
* an `x[::2]` view of 2^21 elements ("strided"),
* `x.t()` of a 1024 x 1024 tensor ("transposed"),

(the benchmark's own layouts, `gelu_ext.cli.bench`),

all written into contiguous out= tensors allocated once (kernel against
kernel: no allocation or page faults in the times), plus the transposed
input into an out= of its own layout (`torch.empty_like`, as the functional
call allocates it: "transposed, same-layout out") and PyTorch's own
transposing copy `out.copy_(x.t())` of the same tensor for scale. Each call
runs once per round, the rounds interleave them, and the medians are
compared. Values are N(0, 3^2) (the benchmark's input scale).
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import time

import gelu_ext  # noqa: F401  (registers torch.ops.gelu_ext)
import torch
from gelu_ext.cli import bench
from gelu_ext.cli.info import cpu_model

N = 1 << 20


def measure(dtype: torch.dtype, mode: str, rounds: int) -> dict[str, float]:
    """Median microseconds of each call, interleaved over `rounds` rounds."""
    gen = torch.Generator().manual_seed(0)
    ops = torch.ops.gelu_ext
    calls = {}
    # the benchmark's own layouts (--layouts), then a transposed input into an
    # output of its own strides; each case has tensors of its own, so that no
    # call finds another case's inputs in the caches
    for case in (*bench.LAYOUTS, "transposed same-layout"):
        layout = case.split()[0]
        values = (torch.randn(N, generator=gen) * bench.INPUT_SCALE).to(dtype)
        x = bench._make_input(values, layout)
        g = bench._make_input(torch.randn(N, generator=gen).to(dtype), layout)
        if case == layout:
            out = torch.empty(x.shape, dtype=dtype)  # contiguous, whatever x's layout
        else:
            out = torch.empty_like(x)  # x's strides: the iteration runs in memory order
        calls[f"{case} fwd"] = functools.partial(ops.gelu.out, x, mode, out=out)
        calls[f"{case} bwd"] = functools.partial(
            ops.gelu_backward.grad_input, g, x, mode, grad_input=out
        )
        if case == "transposed":
            calls["torch transposing copy"] = functools.partial(out.copy_, x)
    for f in calls.values():  # warm-up: pages, caches, lazy set-up
        f()
        f()
    times: dict[str, list[float]] = {k: [] for k in calls}
    for _ in range(rounds):
        for k, f in calls.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) * 1e6 for k, v in times.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", default="1,2")
    p.add_argument("--dtype", default="float32,bfloat16,float16,float64")
    p.add_argument("--mode", default="none", choices=["none", "tanh", "sigmoid"])
    p.add_argument("--rounds", type=int, default=40)
    p.add_argument("--json", default=None, help="also write the medians here")
    args = p.parse_args(argv)
    print(f"# {cpu_model()} | torch {torch.__version__} | mode {args.mode} | {args.rounds} rounds")
    print(
        "| dtype | threads | contiguous fwd / bwd (us) | strided fwd | strided bwd "
        "| transposed fwd | transposed bwd | transposed, same-layout out fwd / bwd "
        "| torch transposing copy (us) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    results = []
    for threads in (int(t) for t in args.threads.split(",")):
        torch.set_num_threads(threads)
        for name in args.dtype.split(","):
            m = measure(getattr(torch, name), args.mode, args.rounds)
            cf, cb = m["contiguous fwd"], m["contiguous bwd"]
            print(
                f"| {name} | {threads} | {cf:.0f} / {cb:.0f} | {m['strided fwd'] / cf:.2f} "
                f"| {m['strided bwd'] / cb:.2f} | {m['transposed fwd'] / cf:.2f} "
                f"| {m['transposed bwd'] / cb:.2f} | {m['transposed same-layout fwd'] / cf:.2f} / "
                f"{m['transposed same-layout bwd'] / cb:.2f} | {m['torch transposing copy']:.0f} |",
                flush=True,
            )
            results.append({"dtype": name, "threads": threads, "mode": args.mode, "us": m})
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"cpu": cpu_model(), "torch": torch.__version__, "rows": results}, f, indent=1
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
