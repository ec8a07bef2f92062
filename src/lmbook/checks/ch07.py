"""Checkers of chapter 7: pretrained vision models (Exercises 7.1–7.3).

Notebook: ``notebooks/07_pretrained_vision_models.ipynb``. Each checker takes the variable that
the notebook's checker cell passes (``answer_1``, or the function the learner
wrote) and names that variable in its messages.
"""

from __future__ import annotations

import numpy as np

from lmbook import cnn, vision
from lmbook.checks.core import AnswerError, as_finite_array, check_close


def ch07_conv_params(answer: object) -> None:
    """Exercise 7.1: parameters of VGG16's block3_conv1 (128 -> 256 channels, 3×3)."""
    check_close(
        answer,
        cnn.conv2d_params(128, 256, 3),
        name="answer_1",
        unit="parameters",
        rel_tol=1e-9,
        hints=[
            (cnn.conv2d_params(128, 256, 3, bias=False), "each of the 256 filters has a bias too."),
            (cnn.conv2d_params(256, 256, 3), "block3_conv1 reads block 2's output: 128 channels."),
            (128 * 256 + 256, "each filter spans 3×3 positions of every input channel."),
            (3 * 3 * 128 + 1, "that is one filter; the layer has 256 of them."),
        ],
        default_hint="a convolution has C_out · C_in · K_h · K_w weights and C_out biases.",
    )


def ch07_fc1_share(answer: object) -> None:
    """Exercise 7.2: the fraction of VGG16's parameters in its first dense layer, fc1."""
    fc1 = 7 * 7 * 512 * 4096 + 4096
    dense = fc1 + 4096 * 4096 + 4096 + 4096 * 1000 + 1000
    check_close(
        answer,
        fc1 / vision.VGG16_PARAMETERS,
        name="answer_2",
        unit="(a fraction)",
        rel_tol=0.002,
        hints=[
            (dense / vision.VGG16_PARAMETERS, "that is all three dense layers; fc1 alone."),
            (
                100 * fc1 / vision.VGG16_PARAMETERS,
                "give a fraction between 0 and 1, not a percentage.",
            ),
            ((512 * 4096 + 4096) / vision.VGG16_PARAMETERS, "fc1 reads the flattened 7×7×512 map."),
        ],
        default_hint="count fc1's weights and biases from the sizes of its input and its "
        "output, then divide by the whole network's count.",
    )


def ch07_caffe_pixel(answer: object) -> None:
    """Exercise 7.3: VGG16's preprocessing, by hand, of the RGB pixel (255, 128, 0)."""
    if answer is None or answer is Ellipsis:
        raise AnswerError("No answer yet: set answer_3 to three numbers and run the cell.")
    got = as_finite_array(answer, "answer_3", (3,))
    expected = vision.vgg_preprocess(np.array([[[255, 128, 0]]], dtype=np.uint8))[0, 0]
    if np.allclose(got, expected, atol=1e-3):
        print(f"Correct: {np.round(expected, 3).tolist()} (blue, green, red).")
        return
    means = np.array(vision.CAFFE_MEAN_BGR)
    mistakes = [
        (
            np.array([255.0, 128.0, 0.0]) - means,
            "reverse the channel order first: RGB becomes BGR.",
        ),
        (np.array([0.0, 128.0, 255.0]) - means[::-1], "the means are given in BGR order too."),
        (np.array([0.0, 128.0, 255.0]), "subtract the ImageNet mean of each channel."),
        (
            (np.array([1.0, 128 / 255, 0.0]) - vision.IMAGENET_MEAN) / vision.IMAGENET_STD,
            "that is the torch-style normalisation; VGG16 keeps pixels in 0–255 and only "
            "subtracts the means.",
        ),
    ]
    for wrong, hint in mistakes:
        if np.allclose(got, wrong, atol=1e-3):
            raise AnswerError(f"Not quite: {hint}")
    raise AnswerError(
        "Not quite. Hint: as section 7.2 shows, VGG16's 'caffe' preprocessing puts the pixel "
        "in BGR order, then subtracts the ImageNet mean of each channel (the means listed in "
        "BGR order too); the pixel values stay in 0–255."
    )
