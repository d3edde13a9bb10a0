"""What the figure modules share: ``plots.py`` (GELU drawn from the kernels)
and ``result_plots.py`` (the rows of ``accuracy`` and ``bench``).

Whether matplotlib is there, a figure on matplotlib's Agg canvas (pyplot
and its global backend are never touched), the labelling of a panel, the
colours of the modes and saving a PNG.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from .common import CliError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# Colours: exact and tanh GELU keep theirs in every figure.
EXACT, TANH, OTHER = "tab:blue", "tab:orange", "0.45"
MODE_COLOURS = {"none": EXACT, "tanh": TANH, "sigmoid": "tab:green"}
# How figures name a mode (the others by their own name).
MODE_NAMES = {"none": "exact"}


def matplotlib_missing() -> str | None:
    """Why figures cannot be drawn here, or None when matplotlib is importable."""
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        return "matplotlib is not installed (pip install matplotlib)"
    return None


def require_matplotlib() -> None:
    """Raises a one-line :class:`CliError` when matplotlib is missing."""
    missing = matplotlib_missing()
    if missing is not None:
        raise CliError(missing)


def new_figure(
    rows: int, cols: int, title: str, figsize: tuple[float, float]
) -> tuple[Figure, list[list[Axes]]]:
    """A figure of ``rows`` x ``cols`` panels (``figsize`` inches in all)
    on the Agg canvas, with its title; the panels row by row."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False)
    fig.suptitle(title, fontsize=13)
    return fig, [list(row) for row in axes]


def finish_axes(
    ax: Axes,
    title: str,
    xlabel: str,
    ylabel: str,
    legend: str | None = "best",
    fontsize: float = 9,
) -> None:
    """Titles, axis labels and a grid; a legend when the panel has two or
    more labelled artists (``legend``: its location, None for none)."""
    ax.set_title(title, fontsize=11)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.35)
    if legend is not None and len(ax.get_legend_handles_labels()[1]) > 1:
        ax.legend(loc=legend, fontsize=fontsize)


def save_png(fig: Figure, path: str, dpi: int = 110) -> None:
    """Writes ``fig`` to ``path`` as a PNG of 256 colours (a third of the
    bytes of full colour, the same to the eye)."""
    from PIL import Image  # a dependency of matplotlib

    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=dpi, format="png")
    buffer.seek(0)
    image = Image.open(buffer).convert("RGB").quantize(colors=256)
    try:
        image.save(path, format="PNG", optimize=True)
    except OSError as e:
        raise CliError(f"cannot write {path}: {e.strerror or e}") from None
