"""Checkers of chapter 2, part 2: generalisation and initialisation (2b.1–2b.3).

Notebook: ``notebooks/02b_generalisation_and_initialisation.ipynb``. Each checker takes
the variable that the notebook's checker cell passes (``answer_1``, or the function the
learner wrote) and names that variable in its messages. The keyword arguments of a
number's checker are the exercise's given values, with the notebook's as defaults; a
function's checker takes the ``seed`` of its test inputs. The hidden test of
:mod:`lmbook.checks.grading` calls them with others (``SECOND_CASES``). Exercise 2b.3 is
an experiment: its checker computes the generalisation gap from the learner's own two
training histories and checks the stated direction against them, so any correct
outcome passes.
"""

from __future__ import annotations

import math

import numpy as np

from lmbook import generalisation
from lmbook.checks.core import (
    AnswerError,
    Hint,
    SecondCase,
    as_array,
    as_function,
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
            "2b.1",
            N_(
                "He's variance for ReLU depends on the fan-in alone, and a uniform "
                "distribution on (−b, b) has variance b²/3."
            ),
            N_("set b²/3 equal to 2 / fan_in and solve for b."),
        ),
        Hint(
            "2b.2",
            N_(
                "for a fixed mask, inverted dropout is y = x · keep / (1 − p), "
                "linear in x."
            ),
            N_(
                "multiply the upstream gradient by the same mask and by the same "
                "factor 1 / (1 − p) that the forward pass used."
            ),
        ),
        Hint(
            "2b.3",
            N_(
                "the gap is the last validation loss minus the last training loss of a "
                "history; compare it between your two runs, not with what you "
                "expected."
            ),
            N_(
                "compute gap = history['validation loss'][-1] − history['loss'][-1] "
                "for the baseline and for your run, and write 'shrank' if yours is "
                "smaller, 'grew' if it is larger."
            ),
        ),
    )
}

# Exercise 2b.3: the keys of the answer, the history keys read, the shortest history,
# and the smallest change of the gap (in nats) that counts as a change.
EXPERIMENT_KEYS = ("baseline", "changed", "gap")
HISTORY_KEYS = ("loss", "validation loss")
MIN_EPOCHS = 5
MIN_CHANGE = 0.005


def _fans(rng: np.random.Generator) -> dict[str, int]:
    """A layer's fan-in and fan-out, from 16 to 4,096 each."""
    return {
        "fan_in": int(rng.choice([16, 64, 100, 128, 300, 784, 1024, 2048, 4096])),
        "fan_out": int(rng.choice([10, 32, 128, 256, 1000, 2048])),
    }


SECOND_CASES = {
    "ch02b_kaiming_bound": SecondCase("answer_1", draw=_fans),
    "ch02b_dropout_backward": SecondCase("dropout_backward", seeded=True),
    "ch02b_regulariser_experiment": SecondCase("answer_3"),
}


def ch02b_kaiming_bound(answer: object, fan_in: int = 512, fan_out: int = 256) -> None:
    """Exercise 2b.1: the bound b of kaiming_uniform_ for a ReLU layer."""
    std = math.sqrt(2.0 / fan_in)
    check_close(
        answer,
        math.sqrt(3.0) * std,
        name="answer_1",
        unit=N_("(bound of the uniform distribution)"),
        rel_tol=0.005,
        hint=HINTS["2b.1"],
        hints=[
            (
                std,
                N_(
                    "that is the standard deviation; the bound of a uniform "
                    "distribution is larger by a factor √3."
                ),
            ),
            (
                math.sqrt(6.0 / (fan_in + fan_out)),
                N_("that is Xavier's bound; He's variance ignores the fan-out."),
            ),
            (
                math.sqrt(6.0 / fan_out),
                N_(
                    "kaiming_uniform_ uses the fan-in (mode='fan_in'), the number of "
                    "inputs of each unit."
                ),
            ),
            (
                math.sqrt(3.0 / fan_in),
                N_("the factor 2 of ReLU's gain is missing from the variance."),
            ),
            (
                2.0 / fan_in,
                N_("that is a variance; the bound is in the units of a weight."),
            ),
        ],
    )


def ch02b_dropout_backward(answer: object, seed: int = 3) -> None:
    """Exercise 2b.2: ``dropout_backward(dy, keep, p)``, the gradient through
    inverted dropout, written without lmbook.generalisation.
    """
    signature = "dropout_backward(dy, keep, p)"
    function = as_function(answer, "dropout_backward", signature)
    if uses_module(function, generalisation):
        raise AnswerError(
            _(
                "{signature} calls lmbook.generalisation; the exercise asks you to "
                "write the gradient yourself.",
                signature=signature,
            )
        )
    rng = np.random.default_rng(seed)
    p = float(rng.choice([0.1, 0.25, 0.3, 0.5, 0.6]))
    shape = (int(rng.integers(3, 7)), int(rng.integers(4, 9)))
    dy = rng.standard_normal(shape)
    keep = rng.random(shape) >= p
    got = as_array(
        call(function, signature, dy.copy(), keep.copy(), p), signature, shape
    )
    expected = dy * keep / (1.0 - p)
    if np.allclose(got, expected, rtol=1e-9, atol=1e-12):
        print(
            _("Correct: the gradient passes the kept entries, scaled by 1 / (1 − p).")
        )
        return
    if not np.all(np.isfinite(got)):
        raise AnswerError(
            _(
                "{signature} returned nan or inf; expected finite numbers.",
                signature=signature,
            )
        )
    for wrong, advice in (
        (
            dy * keep,
            N_("the forward pass scaled the kept entries; so does the backward."),
        ),
        (
            dy / (1.0 - p),
            N_("the dropped entries passed nothing forwards, so nothing back."),
        ),
        (
            dy * keep * (1.0 - p),
            N_("the forward factor is 1 / (1 − p), not (1 − p)."),
        ),
        (
            dy * ~keep / (1.0 - p),
            N_("keep is True where an entry was kept, not dropped."),
        ),
        (dy * keep / p, N_("the kept share is 1 − p; divide by that.")),
    ):
        if np.allclose(got, wrong, rtol=1e-9, atol=1e-12):
            raise AnswerError(_("Not quite: {advice}", advice=_(advice)))
    raise AnswerError(
        _(
            "Not quite: {signature} gives wrong values. {hint}",
            signature=signature,
            hint=next_hint(HINTS["2b.2"]),
        )
    )


def _gap(history: object, which: str) -> float:
    """Last validation loss minus last training loss of one history, checked."""
    if not isinstance(history, dict) or not all(k in history for k in HISTORY_KEYS):
        raise AnswerError(
            _(
                "{name} should be a history dict with the keys {keys} (what gen.fit "
                "returns), got {kind}.",
                name=f'answer_3["{which}"]',
                keys=", ".join(HISTORY_KEYS),
                kind=type(history).__name__,
            )
        )
    curves = {}
    for key in HISTORY_KEYS:
        try:
            values = np.asarray(history[key], dtype=float)
        except (TypeError, ValueError):
            values = None
        if values is None or values.ndim != 1 or values.size < MIN_EPOCHS:
            raise AnswerError(
                _(
                    "{name} should be a list of at least {epochs} losses, one per "
                    "epoch.",
                    name=f'answer_3["{which}"]["{key}"]',
                    epochs=MIN_EPOCHS,
                )
            )
        if not np.all(np.isfinite(values)) or np.any(values < 0):
            raise AnswerError(
                _(
                    "{name} holds a negative, nan or infinite loss; a cross-entropy "
                    "is a finite number ≥ 0.",
                    name=f'answer_3["{which}"]["{key}"]',
                )
            )
        curves[key] = values
    if curves["loss"].size != curves["validation loss"].size:
        raise AnswerError(
            _(
                "{name} has training and validation losses of different lengths; both "
                "should have one entry per epoch.",
                name=f'answer_3["{which}"]',
            )
        )
    return float(curves["validation loss"][-1] - curves["loss"][-1])


def ch02b_regulariser_experiment(answer: object) -> None:
    """Exercise 2b.3: a regulariser changed in section 2.10's run, and the gap's fate.

    ``answer`` is a dict: ``baseline`` and ``changed`` (two training histories, each
    with per-epoch ``loss`` and ``validation loss``) and ``gap`` ("grew" or
    "shrank"), which must agree with the gaps computed from the two histories.
    """
    answer = as_record(answer, "answer_3", EXPERIMENT_KEYS)
    stated = answer["gap"]
    if stated not in ("grew", "shrank"):
        raise AnswerError(
            _(
                '{name} should be "grew" or "shrank", got {stated}',
                name='answer_3["gap"]',
                stated=repr(stated),
            )
        )
    before = _gap(answer["baseline"], "baseline")
    after = _gap(answer["changed"], "changed")
    if answer["baseline"] is answer["changed"] or abs(after - before) < MIN_CHANGE:
        raise AnswerError(
            _(
                "Not quite: the two runs have practically the same gap, so the "
                "experiment shows no change. Choose a larger change of the dropout "
                "rate or the weight decay, and run it."
            )
        )
    seen = "shrank" if after < before else "grew"
    if stated != seen:
        hint = next_hint(HINTS["2b.3"])
        if stated == "grew":
            message = _(
                "Not quite: you wrote that the gap grew, but your own histories say "
                "otherwise. {hint}",
                hint=hint,
            )
        else:
            message = _(
                "Not quite: you wrote that the gap shrank, but your own histories say "
                "otherwise. {hint}",
                hint=hint,
            )
        raise AnswerError(message)
    if seen == "grew":
        message = _(
            "Correct: the gap grew, from {before:.3f} to {after:.3f} nats, as you "
            "reported.",
            before=before,
            after=after,
        )
    else:
        message = _(
            "Correct: the gap shrank, from {before:.3f} to {after:.3f} nats, as you "
            "reported.",
            before=before,
            after=after,
        )
    print(message)
