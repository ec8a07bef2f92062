"""The checkers of chapter 8 (``lmbook.checks.ch08``), audited."""

from __future__ import annotations

from audit import AuditTests, number

from lmbook import checks
from lmbook.checks import ch08

TRAINING_SECONDS = 6 * 70e9 * 2e12 / (1024 * 989e12 * 0.4)

AUDIT = [
    number(
        checks.ch08_finetune_memory,
        16 * 7e9 / 1e9,
        [
            (14, "bf16 weights alone"),
            (28, "what does Adam keep"),
            (84, "fp32 part"),
            (104.3, "GiB"),
            (50, "each some bytes per parameter"),
        ],
        [
            ("112 GB", "answer_1 should be a single number (in GB)"),
            (None, "set answer_1 to a number"),
        ],
        also_right=[112],
        solve=lambda parameters: 16 * parameters / 1e9,
    ),
    number(
        checks.ch08_training_days,
        TRAINING_SECONDS / 86400,
        [
            (TRAINING_SECONDS / 86400 / 3, "6 FLOPs per parameter"),
            (8.0, "6 FLOPs per parameter"),
            (TRAINING_SECONDS / 86400 * 0.16, "MFU"),
            (TRAINING_SECONDS / 3600, "in hours"),
            (TRAINING_SECONDS, "in seconds"),
            (100, "divided by the FLOP/s the cluster actually delivers"),
        ],
        [([24], "answer_2 should be a single number (in days)")],
        also_right=[24.0],
        solve=lambda parameters, tokens, gpus, peak_flops, mfu: (
            6 * parameters * tokens / (gpus * peak_flops * mfu) / 86400
        ),
    ),
    number(
        checks.ch08_allreduce_gigabytes,
        2 * (8 - 1) / 8 * 1e9 * 2 / 1e9,
        [
            (1.75, "one phase"),
            (7.0, "bytes is that per value"),
            (28.0, "1/p of the buffer"),
            (2.0, "Count the steps"),
            (1.0, "each GPU sends chunks of 1/p"),
        ],
        [(None, "set answer_3 to a number (in GB)")],
        also_right=[3.5],
        solve=lambda gpus, parameters, bytes_per_value: (
            2 * (gpus - 1) / gpus * parameters * bytes_per_value / 1e9
        ),
    ),
]


class TestAudit(AuditTests):
    module, rows = ch08, AUDIT
