"""Checkers of chapter 1: the rise of large models (Exercises 1.1–1.3 and 1.5).

Notebook: ``notebooks/01_rise_of_large_models.ipynb``. Each checker takes the variable
that the notebook's checker cell passes (``answer_1``) and names it in its messages. Its
keyword arguments are the exercise's given values, with the notebook's as defaults: the
hidden test of :mod:`lmbook.checks.grading` calls it with others (``SECOND_CASES``).
Exercise 1.5 is an experiment: its checker takes the learner's own measurements and
checks the conclusion drawn from them, so any correct outcome passes.
"""

from __future__ import annotations

import math

import numpy as np

from lmbook import scaling
from lmbook.checks.core import (
    AnswerError,
    Hint,
    SecondCase,
    as_number,
    as_record,
    check_close,
    next_hint,
)
from lmbook.checks.messages import N_, _

HINTS = {
    hint.exercise: hint
    for hint in (
        Hint(
            "1.1",
            N_(
                "training compute counts the operations of every parameter on every "
                "token, forward and backward."
            ),
            N_(
                "multiply 6 · N · D, with N and D written as powers of "
                "ten (65 billion = 6.5e10)."
            ),
        ),
        Hint(
            "1.2",
            N_("the budget fixes C = 6·N·D, and the rule ties D to N."),
            N_("substitute D = 20·N into C = 6·N·D and solve the quadratic for N."),
        ),
        Hint(
            "1.3",
            N_("exponential growth multiplies the size by 2 once per doubling time."),
            N_(
                "count the doublings, log2(final / initial), and divide the months by "
                "it."
            ),
        ),
        Hint(
            "1.5",
            N_(
                "the exponent is minus the slope of the straight line through "
                "(log parameters, log test loss), fitted to your own runs."
            ),
            N_(
                "pass your runs' parameter counts and losses to scaling.fit_power_law, "
                "store its exponent, and compare it with the exponent of section 1.6 "
                "to choose the verdict."
            ),
        ),
    )
}

# Exercise 1.5: the keys of the answer, and the words a verdict may use.
EXPERIMENT_KEYS = ("parameters", "test_losses", "exponent", "baseline", "verdict")
VERDICTS = ("steeper", "shallower", "about the same")
# The verdicts as the confirmation shows them: the learner types the English word.
VERDICT_WORDS = {
    "steeper": N_("steeper"),
    "shallower": N_("shallower"),
    "about the same": N_("about the same"),
}
CHANCE_LOSS = math.log(10)  # uniform guessing among the ten digits, in nats
SAME_WITHIN = 0.1  # "about the same": exponents within 10% of each other

SECOND_CASES = {
    "ch01_training_compute": SecondCase(
        "answer_1",
        draw=lambda rng: {
            "parameters": float(rng.integers(2, 400)) * 1e9,
            "tokens": float(rng.integers(3, 300)) * 1e11,
        },
    ),
    "ch01_chinchilla_rule": SecondCase(
        "answer_2",
        draw=lambda rng: {
            "budget": float(rng.integers(1, 100)) * 10.0 ** rng.integers(21, 26)
        },
    ),
    "ch01_scaling_experiment": SecondCase("answer_5"),
    "ch01_doubling_months": SecondCase(
        "answer_3",
        draw=lambda rng: {
            "start": float(rng.integers(1, 20)) * 1e8,
            "end": float(rng.integers(50, 900)) * 1e9,
            "months": float(rng.integers(6, 40)),
        },
    ),
}


def ch01_training_compute(
    answer: object, parameters: float = 65e9, tokens: float = 1.4e12
) -> None:
    """Exercise 1.1: FLOPs to train ``parameters`` on ``tokens`` with C = 6·N·D."""
    expected = scaling.training_compute(parameters, tokens)
    check_close(
        answer,
        expected,
        name="answer_1",
        unit="FLOP",
        rel_tol=0.02,
        hint=HINTS["1.1"],
        hints=[
            (
                parameters * tokens,
                N_(
                    "you counted one operation per parameter per token; "
                    "what do the forward and backward passes cost?"
                ),
            ),
            (
                2 * parameters * tokens,
                N_("that is the forward pass alone; add the backward pass."),
            ),
        ],
    )


def ch01_chinchilla_rule(answer: object, budget: float = 1e24) -> None:
    """Exercise 1.2: parameters for a ``budget`` of FLOP under D = 20·N and
    C = 6·N·D.
    """
    expected = scaling.tokens_per_parameter_optimal(budget, 20.0)[0]
    check_close(
        answer,
        expected,
        name="answer_2",
        unit=N_("parameters"),
        rel_tol=0.03,
        hint=HINTS["1.2"],
        hints=[
            (
                20 * expected,
                N_("that is the number of tokens D; the question asks for N."),
            ),
            (
                budget / 120,
                N_("substituting D = 20·N gives C = 120·N², so take a square root."),
            ),
        ],
    )


def ch01_doubling_months(
    answer: object, start: float = 1.5e9, end: float = 175e9, months: float = 15.0
) -> None:
    """Exercise 1.3: doubling time, in months, of growth from ``start`` to ``end``."""
    expected = months / math.log2(end / start)
    check_close(
        answer,
        expected,
        name="answer_3",
        unit=N_("months"),
        rel_tol=0.03,
        hint=HINTS["1.3"],
        hints=[
            (
                months / (end / start),
                N_(
                    "divide by the number of doublings, log2(ratio), "
                    "not by the ratio itself."
                ),
            ),
            (
                months / math.log(end / start),
                N_("a doubling is a factor of 2: use log2, not ln."),
            ),
            (
                months / math.log10(end / start),
                N_("a doubling is a factor of 2: use log2, not log10."),
            ),
        ],
    )


def _positive_series(answer: dict, key: str) -> np.ndarray:
    """``answer[key]`` as a 1-D float array of positive finite numbers."""
    try:
        values = np.asarray(answer[key], dtype=float)
    except (TypeError, ValueError):
        values = None
    if values is None or values.ndim != 1 or not np.all(np.isfinite(values)):
        raise AnswerError(
            _(
                "{name} should be a list of finite numbers, one per run, got {answer}",
                name=f'answer_5["{key}"]',
                answer=repr(answer[key]),
            )
        )
    if not np.all(values > 0):
        raise AnswerError(
            _(
                "{name} should hold positive numbers only.",
                name=f'answer_5["{key}"]',
            )
        )
    return values


def ch01_scaling_experiment(answer: object) -> None:
    """Exercise 1.5: a rerun of section 1.6's scaling experiment and its verdict.

    ``answer`` is a dict: ``parameters`` and ``test_losses`` of the runs fitted,
    ``exponent`` (the learner's fitted exponent), ``baseline`` (section 1.6's exponent)
    and ``verdict``, one of "steeper", "shallower" or "about the same". The checker
    fits the runs again and checks the exponent and the verdict against that fit.
    """
    answer = as_record(answer, "answer_5", EXPERIMENT_KEYS)
    parameters = _positive_series(answer, "parameters")
    losses = _positive_series(answer, "test_losses")
    if parameters.shape != losses.shape:
        raise AnswerError(
            _(
                "{parameters} and {losses} should have one entry per run each, got "
                "{parameters_size} and {losses_size}.",
                parameters='answer_5["parameters"]',
                losses='answer_5["test_losses"]',
                parameters_size=parameters.size,
                losses_size=losses.size,
            )
        )
    if np.unique(parameters).size < 3:
        raise AnswerError(
            _(
                "A power law needs at least three runs of different sizes; answer_5 "
                "has {count}.",
                count=np.unique(parameters).size,
            )
        )
    exponent = as_number(answer["exponent"], 'answer_5["exponent"]', N_("(exponent)"))
    baseline = as_number(answer["baseline"], 'answer_5["baseline"]', N_("(exponent)"))
    if baseline <= 0:
        raise AnswerError(
            _(
                "{name} should be section 1.6's fitted exponent, a positive number.",
                name='answer_5["baseline"]',
            )
        )
    verdict = answer["verdict"]
    if not isinstance(verdict, str) or verdict.strip().lower() not in VERDICTS:
        raise AnswerError(
            _(
                "{name} should be one of {verdicts}, got {verdict}",
                name='answer_5["verdict"]',
                verdicts=", ".join(map(repr, VERDICTS)),
                verdict=repr(verdict),
            )
        )
    if np.any(losses >= 0.95 * CHANCE_LOSS):
        raise AnswerError(
            _(
                "Not quite: a run with a test loss near ln 10 learned nothing (it is "
                "at chance level) and bends the line; leave such runs out of the fit, "
                "as section 1.6 does."
            )
        )
    refit = scaling.fit_power_law(parameters, losses).exponent
    if not math.isclose(exponent, refit, rel_tol=0.02, abs_tol=0.005):
        raise AnswerError(
            _(
                "Not quite: {name} = {exponent:.4g} is not the exponent of your own "
                "runs. {hint}",
                name='answer_5["exponent"]',
                exponent=exponent,
                hint=next_hint(HINTS["1.5"]),
            )
        )
    direction = "steeper" if refit > baseline else "shallower"
    close = abs(refit - baseline) <= SAME_WITHIN * baseline
    allowed = {direction, "about the same"} if close else {direction}
    verdict = verdict.strip().lower()
    if verdict not in allowed:
        if refit > baseline:
            message = _(
                "Not quite: the loss of your runs falls faster with size than in "
                'section 1.6, so the verdict "{verdict}" does not describe your own '
                "fit.",
                verdict=verdict,
            )
        else:
            message = _(
                "Not quite: the loss of your runs falls more slowly with size than in "
                'section 1.6, so the verdict "{verdict}" does not describe your own '
                "fit.",
                verdict=verdict,
            )
        raise AnswerError(message)
    print(
        _(
            "Correct: your {count} runs fall with exponent {refit:.3g} against "
            "{baseline:.3g} in section 1.6: {verdict}.",
            count=parameters.size,
            refit=refit,
            baseline=baseline,
            verdict=_(VERDICT_WORDS[verdict]),
        )
    )
