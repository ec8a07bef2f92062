"""The checkers of chapter 11 (``lmbook.checks.ch11``), audited."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from audit import AuditTests, function, number

from lmbook import checks, explain, privacy
from lmbook.checks import ch11

EMISSIONS_KWH = 1_720_320 * 0.400 * 1.1
DP_EPSILON = privacy.dp_epsilon(noise_multiplier=1.1, sample_rate=0.01, steps=10_000, delta=1e-5)


def integrated_gradients(forward, x, baseline, steps):  # the notebook's solution
    t = torch.arange(1, steps + 1, dtype=x.dtype) / steps
    path = (baseline + t.view(-1, *[1] * x.ndim) * (x - baseline)).requires_grad_(True)
    (grads,) = torch.autograd.grad(forward(path).sum(), path)
    return (x - baseline) * grads.mean(dim=0)


def lmbook_integrated_gradients(forward, x, baseline, steps):  # chapter 11's own function
    return explain.integrated_gradients(forward, x, baseline, steps=steps, rule="right")


def averaged_gradient(forward, x, baseline, steps):
    return integrated_gradients(forward, x, baseline, steps) / (x - baseline)


def left_riemann_sum(forward, x, baseline, steps):  # t = 0, 1/m, …, (m-1)/m
    t = torch.arange(0, steps, dtype=x.dtype) / steps
    path = (baseline + t.view(-1, *[1] * x.ndim) * (x - baseline)).requires_grad_(True)
    (grads,) = torch.autograd.grad(forward(path).sum(), path)
    return (x - baseline) * grads.mean(dim=0)


def shifted_path(forward, x, baseline, steps):  # ends one step short of x, scaled to match
    return integrated_gradients(forward, x - (x - baseline) / steps, baseline, steps)


AUDIT = [
    number(
        checks.ch11_dp_epsilon,
        DP_EPSILON,
        [
            (privacy.dp_epsilon(1.1, 0.01, 1, 1e-5), "that is one step; the RDP of the 10,000"),
            (privacy.dp_epsilon(1.1, 1.0, 10_000, 1e-5), "probability 0.01, which amplifies"),
            (1.0, "composes the privacy loss"),
        ],
        [([1.0], "single number")],
        solve=lambda noise_multiplier, sample_rate, steps, delta: privacy.dp_epsilon(
            noise_multiplier, sample_rate, steps, delta
        ),
    ),
    number(
        checks.ch11_training_emissions,
        EMISSIONS_KWH * 0.4 / 1000,
        [
            (EMISSIONS_KWH * 0.4, "kilograms"),
            (EMISSIONS_KWH * 0.4 / 1000 / 1.1, "PUE"),
            (EMISSIONS_KWH / 1000, "carbon intensity"),
            (1.0, "energy drawn from the grid"),
        ],
        solve=lambda gpu_hours, watts, pue, kg_per_kwh: (
            gpu_hours * watts / 1000 * pue * kg_per_kwh / 1000
        ),
    ),
    function(
        checks.ch11_integrated_gradients,
        integrated_gradients,
        [
            (averaged_gradient, "multiply the averaged gradient"),
            (left_riemann_sum, "the left Riemann sum"),
            (shifted_path, "average the gradient along the straight path"),
            (lambda forward, x, baseline, steps: torch.zeros(6), "scale that average"),
        ],
        [
            (5, "answer_3 should be a function"),
            (lambda forward, x, baseline, steps: x.numpy(), "torch tensor"),
            (lambda forward, x, baseline, steps: x[None], "got shape (1, 6)"),
            (lambda forward, x, baseline, steps: 1 / 0, "raised ZeroDivisionError"),
            (lambda forward, x, baseline, steps: x * float("nan"), "nan, inf"),
        ],
        also_right=[
            lmbook_integrated_gradients,
            lambda forward, x, baseline, steps: integrated_gradients(
                forward, x, baseline, steps
            ).double(),
        ],
        generic=lambda forward, x, baseline, steps: torch.ones(6),
    ),
]


class TestAudit(AuditTests):
    module, rows = ch11, AUDIT


@pytest.mark.parametrize("seed", range(10))
def test_the_second_case_of_11_1_is_where_the_accountants_agree(seed):
    """Opacus's RDP accountant (orders up to 63) gives the same ε within 3 %."""
    from opacus.accountants import RDPAccountant

    values = ch11.SECOND_CASES["ch11_dp_epsilon"].draw(np.random.default_rng(seed))
    epsilon = privacy.dp_epsilon(**values)
    assert ch11.ch11_dp_epsilon(epsilon, **values) is None
    accountant = RDPAccountant()
    accountant.history = [(values["noise_multiplier"], values["sample_rate"], values["steps"])]
    assert accountant.get_epsilon(values["delta"]) == pytest.approx(epsilon, rel=0.03)


def test_the_checker_leaves_the_learners_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    checks.ch11_integrated_gradients(integrated_gradients, seed=5)
    assert torch.equal(torch.rand(3), expected)
