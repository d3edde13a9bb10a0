"""Figures of GELU computed by the gelu_ext kernels: ``python -m gelu_ext plot``.

Every GELU value and derivative drawn here comes from the registered ops
(``torch.ops.gelu_ext.gelu``, ``gelu_backward``, and double backward through
the op for the second derivative), in float64. Each curve drawn from an op
carries a matplotlib ``gid`` of the form ``"op:<what>:<mode>"`` so a test can
recompute it from the line's own x data:

* ``op:gelu:<mode>``: ``gelu(x, mode)``
* ``op:gelu_backward:<mode>``: ``gelu_backward(1, x, mode)``
* ``op:second:<mode>``: d/dx of ``gelu_backward`` (double backward)
* ``op:abs_tanh_minus_exact:both``: ``|gelu(x, "tanh") - gelu(x, "none")|``

The figures are drawn with matplotlib's Agg canvas; pyplot (and its global
backend) is never touched (``figure_common.py``).
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Callable

import numpy as np
import torch

from . import reference, result_plots
from .common import choice_list, int_range
from .figure_common import (
    EXACT,
    OTHER,
    TANH,
    finish_axes,
    new_figure,
    require_matplotlib,
    save_png,
)
from .reference import KAPPA, SQRT_2_OVER_PI

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

DEFAULT_OUT = "gelu_ext_plots"
DESCRIPTION = """\
Write PNG figures computed by the gelu_ext kernels (float64) and print their paths:

  normal_distribution.png     the N(0, 1) density and CDF Phi, with GELU(x)/x from the op
  gelu.png                    exact and tanh GELU with ReLU, on [-4, 4] and [-8, 8]
  gelu_derivative.png         GELU' from gelu_backward, the article's closed form on top
  tanh_minus_exact.png        |tanh - exact| on a log scale, its maximum marked
  gelu_second_derivative.png  GELU'' by double backward through the op

With --from-json FILE, instead the figure of a saved accuracy --json (the
error in ulps against x) or bench --json (GB/s against size) file.
"""


# ---------------------------------------------------------------------------
# Data, from the ops
# ---------------------------------------------------------------------------
def grid(lo: float, hi: float, n: int) -> torch.Tensor:
    """``n`` float64 points evenly spaced on [lo, hi]."""
    return torch.linspace(lo, hi, n, dtype=torch.float64)


def gelu(x: torch.Tensor, mode: str) -> np.ndarray:
    """GELU(x) from ``torch.ops.gelu_ext.gelu``."""
    return torch.ops.gelu_ext.gelu(x, mode).numpy()


def gelu_derivative(x: torch.Tensor, mode: str) -> np.ndarray:
    """GELU'(x) from ``torch.ops.gelu_ext.gelu_backward`` with grad_output = 1."""
    return torch.ops.gelu_ext.gelu_backward(torch.ones_like(x), x, mode).numpy()


def gelu_second_derivative(x: torch.Tensor, mode: str) -> np.ndarray:
    """GELU''(x) by double backward through ``torch.ops.gelu_ext.gelu``."""
    x = x.detach().clone().requires_grad_(True)
    y = torch.ops.gelu_ext.gelu(x, mode)
    (dy,) = torch.autograd.grad(y, x, torch.ones_like(y), create_graph=True)
    (d2y,) = torch.autograd.grad(dy, x, torch.ones_like(dy))
    return d2y.numpy()


def abs_tanh_minus_exact(x: torch.Tensor) -> np.ndarray:
    """|GELU_tanh(x) - GELU_exact(x)|, both from the op."""
    return np.abs(gelu(x, "tanh") - gelu(x, "none"))


def article_tanh_derivative(x: np.ndarray) -> np.ndarray:
    """The seed article's closed-form derivative of the tanh approximation,
    (1 + tanh(u) + x u' sech^2(u)) / 2 with u = sqrt(2/pi) (x + 0.044715 x^3),
    evaluated in numpy: an independent check of ``gelu_backward``."""
    u = SQRT_2_OVER_PI * (x + KAPPA * x**3)
    du = SQRT_2_OVER_PI * (1.0 + 3.0 * KAPPA * x**2)
    return 0.5 * (1.0 + np.tanh(u) + x * du / np.cosh(u) ** 2)


def peak(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(x, y) where y is largest."""
    i = int(np.nanargmax(y))
    return float(x[i]), float(y[i])


# ---------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------
def _figure(panels: int, title: str) -> tuple[Figure, list[Axes]]:
    """One row of ``panels`` panels (a single one a little wider)."""
    fig, (axes,) = new_figure(1, panels, title, (6.4 * panels if panels > 1 else 7.6, 4.6))
    return fig, axes


def _exact_and_tanh(ax, x, exact, tanh, op: str, formula: str) -> None:
    """The exact curve (solid) and the tanh one (dashed), in the colours every
    figure uses; ``gid`` names the op and mode for the tests."""
    ax.plot(x, exact, color=EXACT, lw=2.4, label=f"exact: {formula}", gid=f"op:{op}:none")
    ax.plot(x, tanh, "--", color=TANH, lw=1.6, label="tanh approximation", gid=f"op:{op}:tanh")


def figure_normal() -> Figure:
    """N(0, 1): the density, and Phi as the probability that GELU keeps x."""
    fig, (left, right) = _figure(2, "The standard normal distribution N(0, 1) behind GELU")
    xt = grid(-4, 4, 801)
    x = xt.numpy()
    pdf = reference.normal_pdf(xt).numpy()
    left.plot(x, pdf, color=EXACT, lw=2, label=r"density $\varphi(x) = e^{-x^2/2}/\sqrt{2\pi}$")
    cut = 1.0
    phi_cut = float(reference.normal_cdf(torch.tensor([cut], dtype=torch.float64))[0])
    left.fill_between(
        x,
        pdf,
        where=x <= cut,
        color=EXACT,
        alpha=0.2,
        label=rf"area $= \Phi({cut:g}) = P(X \leq {cut:g}) = {phi_cut:.3f}$",
    )
    left.set_ylim(0, 0.45)
    finish_axes(left, r"Density $\varphi(x)$", "x", r"$\varphi(x)$", legend="upper left")

    right.plot(
        x,
        reference.normal_cdf(xt).numpy(),
        color=EXACT,
        lw=2,
        label=r"$\Phi(x) = P(X \leq x) = \frac{1}{2}\,\mathrm{erfc}(-x/\sqrt{2})$",
    )
    xs = torch.tensor([v / 2 for v in range(-8, 9) if v != 0], dtype=torch.float64)
    right.plot(
        xs.numpy(),
        gelu(xs, "none") / xs.numpy(),
        "o",
        color=TANH,
        ms=5,
        label="GELU(x) / x from gelu_ext",
        gid="op:gelu_over_x:none",
    )
    right.set_ylim(-0.03, 1.03)
    finish_axes(
        right,
        r"CDF: GELU keeps x with probability $\Phi(x)$,"
        "\n"
        r"so on average GELU(x) $= x\,\Phi(x)$",
        "x",
        "probability",
        legend="upper left",
    )
    return fig


def figure_gelu() -> Figure:
    """Exact and tanh GELU with ReLU, on [-4, 4] and [-8, 8]."""
    fig, axes = _figure(2, "GELU from torch.ops.gelu_ext.gelu, with ReLU for comparison")
    for ax, span in zip(axes, (4.0, 8.0)):
        xt = grid(-span, span, 1601)
        x = xt.numpy()
        ax.plot(x, np.maximum(x, 0.0), ":", color=OTHER, lw=1.6, label="ReLU(x) = max(x, 0)")
        _exact_and_tanh(ax, x, gelu(xt, "none"), gelu(xt, "tanh"), "gelu", r"$x\,\Phi(x)$")
        finish_axes(ax, f"x in [{-span:g}, {span:g}]", "x", "GELU(x)", legend="upper left")
    xmin, ymin = minimum_of_gelu("none")
    axes[0].plot([xmin], [ymin], "o", color="black", ms=5)
    axes[0].annotate(
        f"exact minimum {ymin:.5f}\nat x = {xmin:.4f}",
        xy=(xmin, ymin),
        xytext=(-3.8, 1.2),
        arrowprops={"arrowstyle": "->", "color": "black"},
    )
    return fig


def minimum_of_gelu(mode: str) -> tuple[float, float]:
    """(x, GELU(x)) at the minimum, from the op on a 1e-5 grid over [-1, -0.5]."""
    xt = grid(-1.0, -0.5, 50001)
    x, y = peak(xt.numpy(), -gelu(xt, mode))
    return x, -y


def figure_derivative() -> Figure:
    """GELU' from gelu_backward, with the article's closed form on top."""
    fig, (ax,) = _figure(1, "GELU'(x) from torch.ops.gelu_ext.gelu_backward")
    xt = grid(-6, 6, 1201)
    x = xt.numpy()
    exact, tanh = gelu_derivative(xt, "none"), gelu_derivative(xt, "tanh")
    ax.plot(x, exact, color=EXACT, lw=2.4, label="exact", gid="op:gelu_backward:none")
    ax.plot(
        x, tanh, "--", color=TANH, lw=1.6, label="tanh approximation", gid="op:gelu_backward:tanh"
    )
    article = article_tanh_derivative(x)
    every = 24
    ax.plot(
        x[::every],
        article[::every],
        "x",
        color="black",
        ms=5,
        label="article's closed-form tanh derivative (check)",
    )
    ax.axhline(0.0, color=OTHER, lw=0.8)
    ax.axhline(1.0, color=OTHER, lw=0.8)
    diff = float(np.max(np.abs(tanh - article)))
    ax.text(
        0.98,
        0.3,
        f"tanh, largest |gelu_backward - closed form|\non [-6, 6]: {diff:.1e}",
        transform=ax.transAxes,
        ha="right",
        va="bottom",
        fontsize=9,
        bbox={"boxstyle": "round", "fc": "white", "ec": "0.7"},
    )
    finish_axes(ax, "derivative of exact and tanh GELU", "x", "dGELU/dx", legend="upper left")
    return fig


def figure_tanh_error() -> Figure:
    """|tanh - exact| on a log scale, its maximum marked."""
    fig, (ax,) = _figure(1, "How far the tanh approximation is from exact GELU")
    # An even count: x = 0, where both are exactly 0, is not a point (log scale).
    xt = grid(-7, 7, 14000)
    x = xt.numpy()
    diff = abs_tanh_minus_exact(xt)
    shown = np.where(diff > 0, diff, np.nan)
    ax.semilogy(x, shown, color=EXACT, lw=1.8, gid="op:abs_tanh_minus_exact:both")
    xmax, ymax = peak(x, diff)
    # The difference is even in x: mark the largest value on each side.
    other = x * np.sign(xmax) < 0
    xo, yo = peak(x[other], diff[other])
    ax.plot([xmax, xo], [ymax, yo], "o", color="tab:red", ms=6, gid="max")
    text = (
        f"largest difference {ymax:.3g} at x = {xmax:+.3f}\n"
        f"({yo:.3g} at x = {xo:+.3f} on the other side)"
    )
    for i, (xp, yp) in enumerate(((xmax, ymax), (xo, yo))):
        ax.annotate(
            text if i == 0 else "",
            xy=(xp, yp),
            xytext=(0.0, ymax * 40),
            ha="center",
            color="tab:red",
            arrowprops={"arrowstyle": "->", "color": "tab:red", "shrinkB": 4},
        )
    ax.set_ylim(1e-12, ymax * 3e3)
    # One curve: no legend.
    finish_axes(
        ax,
        "absolute difference, both from torch.ops.gelu_ext.gelu (float64)",
        "x",
        "|GELU_tanh(x) - GELU_exact(x)|",
        legend=None,
    )
    return fig


def figure_second_derivative() -> Figure:
    """GELU'' by double backward through the op."""
    fig, (ax,) = _figure(1, "GELU''(x) by double backward through torch.ops.gelu_ext.gelu")
    xt = grid(-5, 5, 1001)
    x = xt.numpy()
    _exact_and_tanh(
        ax,
        x,
        gelu_second_derivative(xt, "none"),
        gelu_second_derivative(xt, "tanh"),
        "second",
        r"$\varphi(x)\,(2 - x^2)$",
    )
    ax.axhline(0.0, color=OTHER, lw=0.8)
    finish_axes(ax, "second derivative (autograd of gelu_backward)", "x", r"d$^2$GELU/dx$^2$")
    return fig


FIGURES: dict[str, Callable[[], Figure]] = {
    "normal_distribution": figure_normal,
    "gelu": figure_gelu,
    "gelu_derivative": figure_derivative,
    "tanh_minus_exact": figure_tanh_error,
    "gelu_second_derivative": figure_second_derivative,
}


def write_figures(out_dir: str, dpi: int = 110, names: list[str] | None = None) -> list[str]:
    """Draws the figures (all, or ``names``) into ``out_dir`` as PNG; returns the paths."""
    require_matplotlib()
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for name in names or list(FIGURES):
        fig = FIGURES[name]()
        path = os.path.join(out_dir, f"{name}.png")
        fig.savefig(path, dpi=dpi)
        paths.append(path)
    return paths


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``plot`` options."""
    p.add_argument(
        "--out",
        default=DEFAULT_OUT,
        metavar="DIR",
        help=f"directory for the PNG files (default ./{DEFAULT_OUT})",
    )
    p.add_argument(
        "--dpi", type=int_range(20, 600), default=110, help="resolution, 20 to 600 (default 110)"
    )
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "--only",
        type=choice_list(list(FIGURES)),
        default=None,
        metavar="NAMES",
        help=f"comma-separated subset of: {', '.join(FIGURES)}",
    )
    which.add_argument(
        "--from-json",
        metavar="FILE",
        help="instead, draw the figure of a file written by accuracy --json "
        f"({result_plots.FILE_NAMES['accuracy']}) or bench --json "
        f"({result_plots.FILE_NAMES['bench']})",
    )


def command(args: argparse.Namespace) -> int:
    """Runs ``plot`` with parsed arguments."""
    if args.from_json:
        require_matplotlib()
        kind, fig = result_plots.figure_from_json(args.from_json)
        os.makedirs(args.out, exist_ok=True)
        path = os.path.join(args.out, result_plots.FILE_NAMES[kind])
        save_png(fig, path, args.dpi)
        print(path)
        return 0
    for path in write_figures(args.out, args.dpi, args.only):
        print(path)
    return 0
