"""Diagrams of the networks in chapters 2 to 7, drawn with matplotlib.

Each public function draws one diagram and returns a ``matplotlib.figure.Figure``.
A notebook cell that ends with the call shows it: once
:func:`lmbook.plot.use_book_style` has run, Jupyter turns the figure into a sharp
palette PNG (:func:`lmbook.plot.retina_png`) stored inside the notebook, so the picture
needs no image file and shows the same on the website, in Jupyter and on Colab. The
figures are not registered with pyplot, so a cell shows each exactly once.

The symbols are those of the chapters: W, b, z, a, δ and ℓ of chapter 2; H, K, S and P
of chapter 3; the gates i, f, g, o and r, z, n of chapter 4; Q, K, V, d_k, E and h of
chapter 5; the tokens, tags and blocks of chapters 6 and 7. Colours follow
:data:`lmbook.plot.PALETTE`: blue for data and the forward pass, vermillion for
gradients, green for the additive (residual) paths and new heads, purple for attention
and special tokens, orange for what the figure points at; grey for what is frozen.
"""

from __future__ import annotations

import functools

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Rectangle
from matplotlib.path import Path

from lmbook import cnn, validate
from lmbook.plot import PALETTE

BLUE, VERMILLION, GREEN, PURPLE, ORANGE, SKY, YELLOW, BLACK = PALETTE
INK = "#222222"
GREY = "#8A8A8A"
FS = 10  # labels in boxes
SMALL = 8.5  # annotations, shapes
TITLE = 11
_STYLE = {
    "font.family": "DejaVu Sans",
    "mathtext.fontset": "dejavusans",
    "font.size": FS,
    "savefig.facecolor": "white",
}


# Drawing helpers ------------------------------------------------------------------


def _tint(color: str, amount: float = 0.18) -> tuple[float, float, float]:
    """``color`` mixed with white: ``amount`` 1 is the colour, 0 is white."""
    rgb = np.array(mpl.colors.to_rgb(color))
    return tuple(1 - amount * (1 - rgb))


def _canvas(width: float, height: float) -> tuple[Figure, mpl.axes.Axes]:
    """A figure whose data coordinates are inches, with the origin bottom left."""
    fig = Figure(figsize=(width, height), dpi=100, facecolor="white")
    # Flat colours and text need no more than 32 shades: plot.retina_png reads this,
    # and the diagram's PNG is a third smaller than with 256.
    fig.palette_colors = 32
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_axis_off()
    return fig, ax


def _text(ax, x, y, s, size=FS, color=INK, ha="center", va="center", **kw):
    return ax.text(x, y, s, fontsize=size, color=color, ha=ha, va=va, **kw)


def _box(ax, x, y, w, h, text="", color=BLUE, size=FS, fill=0.18, lw=1.3, ls="-"):
    """A rounded box centred on (x, y), tinted with ``color`` and outlined in it."""
    pad = min(0.06, w / 4, h / 4)
    ax.add_patch(
        FancyBboxPatch(
            (x - w / 2 + pad, y - h / 2 + pad),
            w - 2 * pad,
            h - 2 * pad,
            boxstyle=f"round,pad={pad}",
            facecolor=_tint(color, fill),
            edgecolor=color,
            linewidth=lw,
            linestyle=ls,
        )
    )
    if text:
        _text(ax, x, y, text, size=size)


def _op(ax, x, y, symbol, color=INK, r=0.13, size=FS):
    """A small circle with an operation symbol: +, ⊙, ×, σ."""
    ax.add_patch(
        Circle((x, y), r, facecolor="white", edgecolor=color, linewidth=1.3, zorder=3)
    )
    _text(ax, x, y, symbol, size=size, color=color, zorder=4)


def _arrow(ax, *points, color=INK, lw=1.3, ls="-", head=True, zorder=2):
    """A polyline through ``points`` with an arrowhead at the last one."""
    path = Path(np.array(points, dtype=float))
    ax.add_patch(
        FancyArrowPatch(
            path=path,
            arrowstyle="-|>,head_length=0.5,head_width=0.22" if head else "-",
            mutation_scale=14,
            color=color,
            linewidth=lw,
            linestyle=ls,
            shrinkA=0,
            shrinkB=0,
            joinstyle="miter",
            capstyle="butt",
            zorder=zorder,
        )
    )


def _line(ax, *points, color=INK, lw=1.3, ls="-", zorder=2):
    xs, ys = zip(*points, strict=True)
    ax.plot(xs, ys, color=color, lw=lw, ls=ls, zorder=zorder, solid_capstyle="butt")


def _dot(ax, x, y, color=INK):
    ax.add_patch(Circle((x, y), 0.035, color=color, zorder=4))


def _matrix(
    ax, x, y, rows, cols, cell, color, *, faces=None, values=None, size=7, lw=0.8
):
    """A grid of ``rows`` × ``cols`` cells with its top-left corner at (x, y).

    ``faces`` gives each cell's colour (default: ``color`` tinted), ``values`` an
    optional text per cell.
    """
    for r in range(rows):
        for c in range(cols):
            face = _tint(color, 0.25) if faces is None else faces[r][c]
            ax.add_patch(
                Rectangle(
                    (x + c * cell, y - (r + 1) * cell),
                    cell,
                    cell,
                    facecolor=face,
                    edgecolor="white",
                    linewidth=lw,
                )
            )
            if values is not None and values[r][c] != "":
                _text(
                    ax,
                    x + (c + 0.5) * cell,
                    y - (r + 0.5) * cell,
                    values[r][c],
                    size=size,
                )
    ax.add_patch(
        Rectangle(
            (x, y - rows * cell),
            cols * cell,
            rows * cell,
            fill=False,
            edgecolor=color,
            lw=1,
        )
    )


def _styled(draw):
    """Draw under the book's fonts whatever the caller's matplotlib settings."""

    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        with mpl.rc_context(_STYLE):
            return draw(*args, **kwargs)

    return wrapper


def _flag(name: str, value: object) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _choice(name: str, value: object, options: tuple[str, ...]) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {options}, got {value!r}")
    if value not in options:
        raise ValueError(f"{name} must be one of {options}, got {value!r}")
    return value


# Chapter 2 --------------------------------------------------------------------------


@_styled
def neuron_and_layer(inputs: int = 3, units: int = 4) -> Figure:
    """One neuron, z = wᵀx + b and a = f(z), beside a dense layer z = Wx + b (§2.1).

    ``inputs`` (1 to 5) and ``units`` (1 to 6) set the size of the layer; the matrix
    form below it shows the shapes m × n of W that follow.
    """
    n = validate.integer("inputs", inputs, minimum=1, maximum=5)
    m = validate.integer("units", units, minimum=1, maximum=6)
    fig, ax = _canvas(7.6, 3.75)
    ax.set_ylim(0.25, 4.0)  # drawn on 4 inches, of which the lowest quarter is empty

    # A neuron.
    _text(ax, 1.65, 3.75, "A neuron", size=TITLE, weight="bold")
    _text(ax, 1.65, 3.4, r"$z = \mathbf{w}^\top\mathbf{x} + b,\quad a = f(z)$")
    sx, sy = 1.75, 1.7
    ys = sy + (np.arange(n)[::-1] - (n - 1) / 2) * min(0.62, 2.3 / max(n - 1, 1))
    for j, yj in enumerate(ys, start=1):
        ax.add_patch(
            Circle((0.35, yj), 0.2, facecolor=_tint(BLUE), edgecolor=BLUE, lw=1.3)
        )
        _text(ax, 0.35, yj, f"$x_{j}$")
        start, end = np.array([0.55, yj]), np.array([sx, sy])
        direction = (end - start) / np.linalg.norm(end - start)
        _arrow(ax, start, end - 0.26 * direction, color=BLUE)
        mid = start + 0.42 * (end - start)
        _text(ax, mid[0], mid[1] + 0.13, f"$w_{j}$", size=SMALL, color=BLUE)
    _op(ax, sx, sy, r"$\Sigma$", r=0.26, size=12)
    _text(ax, sx, sy + 0.95, "$b$", color=BLUE)
    _arrow(ax, (sx, sy + 0.8), (sx, sy + 0.26), color=BLUE)
    _arrow(ax, (sx + 0.26, sy), (2.5, sy), color=BLUE)
    _text(ax, 2.26, sy + 0.15, "$z$", size=SMALL, color=BLUE)
    _box(ax, 2.75, sy, 0.5, 0.45, "$f$", color=GREEN)
    _arrow(ax, (3.0, sy), (3.45, sy), color=BLUE)
    _text(ax, 3.58, sy, "$a$")

    # A layer: the network drawing on top, its matrix form below.
    cx = 5.75
    _text(
        ax, cx, 3.75, f"A layer of {m} unit{'s' * (m > 1)}", size=TITLE, weight="bold"
    )
    _text(
        ax,
        cx,
        3.4,
        r"$\mathbf{z} = W\mathbf{x} + \mathbf{b},\quad \mathbf{a} = f(\mathbf{z})$",
    )
    top, bottom = 3.12, 1.55
    xi = top - (top - bottom) * (np.arange(n) + 0.5) / n
    ui = top - (top - bottom) * (np.arange(m) + 0.5) / m
    left, right = 4.6, 6.15
    for j, yj in enumerate(xi):
        for i, yi in enumerate(ui):
            first = i == 0
            _line(
                ax,
                (left + 0.13, yj),
                (right - 0.14, yi),
                color=BLUE if first else "#C8C8C8",
                lw=1.3 if first else 0.8,
                zorder=2 if first else 1,
            )
        ax.add_patch(
            Circle((left, yj), 0.13, facecolor=_tint(BLUE), edgecolor=BLUE, zorder=3)
        )
        _text(ax, left - 0.3, yj, f"$x_{j + 1}$", size=SMALL)
    for i, yi in enumerate(ui):
        ax.add_patch(
            Circle(
                (right, yi),
                0.12,
                facecolor=_tint(GREEN),
                edgecolor=GREEN,
                lw=1.2,
                zorder=3,
            )
        )
        _text(ax, right + 0.28, yi, f"$a_{i + 1}$", size=SMALL)
    _text(ax, right + 0.5, ui[0], "row 1 of $W$", size=7.5, color=BLUE, ha="left")

    cell = 0.15
    x, yc = 4.35, 0.85

    def vector(label, rows, cols, color, highlight_row=None):
        nonlocal x
        faces = [
            [_tint(color, 0.7 if r == highlight_row else 0.2) for _ in range(cols)]
            for r in range(rows)
        ]
        _matrix(ax, x, yc + rows * cell / 2, rows, cols, cell, color, faces=faces)
        _text(
            ax, x + cols * cell / 2, yc + max(m, n) * cell / 2 + 0.14, label, size=SMALL
        )
        _text(
            ax,
            x + cols * cell / 2,
            yc - max(m, n) * cell / 2 - 0.14,
            f"{rows}×{cols}",
            size=7.5,
        )
        x += cols * cell

    def symbol(s):
        nonlocal x
        _text(ax, x + 0.16, yc, s)
        x += 0.32

    vector(r"$\mathbf{z}$", m, 1, GREEN)
    symbol("=")
    vector("$W$", m, n, BLUE, highlight_row=0)
    x += 0.08
    vector(r"$\mathbf{x}$", n, 1, BLUE)
    symbol("+")
    vector(r"$\mathbf{b}$", m, 1, BLUE)
    _text(
        ax,
        6.65,
        yc,
        "$W$ is $m \\times n$:\nrow $i$ holds\nunit $i$'s weights",
        size=7.5,
        color=GREY,
        ha="left",
    )
    return fig


@_styled
def computational_graph() -> Figure:
    """A two-layer network and its loss as a computational graph (§2.5).

    Forward arrows (blue) carry the values a⁽⁰⁾ = x, z⁽¹⁾, a⁽¹⁾, z⁽²⁾ and ℓ;
    backward arrows (vermillion) carry the gradients of ℓ: the errors δ⁽ˡ⁾ and
    ∂ℓ/∂W⁽ˡ⁾ = δ⁽ˡ⁾a⁽ˡ⁻¹⁾ᵀ, ∂ℓ/∂b⁽ˡ⁾ = δ⁽ˡ⁾.
    """
    fig, ax = _canvas(7.8, 3.9)
    y = 2.0
    r = 0.2
    xs = [0.35, 1.25, 2.15, 3.05, 3.95, 4.85, 5.95, 7.25]
    names = ["x", "mul", "add", "f", "mul", "add", "ce", "loss"]
    half = {"x": 0.2, "mul": r, "add": r, "f": r, "ce": 0.48, "loss": 0.2}
    # Nodes.
    _box(ax, xs[0], y, 0.4, 0.4, r"$\mathbf{x}$", color=BLUE)
    for xn, name in zip(xs[1:6], names[1:6], strict=True):
        symbol = {"mul": r"$\times$", "add": "$+$", "f": "$f$"}[name]
        _op(ax, xn, y, symbol, r=r, size=11)
    _box(ax, xs[6], y, 0.96, 0.5, "softmax\n+ CE", color=PURPLE, size=SMALL)
    _box(ax, xs[7], y, 0.4, 0.4, r"$\ell$", color=PURPLE)

    # Forward (above) and backward (below) arrows between neighbours.
    forward = [
        "",
        r"$W^{(1)}\mathbf{x}$",
        r"$\mathbf{z}^{(1)}$",
        r"$\mathbf{a}^{(1)}$",
        r"$W^{(2)}\mathbf{a}^{(1)}$",
        r"$\mathbf{z}^{(2)}$",
        r"$\ell$",
    ]
    backward = [
        "",
        r"$\boldsymbol{\delta}^{(1)}$",
        r"$\boldsymbol{\delta}^{(1)}$",
        r"$W^{(2)\top}\boldsymbol{\delta}^{(2)}$",
        r"$\boldsymbol{\delta}^{(2)}$",
        r"$\boldsymbol{\delta}^{(2)}$",
        "$1$",
    ]
    for k in range(7):
        a = xs[k] + half[names[k]]
        b = xs[k + 1] - half[names[k + 1]]
        dy = 0.07
        # Shift the start and end points onto the circles' rims.
        _arrow(ax, (a, y + dy), (b, y + dy), color=BLUE)
        _text(ax, (a + b) / 2, y + 0.2, forward[k], size=SMALL, color=BLUE)
        if k == 0:
            _arrow(ax, (b, y - dy), (a, y - dy), color=GREY, ls=(0, (2, 2)), lw=1)
            _text(ax, (a + b) / 2, y - 0.3, "not\nneeded", size=7, color=GREY)
        else:
            _arrow(ax, (b, y - dy), (a, y - dy), color=VERMILLION)
            _text(ax, (a + b) / 2, y - 0.22, backward[k], size=SMALL, color=VERMILLION)

    # Parameters and the target above their nodes.
    params = [
        (1, r"$W^{(1)}$", r"$\boldsymbol{\delta}^{(1)}\mathbf{x}^\top$"),
        (2, r"$\mathbf{b}^{(1)}$", r"$\boldsymbol{\delta}^{(1)}$"),
        (4, r"$W^{(2)}$", r"$\boldsymbol{\delta}^{(2)}\mathbf{a}^{(1)\top}$"),
        (5, r"$\mathbf{b}^{(2)}$", r"$\boldsymbol{\delta}^{(2)}$"),
    ]
    top = 3.25
    for k, name, grad in params:
        xn = xs[k]
        _box(ax, xn, top, 0.55, 0.36, name, color=BLUE, size=FS)
        _arrow(ax, (xn - 0.07, top - 0.18), (xn - 0.07, y + r - 0.01), color=BLUE)
        _arrow(ax, (xn + 0.07, y + r - 0.01), (xn + 0.07, top - 0.18), color=VERMILLION)
        _text(
            ax,
            xn + 0.13,
            (top + y) / 2 + 0.05,
            grad,
            size=SMALL,
            color=VERMILLION,
            ha="left",
        )
    _box(ax, xs[6], top, 0.45, 0.36, r"$\mathbf{y}$", color=PURPLE)
    _arrow(ax, (xs[6], top - 0.18), (xs[6], y + 0.25), color=PURPLE)
    _text(ax, xs[6] + 0.3, top, "target", size=7.5, color=GREY, ha="left")

    # Legend and the formulas behind the labels.
    _arrow(ax, (0.3, 1.05), (0.75, 1.05), color=BLUE)
    _text(ax, 0.85, 1.05, "forward: values", size=SMALL, ha="left")
    _arrow(ax, (2.75, 1.05), (2.3, 1.05), color=VERMILLION)
    _text(
        ax, 2.85, 1.05, r"backward: gradients of the loss $\ell$", size=SMALL, ha="left"
    )
    _text(
        ax, 5.4, 1.05, r"$\times$ matrix product, $f$ activation", size=SMALL, ha="left"
    )
    _text(
        ax,
        3.9,
        0.55,
        r"$\boldsymbol{\delta}^{(2)} = \mathbf{p} - \mathbf{y}, \qquad "
        r"\boldsymbol{\delta}^{(1)} = "
        r"\left(W^{(2)\top}\boldsymbol{\delta}^{(2)}\right) "
        r"\odot f\,'(\mathbf{z}^{(1)})$",
    )
    _text(
        ax,
        3.9,
        0.18,
        r"$\partial\ell/\partial W^{(l)} = "
        r"\boldsymbol{\delta}^{(l)}\mathbf{a}^{(l-1)\top}, \qquad "
        r"\partial\ell/\partial \mathbf{b}^{(l)} = \boldsymbol{\delta}^{(l)}, \qquad "
        r"\mathbf{a}^{(0)} = \mathbf{x}$",
    )
    return fig


# Chapter 3 --------------------------------------------------------------------------


@_styled
def convolution_window(
    input_size: int = 5,
    kernel_size: int = 3,
    stride: int = 1,
    padding: int = 1,
    position: tuple[int, int] = (0, 0),
) -> Figure:
    """The kernel's window on the padded input and the output value it makes (§3.3).

    The input is ``input_size`` × ``input_size`` (H, at most 10) with ``padding`` (P,
    at most 3) rows and columns of zeros around it, shaded; the ``kernel_size`` (K)
    window sits where it computes output ``position`` (row, column), and a dashed
    outline shows its next position, ``stride`` (S, at most 4) columns further. The
    output size is ``lmbook.cnn.output_size``: ⌊(H + 2P − K)/S⌋ + 1.
    """
    h = validate.integer("input_size", input_size, minimum=1, maximum=10)
    k = validate.integer("kernel_size", kernel_size, minimum=1, maximum=7)
    s = validate.integer("stride", stride, minimum=1, maximum=4)
    p = validate.integer("padding", padding, minimum=0, maximum=3)
    out = cnn.output_size(h, k, s, p)
    if (
        not isinstance(position, tuple | list)
        or len(position) != 2
        or not all(validate.is_integer(v) for v in position)
    ):
        raise TypeError(
            f"position must be a pair (row, column) of integers, got {position!r}"
        )
    row, col = (int(v) for v in position)
    if not (0 <= row < out and 0 <= col < out):
        raise ValueError(
            f"position must be a pair (row, column) with entries in [0, {out - 1}] "
            "for an "
            f"output of {out}×{out}, got {tuple(position)!r}"
        )

    fig, ax = _canvas(7.6, 4.2)
    yc = 2.45
    padded = h + 2 * p
    cell = min(0.34, 2.7 / padded)
    top = yc + padded * cell / 2
    x0 = 0.2
    faces = [
        [
            _tint(GREY, 0.3) if not (p <= r < p + h and p <= c < p + h) else "white"
            for c in range(padded)
        ]
        for r in range(padded)
    ]
    values = [
        ["0" if faces[r][c] != "white" and cell >= 0.2 else "" for c in range(padded)]
        for r in range(padded)
    ]
    for r in range(padded):
        for c in range(padded):
            if faces[r][c] == "white":
                faces[r][c] = _tint(BLUE, 0.2)
    _matrix(
        ax,
        x0,
        top,
        padded,
        padded,
        cell,
        BLUE,
        faces=faces,
        values=values,
        size=7,
        lw=1.2,
    )
    # The input proper, inside its padding.
    ax.add_patch(
        Rectangle(
            (x0 + p * cell, top - (p + h) * cell),
            h * cell,
            h * cell,
            fill=False,
            edgecolor=BLUE,
            lw=1.3,
        )
    )
    win_x, win_y = x0 + col * s * cell, top - row * s * cell
    ax.add_patch(
        Rectangle(
            (win_x, win_y - k * cell),
            k * cell,
            k * cell,
            facecolor=(*mpl.colors.to_rgb(ORANGE), 0.3),
            edgecolor=ORANGE,
            lw=2.2,
            zorder=2.5,
        )
    )
    if (col + 1) < out:
        ax.add_patch(
            Rectangle(
                (win_x + s * cell, win_y - k * cell),
                k * cell,
                k * cell,
                fill=False,
                edgecolor=ORANGE,
                lw=1.3,
                ls=(0, (3, 2)),
                zorder=3,
            )
        )
    width = padded * cell
    below = yc - padded * cell / 2
    _text(
        ax,
        x0 + width / 2,
        below - 0.2,
        f"input $H$ = {h}, padding $P$ = {p}",
        size=SMALL,
    )
    _text(ax, x0 + width / 2, below - 0.42, "zeros shaded", size=7.5, color=GREY)

    # The kernel.
    kx = x0 + width + 0.75
    kcell = min(cell, 0.3)
    ktop = yc + k * kcell / 2
    _text(ax, x0 + width + 0.37, yc, r"$\star$", size=16)
    _matrix(
        ax,
        kx,
        ktop,
        k,
        k,
        kcell,
        GREEN,
        faces=[[_tint(GREEN, 0.35)] * k] * k,
        values=[
            [f"$w_{{{m}{n}}}$" if k <= 3 else "" for n in range(k)] for m in range(k)
        ],
        size=7,
        lw=1.2,
    )
    _text(ax, kx + k * kcell / 2, below - 0.2, f"kernel $K$ = {k}", size=SMALL)
    _text(
        ax, kx + k * kcell / 2, below - 0.42, f"stride $S$ = {s}", size=7.5, color=GREY
    )

    # The output.
    ox = kx + k * kcell + 0.75
    _text(ax, ox - 0.37, yc, "=", size=14)
    ocell = min(cell, (7.4 - ox) / out)
    otop = yc + out * ocell / 2
    ofaces = [
        [
            _tint(ORANGE, 0.8) if (r, c) == (row, col) else _tint(BLUE, 0.2)
            for c in range(out)
        ]
        for r in range(out)
    ]
    _matrix(ax, ox, otop, out, out, ocell, BLUE, faces=ofaces, lw=1.2)
    _text(ax, ox + out * ocell / 2, below - 0.2, f"output {out}×{out}", size=SMALL)
    _text(
        ax,
        ox + out * ocell / 2,
        below - 0.42,
        f"orange: value ({row}, {col})",
        size=7.5,
        color=GREY,
    )
    # From the window to its output value, over the kernel.
    start = (win_x + k * cell / 2, win_y + 0.02)
    end = (ox + (col + 0.5) * ocell, otop - row * ocell + 0.02)
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            connectionstyle="arc3,rad=-0.13",
            arrowstyle="-|>,head_length=0.5,head_width=0.22",
            mutation_scale=14,
            color=ORANGE,
            lw=1.5,
            zorder=5,
            shrinkA=2,
            shrinkB=2,
        )
    )
    _text(
        ax,
        3.8,
        0.25,
        r"$H_\mathrm{out} = \left\lfloor \frac{H + 2P - K}{S} \right\rfloor + 1 = "
        rf"\left\lfloor \frac{{{h} + {2 * p} - {k}}}{{{s}}} \right\rfloor + 1 = {out}$",
        size=FS,
    )
    return fig


@_styled
def im2col(input_size: int = 4, kernel_size: int = 3) -> Figure:
    """A convolution as one matrix product, Y = W_mat X_col (§3.4).

    Every K × K patch of the ``input_size`` × ``input_size`` input (one channel, stride
    1, no padding; the numbers are the pixels' positions) becomes a column of X_col;
    two kernels, flattened, are the rows of W_mat; each column of the product is one
    output position, and reshaping the rows gives the two output maps. At most 16
    patches and K ≤ 4 keep the picture legible.
    """
    n = validate.integer("input_size", input_size, minimum=2, maximum=6)
    k = validate.integer("kernel_size", kernel_size, minimum=1, maximum=4)
    if k > n:
        raise ValueError(f"kernel_size must be ≤ input_size = {n}, got {k}")
    out = n - k + 1
    if out * out > 16:
        raise ValueError(
            f"the picture holds at most 16 patches, but input_size {n} and "
            f"kernel_size {k} "
            f"give {out}×{out} = {out * out}; use a larger kernel or a smaller input"
        )
    kk, cols, c_out = k * k, out * out, 2
    fig, ax = _canvas(7.6, 3.4)
    cell = min(0.2, 2.0 / kk, 1.6 / cols)
    yc = 1.7
    marks = [(0, ORANGE), (1, SKY)] if cols > 1 else [(0, ORANGE)]

    # The input, its pixels numbered, with the first two patches outlined.
    icell = min(0.26, 1.1 / n)
    itop = yc + n * icell / 2
    numbers = [[str(r * n + c + 1) for c in range(n)] for r in range(n)]
    first = [
        [
            _tint(ORANGE, 0.55) if r < k and c < k else _tint(BLUE, 0.15)
            for c in range(n)
        ]
        for r in range(n)
    ]
    _matrix(ax, 0.15, itop, n, n, icell, BLUE, faces=first, values=numbers, size=7.5)
    if cols > 1:
        r, c = divmod(1, out)
        ax.add_patch(
            Rectangle(
                (0.15 + c * icell + 0.03, itop - (r + k) * icell + 0.03),
                k * icell - 0.06,
                k * icell - 0.06,
                fill=False,
                edgecolor=SKY,
                lw=2.2,
                zorder=3,
            )
        )
    _text(ax, 0.15 + n * icell / 2, itop + 0.2, "input", size=SMALL)
    _text(ax, 0.15 + n * icell / 2, yc - n * icell / 2 - 0.2, f"{n}×{n}", size=7.5)
    x = 0.15 + n * icell + 0.12
    _arrow(ax, (x, yc), (x + 0.45, yc), color=INK)
    _text(ax, x + 0.22, yc + 0.17, "im2col", size=7.5)
    x += 0.72

    def column_faces(rows, color_of_column):
        return [[color_of_column(c) for c in range(cols)] for _ in range(rows)]

    def patch_color(c, base):
        for index, color in marks:
            if c == index:
                return _tint(color, 0.55)
        return base

    # W_mat: one row per kernel.
    kernel_colors = [GREEN, PURPLE]
    wf = [[_tint(kernel_colors[o], 0.45)] * kk for o in range(c_out)]
    _matrix(ax, x, yc + c_out * cell / 2, c_out, kk, cell, GREEN, faces=wf)
    for o in range(c_out):
        _text(
            ax,
            x - 0.05,
            yc + c_out * cell / 2 - (o + 0.5) * cell,
            f"{o + 1}",
            size=7,
            ha="right",
            color=kernel_colors[o],
        )
    label_y = yc + kk * cell / 2 + 0.35
    shape_y = yc - kk * cell / 2 - 0.25
    _text(
        ax, x + kk * cell / 2, label_y, r"$W_\mathrm{mat}$: kernels as rows", size=SMALL
    )
    _text(
        ax,
        x + kk * cell / 2,
        shape_y,
        f"$C_\\mathrm{{out}} \\times K^2$ = {c_out}×{kk}",
        size=7.5,
    )
    x += kk * cell + 0.05
    _text(ax, x + 0.12, yc, r"$\times$", size=12)
    x += 0.24

    # X_col: one column per patch.
    values = [
        [str((c // out + m // k) * n + c % out + m % k + 1) for c in range(cols)]
        for m in range(kk)
    ]
    xf = column_faces(kk, lambda c: patch_color(c, _tint(BLUE, 0.15)))
    _matrix(
        ax,
        x,
        yc + kk * cell / 2,
        kk,
        cols,
        cell,
        BLUE,
        faces=xf,
        values=values if cell >= 0.2 else None,
        size=6.5,
    )
    _text(ax, x + cols * cell / 2, label_y, r"$X_\mathrm{col}$: patches", size=SMALL)
    _text(ax, x + cols * cell / 2, label_y - 0.2, "as columns", size=SMALL)
    _text(ax, x + cols * cell / 2, shape_y, f"{kk}×{cols}", size=7.5)
    x += cols * cell + 0.05
    _text(ax, x + 0.12, yc, "=", size=12)
    x += 0.24

    # Y: one row per kernel, one column per output position.
    yf = [
        [patch_color(c, _tint(kernel_colors[o], 0.3)) for c in range(cols)]
        for o in range(c_out)
    ]
    _matrix(ax, x, yc + c_out * cell / 2, c_out, cols, cell, GREEN, faces=yf)
    _text(ax, x + cols * cell / 2, label_y, "$Y$: a row", size=SMALL)
    _text(ax, x + cols * cell / 2, label_y - 0.2, "per kernel", size=SMALL)
    _text(ax, x + cols * cell / 2, shape_y, f"{c_out}×{cols}", size=7.5)
    x += cols * cell + 0.1
    _arrow(ax, (x, yc), (x + 0.45, yc), color=INK)
    _text(ax, x + 0.22, yc + 0.17, "reshape", size=7.5)
    x += 0.55

    # The output maps.
    ocell = min(0.2, 0.8 / out)
    for o in range(c_out):
        top = yc + 0.1 + out * ocell if o == 0 else yc - 0.1
        of = [
            [patch_color(r * out + c, _tint(kernel_colors[o], 0.3)) for c in range(out)]
            for r in range(out)
        ]
        _matrix(ax, x, top, out, out, ocell, kernel_colors[o], faces=of)
    _text(
        ax, x + out * ocell / 2, yc + 0.1 + out * ocell + 0.3, "output maps", size=SMALL
    )
    _text(
        ax,
        x + out * ocell / 2,
        yc - 0.1 - out * ocell - 0.17,
        f"{c_out}×{out}×{out}",
        size=7.5,
    )
    _text(
        ax,
        3.8,
        0.25,
        f"each column holds one patch's $K^2$ = {kk} pixels; the product is "
        f"{c_out}·{kk}·{cols} = {c_out * kk * cols} multiply-adds in one call",
        size=SMALL,
        color=GREY,
    )
    return fig


# Chapter 4 --------------------------------------------------------------------------


def _gate(ax, x, y, label, color=ORANGE, w=0.5):
    _box(
        ax,
        x,
        y,
        w,
        0.34,
        label,
        color=color,
        size=SMALL if len(label) > 3 else FS,
        fill=0.3,
    )


def _legend_lines(ax, x, y, lines, step=0.3, size=SMALL):
    for k, line in enumerate(lines):
        _text(ax, x, y - k * step, line, size=size, ha="left")


@_styled
def lstm_cell() -> Figure:
    """An LSTM cell with its gates i, f, o, the candidate g and the cell state c (§4.5).

    The cell state runs along the top (green): it is multiplied by the forget gate
    and added to, never passed through a weight matrix, which is why its gradient
    survives many steps. Gates are orange, elementwise products ⊙.
    """
    fig, ax = _canvas(7.6, 3.7)
    _box(ax, 2.65, 1.85, 4.3, 2.9, color=GREY, fill=0.08, lw=1.0)
    ytop, ybus, ygate = 2.95, 0.75, 1.55
    xf, xi, xg, xo, xadd, xout = 1.4, 2.1, 2.8, 3.55, 2.8, 4.2
    # The cell state: the additive path.
    _arrow(ax, (0.1, ytop), (xf - 0.13, ytop), color=GREEN, lw=2.6)
    _arrow(ax, (xf + 0.13, ytop), (xadd - 0.13, ytop), color=GREEN, lw=2.6)
    _arrow(ax, (xadd + 0.13, ytop), (5.2, ytop), color=GREEN, lw=2.6)
    _op(ax, xf, ytop, r"$\odot$", color=GREEN)
    _op(ax, xadd, ytop, "$+$", color=GREEN)
    _text(ax, 0.15, ytop + 0.2, "$c_{t-1}$", ha="left")
    _text(ax, 5.2, ytop + 0.2, "$c_t$", ha="right")
    _text(ax, 3.55, ytop + 0.22, "additive path", size=SMALL, color=GREEN)

    # The inputs: h_{t-1} from the left, x_t from below, one bus to every gate.
    _line(ax, (0.1, ybus), (xo, ybus), color=BLUE)
    _text(ax, 0.15, ybus + 0.17, "$h_{t-1}$", ha="left")
    _line(ax, (0.85, 0.05), (0.85, ybus), color=BLUE)
    _dot(ax, 0.85, ybus, BLUE)
    _text(ax, 0.95, 0.15, "$x_t$", ha="left")
    for x, label, name in [
        (xf, r"$\sigma$", "$f_t$"),
        (xi, r"$\sigma$", "$i_t$"),
        (xg, "tanh", "$g_t$"),
        (xo, r"$\sigma$", "$o_t$"),
    ]:
        _arrow(ax, (x, ybus), (x, ygate - 0.17), color=BLUE)
        _gate(ax, x, ygate, label, color=GREEN if name == "$g_t$" else ORANGE)
        _text(ax, x + 0.08, ygate + 0.32, name, size=SMALL, ha="left")
    for x in (xf, xi, xg):
        _dot(ax, x, ybus, BLUE)
    # Forget: f_t ⊙ c_{t-1}.
    _arrow(ax, (xf, ygate + 0.17), (xf, ytop - 0.13))
    # Write: i_t ⊙ g_t, added to the cell.
    ymul = 2.3
    _arrow(ax, (xi, ygate + 0.17), (xi, ymul), (xg - 0.13, ymul))
    _op(ax, xg, ymul, r"$\odot$")
    _arrow(ax, (xg, ygate + 0.17), (xg, ymul - 0.13))
    _arrow(ax, (xg, ymul + 0.13), (xg, ytop - 0.13))
    # Show: h_t = o_t ⊙ tanh(c_t).
    _dot(ax, xout, ytop, GREEN)
    _arrow(ax, (xout, ytop), (xout, 2.37), color=GREEN)
    ax.add_patch(
        mpl.patches.Ellipse(
            (xout, 2.2),
            0.56,
            0.32,
            facecolor=_tint(GREEN, 0.3),
            edgecolor=GREEN,
            lw=1.3,
        )
    )
    _text(ax, xout, 2.2, "tanh", size=SMALL)
    _arrow(ax, (xout, 2.04), (xout, ygate + 0.13))
    _op(ax, xout, ygate, r"$\odot$")
    _arrow(ax, (xo + 0.25, ygate), (xout - 0.13, ygate))
    _arrow(ax, (xout, ygate - 0.13), (xout, ybus), (5.2, ybus), color=BLUE)
    _text(ax, 5.2, ybus + 0.17, "$h_t$", ha="right")

    _text(ax, 5.5, 3.3, "PyTorch's LSTM:", size=SMALL, ha="left", weight="bold")
    _legend_lines(
        ax,
        5.55,
        2.95,
        [
            r"$f_t = \sigma(\cdot)$  forget",
            r"$i_t = \sigma(\cdot)$  input",
            r"$g_t = \tanh(\cdot)$  candidate",
            r"$o_t = \sigma(\cdot)$  output",
            r"$c_t = f_t \odot c_{t-1} + i_t \odot g_t$",
            r"$h_t = o_t \odot \tanh(c_t)$",
        ],
    )
    _text(
        ax,
        5.5,
        0.95,
        r"$(\cdot) = W_{x\ast}x_t + W_{h\ast}h_{t-1} + b_\ast$",
        size=SMALL,
        ha="left",
        color=GREY,
    )
    _text(
        ax,
        5.5,
        0.65,
        r"$\ast$ = i, f, g or o; $\odot$ elementwise",
        size=SMALL,
        ha="left",
        color=GREY,
    )
    return fig


@_styled
def gru_cell() -> Figure:
    """A GRU cell with its reset gate r, update gate z and candidate n (§4.5).

    The state runs along the top (green): h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t−1}, an
    additive path. As in PyTorch, the reset gate multiplies W_hn h_{t−1} + b_hn after
    the matrix product.
    """
    fig, ax = _canvas(7.6, 3.7)
    _box(ax, 2.55, 1.85, 4.1, 2.9, color=GREY, fill=0.08, lw=1.0)
    ytop, ybus = 3.0, 0.7
    xz, xr, xmul_r, xadd_n, xmix = 1.3, 2.05, 2.85, 3.85, 3.85
    # The state: the additive path.
    _arrow(ax, (0.1, ytop), (xz - 0.13, ytop), color=GREEN, lw=2.6)
    _arrow(ax, (xz + 0.13, ytop), (xmix - 0.13, ytop), color=GREEN, lw=2.6)
    _arrow(ax, (xmix + 0.13, ytop), (5.05, ytop), color=GREEN, lw=2.6)
    _op(ax, xz, ytop, r"$\odot$", color=GREEN)
    _op(ax, xmix, ytop, "$+$", color=GREEN)
    _text(ax, 0.15, ytop + 0.2, "$h_{t-1}$", ha="left")
    _text(ax, 5.05, ytop + 0.2, "$h_t$", ha="right")
    _text(ax, 2.6, ytop + 0.22, "additive path", size=SMALL, color=GREEN)
    # h_{t-1} also goes down to the bus, x_t comes in from below.
    _dot(ax, 0.6, ytop, GREEN)
    _line(ax, (0.6, ytop), (0.6, ybus), (xadd_n, ybus), color=BLUE)
    _line(ax, (0.9, 0.05), (0.9, ybus), color=BLUE)
    _dot(ax, 0.9, ybus, BLUE)
    _text(ax, 1.0, 0.15, "$x_t$", ha="left")
    ygate = 1.45
    for x in (xz, xr):
        _dot(ax, x, ybus, BLUE)
        _arrow(ax, (x, ybus), (x, ygate - 0.17), color=BLUE)
        _gate(ax, x, ygate, r"$\sigma$")
    # Update gate: z_t ⊙ h_{t-1} on the top line, (1 - z_t) ⊙ n_t beside it.
    _arrow(ax, (xz, ygate + 0.17), (xz, ytop - 0.13))
    _text(ax, xz - 0.08, ygate + 0.35, "$z_t$", size=SMALL, ha="right")
    ymix = 2.5
    _dot(ax, xz, ymix)
    _arrow(ax, (xz, ymix), (2.55 - 0.25, ymix))
    _box(ax, 2.55, ymix, 0.5, 0.3, "$1-$", color=GREY, size=SMALL, fill=0.15)
    _arrow(ax, (2.8, ymix), (xmix - 0.13, ymix))
    _text(ax, 3.3, ymix + 0.15, "$1 - z_t$", size=7.5)
    _op(ax, xmix, ymix, r"$\odot$")
    _arrow(ax, (xmix, ymix + 0.13), (xmix, ytop - 0.13))
    # Reset gate and candidate:
    # n_t = tanh(W_xn x_t + b_xn + r_t ⊙ (W_hn h_{t-1} + b_hn)).
    _arrow(ax, (xr + 0.25, ygate), (xmul_r - 0.13, ygate))
    _text(ax, xr + 0.45, ygate + 0.15, "$r_t$", size=SMALL)
    _dot(ax, xmul_r, ybus, BLUE)
    _arrow(ax, (xmul_r, ybus), (xmul_r, 0.85), color=BLUE)
    _arrow(ax, (xadd_n, ybus), (xadd_n, 0.85), color=BLUE)
    _box(
        ax,
        xmul_r,
        1.0,
        0.86,
        0.3,
        r"$W_{hn}h_{t-1}{+}b_{hn}$",
        color=BLUE,
        size=7,
        fill=0.15,
    )
    _arrow(ax, (xmul_r, 1.15), (xmul_r, ygate - 0.13))
    _op(ax, xmul_r, ygate, r"$\odot$")
    _box(
        ax,
        xadd_n,
        1.0,
        0.86,
        0.3,
        r"$W_{xn}x_t{+}b_{xn}$",
        color=BLUE,
        size=7,
        fill=0.15,
    )
    _arrow(ax, (xadd_n, 1.15), (xadd_n, ygate - 0.13))
    _arrow(ax, (xmul_r + 0.13, ygate), (xadd_n - 0.13, ygate))
    _op(ax, xadd_n, ygate, "$+$")
    _arrow(ax, (xadd_n, ygate + 0.13), (xadd_n, 1.95 - 0.17))
    _gate(ax, xadd_n, 1.95, "tanh", color=GREEN)
    _arrow(ax, (xadd_n, 1.95 + 0.17), (xadd_n, ymix - 0.13))
    _text(ax, xadd_n + 0.08, 2.3, "$n_t$", size=SMALL, ha="left")

    _text(ax, 5.35, 3.3, "PyTorch's GRU:", size=SMALL, ha="left", weight="bold")
    _legend_lines(
        ax,
        5.4,
        2.95,
        [
            r"$r_t = \sigma(\cdot)$  reset",
            r"$z_t = \sigma(\cdot)$  update",
            r"$n_t = \tanh(W_{xn}x_t + b_{xn}$",
            r"$\quad\ + r_t \odot (W_{hn}h_{t-1} + b_{hn}))$",
            r"$h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}$",
        ],
    )
    _text(
        ax,
        5.35,
        1.25,
        r"$(\cdot) = W_{x\ast}x_t + W_{h\ast}h_{t-1} + b_\ast$",
        size=SMALL,
        ha="left",
        color=GREY,
    )
    _text(
        ax,
        5.35,
        0.95,
        r"$\ast$ = r or z; $\odot$ elementwise",
        size=SMALL,
        ha="left",
        color=GREY,
    )
    return fig


@_styled
def seq2seq_attention(source_length: int = 4, step: int = 2) -> Figure:
    """An encoder–decoder RNN with additive (Bahdanau) attention at one decoding step
    (chapter 4, the section on sequence-to-sequence models).

    The encoder reads x_1 … x_T (``source_length`` T, 2 to 6) into states h_j; at
    decoding ``step`` i (1 to 3) the attention scores e_ij = vᵀ tanh(W s_{i−1} + U h_j)
    of the previous decoder state against every encoder state become weights
    α_ij = softmax_j(e_ij), and the context c_i = Σ_j α_ij h_j enters the decoder
    with the previous output y_{i−1} (Bahdanau et al., 2015). The weights drawn are
    made up, peaked where a reversing task would look.
    """
    t = validate.integer("source_length", source_length, minimum=2, maximum=6)
    i = validate.integer("step", step, minimum=1, maximum=3)
    steps = max(i + 1, 3)
    fig, ax = _canvas(7.6, 4.3)
    h, yb = 0.42, 1.15
    gap = min(0.8, 2.4 / (t - 1))
    w = min(0.5, gap - 0.2)
    ex = [0.95 + j * gap for j in range(t)]
    middle, half = (ex[0] + ex[-1]) / 2, max(ex[-1] - ex[0] + 0.6, 2.2) / 2
    left, right = middle - half, middle + half
    dx = [max(ex[-1] + 1.15, right + 0.8) + k * 0.9 for k in range(steps)]
    # Encoder.
    for j, x in enumerate(ex, start=1):
        _box(ax, x, yb, w, h, f"$h_{j}$", color=BLUE, fill=0.25)
        _arrow(ax, (x, 0.45), (x, yb - h / 2), color=INK)
        _text(ax, x, 0.3, f"$x_{j}$")
        if j > 1:
            _arrow(ax, (x - gap + w / 2, yb), (x - w / 2, yb))
    _text(
        ax, (ex[0] + ex[-1]) / 2, 0.05, "encoder: source tokens", size=SMALL, color=GREY
    )
    # Decoder: s_0 is the last encoder state.
    _arrow(ax, (ex[-1] + w / 2, yb), (dx[0] - 0.25, yb))
    _text(ax, (ex[-1] + dx[0]) / 2 - 0.1, yb + 0.14, "$s_0$", size=SMALL)
    previous = ["⟨bos⟩"] + [f"$y_{k}$" for k in range(1, steps)]
    for k, x in enumerate(dx, start=1):
        color = VERMILLION if k == i else BLUE
        _box(
            ax,
            x,
            yb,
            0.5,
            h,
            f"$s_{k}$",
            color=color,
            fill=0.3 if k == i else 0.12,
            lw=2 if k == i else 1.3,
        )
        _arrow(ax, (x, 0.45), (x, yb - h / 2))
        _text(ax, x, 0.3, previous[k - 1], size=SMALL)
        _arrow(ax, (x + 0.1, yb + h / 2), (x + 0.1, 1.85))
        _text(ax, x + 0.1, 2.0, f"$y_{k}$")
        if k > 1:
            _arrow(ax, (x - 0.9 + 0.25, yb), (x - 0.25, yb))
    _text(
        ax,
        (dx[0] + dx[-1]) / 2,
        0.05,
        "decoder: previous outputs",
        size=SMALL,
        color=GREY,
    )

    # Attention at step i: scores from s_{i-1} and each h_j, softmax, weighted sum.
    target = t - i  # where reversing the source would look (0-based)
    alpha = np.exp(-1.6 * np.abs(np.arange(t) - max(target, 0)))
    alpha /= alpha.sum()
    ys = 2.15
    _box(ax, (left + right) / 2, ys, right - left, 0.36, color=PURPLE, fill=0.15)
    _text(
        ax,
        (left + right) / 2,
        ys,
        rf"$e_{{{i}j}} = \mathbf{{v}}^\top\tanh(W s_{{{i - 1}}} "
        rf"+ U h_j)$",
        size=SMALL,
    )
    for x in ex:
        _arrow(ax, (x, yb + h / 2), (x, ys - 0.18), color=BLUE, lw=1)
    # s_{i-1} feeds the scores.
    source = dx[i - 2] if i > 1 else (right + dx[0]) / 2 + 0.1
    sy = yb + h / 2 if i > 1 else yb + 0.02
    _arrow(
        ax,
        (source - 0.1, sy),
        (source - 0.1, ys),
        (right, ys),
        color=VERMILLION,
        lw=1.2,
    )
    _text(
        ax,
        source - 0.17,
        1.72 if i > 1 else 1.55,
        f"$s_{i - 1}$",
        size=SMALL,
        color=VERMILLION,
        ha="right",
    )
    # The weights as bars; each weighs its h_j on the way to the sum.
    base, tall, yc = 2.55, 0.75, 3.75
    xc = right + 0.45
    for j, (x, a) in enumerate(zip(ex, alpha, strict=True), start=1):
        height = tall * a / alpha.max()
        _line(ax, (x, ys + 0.18), (x, base), color=PURPLE, lw=1)
        ax.add_patch(
            Rectangle(
                (x - 0.1, base),
                0.2,
                height,
                facecolor=_tint(PURPLE, 0.6),
                edgecolor=PURPLE,
                lw=1,
            )
        )
        _text(
            ax,
            x + 0.13,
            base + 0.1,
            rf"$\alpha_{{{i}{j}}}$",
            size=SMALL,
            color=PURPLE,
            ha="left",
        )
        _line(ax, (x, base + height), (x, yc), color=PURPLE, lw=1)
    _line(ax, (ex[0], yc), (xc - 0.15, yc), color=PURPLE, lw=1)
    _text(
        ax,
        ex[0] - 0.25,
        base + 0.3,
        "softmax\nover $j$",
        size=7.5,
        color=PURPLE,
        ha="right",
    )
    _op(ax, xc, yc, r"$\Sigma$", color=PURPLE, r=0.15)
    _text(ax, xc, yc + 0.33, rf"$c_{i} = \sum_j \alpha_{{{i}j}} h_j$", size=SMALL)
    target_x = dx[i - 1]
    _arrow(
        ax,
        (xc + 0.15, yc),
        (target_x - 0.1, yc),
        (target_x - 0.1, yb + h / 2),
        color=PURPLE,
        lw=1.6,
    )
    _text(
        ax,
        target_x - 0.17,
        2.75,
        f"context $c_{i}$",
        size=SMALL,
        color=PURPLE,
        ha="right",
    )
    _text(
        ax,
        dx[-1] + 0.3,
        yc + 0.35,
        rf"step {i}: $s_{i} = f(s_{{{i - 1}}}, y_{{{i - 1}}}, c_{i})$",
        size=SMALL,
        ha="right",
    )
    return fig


# Chapter 5 --------------------------------------------------------------------------


def _heat(values: np.ndarray, color: str) -> list[list]:
    """Cell colours from white (the smallest value) to ``color`` (the largest)."""
    low, high = float(values.min()), float(values.max())
    scaled = (values - low) / (high - low) if high > low else np.full_like(values, 0.5)
    return [[_tint(color, 0.12 + 0.7 * v) for v in row] for row in scaled]


@_styled
def attention_matrices(n: int = 4, d_k: int = 3, causal: bool = False) -> Figure:
    """Scaled dot-product attention as matrices: softmax(QKᵀ/√d_k) V (§5.2, §5.4).

    ``n`` positions (1 to 8) with queries and keys of width ``d_k`` (1 to 8) and values
    of the same width. The numbers are computed from random Q, K (seed 0): S is
    QKᵀ/√d_k, A its softmax by row, each row of A summing to 1. With ``causal`` the
    scores above the diagonal are −∞ and their weights 0 (shaded grey).
    """
    n = validate.integer("n", n, minimum=1, maximum=8)
    d = validate.integer("d_k", d_k, minimum=1, maximum=8)
    causal = _flag("causal", causal)
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((n, d)) for _ in range(3))
    scores = q @ k.T / np.sqrt(d)
    allowed = (
        np.tril(np.ones((n, n), dtype=bool)) if causal else np.ones((n, n), dtype=bool)
    )
    masked = np.where(allowed, scores, -np.inf)
    weights = np.exp(masked - masked.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    y = weights @ v

    fig, ax = _canvas(7.6, 2.9)
    gaps = 5 * 0.42 + 0.3
    cell = min(0.34, (7.4 - gaps) / (3 * d + 3 * n))
    yc = 1.5
    show = cell >= 0.22
    grey = _tint(GREY, 0.35)
    x = 0.15

    def block(name, shape, faces, rows, cols, color, values=None):
        nonlocal x
        _matrix(
            ax,
            x,
            yc + rows * cell / 2,
            rows,
            cols,
            cell,
            color,
            faces=faces,
            values=values if show else None,
            size=6,
        )
        _text(
            ax, x + cols * cell / 2, yc + max(n, d) * cell / 2 + 0.3, name, size=SMALL
        )
        _text(
            ax,
            x + cols * cell / 2,
            yc - max(n, d) * cell / 2 - 0.2,
            shape,
            size=7.5,
            color=GREY,
        )
        x += cols * cell

    def between(symbol, label=""):
        nonlocal x
        if label:
            _arrow(ax, (x + 0.06, yc), (x + 0.42, yc))
            _text(ax, x + 0.24, yc + 0.2, label, size=7.5)
            x += 0.48
        else:
            _text(ax, x + 0.15, yc, symbol, size=12)
            x += 0.3

    block("$Q$", rf"$n \times d_k$ = {n}×{d}", _heat(q, BLUE), n, d, BLUE)
    between(r"$\times$")
    block(r"$K^\top$", rf"$d_k \times n$ = {d}×{n}", _heat(k.T, GREEN), d, n, GREEN)
    between("", r"$\div\sqrt{d_k}$")
    sf = _heat(np.where(allowed, scores, scores.min()), PURPLE)
    sv = [
        [f"{scores[r, c]:.1f}" if allowed[r, c] else r"$-\infty$" for c in range(n)]
        for r in range(n)
    ]
    for r in range(n):
        for c in range(n):
            if not allowed[r, c]:
                sf[r][c] = grey
    block(r"$S = QK^\top/\sqrt{d_k}$", rf"$n \times n$ = {n}×{n}", sf, n, n, PURPLE, sv)
    between("", "softmax\nby row")
    wf = _heat(weights, PURPLE)
    wv = [
        [f"{weights[r, c]:.2f}".lstrip("0") if allowed[r, c] else "0" for c in range(n)]
        for r in range(n)
    ]
    for r in range(n):
        for c in range(n):
            if not allowed[r, c]:
                wf[r][c] = grey
    block("$A$: rows sum to 1", rf"$n \times n$ = {n}×{n}", wf, n, n, PURPLE, wv)
    between(r"$\times$")
    block("$V$", rf"$n \times d_v$ = {n}×{d}", _heat(v, ORANGE), n, d, ORANGE)
    between("=")
    block("$Y = AV$", rf"$n \times d_v$ = {n}×{d}", _heat(y, ORANGE), n, d, ORANGE)
    note = (
        "causal mask: query $i$ sees keys $j \\leq i$; masked scores are $-\\infty$, "
        "their weights 0"
        if causal
        else "row $i$ of $A$: how much query $i$ takes from each key; "
        "row $i$ of $Y$: that mix of the rows of $V$"
    )
    _text(ax, 3.8, 0.2, note, size=SMALL, color=GREY)
    return fig


HEAD_COLORS = (BLUE, VERMILLION, GREEN, PURPLE, ORANGE, SKY, YELLOW, GREY)


@_styled
def multi_head_attention(heads: int = 4) -> Figure:
    """Multi-head attention: h heads of width E/h, concatenated, then W^O (§5.5).

    ``heads`` h (1 to 8). Each head j projects the input X (n × E) to
    XW^Q_j, XW^K_j, XW^V_j of width E/h and attends; the h outputs side by side make
    an n × E matrix that W^O (E × E) mixes.
    """
    h = validate.integer("heads", heads, minimum=1, maximum=8)
    fig, ax = _canvas(7.6, 3.6)
    yc = 1.85
    row = min(0.6, 2.9 / h)
    ys = yc + (np.arange(h)[::-1] - (h - 1) / 2) * row
    bh = min(0.4, row - 0.1)
    # The input.
    _box(ax, 0.45, yc, 0.5, 1.2, "$X$", color=BLUE, fill=0.25)
    _text(ax, 0.45, yc - 0.8, r"$n \times E$", size=7.5, color=GREY)
    xp, xa, xh = 2.0, 3.7, 4.65
    for j, y in enumerate(ys, start=1):
        color = HEAD_COLORS[j - 1]
        _arrow(ax, (0.7, yc + (y - yc) * 0.4), (xp - 0.8, y), color=GREY, lw=1)
        _box(
            ax,
            xp,
            y,
            1.6,
            bh,
            rf"$XW^Q_{j},\ XW^K_{j},\ XW^V_{j}$",
            color=color,
            size=7.5 if h > 4 else SMALL,
            fill=0.15,
        )
        _arrow(ax, (xp + 0.8, y), (xa - 0.45, y), color=GREY, lw=1)
        _box(ax, xa, y, 0.9, bh, "attention", color=PURPLE, size=7.5, fill=0.15)
        _arrow(ax, (xa + 0.45, y), (xh - 0.2, y), color=GREY, lw=1)
        ax.add_patch(
            Rectangle(
                (xh - 0.2, y - bh / 2),
                0.4,
                bh,
                facecolor=_tint(color, 0.6),
                edgecolor=color,
            )
        )
        _text(ax, xh, y, f"{j}", size=7.5)
    top = ys[0] + bh / 2
    _text(ax, xp, top + 0.22, r"projections, each $n \times E/h$", size=7.5, color=GREY)
    _text(ax, xa, top + 0.22, r"softmax$(QK^\top/\sqrt{d_k})V$", size=7.5, color=GREY)
    _text(ax, xh, top + 0.22, "head$_j$", size=7.5, color=GREY)
    # Concatenate: the heads side by side.
    xc, width = 5.35, 0.9
    _text(ax, xc + width / 2, yc + 0.85, "concatenate", size=7.5, color=GREY)
    for j in range(h):
        x0 = xc + j * width / h
        ax.add_patch(
            Rectangle(
                (x0, yc - 0.6),
                width / h,
                1.2,
                facecolor=_tint(HEAD_COLORS[j], 0.6),
                edgecolor="white",
                lw=0.8,
            )
        )
        _line(
            ax,
            (xh + 0.2, ys[j]),
            (x0 + width / (2 * h), yc + 0.6 if ys[j] > yc else yc - 0.6)
            if abs(ys[j] - yc) > 0.6
            else (xc, ys[j]),
            color=GREY,
            lw=0.8,
        )
    ax.add_patch(Rectangle((xc, yc - 0.6), width, 1.2, fill=False, edgecolor=INK, lw=1))
    _text(ax, xc + width / 2, yc - 0.8, r"$n \times E$", size=7.5, color=GREY)
    _arrow(ax, (xc + width + 0.05, yc), (6.8, yc))
    _text(ax, 6.52, yc + 0.18, "$W^O$", size=SMALL)
    _box(ax, 7.15, yc, 0.6, 1.2, "MHA\n$(X)$", color=BLUE, size=SMALL, fill=0.25)
    _text(ax, 7.15, yc - 0.8, r"$n \times E$", size=7.5, color=GREY)
    _text(
        ax,
        3.8,
        0.2,
        rf"$h$ = {h} head{'s' * (h > 1)} of width $E/h$ cost about as much as one "
        "head of width "
        "$E$; with biases the layer has $4E^2 + 4E$ parameters",
        size=7.5,
        color=GREY,
    )
    return fig


def _sublayer(ax, xs, y, label, color, norm, side=1, ln="LN"):
    """One residual sub-layer on a vertical stream at ``xs``, starting at height ``y``.

    Pre-LN: x + f(LN(x)); post-LN: LN(x + f(x)). The branch leaves to the right
    (``side`` 1) or the left (−1). Returns the height where the stream goes on and the
    centre of the sub-layer's box.
    """
    xb = xs + side * 1.3
    wide, tall = 1.7, 0.36
    _dot(ax, xs, y, GREEN)
    if norm == "pre":
        _arrow(ax, (xs, y), (xb, y), (xb, y + 0.1))
        _box(ax, xb, y + 0.21, 0.6, 0.22, ln, color=GREY, size=7.5, fill=0.15)
        _arrow(ax, (xb, y + 0.32), (xb, y + 0.5))
        centre = (xb, y + 0.5 + tall / 2)
        _box(ax, *centre, wide, tall, label, color=color, size=SMALL, fill=0.2)
        join = y + 0.5 + tall + 0.15
    else:
        _arrow(ax, (xs, y), (xb, y), (xb, y + 0.12))
        centre = (xb, y + 0.12 + tall / 2)
        _box(ax, *centre, wide, tall, label, color=color, size=SMALL, fill=0.2)
        join = y + 0.12 + tall + 0.15
    _arrow(ax, (xb, centre[1] + tall / 2), (xb, join), (xs + side * 0.13, join))
    _arrow(ax, (xs, y), (xs, join - 0.13), color=GREEN, lw=2.4)
    _op(ax, xs, join, "$+$", color=GREEN)
    if norm == "post":
        _line(ax, (xs, join + 0.13), (xs, join + 0.23), color=GREEN, lw=2.4)
        _box(ax, xs, join + 0.34, 0.6, 0.22, ln, color=GREY, size=7.5, fill=0.15)
        _line(ax, (xs, join + 0.45), (xs, join + 0.55), color=GREEN, lw=2.4)
        return join + 0.55, centre
    _line(ax, (xs, join + 0.13), (xs, join + 0.23), color=GREEN, lw=2.4)
    return join + 0.23, centre


def _stream(ax, xs, y0, y1, head=False):
    _arrow(ax, (xs, y0), (xs, y1), color=GREEN, lw=2.4, head=head)


@_styled
def transformer_block(norm: str = "pre") -> Figure:
    """The Transformer block of chapter 5, with its two residual sub-layers (§5.7).

    ``norm="pre"`` (chapter 5's GPT, GPT-2, Llama): x ← x + MHA(LN₁(x)), then
    x ← x + FFN(LN₂(x)); the residual stream (green) runs straight through.
    ``norm="post"`` (the original Transformer): x ← LN(x + f(x)).
    """
    norm = _choice("norm", norm, ("pre", "post"))
    fig, ax = _canvas(7.6, 4.4)
    xs = 1.2
    _text(ax, xs, 0.15, r"$x$: $n \times E$", size=SMALL)
    _stream(ax, xs, 0.3, 0.75)
    y, _ = _sublayer(
        ax,
        xs,
        0.75,
        "masked multi-head\nself-attention",
        PURPLE,
        norm,
        ln="LN$_1$" if norm == "pre" else "LN",
    )
    y, _ = _sublayer(
        ax,
        xs,
        y,
        r"FFN: $E \to 4E \to E$",
        ORANGE,
        norm,
        ln="LN$_2$" if norm == "pre" else "LN",
    )
    _stream(ax, xs, y, y + 0.25, head=True)
    _text(ax, xs, y + 0.38, r"$x$: $n \times E$", size=SMALL)
    frame_top = y + 0.05
    ax.add_patch(
        FancyBboxPatch(
            (0.45, 0.6),
            3.55,
            frame_top - 0.6,
            boxstyle="round,pad=0.05",
            fill=False,
            edgecolor=GREY,
            ls=(0, (4, 3)),
            lw=1,
        )
    )
    _text(ax, 0.3, (frame_top + 0.6) / 2, r"$\times N$", size=FS, ha="right")
    _text(ax, xs - 0.15, 1.05, "residual\nstream", size=7.5, color=GREEN, ha="right")
    if norm == "pre":
        lines = [
            r"$x \leftarrow x + \mathrm{MHA}(\mathrm{LN}_1(x))$",
            r"$x \leftarrow x + \mathrm{FFN}(\mathrm{LN}_2(x))$",
        ]
        heading = "pre-LN (chapter 5's GPT):"
    else:
        lines = [
            r"$x \leftarrow \mathrm{LN}(x + \mathrm{MHA}(x))$",
            r"$x \leftarrow \mathrm{LN}(x + \mathrm{FFN}(x))$",
        ]
        heading = "post-LN (the original Transformer):"
    _text(ax, 4.4, 3.6, heading, size=SMALL, ha="left", weight="bold")
    _legend_lines(
        ax,
        4.45,
        3.2,
        [
            *lines,
            r"$\mathrm{FFN}(x) = W_2\,\mathrm{GELU}(W_1x + b_1) + b_2$",
            r"$W_1$: $4E \times E$,  $W_2$: $E \times 4E$",
            r"parameters: $12E^2 + 13E$ per block",
        ],
        step=0.36,
    )
    _text(
        ax,
        4.4,
        0.95,
        "attention mixes positions;\nthe FFN treats each on its own",
        size=7.5,
        color=GREY,
        ha="left",
    )
    return fig


@_styled
def encoder_decoder(norm: str = "pre") -> Figure:
    """The encoder–decoder Transformer: N encoder and N decoder blocks, cross-attention
    (chapter 5, the section on the encoder–decoder Transformer).

    The encoder (left) reads the source with self-attention and an FFN per block; the
    decoder (right) adds, between its masked self-attention and its FFN, a
    cross-attention whose queries come from the decoder and whose keys and values come
    from the encoder's output (Vaswani et al., 2017). ``norm`` places the layer
    normalisation: ``"pre"`` as chapter 5's block, with a final LN on each stack, or
    ``"post"`` as the original paper.
    """
    norm = _choice("norm", norm, ("pre", "post"))
    fig, ax = _canvas(7.6, 6.45)
    xe, xd = 0.75, 6.65

    def bottom(xs, side, text):
        _text(
            ax,
            xs - side * 0.3,
            0.12,
            text,
            size=SMALL,
            ha="left" if side > 0 else "right",
        )
        _arrow(ax, (xs, 0.25), (xs, 0.45))
        _box(ax, xs, 0.62, 1.05, 0.32, "embedding", color=BLUE, size=SMALL, fill=0.2)
        _arrow(ax, (xs, 0.78), (xs, 1.0))
        _op(ax, xs, 1.13, "$+$")
        _arrow(ax, (xs + side * 0.55, 1.13), (xs + side * 0.13, 1.13))
        _text(
            ax,
            xs + side * 0.62,
            1.13,
            "positional\nencoding",
            size=7.5,
            color=GREY,
            ha="left" if side > 0 else "right",
        )
        _stream(ax, xs, 1.26, 1.45)

    def frame(xs, side, y0, y1):
        x0 = xs - 0.3 if side > 0 else xs - 2.2
        ax.add_patch(
            FancyBboxPatch(
                (x0, y0),
                2.5,
                y1 - y0,
                boxstyle="round,pad=0.05",
                fill=False,
                edgecolor=GREY,
                ls=(0, (4, 3)),
                lw=1,
            )
        )
        _text(
            ax,
            x0 - 0.08 if side > 0 else x0 + 2.58,
            (y0 + y1) / 2,
            r"$N\times$",
            ha="right" if side > 0 else "left",
        )

    # Encoder.
    bottom(xe, 1, "source tokens")
    y, _ = _sublayer(ax, xe, 1.45, "multi-head\nself-attention", PURPLE, norm)
    y, _ = _sublayer(ax, xe, y, "FFN", ORANGE, norm)
    frame(xe, 1, 1.35, y - 0.05)
    if norm == "pre":
        _line(ax, (xe, y), (xe, y + 0.1), color=GREEN, lw=2.4)
        _box(ax, xe, y + 0.21, 0.6, 0.22, "LN", color=GREY, size=7.5, fill=0.15)
        y += 0.32
    enc_top = y + 0.15
    _line(ax, (xe, y), (xe, enc_top), color=GREEN, lw=2.4)
    _text(
        ax,
        xe,
        enc_top + 0.42,
        "encoder output\n(one vector per\nsource token)",
        size=7.5,
        color=GREY,
        va="bottom",
    )

    # Decoder.
    bottom(xd, -1, "target tokens, shifted right")
    y, _ = _sublayer(
        ax, xd, 1.45, "masked multi-head\nself-attention", PURPLE, norm, side=-1
    )
    y, cross = _sublayer(
        ax, xd, y, "multi-head\ncross-attention", VERMILLION, norm, side=-1
    )
    y, _ = _sublayer(ax, xd, y, "FFN", ORANGE, norm, side=-1)
    frame(xd, -1, 1.35, y - 0.05)
    if norm == "pre":
        _line(ax, (xd, y), (xd, y + 0.1), color=GREEN, lw=2.4)
        _box(ax, xd, y + 0.21, 0.6, 0.22, "LN", color=GREY, size=7.5, fill=0.15)
        y += 0.32
    _arrow(ax, (xd, y), (xd, y + 0.18))
    _box(
        ax, xd, y + 0.34, 1.4, 0.3, "linear + softmax", color=BLUE, size=SMALL, fill=0.2
    )
    _arrow(ax, (xd, y + 0.49), (xd, y + 0.68))
    _text(ax, xd + 0.3, y + 0.8, "next-token probabilities", size=SMALL, ha="right")

    # Cross-attention: keys and values from the encoder, queries from the decoder.
    xcross = cross[0] - 0.85
    _arrow(
        ax,
        (xe, enc_top),
        (3.6, enc_top),
        (3.6, cross[1]),
        (xcross, cross[1]),
        color=VERMILLION,
        lw=1.6,
    )
    _text(ax, 3.68, cross[1] + 0.15, "$K, V$", size=SMALL, color=VERMILLION, ha="left")
    _text(
        ax,
        cross[0] + 0.1,
        cross[1] - 0.27,
        "$Q$",
        size=7.5,
        color=VERMILLION,
        ha="left",
    )
    _text(ax, 2.35, 0.12, "encoder", size=FS, weight="bold")
    _text(ax, 4.75, 0.12, "decoder", size=FS, weight="bold")
    return fig


@_styled
def residual_block(downsample: bool = False) -> Figure:
    """A ResNet basic block: two 3×3 convolutions with batch norm, plus a shortcut
    (chapter 3, the section on residual networks).

    The block computes ReLU(F(x) + x), F being conv → BN → ReLU → conv → BN (He et al.,
    2016). With ``downsample`` the first convolution has stride 2 and doubles the
    channels, so the shortcut becomes a 1×1 convolution with stride 2 and batch norm,
    to match the shapes.
    """
    down = _flag("downsample", downsample)
    fig, ax = _canvas(7.6, 2.6)
    y, top = 0.95, 1.95
    out_shape = (
        r"$2C \times \frac{H}{2} \times \frac{W}{2}$"
        if down
        else r"$C \times H \times W$"
    )
    _text(ax, 0.3, y, "$x$")
    _line(ax, (0.45, y), (0.7, y))
    _dot(ax, 0.7, y)
    stages = [
        (1.4, 0.8, "conv 3×3\nstride 2" if down else "conv 3×3", BLUE),
        (2.3, 0.5, "BN", GREY),
        (3.05, 0.6, "ReLU", GREEN),
        (3.9, 0.8, "conv 3×3", BLUE),
        (4.8, 0.5, "BN", GREY),
    ]
    previous = 0.7
    for x, w, label, color in stages:
        _arrow(ax, (previous, y), (x - w / 2, y))
        _box(ax, x, y, w, 0.5, label, color=color, size=SMALL, fill=0.2)
        previous = x + w / 2
    xadd = 5.5
    _arrow(ax, (previous, y), (xadd - 0.13, y))
    _op(ax, xadd, y, "$+$", color=GREEN)
    _arrow(ax, (xadd + 0.13, y), (5.95, y))
    _box(ax, 6.23, y, 0.56, 0.5, "ReLU", color=GREEN, size=SMALL, fill=0.2)
    _arrow(ax, (6.51, y), (6.85, y))
    _text(ax, 6.9, y, "out", ha="left", size=SMALL)
    _text(ax, 2.97, y - 0.5, r"$F(x)$: the residual, learned", size=SMALL, color=BLUE)
    _text(ax, 6.55, y - 0.5, out_shape, size=SMALL)
    _text(ax, 0.55, y - 0.5, r"$C \times H \times W$", size=SMALL)
    # The shortcut.
    if down:
        _line(ax, (0.7, y), (0.7, top), (2.35, top), color=GREEN, lw=2.4)
        _box(
            ax,
            2.97,
            top,
            1.25,
            0.42,
            "conv 1×1, stride 2\n+ BN",
            color=GREEN,
            size=7.5,
            fill=0.2,
        )
        _line(ax, (3.6, top), (xadd, top), color=GREEN, lw=2.4)
        label = "shortcut: a 1×1 convolution matches the shape"
    else:
        _line(ax, (0.7, y), (0.7, top), (xadd, top), color=GREEN, lw=2.4)
        label = "shortcut: the identity, $x$ unchanged"
    _arrow(ax, (xadd, top), (xadd, y + 0.13), color=GREEN, lw=2.4)
    _text(ax, 2.97, top + 0.38, label, size=SMALL, color=GREEN)
    _text(ax, 6.3, top, r"$\mathrm{ReLU}(F(x) + x)$", size=SMALL)
    return fig


# Chapters 6 and 7 -------------------------------------------------------------------


def _tokens(ax, xs, y, labels, colors, w=0.64, h=0.34, size=SMALL):
    """A row of boxes, one per token, centred at ``xs`` on height ``y``."""
    for x, label, color in zip(xs, labels, colors, strict=True):
        _box(ax, x, y, w, h, label, color=color, size=size)


def _row_labels(ax, x, rows, size=SMALL):
    """Grey labels at the left edge, one per ``(y, text)``."""
    for y, label in rows:
        _text(ax, x, y, label, size=size, color=GREY, ha="left")


def _down(ax, xs, y0, y1, color=GREY):
    for x in xs:
        _arrow(ax, (x, y0), (x, y1), color=color, lw=1)


def _vector(ax, x, y, values, color, cell=0.12, outline=None):
    """A row vector of ``len(values)`` cells centred on (x, y), shaded by value."""
    _matrix(
        ax,
        x - len(values) * cell / 2,
        y + cell / 2,
        1,
        len(values),
        cell,
        outline or color,
        faces=_heat(np.asarray(values)[None], color),
        lw=0.6,
    )


def _bar(ax, x, y, w, h, color):
    """A flat rectangle from ``x`` to ``x + w``, centred on height ``y``."""
    ax.add_patch(
        Rectangle(
            (x, y - h / 2), w, h, facecolor=_tint(color, 0.45), edgecolor=color, lw=0.9
        )
    )


def _encoder_bar(ax, x0, x1, y, text, h=0.5, color=BLUE, stack=3):
    """A wide box drawn as a stack of ``stack`` layers, the front one labelled."""
    for k in range(stack - 1, 0, -1):
        _box(ax, (x0 + x1) / 2 + 0.05 * k, y + 0.05 * k, x1 - x0, h, color=color)
    _box(ax, (x0 + x1) / 2, y, x1 - x0, h, text, color=color, size=SMALL, fill=0.25)


TOKENS_06 = ("[CLS]", "an", "un", "##for", "##get", "##table", "film", "[SEP]")
TOKEN_IDS_06 = (101, 2019, 4895, 29278, 18150, 10880, 2143, 102)


def _token_color(token: str) -> str:
    return PURPLE if token.startswith("[") else ORANGE if token[:2] == "##" else BLUE


@_styled
def tokenisation_to_encoder(layers: int = 6, segments: bool = True) -> Figure:
    """From a sentence to contextual vectors: WordPiece, ids, embeddings, encoder
    (§6.2, §6.3).

    The tokenizer of bert-base-uncased (all-MiniLM-L6-v2 shares it) splits "an
    unforgettable film" into [CLS], word pieces (## marks a piece that continues a
    word) and [SEP]; each id picks a row of the token embedding table, to which the
    position embedding (and, with ``segments``, the segment embedding of sentence A)
    is added. ``layers`` encoder layers (1 to 24) then give one contextual vector per
    token; the one at [CLS] is what a classifier head reads. The embedding values
    drawn are made up.
    """
    n_layers = validate.integer("layers", layers, minimum=1, maximum=24)
    segments = _flag("segments", segments)
    n = len(TOKENS_06)
    xs = 2.3 + 0.7 * np.arange(n)
    rng = np.random.default_rng(0)
    embeddings = [("token embedding $E[\\mathrm{id}]$", BLUE)]
    embeddings.append(("+ position embedding $P[i]$", GREEN))
    if segments:
        embeddings.append(("+ segment embedding $S[A]$", PURPLE))
    top = 3.75 + 0.36 * len(embeddings)
    fig, ax = _canvas(7.6, top + 0.3)
    y_tok, y_ids = top - 0.6, top - 1.1
    ys = y_ids - 0.5 - 0.36 * np.arange(len(embeddings) + 1)
    y_sum = ys[-1]
    y_enc, y_out = y_sum - 0.8, y_sum - 1.6
    _text(ax, xs.mean(), top, '"an unforgettable film"', size=FS)
    _arrow(ax, (xs.mean(), top - 0.15), (xs.mean(), y_tok + 0.2), color=GREY, lw=1)
    _tokens(ax, xs, y_tok, TOKENS_06, [_token_color(t) for t in TOKENS_06])
    _text(
        ax,
        xs[2:6].mean(),
        y_tok - 0.28,
        "one word, four pieces",
        size=7.5,
        color=ORANGE,
    )
    for x, i in zip(xs, TOKEN_IDS_06, strict=True):
        _text(ax, x, y_ids, f"{i}", size=SMALL)
    total = np.zeros((n, 4))
    for (_, color), y in zip(embeddings, ys, strict=False):
        rows = rng.standard_normal((n, 4))
        if color == PURPLE:
            rows[:] = rows[0]  # one segment: the same vector everywhere
        total += rows
        for x, row in zip(xs, rows, strict=True):
            _vector(ax, x, y, row, color)
    for x, row in zip(xs, total, strict=True):
        _vector(ax, x, y_sum, row, INK)
    _down(ax, xs, y_ids - 0.12, ys[0] + 0.1)
    _down(ax, xs, y_sum - 0.08, y_enc + 0.36)
    _encoder_bar(
        ax,
        xs[0] - 0.35,
        xs[-1] + 0.25,
        y_enc,
        f"{n_layers} encoder layer{'s' * (n_layers > 1)}: self-attention "
        "(every token sees every other) + FFN",
    )
    _down(ax, xs, y_enc - 0.28, y_out + 0.1)
    for k, x in enumerate(xs):
        values = rng.standard_normal(4)
        _vector(ax, x, y_out, values, ORANGE if k == 0 else SKY, outline=INK)
    ax.add_patch(
        Rectangle((xs[0] - 0.3, y_out - 0.13), 0.6, 0.26, fill=False, ec=ORANGE, lw=2.2)
    )
    _text(
        ax,
        xs[0] - 0.3,
        y_out - 0.35,
        "$h_\\mathrm{[CLS]}$: read by a classifier head (§6.7)",
        size=7.5,
        color=ORANGE,
        ha="left",
    )
    _text(
        ax,
        xs[-1] + 0.35,
        y_out - 0.35,
        "each vector: 384 numbers in MiniLM, 768 in BERT-base",
        size=7.5,
        color=GREY,
        ha="right",
    )
    _row_labels(
        ax,
        0.08,
        [
            (top, "text"),
            (y_tok, "WordPiece tokens"),
            (y_ids, "token ids"),
            *[(y, label) for (label, _), y in zip(embeddings, ys, strict=False)],
            (y_sum, "= input vector $x_i$"),
            (y_enc, "encoder"),
            (y_out, "contextual vectors $h_i$"),
        ],
    )
    return fig


MLM_TOKENS = ("[CLS]", "the", "film", "was", "a", "delight", "to", "watch", "[SEP]")
MLM_IDS = {"film": 2143, "delight": 12208, "watch": 3422}
# Selected position → (what the input shows there, why).
MLM_CHANGES = {
    2: ("[MASK]", "80%: [MASK]"),
    5: ("river", "10%: random"),
    7: (None, "10%: kept"),
}


@_styled
def masked_language_modelling(show_labels: bool = True) -> Figure:
    """Masked language modelling, BERT's pretraining task (§6.1).

    About 15% of the tokens are selected; of those, 80% become [MASK], 10% a random
    token and 10% stay as they are, so that the model cannot tell from the input
    which tokens it will be scored on (Devlin et al., 2019). The MLM head predicts a
    token at every position, but the loss counts only the selected ones: with
    ``show_labels`` the row of labels shows the original ids there and -100, which
    ``torch.nn.CrossEntropyLoss`` ignores, everywhere else. Three of seven words are
    selected here so that each case appears once; ids are bert-base-uncased's.
    """
    labels = _flag("show_labels", show_labels)
    fig, ax = _canvas(7.6, 4.4 if labels else 3.85)
    xs = 1.35 + 0.7 * np.arange(len(MLM_TOKENS))
    y0 = 4.1 if labels else 3.55
    y_in, y_enc, y_head = y0 - 1.05, y0 - 1.9, y0 - 2.7
    selected = [k in MLM_CHANGES for k in range(len(MLM_TOKENS))]
    corrupted = [
        MLM_CHANGES[k][0] or t if k in MLM_CHANGES else t
        for k, t in enumerate(MLM_TOKENS)
    ]
    for y, row in ((y0, MLM_TOKENS), (y_in, corrupted)):
        colors = [_token_color(t) for t in row]
        _tokens(
            ax,
            xs,
            y,
            row,
            [ORANGE if k in MLM_CHANGES else c for k, c in enumerate(colors)],
        )
    for k, (_, why) in MLM_CHANGES.items():
        _arrow(ax, (xs[k], y0 - 0.19), (xs[k], y_in + 0.19), color=ORANGE)
        _text(ax, xs[k] + 0.05, (y0 + y_in) / 2, why, size=7.5, color=ORANGE, ha="left")
    _down(ax, xs, y_in - 0.19, y_enc + 0.32)
    _encoder_bar(
        ax,
        xs[0] - 0.35,
        xs[-1] + 0.25,
        y_enc,
        "encoder: every position sees the whole corrupted input, both sides",
        h=0.46,
    )
    _down(ax, xs, y_enc - 0.25, y_head + 0.19)
    for k, (x, token) in enumerate(zip(xs, MLM_TOKENS, strict=True)):
        if selected[k]:
            _box(ax, x, y_head, 0.64, 0.38, f"p({token})", color=VERMILLION, size=7.5)
            if labels:
                _text(ax, x, y_head - 0.55, f"{MLM_IDS[token]}", size=SMALL)
        else:
            _box(ax, x, y_head, 0.64, 0.38, "ignored", color=GREY, size=7, fill=0.06)
            if labels:
                _text(ax, x, y_head - 0.55, "−100", size=SMALL, color=GREY)
    rows = [
        (y0, "original"),
        (y_in, "model input"),
        (y_enc, "encoder"),
        (y_head, "MLM head"),
    ]
    if labels:
        rows.append((y_head - 0.55, "labels"))
    _row_labels(ax, 0.08, rows)
    _text(
        ax,
        4.1,
        0.25,
        r"$L = -\frac{1}{|M|}\sum_{i \in M} \log p(x_i \mid \tilde{x})$, "
        "$M$: the selected positions (15% of tokens)",
        size=SMALL,
    )
    return fig


def _frozen_or_trained(ax, xs, y, w, h, labels, trained, size=SMALL):
    """Boxes at ``xs``: grey where frozen, blue where ``trained``."""
    for x, label, t in zip(xs, labels, trained, strict=True):
        _box(ax, x, y, w, h, label, color=BLUE if t else GREY, size=size, fill=0.3)


def _gradients(ax, start, y, targets, label):
    """Gradient arrows: from ``start`` down to a line at height ``y``, then up into
    each ``(x, top)`` of ``targets``."""
    left = min(x for x, _ in targets)
    _line(ax, start, (start[0], y), (left, y), color=VERMILLION, lw=1.5)
    for x, top in targets:
        _arrow(ax, (x, y), (x, top), color=VERMILLION, lw=1.5)
    _text(ax, left, y - 0.2, label, size=7.5, color=VERMILLION, ha="left")


@_styled
def fine_tuning_head(
    layers: int = 6,
    trainable_layers: int = 2,
    pooling: str = "cls",
    classes: int = 2,
    width: int = 384,
) -> Figure:
    """Fine-tuning a pretrained encoder with a new classification head (§6.7).

    The encoder's ``layers`` layers (1 to 12) come pretrained; the top
    ``trainable_layers`` of them (0 to ``layers``; the embeddings too when it equals
    ``layers``) are trained with the new head, the rest stay frozen (grey). The
    sentence vector is the [CLS] token's contextual vector (``pooling="cls"``) or the
    mean over tokens (``"mean"``), ``width`` numbers (384 in MiniLM, 768 in
    BERT-base); a linear layer maps it to ``classes`` scores (2 to 10), softmax turns
    them into probabilities, and cross-entropy against the label gives the loss,
    whose gradients (vermillion) reach only the trainable parts.
    """
    n = validate.integer("layers", layers, minimum=1, maximum=12)
    k = validate.integer("trainable_layers", trainable_layers, minimum=0, maximum=n)
    pooling = _choice("pooling", pooling, ("cls", "mean"))
    c = validate.integer("classes", classes, minimum=2, maximum=10)
    d = validate.integer("width", width, minimum=1, maximum=8192)
    fig, ax = _canvas(7.6, 3.7)
    y, h = 2.3, 1.3
    step = min(0.42, 2.5 / n)
    w = step - 0.08
    xl = 1.6 + step * np.arange(n)
    trained = [i >= n - k for i in range(n)]
    _box(ax, 0.45, y, 0.72, h, "[CLS]\nthe film\nwas a\ndelight\n[SEP]", size=7.5)
    _arrow(ax, (0.81, y), (1.0, y))
    _frozen_or_trained(ax, [1.14], y, 0.28, h, ["E"], [k == n])  # embeddings
    _arrow(ax, (1.28, y), (xl[0] - w / 2, y))
    numbers = [f"{i + 1}" if w >= 0.22 else "" for i in range(n)]
    _frozen_or_trained(ax, xl, y, w, h, numbers, trained)
    right = xl[-1] + w / 2
    stages = [
        (
            4.45,
            0.8,
            "$h_\\mathrm{[CLS]}$" if pooling == "cls" else "mean of\nall $h_i$",
        ),
        (5.4, 0.7, f"linear\n{d} → {c}"),
        (6.25, 0.6, "softmax"),
        (7.1, 0.7, "cross-\nentropy"),
    ]
    colors = [ORANGE, GREEN, GREEN, PURPLE]
    previous = right
    for (x, bw, label), color in zip(stages, colors, strict=True):
        _arrow(ax, (previous, y), (x - bw / 2, y))
        _box(ax, x, y, bw, 0.55, label, color=color, size=SMALL, fill=0.25)
        previous = x + bw / 2
    _text(ax, 4.45, y - 0.45, "sentence vector", size=7.5, color=GREY)
    _text(ax, 5.4, y + 0.45, "new head,\nrandom start", size=7.5, color=GREEN)
    _text(ax, 6.25, y - 0.45, f"$p$ over {c}\nclasses", size=7.5, color=GREY)
    _box(ax, 7.1, 3.4, 0.7, 0.32, "label $y$", color=PURPLE, size=SMALL)
    _arrow(ax, (7.1, 3.24), (7.1, y + 0.275), color=PURPLE)
    _text(
        ax,
        (1.0 + right) / 2,
        y + h / 2 + 0.3,
        f"pretrained encoder, {n} layer{'s' * (n > 1)}",
        size=SMALL,
    )
    bottom = y - h / 2
    targets = [(5.4, y - 0.275)]
    targets += [(x, bottom) for x, t in zip(xl, trained, strict=True) if t]
    if k == n:
        targets.append((1.14, bottom))
    _text(ax, 7.2, y - 0.45, r"$\ell$", color=VERMILLION, ha="left")
    _gradients(
        ax,
        (7.1, y - 0.275),
        0.95,
        targets,
        "gradients of the loss $\\ell$ reach the head"
        + {0: " only", n: " and the whole encoder"}.get(
            k, f" and the top {k} layer{'s' * (k > 1)}"
        ),
    )
    frozen = "grey: frozen, no gradient, pretrained weights kept; " if k < n else ""
    legend = f"E: embeddings; {frozen}blue: trained"
    _text(ax, 0.1, 0.3, legend, size=7.5, color=GREY, ha="left")
    return fig


BIO_TAGS = ("O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG")  # ner.TAGS
BIO_SENTENCE = (
    ("江", "jiāng", "B-PER"),
    ("泽", "zé", "I-PER"),
    ("民", "mín", "I-PER"),
    ("访", "fǎng", "O"),
    ("问", "wèn", "O"),
    ("美", "měi", "B-LOC"),
    ("国", "guó", "I-LOC"),
)
BIO_ARGMAX_SLIP = (5, "I-LOC")  # the per-character argmax there breaks the BIO rules
_CJK_FONTS = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Noto Sans SC", "SimHei")


@functools.cache
def _cjk_font() -> str | None:
    """The first installed font of ``_CJK_FONTS``, or None."""
    for name in _CJK_FONTS:
        properties = mpl.font_manager.FontProperties(family=name)
        try:
            mpl.font_manager.findfont(properties, fallback_to_default=False)
        except ValueError:
            continue
        return name
    return None


def _bio_allowed(previous: str, tag: str) -> bool:
    """BIO: I-X only after B-X or I-X (``previous`` "" is the start)."""
    return not tag.startswith("I-") or previous[2:] == tag[2:]


@_styled
def bio_viterbi(forbidden: bool = True, pinyin: bool = True) -> Figure:
    """BIO tags on a Chinese sentence and the Viterbi lattice that decodes them
    (§6.9–6.11).

    江泽民访问美国, "Jiang Zemin visits the United States": one tag per character,
    B-X opening an entity of type X, I-X continuing it, O outside. The lattice has a
    node per tag and character; grey edges are the transitions BIO allows (I-X only
    after B-X or I-X, never first), the orange path is the best valid sequence, the
    one Viterbi returns. With ``forbidden`` the dashed edge shows where the
    per-character argmax would go wrong, I-LOC right after O, which decoding rules
    out. ``pinyin`` writes each character's pinyin under it. Where no CJK font is
    installed (``_CJK_FONTS``), the characters are written in pinyin instead.
    """
    forbidden = _flag("forbidden", forbidden)
    pinyin = _flag("pinyin", pinyin)
    font = _cjk_font()
    fig, ax = _canvas(7.6, 5.0)
    xs = 1.2 + 0.76 * np.arange(len(BIO_SENTENCE))
    rows = {tag: 3.5 - 0.38 * r for r, tag in enumerate(BIO_TAGS)}
    path = [tag for _, _, tag in BIO_SENTENCE]
    _text(ax, xs.mean(), 4.72, "“Jiang Zemin visits the United States”", size=SMALL)
    for x, (char, sound, _) in zip(xs, BIO_SENTENCE, strict=True):
        if font:
            _text(ax, x, 4.3, char, size=15, fontfamily=font)
            if pinyin:
                _text(ax, x, 3.98, sound, size=7.5, color=GREY)
        else:
            _text(ax, x, 4.3, sound, size=FS)
    for tag, y in rows.items():
        _text(ax, xs[0] - 0.35, y, tag, size=SMALL, ha="right")
    light = _tint(GREY, 0.35)
    for t in range(1, len(xs)):
        for a, ya in rows.items():
            for b, yb in rows.items():
                if _bio_allowed(a, b):
                    ax.plot(
                        (xs[t - 1], xs[t]),
                        (ya, yb),
                        color=light,
                        lw=0.5,
                        zorder=1,
                        antialiased=False,  # two shades, not thirty: a small PNG
                    )
    for t, x in enumerate(xs):
        for tag, y in rows.items():
            start_ok = t > 0 or _bio_allowed("", tag)
            on_path = path[t] == tag
            ax.add_patch(
                Circle(
                    (x, y),
                    0.085,
                    facecolor=ORANGE if on_path else "white",
                    edgecolor=ORANGE if on_path else GREY if start_ok else light,
                    lw=1.2,
                    ls="-" if start_ok else (0, (2, 2)),
                    zorder=3,
                )
            )
    for t in range(1, len(xs)):
        _line(
            ax,
            (xs[t - 1], rows[path[t - 1]]),
            (xs[t], rows[path[t]]),
            color=ORANGE,
            lw=2.6,
            zorder=2,
        )
    if forbidden:
        t, tag = BIO_ARGMAX_SLIP
        a, b = (xs[t - 1], rows[path[t - 1]]), (xs[t], rows[tag])
        _line(ax, a, b, color=VERMILLION, lw=1.8, ls=(0, (3, 2)), zorder=2)
        mid = ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
        _text(ax, *mid, "×", size=16, color=VERMILLION, zorder=4, weight="bold")
        ax.add_patch(
            Circle(b, 0.12, fill=False, edgecolor=VERMILLION, lw=1.6, zorder=4)
        )
    # Legend, right of the lattice.
    lx = xs[-1] + 0.4
    _line(ax, (lx, 3.4), (lx + 0.3, 3.4), color=ORANGE, lw=2.6)
    _text(ax, lx + 0.38, 3.4, "best valid path\n(Viterbi)", size=7.5, ha="left")
    _line(ax, (lx, 2.85), (lx + 0.3, 2.85), color=light, lw=1)
    _text(ax, lx + 0.38, 2.85, "allowed\ntransition", size=7.5, ha="left")
    _text(
        ax,
        lx + 0.02,
        2.15,
        "dashed nodes:\nI-X cannot\nstart",
        size=7.5,
        ha="left",
        color=GREY,
    )
    if forbidden:
        _line(
            ax, (lx, 1.45), (lx + 0.3, 1.45), color=VERMILLION, lw=1.8, ls=(0, (3, 2))
        )
        _text(
            ax,
            lx + 0.38,
            1.45,
            "argmax:\nI-LOC after O,\nforbidden",
            size=7.5,
            ha="left",
            color=VERMILLION,
        )
    # The decoded tags and the entities they spell.
    colors = {"PER": ORANGE, "LOC": GREEN, "": GREY}
    _tokens(
        ax, xs, 0.78, path, [colors[tag[2:]] for tag in path], w=0.7, h=0.32, size=7.5
    )
    for kind, (first, last) in (("PER", (0, 2)), ("LOC", (5, 6))):
        x0, x1 = xs[first] - 0.3, xs[last] + 0.3
        _line(ax, (x0, 0.5), (x0, 0.42), (x1, 0.42), (x1, 0.5), color=colors[kind])
        name = "".join(c if font else s for c, s, _ in BIO_SENTENCE[first : last + 1])
        _text(
            ax,
            (x0 + x1) / 2,
            0.22,
            f"{kind}: {name}",
            size=SMALL,
            color=colors[kind],
            fontfamily=[font or "DejaVu Sans", "DejaVu Sans"],
        )
    return fig


VGG16_BLOCKS = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))
VGG16_DENSE = (4096, 4096, 1000)


@_styled
def vgg16_blocks(image_size: int = 224) -> Figure:
    """VGG16's five convolutional blocks and three dense layers (§7.1).

    Each block is 2 or 3 convolutions 3×3 (padding 1, so the size stays) with 64,
    128, 256, 512 and 512 channels, and ends in a 2×2 max-pool that halves the size:
    224 → 112 → 56 → 28 → 14 → 7 for ``image_size`` 224 (a multiple of 32, 32 to
    512). The 7·7·512 map is flattened into fc1 and fc2 of 4,096 units and a
    1,000-way softmax (Simonyan and Zisserman, 2015). Heights grow with the square
    root of the map's side, widths with the log of its channels; the parameter
    count is computed as ``lmbook.vision.vgg16_layers`` does.
    """
    size = validate.integer("image_size", image_size, minimum=32, maximum=512)
    if size % 32:
        raise ValueError(
            f"image_size must be a multiple of 32 (five poolings halve it), got {size}"
        )
    fig, ax = _canvas(7.6, 4.1)
    y = 2.35

    def height(side):
        return 2.6 * np.sqrt(side / size)

    _bar(ax, 0.25, y, 0.08, height(size), GREY)
    _text(ax, 0.12, y, f"input {size}×{size}×3", size=7, rotation=90)
    x, side, channels, params = 0.55, size, 3, 0
    for b, block in enumerate(VGG16_BLOCKS, start=1):
        _arrow(ax, (x - 0.2, y), (x - 0.03, y), lw=1)
        left = x
        for c in block:
            w = 0.05 * np.log2(c / 16)
            _bar(ax, x, y, w, height(side), BLUE)
            params += 9 * channels * c + c
            channels = c
            x += w + 0.015
        _text(ax, (left + x) / 2, y + height(side) / 2 + 0.12, f"{side}×{side}", size=7)
        side //= 2
        _bar(ax, x, y, 0.06, height(side), ORANGE)
        x += 0.06
        middle = (left + x) / 2
        _text(ax, middle, y - height(size) / 2 - 0.14, f"block {b}", size=7.5)
        _text(
            ax,
            middle,
            y - height(size) / 2 - 0.45,
            f"{len(block)}× conv\n{block[0]} ch",
            size=7,
            color=BLUE,
        )
        x += 0.31
    _text(
        ax,
        x - 0.4,
        y + height(side) / 2 + 0.12,
        f"{side}×{side}×{channels}",
        size=7,
        ha="left",
    )
    n_in = side * side * channels
    _arrow(ax, (x - 0.25, y), (x + 0.1, y), lw=1)
    _text(ax, x - 0.05, y - 0.5, f"flatten\n{n_in:,}", size=7, color=GREY)
    x += 0.3
    for name, units in zip(("fc1", "fc2", "predictions"), VGG16_DENSE, strict=True):
        h = 0.45 * np.log2(units) - 3.3
        _bar(ax, x, y, 0.14, h, GREEN)
        _text(ax, x + 0.07, y + h / 2 + 0.12, f"{units:,}", size=7)
        _text(ax, x + 0.07, y - h / 2 - 0.12, name, size=7, color=GREEN)
        params += n_in * units + units
        n_in = units
        x += 0.14
        _arrow(ax, (x + 0.02, y), (x + 0.24, y), lw=1)
        x += 0.26
    _box(ax, x + 0.3, y, 0.62, 0.36, "softmax", color=PURPLE, size=7.5)
    _text(ax, x + 0.3, y - 0.35, "1,000\nclasses", size=7, color=GREY)
    # Legend.
    for lx, color, label in (
        (0.2, BLUE, "conv 3×3 + ReLU"),
        (1.75, ORANGE, "max-pool 2×2, stride 2"),
        (3.7, GREEN, "dense layer"),
    ):
        _bar(ax, lx, 0.21, 0.14, 0.14, color)
        _text(ax, lx + 0.2, 0.21, label, size=7.5, ha="left")
    _text(ax, 7.45, 0.21, f"{params:,} parameters", size=7.5, ha="right")
    return fig


def _last_blocks(count: int) -> str:
    """'the last block' or 'the last 3 blocks': no '1 block' (fig-07-6)."""
    return "the last block" if count == 1 else f"the last {count} blocks"


@_styled
def transfer_learning(
    blocks: int = 5, fine_tuned_blocks: int = 2, classes: int = 5
) -> Figure:
    """Transfer learning: a backbone pretrained on ImageNet with a new head (§7.6).

    Top: the pretrained network, ``blocks`` blocks (3 to 8) and a head for ImageNet's
    1,000 classes, which is removed. Middle, feature extraction: the whole backbone is
    frozen (grey) and only the new head for ``classes`` classes (2 to 100) is
    trained. Bottom, fine-tuning: the last ``fine_tuned_blocks`` blocks (1 to
    ``blocks``) are trained too, with a small learning rate. Gradients (vermillion)
    reach only what is trained.
    """
    n = validate.integer("blocks", blocks, minimum=3, maximum=8)
    m = validate.integer("fine_tuned_blocks", fine_tuned_blocks, minimum=1, maximum=n)
    c = validate.integer("classes", classes, minimum=2, maximum=100)
    fig, ax = _canvas(7.6, 4.7)
    step = min(0.62, 3.1 / n)
    xb = 2.4 + step * np.arange(n)
    w, h = step - 0.1, 0.5
    x_head = xb[-1] + step / 2 + 0.65
    rows = (
        (4.2, "1. pretrain", "ImageNet\nphotos", [True] * n, None),
        (2.75, "2a. feature\nextraction", "new\nphotos", [False] * n, 0),
        (1.15, "2b. fine-tuning", "new\nphotos", [i >= n - m for i in range(n)], m),
    )
    for y, title, source, trained, tuned in rows:
        _text(ax, 0.08, y, title, size=SMALL, ha="left", weight="bold")
        _box(ax, 1.55, y, 0.75, h, source, color=BLUE, size=7.5, fill=0.1)
        _arrow(ax, (1.93, y), (xb[0] - w / 2, y))
        labels = [f"block {i + 1}" if w >= 0.5 else f"{i + 1}" for i in range(n)]
        _frozen_or_trained(ax, xb, y, w, h, labels, trained, size=7)
        _arrow(ax, (xb[-1] + w / 2, y), (x_head - 0.5, y))
        if tuned is None:
            _box(ax, x_head, y, 1.14, h + 0.14, color=VERMILLION, fill=0, ls="--")
            _box(ax, x_head, y, 1.0, h, "head\n1,000 classes", color=BLUE, size=7.5)
            _text(
                ax,
                x_head,
                y - 0.45,
                "removed for the new task",
                size=7.5,
                color=VERMILLION,
            )
            continue
        _box(
            ax,
            x_head,
            y,
            1.0,
            h,
            f"new head\n{c} classes",
            color=GREEN,
            size=7.5,
            fill=0.3,
        )
        _text(
            ax, x_head + 0.58, y + 0.05, "softmax\n+ CE", size=7, ha="left", color=GREY
        )
        targets = [(x_head, y - h / 2)]
        targets += [(x, y - h / 2) for x, t in zip(xb, trained, strict=True) if t]
        _gradients(
            ax,
            (x_head + 0.75, y - 0.15),
            y - 0.55,
            targets,
            "gradients: new head only"
            if tuned == 0
            else f"gradients: the head and {_last_blocks(tuned)}, small learning rate",
        )
    _arrow(ax, (xb.mean(), 3.85), (xb.mean(), 3.3), color=GREY, lw=2)
    for y in (2.75, 1.15):
        _text(
            ax,
            xb.mean(),
            y + 0.42,
            "weights copied from the pretrained backbone",
            size=7,
            color=GREY,
            backgroundcolor="white",
        )
    _text(
        ax,
        0.08,
        0.2,
        "grey: frozen (weights kept); blue: trained; green: new",
        size=7.5,
        color=GREY,
        ha="left",
    )
    return fig
