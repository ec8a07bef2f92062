"""Exercise checkers: each accepts a right answer, rejects a wrong one with a hint.

A checker prints a short confirmation when the answer is right. When it is
wrong it raises :class:`AnswerError` whose message teaches (what to
reconsider) without giving the answer away. An answer of the wrong type or
shape gets a message that says what was expected.

Checkers are named ``ch<chapter>_<exercise>``, e.g. ``ch01_training_compute``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

import numpy as np

from lmbook import attention, cnn, nn, rnn, scaling, vision


class AnswerError(AssertionError):
    """The answer is missing, malformed or wrong; the message says how to proceed."""


def _size(value: object) -> int | None:
    """The number of entries of a NumPy array or a torch tensor; None for anything else."""
    numel = getattr(value, "numel", None)  # torch: .size is a method, .numel() the count
    size = numel() if callable(numel) else getattr(value, "size", None)
    return size if isinstance(size, int) else None


def _as_number(answer: object, name: str, unit: str) -> float:
    if answer is None or answer is Ellipsis:
        raise AnswerError(f"No answer yet: set {name} to a number (in {unit}) and run the cell.")
    if isinstance(answer, bool) or not isinstance(answer, numbers.Real):
        if hasattr(answer, "item") and _size(answer) == 1:  # a NumPy scalar, a 0-d tensor
            return _as_number(answer.item(), name, unit)
        raise AnswerError(
            f"{name} should be a single number (in {unit}), "
            f"but it is a {type(answer).__name__}: {answer!r}"
        )
    try:
        value = float(answer)
    except OverflowError:  # an int beyond the range of floats
        raise AnswerError(
            f"{name} is an integer too large for a float; expected a finite number in {unit}."
        ) from None
    if not math.isfinite(value):
        raise AnswerError(f"{name} is {value}; expected a finite number in {unit}.")
    return value


def check_close(
    answer: object,
    expected: float,
    *,
    name: str,
    unit: str,
    rel_tol: float,
    hints: list[tuple[float, str]] | None = None,
    default_hint: str = "Recheck each factor and its unit.",
) -> None:
    """Accept ``answer`` if it is within ``rel_tol`` of ``expected``.

    ``hints`` pairs a typical wrong value with the advice for it; the first one
    that ``answer`` matches (within ``rel_tol``) is given, else ``default_hint``.
    """
    if not 0 < rel_tol < 1:
        raise ValueError(f"rel_tol must be in (0, 1), got {rel_tol}")
    value = _as_number(answer, name, unit)
    if math.isclose(value, expected, rel_tol=rel_tol):
        print(f"Correct: {name} = {value:.4g} {unit}.")
        return
    hint = default_hint
    for wrong_value, advice in hints or []:
        if math.isclose(value, wrong_value, rel_tol=rel_tol):
            hint = advice
            break
    if value > 0 and expected > 0:
        off_by = math.log10(value / expected)
        size = f" It is off by a factor of about 10^{off_by:.1f}." if abs(off_by) >= 1 else ""
    else:
        size = ""
    raise AnswerError(f"Not quite: {name} = {value:.4g} {unit} is not right.{size} Hint: {hint}")


# Chapter 1 ----------------------------------------------------------------


def ch01_training_compute(answer: object) -> None:
    """Exercise 1.1: FLOPs to train 65e9 parameters on 1.4e12 tokens with C = 6·N·D."""
    expected = scaling.training_compute(65e9, 1.4e12)
    check_close(
        answer,
        expected,
        name="answer_1",
        unit="FLOP",
        rel_tol=0.02,
        hints=[
            (
                65e9 * 1.4e12,
                "you counted one operation per parameter per token; "
                "what do the forward and backward passes cost?",
            ),
            (2 * 65e9 * 1.4e12, "that is the forward pass alone; add the backward pass."),
        ],
        default_hint="write N and D in scientific notation (65 billion = 6.5e10) and "
        "multiply 6 · N · D.",
    )


def ch01_chinchilla_rule(answer: object) -> None:
    """Exercise 1.2: parameters for a 1e24 FLOP budget under D = 20·N and C = 6·N·D."""
    expected, _ = scaling.tokens_per_parameter_optimal(1e24, 20.0)
    check_close(
        answer,
        expected,
        name="answer_2",
        unit="parameters",
        rel_tol=0.03,
        hints=[
            (20 * expected, "that is the number of tokens D; the question asks for N."),
            (1e24 / 120, "substituting D = 20·N gives C = 120·N², so take a square root."),
        ],
        default_hint="substitute D = 20·N into C = 6·N·D and solve the quadratic for N.",
    )


def ch01_doubling_months(answer: object) -> None:
    """Exercise 1.3: doubling time, in months, of growth from 1.5e9 to 175e9 in 15 months."""
    expected = 15.0 / math.log2(175e9 / 1.5e9)
    check_close(
        answer,
        expected,
        name="answer_3",
        unit="months",
        rel_tol=0.03,
        hints=[
            (
                15.0 / (175e9 / 1.5e9),
                "divide by the number of doublings, log2(ratio), not by the ratio itself.",
            ),
            (15.0 / math.log(175e9 / 1.5e9), "a doubling is a factor of 2: use log2, not ln."),
            (15.0 / math.log10(175e9 / 1.5e9), "a doubling is a factor of 2: use log2, not log10."),
        ],
        default_hint="count the doublings, log2(final / initial), and divide the months by it.",
    )


# Chapter 2 ----------------------------------------------------------------


def _as_function(answer: object, name: str, signature: str) -> Callable:
    if answer is None or answer is Ellipsis:
        raise AnswerError(f"No answer yet: define {signature} and run the cell.")
    if not callable(answer):
        raise AnswerError(f"{name} should be a function {signature}, got {type(answer).__name__}")
    return answer


def _call(function: Callable, signature: str, *args: np.ndarray):
    try:
        return function(*args)
    except Exception as error:  # the learner's code: report its error, whatever it is
        raise AnswerError(f"Calling {signature} raised {type(error).__name__}: {error}") from error


def _numpy_readable(value: object) -> object:
    """``value``, or, for a torch tensor, a detached CPU copy that NumPy can read."""
    detach = getattr(value, "detach", None)
    if callable(detach) and hasattr(value, "cpu"):
        try:
            return detach().cpu()
        except Exception:  # noqa: BLE001 - not a tensor after all; let NumPy judge it
            return value
    return value


def _float_array(value: object) -> np.ndarray | None:
    """``value`` as a float array, or None if it is not an array of numbers."""
    try:
        return np.asarray(_numpy_readable(value), dtype=float)
    except (TypeError, ValueError, RuntimeError, OverflowError):  # strings, ragged lists, dicts
        return None


def _as_array(value: object, what: str, shape: tuple[int, ...]) -> np.ndarray:
    array = None if value is None else _float_array(value)
    if array is None or array.shape != shape:
        if value is None:
            got = "None"
        elif array is None:
            got = f"a {type(value).__name__} that is not an array of numbers"
        else:
            got = f"shape {array.shape}"
        raise AnswerError(f"{what} should be a float array of shape {shape}, got {got}.")
    return array


def _as_finite_array(value: object, what: str, shape: tuple[int, ...]) -> np.ndarray:
    array = _as_array(value, what, shape)
    if not np.all(np.isfinite(array)):
        raise AnswerError(f"{what} contains nan or inf; expected {array.size} finite numbers.")
    return array


def ch02_sigmoid_derivative(answer: object) -> None:
    """Exercise 2.1: a function that returns σ'(z) elementwise for a NumPy array z."""
    signature = "sigmoid_derivative(z)"
    function = _as_function(answer, "sigmoid_derivative", signature)
    z = np.concatenate([[-800.0, -100.0], np.linspace(-30.0, 30.0, 241), [100.0, 800.0]])
    with np.errstate(all="ignore"):
        got = _as_array(_call(function, signature, z.copy()), f"{signature}", z.shape)
    sigma = nn.sigmoid(z)
    expected = sigma * (1.0 - sigma)
    if np.allclose(got, expected, rtol=1e-6, atol=1e-12):
        print("Correct: sigmoid_derivative(z) = σ(z)·(1 − σ(z)) for z from −800 to 800.")
        return
    if not np.all(np.isfinite(got)):
        raise AnswerError(
            "Your function returns inf or nan for some z in [−800, 800]. Hint: compute σ(z) "
            "once (nn.sigmoid is stable) and write the derivative in terms of it."
        )
    for wrong, advice in (
        (sigma, "that is σ(z) itself; differentiate 1 / (1 + e^(−z)) with the chain rule."),
        (1.0 - sigma**2, "1 − σ² is the pattern of tanh' = 1 − tanh²; σ' factors differently."),
        (-expected, "check the sign: σ is increasing, so σ' is positive everywhere."),
    ):
        if np.allclose(got, wrong, rtol=1e-6, atol=1e-12):
            raise AnswerError(f"Not quite: {advice}")
    worst = float(z[np.argmax(np.abs(got - expected))])
    raise AnswerError(
        f"Not quite: the largest error is at z = {worst:g}. Hint: write e^(−z) in terms of "
        "σ(z) and 1 − σ(z)."
    )


def ch02_linear_backward(answer: object) -> None:
    """Exercise 2.2: ``linear_backward(dZ, A, W) -> (dA, dW, db)`` for Z = A @ W.T + b."""
    signature = "linear_backward(dZ, A, W)"
    function = _as_function(answer, "linear_backward", signature)
    rng = np.random.default_rng(2)
    batch, inputs, outputs = 5, 4, 3
    a, w = rng.standard_normal((batch, inputs)), rng.standard_normal((outputs, inputs))
    dz = rng.standard_normal((batch, outputs))
    result = _call(function, signature, dz.copy(), a.copy(), w.copy())
    if not isinstance(result, tuple | list) or len(result) != 3:
        raise AnswerError(f"{signature} should return three arrays (dA, dW, db), got {result!r}")
    expected = {"dA": dz @ w, "dW": dz.T @ a, "db": dz.sum(axis=0)}
    hints = {
        "dA": "A[n, j] reaches every output Z[n, i] through W[i, j], so sum over i; "
        "dA has A's shape (batch, inputs).",
        "dW": "dW has W's shape (outputs, inputs); W[i, j] meets Z[n, i] in every example n, "
        "so sum over the batch.",
        "db": "b is added to every row of Z: collect its gradient from every row.",
    }
    for (key, value), got in zip(expected.items(), result, strict=True):
        try:
            array = _as_finite_array(got, key, value.shape)
        except AnswerError as error:
            raise AnswerError(f"{error} Hint: {hints[key]}") from None
        if not np.allclose(array, value, atol=1e-10):
            if key == "db" and np.allclose(array, dz.mean(axis=0), atol=1e-10):
                raise AnswerError(
                    "db: dZ already holds the 1/batch of the mean loss; sum, do not average."
                )
            raise AnswerError(f"{key} has the right shape but wrong values. Hint: {hints[key]}")
    print("Correct: all three gradients match, shapes included.")


def ch02_max_learning_rate(answer: object) -> None:
    """Exercise 2.3: the largest stable gradient-descent step for curvatures 0.5 and 4."""
    check_close(
        answer,
        2.0 / 4.0,
        name="answer_3",
        unit="(learning rate)",
        rel_tol=0.01,
        hints=[
            (2.0 / 0.5, "the flat direction allows that, but the steep one diverges long before."),
            (
                1.0 / 4.0,
                "η = 1/λ reaches the minimum of the steep direction in one step; "
                "stability ends where |1 − ηλ| reaches 1.",
            ),
            (
                2.0 / 4.5,
                "that step converges fastest overall; the question asks where it stops converging.",
            ),
            (2.0 / 2.25, "use the largest curvature, not the average."),
        ],
        default_hint="each direction is multiplied by (1 − ηλ) per step; require |1 − ηλ| < 1 "
        "for both curvatures.",
    )


def ch02_softmax_as_logits_loss(answer: object) -> None:
    """Exercise 2.4: the loss of a perfect one-hot prediction misread as logits, 10 classes."""
    expected = math.log(math.e + 9.0) - 1.0
    check_close(
        answer,
        expected,
        name="answer_4",
        unit="nats",
        rel_tol=0.005,
        hints=[
            (
                0.0,
                "that is the loss if the probabilities were read as probabilities; "
                "from_logits=True applies a second softmax to them.",
            ),
            (math.log(10.0), "close: the second softmax is nearly, but not exactly, uniform."),
            (math.log(math.e + 9.0), "subtract the logit of the true class, which is 1."),
        ],
        default_hint="apply softmax to the vector (1, 0, …, 0) of length 10 and take −log of "
        "the first entry.",
    )


# Chapter 3 ----------------------------------------------------------------


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


def ch03_max_pool_backward(answer: object) -> None:
    """Exercise 3.3: ``my_max_pool_backward(dout, x) -> dx`` for 2×2 windows, stride 2."""
    signature = "my_max_pool_backward(dout, x)"
    function = _as_function(answer, "my_max_pool_backward", signature)
    rng = np.random.default_rng(3)
    x = rng.permutation(2 * 3 * 6 * 8).reshape(2, 3, 6, 8).astype(float)  # distinct: no ties
    dout = rng.standard_normal((2, 3, 3, 4))
    got = _as_finite_array(_call(function, signature, dout.copy(), x.copy()), signature, x.shape)
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
        default_hint="list the 18 layers (13 convolutions 3×3, stride 1, and 5 poolings 2×2, "
        "stride 2) in order and use cnn.receptive_field(kernels, strides).",
    )


# Chapter 4 ----------------------------------------------------------------


def _lstm_parameters(n: int, inputs: tuple[int, ...], gates: int = 4, biases: int = 2) -> int:
    return sum(gates * (n * d + n * n + biases * n) for d in inputs)


def ch04_lstm_parameters(answer: object) -> None:
    """Exercise 4.1: parameters of ``torch.nn.LSTM(10, 20, num_layers=2)``."""
    check_close(
        answer,
        _lstm_parameters(20, (10, 20)),
        name="answer_1",
        unit="parameters",
        rel_tol=1e-6,
        hints=[
            (
                _lstm_parameters(20, (10, 10)),
                "the second layer reads the first layer's states, so its input size is "
                "hidden_size, not input_size.",
            ),
            (
                _lstm_parameters(20, (10, 20), biases=1),
                "PyTorch keeps two bias vectors, bias_ih and bias_hh, for every gate.",
            ),
            (
                _lstm_parameters(20, (10, 20), biases=0),
                "you left out the biases; PyTorch has two bias vectors for every gate.",
            ),
            (_lstm_parameters(20, (10,)), "that is one layer; num_layers=2 stacks a second."),
            (
                _lstm_parameters(20, (10, 20), gates=1),
                "an LSTM has four blocks of weights, one for each of the gates i, f, g and o.",
            ),
        ],
        default_hint="count, for each layer, 4 gates × (hidden·input + hidden·hidden + 2·hidden).",
    )


def ch04_vanishing_steps(answer: object) -> None:
    """Exercise 4.2: smallest whole T with 0.9**T below 1e-3."""
    exact = math.log(1e-3) / math.log(0.9)
    check_close(
        answer,
        math.ceil(exact),
        name="answer_2",
        unit="steps",
        rel_tol=0.005,
        hints=[
            (exact, "a number of steps is a whole number: round so that 0.9^T is below 1e-3."),
            (math.floor(exact), "0.9^T at that T is still above 1e-3: round up, not down."),
            (3.0, "the bound is 0.9^T, the largest singular value to the power T, not 0.1^T."),
            (4.0, "the bound is 0.9^T, the largest singular value to the power T, not 0.1^T."),
        ],
        default_hint="take logarithms of 0.9^T < 1e-3; log(0.9) is negative, which flips "
        "the inequality.",
    )


def ch04_forget_bias(answer: object) -> None:
    """Exercise 4.3: the forget-gate bias b with sigmoid(b)**100 = 0.5."""
    gate = 0.5 ** (1 / 100)
    check_close(
        answer,
        math.log(gate / (1 - gate)),
        name="answer_3",
        unit="(no unit)",
        rel_tol=0.01,
        hints=[
            (
                gate,
                "that is the gate value f; the question asks for the bias b with σ(b) = f, "
                "so invert the sigmoid.",
            ),
            (-math.log(gate / (1 - gate)), "check the sign: a gate near 1 needs a large bias."),
            (1 - gate, "that is 1 - f; invert the sigmoid: b = ln(f / (1 - f))."),
            (math.log(gate), "that is ln f; the inverse of the sigmoid is ln(f / (1 - f))."),
        ],
        default_hint="first solve f^100 = 0.5 for f, then invert f = σ(b) = 1 / (1 + e^(-b)).",
    )


def _gru_variant(params, x, h, *, swap_z=False, reset_before=False, bias_outside=False):
    """A GRU step with one of the usual mistakes switched on (for ch04_gru_step's hints)."""

    def gate(name):
        return rnn.sigmoid(
            x @ params[f"W_x{name}"].T + h @ params[f"W_h{name}"].T + params[f"b_{name}"]
        )

    r, z = gate("r"), gate("z")
    if reset_before:
        recurrent = (r * h) @ params["W_hn"].T + params["b_hn"]
    elif bias_outside:
        recurrent = r * (h @ params["W_hn"].T) + params["b_hn"]
    else:
        recurrent = r * (h @ params["W_hn"].T + params["b_hn"])
    candidate = np.tanh(x @ params["W_xn"].T + params["b_xn"] + recurrent)
    if swap_z:
        return z * candidate + (1 - z) * h
    return (1 - z) * candidate + z * h


def ch04_gru_step(answer: object) -> None:
    """Exercise 4.4: a function ``(params, x, h) -> new h`` computing one GRU step."""
    if answer is None or answer is Ellipsis:
        raise AnswerError("No answer yet: define my_gru_step(params, x, h) and run the cell.")
    if not callable(answer):
        raise AnswerError(
            f"my_gru_step should be a function, but it is a {type(answer).__name__}: {answer!r}"
        )
    rng = np.random.default_rng(4)
    params = rnn.init_params("gru", 3, 5, seed=4)
    x, h = rng.standard_normal((2, 3)), rng.uniform(-1, 1, (2, 5))
    try:
        result = answer({k: v.copy() for k, v in params.items()}, x.copy(), h.copy())
    except Exception as error:  # the learner's code: report, do not crash
        raise AnswerError(
            f"my_gru_step raised {type(error).__name__}: {error}. It is called with params "
            "from rnn.init_params('gru', 3, 5), x of shape (2, 3) and h of shape (2, 5)."
        ) from error
    if result is None:
        raise AnswerError("my_gru_step returned None; return the new states (batch, hidden).")
    array = _float_array(result)
    if array is None:
        raise AnswerError(
            f"my_gru_step returned a {type(result).__name__} that is not an array of numbers; "
            "return the new states, shape (batch, hidden) = (2, 5)."
        )
    result = array
    if result.shape != (2, 5):
        raise AnswerError(
            f"my_gru_step returned shape {result.shape}; expected (batch, hidden) = (2, 5)."
        )
    if not np.all(np.isfinite(result)):
        raise AnswerError(
            "my_gru_step returned nan or inf; every GRU state is a finite number in (-1, 1). "
            "Hint: look for a division or an exp that overflows."
        )
    if np.allclose(result, rnn.gru_cell(params, x, h), rtol=0, atol=1e-10):
        print("Correct: my_gru_step matches lmbook.rnn.gru_cell.")
        return
    mistakes = [
        (
            {"swap_z": True},
            "in PyTorch's convention z weights the old state: h' = (1 - z) * n + z * h.",
        ),
        (
            {"reset_before": True},
            "apply the reset gate after the product, to (W_hn h + b_hn), "
            "as PyTorch does; Cho et al.'s original applies it before.",
        ),
        ({"bias_outside": True}, "the reset gate multiplies W_hn h + b_hn, bias included."),
    ]
    for switches, hint in mistakes:
        if np.allclose(result, _gru_variant(params, x, h, **switches), rtol=0, atol=1e-10):
            raise AnswerError(f"Not quite. Hint: {hint}")
    raise AnswerError(
        "Not quite: the new states differ from a GRU step. Hint: weights are stored as "
        "(out, in), so multiply x @ W.T; check each gate's weights and biases against the "
        "equations of section 4.5."
    )


# Chapter 5 ----------------------------------------------------------------


def ch05_causal_mask(answer: object) -> None:
    """Exercise 5.1: ``my_causal_mask(n)``, a boolean (n, n) mask, True where query i sees key j."""
    signature = "my_causal_mask(n)"
    function = _as_function(answer, "my_causal_mask", signature)
    for n in (5, 2, 9, 1):
        got = _call(function, signature, n)
        try:
            got = np.asarray(got) if got is not None else None
        except ValueError:  # a ragged list
            raise AnswerError(
                f"{signature} should return an array of shape (n, n); for n = {n} it returned "
                f"a {type(got).__name__} whose rows differ in length."
            ) from None
        if got is None or got.shape != (n, n):
            shape = "None" if got is None else f"shape {got.shape}"
            raise AnswerError(
                f"{signature} should return an array of shape (n, n); for n = {n} "
                f"it returned {shape}."
            )
        if got.dtype != np.bool_:
            raise AnswerError(
                f"{signature} returned dtype {got.dtype}; return booleans (True = may attend), "
                "e.g. with dtype=bool, so that a 1 is not mistaken for an additive mask."
            )
        expected = attention.causal_mask(n)
        if np.array_equal(got, expected):
            continue
        if np.array_equal(got, ~expected):
            raise AnswerError(
                "Not quite: your mask is True where attention is forbidden. In lmbook and in "
                "F.scaled_dot_product_attention, True means 'may attend'."
            )
        if np.array_equal(got, expected.T):
            raise AnswerError(
                "Not quite: row i is query i, and it may see keys 0..i, the columns on and "
                "left of the diagonal (your mask lets it see the future)."
            )
        if np.array_equal(got, np.tril(np.ones((n, n), dtype=bool), -1)):
            raise AnswerError("Not quite: a token may attend to itself; keep the diagonal.")
        raise AnswerError(
            f"Not quite (n = {n}). Hint: np.tril keeps the entries on and below the diagonal."
        )
    print("Correct: query i attends to keys 0..i, for every n tried.")


def ch05_attention_flops(answer: object) -> None:
    """Exercise 5.2: FLOPs of QKᵀ and of the weighted sum of V for n = 4,096, d = 128."""
    n, d = 4096, 128
    cost = attention.attention_cost(n, d)
    check_close(
        answer,
        cost["score_flops"] + cost["mix_flops"],
        name="answer_2",
        unit="FLOPs",
        rel_tol=0.01,
        hints=[
            (cost["score_flops"], "that is QKᵀ alone; the weights then multiply V, as much again."),
            (n * n * d * 2 / 2, "count a multiply-add as 2 FLOPs, and add the product with V."),
            (cost["total_flops"], "the question leaves out the projections W_q, W_k, W_v, W_o."),
            (4 * n * d * d, "the cost that grows as n² comes from the n×n score matrix: n²·d."),
        ],
        default_hint="QKᵀ is an (n×d)(d×n) product: n² outputs of d multiply-adds each; the "
        "weighted sum is an (n×n)(n×d) product; a multiply-add is 2 FLOPs.",
    )


def ch05_score_scale(answer: object) -> None:
    """Exercise 5.3: the score scale for unit variance when q and k entries have variance 4."""
    d_k, variance = 64, 4.0
    check_close(
        answer,
        1 / math.sqrt(d_k * variance**2),
        name="answer_3",
        unit="(a factor)",
        rel_tol=0.01,
        hints=[
            (
                1 / math.sqrt(d_k),
                "that is right for unit-variance entries; here each has variance 4.",
            ),
            (1 / math.sqrt(d_k * variance), "each product q_i·k_i has variance 4·4, not 4."),
            (
                1 / (d_k * variance**2),
                "scale by one over the standard deviation, not the variance.",
            ),
            (
                math.sqrt(d_k * variance**2),
                "divide by the standard deviation: the factor is below 1.",
            ),
        ],
        default_hint="Var(q·k) = d_k · Var(q_i) · Var(k_i) for independent zero-mean entries; "
        "multiply the scores by 1/std.",
    )


# Chapter 7 ----------------------------------------------------------------


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
        default_hint="fc1 maps the flattened 7·7·512 features to 4,096 units (plus biases); "
        "divide by VGG16's 138,357,544 parameters.",
    )


def ch07_caffe_pixel(answer: object) -> None:
    """Exercise 7.3: VGG16's preprocessing, by hand, of the RGB pixel (255, 128, 0)."""
    if answer is None or answer is Ellipsis:
        raise AnswerError("No answer yet: set answer_3 to three numbers and run the cell.")
    got = _as_finite_array(answer, "answer_3", (3,))
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


# Chapter 6, part 1: encoders and embeddings ----------------------------------

WORDPIECE_EXERCISE_VOCAB = (
    "un",
    "unh",
    "happy",
    "##h",
    "##ha",
    "##app",
    "##happ",
    "##iness",
    "##ness",
    "##y",
    "##i",
)


def ch06_wordpiece(answer: object) -> None:
    """Exercise 6a.1: WordPiece of "unhappiness" with a small vocabulary, by hand."""
    from lmbook import text

    if answer is None or answer is Ellipsis:
        raise AnswerError("No answer yet: set answer_1 to a list of strings and run the cell.")
    if not isinstance(answer, list | tuple) or not all(isinstance(p, str) for p in answer):
        raise AnswerError(
            f"answer_1 should be a list of strings such as ['un', '##...'], got {answer!r}"
        )
    pieces = list(answer)
    vocab = dict.fromkeys(WORDPIECE_EXERCISE_VOCAB, 0)
    expected = text.wordpiece("unhappiness", vocab)
    if pieces == expected:
        print(f"Correct: {expected}.")
        return
    if "".join(p.removeprefix("##") for p in pieces) != "unhappiness":
        raise AnswerError(
            "Not quite: the pieces, without their ## prefixes, must spell 'unhappiness'."
        )
    if any(p.startswith("##") == (i == 0) for i, p in enumerate(pieces)):
        raise AnswerError(
            "Not quite: the first piece starts the word and has no ##; every later piece "
            "continues it and has the ## prefix."
        )
    if any(p not in vocab for p in pieces):
        raise AnswerError("Not quite: every piece must be an entry of the given vocabulary.")
    raise AnswerError(
        "Not quite: that is a valid split, but not WordPiece's. Hint: at each step take the "
        "longest vocabulary piece that matches, even if a shorter one would lead to "
        "longer pieces later."
    )


def ch06_bert_large_parameters(answer: object) -> None:
    """Exercise 6a.2: the parameters of BERT-large's BertModel, pooler included."""
    from lmbook import text

    config = {
        "vocab_size": 30_522,
        "hidden_size": 1024,
        "num_hidden_layers": 24,
        "intermediate_size": 4096,
        "max_position_embeddings": 512,
        "type_vocab_size": 2,
    }
    counts = text.bert_parameter_counts(config)
    h, f, layers = 1024, 4096, 24
    check_close(
        answer,
        counts["total"],
        name="answer_2",
        unit="parameters",
        rel_tol=1e-7,
        hints=[
            (counts["total"] - counts["pooler"], "the question includes the pooler."),
            (counts["total"] - counts["embeddings"], "add the embedding tables."),
            (
                counts["total"] - layers * (4 * h + f + h),
                "each linear layer has a bias vector too.",
            ),
            (counts["total"] - (2 * layers + 1) * 2 * h, "each LayerNorm has 2H parameters."),
            (counts["total"] - layers * 2 * h, "each layer has two LayerNorms."),
        ],
        default_hint="add the embeddings, 24 times one layer (attention, feed-forward, two "
        "LayerNorms) and the pooler; the number of heads does not change the count.",
    )


def ch06_mean_pool(answer: object) -> None:
    """Exercise 6a.3: a function pool(states, mask) that returns the masked mean."""
    import torch

    from lmbook import text

    signature = "pool(states, mask)"
    function = _as_function(answer, "answer_3", signature)
    generator = torch.Generator().manual_seed(6)
    states = torch.randn(3, 5, 4, generator=generator)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]])
    result = _call(function, signature, states.clone(), mask.clone())
    got = _as_finite_array(result, signature, (3, 4))
    expected = text.mean_pool(states, mask).numpy()
    if np.allclose(got, expected, atol=1e-5):
        print("Correct: the mean over real tokens, padding left out.")
        return
    if np.allclose(got, states.mean(dim=1).numpy(), atol=1e-5):
        raise AnswerError(
            "Not quite: your mean counts the padding. Hint: weight each token by its mask."
        )
    if np.allclose(got, (states * mask[..., None]).sum(1).numpy() / 5, atol=1e-5):
        raise AnswerError(
            "Not quite: you leave the padding out of the sum but divide by the full length. "
            "Hint: divide by the number of real tokens of each sequence."
        )
    if np.allclose(np.linalg.norm(got, axis=1), 1, atol=1e-4):
        raise AnswerError("Not quite: the exercise asks for the mean before normalising.")
    raise AnswerError(
        "Not quite. Hint: multiply the states by the mask (with a trailing axis), sum over the "
        "length axis, and divide by the sum of the mask."
    )


# (end of chapter 6, part 1)


# Chapter 6, part 2: fine-tuning a classifier ----------------------------------

MINILM_LAYER_PARAMETERS = 4 * (384 * 384 + 384) + (384 * 1536 + 1536) + (1536 * 384 + 384) + 4 * 384


def ch06_trainable_parameters(answer: object) -> None:
    """Exercise 6b.1: trainable parameters when the top 2 layers of MiniLM and the head train."""
    head = 384 * 2 + 2
    check_close(
        answer,
        2 * MINILM_LAYER_PARAMETERS + head,
        name="answer_1",
        unit="parameters",
        rel_tol=1e-9,
        hints=[
            (2 * MINILM_LAYER_PARAMETERS, "the new head trains too: 384 × 2 weights and 2 biases."),
            (MINILM_LAYER_PARAMETERS + head, "two layers train, not one."),
            (6 * MINILM_LAYER_PARAMETERS + head, "only the top two of the six layers train."),
            (
                2 * (MINILM_LAYER_PARAMETERS - 4 * 384) + head,
                "each layer has two LayerNorms, each with a scale and a shift of 384 numbers.",
            ),
        ],
        default_hint="one MiniLM layer has four 384×384 projections with biases, a "
        "384→1536→384 feed-forward network with biases, and two LayerNorms.",
    )


def ch06_accuracy_margin(answer: object) -> None:
    """Exercise 6b.2: the half-width of a 95% normal interval for 84% accuracy on 1,000 tests."""
    p, n = 0.84, 1000
    standard_error = math.sqrt(p * (1 - p) / n)
    check_close(
        answer,
        1.96 * standard_error,
        name="answer_2",
        unit="(a fraction)",
        rel_tol=0.01,
        hints=[
            (standard_error, "that is one standard error; a 95% interval spans 1.96 of them."),
            (1.96 * p * (1 - p) / n, "take the square root of p(1 − p)/n."),
            (1.96 * math.sqrt(p * (1 - p) / 100), "the test set has 1,000 snippets."),
            (100 * 1.96 * standard_error, "give a fraction, not percentage points."),
        ],
        default_hint="the standard error of a proportion is sqrt(p(1 − p)/n).",
    )


# (end of chapter 6, part 2)


# Chapter 6, part 3: named entity recognition --------------------------------

# Exercise 6c.1: 李鹏在北京会见新华社记者, gold PER 李鹏, LOC 北京, ORG 新华社.
CH06_GOLD = ["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "O", "O", "B-ORG", "I-ORG", "I-ORG", "O", "O"]
CH06_PRED = ["B-PER", "I-PER", "O", "B-LOC", "O", "O", "O", "O", "O", "O", "O", "O"]
# Exercise 6c.2: 江泽民访问香港新华社 with PER (0, 3), LOC (5, 7), ORG (7, 10).
CH06_SPANS = [(0, 3, "PER"), (5, 7, "LOC"), (7, 10, "ORG")]
# Exercise 6c.3: a tagger's raw output.
CH06_RAW = ["I-PER", "I-PER", "O", "B-LOC", "I-ORG", "O", "I-LOC", "I-LOC", "B-PER", "I-PER"]


def ch06_entity_scores(answer: object) -> None:
    """Exercise 6c.1: entity-level (precision, recall, F1) of CH06_PRED against CH06_GOLD."""
    from lmbook import ner

    if answer is None or answer is Ellipsis:
        raise AnswerError("No answer yet: set answer_1 to (precision, recall, F1).")
    got = _as_finite_array(answer, "answer_1", (3,))
    table = ner.entity_scores([CH06_GOLD], [CH06_PRED])
    expected = table.loc["micro", ["precision", "recall", "f1"]].to_numpy(dtype=float)
    if np.allclose(got, expected, atol=1e-3):
        print(f"Correct: precision {got[0]:.3f}, recall {got[1]:.3f}, F1 {got[2]:.3f}.")
        return
    # Character-level numbers, a typical mix-up: correct entity characters over predicted
    # ones (precision) and over gold ones (recall).
    right = sum(g == p != "O" for g, p in zip(CH06_GOLD, CH06_PRED, strict=True))
    token_guess = [
        right / sum(p != "O" for p in CH06_PRED),
        right / sum(g != "O" for g in CH06_GOLD),
    ]
    if np.allclose(got, expected[[1, 0, 2]], atol=1e-3):
        raise AnswerError(
            "Not quite: precision and recall are swapped. Precision divides by what the "
            "tagger predicted, recall by what the gold standard holds."
        )
    if np.allclose(got[:2], token_guess, atol=1e-3):
        raise AnswerError(
            "Not quite: those are character-level numbers. Count whole entities: an "
            "entity is found only when its start, end and type all match."
        )
    if np.allclose(got[:2], [1.0, 2 / 3], atol=1e-3):
        raise AnswerError(
            "Not quite: the predicted LOC covers 北 only, while the gold LOC is 北京. "
            "A partial match earns nothing at the entity level."
        )
    raise AnswerError(
        "Not quite. Hint: list the gold entities and the predicted ones as (start, end, type), "
        "count the exact matches, then divide by each list's length."
    )


def ch06_spans_to_bio(answer: object) -> None:
    """Exercise 6c.2: BIO tags of 江泽民访问香港新华社 with the entities CH06_SPANS."""
    from lmbook import ner

    expected = ner.spans_to_bio(10, CH06_SPANS)
    if answer is None or answer is Ellipsis:
        raise AnswerError("No answer yet: set answer_2 to a list of 10 tags.")
    if isinstance(answer, str) or not isinstance(answer, list | tuple):
        raise AnswerError(f"answer_2 should be a list of 10 tags, got {type(answer).__name__}.")
    if len(answer) != 10:
        raise AnswerError(f"answer_2 has {len(answer)} tags; the text has 10 characters.")
    if list(answer) == expected:
        print("Correct: one tag per character, B- where each entity starts.")
        return
    if any(tag not in ner.TAGS for tag in answer):
        raise AnswerError(f"Every tag must be one of {ner.TAGS}.")
    if list(answer[:7]) == expected[:7] and answer[7] == "I-ORG":
        raise AnswerError(
            "Not quite: 新 starts a new entity right after the place 香港. Without a B- "
            "there, how would a reader know where the place ends?"
        )
    raise AnswerError(
        "Not quite. Hint: count the characters from 0 (end is exclusive); the first "
        "character of each entity gets B-, the others I-, everything else O."
    )


def ch06_bio_errors(answer: object) -> None:
    """Exercise 6c.3: how many I- tags in CH06_RAW do not continue an entity of their type."""
    from lmbook import ner

    if answer is None or answer is Ellipsis:
        raise AnswerError("No answer yet: set answer_3 to a whole number.")
    if isinstance(answer, bool) or not isinstance(answer, numbers.Integral):
        raise AnswerError(f"answer_3 should be a whole number, got {answer!r}.")
    expected = ner.count_bio_errors(CH06_RAW)
    if int(answer) == expected:
        print(f"Correct: {expected} I- tags break the BIO rules.")
        return
    if int(answer) == sum(tag.startswith("I-") for tag in CH06_RAW):
        raise AnswerError("Not quite: an I- tag after B- or I- of the same type is fine.")
    hint = "too many" if int(answer) > expected else "too few"
    raise AnswerError(
        f"Not quite ({hint}). Hint: go left to right; an I-X is an error unless the tag just "
        "before it is B-X or I-X with the same X. The first tag has nothing before it."
    )


# (end of chapter 6, part 3)


# Chapter 6, part 4: text generation -----------------------------------------

CH06D_TOKEN_PROBS = (0.5, 0.25, 0.1, 0.4)  # Exercise 6d.1
CH06D_NEXT_TOKENS = {"the": 0.42, "a": 0.25, "his": 0.13, "her": 0.09, "my": 0.06, "this": 0.05}
CH06D_LOGITS, CH06D_TEMPERATURE = (2.0, 1.0, 0.0), 0.5  # Exercise 6d.3


def ch06_perplexity_from_probs(answer: object) -> None:
    """Exercise 6d.1: the perplexity of four tokens given probabilities 0.5, 0.25, 0.1, 0.4."""
    p = np.array(CH06D_TOKEN_PROBS)
    nll = -np.log(p).mean()
    check_close(
        answer,
        math.exp(nll),
        name="answer_1",
        unit="(a perplexity)",
        rel_tol=0.005,
        hints=[
            (nll, "that is the mean negative log-likelihood in nats; perplexity is its exp."),
            (nll / math.log(2), "that is the cross-entropy in bits per token; raise 2 to it."),
            (math.exp(-nll), "mind the sign: the perplexity is at least 1."),
            ((1 / p).mean(), "average the log-probabilities, not the inverse probabilities."),
            (math.exp(-np.log(p).sum()), "take the mean over the tokens, not the sum."),
        ],
        default_hint="perplexity = exp(-(1/N) Σ log p(token)), N the number of scored tokens.",
    )


def ch06_top_p_survivors(answer: object) -> None:
    """Exercise 6d.2: which of six next tokens survive nucleus filtering with top_p = 0.9."""
    if answer is None or answer is Ellipsis:
        raise AnswerError("No answer yet: set answer_2 to a list of tokens and run the cell.")
    is_collection = isinstance(answer, list | tuple | set | frozenset)
    if not is_collection or not all(isinstance(token, str) for token in answer):
        raise AnswerError(
            f"answer_2 should be a list (or set) of tokens such as ['the', 'a'], "
            f"got {type(answer).__name__}: {answer!r}"
        )
    got = set(answer)
    unknown = got - CH06D_NEXT_TOKENS.keys()
    if unknown:
        raise AnswerError(
            f"{sorted(map(str, unknown))} are not among the six tokens "
            f"{list(CH06D_NEXT_TOKENS)}; write them exactly as given."
        )
    ranked = sorted(CH06D_NEXT_TOKENS, key=CH06D_NEXT_TOKENS.get, reverse=True)
    mass_before = np.cumsum([CH06D_NEXT_TOKENS[t] for t in ranked]) - [
        CH06D_NEXT_TOKENS[t] for t in ranked
    ]
    expected = {t for t, before in zip(ranked, mass_before, strict=True) if before < 0.9}
    if got == expected:
        print(f"Correct: {len(expected)} tokens survive, holding 0.95 of the probability.")
        return
    mass = sum(CH06D_NEXT_TOKENS[t] for t in got)
    if got < expected and got == set(ranked[: len(got)]):
        hint = (
            f"your tokens hold {mass:.2f} of the probability, less than p = 0.9; the nucleus is "
            "the smallest set whose mass reaches p, so keep the token that crosses it."
        )
    elif got > expected and got == set(ranked[: len(got)]):
        hint = "the nucleus is the smallest such set: stop adding tokens once the mass reaches p."
    else:
        hint = "sort the tokens by probability and keep the most likely ones, in that order."
    raise AnswerError(f"Not quite: {hint}")


def ch06_temperature_probs(answer: object) -> None:
    """Exercise 6d.3: softmax of the logits (2, 1, 0) at temperature 0.5."""
    if answer is None or answer is Ellipsis:
        raise AnswerError("No answer yet: set answer_3 to three probabilities and run the cell.")
    got = _as_finite_array(answer, "answer_3", (3,))
    logits = np.array(CH06D_LOGITS)
    expected = nn.softmax(logits / CH06D_TEMPERATURE)
    if np.allclose(got, expected, atol=2e-3):
        print(f"Correct: {np.round(expected, 3).tolist()}; the top token gains at T < 1.")
        return
    mistakes = [
        (nn.softmax(logits), "that is the softmax at temperature 1; divide the logits by T first."),
        (nn.softmax(logits * CH06D_TEMPERATURE), "divide the logits by T = 0.5, do not multiply."),
        (logits / CH06D_TEMPERATURE, "turn the scaled logits into probabilities with a softmax."),
        (np.exp(logits / CH06D_TEMPERATURE), "normalise: the three probabilities must sum to 1."),
    ]
    for wrong, hint in mistakes:
        if np.allclose(got, wrong, atol=2e-3):
            raise AnswerError(f"Not quite: {hint}")
    if not np.isclose(got.sum(), 1, atol=2e-3):
        raise AnswerError(
            f"Not quite: your numbers sum to {got.sum():.3f}; probabilities sum to 1."
        )
    raise AnswerError("Not quite. Hint: p_i = exp(z_i / T) / Σ_j exp(z_j / T).")


# (end of chapter 6, part 4)


# Chapter 8: training at scale ----------------------------------------------------


def ch08_finetune_memory(answer: object) -> None:
    """Exercise 8.1: model states of a 7B model trained with Adam in mixed precision, in GB."""
    check_close(
        answer,
        16 * 7e9 / 1e9,
        name="memory per GPU",
        unit="GB",
        rel_tol=0.02,
        hints=[
            (
                2 * 7e9 / 1e9,
                "That is the bf16 weights alone; training also keeps gradients, "
                "an fp32 master copy and Adam's two moments.",
            ),
            (
                4 * 7e9 / 1e9,
                "Weights and gradients are there; what does Adam keep, and in "
                "which precision is the update done?",
            ),
            (
                12 * 7e9 / 1e9,
                "Close: you have the fp32 part; add the 16-bit weights and "
                "gradients used by the forward and backward passes.",
            ),
            (
                16 * 7e9 / 2**30,
                "Right count, but in GiB (2^30 bytes); the question asks for GB (10^9 bytes).",
            ),
        ],
        default_hint="Count the bytes per parameter (weights, gradients, master copy, "
        "Adam's moments) and multiply by the number of parameters.",
    )


def ch08_training_days(answer: object) -> None:
    """Exercise 8.2: days to train 70B parameters on 2T tokens on 1,024 H100s at 40% MFU."""
    flops = 6 * 70e9 * 2e12
    seconds = flops / (1024 * 989e12 * 0.4)
    check_close(
        answer,
        seconds / 86400,
        name="training time",
        unit="days",
        rel_tol=0.02,
        hints=[
            (
                seconds / 86400 / 3,
                "Training costs 6 FLOPs per parameter per token: 2 for "
                "the forward pass and about 4 for the backward pass.",
            ),
            (
                seconds / 86400 * 0.4 * 0.4,
                "The MFU is the share of the peak the model gets, "
                "so it makes the run longer, not shorter.",
            ),
            (seconds / 3600, "That is in hours; the question asks for days."),
            (seconds, "That is in seconds; the question asks for days."),
        ],
        default_hint="Time = 6·N·D / (GPUs × peak FLOP/s × MFU), then convert seconds to days.",
    )


def ch08_allreduce_gigabytes(answer: object) -> None:
    """Exercise 8.3: GB each of 8 GPUs sends in a ring all-reduce of 1B bf16 gradients."""
    buffer_gb = 1e9 * 2 / 1e9
    check_close(
        answer,
        2 * 7 / 8 * buffer_gb,
        name="data sent per GPU",
        unit="GB",
        rel_tol=0.02,
        hints=[
            (
                7 / 8 * buffer_gb,
                "That is one phase; a ring all-reduce has a reduce-scatter "
                "and an all-gather, each of p − 1 steps.",
            ),
            (
                2 * 7 / 8 * 1e9 * 4 / 1e9,
                "The gradients are in bf16: how many bytes is that per value?",
            ),
            (
                2 * 7 * buffer_gb,
                "Each step moves one chunk, 1/p of the buffer, not the whole buffer.",
            ),
            (
                buffer_gb,
                "Count the steps: p − 1 in each of the two phases, each moving 1/p of the buffer.",
            ),
        ],
        default_hint="Each GPU sends 2·(p − 1)/p of the buffer; the buffer is N values of 2 bytes.",
    )


# (end of chapter 8)


# Chapter 9: efficient deployment -------------------------------------------------

CH09_INT4 = {"parameters": 8.03e9, "group": 64, "scale_bits": 16}  # Exercise 9.1
CH09_RANGE = (-0.8, 2.4)  # Exercise 9.2
CH09_CACHE = {"layers": 32, "kv_heads": 8, "head_dim": 128, "tokens": 8192, "batch": 16}


def ch09_int4_size(answer: object) -> None:
    """Exercise 9.1: GB of 8.03e9 int4 weights with one fp16 scale per group of 64."""
    n, group, scale_bits = CH09_INT4["parameters"], CH09_INT4["group"], CH09_INT4["scale_bits"]
    check_close(
        answer,
        n * (4 + scale_bits / group) / 8 / 1e9,
        name="answer_1",
        unit="GB",
        rel_tol=0.005,
        hints=[
            (n * 4 / 8 / 1e9, "you counted the 4-bit values only; add each group's scale."),
            (n * (4 + scale_bits) / 8 / 1e9, "the scale is shared by a group of weights."),
            (n * 1 / 1e9, "that is int8; int4 packs two weights into a byte."),
            (n * 2 / 1e9, "that is bf16; the format stores 4-bit values."),
            (n * 4 / 1e9, "that is fp32; the format stores 4-bit values."),
            (n * (4 + scale_bits / group) / 1e9, "divide bits by 8 to get bytes."),
        ],
        default_hint="bits per weight = 4 + (bits of one scale) / (weights per group); "
        "then parameters × bits / 8 bytes.",
    )


def ch09_qparams(answer: object) -> None:
    """Exercise 9.2: scale and zero point of unsigned 8-bit affine quantization of [-0.8, 2.4]."""
    from lmbook import deploy

    if answer is None or answer is Ellipsis:
        raise AnswerError("No answer yet: set answer_2 to a pair (scale, zero_point).")
    is_sequence = isinstance(answer, list | tuple) or (
        isinstance(answer, np.ndarray) and answer.ndim == 1
    )
    if not is_sequence or len(answer) != 2:
        raise AnswerError(
            f"answer_2 should be a pair (scale, zero_point), e.g. (0.01, 10); got {answer!r}"
        )
    scale = _as_number(answer[0], "the scale", "real units per integer step")
    zero = _as_number(answer[1], "the zero point", "integer steps")
    low, high = CH09_RANGE
    expected_scale, expected_zero = deploy.affine_qparams(low, high, 8)
    if not math.isclose(scale, float(expected_scale), rel_tol=2e-3):
        if math.isclose(scale, (high - low) / 256, rel_tol=2e-3):
            hint = "256 integers make 255 steps: divide the range by q_max - q_min = 255."
        elif math.isclose(scale, high / 255, rel_tol=2e-3):
            hint = "the range runs from the minimum, -0.8, not from 0."
        elif math.isclose(scale, 1 / float(expected_scale), rel_tol=2e-3):
            hint = "the scale is the real size of one integer step: range / steps."
        else:
            hint = "s = (β - α) / (q_max - q_min)."
        raise AnswerError(f"Not quite: the scale {scale:.5g} is not right. Hint: {hint}")
    if zero != int(expected_zero):
        if zero == -int(expected_zero):
            hint = "mind the sign: z = q_min - round(α / s), and α is negative."
        elif not zero.is_integer():
            hint = "the zero point is an integer: round α / s before using it."
        elif zero == math.floor(-low / float(expected_scale)):
            hint = "round to the nearest integer, do not truncate."
        else:
            hint = "z = q_min - round(α / s), with q_min = 0 and α = -0.8."
        raise AnswerError(f"Not quite: the scale is right but the zero point is not. Hint: {hint}")
    print(
        f"Correct: scale {float(expected_scale):.6f}, zero point {int(expected_zero)}; "
        f"the integer {int(expected_zero)} stands for 0.0 exactly."
    )


def ch09_kv_cache(answer: object) -> None:
    """Exercise 9.3: GB of a bf16 KV cache, 32 layers, 8 KV heads of 128, 16 × 8,192 tokens."""
    from lmbook import deploy

    c = CH09_CACHE
    expected = deploy.kv_cache_bytes(**c, bytes_per_value=2) / 1e9
    check_close(
        answer,
        expected,
        name="answer_3",
        unit="GB",
        rel_tol=0.01,
        hints=[
            (expected / 2, "the cache holds a key AND a value vector: a factor of 2."),
            (expected * 4, "with grouped-query attention only the 8 key/value heads count."),
            (expected * 2, "bf16 takes 2 bytes per value, not 4."),
            (expected / c["batch"], "that is one sequence; the batch holds 16."),
            (expected * 1e9 / 2**30, "GB here means 10^9 bytes, not 2^30 (GiB)."),
        ],
        default_hint="2 · layers · kv_heads · head_dim · tokens · batch · bytes per value.",
    )


def ch09_csr_break_even(answer: object) -> None:
    """Exercise 9.4: the sparsity above which 4-byte values + 4-byte indices beat dense fp32."""
    check_close(
        answer,
        0.5,
        name="answer_4",
        unit="(a fraction of zeros)",
        rel_tol=0.01,
        hints=[
            (2 / 3, "that is the break-even with 8-byte indices; here they take 4 bytes."),
            (50, "give the sparsity as a fraction between 0 and 1, not a percentage."),
        ],
        default_hint="per entry, dense costs 4 bytes and sparse (1 - s) · (4 + 4); set them "
        "equal and solve for s.",
    )


# (end of chapter 9)


# Chapter 10: the business of large models ---------------------------------------

CH10_BREAK_EVEN = {
    "api_usd_per_million": 0.50,
    "tokens_per_second": 5000.0,
    "usd_per_gpu_hour": 2.00,
    "average_load": 0.5,
    "fixed_usd_per_month": 3000.0,
}


def ch10_break_even(answer: object) -> None:
    """Exercise 10.1: the monthly token volume at which self-hosting breaks even."""
    from lmbook import economics

    case = CH10_BREAK_EVEN
    price = case["api_usd_per_million"] / 1e6
    replica = case["usd_per_gpu_hour"] * economics.HOURS_PER_MONTH
    full = case["tokens_per_second"] * economics.SECONDS_PER_HOUR * economics.HOURS_PER_MONTH
    check_close(
        answer,
        economics.break_even_tokens(**case),
        name="answer_1",
        unit="tokens per month",
        rel_tol=0.01,
        hints=[
            (
                (replica + case["fixed_usd_per_month"]) / price,
                "one replica costs that much, but can it serve that volume at 50 % load? "
                "Count the replicas the volume needs.",
            ),
            (replica / price, "the fixed monthly cost must be paid too."),
            (case["fixed_usd_per_month"] / price, "the GPUs are billed on top of the fixed cost."),
            (
                (2 * replica + case["fixed_usd_per_month"]) / price * 1e6,
                "the API price is per million tokens; your answer is in millions.",
            ),
            (full, "that is one replica's capacity at full load, not the break-even volume."),
        ],
        default_hint="a replica costs $2 × 730 h a month and serves tokens/s × 0.5 × 3600 × 730 "
        "tokens; find the fewest replicas k with k·(p·K − c) ≥ F, then V = (k·c + F) / p.",
    )


def ch10_training_cost(answer: object) -> None:
    """Exercise 10.2: dollars to train 70e9 parameters on 15e12 tokens on H100s."""
    from lmbook import economics

    cost = economics.training_cost(70e9, 15e12, gpu="H100", mfu=0.4, usd_per_gpu_hour=2.0)
    check_close(
        answer,
        cost.usd,
        name="answer_2",
        unit="US dollars",
        rel_tol=0.02,
        hints=[
            (cost.usd * 0.4, "the GPUs deliver only 40 % of their peak (divide by the MFU)."),
            (cost.usd / 3, "training costs 6 FLOPs per parameter per token, not 2."),
            (
                cost.gpu_hours,  # the same number as cost.usd / 2: the price was left out
                "that is the number of GPU-hours; the question asks for dollars, at $2 per "
                "GPU-hour.",
            ),
            (cost.usd * 3600, "a GPU-hour has 3,600 seconds: divide FLOPs by FLOP/s × 3600."),
        ],
        default_hint="C = 6·N·D FLOPs; an H100 gives 0.4 × 989e12 FLOP/s; "
        "GPU-hours = C / (that × 3600); dollars = GPU-hours × $2.",
    )


def ch10_decode_tokens(answer: object) -> None:
    """Exercise 10.3: upper bound on batch-1 decoding speed of a 70.6e9-parameter model."""
    from lmbook import economics, scale

    bound = economics.decode_tokens_per_second(70.6e9, gpu="H100", gpus=2, batch_size=1)
    h100 = scale.ACCELERATORS["H100"]
    check_close(
        answer,
        bound.tokens_per_second,
        name="answer_3",
        unit="tokens per second",
        rel_tol=0.02,
        hints=[
            (bound.tokens_per_second / 2, "two GPUs each read half of the weights, in parallel."),
            (2 * bound.tokens_per_second, "bf16 stores each parameter in 2 bytes, not 1."),
            (
                2 * h100.peak_flops / (2 * 70.6e9),
                "that is the compute limit; at batch 1 reading the weights takes far longer.",
            ),
            (1000 * bound.step_seconds, "that is the time per token in milliseconds; invert it."),
        ],
        default_hint="each token needs every weight read once: 70.6e9 × 2 bytes over the two "
        "GPUs' summed bandwidth (2 × 3.35e12 B/s); tokens/s is one over that time.",
    )


# (end of chapter 10)


# Chapter 11: challenges and the future ---

CH11_DP = {"noise_multiplier": 1.1, "sample_rate": 0.01, "steps": 10_000, "delta": 1e-5}


def ch11_dp_epsilon(answer: object) -> None:
    """Exercise 11.1: ε of DP-SGD with σ = 1.1, q = 0.01, 10,000 steps, δ = 1e-5."""
    from lmbook import privacy

    case = CH11_DP
    expected = privacy.dp_epsilon(**case)
    one_step = privacy.dp_epsilon(case["noise_multiplier"], case["sample_rate"], 1, case["delta"])
    no_sampling = privacy.dp_epsilon(case["noise_multiplier"], 1.0, case["steps"], case["delta"])
    check_close(
        answer,
        expected,
        name="answer_1",
        unit="(ε)",
        rel_tol=0.08,
        hints=[
            (one_step, "that is one step; the RDP of the 10,000 steps adds up."),
            (
                no_sampling,
                "that ignores the sampling: each example is in a batch with probability 0.01, "
                "which amplifies privacy.",
            ),
        ],
        default_hint="use privacy.dp_epsilon(noise_multiplier, sample_rate, steps, delta) or "
        "Opacus's RDPAccountant with history [(σ, q, steps)].",
    )


def ch11_training_emissions(answer: object) -> None:
    """Exercise 11.2: tonnes of CO2e for 1,720,320 GPU-hours at 400 W, PUE 1.1, 0.4 kg/kWh."""
    kwh = 1_720_320 * 0.400 * 1.1
    expected = kwh * 0.4 / 1000
    check_close(
        answer,
        expected,
        name="answer_2",
        unit="t CO2e",
        rel_tol=0.01,
        hints=[
            (kwh * 0.4, "that is in kilograms; a tonne is 1,000 kg."),
            (expected / 1.1, "the PUE multiplies the GPUs' energy: cooling and overheads count."),
            (kwh / 1000, "that is the energy in MWh; multiply by the grid's carbon intensity."),
        ],
        default_hint="energy (kWh) = GPU-hours × kW per GPU × PUE; emissions = energy × kg/kWh.",
    )


def ch11_integrated_gradients(answer: object) -> None:
    """Exercise 11.3: a function ig(forward, x, baseline, steps), right Riemann sum."""
    import torch

    from lmbook import explain

    answer = _as_function(answer, "answer_3", "ig(forward, x, baseline, steps)")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 1))

    def forward(batch):
        return net(batch)[:, 0]

    x, baseline = torch.randn(6), torch.zeros(6)
    try:
        result = answer(forward, x, baseline, 200)
    except Exception as error:  # noqa: BLE001 - report the learner's error as a hint
        raise AnswerError(f"answer_3 raised {type(error).__name__}: {error}") from error
    if not isinstance(result, torch.Tensor):
        raise AnswerError(
            f"answer_3 should return a torch tensor of x's shape (6,), "
            f"got a {type(result).__name__}"
        )
    if result.shape != x.shape:
        raise AnswerError(
            f"answer_3 should return a tensor of x's shape (6,), got shape {tuple(result.shape)}"
        )
    if result.is_complex() or not torch.isfinite(result.detach()).all():
        raise AnswerError(
            "answer_3 returned nan, inf or complex attributions; every attribution of this "
            "small network is a finite real number. Hint: check the path points and the mean."
        )
    reference = explain.integrated_gradients(forward, x, baseline, steps=200, rule="right")
    got = result.detach().to(reference.dtype)
    if torch.allclose(got, reference, atol=1e-5):
        with torch.no_grad():
            gap = float(forward(x[None]) - forward(baseline[None]))
        print(
            f"Correct: your attributions sum to {float(result.sum()):.4f}; "
            f"f(x) − f(baseline) = {gap:.4f}."
        )
        return
    if torch.allclose(got, reference / (x - baseline), atol=1e-5):
        raise AnswerError("Not quite: multiply the averaged gradient by (x − baseline).")
    raise AnswerError(
        "Not quite: average ∂f/∂x over the points baseline + t·(x − baseline) for "
        "t = 1/m, …, 1, then multiply by (x − baseline)."
    )


# (end of chapter 11)
