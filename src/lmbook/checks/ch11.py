"""Checkers of chapter 11: challenges and the future (Exercises 11.1–11.3).

Notebook: ``notebooks/11_challenges_and_future.ipynb``. Each checker takes the variable
that the notebook's checker cell passes (``answer_1``, or the function the learner
wrote) and names that variable in its messages. Its keyword arguments are the exercise's
given values (or, for a function, the seed of its test inputs), with the notebook's as
defaults: the hidden test of :mod:`lmbook.checks.grading` calls it with others
(``SECOND_CASES``).
"""

from __future__ import annotations

import math

import numpy as np

from lmbook.checks.core import (
    AnswerError,
    Hint,
    SecondCase,
    as_function,
    call,
    check_close,
    next_hint,
)
from lmbook.checks.messages import N_, _

HINTS = {
    hint.exercise: hint
    for hint in (
        Hint(
            "11.1",
            N_(
                "an accountant composes the privacy loss of every sampled step "
                "into one ε at the chosen δ."
            ),
            N_(
                "call privacy.dp_epsilon (or Opacus's RDPAccountant) with the noise "
                "multiplier, the sampling rate, the number of steps and δ of this run."
            ),
        ),
        Hint(
            "11.2",
            N_(
                "emissions are the energy drawn from the grid times the "
                "grid's carbon intensity."
            ),
            N_(
                "energy (kWh) = GPU-hours × kW per GPU × PUE; emissions (kg) = energy "
                "× kg CO₂e per kWh; a tonne is 1,000 kg."
            ),
        ),
        Hint(
            "11.3",
            N_(
                "integrated gradients average the gradient along the straight path "
                "from the baseline to x, and scale that average by x − baseline."
            ),
            N_(
                "evaluate ∂f/∂x at the points baseline + t·(x − baseline) for t = 1/m, "
                "…, 1 (one batch; autograd of the sum of its outputs), average over "
                "the points, then multiply by (x − baseline)."
            ),
        ),
    )
}


def _draw_dp(rng: np.random.Generator) -> dict[str, object]:
    """Another DP-SGD run, with ε where the RDP accountants agree (Exercise 11.1).

    ε between 1 and 12 keeps the best Rényi order between 3 and about 20, where this
    accountant and Opacus's RDPAccountant (orders up to 63) agree to within 2 %. One ε
    takes about 25 ms; a draw needs one or two.
    """
    from lmbook import privacy

    public = privacy.dp_epsilon(1.1, 0.01, 10_000, 1e-5)
    while True:
        values = {
            "noise_multiplier": int(rng.integers(10, 21)) / 10,
            "sample_rate": float(rng.choice([0.005, 0.01, 0.02])),
            "steps": int(rng.integers(2, 21)) * 1000,
            "delta": float(rng.choice([1e-5, 1e-6])),
        }
        epsilon = privacy.dp_epsilon(**values)
        if 1 <= epsilon <= 12 and abs(epsilon / public - 1) > 0.2:
            return values


def _draw_emissions(rng: np.random.Generator) -> dict[str, object]:
    """Another training run, GPU, data centre and grid (Exercise 11.2)."""
    public = 1_720_320 * 400 * 1.1 * 0.4
    while True:
        values = {
            "gpu_hours": int(rng.integers(1, 500)) * 10_000,
            "watts": int(rng.choice([250, 300, 400, 700])),
            "pue": int(rng.integers(11, 16)) / 10,
            "kg_per_kwh": int(rng.integers(1, 9)) / 10,
        }
        if abs(math.prod(values.values()) / public - 1) > 0.05:
            return values


SECOND_CASES = {
    "ch11_dp_epsilon": SecondCase("answer_1", draw=_draw_dp),
    "ch11_training_emissions": SecondCase("answer_2", draw=_draw_emissions),
    "ch11_integrated_gradients": SecondCase("answer_3", seeded=True),
}


def ch11_dp_epsilon(
    answer: object,
    noise_multiplier: float = 1.1,
    sample_rate: float = 0.01,
    steps: int = 10_000,
    delta: float = 1e-5,
) -> None:
    """Exercise 11.1: ε of DP-SGD with noise σ, sampling rate q, ``steps``
    steps, at δ.
    """
    from lmbook import privacy

    expected = privacy.dp_epsilon(noise_multiplier, sample_rate, steps, delta)
    one_step = privacy.dp_epsilon(noise_multiplier, sample_rate, 1, delta)
    no_sampling = privacy.dp_epsilon(noise_multiplier, 1.0, steps, delta)
    check_close(
        answer,
        expected,
        name="answer_1",
        unit="(ε)",
        rel_tol=0.08,
        hint=HINTS["11.1"],
        hints=[
            (
                one_step,
                _(
                    "that is one step; the RDP of the {steps:,} steps adds up.",
                    steps=steps,
                ),
            ),
            (
                no_sampling,
                _(
                    "that ignores the sampling: each example is in a batch with "
                    "probability {sample_rate:g}, which amplifies privacy.",
                    sample_rate=sample_rate,
                ),
            ),
        ],
    )


def ch11_training_emissions(
    answer: object,
    gpu_hours: float = 1_720_320,
    watts: float = 400,
    pue: float = 1.1,
    kg_per_kwh: float = 0.4,
) -> None:
    """Exercise 11.2: tonnes of CO2e of ``gpu_hours`` at ``watts``, ``pue``,
    ``kg_per_kwh``.
    """
    kwh = gpu_hours * watts / 1000 * pue
    expected = kwh * kg_per_kwh / 1000
    check_close(
        answer,
        expected,
        name="answer_2",
        unit=N_("t CO2e"),
        rel_tol=0.01,
        hint=HINTS["11.2"],
        hints=[
            (kwh * kg_per_kwh, N_("that is in kilograms; a tonne is 1,000 kg.")),
            (
                expected / pue,
                N_("the PUE multiplies the GPUs' energy: cooling and overheads count."),
            ),
            (
                kwh / 1000,
                N_(
                    "that is the energy in MWh; multiply by the grid's carbon "
                    "intensity."
                ),
            ),
        ],
    )


def ch11_integrated_gradients(answer: object, seed: int = 0) -> None:
    """Exercise 11.3: a function ig(forward, x, baseline, steps), right Riemann sum.

    ``seed`` draws the small network and the input ``x`` it is tested on.
    """
    import torch

    from lmbook import explain

    signature = "answer_3(forward, x, baseline, steps)"
    function = as_function(answer, "answer_3", signature)
    # The learner's own random state is left as it was.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        # A network curved enough along the path that the left sum is told apart.
        while True:
            net = torch.nn.Sequential(
                torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 1)
            )
            x, baseline = torch.randn(6), torch.zeros(6)

            def forward(batch, net=net):
                return net(batch)[:, 0]

            reference = explain.integrated_gradients(
                forward, x, baseline, steps=200, rule="right"
            )
            trapezoid = explain.integrated_gradients(
                forward, x, baseline, steps=200, rule="trapezoid"
            )
            # The trapezoid rule: the mean of left and right.
            left = 2 * trapezoid - reference
            if (reference - left).abs().max() > 1e-4:
                break

    result = call(function, signature, forward, x, baseline, 200)
    if not isinstance(result, torch.Tensor):
        raise AnswerError(
            _(
                "answer_3 should return a torch tensor of x's shape (6,), got a {kind}",
                kind=type(result).__name__,
            )
        )
    if result.shape != x.shape:
        raise AnswerError(
            _(
                "answer_3 should return a tensor of x's shape (6,), got shape {shape}",
                shape=tuple(result.shape),
            )
        )
    if result.is_complex() or not torch.isfinite(result.detach()).all():
        raise AnswerError(
            _(
                "answer_3 returned nan, inf or complex attributions; every "
                "attribution of this small network is a finite real number. Hint: "
                "check the path points and the mean."
            )
        )
    got = result.detach().to(reference.dtype)
    if torch.allclose(got, reference, atol=1e-5):
        with torch.no_grad():
            gap = float(forward(x[None]) - forward(baseline[None]))
        print(
            _(
                "Correct: your attributions sum to {total:.4f}; "
                "f(x) − f(baseline) = {gap:.4f}.",
                total=float(result.sum()),
                gap=gap,
            )
        )
        return
    if torch.allclose(got, reference / (x - baseline), atol=1e-5):
        raise AnswerError(
            _("Not quite: multiply the averaged gradient by (x − baseline).")
        )
    if torch.allclose(got, left, atol=1e-5):
        raise AnswerError(
            _(
                "Not quite: that is the left Riemann sum, t = 0, …, (m−1)/m; the "
                "exercise asks for the right one, t = 1/m, …, 1."
            )
        )
    raise AnswerError(
        _(
            "Not quite: your attributions differ from the reference. {hint}",
            hint=next_hint(HINTS["11.3"]),
        )
    )
