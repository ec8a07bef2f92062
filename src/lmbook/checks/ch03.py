"""Checkers of chapter 3: convolutional networks (Exercises 3.1–3.4).

Notebook: ``notebooks/03_convolutional_networks.ipynb``. Each checker takes the variable that
the notebook's checker cell passes (``answer_1``, or the function the learner
wrote) and names that variable in its messages.
"""

from __future__ import annotations

import numpy as np

from lmbook import cnn
from lmbook.checks.core import AnswerError, as_finite_array, as_function, call, check_close


def _resnet_stem(conv_padding: int = 3, pool_padding: int = 1, pool: bool = True) -> int:
    size = cnn.output_size(224, 7, stride=2, padding=conv_padding)
    return cnn.output_size(size, 3, stride=2, padding=pool_padding) if pool else size


def ch03_output_size(answer: object) -> None:
    """Exercise 3.1: side of the feature map after ResNet's stem on a 224×224 image."""
    check_close(
        answer,
        _resnet_stem(),
        name="answer_1",
        unit="pixels",
        rel_tol=1e-6,
        hints=[
            (_resnet_stem(pool=False), "that is after the convolution; the max pool follows."),
            (
                _resnet_stem(pool_padding=0),
                "one padding is missing: the convolution pads by 3 and the pooling by 1.",
            ),
            (_resnet_stem(0, 0), "both layers pad: 3 for the convolution, 1 for the pooling."),
            (56.5, "the output size is a whole number: the formula takes the floor."),
        ],
        default_hint="apply ⌊(H + 2P − K) / S⌋ + 1 twice: first with K = 7, S = 2, P = 3, "
        "then with K = 3, S = 2, P = 1.",
    )


def ch03_flatten_size(answer: object) -> None:
    """Exercise 3.2: in_features of fc1 in the articles' CNN for 1×28×28 inputs."""
    check_close(
        answer,
        64 * 7 * 7,
        name="answer_2",
        unit="features",
        rel_tol=1e-6,
        hints=[
            (
                64 * 28 * 28,
                "that is the articles' number; each of the two poolings halves H and W.",
            ),
            (64 * 14 * 14, "there are two poolings, each halving the height and the width."),
            (32 * 7 * 7, "the last convolution has 64 output channels."),
            (7 * 7, "multiply by the 64 channels of the last feature map."),
            (64 * 6 * 6, "the convolutions pad by 1, so they keep 28×28 and 14×14."),
            (64 * 8 * 8, "that is for 32×32 inputs; here the images are 28×28."),
        ],
        default_hint="follow the shape: the 3×3 convolutions with padding 1 keep H and W, "
        "each 2×2 pooling halves them, and the channels of the last map multiply H·W.",
    )


def _uses_lmbook_cnn(function: object) -> bool:
    """Whether ``function`` is, or names, lmbook.cnn or one of its functions."""
    if getattr(function, "__module__", None) == cnn.__name__:
        return True
    code, names = getattr(function, "__code__", None), set()
    codes = [code] if code is not None else []
    while codes:  # the function's own names and those of functions defined inside it
        current = codes.pop()
        names |= set(current.co_names)
        codes += [const for const in current.co_consts if hasattr(const, "co_names")]
    known = getattr(function, "__globals__", {})
    for name in names:
        value = known.get(name)
        if value is cnn or getattr(value, "__module__", None) == cnn.__name__:
            return True
    return bool(names & {"max_pool2d_backward", "cnn"})


def ch03_max_pool_backward(answer: object) -> None:
    """Exercise 3.3: ``my_max_pool_backward(dout, x) -> dx`` for 2×2 windows, stride 2."""
    signature = "my_max_pool_backward(dout, x)"
    function = as_function(answer, "my_max_pool_backward", signature)
    if _uses_lmbook_cnn(function):
        raise AnswerError(
            "Not yet: the exercise asks for your own NumPy code, without lmbook.cnn. "
            "Write the backward pass with array operations on x and dout."
        )
    rng = np.random.default_rng(3)
    x = rng.permutation(2 * 3 * 6 * 8).reshape(2, 3, 6, 8).astype(float)  # distinct: no ties
    dout = rng.standard_normal((2, 3, 3, 4))
    got = as_finite_array(call(function, signature, dout.copy(), x.copy()), signature, x.shape)
    expected = cnn.max_pool2d_backward(dout, x, 2)
    if np.allclose(got, expected, rtol=0, atol=1e-12):
        print("Correct: every window's gradient goes to its maximum, and only there.")
        return
    spread = np.repeat(np.repeat(dout, 2, axis=2), 2, axis=3)
    if np.allclose(got, spread, atol=1e-12) or np.allclose(got, spread / 4, atol=1e-12):
        raise AnswerError(
            "Not quite: you spread each window's gradient over all four inputs, as average "
            "pooling does. The maximum depends on the winning input only."
        )
    if np.allclose(got.sum(axis=(2, 3)), dout.sum(axis=(2, 3)), atol=1e-10):
        raise AnswerError(
            "Close: the gradient totals are right, but some go to the wrong input. Hint: "
            "find the arg-max of each 2×2 window of x, per example and channel."
        )
    raise AnswerError(
        "Not quite. Hint: dx has x's shape and is zero except at the maximum of each 2×2 "
        "window, where it holds that window's entry of dout."
    )


def _vgg16_receptive_field(pool_stride: int = 2, convs: tuple[int, ...] = (2, 2, 3, 3, 3)) -> int:
    kernels, strides = [], []
    for count in convs:
        kernels += [3] * count + [2]
        strides += [1] * count + [pool_stride]
    return cnn.receptive_field(kernels, strides)


def ch03_vgg_receptive_field(answer: object) -> None:
    """Exercise 3.4: the receptive field of one output of VGG16's last pooling layer."""
    check_close(
        answer,
        _vgg16_receptive_field(),
        name="answer_4",
        unit="pixels",
        rel_tol=1e-6,
        hints=[
            (
                _vgg16_receptive_field(pool_stride=1),
                "the poolings have stride 2: every layer after one steps over twice as many "
                "input pixels.",
            ),
            (1 + 13 * 2, "that counts the 13 convolutions only; the poolings widen the view too."),
            (
                _vgg16_receptive_field() - 16,
                "count the last pooling layer too: its 2×2 window adds one more step.",
            ),
        ],
        default_hint="each of the 18 layers widens the view by (kernel − 1) times the "
        "product of the strides of the layers before it.",
    )
