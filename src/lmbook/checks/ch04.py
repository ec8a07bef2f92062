"""Checkers of chapter 4: recurrent networks (Exercises 4.1–4.4).

Notebook: ``notebooks/04_recurrent_networks.ipynb``. Each checker takes the variable that
the notebook's checker cell passes (``answer_1``, or the function the learner
wrote) and names that variable in its messages.
"""

from __future__ import annotations

import math

import numpy as np

from lmbook import rnn
from lmbook.checks.core import AnswerError, as_array, as_function, call, check_close


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
    signature = "my_gru_step(params, x, h)"
    function = as_function(answer, "my_gru_step", signature)
    rng = np.random.default_rng(4)
    params = rnn.init_params("gru", 3, 5, seed=4)
    x, h = rng.standard_normal((2, 3)), rng.uniform(-1, 1, (2, 5))
    returned = call(  # copies: the learner's function may write into its inputs
        function,
        signature,
        {k: v.copy() for k, v in params.items()},
        x.copy(),
        h.copy(),
        note="It is called with params from rnn.init_params('gru', 3, 5), x of shape (2, 3) "
        "and h of shape (2, 5).",
    )
    result = as_array(returned, signature, (2, 5))  # the new states, (batch, hidden)
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
