"""Checkers of chapter 8: training at scale (Exercises 8.1–8.3).

Notebook: ``notebooks/08_training_at_scale.ipynb``. Each checker takes the variable that
the notebook's checker cell passes (``answer_1``, or the function the learner
wrote) and names that variable in its messages.
"""

from __future__ import annotations

from lmbook import economics, scale
from lmbook.checks.core import check_close

SECONDS_PER_DAY = 24 * economics.SECONDS_PER_HOUR


def ch08_finetune_memory(answer: object) -> None:
    """Exercise 8.1: model states of a 7B model trained with Adam in mixed precision, in GB."""
    check_close(
        answer,
        16 * 7e9 / 1e9,
        name="answer_1",
        unit="GB",
        rel_tol=0.02,
        hints=[
            (
                2 * 7e9 / 1e9,
                "That is the bf16 weights alone; training also keeps gradients, "
                "an fp32 master copy and Adam's two moments.",
            ),
            (
                4 * 7e9 / 1e9,
                "Weights and gradients are there; what does Adam keep, and in "
                "which precision is the update done?",
            ),
            (
                12 * 7e9 / 1e9,
                "Close: you have the fp32 part; add the 16-bit weights and "
                "gradients used by the forward and backward passes.",
            ),
            (
                16 * 7e9 / 2**30,
                "Right count, but in GiB (2^30 bytes); the question asks for GB (10^9 bytes).",
            ),
        ],
        default_hint="Count the bytes per parameter (weights, gradients, master copy, "
        "Adam's moments) and multiply by the number of parameters.",
    )


def ch08_training_days(answer: object) -> None:
    """Exercise 8.2: days to train 70B parameters on 2T tokens on 1,024 H100s at 40% MFU."""
    flops = 6 * 70e9 * 2e12
    seconds = flops / (1024 * scale.ACCELERATORS["H100"].peak_flops * 0.4)
    check_close(
        answer,
        seconds / SECONDS_PER_DAY,
        name="answer_2",
        unit="days",
        rel_tol=0.02,
        hints=[
            (
                seconds / SECONDS_PER_DAY / 3,
                "Training costs 6 FLOPs per parameter per token: 2 for "
                "the forward pass and about 4 for the backward pass.",
            ),
            (
                seconds / SECONDS_PER_DAY * 0.4 * 0.4,
                "The MFU is the share of the peak the model gets, "
                "so it makes the run longer, not shorter.",
            ),
            (seconds / economics.SECONDS_PER_HOUR, "That is in hours; the question asks for days."),
            (seconds, "That is in seconds; the question asks for days."),
        ],
        default_hint="Time = 6·N·D / (GPUs × peak FLOP/s × MFU), then convert seconds to days.",
    )


def ch08_allreduce_gigabytes(answer: object) -> None:
    """Exercise 8.3: GB each of 8 GPUs sends in a ring all-reduce of 1B bf16 gradients."""
    buffer_gb = 1e9 * 2 / 1e9
    check_close(
        answer,
        2 * 7 / 8 * buffer_gb,
        name="answer_3",
        unit="GB",
        rel_tol=0.02,
        hints=[
            (
                7 / 8 * buffer_gb,
                "That is one phase; a ring all-reduce has a reduce-scatter "
                "and an all-gather, each of p − 1 steps.",
            ),
            (
                2 * 7 / 8 * 1e9 * 4 / 1e9,
                "The gradients are in bf16: how many bytes is that per value?",
            ),
            (
                2 * 7 * buffer_gb,
                "Each step moves one chunk, 1/p of the buffer, not the whole buffer.",
            ),
            (
                buffer_gb,
                "Count the steps: p − 1 in each of the two phases, each moving 1/p of the buffer.",
            ),
        ],
        default_hint="Each GPU sends 2·(p − 1)/p of the buffer; the buffer is N values of 2 bytes.",
    )
