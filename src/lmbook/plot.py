"""One matplotlib style for the whole book, and small figure helpers.

Every chapter uses these so that figures look alike and can go straight
onto a slide. Nothing is applied at import time: call :func:`use_book_style`.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

from lmbook import validate

# Colour-blind-safe palette (Okabe and Ito), in the order the book uses.
PALETTE = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # green
    "#CC79A7",  # purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)

BOOK_STYLE = {
    "figure.figsize": (7.0, 4.2),
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "axes.prop_cycle": mpl.cycler(color=list(PALETTE)),
    "font.family": "DejaVu Sans",
}


def use_book_style() -> None:
    """Apply the book's style to every figure drawn after this call.

    In a notebook, figures are also shown as sharp PNGs (:func:`retina_png`); call it
    before drawing, since loading the notebook's backend closes open figures.
    """
    mpl.rcParams.update(BOOK_STYLE)
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: nothing is displayed
        return
    shell = get_ipython()
    if shell is not None:
        # Jupyter's inline backend installs its own PNG formatter when pyplot first
        # loads it (at the first figure), which would replace ours: load it now.
        plt.switch_backend(mpl.get_backend())
        shell.display_formatter.formatters["image/png"].for_type(plt.Figure, retina_png)


def retina_png(
    fig: plt.Figure, colors: int | None = None
) -> tuple[bytes, dict[str, int]]:
    """``fig`` as a PNG with twice the pixels it is shown at, and its display size.

    A screen with two pixels per point (most phones and laptops) shows a 1x figure
    soft; twice the pixels would make the file two to three times as large, so the
    image is reduced to a palette of ``colors`` colours, which a line plot or a
    colour map (256 shades) barely uses up. By default that is 256, or the figure's
    ``palette_colors`` attribute where it has one: :mod:`lmbook.diagrams` sets 32,
    enough for flat boxes, arrows and text, and a third smaller as a file. This is how
    notebooks display figures once :func:`use_book_style` has run; photographs use
    :func:`show_as_jpeg`.
    """
    if not isinstance(fig, plt.Figure):
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    if colors is None:  # a figure drawn in a few flat colours says how many it needs
        colors = getattr(fig, "palette_colors", 256)
    colors = validate.integer("colors", colors, minimum=2, maximum=256)
    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=2 * fig.dpi)
    with Image.open(buffer) as image:
        width, height = image.size
        paletted = image.convert("RGB").quantize(
            colors=colors, dither=Image.Dither.NONE
        )
    out = io.BytesIO()
    paletted.save(out, format="png", optimize=True)
    return out.getvalue(), {"width": width // 2, "height": height // 2}


def label_axes(ax: plt.Axes, *, title: str, xlabel: str, ylabel: str) -> plt.Axes:
    """Set the title and both axis labels; all three are required and must be non-empty.

    Put units in the labels, e.g. ``"training compute (FLOP, log scale)"``.
    """
    for name, text in (("title", title), ("xlabel", xlabel), ("ylabel", ylabel)):
        if not isinstance(text, str):
            raise TypeError(f"{name} must be a non-empty string, got {text!r}")
        if not text.strip():
            raise ValueError(f"{name} must be a non-empty string, got {text!r}")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return ax


def annotate_points(
    ax: plt.Axes,
    x: Sequence[float],
    y: Sequence[float],
    labels: Sequence[str],
    *,
    fontsize: float = 8,
    offset: tuple[float, float] = (4, 4),
) -> None:
    """Write ``labels[i]`` next to the point ``(x[i], y[i])``."""
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != 1 or x.shape != y.shape or len(labels) != len(x):
        raise ValueError(
            "x, y and labels must be one-dimensional and of equal length, got "
            f"{x.shape}, {y.shape} and {len(labels)} labels"
        )
    for xi, yi, text in zip(x, y, labels, strict=True):
        ax.annotate(
            str(text),
            (xi, yi),
            xytext=offset,
            textcoords="offset points",
            fontsize=fontsize,
        )


def show_as_jpeg(fig: plt.Figure, *, quality: int = 85) -> None:
    """Show ``fig`` in the notebook as a JPEG instead of a PNG, and close it.

    For figures that are mostly photographs (chapters 3 and 7): PNG stores them
    losslessly at several times the size, which makes the web page heavy; line plots
    stay PNG, where JPEG would blur their edges.
    """
    if not isinstance(fig, plt.Figure):
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    quality = validate.integer("quality", quality, minimum=1, maximum=95)
    from IPython.display import Image, display

    buffer = io.BytesIO()
    fig.savefig(buffer, format="jpeg", pil_kwargs={"quality": quality})
    plt.close(fig)
    display(Image(data=buffer.getvalue(), format="jpeg"))
