"""Checkers of notebook 6d, chapter 6 part 4: text generation (Exercises 6d.1–6d.3).

Notebook: ``notebooks/06d_text_generation.ipynb``. Each checker takes the variable that
the notebook's checker cell passes (``answer_1``) and names it in its messages. Its
keyword arguments are the exercise's given values, with the notebook's as defaults:
the hidden test of :mod:`lmbook.checks.grading` calls it with others
(``SECOND_CASES``). Exercise 6d.2 is worked by hand and has no second case.
"""

from __future__ import annotations

import math

import numpy as np

from lmbook import nn
from lmbook.checks.core import (
    AnswerError,
    Hint,
    SecondCase,
    as_finite_array,
    check_close,
    next_hint,
)
from lmbook.checks.messages import N_, _

CH06D_NEXT_TOKENS = {
    "the": 0.42,
    "a": 0.25,
    "his": 0.13,
    "her": 0.09,
    "my": 0.06,
    "this": 0.05,
}

HINTS = {
    hint.exercise: hint
    for hint in (
        Hint(
            "6d.1",
            N_(
                "perplexity is the exponential of the mean negative log-likelihood of "
                "the scored tokens."
            ),
            N_(
                "take the natural log of each probability, average over the tokens, "
                "change the sign and exponentiate: exp(-(1/N) Σ log p), N the "
                "number of scored tokens."
            ),
        ),
        Hint(
            "6d.2",
            N_(
                "top-p (nucleus) filtering keeps the smallest set of most likely "
                "tokens whose probabilities add up to at least p."
            ),
            N_(
                "sort the tokens by probability, most likely first, and add up their "
                "probabilities one by one; keep every token up to and including the "
                "one with which the running total first reaches p."
            ),
        ),
        Hint(
            "6d.3",
            N_(
                "the temperature T divides the logits before the softmax turns them "
                "into probabilities."
            ),
            N_(
                "compute z_i / T for each logit z_i, then "
                "p_i = exp(z_i / T) / Σ_j exp(z_j / T)."
            ),
        ),
    )
}


def _perplexity(probabilities) -> float:
    return math.exp(-np.mean(np.log(probabilities)))


def _draw_probabilities(rng: np.random.Generator) -> dict[str, object]:
    """Three to six probabilities in steps of 0.05, with a perplexity unlike 6d.1's."""
    public = _perplexity((0.5, 0.25, 0.1, 0.4))
    while True:
        steps = rng.integers(1, 20, size=int(rng.integers(3, 7)))
        probabilities = tuple(round(float(step) / 20, 2) for step in steps)
        if abs(_perplexity(probabilities) / public - 1) > 0.05:
            return {"probabilities": probabilities}


def _draw_logits(rng: np.random.Generator) -> dict[str, object]:
    """Three logits in steps of 0.5 and a temperature other than 1, unlike
    6d.3's answer.
    """
    public = nn.softmax(np.array([2.0, 1.0, 0.0]) / 0.5)
    while True:
        logits = tuple(float(step) / 2 for step in rng.integers(-6, 9, size=3))
        temperature = float(rng.integers(1, 9)) / 4  # 0.25 to 2
        if temperature == 1.0:
            continue
        expected = nn.softmax(np.array(logits) / temperature)
        if np.abs(expected - public).max() > 0.05:
            return {"logits": logits, "temperature": temperature}


SECOND_CASES = {
    "ch06d_perplexity_from_probs": SecondCase("answer_1", draw=_draw_probabilities),
    "ch06d_top_p_survivors": SecondCase("answer_2"),
    "ch06d_temperature_probs": SecondCase("answer_3", draw=_draw_logits),
}


def ch06d_perplexity_from_probs(
    answer: object, probabilities: tuple[float, ...] = (0.5, 0.25, 0.1, 0.4)
) -> None:
    """Exercise 6d.1: the perplexity of tokens given ``probabilities``
    (0.5, 0.25, 0.1, 0.4).
    """
    p = np.array(probabilities, dtype=float)
    nll = -np.log(p).mean()
    check_close(
        answer,
        math.exp(nll),
        name="answer_1",
        unit=N_("(a perplexity)"),
        rel_tol=0.005,
        hint=HINTS["6d.1"],
        hints=[
            (
                nll,
                N_(
                    "that is the mean negative log-likelihood in "
                    "nats; perplexity is its exp."
                ),
            ),
            (
                nll / math.log(2),
                N_("that is the cross-entropy in bits per token; raise 2 to it."),
            ),
            (math.exp(-nll), N_("mind the sign: the perplexity is at least 1.")),
            (
                (1 / p).mean(),
                N_("average the log-probabilities, not the inverse probabilities."),
            ),
            (
                math.exp(-np.log(p).sum()),
                N_("take the mean over the tokens, not the sum."),
            ),
        ],
    )


def ch06d_top_p_survivors(answer: object) -> None:
    """Exercise 6d.2: which of six next tokens survive nucleus filtering with
    top_p = 0.9.
    """
    if answer is None or answer is Ellipsis:
        raise AnswerError(
            _("No answer yet: set answer_2 to a list of tokens and run the cell.")
        )
    is_collection = isinstance(answer, list | tuple | set | frozenset)
    if not is_collection or not all(isinstance(token, str) for token in answer):
        raise AnswerError(
            _(
                "answer_2 should be a list (or set) of tokens such as ['the', 'a'], "
                "got {kind}: {answer}",
                kind=type(answer).__name__,
                answer=repr(answer),
            )
        )
    got = set(answer)
    unknown = got - CH06D_NEXT_TOKENS.keys()
    if unknown:
        raise AnswerError(
            _(
                "{unknown} are not among the six tokens {tokens}; write them exactly "
                "as given.",
                unknown=sorted(map(str, unknown)),
                tokens=list(CH06D_NEXT_TOKENS),
            )
        )
    ranked = sorted(CH06D_NEXT_TOKENS, key=CH06D_NEXT_TOKENS.get, reverse=True)
    mass_before = np.cumsum([CH06D_NEXT_TOKENS[t] for t in ranked]) - [
        CH06D_NEXT_TOKENS[t] for t in ranked
    ]
    expected = {
        t for t, before in zip(ranked, mass_before, strict=True) if before < 0.9
    }
    if got == expected:
        print(
            _(
                "Correct: {count} tokens survive, holding 0.95 of the probability.",
                count=len(expected),
            )
        )
        return
    mass = sum(CH06D_NEXT_TOKENS[t] for t in got)
    if got < expected and got == set(ranked[: len(got)]):
        hint = _(
            "Hint: your tokens hold {mass:.2f} of the probability, less than "
            "p = 0.9; the nucleus is the smallest set whose mass reaches p, so keep "
            "the token that crosses it.",
            mass=mass,
        )
    elif got > expected and got == set(ranked[: len(got)]):
        hint = _(
            "Hint: the nucleus is the smallest such set: stop adding tokens "
            "once the mass reaches p."
        )
    else:
        hint = next_hint(HINTS["6d.2"])
    raise AnswerError(_("Not quite. {hint}", hint=hint))


def ch06d_temperature_probs(
    answer: object,
    logits: tuple[float, ...] = (2.0, 1.0, 0.0),
    temperature: float = 0.5,
) -> None:
    """Exercise 6d.3: softmax of the ``logits`` (2, 1, 0) at ``temperature`` 0.5."""
    if answer is None or answer is Ellipsis:
        raise AnswerError(
            _(
                "No answer yet: set answer_3 to the probabilities, one per "
                "logit, and run the cell."
            )
        )
    z = np.array(logits, dtype=float)
    got = as_finite_array(answer, "answer_3", z.shape)
    expected = nn.softmax(z / temperature)
    if np.allclose(got, expected, rtol=0, atol=0.005 + 1e-9):  # two decimals, as asked
        probabilities = np.round(expected, 3).tolist()
        print(
            _(
                "Correct: {probabilities}; the top token gains at T < 1.",
                probabilities=probabilities,
            )
            if temperature < 1
            else _(
                "Correct: {probabilities}; T > 1 flattens them.",
                probabilities=probabilities,
            )
        )
        return
    mistakes = [
        (
            nn.softmax(z),
            N_("that is the softmax at temperature 1; divide the logits by T first."),
        ),
        (
            nn.softmax(z * temperature),
            _(
                "divide the logits by T = {temperature:g}, do not multiply.",
                temperature=temperature,
            ),
        ),
        (
            z / temperature,
            N_("turn the scaled logits into probabilities with a softmax."),
        ),
        (np.exp(z / temperature), N_("normalise: the probabilities must sum to 1.")),
    ]
    for wrong, hint in mistakes:
        if np.allclose(got, wrong, atol=2e-3):
            raise AnswerError(_("Not quite. Hint: {hint}", hint=_(hint)))
    if not np.isclose(got.sum(), 1, atol=2e-3):
        raise AnswerError(
            _(
                "Not quite: your numbers sum to {total:.3f}; probabilities sum to 1.",
                total=got.sum(),
            )
        )
    raise AnswerError(_("Not quite. {hint}", hint=next_hint(HINTS["6d.3"])))
