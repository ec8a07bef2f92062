"""Checkers of chapter 11: challenges and the future (Exercises 11.1–11.3).

Notebook: ``notebooks/11_challenges_and_future.ipynb``. Each checker takes the variable that
the notebook's checker cell passes (``answer_1``, or the function the learner
wrote) and names that variable in its messages.
"""

from __future__ import annotations

from lmbook.checks.core import AnswerError, as_function, call, check_close

CH11_DP = {"noise_multiplier": 1.1, "sample_rate": 0.01, "steps": 10_000, "delta": 1e-5}


def ch11_dp_epsilon(answer: object) -> None:
    """Exercise 11.1: ε of DP-SGD with σ = 1.1, q = 0.01, 10,000 steps, δ = 1e-5."""
    from lmbook import privacy

    case = CH11_DP
    expected = privacy.dp_epsilon(**case)
    one_step = privacy.dp_epsilon(case["noise_multiplier"], case["sample_rate"], 1, case["delta"])
    no_sampling = privacy.dp_epsilon(case["noise_multiplier"], 1.0, case["steps"], case["delta"])
    check_close(
        answer,
        expected,
        name="answer_1",
        unit="(ε)",
        rel_tol=0.08,
        hints=[
            (one_step, "that is one step; the RDP of the 10,000 steps adds up."),
            (
                no_sampling,
                "that ignores the sampling: each example is in a batch with probability 0.01, "
                "which amplifies privacy.",
            ),
        ],
        default_hint="an accountant (privacy.dp_epsilon, or Opacus's RDPAccountant) composes "
        "the privacy loss of every sampled step: give it the noise, the sampling rate, the "
        "number of steps and δ of this run.",
    )


def ch11_training_emissions(answer: object) -> None:
    """Exercise 11.2: tonnes of CO2e for 1,720,320 GPU-hours at 400 W, PUE 1.1, 0.4 kg/kWh."""
    kwh = 1_720_320 * 0.400 * 1.1
    expected = kwh * 0.4 / 1000
    check_close(
        answer,
        expected,
        name="answer_2",
        unit="t CO2e",
        rel_tol=0.01,
        hints=[
            (kwh * 0.4, "that is in kilograms; a tonne is 1,000 kg."),
            (expected / 1.1, "the PUE multiplies the GPUs' energy: cooling and overheads count."),
            (kwh / 1000, "that is the energy in MWh; multiply by the grid's carbon intensity."),
        ],
        default_hint="energy (kWh) = GPU-hours × kW per GPU × PUE; emissions = energy × kg/kWh.",
    )


def ch11_integrated_gradients(answer: object) -> None:
    """Exercise 11.3: a function ig(forward, x, baseline, steps), right Riemann sum."""
    import torch

    from lmbook import explain

    signature = "answer_3(forward, x, baseline, steps)"
    function = as_function(answer, "answer_3", signature)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 1))

    def forward(batch):
        return net(batch)[:, 0]

    x, baseline = torch.randn(6), torch.zeros(6)
    result = call(function, signature, forward, x, baseline, 200)
    if not isinstance(result, torch.Tensor):
        raise AnswerError(
            f"answer_3 should return a torch tensor of x's shape (6,), "
            f"got a {type(result).__name__}"
        )
    if result.shape != x.shape:
        raise AnswerError(
            f"answer_3 should return a tensor of x's shape (6,), got shape {tuple(result.shape)}"
        )
    if result.is_complex() or not torch.isfinite(result.detach()).all():
        raise AnswerError(
            "answer_3 returned nan, inf or complex attributions; every attribution of this "
            "small network is a finite real number. Hint: check the path points and the mean."
        )
    reference = explain.integrated_gradients(forward, x, baseline, steps=200, rule="right")
    got = result.detach().to(reference.dtype)
    if torch.allclose(got, reference, atol=1e-5):
        with torch.no_grad():
            gap = float(forward(x[None]) - forward(baseline[None]))
        print(
            f"Correct: your attributions sum to {float(result.sum()):.4f}; "
            f"f(x) − f(baseline) = {gap:.4f}."
        )
        return
    if torch.allclose(got, reference / (x - baseline), atol=1e-5):
        raise AnswerError("Not quite: multiply the averaged gradient by (x − baseline).")
    raise AnswerError(
        "Not quite: average ∂f/∂x over the points baseline + t·(x − baseline) for "
        "t = 1/m, …, 1, then multiply by (x − baseline)."
    )
