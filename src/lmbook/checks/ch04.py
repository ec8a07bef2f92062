"""Checkers of chapter 4: recurrent networks (Exercises 4.1–4.4 and 4.6).

Notebook: ``notebooks/04_recurrent_networks.ipynb``. Each checker takes the variable
that the notebook's checker cell passes (``answer_1``, or the function the learner
wrote) and names that variable in its messages. The keyword arguments of a number's
checker are the exercise's given values, with the notebook's as defaults; a function's
checker takes the ``seed`` of its test inputs. The hidden test of
:mod:`lmbook.checks.grading` calls them with others (``SECOND_CASES``). Exercise 4.6
is an experiment: its checker reads the learner's own counts of exact matches and checks
the stated conclusions against them, so any correct outcome passes.
"""

from __future__ import annotations

import math

import numpy as np

from lmbook import rnn
from lmbook.checks.core import (
    AnswerError,
    Hint,
    SecondCase,
    as_array,
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
            "4.1",
            N_(
                "each gate of each layer has an input matrix, a recurrent matrix and "
                "PyTorch's bias vectors, and a stacked layer reads the "
                "states of the layer below."
            ),
            N_(
                "count, for each layer, 4 gates × (hidden·input + "
                "hidden·hidden + 2·hidden), with input = input_size for the first "
                "layer and hidden_size for the others, and add the layers."
            ),
        ),
        Hint(
            "4.2",
            N_(
                "the bound shrinks the gradient by at most the largest singular value "
                "at each step, so after T steps by its T-th power."
            ),
            N_(
                "take logarithms of s^T < ratio; log(s) is negative, which flips the "
                "inequality, and T is the next whole number above the quotient."
            ),
        ),
        Hint(
            "4.3",
            N_("the cell keeps f^T of its content, and the gate is f = σ(b)."),
            N_(
                "first solve f^T = kept for f, then invert "
                "f = σ(b) = 1 / (1 + e^(−b)): b = ln(f / (1 − f))."
            ),
        ),
        Hint(
            "4.4",
            N_(
                "a GRU step mixes the old state and a candidate with the update gate "
                "z; the reset gate r scales the recurrent part of the candidate."
            ),
            N_(
                "weights are stored as (out, in), so multiply x @ W.T; compute r and z "
                "with sigmoids, the candidate n = tanh(x W_xn^T + b_xn + r ⊙ "
                "(h W_hn^T + b_hn)), then h' = (1 − z) ⊙ n + z ⊙ h."
            ),
        ),
        Hint(
            "4.6",
            N_(
                "read each conclusion off your own counts: the best width is one with "
                "the most exact matches, and greedy decoding is the width 1."
            ),
            N_(
                "find the largest count in answer_6['correct'], give a width that "
                "reached it, and compare the largest count of the widths above 1 with "
                "the count of width 1: only a strictly larger count beats greedy "
                "decoding."
            ),
        ),
    )
}


def _lstm_parameters(
    input_size: int, hidden_size: int, num_layers: int, gates: int = 4, biases: int = 2
) -> int:
    inputs = [input_size] + [hidden_size] * (num_layers - 1)
    n = hidden_size
    return sum(gates * (n * d + n * n + biases * n) for d in inputs)


def _lstm_shape(rng: np.random.Generator) -> dict[str, int]:
    """Another LSTM: sizes a person would choose, one to four layers."""
    while True:
        values = {
            "input_size": int(rng.choice([8, 16, 32, 50, 64, 100, 128, 300])),
            "hidden_size": int(rng.choice([16, 32, 64, 100, 128, 256, 512])),
            "num_layers": int(rng.integers(1, 5)),
        }
        if _lstm_parameters(**values) != _lstm_parameters(10, 20, 2):
            return values


def _steps(singular_value: float, ratio: float) -> int:
    """The smallest whole T with singular_value**T < ratio."""
    return math.floor(math.log(ratio) / math.log(singular_value)) + 1


def _decay(rng: np.random.Generator) -> dict[str, float]:
    """Another singular value below 1 and fraction, away from a
    whole-number boundary.
    """
    while True:
        singular_value = float(rng.integers(60, 100)) / 100
        ratio = 10.0 ** -int(rng.integers(2, 7))
        quotient = math.log(ratio) / math.log(singular_value)
        if (
            abs(quotient - round(quotient)) > 0.05
            and _steps(singular_value, ratio) != 66
        ):
            return {"singular_value": singular_value, "ratio": ratio}


def _forget_bias(steps: float, kept: float) -> float:
    gate = kept ** (1 / steps)
    return math.log(gate / (1 - gate))


def _memory(rng: np.random.Generator) -> dict[str, float]:
    """Another number of steps and fraction kept, with a bias clearly not the
    public one.
    """
    while True:
        values = {
            "steps": int(rng.choice([10, 20, 50, 200, 500, 1000])),
            "kept": float(rng.choice([0.1, 0.25, 0.5, 0.75, 0.9])),
        }
        if abs(_forget_bias(**values) / _forget_bias(100, 0.5) - 1) > 0.05:
            return values


SECOND_CASES = {
    "ch04_lstm_parameters": SecondCase("answer_1", draw=_lstm_shape),
    "ch04_vanishing_steps": SecondCase("answer_2", draw=_decay),
    "ch04_forget_bias": SecondCase("answer_3", draw=_memory),
    "ch04_gru_step": SecondCase("my_gru_step", seeded=True),
    "ch04_beam_experiment": SecondCase("answer_6"),
}

# Exercise 4.6: the keys of the answer.
EXPERIMENT_KEYS = (
    "beam_widths",
    "correct",
    "examples",
    "best_width",
    "beam_beats_greedy",
)


def ch04_lstm_parameters(
    answer: object, input_size: int = 10, hidden_size: int = 20, num_layers: int = 2
) -> None:
    """Exercise 4.1: parameters of
    ``torch.nn.LSTM(input_size, hidden_size, num_layers)``.
    """
    shape = (input_size, hidden_size, num_layers)
    hints = [
        (
            _lstm_parameters(input_size, hidden_size, 1) * num_layers,
            N_(
                "the layers after the first read the states of the layer below, so "
                "their input size is hidden_size, not input_size."
            ),
        ),
        (
            _lstm_parameters(*shape, biases=1),
            N_("PyTorch keeps two bias vectors, bias_ih and bias_hh, for every gate."),
        ),
        (
            _lstm_parameters(*shape, biases=0),
            N_("you left out the biases; PyTorch has two bias vectors for every gate."),
        ),
        (
            _lstm_parameters(*shape, gates=1),
            N_(
                "an LSTM has four blocks of weights, one for each of "
                "the gates i, f, g and o."
            ),
        ),
    ]
    if num_layers > 1:
        hints.append(
            (
                _lstm_parameters(input_size, hidden_size, 1),
                _(
                    "that is one layer; num_layers={layers} stacks more.",
                    layers=num_layers,
                ),
            )
        )
    check_close(
        answer,
        _lstm_parameters(*shape),
        name="answer_1",
        unit=N_("parameters"),
        rel_tol=1e-6,
        hint=HINTS["4.1"],
        hints=hints,
    )


def ch04_vanishing_steps(
    answer: object, singular_value: float = 0.9, ratio: float = 1e-3
) -> None:
    """Exercise 4.2: smallest whole T with singular_value**T below ratio."""
    value = as_number(answer, "answer_2", N_("steps"))
    if not value.is_integer():
        raise AnswerError(
            _(
                "Not quite: answer_2 = {value:.4g} steps is not a whole number. Hint: "
                "a number of steps is a whole number: round so that {s:g}^T is below "
                "{ratio:g}.",
                value=value,
                s=singular_value,
                ratio=ratio,
            )
        )
    quotient = math.log(ratio) / math.log(singular_value)
    hints = [
        (
            math.ceil(quotient) - 1,
            _(
                "{s:g}^T at that T is still above {ratio:g}: round up, not down.",
                s=singular_value,
                ratio=ratio,
            ),
        )
    ]
    if singular_value != 0.5:  # (1 − s)^T, the complement's power, is a typical slip
        slip = round(math.log(ratio) / math.log(1 - singular_value), 9)
        for steps in {math.floor(slip), math.ceil(slip), math.floor(slip) + 1}:
            hints.append(
                (
                    steps,
                    N_(
                        "the bound is s^T, the largest singular value to "
                        "the power T, not (1 − s)^T."
                    ),
                )
            )
    check_close(
        value,
        _steps(singular_value, ratio),
        name="answer_2",
        unit=N_("steps"),
        rel_tol=1e-9,
        hint=HINTS["4.2"],
        hints=hints,
    )


def ch04_forget_bias(answer: object, steps: float = 100, kept: float = 0.5) -> None:
    """Exercise 4.3: the forget-gate bias b with sigmoid(b)**steps = kept."""
    gate = kept ** (1 / steps)
    check_close(
        answer,
        _forget_bias(steps, kept),
        name="answer_3",
        unit=N_("(no unit)"),
        rel_tol=0.01,
        hint=HINTS["4.3"],
        hints=[
            (
                gate,
                N_(
                    "that is the gate value f; the question asks for the bias b with "
                    "σ(b) = f, so invert the sigmoid."
                ),
            ),
            (
                -_forget_bias(steps, kept),
                N_("check the sign: a gate near 1 needs a large bias."),
            ),
            (
                1 - gate,
                N_("that is 1 - f; invert the sigmoid: b = ln(f / (1 - f))."),
            ),
            (
                math.log(gate),
                N_("that is ln f; the inverse of the sigmoid is ln(f / (1 - f))."),
            ),
        ],
    )


def _gru_variant(params, x, h, *, swap_z=False, reset_before=False, bias_outside=False):
    """A GRU step with one of the usual mistakes switched on
    (for ch04_gru_step's hints).
    """

    def gate(name):
        return rnn.sigmoid(
            x @ params[f"W_x{name}"].T
            + h @ params[f"W_h{name}"].T
            + params[f"b_{name}"]
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


def ch04_gru_step(answer: object, seed: int = 4) -> None:
    """Exercise 4.4: a function ``(params, x, h) -> new h`` computing one GRU step."""
    signature = "my_gru_step(params, x, h)"
    function = as_function(answer, "my_gru_step", signature)
    if uses_module(function, rnn, allowed=("sigmoid",)):
        raise AnswerError(
            _(
                "Not yet: the exercise asks for your own NumPy code, without "
                "lmbook.rnn (rnn.sigmoid is allowed). Write the gates and the "
                "candidate from the equations."
            )
        )
    rng = np.random.default_rng(seed)
    params = rnn.init_params("gru", 3, 5, seed=seed)
    x, h = rng.standard_normal((2, 3)), rng.uniform(-1, 1, (2, 5))
    returned = call(  # copies: the learner's function may write into its inputs
        function,
        signature,
        {k: v.copy() for k, v in params.items()},
        x.copy(),
        h.copy(),
        note=N_(
            "It is called with params from rnn.init_params('gru', 3, 5), x of shape "
            "(2, 3) and h of shape (2, 5)."
        ),
    )
    result = as_array(returned, signature, (2, 5))  # the new states, (batch, hidden)
    if not np.all(np.isfinite(result)):
        raise AnswerError(
            _(
                "my_gru_step returned nan or inf; every GRU state is a finite number "
                "in (-1, 1). Hint: look for a division or an exp that overflows."
            )
        )
    if np.allclose(result, rnn.gru_cell(params, x, h), rtol=0, atol=1e-10):
        print(_("Correct: my_gru_step matches lmbook.rnn.gru_cell."))
        return
    mistakes = [
        (
            {"swap_z": True},
            N_(
                "in PyTorch's convention z weights the old state: "
                "h' = (1 - z) * n + z * h."
            ),
        ),
        (
            {"reset_before": True},
            N_(
                "apply the reset gate after the product, to (W_hn h + b_hn), "
                "as PyTorch does; Cho et al.'s original applies it before."
            ),
        ),
        (
            {"bias_outside": True},
            N_("the reset gate multiplies W_hn h + b_hn, bias included."),
        ),
    ]
    for switches, hint in mistakes:
        if np.allclose(
            result, _gru_variant(params, x, h, **switches), rtol=0, atol=1e-10
        ):
            raise AnswerError(_("Not quite. Hint: {advice}", advice=_(hint)))
    raise AnswerError(
        _(
            "Not quite: the new states differ from a GRU step. {hint}",
            hint=next_hint(HINTS["4.4"]),
        )
    )


def _whole(value: object, name: str, low: int) -> int:
    number = as_number(value, name, N_("(a whole number)"))
    if not number.is_integer() or number < low:
        raise AnswerError(
            _(
                "{name} should be a whole number ≥ {low}, got {value}.",
                name=name,
                low=low,
                value=repr(value),
            )
        )
    return int(number)


def ch04_beam_experiment(answer: object) -> None:
    """Exercise 4.6: beam widths of the learner's choice on the validation pairs.

    ``answer`` is a dict: ``beam_widths`` (one per run, including 1), ``correct`` (the
    exact matches of each run), ``examples`` (the number of pairs), ``best_width`` (a
    width with the most matches) and ``beam_beats_greedy`` (whether a width above 1
    got strictly more matches than width 1). The stated conclusions must follow from
    the learner's own counts.
    """
    answer = as_record(answer, "answer_6", EXPERIMENT_KEYS)
    widths, counts = answer["beam_widths"], answer["correct"]
    if not all(isinstance(value, list | tuple) for value in (widths, counts)):
        raise AnswerError(
            _(
                "{widths} and {counts} should be lists with one item per run, got "
                "{widths_kind} and {counts_kind}.",
                widths='answer_6["beam_widths"]',
                counts='answer_6["correct"]',
                widths_kind=type(widths).__name__,
                counts_kind=type(counts).__name__,
            )
        )
    if len(widths) != len(counts) or len(widths) < 2:
        raise AnswerError(
            _(
                "answer_6 should describe at least two runs, with one width and one "
                "count each; got {widths} widths and {counts} counts.",
                widths=len(widths),
                counts=len(counts),
            )
        )
    examples = _whole(answer["examples"], 'answer_6["examples"]', 1)
    widths = [
        _whole(w, f'answer_6["beam_widths"][{i}]', 1) for i, w in enumerate(widths)
    ]
    counts = [_whole(c, f'answer_6["correct"][{i}]', 0) for i, c in enumerate(counts)]
    if len(set(widths)) != len(widths) or 1 not in widths or max(widths) == 1:
        raise AnswerError(
            _(
                "{name} should hold distinct widths, among them 1 (greedy decoding) "
                "and at least one wider beam; got {widths}.",
                name='answer_6["beam_widths"]',
                widths=widths,
            )
        )
    if max(counts) > examples:
        raise AnswerError(
            _(
                "a count of exact matches cannot exceed the {examples} examples; got "
                "{count}.",
                examples=examples,
                count=max(counts),
            )
        )
    best, beats = answer["best_width"], answer["beam_beats_greedy"]
    if not isinstance(beats, bool | np.bool_):
        raise AnswerError(
            _(
                "{name} should be True or False, got {outcome}",
                name='answer_6["beam_beats_greedy"]',
                outcome=repr(beats),
            )
        )
    best = _whole(best, 'answer_6["best_width"]', 1)
    if best not in widths:
        raise AnswerError(
            _(
                "{name} should be one of your widths {widths}, got {best}.",
                name='answer_6["best_width"]',
                widths=widths,
                best=best,
            )
        )
    top = max(counts)
    if counts[widths.index(best)] != top:
        raise AnswerError(
            _(
                "Not quite: width {best} is not among those with the most exact "
                "matches in your own counts. {hint}",
                best=best,
                hint=next_hint(HINTS["4.6"]),
            )
        )
    greedy = counts[widths.index(1)]
    wider = max(c for w, c in zip(widths, counts, strict=True) if w > 1)
    if bool(beats) != (wider > greedy):
        hint = next_hint(HINTS["4.6"])
        if wider > greedy:
            message = _(
                "Not quite: your own counts say that a wider beam did get more exact "
                "matches than greedy decoding. {hint}",
                hint=hint,
            )
        else:
            message = _(
                "Not quite: your own counts say that a wider beam did not get more "
                "exact matches than greedy decoding. {hint}",
                hint=hint,
            )
        raise AnswerError(message)
    if beats:
        message = _(
            "Correct: width {best} got the most exact matches of your {runs} runs, "
            "and a wider beam did beat greedy decoding.",
            best=best,
            runs=len(widths),
        )
    else:
        message = _(
            "Correct: width {best} got the most exact matches of your {runs} runs, "
            "and a wider beam did not beat greedy decoding.",
            best=best,
            runs=len(widths),
        )
    print(message)
