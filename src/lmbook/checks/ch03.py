"""Checkers of chapter 3: convolutional networks (Exercises 3.1–3.4 and 3.6).

Notebook: ``notebooks/03_convolutional_networks.ipynb``. Each checker takes the variable
that the notebook's checker cell passes (``answer_1``, or the function the learner
wrote) and names that variable in its messages. The keyword arguments of a number's
checker are the exercise's given values, with the notebook's as defaults; a function's
checker takes the ``seed`` of its test inputs. The hidden test of
:mod:`lmbook.checks.grading` calls them with others (``SECOND_CASES``).
"""

from __future__ import annotations

import numpy as np

from lmbook import cnn
from lmbook.checks.core import (
    AnswerError,
    Hint,
    SecondCase,
    as_finite_array,
    as_function,
    as_number,
    as_record,
    call,
    check_close,
    next_hint,
    uses_module,
)
from lmbook.checks.messages import N_, _

HINTS = {
    hint.exercise: hint
    for hint in (
        Hint(
            "3.1",
            N_(
                "a layer maps a side of H pixels to ⌊(H + 2P − K) / S⌋ + 1, and the "
                "pooling reads the convolution's output."
            ),
            N_(
                "apply the formula twice: first with the convolution's K, S and P to "
                "the image, then with the pooling's to the result, rounding down each "
                "time."
            ),
        ),
        Hint(
            "3.2",
            N_(
                "fc1 reads the last feature map flattened: its channels times "
                "its height times its width."
            ),
            N_(
                "follow the shape: the 3×3 convolutions with padding 1 keep H and W, "
                "each 2×2 pooling halves them, and the last map has the channels of "
                "conv2."
            ),
        ),
        Hint(
            "3.3",
            N_(
                "max pooling passes each window's gradient to the input that won the "
                "maximum, and nothing to the others."
            ),
            N_(
                "reshape x to (N, C, H/2, 2, W/2, 2), mark where each window equals "
                "its maximum over axes 3 and 5, multiply that mask by dout with axes "
                "added at 3 and 5, and reshape back to x's shape."
            ),
        ),
        Hint(
            "3.4",
            N_(
                "each layer widens the view by (kernel − 1) times the product of the "
                "strides of the layers before it."
            ),
            N_(
                "list the layers in order, every convolution (K = 3, S = 1) and every "
                "pooling (K = 2, S = 2); start from 1 and, layer by layer, add "
                "(K − 1)·J, where J is the product of the strides before that layer."
            ),
        ),
        Hint(
            "3.6",
            N_(
                "read the verdict off your own two histories: only the validation "
                "accuracies after the last pass count, and a gap of more than 3 "
                "percentage points (15 of the 500 validation images) is a clear one."
            ),
            N_(
                "subtract the last accuracy without shortcuts from the last accuracy "
                "with them: above 0.03 the shortcuts help, below −0.03 they hurt, and "
                "in between there is no clear difference."
            ),
        ),
    )
}

# Exercise 3.6: the keys of the answer, the verdicts, the gap that counts as clear, and
# the size of the validation set whose accuracies the histories hold.
EXPERIMENT_KEYS = ("with shortcuts", "without shortcuts", "verdict")
VERDICTS = ("shortcuts help", "shortcuts hurt", "no clear difference")
CLEAR_GAP = 0.03
VALIDATION_IMAGES = 500


def _stem_values(rng: np.random.Generator) -> dict[str, int]:
    """Another image size, and another convolution and pooling of a CNN's
    first layers.
    """
    conv_kernel, conv_stride, conv_padding = [
        (7, 2, 3),
        (5, 2, 2),
        (3, 2, 1),
        (3, 1, 1),
    ][rng.integers(4)]
    pool_kernel, pool_stride, pool_padding = [(3, 2, 1), (2, 2, 0), (3, 2, 0)][
        rng.integers(3)
    ]
    return {
        "image_size": int(rng.choice([128, 160, 192, 256, 288, 320, 384, 448, 512])),
        "conv_kernel": conv_kernel,
        "conv_stride": conv_stride,
        "conv_padding": conv_padding,
        "pool_kernel": pool_kernel,
        "pool_stride": pool_stride,
        "pool_padding": pool_padding,
    }


def _blocks(rng: np.random.Generator) -> dict[str, tuple[int, ...]]:
    """Another VGG-like stack: three to five blocks of one to four convolutions."""
    while True:
        blocks = tuple(int(n) for n in rng.integers(1, 5, size=int(rng.integers(3, 6))))
        if abs(_receptive_field(blocks) - _receptive_field((2, 2, 3, 3, 3))) > 8:
            return {"convolutions_per_block": blocks}


SECOND_CASES = {
    # "Use the formula of section 3.3, not a framework": the rerun cell may not build
    # layers.
    "ch03_output_size": SecondCase(
        "answer_1",
        draw=_stem_values,
        forbidden=("torch", "tf", "tensorflow", "keras", "F"),
    ),
    "ch03_flatten_size": SecondCase(
        "answer_2",
        draw=lambda rng: {
            "image_size": int(rng.choice([16, 20, 24, 32, 36, 40, 48, 56, 64]))
        },
    ),
    "ch03_max_pool_backward": SecondCase("my_max_pool_backward", seeded=True),
    "ch03_vgg_receptive_field": SecondCase("answer_4", draw=_blocks),
    # An experiment: the learner's own runs are the data, so there is no second case.
    "ch03_shortcut_experiment": SecondCase("answer_6"),
}


def ch03_output_size(
    answer: object,
    image_size: int = 224,
    conv_kernel: int = 7,
    conv_stride: int = 2,
    conv_padding: int = 3,
    pool_kernel: int = 3,
    pool_stride: int = 2,
    pool_padding: int = 1,
) -> None:
    """Exercise 3.1: side of the feature map after a convolution and a pooling
    (ResNet's stem).
    """

    def stem(conv_padding: int = conv_padding, pool_padding: int = pool_padding) -> int:
        size = cnn.output_size(
            image_size, conv_kernel, stride=conv_stride, padding=conv_padding
        )
        return cnn.output_size(
            size, pool_kernel, stride=pool_stride, padding=pool_padding
        )

    after_conv = cnn.output_size(
        image_size, conv_kernel, stride=conv_stride, padding=conv_padding
    )
    unrounded = (after_conv + 2 * pool_padding - pool_kernel) / pool_stride + 1
    check_close(
        answer,
        stem(),
        name="answer_1",
        unit=N_("pixels"),
        rel_tol=1e-6,
        hint=HINTS["3.1"],
        hints=[
            (after_conv, N_("that is after the convolution; the max pool follows.")),
            (
                stem(pool_padding=0),
                _(
                    "one padding is missing: the convolution pads by {conv} and "
                    "the pooling by {pool}.",
                    conv=conv_padding,
                    pool=pool_padding,
                ),
            ),
            (
                stem(0, 0),
                _(
                    "both layers pad: {conv} for the convolution, {pool} for the "
                    "pooling.",
                    conv=conv_padding,
                    pool=pool_padding,
                ),
            ),
            (
                unrounded,
                N_("the output size is a whole number: the formula takes the floor."),
            ),
        ],
    )


def _flattened(
    image_size: int, padding: int = 1, poolings: int = 2, channels: int = 64
) -> int:
    """in_features of the articles' fc1: two 3×3 convolutions, each followed by
    2×2 pooling.
    """
    side = image_size
    for layer in range(2):
        side = cnn.output_size(side, 3, stride=1, padding=padding)
        if layer < poolings:
            side = cnn.output_size(side, 2, stride=2)
    return channels * side * side


def ch03_flatten_size(answer: object, image_size: int = 28) -> None:
    """Exercise 3.2: in_features of fc1 in the articles' CNN for
    1×image_size×image_size inputs.
    """
    hints = [
        (
            _flattened(image_size, poolings=0),
            N_(
                "that keeps the image's height and width, the articles' mistake; each "
                "of the two poolings halves H and W."
            ),
        ),
        (
            _flattened(image_size, poolings=1),
            N_("there are two poolings, each halving the height and the width."),
        ),
        (
            _flattened(image_size, channels=32),
            N_("the last convolution has 64 output channels."),
        ),
        (
            _flattened(image_size, channels=1),
            N_("multiply by the 64 channels of the last feature map."),
        ),
        (
            _flattened(image_size, padding=0),
            N_(
                "the convolutions pad by 1, so each keeps the "
                "height and width it is given."
            ),
        ),
    ]
    if image_size != 32:
        hints.append(
            (
                _flattened(32),
                _(
                    "that is for the 32×32 inputs of section 3.8; here the images are "
                    "{size}×{size}.",
                    size=image_size,
                ),
            )
        )
    check_close(
        answer,
        _flattened(image_size),
        name="answer_2",
        unit=N_("features"),
        rel_tol=1e-6,
        hint=HINTS["3.2"],
        hints=hints,
    )


def ch03_max_pool_backward(answer: object, seed: int = 3) -> None:
    """Exercise 3.3: ``my_max_pool_backward(dout, x) -> dx`` for 2×2
    windows, stride 2.
    """
    signature = "my_max_pool_backward(dout, x)"
    function = as_function(answer, "my_max_pool_backward", signature)
    if uses_module(function, cnn):
        raise AnswerError(
            _(
                "Not yet: the exercise asks for your own NumPy code, without "
                "lmbook.cnn. Write the backward pass with array operations on x and "
                "dout."
            )
        )
    rng = np.random.default_rng(seed)
    # Distinct: no ties.
    x = rng.permutation(2 * 3 * 6 * 8).reshape(2, 3, 6, 8).astype(float)
    dout = rng.standard_normal((2, 3, 3, 4))
    got = as_finite_array(
        call(function, signature, dout.copy(), x.copy()), signature, x.shape
    )
    expected = cnn.max_pool2d_backward(dout, x, 2)
    if np.allclose(got, expected, rtol=0, atol=1e-12):
        print(
            _("Correct: every window's gradient goes to its maximum, and only there.")
        )
        return
    spread = np.repeat(np.repeat(dout, 2, axis=2), 2, axis=3)
    if np.allclose(got, spread, atol=1e-12) or np.allclose(got, spread / 4, atol=1e-12):
        raise AnswerError(
            _(
                "Not quite: you spread each window's gradient over all four inputs, as "
                "average pooling does. The maximum depends on the winning input only."
            )
        )
    if np.allclose(got.sum(axis=(2, 3)), dout.sum(axis=(2, 3)), atol=1e-10):
        raise AnswerError(
            _(
                "Close: the gradient totals are right, but some go to the wrong "
                "input. Hint: find the arg-max of each 2×2 window of x, per example "
                "and channel."
            )
        )
    raise AnswerError(
        _(
            "Not quite: dx is not the gradient of the pooling. {hint}",
            hint=next_hint(HINTS["3.3"]),
        )
    )


def _receptive_field(
    convolutions_per_block: tuple[int, ...],
    pool_stride: int = 2,
    last_pool: bool = True,
) -> int:
    kernels, strides = [], []
    for count in convolutions_per_block:
        kernels += [3] * count + [2]
        strides += [1] * count + [pool_stride]
    if not last_pool:
        kernels, strides = kernels[:-1], strides[:-1]
    return cnn.receptive_field(kernels, strides)


def ch03_vgg_receptive_field(
    answer: object, convolutions_per_block: tuple[int, ...] = (2, 2, 3, 3, 3)
) -> None:
    """Exercise 3.4: the receptive field of one output of VGG16's last pooling layer."""
    blocks = tuple(convolutions_per_block)
    convolutions = sum(blocks)
    check_close(
        answer,
        _receptive_field(blocks),
        name="answer_4",
        unit=N_("pixels"),
        rel_tol=1e-6,
        hint=HINTS["3.4"],
        hints=[
            (
                _receptive_field(blocks, pool_stride=1),
                N_(
                    "the poolings have stride 2: every layer after one steps over "
                    "twice as many input pixels."
                ),
            ),
            (
                1 + convolutions * 2,
                _(
                    "that counts the {count} convolutions only; the poolings widen "
                    "the view too.",
                    count=convolutions,
                ),
            ),
            (
                _receptive_field(blocks, last_pool=False),
                N_(
                    "count the last pooling layer too: its 2×2 window adds one more "
                    "step."
                ),
            ),
        ],
    )


def _history(answer: dict, key: str) -> list[float]:
    """One run's validation accuracies, checked to be measured on the 500 images."""
    name = f'answer_6["{key}"]'
    history = answer[key]
    if history is None:
        raise AnswerError(
            _(
                "No answer yet: {name} is None; train the network and store its "
                "validation accuracy after each pass, a list of numbers.",
                name=name,
            )
        )
    if not isinstance(history, list | tuple) or not history:
        raise AnswerError(
            _(
                "{name} should be a list with one validation accuracy per pass, got "
                "{history}",
                name=name,
                history=repr(history),
            )
        )
    values = [
        as_number(v, f"{name}[{i}]", N_("(a fraction)")) for i, v in enumerate(history)
    ]
    if not all(0 <= v <= 1 for v in values):
        raise AnswerError(
            _(
                "{name} should hold accuracies between 0 and 1, got {history}",
                name=name,
                history=repr(history),
            )
        )
    counts = np.asarray(values) * VALIDATION_IMAGES
    if np.abs(counts - np.round(counts)).max() > 1e-6:
        raise AnswerError(
            _(
                "Not quite: {name} does not look like accuracies on the {images} "
                "validation images (each should be a whole number of images divided "
                "by {images}). Store the eval_accuracy values that short_run returns, "
                "unrounded.",
                name=name,
                images=VALIDATION_IMAGES,
            )
        )
    return values


def ch03_shortcut_experiment(answer: object) -> None:
    """Exercise 3.6: the deep network trained with and without shortcuts, and a verdict.

    ``answer`` is a dict: ``"with shortcuts"`` and ``"without shortcuts"`` (each run's
    validation accuracy after every pass, on the 500 validation images) and
    ``"verdict"``, the learner's reading of their own runs: the shortcuts help (the
    last accuracy is more than 3 points higher with them), hurt (more than 3 points
    lower) or make no clear difference. Any outcome is right if the verdict matches it.
    """
    answer = as_record(answer, "answer_6", EXPERIMENT_KEYS)
    with_shortcuts = _history(answer, "with shortcuts")
    without_shortcuts = _history(answer, "without shortcuts")
    stated = answer["verdict"]
    if stated is None:
        raise AnswerError(
            _(
                "No answer yet: {name} is None; read it off your two runs.",
                name='answer_6["verdict"]',
            )
        )
    if not isinstance(stated, str) or stated.strip().lower() not in VERDICTS:
        raise AnswerError(
            _(
                "{name} should be one of {verdicts}, got {verdict}",
                name='answer_6["verdict"]',
                verdicts=", ".join(repr(v) for v in VERDICTS),
                verdict=repr(stated),
            )
        )
    if len(with_shortcuts) != len(without_shortcuts):
        raise AnswerError(
            _(
                "Not quite: the two runs should train for the same number of passes, "
                "but your histories have {with_count} and {without_count} entries. "
                "Train both for the same passes over the same images.",
                with_count=len(with_shortcuts),
                without_count=len(without_shortcuts),
            )
        )
    if with_shortcuts == without_shortcuts:
        raise AnswerError(
            _(
                "Not quite: the two histories are identical, so both runs trained the "
                "same network. Build the second one with shortcut=False."
            )
        )
    # The gap in images, so that exactly 3 points (15 images) is not clear.
    gap = round((with_shortcuts[-1] - without_shortcuts[-1]) * VALIDATION_IMAGES)
    clear = round(CLEAR_GAP * VALIDATION_IMAGES)
    measured = VERDICTS[2]
    if abs(gap) > clear:
        measured = VERDICTS[0] if gap > 0 else VERDICTS[1]
    if stated.strip().lower() != measured:
        raise AnswerError(
            _(
                "Not quite: your verdict {verdict} does not match your own histories. "
                "{hint}",
                verdict=repr(stated),
                hint=next_hint(HINTS["3.6"]),
            )
        )
    print(
        _(
            "Correct: your runs end at {with_end:.3f} with shortcuts and "
            "{without_end:.3f} without, so {verdict} is what they show.",
            with_end=with_shortcuts[-1],
            without_end=without_shortcuts[-1],
            verdict=repr(measured),
        )
    )
