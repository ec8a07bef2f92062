"""The checkers of chapter 3 (``lmbook.checks.ch03``), audited."""

from __future__ import annotations

import numpy as np
from audit import AuditTests, function, number

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


AUDIT = [
    number(
        checks.ch03_output_size,
        56,
        [
            (112, "after the convolution"),
            (55, "one padding is missing"),
            (54, "both layers pad"),
            (56.5, "whole number"),
            (28, "twice"),
        ],
    ),
    number(
        checks.ch03_flatten_size,
        64 * 7 * 7,
        [
            (50176, "articles' number"),
            (12544, "two poolings"),
            (1568, "64 output channels"),
            (49, "multiply by the 64"),
            (2304, "pad by 1"),
            (4096, "32×32"),
            (100, "follow the shape"),
        ],
    ),
    function(
        checks.ch03_max_pool_backward,
        my_max_pool_backward,
        [
            (spread_gradient, "average"),
            (lambda dout, x: spread_gradient(dout, x) / 4, "average"),
            (lambda dout, x: my_max_pool_backward(dout, -x), "wrong input"),
            (lambda dout, x: np.zeros_like(x), "zero except at the maximum"),
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
    ),
    number(
        checks.ch03_vgg_receptive_field,
        212,
        [(32, "stride 2"), (27, "13 convolutions"), (196, "last pooling"), (224, "18 layers")],
    ),
]


class TestAudit(AuditTests):
    module, rows = ch03, AUDIT
