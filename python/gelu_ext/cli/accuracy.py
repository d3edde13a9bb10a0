"""Accuracy of gelu_ext and of PyTorch's native GELU against a reference.

    python -m gelu_ext accuracy                    # dense sweep, every dtype and mode
    python -m gelu_ext accuracy --quick --json acc.json

For each dtype, mode (``none`` = exact, ``tanh``) and direction (forward
``gelu``; backward ``gelu_backward`` with grad_output = 1, i.e. f'(x)), both
implementations run on the same inputs:

* bfloat16 / float16: every finite value of the type;
* float32: a uniform grid over [-16, 16] plus log-spaced magnitudes down to
  the smallest normal number (both signs);
* float64: the same shape of sweep over [-40, 40], smaller, because its
  reference is evaluated with 40-digit mpmath.

The reference for the other dtypes is float64 arithmetic in the stable forms
of the design notes (Phi through erfc, the tanh form as x * sigmoid(2u)),
accurate far beyond their precision. Errors are counted in ulps of the dtype
at the reference value (the subnormal spacing below the normal range). The
derivative crosses zero at x ~ -0.75, where its two terms cancel, so that a
tiny absolute error is a large relative one; backward errors in
float32/float64 are therefore counted beyond an absolute allowance of
2^-26 / 2^-55 (the float32 figure is the accuracy contract's). The negative
tail (x <= -4) is where textbook formulas cancel; its largest relative error
is reported where the reference is a normal number of the dtype.

Each row also keeps an error profile for figures: the inputs in
[-16, 16] ([-40, 40] for float64) in 256 equal bins, and per bin its
largest error and the input where it occurs. ``--plot FILE`` draws the
profiles as a PNG: the error in ulps against x, gelu_ext beside PyTorch.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from .common import (
    DTYPE_NAMES,
    MODES,
    Progress,
    add_list_option,
    check_writable,
    fmt_ulp,
    int_range,
    png_file,
    write_json,
)
from .figure_common import require_matplotlib, save_png
from .reference import (
    MP_DIGITS,
    gelu,
    gelu_derivative,
    mp_gelu,
    textbook_gelu,
    textbook_gelu_backward,
    ulp_error,
)
from .result_plots import accuracy_figure

DESCRIPTION = __doc__

TAIL_FROM = -4.0
# The error profile: PROFILE_BINS equal bins of x over [-span, span].
PROFILE_BINS = 256
PROFILE_SPAN = {"float32": 16.0, "float64": 40.0, "bfloat16": 16.0, "float16": 16.0}
# Absolute allowance for backward errors near the root of f' (see module doc).
BWD_ALLOWANCE = {"float32": 2.0**-26, "float64": 2.0**-55, "bfloat16": 0.0, "float16": 0.0}


@dataclass
class AccuracyRow:
    """Worst errors of one implementation for one dtype, mode and direction."""

    dtype: str
    mode: str  # "none" (exact) or "tanh"
    direction: str  # "fwd" (gelu) or "bwd" (gelu_backward, grad_output = 1)
    impl: str  # "gelu_ext" or "torch"
    points: int
    max_ulp: float  # largest error in ulps of dtype (beyond abs_allowance)
    max_ulp_x: float  # the input where it occurs
    max_ulp_got: float
    max_ulp_ref: float
    abs_allowance: float
    tail_max_rel: float | None  # largest relative error for x <= TAIL_FROM (None: no point)
    tail_max_rel_x: float | None
    special_failures: list[str] = field(default_factory=list)
    # The error profile over [profile_lo, profile_hi], in equal bins: per bin
    # the input with the bin's largest error and that error (None: an empty bin).
    profile_lo: float = 0.0
    profile_hi: float = 0.0
    profile_x: list[float | None] = field(default_factory=list)
    profile_ulp: list[float | None] = field(default_factory=list)


# ---------------------------------------------------------------------------
# Inputs and references
# ---------------------------------------------------------------------------
def sweep(dtype: torch.dtype, quick: bool = False, points: int | None = None) -> torch.Tensor:
    """The finite inputs tested for ``dtype`` (see the module doc)."""
    if dtype in (torch.bfloat16, torch.float16):
        x = torch.arange(-(2**15), 2**15, dtype=torch.int32).to(torch.int16).view(dtype)
        return x[x.isfinite()]
    if dtype == torch.float32:
        span, grid, logs = 16.0, (1 << 16 if quick else 1 << 22) + 1, 1 << 12 if quick else 1 << 16
    else:
        span, grid, logs = 40.0, 401 if quick else 16001, 100 if quick else 2000
    if points is not None:
        grid, logs = max(points, 2), max(points // 16, 2)
    tiny = math.log2(torch.finfo(dtype).smallest_normal)
    mags = torch.logspace(tiny, 4.0, logs, base=2.0, dtype=torch.float64)
    x = torch.cat([torch.linspace(-span, span, grid, dtype=torch.float64), mags, -mags])
    return x.to(dtype).unique()


def reference(x: torch.Tensor, mode: str) -> tuple[torch.Tensor, torch.Tensor]:
    """f(x) and f'(x) as float64 for finite ``x``: the float64 forms of
    ``gelu_ext.cli.reference``, or for float64 inputs its 40-digit mpmath."""
    if x.dtype == torch.float64:
        return mp_gelu(x.tolist(), mode)
    return gelu(x, mode), gelu_derivative(x, mode)


# ---------------------------------------------------------------------------
# The two implementations and their special values
# ---------------------------------------------------------------------------
Impl = Callable[[torch.Tensor, str], torch.Tensor]


def _ours_fwd(x: torch.Tensor, mode: str) -> torch.Tensor:
    return torch.ops.gelu_ext.gelu(x, mode)


def _ours_bwd(x: torch.Tensor, mode: str) -> torch.Tensor:
    return torch.ops.gelu_ext.gelu_backward(torch.ones_like(x), x, mode)


# PyTorch has no sigmoid GELU: there "torch" is the composite
# x * torch.sigmoid(1.702 x) that models write, and autograd's kernels for it.
def _torch_fwd(x: torch.Tensor, mode: str) -> torch.Tensor:
    if mode == "sigmoid":
        return textbook_gelu(x, mode)
    return F.gelu(x, approximate=mode)


def _torch_bwd(x: torch.Tensor, mode: str) -> torch.Tensor:
    if mode == "sigmoid":
        return textbook_gelu_backward(torch.ones_like(x), x, mode)
    return torch.ops.aten.gelu_backward(torch.ones_like(x), x, approximate=mode)


IMPLS: dict[tuple[str, str], Impl] = {
    ("gelu_ext", "fwd"): _ours_fwd,
    ("gelu_ext", "bwd"): _ours_bwd,
    ("torch", "fwd"): _torch_fwd,
    ("torch", "bwd"): _torch_bwd,
}

# Input -> exact result, per direction (the design's limits; NaN stays NaN).
_SPECIALS = {
    "fwd": [(0.0, 0.0), (-0.0, -0.0), (math.inf, math.inf), (-math.inf, 0.0), (math.nan, math.nan)],
    "bwd": [(0.0, 0.5), (-0.0, 0.5), (math.inf, 1.0), (-math.inf, 0.0), (math.nan, math.nan)],
}


def special_failures(fn: Impl, dtype: torch.dtype, mode: str, direction: str) -> list[str]:
    """Special inputs whose result is wrong (the sign of a zero result counts,
    except at -inf, approached from below by both f and f')."""
    xs = torch.tensor([v for v, _ in _SPECIALS[direction]], dtype=dtype)
    got = fn(xs, mode).double().tolist()
    name = "gelu" if direction == "fwd" else "gelu_backward"
    bad = []
    for (x, want), g in zip(_SPECIALS[direction], got):
        ok = (math.isnan(g) and math.isnan(want)) or (
            g == want and (x == -math.inf or math.copysign(1.0, g) == math.copysign(1.0, want))
        )
        if not ok:
            bad.append(f"{name}({x!r}) = {g!r}")
    return bad


def _worst(err: torch.Tensor) -> int:
    return int(err.argmax()) if err.numel() else 0


def profile(
    x: torch.Tensor, err: torch.Tensor, lo: float, hi: float, bins: int = PROFILE_BINS
) -> tuple[list[float | None], list[float | None]]:
    """Per bin of ``bins`` equal bins over [lo, hi]: the input with the
    bin's largest error (the first such input) and that error; None for a
    bin without inputs. Inputs outside [lo, hi] are left out."""
    xd = x.detach().double()
    inside = (xd >= lo) & (xd <= hi)
    xs, es = xd[inside], err.double()[inside]
    # Bin k holds edge[k] <= x < edge[k + 1]; the last one hi too.
    inner_edges = torch.linspace(lo, hi, bins + 1, dtype=torch.float64)[1:-1]
    which = torch.bucketize(xs, inner_edges, right=True)
    worst = torch.full((bins,), -1.0, dtype=torch.float64)
    worst = worst.scatter_reduce(0, which, es, "amax")
    position = torch.arange(xs.numel())
    first = torch.where(es == worst[which], position, xs.numel())
    at = torch.full((bins,), xs.numel(), dtype=torch.long).scatter_reduce(0, which, first, "amin")
    px: list[float | None] = []
    pe: list[float | None] = []
    for k, e in zip(at.tolist(), worst.tolist()):
        empty = k == xs.numel()
        px.append(None if empty else xs[k].item())
        pe.append(None if empty else e)
    return px, pe


def measure(
    dtype_name: str, mode: str, quick: bool = False, points: int | None = None
) -> list[AccuracyRow]:
    """Rows for both implementations and directions of one dtype and mode."""
    dtype = getattr(torch, dtype_name)
    x = sweep(dtype, quick, points)
    refs = dict(zip(("fwd", "bwd"), reference(x, mode)))
    normal = torch.finfo(dtype).smallest_normal
    tail = x.double() <= TAIL_FROM
    span = PROFILE_SPAN[dtype_name]
    rows = []
    with torch.no_grad():
        for (impl, direction), fn in IMPLS.items():
            ref = refs[direction]
            got = fn(x, mode)
            allowance = BWD_ALLOWANCE[dtype_name] if direction == "bwd" else 0.0
            err = ulp_error(got, ref, dtype, allowance)
            i = _worst(err)
            in_tail = tail & (ref.abs() >= normal)
            rel = ((got.double() - ref).abs() / ref.abs())[in_tail]
            rel = rel.nan_to_num(nan=math.inf, posinf=math.inf)
            j = _worst(rel)
            profile_x, profile_ulp = profile(x, err, -span, span)
            rows.append(
                AccuracyRow(
                    dtype=dtype_name,
                    mode=mode,
                    direction=direction,
                    impl=impl,
                    points=x.numel(),
                    max_ulp=err[i].item(),
                    max_ulp_x=x[i].item(),
                    max_ulp_got=got[i].item(),
                    max_ulp_ref=ref[i].item(),
                    abs_allowance=allowance,
                    tail_max_rel=rel[j].item() if rel.numel() else None,
                    tail_max_rel_x=x[in_tail][j].item() if rel.numel() else None,
                    special_failures=special_failures(fn, dtype, mode, direction),
                    profile_lo=-span,
                    profile_hi=span,
                    profile_x=profile_x,
                    profile_ulp=profile_ulp,
                )
            )
    return rows


def run(
    dtypes: Sequence[str],
    modes: Sequence[str],
    quick: bool = False,
    points: int | None = None,
    progress: bool = True,
) -> list[AccuracyRow]:
    """All rows for the given dtypes and modes (a progress line on stderr
    once the run has taken a couple of seconds)."""
    cases = [(d, m) for d in dtypes for m in modes]
    rows = []
    with Progress(len(cases), enabled=progress) as bar:
        for i, (d, m) in enumerate(cases):
            bar.update(i, f"{d} {m}")
            rows += measure(d, m, quick, points)
    return rows


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------
def _fmt_rel(value: float | None) -> str:
    return "-" if value is None else f"{value:.2g}"


def format_table(rows: Sequence[AccuracyRow]) -> str:
    """One line per dtype/mode/direction: gelu_ext beside PyTorch."""
    pairs: dict[tuple[str, str, str], dict[str, AccuracyRow]] = {}
    for r in rows:
        pairs.setdefault((r.dtype, r.mode, r.direction), {})[r.impl] = r
    head = (
        f"{'dtype':<8} {'mode':<4} {'dir':<3} {'points':>8} | {'gelu_ext ulp':>12} "
        f"{'at x':>10} {'tail rel':>8} | {'PyTorch ulp':>12} {'at x':>10} {'tail rel':>8}"
    )
    lines = [head, "-" * len(head)]
    for (dtype, mode, direction), by_impl in pairs.items():
        cells = []
        for impl in ("gelu_ext", "torch"):
            r = by_impl[impl]
            cells.append(
                f"{fmt_ulp(r.max_ulp):>12} {r.max_ulp_x:>10.5g} {_fmt_rel(r.tail_max_rel):>8}"
            )
        points = next(iter(by_impl.values())).points
        lines.append(f"{dtype:<8} {mode:<4} {direction:<3} {points:>8} | {cells[0]} | {cells[1]}")
    lines += special_summary(rows)
    return "\n".join(lines)


def special_summary(rows: Sequence[AccuracyRow]) -> list[str]:
    """Wrong results at +-0, +-inf, NaN, grouped per implementation."""
    lines = []
    for impl, name in (("gelu_ext", "gelu_ext"), ("torch", "PyTorch")):
        where: dict[str, list[str]] = {}
        impl_rows = [r for r in rows if r.impl == impl]
        for r in impl_rows:
            for failure in r.special_failures:
                where.setdefault(failure, []).append(f"{r.dtype} {r.mode}")
        pairs = len({(r.dtype, r.mode) for r in impl_rows})
        if not where:
            lines.append(f"special values (+-0, +-inf, NaN), {name}: all exact")
            continue
        parts = [
            f"{f} ({'every dtype and mode' if len(w) == pairs else ', '.join(w)})"
            for f, w in where.items()
        ]
        lines.append(f"special values, {name} wrong: " + "; ".join(parts))
    return lines


LEGEND = (
    "max error in ulps of the dtype vs a float64 reference "
    f"(float64 itself: {MP_DIGITS}-digit mpmath);\n"
    "bwd = gelu_backward with grad 1, counted beyond 2^-26 (float32) / 2^-55 (float64)\n"
    "absolute near the root of f' at x = -0.75; "
    f"tail rel = largest relative error for x <= {TAIL_FROM:g}"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``accuracy`` options."""
    add_list_option(p, "--dtype", DTYPE_NAMES, DTYPE_NAMES, "dtypes")
    add_list_option(p, "--mode", MODES, MODES, "approximate modes")
    p.add_argument(
        "--quick",
        action="store_true",
        help="a shorter sweep for float32/float64 (half types stay exhaustive)",
    )
    p.add_argument(
        "--points",
        type=int_range(2),
        metavar="N",
        help="grid points for float32/float64 (overrides the default sweep)",
    )
    p.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    p.add_argument(
        "--plot",
        type=png_file,
        metavar="FILE.png",
        help="also draw the error in ulps against x, gelu_ext and PyTorch, per dtype, "
        "mode and direction (needs matplotlib)",
    )


def command(args: argparse.Namespace) -> int:
    """Runs ``accuracy`` with parsed arguments."""
    check_writable(args.json)
    if args.plot:
        require_matplotlib()
        check_writable(args.plot)
    rows = run(args.dtype, args.mode, args.quick, args.points)
    print(LEGEND)
    print(format_table(rows))
    data = [asdict(r) for r in rows]
    if args.json:
        # An infinite error (an infinite or NaN result for a finite
        # reference) is written as the string "inf".
        write_json(args.json, {"tail_from": TAIL_FROM, "rows": data})
    if args.plot:
        save_png(accuracy_figure(data, TAIL_FROM), args.plot)
        print(f"# wrote {args.plot}")
    return 0
