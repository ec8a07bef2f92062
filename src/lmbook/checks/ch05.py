"""Checkers of chapter 5: attention and Transformers (Exercises 5.1–5.3 and 5.5).

Notebook: ``notebooks/05_attention_and_transformers.ipynb``. Each checker takes the
variable that the notebook's checker cell passes (``answer_2``, or the function the
learner wrote) and names that variable in its messages. Its keyword arguments are the
exercise's given values (or, for a function, the seed of its test inputs), with the
notebook's as defaults: the hidden test of :mod:`lmbook.checks.grading` calls it with
others (``SECOND_CASES``).
"""

from __future__ import annotations

import math

import numpy as np

from lmbook import attention
from lmbook.checks.core import (
    AnswerError,
    Hint,
    SecondCase,
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
            "5.1",
            N_(
                "query i may attend to keys 0..i: itself and the past, never the "
                "future."
            ),
            N_(
                "row i of the mask is query i and column j is key j, so keep the "
                "entries on and below the diagonal: np.tril of an (n, n) array "
                "of ones, with dtype=bool."
            ),
        ),
        Hint(
            "5.2",
            N_(
                "a matrix product (a×b)(b×c) computes a·c dot products of length b, "
                "each b multiply-adds."
            ),
            N_(
                "QKᵀ is an (n×d)(d×n) product and AV an (n×n)(n×d) one; count each "
                "at 2 FLOPs per multiply-add, and add the two."
            ),
        ),
        Hint(
            "5.3",
            N_(
                "the variance of q·k adds up the variances of its d_k products q_i·k_i."
            ),
            N_(
                "for independent zero-mean entries Var(q_i·k_i) = Var(q_i)·Var(k_i); "
                "multiply the scores by one over the standard deviation of q·k."
            ),
        ),
        Hint(
            "5.5",
            N_(
                "a lower validation loss is the better model; compare your own two "
                "numbers, whatever they turned out to be."
            ),
            N_(
                "put the two losses your runs printed under 'with' and 'without', "
                "and set 'better' to the key whose loss is the smaller."
            ),
        ),
    )
}


def _draw_attention_flops(rng: np.random.Generator) -> dict[str, object]:
    """Another sequence length and width for Exercise 5.2, its answer far from the
    public one.
    """
    while True:
        n, d = 256 * int(rng.integers(2, 33)), 64 * int(rng.integers(1, 5))
        if not math.isclose(n * n * d, 4096 * 4096 * 128, rel_tol=0.1):
            return {"n": n, "d": d}


def _draw_score_scale(rng: np.random.Generator) -> dict[str, object]:
    """Another variance and key width for Exercise 5.3, its answer far from the
    public one.
    """
    while True:
        variance, d_k = (
            float(rng.integers(2, 10)),
            int(rng.choice([16, 32, 64, 128, 256])),
        )
        if not math.isclose(
            math.sqrt(d_k) * variance, math.sqrt(64) * 4.0, rel_tol=0.1
        ):
            return {"variance": variance, "d_k": d_k}


SECOND_CASES = {
    "ch05_causal_mask": SecondCase("my_causal_mask", seeded=True),
    "ch05_attention_flops": SecondCase("answer_2", draw=_draw_attention_flops),
    "ch05_score_scale": SecondCase("answer_3", draw=_draw_score_scale),
    # An experiment: the learner's own measurements, nothing to draw again.
    "ch05_position_experiment": SecondCase("answer_5"),
}


def ch05_causal_mask(answer: object, seed: int = 5) -> None:
    """Exercise 5.1: ``my_causal_mask(n)``, a boolean (n, n) mask, True where query i
    sees key j.

    It is tried on three sizes drawn from ``seed``, then on n = 2 and n = 1.
    """
    signature = "my_causal_mask(n)"
    function = as_function(answer, "my_causal_mask", signature)
    if uses_module(function, attention):
        raise AnswerError(
            _(
                "Not yet: the exercise asks for your own NumPy code, without "
                "lmbook.attention. Build the mask from an array of ones."
            )
        )
    sizes = [int(n) for n in np.random.default_rng(seed).integers(3, 17, size=3)] + [
        2,
        1,
    ]
    for n in sizes:
        got = call(function, signature, n)
        try:
            got = np.asarray(got) if got is not None else None
        except ValueError:  # a ragged list
            raise AnswerError(
                _(
                    "{signature} should return an array of shape (n, n); for n = {n} "
                    "it returned a {kind} whose rows differ in length.",
                    signature=signature,
                    n=n,
                    kind=type(got).__name__,
                )
            ) from None
        if got is None or got.shape != (n, n):
            shape = "None" if got is None else _("shape {shape}", shape=got.shape)
            raise AnswerError(
                _(
                    "{signature} should return an array of shape (n, n); for n = {n} "
                    "it returned {shape}.",
                    signature=signature,
                    n=n,
                    shape=shape,
                )
            )
        if got.dtype != np.bool_:
            raise AnswerError(
                _(
                    "{signature} returned dtype {dtype}; return booleans "
                    "(True = may attend), e.g. with dtype=bool, so that a 1 is not "
                    "mistaken for an additive mask.",
                    signature=signature,
                    dtype=got.dtype,
                )
            )
        expected = attention.causal_mask(n)
        if np.array_equal(got, expected):
            continue
        if np.array_equal(got, ~expected):
            raise AnswerError(
                _(
                    "Not quite: your mask is True where attention is forbidden. In "
                    "lmbook and in F.scaled_dot_product_attention, True means "
                    "'may attend'."
                )
            )
        if np.array_equal(got, expected.T):
            raise AnswerError(
                _(
                    "Not quite: row i is query i, and it may see keys 0..i, the "
                    "columns on and left of the diagonal (your mask lets it see the "
                    "future)."
                )
            )
        if np.array_equal(got, np.tril(np.ones((n, n), dtype=bool), -1)):
            raise AnswerError(
                _("Not quite: a token may attend to itself; keep the diagonal.")
            )
        raise AnswerError(
            _("Not quite (n = {n}). {hint}", n=n, hint=next_hint(HINTS["5.1"]))
        )
    print(_("Correct: query i attends to keys 0..i, for every n tried."))


def ch05_attention_flops(answer: object, n: int = 4096, d: int = 128) -> None:
    """Exercise 5.2: FLOPs of QKᵀ and of the weighted sum of V for ``n`` tokens of
    width ``d``.
    """
    cost = attention.attention_cost(n, d)
    check_close(
        answer,
        cost["score_flops"] + cost["mix_flops"],
        name="answer_2",
        unit=N_("FLOPs"),
        rel_tol=0.01,
        hint=HINTS["5.2"],
        hints=[
            (
                cost["score_flops"],
                N_("that is QKᵀ alone; the weights then multiply V, as much again."),
            ),
            (
                n * n * d,
                N_("count a multiply-add as 2 FLOPs, and add the product with V."),
            ),
            (
                cost["total_flops"],
                N_("the question leaves out the projections W_q, W_k, W_v, W_o."),
            ),
            (
                4 * n * d * d,
                N_("the cost that grows as n² comes from the n×n score matrix: n²·d."),
            ),
        ],
    )


def ch05_score_scale(answer: object, variance: float = 4.0, d_k: int = 64) -> None:
    """Exercise 5.3: the score scale for unit variance when q and k entries have
    ``variance``.
    """
    check_close(
        answer,
        1 / math.sqrt(d_k * variance**2),
        name="answer_3",
        unit=N_("(a factor)"),
        rel_tol=0.01,
        hint=HINTS["5.3"],
        hints=[
            (
                1 / math.sqrt(d_k),
                _(
                    "that is right for unit-variance entries; here each "
                    "has variance {variance:g}.",
                    variance=variance,
                ),
            ),
            (
                1 / math.sqrt(d_k * variance),
                _(
                    "each product q_i·k_i has variance {variance:g}·{variance:g}, "
                    "not {variance:g}.",
                    variance=variance,
                ),
            ),
            (
                1 / (d_k * variance**2),
                N_("scale by one over the standard deviation, not the variance."),
            ),
            (
                math.sqrt(d_k * variance**2),
                N_("divide by the standard deviation: the factor is below 1."),
            ),
        ],
    )


def ch05_position_experiment(answer: object) -> None:
    """Exercise 5.5: the validation losses of a small GPT trained with and without
    position embeddings, and which of the two is better, judged from those numbers.

    ``answer`` is a dict ``{"with": loss, "without": loss, "better": "with" or
    "without"}``, the losses in nats per character as the learner measured them.
    Any outcome of the experiment is accepted if the verdict follows from the
    learner's own numbers; losses closer than 0.005 nats may be called either way.
    """
    answer = as_record(answer, "answer_5", ("with", "without", "better"))
    losses = {}
    for key in ("with", "without"):
        name = f'answer_5["{key}"]'
        value = as_number(answer[key], name, N_("nats per character"))
        if not 0 < value < 10:
            raise AnswerError(
                _(
                    "{name} = {value:g} is not a validation loss in nats per "
                    "character of this model (a positive number, below ln 66 ≈ 4.19 "
                    "plus a little for a poor model); put the number your run "
                    "printed.",
                    name=name,
                    value=value,
                )
            )
        losses[key] = value
    better = answer["better"]
    better = better.strip().lower() if isinstance(better, str) else better
    if better not in ("with", "without"):
        raise AnswerError(
            _(
                '{name} should be the string "with" or "without", got {better}.',
                name='answer_5["better"]',
                better=repr(better),
            )
        )
    if losses["with"] == losses["without"]:
        raise AnswerError(
            _(
                "Your two losses are identical, so the runs did not differ: check "
                "that the model without positions really has its position table set "
                "to zero and frozen."
            )
        )
    if abs(losses["with"] - losses["without"]) >= 0.005:
        lower = min(losses, key=losses.get)
        if better != lower:
            raise AnswerError(
                _(
                    "Not quite: by your own numbers. {hint}",
                    hint=next_hint(HINTS["5.5"]),
                )
            )
    print(
        _(
            "Correct: by your measurements the model with positions predicts the "
            "validation text better; now explain why in words."
        )
        if better == "with"
        else _(
            "Correct: by your measurements the model without positions predicts the "
            "validation text better; now explain why in words."
        )
    )
