"""Checkers of chapter 9: efficient deployment (Exercises 9.1–9.4).

Notebook: ``notebooks/09_efficient_deployment.ipynb``. Each checker takes the variable
that the notebook's checker cell passes (``answer_1``) and names it in its messages. Its
keyword arguments are the exercise's given values, with the notebook's as defaults: the
hidden test of :mod:`lmbook.checks.grading` calls it with others (``SECOND_CASES``).
"""

from __future__ import annotations

import math

import numpy as np

from lmbook.checks.core import (
    AnswerError,
    Hint,
    SecondCase,
    as_number,
    check_close,
    next_hint,
)
from lmbook.checks.messages import N_, _

SCALE_BITS = 16  # Exercise 9.1: one fp16 scale per group
QUERY_HEADS = 32  # Exercise 9.3: the query heads of the model the text describes

HINTS = {
    hint.exercise: hint
    for hint in (
        Hint(
            "9.1",
            N_(
                "a grouped low-bit format stores each weight's own bits plus its share "
                "of the one scale that its group keeps."
            ),
            N_(
                "bits per weight = bits + (bits of one scale) / (weights per group); "
                "then bytes = parameters × bits per weight / 8, and GB = bytes / 10⁹."
            ),
        ),
        Hint(
            "9.2",
            N_(
                "affine quantization spreads the real range evenly over the integer "
                "steps, and the zero point is the integer that stands for the real "
                "value 0."
            ),
            N_(
                "s = (β − α) / (q_max − q_min), with q_min = 0 and q_max = 255; then "
                "z = q_min − round(α / s)."
            ),
        ),
        Hint(
            "9.3",
            N_(
                "the cache keeps one key and one value vector per layer, key/value "
                "head, token and sequence."
            ),
            N_(
                "multiply 2 · layers · kv_heads · head_dim · tokens · batch · bytes "
                "per value, then divide by 10⁹ for GB."
            ),
        ),
        Hint(
            "9.4",
            N_(
                "the sparse format pays for each nonzero with its value and its index; "
                "the dense one pays for every entry with its value alone."
            ),
            N_(
                "per entry, dense costs value_bytes and sparse (1 − s) · (value_bytes "
                "+ index_bytes); set the two equal and solve for s."
            ),
        ),
    )
}


def _draw_int4(rng: np.random.Generator) -> dict[str, object]:
    """Another model size, bit width and group size (Exercise 9.1)."""
    while True:
        values = {
            "parameters": float(rng.integers(5, 800)) * 1e8,
            "bits": int(rng.choice([2, 3, 4, 8])),
            "group": int(rng.choice([32, 64, 128, 256])),
        }
        size = values["parameters"] * (values["bits"] + SCALE_BITS / values["group"])
        if abs(size / (8.03e9 * (4 + SCALE_BITS / 64)) - 1) > 0.05:
            return values


def _draw_range(rng: np.random.Generator) -> dict[str, object]:
    """Another calibration range around 0, with no tie to round (Exercise 9.2)."""
    while True:
        low, high = -int(rng.integers(1, 30)) / 10, int(rng.integers(5, 60)) / 10
        steps = -low / ((high - low) / 255)  # α / s, to be rounded
        if abs(steps - math.floor(steps) - 0.5) > 0.05 and abs(high - low - 3.2) > 0.1:
            return {"low": low, "high": high}


def _draw_cache(rng: np.random.Generator) -> dict[str, object]:
    """Another model, context and batch (Exercise 9.3)."""
    while True:
        values = {
            "layers": int(rng.choice([16, 24, 28, 40, 48, 60, 80])),
            "kv_heads": int(rng.choice([1, 2, 4, 8, 16])),
            "head_dim": int(rng.choice([64, 96, 128])),
            "tokens": int(rng.choice([1024, 2048, 4096, 16384, 32768])),
            "batch": int(rng.integers(1, 65)),
            "bytes_per_value": int(rng.choice([1, 2, 4])),
        }
        if abs(math.prod(values.values()) / (32 * 8 * 128 * 8192 * 16 * 2) - 1) > 0.05:
            return values


def _draw_sparse(rng: np.random.Generator) -> dict[str, object]:
    """Other byte widths of values and indices, not equal to each other
    (Exercise 9.4).
    """
    value_bytes, index_bytes = 4, 4
    while value_bytes == index_bytes:
        value_bytes, index_bytes = (
            int(rng.choice([1, 2, 4, 8])),
            int(rng.choice([2, 4, 8])),
        )
    return {"value_bytes": value_bytes, "index_bytes": index_bytes}


SECOND_CASES = {
    "ch09_int4_size": SecondCase("answer_1", draw=_draw_int4),
    "ch09_qparams": SecondCase("answer_2", draw=_draw_range),
    "ch09_kv_cache": SecondCase("answer_3", draw=_draw_cache),
    "ch09_csr_break_even": SecondCase("answer_4", draw=_draw_sparse),
}


def ch09_int4_size(
    answer: object, parameters: float = 8.03e9, bits: int = 4, group: int = 64
) -> None:
    """Exercise 9.1: GB of ``parameters`` weights of ``bits`` bits, one fp16 scale per
    ``group``.
    """
    n = parameters
    hints = [
        (
            n * bits / 8 / 1e9,
            _(
                "you counted the {bits}-bit values only; add each group's scale.",
                bits=bits,
            ),
        ),
        (
            n * (bits + SCALE_BITS) / 8 / 1e9,
            N_("the scale is shared by a group of weights."),
        ),
        (
            n * 1 / 1e9,
            _(
                "that is int8, one byte per weight; the format stores {bits}-bit "
                "values.",
                bits=bits,
            ),
        ),
        (
            n * 2 / 1e9,
            _("that is bf16; the format stores {bits}-bit values.", bits=bits),
        ),
        (
            n * 4 / 1e9,
            _("that is fp32; the format stores {bits}-bit values.", bits=bits),
        ),
        (n * (bits + SCALE_BITS / group) / 1e9, N_("divide bits by 8 to get bytes.")),
    ]
    check_close(
        answer,
        n * (bits + SCALE_BITS / group) / 8 / 1e9,
        name="answer_1",
        unit="GB",
        rel_tol=0.005,
        hint=HINTS["9.1"],
        hints=hints,
    )


def ch09_qparams(answer: object, low: float = -0.8, high: float = 2.4) -> None:
    """Exercise 9.2: scale and zero point of unsigned 8-bit affine quantization of
    [low, high].
    """
    from lmbook import deploy

    if answer is None or answer is Ellipsis:
        raise AnswerError(
            _("No answer yet: set answer_2 to a pair (scale, zero_point).")
        )
    is_sequence = isinstance(answer, list | tuple) or (
        isinstance(answer, np.ndarray) and answer.ndim == 1
    )
    if not is_sequence or len(answer) != 2:
        raise AnswerError(
            _(
                "answer_2 should be a pair (scale, zero_point), e.g. "
                "(0.01, 10); got {answer}",
                answer=repr(answer),
            )
        )
    scale = as_number(
        answer[0], _("answer_2[0] (the scale)"), N_("real units per integer step")
    )
    zero = as_number(answer[1], _("answer_2[1] (the zero point)"), N_("integer steps"))
    expected_scale, expected_zero = deploy.affine_qparams(low, high, 8)
    expected_scale, expected_zero = float(expected_scale), int(expected_zero)
    if not math.isclose(scale, expected_scale, rel_tol=2e-3):
        if math.isclose(scale, (high - low) / 256, rel_tol=2e-3):
            hint = _(
                "Hint: 256 integers make 255 steps: divide the "
                "range by q_max - q_min = 255."
            )
        elif math.isclose(scale, high / 255, rel_tol=2e-3):
            hint = _(
                "Hint: the range runs from the minimum, α = {low:g}, not from 0.",
                low=low,
            )
        elif math.isclose(scale, 1 / expected_scale, rel_tol=2e-3):
            hint = _(
                "Hint: the scale is the real size of one integer step: range / steps."
            )
        else:
            hint = next_hint(HINTS["9.2"])
        raise AnswerError(
            _(
                "Not quite: the scale {scale:.5g} is not right. {hint}",
                scale=scale,
                hint=hint,
            )
        )
    if zero != expected_zero:
        if zero == -expected_zero:
            hint = _(
                "Hint: mind the sign: z = q_min - round(α / s), and α is negative."
            )
        elif not zero.is_integer():
            hint = _("Hint: the zero point is an integer: round α / s before using it.")
        elif zero == math.floor(-low / expected_scale):
            hint = _("Hint: round to the nearest integer, do not truncate.")
        else:
            hint = next_hint(HINTS["9.2"])
        raise AnswerError(
            _(
                "Not quite: the scale is right but the zero point is not. {hint}",
                hint=hint,
            )
        )
    print(
        _(
            "Correct: scale {scale:.6f}, zero point {zero}; "
            "the integer {zero} stands for 0.0 exactly.",
            scale=expected_scale,
            zero=expected_zero,
        )
    )


def ch09_kv_cache(
    answer: object,
    layers: int = 32,
    kv_heads: int = 8,
    head_dim: int = 128,
    tokens: int = 8192,
    batch: int = 16,
    bytes_per_value: float = 2,
) -> None:
    """Exercise 9.3: GB of a key/value cache: 2 · layers · kv_heads ·
    head_dim · tokens · batch.
    """
    from lmbook import deploy

    expected = (
        deploy.kv_cache_bytes(
            layers=layers,
            kv_heads=kv_heads,
            head_dim=head_dim,
            tokens=tokens,
            batch=batch,
            bytes_per_value=bytes_per_value,
        )
        / 1e9
    )
    hints = [
        (expected / 2, N_("the cache holds a key AND a value vector: a factor of 2."))
    ]
    if kv_heads < QUERY_HEADS:
        hints.append(
            (
                expected * QUERY_HEADS / kv_heads,
                _(
                    "with grouped-query attention only the "
                    "{kv_heads} key/value heads count.",
                    kv_heads=kv_heads,
                ),
            )
        )
    if bytes_per_value != 4:
        hints.append(
            (
                expected * 4 / bytes_per_value,
                _(
                    "each value takes {bytes_per_value:g} bytes, not 4.",
                    bytes_per_value=bytes_per_value,
                ),
            )
        )
    hints += [
        (
            expected / batch,
            _("that is one sequence; the batch holds {batch}.", batch=batch),
        ),
        (expected * 1e9 / 2**30, N_("GB here means 10^9 bytes, not 2^30 (GiB).")),
    ]
    check_close(
        answer,
        expected,
        name="answer_3",
        unit="GB",
        rel_tol=0.01,
        hint=HINTS["9.3"],
        hints=hints,
    )


def ch09_csr_break_even(
    answer: object, value_bytes: int = 4, index_bytes: int = 4
) -> None:
    """Exercise 9.4: the sparsity above which values + column indices beat the
    dense matrix.
    """
    expected = index_bytes / (value_bytes + index_bytes)  # (1 - s)(v + i) = v
    hints = [
        (
            100 * expected,
            N_("give the sparsity as a fraction between 0 and 1, not a percentage."),
        )
    ]
    if index_bytes != 8:
        hints.insert(
            0,
            (
                8 / (value_bytes + 8),
                _(
                    "that is the break-even with 8-byte indices; here "
                    "they take {index_bytes}.",
                    index_bytes=index_bytes,
                ),
            ),
        )
    check_close(
        answer,
        expected,
        name="answer_4",
        unit=N_("(a fraction of zeros)"),
        rel_tol=0.01,
        hint=HINTS["9.4"],
        hints=hints,
    )
