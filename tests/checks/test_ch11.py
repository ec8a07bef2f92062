"""The checkers of chapter 11 (``lmbook.checks.ch11``), audited."""

from __future__ import annotations

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


def left_riemann_sum(forward, x, baseline, steps):
    return integrated_gradients(forward, x - (x - baseline) / steps, baseline, steps)


AUDIT = [
    number(
        checks.ch11_dp_epsilon,
        DP_EPSILON,
        [
            (privacy.dp_epsilon(1.1, 0.01, 1, 1e-5), "that is one step"),
            (privacy.dp_epsilon(1.1, 1.0, 10_000, 1e-5), "amplifies privacy"),
            (1.0, "RDPAccountant"),
        ],
        [([1.0], "single number")],
    ),
    number(
        checks.ch11_training_emissions,
        EMISSIONS_KWH * 0.4 / 1000,
        [
            (EMISSIONS_KWH * 0.4, "kilograms"),
            (EMISSIONS_KWH * 0.4 / 1000 / 1.1, "PUE"),
            (EMISSIONS_KWH / 1000, "carbon intensity"),
            (1.0, "GPU-hours × kW"),
        ],
    ),
    function(
        checks.ch11_integrated_gradients,
        integrated_gradients,
        [
            (averaged_gradient, "multiply the averaged gradient"),
            (left_riemann_sum, "t = 1/m, …, 1"),
            (lambda forward, x, baseline, steps: torch.zeros(6), "baseline + t·"),
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
    ),
]


class TestAudit(AuditTests):
    module, rows = ch11, AUDIT
