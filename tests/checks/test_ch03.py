"""The checkers of chapter 3 (``lmbook.checks.ch03``), audited."""

from __future__ import annotations

import numpy as np
from audit import AuditTests, Row, function, number

from lmbook import checks, cnn
from lmbook.checks import ch03


def my_max_pool_backward(dout, x):  # the notebook's solution
    n, c, h, w = x.shape
    windows = x.reshape(n, c, h // 2, 2, w // 2, 2)
    is_max = windows == windows.max(axis=(3, 5), keepdims=True)
    return (is_max * dout[:, :, :, None, :, None]).reshape(x.shape)


def wraps_the_library(dout, x):
    from lmbook.cnn import max_pool2d_backward as backward

    return backward(dout, x, 2)


def spread_gradient(dout, x):
    return np.repeat(np.repeat(dout, 2, axis=2), 2, axis=3)


def side_after(size, kernel, stride, padding):
    return (size + 2 * padding - kernel) // stride + 1


def stem_side(
    image_size, conv_kernel, conv_stride, conv_padding, pool_kernel, pool_stride, pool_padding
):
    conv_side = side_after(image_size, conv_kernel, conv_stride, conv_padding)
    return side_after(conv_side, pool_kernel, pool_stride, pool_padding)


def receptive_field(convolutions_per_block):
    field, jump = 1, 1
    for convolutions in convolutions_per_block:
        field += 2 * convolutions * jump  # 3×3 convolutions, stride 1
        field += jump  # the 2×2 pooling
        jump *= 2
    return field


def experiment(with_shortcuts, without_shortcuts, verdict):
    """An answer to Exercise 3.6; accuracies given as counts of the 500 validation images."""
    return {
        "with shortcuts": [n / 500 for n in with_shortcuts],
        "without shortcuts": [n / 500 for n in without_shortcuts],
        "verdict": verdict,
    }


HELP = experiment([50, 322, 355], [50, 137, 186], "shortcuts help")  # the notebook's runs


AUDIT = [
    number(
        checks.ch03_output_size,
        56,
        [
            (112, "after the convolution"),
            (55, "one padding is missing"),
            (54, "both layers pad"),
            (56.5, "whole number"),
            (28, "a layer maps a side"),
        ],
        solve=stem_side,
    ),
    number(
        checks.ch03_flatten_size,
        64 * 7 * 7,
        [
            (50176, "articles' mistake"),
            (12544, "two poolings"),
            (1568, "64 output channels"),
            (49, "multiply by the 64"),
            (1600, "pad by 1"),
            (4096, "32×32"),
            (100, "last feature map flattened"),
        ],
        solve=lambda image_size: 64 * (image_size // 4) ** 2,
    ),
    function(
        checks.ch03_max_pool_backward,
        my_max_pool_backward,
        [
            (spread_gradient, "average"),
            (lambda dout, x: spread_gradient(dout, x) / 4, "average"),
            (lambda dout, x: my_max_pool_backward(dout, -x), "wrong input"),
            (lambda dout, x: np.zeros_like(x), "won the maximum"),
            (cnn.max_pool2d_backward, "without lmbook.cnn"),  # the exercise forbids it
            (lambda dout, x: cnn.max_pool2d_backward(dout, x, 2), "without lmbook.cnn"),
            (wraps_the_library, "without lmbook.cnn"),
        ],
        [
            ("dx", "should be a function"),
            (lambda dout, x: dout, "shape"),
            (lambda dout, x: 1 / 0, "ZeroDivisionError"),
            (lambda dout, x: x * np.nan, "nan or inf"),
        ],
        generic=lambda dout, x: np.zeros_like(x),
    ),
    number(
        checks.ch03_vgg_receptive_field,
        212,
        [
            (32, "stride 2"),
            (27, "13 convolutions"),
            (196, "last pooling"),
            (224, "widens the view"),
        ],
        solve=receptive_field,
    ),
    Row(
        checks.ch03_shortcut_experiment,
        HELP,
        [
            (experiment([50, 322, 355], [50, 137, 186], "no clear difference"), "3 percentage"),
            (experiment([50, 322, 355], [50, 137, 186], "shortcuts hurt"), "your own histories"),
            (experiment([300, 400], [300, 395], "shortcuts help"), "does not match"),
            (experiment([300, 390], [300, 400], "shortcuts help"), "does not match"),
            (experiment([300, 400], [300, 400], "no clear difference"), "shortcut=False"),
            (experiment([300, 400, 410], [300, 400], "shortcuts help"), "same number of passes"),
            (
                {**HELP, "with shortcuts": [0.2, 0.6543, 0.7123]},
                "validation images",
            ),
        ],
        [
            (None, "No answer yet"),
            ({**HELP, "with shortcuts": None}, "No answer yet"),
            ({**HELP, "verdict": None}, "No answer yet"),
            ({"with shortcuts": [0.5]}, "exactly the keys"),
            ({**HELP, "verdict": "helps a lot"}, "should be one of"),
            ({**HELP, "verdict": 1}, "should be one of"),
            ({**HELP, "without shortcuts": 0.5}, "one validation accuracy per pass"),
            ({**HELP, "without shortcuts": []}, "one validation accuracy per pass"),
            ({**HELP, "without shortcuts": [0.5, 1.5]}, "between 0 and 1"),
            ({**HELP, "without shortcuts": [0.5, float("nan")]}, "finite"),
            ({**HELP, "without shortcuts": [0.5, "0.6"]}, "single number"),
        ],
        also_right=[
            experiment([50, 322, 355], [50, 137, 186], " Shortcuts help "),
            experiment([300, 400], [300, 395], "no clear difference"),
            experiment([300, 400], [300, 416], "shortcuts hurt"),
            experiment([300, 401], [300, 416], "no clear difference"),  # a gap of 3.0 points
        ],
        generic=experiment([300, 400], [300, 450], "shortcuts help"),
    ),
]


class TestAudit(AuditTests):
    module, rows = ch03, AUDIT
