"""Checkers of chapter 7: pretrained vision models (Exercises 7.1–7.3).

Notebook: ``notebooks/07_pretrained_vision_models.ipynb``. Each checker takes the
variable that the notebook's checker cell passes (``answer_1``) and names it in its
messages. Its keyword arguments are the exercise's given values, with the notebook's as
defaults: the hidden test of :mod:`lmbook.checks.grading` calls it with others
(``SECOND_CASES``).
"""

from __future__ import annotations

import numpy as np

from lmbook import cnn, vision
from lmbook.checks.core import (
    AnswerError,
    Hint,
    SecondCase,
    as_finite_array,
    check_close,
    next_hint,
)
from lmbook.checks.messages import N_, _

HINTS = {
    hint.exercise: hint
    for hint in (
        Hint(
            "7.1",
            N_(
                "a convolution has one weight per filter, input channel and kernel "
                "position, and one bias per filter."
            ),
            N_(
                "multiply C_out · C_in · K_h · K_w for the weights, C_in being the "
                "channels the layer reads, and add C_out biases."
            ),
        ),
        Hint(
            "7.2",
            N_(
                "a dense layer has one weight per input and output pair and one bias "
                "per output; the share is its count over the whole network's."
            ),
            N_(
                "flatten the feature map fc1 reads (rows × columns × channels), "
                "multiply by fc1's units, add one bias per unit, and divide by the "
                "total."
            ),
        ),
        Hint(
            "7.3",
            N_(
                "VGG16's 'caffe' preprocessing reorders the channels and subtracts a "
                "mean per channel; the pixel values stay in 0–255."
            ),
            N_(
                "as section 7.2 shows, write the pixel in BGR order, then subtract the "
                "ImageNet mean of each channel (the means are listed in BGR order "
                "too)."
            ),
        ),
    )
}

# the 13 convolutions: all of VGG16 less its three dense layers
_VGG16_CONV_PARAMETERS = sum(
    cnn.conv2d_params(c_in, c_out, vision.VGG16_CONFIG["kernel"])
    for c_in, c_out in zip(
        (vision.VGG16_CONFIG["channels"],)
        + sum(vision.VGG16_CONFIG["blocks"], ())[:-1],
        sum(vision.VGG16_CONFIG["blocks"], ()),
        strict=True,
    )
)


def _draw_conv(rng: np.random.Generator) -> dict[str, object]:
    """An odd kernel from 1 to 7 and channel counts that are powers of two,
    16 to 512.
    """
    while True:
        values = {
            "kernel": int(2 * rng.integers(0, 4) + 1),
            "filters": int(2 ** rng.integers(4, 10)),
            "in_channels": int(2 ** rng.integers(4, 10)),
        }
        if values != {"kernel": 3, "filters": 256, "in_channels": 128}:
            return values


def _draw_vgg_head(rng: np.random.Generator) -> dict[str, object]:
    """VGG16 on 96×96 to 320×320 images with a dense head of 1,024 to 4,096 units."""
    public = (7 * 7 * 512 * 4096 + 4096) / vision.VGG16_PARAMETERS
    while True:
        side, width = int(rng.integers(3, 11)), int(2 ** rng.integers(10, 13))
        fc1 = side * side * 512 * width + width
        total = (
            _VGG16_CONV_PARAMETERS + fc1 + width * width + width + width * 1000 + 1000
        )
        if abs(fc1 / total / public - 1) > 0.02:
            return {"feature_map": (side, side, 512), "width": width, "total": total}


def _draw_pixel(rng: np.random.Generator) -> dict[str, object]:
    """Another RGB pixel, each channel from 0 to 255."""
    while True:
        pixel = tuple(int(value) for value in rng.integers(0, 256, size=3))
        if pixel != (255, 128, 0):
            return {"pixel": pixel}


SECOND_CASES = {
    "ch07_conv_params": SecondCase("answer_1", draw=_draw_conv),
    "ch07_fc1_share": SecondCase("answer_2", draw=_draw_vgg_head),
    "ch07_caffe_pixel": SecondCase("answer_3", draw=_draw_pixel),
}


def ch07_conv_params(
    answer: object, kernel: int = 3, filters: int = 256, in_channels: int = 128
) -> None:
    """Exercise 7.1: parameters of a convolution, VGG16's block3_conv1
    (128 -> 256, 3×3).

    ``kernel`` is the side of its square kernels, ``filters`` its output channels,
    ``in_channels`` the channels it reads; it has biases.
    """
    check_close(
        answer,
        cnn.conv2d_params(in_channels, filters, kernel),
        name="answer_1",
        unit=N_("parameters"),
        rel_tol=1e-9,
        hint=HINTS["7.1"],
        hints=[
            (
                cnn.conv2d_params(in_channels, filters, kernel, bias=False),
                _("each of the {filters} filters has a bias too.", filters=filters),
            ),
            (
                cnn.conv2d_params(filters, filters, kernel),
                _(
                    "the layer reads in_channels = {in_channels} channels, not "
                    "as many as it has filters.",
                    in_channels=in_channels,
                ),
            ),
            (
                in_channels * filters + filters,
                _(
                    "each filter spans {kernel}×{kernel} "
                    "positions of every input channel.",
                    kernel=kernel,
                ),
            ),
            (
                kernel * kernel * in_channels + 1,
                _(
                    "that is one filter; the layer has {filters} of them.",
                    filters=filters,
                ),
            ),
        ],
    )


def ch07_fc1_share(
    answer: object,
    feature_map: tuple[int, int, int] = (7, 7, 512),
    width: int = 4096,
    total: int = vision.VGG16_PARAMETERS,
) -> None:
    """Exercise 7.2: the fraction of VGG16's ``total`` parameters in its first dense
    layer, fc1.

    fc1 has ``width`` units and reads the flattened ``feature_map``; fc2 has as many
    units, and the classifier 1,000.
    """
    flattened = int(np.prod(feature_map))
    fc1 = flattened * width + width
    dense = fc1 + width * width + width + width * 1000 + 1000
    channels = feature_map[-1]
    check_close(
        answer,
        fc1 / total,
        name="answer_2",
        unit=N_("(a fraction)"),
        rel_tol=0.005,
        hint=HINTS["7.2"],
        hints=[
            (dense / total, N_("that is all three dense layers; fc1 alone.")),
            (
                100 * fc1 / total,
                N_("give a fraction between 0 and 1, not a percentage."),
            ),
            (
                (channels * width + width) / total,
                N_(
                    "fc1 reads the whole flattened map: every position of every "
                    "channel."
                ),
            ),
        ],
    )


def ch07_caffe_pixel(
    answer: object, pixel: tuple[int, int, int] = (255, 128, 0)
) -> None:
    """Exercise 7.3: VGG16's preprocessing, by hand, of the RGB ``pixel``
    (255, 128, 0).
    """
    if answer is None or answer is Ellipsis:
        raise AnswerError(
            _("No answer yet: set answer_3 to three numbers and run the cell.")
        )
    got = as_finite_array(answer, "answer_3", (3,))
    rgb = np.array(pixel, dtype=float)
    means = np.array(vision.CAFFE_MEAN_BGR)
    expected = rgb[::-1] - means  # what vision.vgg_preprocess computes, in float64
    if np.allclose(got, expected, rtol=0, atol=1e-3):  # three decimals, as asked
        print(
            _(
                "Correct: {pixel} (blue, green, red).",
                pixel=np.round(expected, 3).tolist(),
            )
        )
        return
    mistakes = [
        (rgb - means, N_("reverse the channel order first: RGB becomes BGR.")),
        (rgb[::-1] - means[::-1], N_("the means are given in BGR order too.")),
        (rgb[::-1], N_("subtract the ImageNet mean of each channel.")),
        (
            (rgb / 255 - vision.IMAGENET_MEAN) / vision.IMAGENET_STD,
            N_(
                "that is the torch-style normalisation; VGG16 keeps pixels in 0–255 "
                "and only subtracts the means."
            ),
        ),
    ]
    for wrong, hint in mistakes:
        if np.allclose(got, wrong, atol=1e-3):
            raise AnswerError(_("Not quite. Hint: {advice}", advice=_(hint)))
    raise AnswerError(_("Not quite. {hint}", hint=next_hint(HINTS["7.3"])))
