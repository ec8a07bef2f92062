"""Checkers of chapter 9: efficient deployment (Exercises 9.1–9.4).

Notebook: ``notebooks/09_efficient_deployment.ipynb``. Each checker takes the variable that
the notebook's checker cell passes (``answer_1``, or the function the learner
wrote) and names that variable in its messages.
"""

from __future__ import annotations

import math

import numpy as np

from lmbook.checks.core import AnswerError, as_number, check_close

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
    scale = as_number(answer[0], "answer_2[0] (the scale)", "real units per integer step")
    zero = as_number(answer[1], "answer_2[1] (the zero point)", "integer steps")
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
