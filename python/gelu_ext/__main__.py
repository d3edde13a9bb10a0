"""``python -m gelu_ext``: a short correctness-and-speed check against PyTorch.

    python -m gelu_ext            # same as: python -m gelu_ext demo
    python -m gelu_ext bench ...  # the benchmark (python -m gelu_ext.benchmark)
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

import torch
import torch.nn.functional as F

import gelu_ext

from . import _C, benchmark

_C_TANH = (2.0 / torch.pi) ** 0.5


def reference(x: torch.Tensor, approximate: str, derivative: bool = False) -> torch.Tensor:
    """GELU or its derivative in float64 with the stable forms of DESIGN.md."""
    x = x.double()
    if approximate == "none":
        # Phi via erfc: torch.special.ndtr cancels (returns 0) below x ~ -8.
        cdf = 0.5 * torch.special.erfc(-x / 2**0.5)
        if derivative:
            return cdf + x * torch.exp(-0.5 * x * x) / (2 * torch.pi) ** 0.5
        return x * cdf
    u = _C_TANH * (x + 0.044715 * x**3)
    s = torch.sigmoid(2 * u)
    if derivative:
        du = _C_TANH * (1 + 3 * 0.044715 * x * x)
        return s + 2 * x * du * s * (1 - s)
    return x * s


def ulp_error(got: torch.Tensor, ref: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """|got - ref| in units of the last place of `dtype` at ref (NaN-safe)."""
    info = torch.finfo(dtype)
    mag = ref.abs().clamp_min(info.smallest_normal)
    ulp = torch.ldexp(torch.ones_like(mag), torch.floor(torch.log2(mag)).long()) * info.eps
    err = (got.double() - ref).abs() / ulp
    both_nan = got.isnan() & ref.isnan()
    return torch.where(both_nan, torch.zeros_like(err), err)


def accuracy_rows(n: int = 1 << 20) -> list[tuple[str, str, float, float]]:
    """Max ulp error (ours, native) of the forward over [-12, 12] per dtype/mode."""
    rows = []
    base = torch.linspace(-12, 12, n, dtype=torch.float64)
    for dtype in (torch.float32, torch.bfloat16, torch.float16):
        x = base.to(dtype)
        for mode in ("none", "tanh"):
            ref = reference(x, mode)
            ours = ulp_error(gelu_ext.gelu(x, mode), ref, dtype).max().item()
            native = ulp_error(F.gelu(x, approximate=mode), ref, dtype).max().item()
            rows.append((str(dtype).replace("torch.", ""), mode, ours, native))
    return rows


def demo(args: argparse.Namespace) -> int:
    print(f"gelu_ext {gelu_ext.__version__} on torch {torch.__version__}; "
          f"CPU SIMD path: {_C.simd_selected()} (compiled: {', '.join(_C.simd_compiled())}); "
          f"CUDA kernels: {'yes ' + ','.join(_C.cuda_archs()) if _C.cuda_compiled() else 'no'}")
    print("\nAccuracy, forward over 1M points in [-12, 12], max error in ulps of the dtype")
    print("(float64 reference; the tail x < -5 is where textbook formulas fail):")
    print(f"  {'dtype':<9} {'mode':<5} {'gelu_ext':>10} {'PyTorch':>12}")
    for dtype, mode, ours, native in accuracy_rows():
        print(f"  {dtype:<9} {mode:<5} {ours:>10.2f} {native:>12.4g}")
    print("\nSpeed, CPU, 2 threads, 1M elements (functional calls, same run):")
    rows = benchmark.run("cpu", ["float32", "bfloat16"], ["none", "tanh"], [1 << 20], [2],
                         ["fwd", "bwd"], min_time=args.min_time, progress=False)
    print(benchmark.format_table(rows))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "bench":
        return benchmark.main(argv[1:])
    p = argparse.ArgumentParser(prog="python -m gelu_ext", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", nargs="?", default="demo", choices=["demo", "bench"])
    p.add_argument("--min-time", type=float, default=0.1, help="seconds per timing (default 0.1)")
    return demo(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
