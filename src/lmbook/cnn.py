"""Convolution and pooling in NumPy, forward and backward, and a small ResNet
in PyTorch (chapter 3).

Chapter 3 ("Convolutional networks") derives every formula here and checks each
function against ``torch.nn.functional`` and ``tf.nn``.

Conventions follow PyTorch so that weights copy over unchanged:

- an input batch ``x`` is NCHW, ``(N, C_in, H, W)``;
- a weight ``w`` is ``(C_out, C_in, K_h, K_w)`` and a bias ``b`` is ``(C_out,)``;
- "convolution" is cross-correlation, as every framework computes it:
  out[n, o, r, c] =
  b[o] + Σ_{i, k, l} x_pad[n, i, r·S + k·D, c·S + l·D] · w[o, i, k, l];
- ``stride``, ``padding`` and ``dilation`` are an int or an (h, w) pair;
  padding adds zeros on both sides.

Arrays must be float32 or float64; results keep that dtype.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from lmbook import validate

if TYPE_CHECKING:
    import torch

# Checks --------------------------------------------------------------------


def _pair(name: str, value: object, minimum: int = 1) -> tuple[int, int]:
    """An int or an (h, w) pair of ints, each at least ``minimum``, as a tuple."""
    pair = tuple(value) if isinstance(value, tuple | list) else (value, value)
    message = (
        f"{name} must be an integer ≥ {minimum} or a pair (h, w) of them, got {value!r}"
    )
    if not all(validate.is_integer(v) for v in pair):
        raise TypeError(message)
    if len(pair) != 2 or min(pair) < minimum:
        raise ValueError(message)
    return int(pair[0]), int(pair[1])


def _check_same_dtype(name: str, array: np.ndarray, x: np.ndarray) -> None:
    if array.dtype != x.dtype:
        raise TypeError(
            f"{name} is {array.dtype} but x is {x.dtype}; cast one so that both match"
        )


def _output_size(
    size: int, kernel: int, stride: int, padding: int, dilation: int, where: str = ""
) -> int:
    span = dilation * (kernel - 1) + 1
    padded = size + 2 * padding
    if span > padded:
        raise ValueError(
            f"{where}kernel of effective size {span} (kernel {kernel}, dilation "
            f"{dilation}) is larger than the padded input of size {padded} (size "
            f"{size} + 2·padding {padding})"
        )
    return (padded - span) // stride + 1


def output_size(
    size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> int:
    """⌊(H + 2P − D(K − 1) − 1) / S⌋ + 1: the output length of a convolution or pooling.

    H is the input size, K the kernel size, S the stride, P the zero padding on
    each side and D the dilation; D(K − 1) + 1 is the kernel's effective size.
    """
    size = validate.count("size", size)
    kernel = validate.count("kernel", kernel)
    stride = validate.count("stride", stride)
    padding = validate.integer("padding", padding, minimum=0)
    dilation = validate.count("dilation", dilation)
    return _output_size(size, kernel, stride, padding, dilation)


def _check_conv(
    x: object, w: object, b: object, stride: object, padding: object, dilation: object
) -> tuple:
    """Validated (x, w, b, stride, padding, dilation, (H_out, W_out)) for a
    conv2d call.
    """
    x = validate.float_array("x", x, ndim=4, layout="(N, C_in, H, W)")
    w = validate.float_array("w", w, ndim=4, layout="(C_out, C_in, K_h, K_w)")
    _check_same_dtype("w", w, x)
    if 0 in w.shape:
        raise ValueError(f"w must have no empty dimension, got shape {w.shape}")
    if x.shape[1] != w.shape[1]:
        raise ValueError(
            f"x has {x.shape[1]} channels, but w expects C_in = {w.shape[1]} "
            f"(w has shape {w.shape} = (C_out, C_in, K_h, K_w))"
        )
    if b is not None:
        b = validate.float_array("b", b, ndim=1, layout="(C_out,)")
        _check_same_dtype("b", b, x)
        if b.shape != (w.shape[0],):
            raise ValueError(
                f"b must have shape (C_out,) = ({w.shape[0]},), got {b.shape}"
            )
    s = _pair("stride", stride, 1)
    p = _pair("padding", padding, 0)
    d = _pair("dilation", dilation, 1)
    out = tuple(
        _output_size(x.shape[2 + a], w.shape[2 + a], s[a], p[a], d[a], f"{axis}: ")
        for a, axis in enumerate(("height", "width"))
    )
    return x, w, b, s, p, d, out


def _pad(x: np.ndarray, p: tuple[int, int]) -> np.ndarray:
    if p == (0, 0):
        return x
    xp = np.zeros(
        (*x.shape[:2], x.shape[2] + 2 * p[0], x.shape[3] + 2 * p[1]), dtype=x.dtype
    )
    xp[:, :, p[0] : p[0] + x.shape[2], p[1] : p[1] + x.shape[3]] = x
    return xp


# Convolution ---------------------------------------------------------------


def conv2d_loop(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
) -> np.ndarray:
    """2-D cross-correlation written as loops, one output value at a time (chapter 3).

    out[n, o, r, c] =
    b[o] + Σ_{i, k, l} x_pad[n, i, r·S + k·D, c·S + l·D] · w[o, i, k, l].
    Slow; it exists to be read next to the formula. ``conv2d`` computes the same.
    """
    x, w, b, s, p, d, (h_out, w_out) = _check_conv(x, w, b, stride, padding, dilation)
    c_out, _, k_h, k_w = w.shape
    span = (d[0] * (k_h - 1) + 1, d[1] * (k_w - 1) + 1)
    xp = _pad(x, p)
    out = np.zeros((x.shape[0], c_out, h_out, w_out), dtype=x.dtype)
    for n in range(x.shape[0]):
        for o in range(c_out):
            for r in range(h_out):
                for c in range(w_out):
                    top, left = r * s[0], c * s[1]
                    patch = xp[
                        n, :, top : top + span[0] : d[0], left : left + span[1] : d[1]
                    ]
                    out[n, o, r, c] = np.sum(patch * w[o])
            if b is not None:
                out[n, o] += b[o]
    return out


def _im2col(
    xp: np.ndarray,
    kernel: tuple[int, int],
    s: tuple[int, int],
    d: tuple[int, int],
    out: tuple[int, int],
) -> np.ndarray:
    """The patches of a padded input as one contiguous
    (C·K_h·K_w, N·H_out·W_out) matrix.

    ``sliding_window_view`` makes a view, without copying, of every window of the
    kernel's effective size; slicing by stride and dilation keeps the positions
    the kernel visits; one copy lays them out as the columns of a matrix.
    """
    span = (d[0] * (kernel[0] - 1) + 1, d[1] * (kernel[1] - 1) + 1)
    windows = sliding_window_view(xp, span, axis=(2, 3))[
        :, :, :: s[0], :: s[1], :: d[0], :: d[1]
    ]
    # C, K_h, K_w, N, H_o, W_o.
    cols = np.ascontiguousarray(windows.transpose(1, 4, 5, 0, 2, 3))
    return cols.reshape(
        xp.shape[1] * kernel[0] * kernel[1], xp.shape[0] * out[0] * out[1]
    )


def conv2d(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
) -> np.ndarray:
    """2-D cross-correlation as ``torch.nn.functional.conv2d``, vectorized (chapter 3).

    im2col: every patch the kernel visits becomes a column of length C_in·K_h·K_w,
    so the whole layer is one matrix product for the whole batch,
    (C_out, C_in·K_h·K_w) @ (C_in·K_h·K_w, N·H_out·W_out), which NumPy hands to BLAS.
    """
    x, w, b, s, p, d, out = _check_conv(x, w, b, stride, padding, dilation)
    cols = _im2col(_pad(x, p), w.shape[2:], s, d, out)
    y = w.reshape(w.shape[0], -1) @ cols  # (C_out, N·H_out·W_out)
    if b is not None:
        y += b[:, None]
    return np.ascontiguousarray(
        y.reshape(w.shape[0], x.shape[0], *out).transpose(1, 0, 2, 3)
    )


def conv2d_backward(
    dout: np.ndarray,
    x: np.ndarray,
    w: np.ndarray,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients (dx, dw, db) of a loss L, given dout = ∂L/∂out of ``conv2d``
    (chapter 3).

    With out[n, o, r, c] =
    b[o] + Σ_{i, k, l} x_pad[n, i, r·S + k·D, c·S + l·D] · w[o, i, k, l]:

    - db[o] = Σ_{n, r, c} dout[n, o, r, c]: the bias touches every output position;
    - dw[o, i, k, l] = Σ_{n, r, c} x_pad[n, i, r·S + k·D, c·S + l·D] · dout[n, o, r, c]:
      a cross-correlation of the input with the output gradient (as a kernel
      dilated by S, moved with step D), computed here from the im2col patches;
    - dx is a *full* convolution of the output gradient with the kernel flipped
      in both spatial axes and with C_in and C_out swapped: insert S − 1 zeros
      between the rows and columns of dout, pad it with D(K − 1) zeros on every
      side, cross-correlate with w[:, :, ::-1, ::-1] (dilation D) and crop the
      padding P off the result.
    """
    x, w, _, s, p, d, out = _check_conv(x, w, None, stride, padding, dilation)
    n, c_in, h, width = x.shape
    c_out, _, k_h, k_w = w.shape
    dout = validate.float_array("dout", dout, ndim=4, layout="(N, C_out, H_out, W_out)")
    _check_same_dtype("dout", dout, x)
    if dout.shape != (n, c_out, *out):
        raise ValueError(
            "dout must have the shape of conv2d's output "
            f"{(n, c_out, *out)}, got {dout.shape}"
        )

    db = dout.sum(axis=(0, 2, 3))

    cols = _im2col(_pad(x, p), (k_h, k_w), s, d, out)  # (C_in·K_h·K_w, N·H_out·W_out)
    dout_rows = np.ascontiguousarray(dout.transpose(1, 0, 2, 3)).reshape(c_out, -1)
    dw = (dout_rows @ cols.T).reshape(w.shape)

    # dx: dout with S - 1 zeros between its rows and columns, D(K - 1) zeros around it,
    # and at the end the rows and columns of x_pad that the floor in the output size
    # skipped.
    reach = (d[0] * (k_h - 1), d[1] * (k_w - 1))
    z = np.zeros(
        (n, c_out, h + 2 * p[0] + reach[0], width + 2 * p[1] + reach[1]), dtype=x.dtype
    )
    z[:, :, reach[0] :: s[0], reach[1] :: s[1]][:, :, : out[0], : out[1]] = dout
    flipped = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
    dx_pad = conv2d(z, flipped, dilation=d)  # (N, C_in, H + 2P_h, W + 2P_w)
    dx = dx_pad[:, :, p[0] : p[0] + h, p[1] : p[1] + width]
    return np.ascontiguousarray(dx), dw, db


# Pooling -------------------------------------------------------------------


def _check_pool(x: object, kernel: object, stride: object) -> tuple:
    x = validate.float_array("x", x, ndim=4, layout="(N, C, H, W)")
    k = _pair("kernel", kernel, 1)
    s = k if stride is None else _pair("stride", stride, 1)
    out = tuple(
        _output_size(x.shape[2 + a], k[a], s[a], 0, 1, f"{axis}: ")
        for a, axis in enumerate(("height", "width"))
    )
    return x, k, s, out


def _pool_windows(x: np.ndarray, k: tuple[int, int], s: tuple[int, int]) -> np.ndarray:
    """A view (N, C, H_out, W_out, K_h, K_w) of the windows a pooling layer visits."""
    return sliding_window_view(x, k, axis=(2, 3))[:, :, :: s[0], :: s[1]]


def _check_pool_dout(dout: object, x: np.ndarray, out: tuple[int, int]) -> np.ndarray:
    expected = (*x.shape[:2], *out)
    dout = validate.float_array("dout", dout, ndim=4, layout="(N, C, H_out, W_out)")
    _check_same_dtype("dout", dout, x)
    if dout.shape != expected:
        raise ValueError(
            "dout must have the shape of the pooled output "
            f"{expected}, got {dout.shape}"
        )
    return dout


def max_pool2d(
    x: np.ndarray,
    kernel: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
) -> np.ndarray:
    """The maximum of each K_h×K_w window, channel by channel (chapter 3).

    ``stride`` defaults to the kernel size (non-overlapping windows), as in PyTorch.
    No padding; the output size is ⌊(H − K) / S⌋ + 1.
    """
    x, k, s, _ = _check_pool(x, kernel, stride)
    return _pool_windows(x, k, s).max(axis=(4, 5))


def avg_pool2d(
    x: np.ndarray,
    kernel: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
) -> np.ndarray:
    """The mean of each K_h×K_w window, channel by channel (chapter 3). See
    ``max_pool2d``.
    """
    x, k, s, _ = _check_pool(x, kernel, stride)
    return _pool_windows(x, k, s).mean(axis=(4, 5))


def max_pool2d_backward(
    dout: np.ndarray,
    x: np.ndarray,
    kernel: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
) -> np.ndarray:
    """∂L/∂x of ``max_pool2d``: each window's gradient goes to its arg-max (chapter 3).

    The maximum is locally the identity on the winning input and constant in the
    others, so dx is dout routed to the winner of each window; where windows
    overlap, an input collects the gradient of every window it wins. Ties go to
    the first maximum in row-major order, as in PyTorch.
    """
    x, k, s, out = _check_pool(x, kernel, stride)
    dout = _check_pool_dout(dout, x, out)
    winners = (
        _pool_windows(x, k, s).reshape(*x.shape[:2], *out, k[0] * k[1]).argmax(axis=-1)
    )
    dx = np.zeros_like(x)
    for index in range(k[0] * k[1]):
        i, j = divmod(index, k[1])
        rows = slice(i, i + (out[0] - 1) * s[0] + 1, s[0])
        cols = slice(j, j + (out[1] - 1) * s[1] + 1, s[1])
        dx[:, :, rows, cols] += np.where(winners == index, dout, 0)
    return dx


def avg_pool2d_backward(
    dout: np.ndarray,
    x: np.ndarray,
    kernel: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
) -> np.ndarray:
    """∂L/∂x of ``avg_pool2d``: each window's gradient shared equally by its
    K_h·K_w inputs.
    """
    x, k, s, out = _check_pool(x, kernel, stride)
    dout = _check_pool_dout(dout, x, out)
    share = dout / (k[0] * k[1])
    dx = np.zeros_like(x)
    for i in range(k[0]):
        for j in range(k[1]):
            rows = slice(i, i + (out[0] - 1) * s[0] + 1, s[0])
            cols = slice(j, j + (out[1] - 1) * s[1] + 1, s[1])
            dx[:, :, rows, cols] += share
    return dx


# Size, cost and receptive field ---------------------------------------------


def conv2d_params(
    c_in: int, c_out: int, kernel: int | tuple[int, int], bias: bool = True
) -> int:
    """Parameters of a Conv2d layer: C_out·C_in·K_h·K_w weights, plus C_out biases
    (chapter 3).
    """
    c_in = validate.count("c_in", c_in)
    c_out = validate.count("c_out", c_out)
    k = _pair("kernel", kernel, 1)
    return c_out * c_in * k[0] * k[1] + (c_out if validate.flag("bias", bias) else 0)


def conv2d_flops(
    c_in: int, c_out: int, kernel: int | tuple[int, int], out_h: int, out_w: int
) -> int:
    """FLOPs of a Conv2d layer on one image: 2·C_in·K_h·K_w·C_out·H_out·W_out
    (chapter 3).

    Each output value takes C_in·K_h·K_w multiply-adds, counted as 2 FLOPs each;
    the bias additions are left out. Multiply by the batch size for a batch.
    """
    c_in = validate.count("c_in", c_in)
    c_out = validate.count("c_out", c_out)
    k = _pair("kernel", kernel, 1)
    out_h = validate.count("out_h", out_h)
    out_w = validate.count("out_w", out_w)
    return 2 * c_in * k[0] * k[1] * c_out * out_h * out_w


def _int_list(name: str, values: object, kernels: list[int] | None) -> list[int]:
    """One integer ≥ 1 per layer, as a list (as many as ``kernels`` when given)."""
    if isinstance(values, str | bytes) or not isinstance(values, Sequence | np.ndarray):
        raise TypeError(
            f"{name} must be a list of integers ≥ 1, one per layer, got {values!r}"
        )
    values = list(values)
    if not values:
        raise ValueError(f"{name} must list at least one layer, got an empty list")
    if kernels is not None and len(values) != len(kernels):
        raise ValueError(
            f"{name} has {len(values)} entries but kernels has "
            f"{len(kernels)}; give one per layer"
        )
    return [validate.count(f"{name}[{i}]", v) for i, v in enumerate(values)]


def receptive_field(
    kernels: Sequence[int],
    strides: Sequence[int] | None = None,
    dilations: Sequence[int] | None = None,
) -> int:
    """How many input pixels (along one axis) one output of a stack of layers sees
    (chapter 3).

    r = 1 + Σ_l D_l·(K_l − 1)·J_l with J_l = S_1·…·S_(l−1): each layer widens the
    view by its effective kernel size minus one, in steps of the product of the
    strides below it. Two 3×3 layers see 5×5, three see 7×7. Pooling layers count
    as layers with their kernel and stride.
    """
    kernels = _int_list("kernels", kernels, None)
    strides = _int_list(
        "strides", [1] * len(kernels) if strides is None else strides, kernels
    )
    dilations = _int_list(
        "dilations", [1] * len(kernels) if dilations is None else dilations, kernels
    )
    field, jump = 1, 1
    for k, s, d in zip(kernels, strides, dilations, strict=True):
        field += d * (k - 1) * jump
        jump *= s
    return field


# Residual networks (PyTorch) -------------------------------------------------


@functools.cache
def _resnet_classes() -> tuple[type, type]:
    """The two PyTorch classes of the small ResNet, defined on first use so that
    importing ``lmbook.cnn`` loads no framework.
    """
    import torch
    from torch import nn

    class BasicBlock(nn.Module):
        """y = ReLU(F(x) + s(x)), F = conv3×3 → BN → ReLU → conv3×3 → BN (chapter 3).

        s is the identity when the shape stays, else a strided 1×1 convolution with
        BN (a projection); with ``shortcut=False`` the block is plain, y = ReLU(F(x)).
        With ``batch_norm=False`` the convolutions have biases and nothing normalises.
        """

        def __init__(
            self, c_in: int, c_out: int, stride: int, shortcut: bool, batch_norm: bool
        ):
            super().__init__()

            def norm() -> nn.Module:
                return nn.BatchNorm2d(c_out) if batch_norm else nn.Identity()

            bias = not batch_norm  # BN's β takes the place of a bias
            self.residual = nn.Sequential(
                nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=bias),
                norm(),
                nn.ReLU(),
                nn.Conv2d(c_out, c_out, 3, padding=1, bias=bias),
                norm(),
            )
            self.has_shortcut = shortcut
            self.projection = None
            if shortcut and (stride != 1 or c_in != c_out):
                self.projection = nn.Sequential(
                    nn.Conv2d(c_in, c_out, 1, stride=stride, bias=bias), norm()
                )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = self.residual(x)
            if self.has_shortcut:
                out = out + (x if self.projection is None else self.projection(x))
            return torch.relu(out)

    class SmallResNet(nn.Module):
        """Stem, stages of basic blocks, global average pooling, one dense layer."""

        def __init__(
            self,
            in_channels: int,
            classes: int,
            widths: tuple[int, ...],
            blocks_per_stage: int,
            shortcut: bool,
            batch_norm: bool,
        ):
            super().__init__()
            self.stem = nn.Sequential(
                nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=not batch_norm),
                nn.BatchNorm2d(widths[0]) if batch_norm else nn.Identity(),
                nn.ReLU(),
                nn.MaxPool2d(2),
            )
            blocks, c_in = [], widths[0]
            for stage, width in enumerate(widths):
                for index in range(blocks_per_stage):
                    stride = 2 if stage > 0 and index == 0 else 1
                    blocks.append(BasicBlock(c_in, width, stride, shortcut, batch_norm))
                    c_in = width
            self.blocks = nn.Sequential(*blocks)
            self.head = nn.Linear(c_in, classes)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            features = self.blocks(self.stem(x))
            return self.head(features.mean(dim=(2, 3)))  # global average pooling

    return BasicBlock, SmallResNet


def basic_block(
    c_in: int,
    c_out: int,
    stride: int = 1,
    *,
    shortcut: bool = True,
    batch_norm: bool = True,
) -> torch.nn.Module:
    """A ResNet basic block as a ``torch.nn.Module`` (chapter 3, after He et al. 2016).

    Two 3×3 convolutions with batch norm, F(x), added to the shortcut s(x) before
    the last ReLU: the identity when ``stride == 1`` and ``c_in == c_out``, else a
    1×1 convolution with that stride (and batch norm) that matches the shapes.
    ``shortcut=False`` gives the same block without the addition, and
    ``batch_norm=False`` the block without normalisation, for comparison.
    """
    c_in = validate.count("c_in", c_in)
    c_out = validate.count("c_out", c_out)
    stride = validate.count("stride", stride)
    shortcut = validate.flag("shortcut", shortcut)
    batch_norm = validate.flag("batch_norm", batch_norm)
    return _resnet_classes()[0](c_in, c_out, stride, shortcut, batch_norm)


def small_resnet(
    widths: Sequence[int] = (16, 32),
    blocks_per_stage: int = 1,
    *,
    in_channels: int = 1,
    classes: int = 10,
    shortcut: bool = True,
    batch_norm: bool = True,
) -> torch.nn.Module:
    """A small ResNet for digits as a ``torch.nn.Module`` (chapter 3).

    A 3×3 stem of ``widths[0]`` channels with batch norm, ReLU and 2×2 max pooling,
    then one stage of ``blocks_per_stage`` basic blocks per width (every stage after
    the first starts with stride 2, halving the map), global average pooling and a
    dense layer to ``classes`` logits. ``shortcut=False`` removes every shortcut,
    leaving a plain network of the same depth and parameters save the projections;
    ``batch_norm=False`` removes every batch norm (the convolutions get biases).
    """
    widths = tuple(_int_list("widths", widths, None))
    blocks_per_stage = validate.count("blocks_per_stage", blocks_per_stage)
    in_channels = validate.count("in_channels", in_channels)
    classes = validate.integer("classes", classes, minimum=2)
    shortcut = validate.flag("shortcut", shortcut)
    batch_norm = validate.flag("batch_norm", batch_norm)
    return _resnet_classes()[1](
        in_channels, classes, widths, blocks_per_stage, shortcut, batch_norm
    )
