"""The checkers of chapter 9 (``lmbook.checks.ch09``), audited."""

from __future__ import annotations

import numpy as np
from audit import AuditTests, Row, number

from lmbook import checks
from lmbook.checks import ch09

KV_CACHE_GB = 2 * 32 * 8 * 128 * 8192 * 16 * 2 / 1e9
QP_SCALE = (2.4 + 0.8) / 255

AUDIT = [
    number(
        checks.ch09_int4_size,
        8.03e9 * (4 + 16 / 64) / 8 / 1e9,
        [
            (4.015, "add each group's scale"),
            (20.075, "shared by a group"),
            (8.03, "int8"),
            (16.06, "bf16"),
            (32.12, "fp32"),
            (34.1275, "divide bits by 8"),
            (1.0, "its share of the one scale"),
        ],
        [((0.1, 2, 3), "answer_1 should be a single number")],
        solve=lambda parameters, bits, group: parameters * (bits + 16 / group) / 8 / 1e9,
    ),
    Row(
        checks.ch09_qparams,
        (QP_SCALE, round(0.8 / QP_SCALE)),
        [
            ((3.2 / 256, 64), "255 steps"),
            ((2.4 / 255, 64), "from the minimum, α = -0.8"),
            ((2.4 / 255, 0), "from the minimum"),
            ((255 / 3.2, 64), "real size of one integer step"),
            ((0.5, 64), "spreads the real range"),
            ((QP_SCALE, -64), "mind the sign"),
            ((QP_SCALE, 63.75), "is an integer"),
            ((QP_SCALE, 63), "nearest integer"),
            ((QP_SCALE, 10), "the integer that stands for the real value 0"),
        ],
        [
            (None, "No answer yet"),
            (QP_SCALE, "a pair"),
            ((QP_SCALE, 64, 0), "should be a pair"),
            ("four", "should be a pair"),
            (np.array(0.5), "a pair"),
            ({"scale": QP_SCALE, "zero_point": 64}, "a pair"),
            (("0.0125", 64), "answer_2[0] (the scale) should be a single number"),
            ((QP_SCALE, None), "set answer_2[1] (the zero point) to a number"),
            ((QP_SCALE, float("nan")), "finite"),
        ],
        also_right=[[0.01255, 64], np.array([QP_SCALE, 64.0])],
        generic=(0.5, 64),
        solve=lambda low, high: ((high - low) / 255, round(-low / ((high - low) / 255))),
    ),
    number(
        checks.ch09_kv_cache,
        KV_CACHE_GB,
        [
            (KV_CACHE_GB / 2, "key AND a value"),
            (KV_CACHE_GB * 4, "only the 8 key/value heads"),
            (KV_CACHE_GB * 2, "each value takes 2 bytes, not 4"),
            (KV_CACHE_GB / 16, "one sequence; the batch holds 16"),
            (KV_CACHE_GB * 1e9 / 2**30, "not 2^30"),
            (1.0, "one key and one value vector"),
        ],
        [((0.1, 2, 3), "answer_3 should be a single number")],
        solve=lambda layers, kv_heads, head_dim, tokens, batch, bytes_per_value: (
            2 * layers * kv_heads * head_dim * tokens * batch * bytes_per_value / 1e9
        ),
    ),
    number(
        checks.ch09_csr_break_even,
        1 - 4 / (4 + 4),
        [
            (2 / 3, "8-byte indices; here they take 4"),
            (50, "not a percentage"),
            (0.9, "pays for each nonzero"),
            (0.3, "pays for each nonzero"),
        ],
        solve=lambda value_bytes, index_bytes: index_bytes / (value_bytes + index_bytes),
    ),
]


class TestAudit(AuditTests):
    module, rows = ch09, AUDIT


def test_the_zero_point_is_64():
    assert AUDIT[1].right[1] == 64
