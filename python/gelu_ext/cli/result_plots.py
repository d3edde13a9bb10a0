"""Figures of the ``accuracy`` and ``bench`` commands' rows (``--plot FILE``).

Both are drawn from the rows as the commands write them with ``--json``
(dicts; a non-finite number may be the string "inf" or "nan"), so a saved
JSON file draws them again: ``python -m gelu_ext plot --from-json FILE``.

* :func:`accuracy_figure`: the error in ulps against x, log scale, gelu_ext
  beside PyTorch: a row of panels per dtype and direction, a column per
  mode, from each row's error profile (the largest error per bin of x).
  Each curve carries the ``gid`` ``"acc:<dtype>:<mode>:<direction>:<impl>"``.
* :func:`bench_figure`: GB/s against the element count, both log scale: a
  row of panels per device, setting and direction, a column per dtype; per
  mode gelu_ext (solid) and PyTorch (dashed) in the mode's colour, and the
  same run's copy (dotted); one legend for the figure. Each curve carries the ``gid``
  ``"bench:<device>:<dtype>:<direction>:<mode>:<who>"`` with ``who`` one of
  ``gelu_ext``, ``torch``, or ``copy`` (whose mode is ``all``: the median of
  the copies timed beside every mode).
"""

from __future__ import annotations

import json
import math
import statistics
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from .common import CliError, fmt_size, fmt_ulp
from .figure_common import (
    MODE_COLOURS,
    MODE_NAMES,
    OTHER,
    finish_axes,
    new_figure,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

JsonRow = Mapping[str, object]
# The files the figures are written to by the demo and ``plot --from-json``.
FILE_NAMES = {"accuracy": "accuracy_ulps.png", "bench": "bench_gbps.png"}
# Errors of 0 ulp are drawn at this height (a log axis has no 0).
ULP_FLOOR = 1e-2
IMPL_COLOURS = {"gelu_ext": "tab:blue", "torch": "tab:red"}
_FALLBACK_COLOUR = "tab:purple"  # a mode without a colour of its own


def _num(value: object) -> float:
    """A JSON number as a float: None is NaN, the strings "inf"/"nan" their value."""
    return math.nan if value is None else float(value)  # type: ignore[arg-type]


def _ordered(values: Sequence[object]) -> list[object]:
    """The distinct values in first-seen order."""
    return list(dict.fromkeys(values))


def _mode_name(mode: str) -> str:
    return MODE_NAMES.get(mode, mode)


def _op(direction: str) -> str:
    return "gelu" if direction == "fwd" else "gelu_backward"


def _drop_empty(fig: Figure, grid: list[list[Axes]], used: set[tuple[int, int]]) -> None:
    """Removes the panels of ``grid`` that nothing was drawn in."""
    for i, row in enumerate(grid):
        for j, ax in enumerate(row):
            if (i, j) not in used:
                fig.delaxes(ax)


# ---------------------------------------------------------------------------
# accuracy
# ---------------------------------------------------------------------------
def accuracy_curve(row: JsonRow) -> tuple[np.ndarray, np.ndarray]:
    """The (x, error in ulps) an accuracy row's profile draws: per bin, the
    input with its largest error and that error; NaN for an empty bin, inf
    for a non-finite result."""
    x = np.array([_num(v) for v in row["profile_x"]], dtype=np.float64)  # type: ignore[union-attr]
    y = np.array([_num(v) for v in row["profile_ulp"]], dtype=np.float64)  # type: ignore[union-attr]
    return x, y


def _accuracy_panel(ax: Axes, pair: Mapping[str, JsonRow], tail_from: float | None) -> None:
    """One dtype, mode and direction: each implementation's profile."""
    first = next(iter(pair.values()))
    lo, hi = _num(first["profile_lo"]), _num(first["profile_hi"])
    if tail_from is not None and lo < tail_from:
        ax.axvspan(lo, tail_from, color="0.93", zorder=0)
    ax.axhline(1.0, color=OTHER, lw=0.8, ls=":")
    top = 10.0
    notes = []
    for impl in ("gelu_ext", "torch"):
        row = pair.get(impl)
        if row is None:
            continue
        x, y = accuracy_curve(row)
        colour = IMPL_COLOURS[impl]
        label = "gelu_ext" if impl == "gelu_ext" else "PyTorch"
        if impl == "torch" and row["mode"] == "sigmoid":
            label = r"PyTorch composite $x\,\sigma(1.702x)$"
        finite = np.isfinite(y)
        shown = np.where(finite, np.maximum(y, ULP_FLOOR), np.nan)
        ax.semilogy(
            x,
            shown,
            color=colour,
            lw=1.6 if impl == "gelu_ext" else 1.2,
            label=label,
            gid=f"acc:{row['dtype']}:{row['mode']}:{row['direction']}:{impl}",
            zorder=3 if impl == "gelu_ext" else 2,
        )
        if finite.any():
            top = max(top, float(np.max(y[finite])) * 8)
        if np.isinf(y).any():  # non-finite results: marks along the top edge
            ax.plot(
                x[np.isinf(y)],
                np.full(int(np.isinf(y).sum()), 0.96),
                "^",
                color=colour,
                ms=5,
                transform=ax.get_xaxis_transform(),
                label="_nonfinite",
                gid=f"acc:{row['dtype']}:{row['mode']}:{row['direction']}:{impl}:inf",
            )
        worst, at = _num(row["max_ulp"]), _num(row["max_ulp_x"])
        where = f"x = {at:.4g}" + ("" if lo <= at <= hi else ", off the plot")
        notes.append(f"{label.split(' ')[0]} max {fmt_ulp(worst)} ulp at {where}")
    ax.set_ylim(ULP_FLOOR / 2, top)
    ax.set_xlim(lo, hi)
    ax.text(
        0.98,
        0.04,
        "\n".join(notes),
        transform=ax.transAxes,
        ha="right",
        va="bottom",
        fontsize=7.5,
        bbox={"boxstyle": "round", "fc": "white", "ec": "0.7", "alpha": 0.85},
    )


def accuracy_figure(rows: Sequence[JsonRow], tail_from: float | None = -4.0) -> Figure:
    """The error in ulps against x of the rows of ``accuracy`` (see the
    module doc); ``tail_from``: the negative tail shaded left of it."""
    rows = [r for r in rows if r.get("profile_ulp")]
    if not rows:
        raise CliError("the accuracy rows have no error profiles to draw")
    panels = _ordered([(r["dtype"], r["direction"]) for r in rows])
    modes = _ordered([r["mode"] for r in rows])
    tail = f"; shaded: the negative tail x $\\leq$ {tail_from:g}" if tail_from is not None else ""
    fig, grid = new_figure(
        len(panels),
        len(modes),
        f"Error in ulps against x, gelu_ext and PyTorch: the largest per bin of x "
        f"(0 drawn at {ULP_FLOOR:g}{tail})",
        (4.4 * len(modes), 0.6 + 2.9 * len(panels)),
    )
    used = set()
    for i, (dtype, direction) in enumerate(panels):
        for j, mode in enumerate(modes):
            pair = {
                str(r["impl"]): r
                for r in rows
                if (r["dtype"], r["direction"], r["mode"]) == (dtype, direction, mode)
            }
            if not pair:
                continue
            ax = grid[i][j]
            used.add((i, j))
            _accuracy_panel(ax, pair, tail_from)
            finish_axes(
                ax,
                f"{dtype} {_mode_name(str(mode))} {_op(str(direction))}",
                "x",
                f"error (ulps of {dtype})",
                legend="upper right",
                fontsize=8,
            )
    _drop_empty(fig, grid, used)
    return fig


# ---------------------------------------------------------------------------
# bench
# ---------------------------------------------------------------------------
def copy_gbps(row: JsonRow) -> float:
    """The GB/s of the copy timed beside a row (the same bytes as gelu_ext's)."""
    if row.get("copy_gbps") is not None:
        return _num(row["copy_gbps"])
    return _num(row["ours_gbps"]) * _num(row["ours_us"]) / _num(row["copy_us"])


def _setting(row: JsonRow) -> tuple[object, ...]:
    """What a row's panel shares besides dtype and direction."""
    return tuple(row.get(k) for k in ("device", "gpu", "threads", "outputs", "layout"))


def _bench_title(row: JsonRow) -> str:
    """A panel's title: dtype, op, device and the setting."""
    device = str(row.get("gpu") or "GPU") if row["device"] == "cuda" else "CPU"
    parts = [f"{row['dtype']} {_op(str(row['direction']))}", device]
    if row.get("threads") is not None:
        parts.append(f"{row['threads']} thr")
    if row.get("outputs") == "preallocated":
        parts.append("out=")
    if row.get("layout") not in (None, "contiguous"):
        parts.append(str(row["layout"]))
    return ", ".join(parts)


def _bench_panel(ax: Axes, rows: Sequence[JsonRow]) -> None:
    """One dtype, direction and setting: per mode gelu_ext and PyTorch, and
    the copy, on log axes with the sizes as ticks."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

    first = rows[0]
    key = f"{first['device']}:{first['dtype']}:{first['direction']}"
    sizes = sorted({int(r["n"]) for r in rows})  # type: ignore[call-overload]
    for mode in _ordered([r["approximate"] for r in rows]):
        mine = sorted((r for r in rows if r["approximate"] == mode), key=lambda r: r["n"])
        n = [r["n"] for r in mine]
        colour = MODE_COLOURS.get(str(mode), _FALLBACK_COLOUR)
        name = _mode_name(str(mode))
        torch_name = "PyTorch composite" if mode == "sigmoid" else "PyTorch"
        for field, style, width, who, label in (
            ("ours_gbps", "-o", 1.8, "gelu_ext", f"gelu_ext {name}"),
            ("native_gbps", "--s", 1.2, "torch", f"{torch_name} {name}"),
        ):
            ax.plot(
                n,
                [_num(r[field]) for r in mine],
                style,
                color=colour,
                lw=width,
                ms=4,
                mfc=colour if who == "gelu_ext" else "none",
                label=label,
                gid=f"bench:{key}:{mode}:{who}",
            )
    copies = [statistics.median(copy_gbps(r) for r in rows if r["n"] == n) for n in sizes]
    ax.plot(
        sizes,
        copies,
        ":",
        color="black",
        marker=".",
        lw=1.4,
        label="copy of the same bytes",
        gid=f"bench:{key}:all:copy",
    )
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes, [fmt_size(n) for n in sizes])
    ax.xaxis.set_minor_locator(NullLocator())
    if len(sizes) == 1:  # one size: some room on both sides
        ax.set_xlim(sizes[0] / 2, sizes[0] * 2)
    ax.set_yscale("log")
    ax.yaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))  # 2 and 5 labelled too
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(plain)


def bench_figure(rows: Sequence[JsonRow]) -> Figure:
    """GB/s against the element count of the rows of ``bench`` (see the
    module doc)."""
    if not rows:
        raise CliError("there are no benchmark rows to draw")
    panel_rows = _ordered([(_setting(r), r["direction"]) for r in rows])
    dtypes = _ordered([r["dtype"] for r in rows])
    fig, grid = new_figure(
        len(panel_rows),
        len(dtypes),
        "GB/s against size: gelu_ext, PyTorch and a copy of the same bytes\n"
        "(bytes read + written per second, in the same run)",
        (max(5.0 * len(dtypes), 8.0), 0.6 + 3.3 * len(panel_rows)),
    )
    used = set()
    for i, (setting, direction) in enumerate(panel_rows):
        for j, dtype in enumerate(dtypes):
            mine = [
                r
                for r in rows
                if (_setting(r), r["direction"], r["dtype"]) == (setting, direction, dtype)
            ]
            if not mine:
                continue
            ax = grid[i][j]
            used.add((i, j))
            _bench_panel(ax, mine)
            finish_axes(ax, _bench_title(mine[0]), "elements", "GB/s", legend=None)
    _drop_empty(fig, grid, used)
    # Every panel draws the same kinds of line: one legend for the figure.
    handles: dict[str, object] = {}
    for ax in fig.axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    fig.legend(
        list(handles.values()),
        list(handles),
        loc="outside lower center",
        ncol=(len(handles) + 1) // 2,  # a column per mode, its two lines one above the other
        fontsize=9,
    )
    return fig


# ---------------------------------------------------------------------------
# Saved JSON
# ---------------------------------------------------------------------------
def figure_from_json(path: str) -> tuple[str, Figure]:
    """The figure of a file written by ``accuracy --json`` or ``bench
    --json``: ("accuracy" or "bench", the figure)."""
    try:
        with open(path) as f:
            data = json.load(f)
    except OSError as e:
        raise CliError(f"cannot read {path}: {e.strerror}") from None
    except ValueError as e:
        raise CliError(f"{path} is not JSON: {e}") from None
    rows = data.get("rows") if isinstance(data, dict) else None
    if isinstance(rows, list) and rows and all(isinstance(r, dict) for r in rows):
        if all("profile_ulp" in r for r in rows):
            tail = data.get("tail_from")
            return "accuracy", accuracy_figure(rows, None if tail is None else _num(tail))
        if all("ours_gbps" in r for r in rows):
            return "bench", bench_figure(rows)
    raise CliError(
        f"{path} holds neither accuracy rows with error profiles nor benchmark rows "
        "(the JSON of accuracy --json or bench --json)"
    )
