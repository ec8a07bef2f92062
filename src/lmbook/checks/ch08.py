"""Checkers of chapter 8: training at scale (Exercises 8.1–8.3).

Notebook: ``notebooks/08_training_at_scale.ipynb``. Each checker takes the variable that
the notebook's checker cell passes (``answer_1``) and names it in its messages. Its
keyword arguments are the exercise's given values, with the notebook's as defaults:
the hidden test of :mod:`lmbook.checks.grading` calls it with others
(``SECOND_CASES``).
"""

from __future__ import annotations

import numpy as np

from lmbook import economics, scale
from lmbook.checks.core import Hint, SecondCase, check_close
from lmbook.checks.messages import N_

SECONDS_PER_DAY = 24 * economics.SECONDS_PER_HOUR

HINTS = {
    hint.exercise: hint
    for hint in (
        Hint(
            "8.1",
            N_(
                "without ZeRO every GPU holds all the model states: the weights, the "
                "gradients, an fp32 master copy of the weights and Adam's two moments, "
                "each some bytes per parameter."
            ),
            N_(
                "count the bytes per parameter: 16-bit weights and gradients (2 bytes "
                "each), an fp32 master copy and two fp32 moments (4 bytes each); "
                "multiply by the number of parameters and divide by 10^9 bytes per GB."
            ),
        ),
        Hint(
            "8.2",
            N_(
                "the time is the training FLOPs divided by the FLOP/s the cluster "
                "actually delivers, which the MFU scales down from the peak."
            ),
            N_(
                "compute 6·N·D, divide it by GPUs × peak FLOP/s × MFU to get seconds, "
                "and convert the seconds to days."
            ),
        ),
        Hint(
            "8.3",
            N_(
                "a ring all-reduce has two phases, a reduce-scatter and an all-gather, "
                "in which each GPU sends chunks of 1/p of the buffer."
            ),
            N_(
                "each GPU sends 2·(p − 1)/p of the buffer; the buffer is N values of "
                "bytes_per_value bytes each, and a GB is 10^9 bytes."
            ),
        ),
    )
}

_ACCELERATOR_PEAKS = tuple(
    scale.ACCELERATORS[name].peak_flops for name in ("V100", "A100", "H100")
)


def _days(parameters, tokens, gpus, peak_flops, mfu) -> float:
    return 6 * parameters * tokens / (gpus * peak_flops * mfu) / SECONDS_PER_DAY


def _draw_training_run(rng: np.random.Generator) -> dict[str, object]:
    """A run of 1B to 200B parameters on V100s, A100s or H100s, from 1 to 1,000 days."""
    public = _days(70e9, 2e12, 1024, scale.ACCELERATORS["H100"].peak_flops, 0.4)
    while True:
        values = {
            "parameters": float(rng.integers(1, 201)) * 1e9,
            "tokens": float(rng.integers(2, 101)) * 1e11,
            "gpus": int(2 ** rng.integers(6, 13)),
            "peak_flops": _ACCELERATOR_PEAKS[
                int(rng.integers(0, len(_ACCELERATOR_PEAKS)))
            ],
            "mfu": float(rng.integers(25, 56)) / 100,
        }
        days = _days(**values)
        if 1 <= days <= 1000 and abs(days / public - 1) > 0.05:
            return values


def _draw_all_reduce(rng: np.random.Generator) -> dict[str, object]:
    """2 to 64 GPUs, 0.1B to 20B parameters, gradients in bf16 or fp32."""
    while True:
        values = {
            "gpus": int(rng.integers(2, 65)),
            "parameters": float(rng.integers(1, 201)) * 1e8,
            "bytes_per_value": int(2 * rng.integers(1, 3)),
        }
        gpus, buffer = values["gpus"], values["parameters"] * values["bytes_per_value"]
        # 3.5 GB: 8.3's answer.
        if abs(2 * (gpus - 1) / gpus * buffer / 1e9 / 3.5 - 1) > 0.05:
            return values


SECOND_CASES = {
    "ch08_finetune_memory": SecondCase(
        "answer_1", draw=lambda rng: {"parameters": float(rng.integers(8, 181)) * 1e9}
    ),
    "ch08_training_days": SecondCase("answer_2", draw=_draw_training_run),
    "ch08_allreduce_gigabytes": SecondCase("answer_3", draw=_draw_all_reduce),
}


def ch08_finetune_memory(answer: object, parameters: float = 7e9) -> None:
    """Exercise 8.1: model states, in GB, of ``parameters`` trained with Adam in mixed
    precision.
    """
    check_close(
        answer,
        16 * parameters / 1e9,
        name="answer_1",
        unit="GB",
        rel_tol=0.02,
        hint=HINTS["8.1"],
        hints=[
            (
                2 * parameters / 1e9,
                N_(
                    "That is the bf16 weights alone; training also keeps gradients, "
                    "an fp32 master copy and Adam's two moments."
                ),
            ),
            (
                4 * parameters / 1e9,
                N_(
                    "Weights and gradients are there; what does Adam keep, and in "
                    "which precision is the update done?"
                ),
            ),
            (
                12 * parameters / 1e9,
                N_(
                    "Close: you have the fp32 part; add the 16-bit weights and "
                    "gradients used by the forward and backward passes."
                ),
            ),
            (
                16 * parameters / 2**30,
                N_(
                    "Right count, but in GiB (2^30 bytes); the question "
                    "asks for GB (10^9 bytes)."
                ),
            ),
        ],
    )


def ch08_training_days(
    answer: object,
    parameters: float = 70e9,
    tokens: float = 2e12,
    gpus: int = 1024,
    peak_flops: float = scale.ACCELERATORS["H100"].peak_flops,
    mfu: float = 0.4,
) -> None:
    """Exercise 8.2: days to train ``parameters`` on ``tokens`` on ``gpus`` at
    an ``mfu``.

    ``peak_flops`` is each GPU's peak in FLOP/s; the notebook's run is 70B parameters on
    2T tokens on 1,024 H100s at 40% MFU.
    """
    seconds = 6 * parameters * tokens / (gpus * peak_flops * mfu)
    check_close(
        answer,
        seconds / SECONDS_PER_DAY,
        name="answer_2",
        unit=N_("days"),
        rel_tol=0.02,
        hint=HINTS["8.2"],
        hints=[
            (
                seconds / SECONDS_PER_DAY / 3,
                N_(
                    "Training costs 6 FLOPs per parameter per token: 2 for "
                    "the forward pass and about 4 for the backward pass."
                ),
            ),
            (
                seconds / SECONDS_PER_DAY * mfu * mfu,
                N_(
                    "The MFU is the share of the peak the model gets, "
                    "so it makes the run longer, not shorter."
                ),
            ),
            (
                seconds / economics.SECONDS_PER_HOUR,
                N_("That is in hours; the question asks for days."),
            ),
            (seconds, N_("That is in seconds; the question asks for days.")),
        ],
    )


def ch08_allreduce_gigabytes(
    answer: object, gpus: int = 8, parameters: float = 1e9, bytes_per_value: int = 2
) -> None:
    """Exercise 8.3: GB each of ``gpus`` sends in a ring all-reduce of ``parameters``
    gradients.

    Each gradient takes ``bytes_per_value`` bytes: 2 in bf16, as in the notebook
    (8 GPUs, 1B parameters).
    """
    buffer_gb = parameters * bytes_per_value / 1e9
    sent = 2 * (gpus - 1) / gpus * buffer_gb
    hints = [
        (
            sent / 2,
            N_(
                "That is one phase; a ring all-reduce has a reduce-scatter "
                "and an all-gather, each of p − 1 steps."
            ),
        ),
        (
            2 * (gpus - 1) * buffer_gb,
            N_("Each step moves one chunk, 1/p of the buffer, not the whole buffer."),
        ),
        (
            buffer_gb,
            N_(
                "Count the steps: p − 1 in each of the two phases, each "
                "moving 1/p of the buffer."
            ),
        ),
    ]
    if bytes_per_value == 2:  # bf16 gradients counted as fp32
        hints.insert(
            1,
            (
                2 * sent,
                N_("The gradients are in bf16: how many bytes is that per value?"),
            ),
        )
    check_close(
        answer,
        sent,
        name="answer_3",
        unit="GB",
        rel_tol=0.02,
        hint=HINTS["8.3"],
        hints=hints,
    )
