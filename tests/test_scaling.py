import math

import numpy as np
import pytest
import torch

from lmbook import scaling


def test_training_compute_matches_gpt3_reported_figure():
    # Brown et al. (2020) report 3.14e23 FLOPs for 175e9 parameters and 300e9 tokens.
    assert scaling.training_compute(175e9, 300e9) == pytest.approx(3.14e23, rel=0.01)


def test_training_compute_broadcasts_and_scales():
    result = scaling.training_compute(np.array([1e9, 2e9]), 1e10)
    np.testing.assert_allclose(result, [6e19, 1.2e20])
    assert scaling.training_compute(1e9, 1e10, flop_per_parameter_token=2) == 2e19


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((0, 1e9), ValueError),
        ((-1e9, 1e9), ValueError),
        ((1e9, float("nan")), ValueError),
        ((1e9, float("inf")), ValueError),
        (("1e9", 1e9), TypeError),
        ((True, 1e9), TypeError),
        (([], 1e9), ValueError),
        ((1e9, None), TypeError),
    ],
)
def test_training_compute_rejects_bad_input(args, error):
    with pytest.raises(error):
        scaling.training_compute(*args)


def test_bad_input_messages_name_the_argument():
    with pytest.raises(ValueError, match=r"tokens must be finite and > 0 everywhere, got \[1, 0\]"):
        scaling.training_compute(1e9, [1, 0])
    with pytest.raises(TypeError, match="parameters must be a positive number or array of numbers"):
        scaling.chinchilla_loss("70B", 1e12)
    with pytest.raises(TypeError, match="flop_per_parameter_token must be a finite number > 0"):
        scaling.training_compute(1e9, 1e10, flop_per_parameter_token=[6, 8])
    with pytest.raises(ValueError, match="compute_pf_days must be finite and > 0 everywhere"):
        scaling.kaplan_loss(compute_pf_days=0)


def test_fit_doubling_time_recovers_a_known_rate():
    years = np.arange(2010, 2021, dtype=float)
    values = 1e6 * 2.0 ** ((years - 2010) / 0.5)  # doubles every six months
    fit = scaling.fit_doubling_time(years, values)
    assert fit.doubling_time_months == pytest.approx(6.0)
    assert fit.r_squared == pytest.approx(1.0)
    np.testing.assert_allclose(fit.predict(years), values, rtol=1e-9)


def test_fit_doubling_time_agrees_with_torch_least_squares():
    rng = np.random.default_rng(0)
    years = np.sort(rng.uniform(2000, 2024, size=30))
    values = 2.0 ** (0.7 * (years - 2000) + rng.normal(0, 1.5, size=30))
    fit = scaling.fit_doubling_time(years, values)
    design = torch.tensor(np.column_stack([years, np.ones_like(years)]), dtype=torch.float64)
    target = torch.tensor(np.log2(values), dtype=torch.float64).unsqueeze(1)
    slope, intercept = torch.linalg.lstsq(design, target).solution.squeeze().tolist()
    assert fit.slope == pytest.approx(slope, rel=1e-9)
    assert fit.intercept == pytest.approx(intercept, rel=1e-9)
    assert 0 < fit.r_squared < 1


@pytest.mark.parametrize(
    ("years", "values", "message"),
    [
        ([2020, 2020], [1, 2], "two different years"),
        ([2020, 2021], [1, -2], "> 0"),
        ([2020, 2021, 2022], [1, 2], "equal length"),
        ([2020, 2021], [4, 2], "does not grow"),
        ([2020, float("nan")], [1, 2], "finite"),
    ],
)
def test_fit_doubling_time_rejects_bad_input(years, values, message):
    with pytest.raises(ValueError, match=message):
        scaling.fit_doubling_time(years, values)


def test_fit_doubling_time_rejects_what_is_not_numbers():
    with pytest.raises(TypeError, match="years must be a number or array of numbers"):
        scaling.fit_doubling_time(["2020", "2021"], [1, 2])
    with pytest.raises(TypeError, match="values must be a positive number or array of numbers"):
        scaling.fit_doubling_time([2020, 2021], None)


def test_kaplan_laws_at_their_scale_constants():
    assert scaling.kaplan_loss(parameters=scaling.KAPLAN["N_c"]) == pytest.approx(1.0)
    assert scaling.kaplan_loss(tokens=scaling.KAPLAN["D_c"]) == pytest.approx(1.0)
    # Ten times the parameters lowers the loss by the factor 10^-0.076.
    ratio = scaling.kaplan_loss(parameters=1e10) / scaling.kaplan_loss(parameters=1e9)
    assert ratio == pytest.approx(10**-0.076)


def test_kaplan_loss_needs_exactly_one_argument():
    with pytest.raises(ValueError, match="exactly one"):
        scaling.kaplan_loss()
    with pytest.raises(ValueError, match="exactly one"):
        scaling.kaplan_loss(parameters=1e9, tokens=1e9)


def test_chinchilla_optimum_matches_a_torch_minimisation():
    budget = 5.76e23  # Gopher's budget in Hoffmann et al. (2022)
    n_opt, d_opt = scaling.chinchilla_optimal(budget)
    assert 6 * n_opt * d_opt == pytest.approx(budget)

    # Minimise L(N, C / 6N) over log N by gradient descent in PyTorch.
    log_n = torch.tensor(math.log(1e9), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([log_n], lr=0.05)
    c = scaling.CHINCHILLA
    for _ in range(3000):
        optimizer.zero_grad()
        n = torch.exp(log_n)
        d = budget / (6 * n)
        loss = c["E"] + c["A"] / n ** c["alpha"] + c["B"] / d ** c["beta"]
        loss.backward()
        optimizer.step()
    assert math.exp(log_n.item()) == pytest.approx(n_opt, rel=1e-3)
    assert scaling.chinchilla_loss(n_opt, d_opt) == pytest.approx(loss.item(), rel=1e-9)


def test_chinchilla_optimal_scales_as_published_exponents():
    (n1, d1), (n2, d2) = scaling.chinchilla_optimal(1e22), scaling.chinchilla_optimal(1e24)
    a = scaling.CHINCHILLA["beta"] / (scaling.CHINCHILLA["alpha"] + scaling.CHINCHILLA["beta"])
    assert math.log(n2 / n1, 100) == pytest.approx(a)
    assert math.log(d2 / d1, 100) == pytest.approx(1 - a)


def test_twenty_tokens_per_parameter_rule():
    n, d = scaling.tokens_per_parameter_optimal(5.88e23)
    assert d / n == pytest.approx(20)
    assert 6 * n * d == pytest.approx(5.88e23)
    assert n == pytest.approx(70e9, rel=0.01)  # Chinchilla: 70e9 parameters, 1.4e12 tokens
    with pytest.raises(TypeError, match="tokens_per_parameter must be a finite number > 0"):
        scaling.tokens_per_parameter_optimal(1e24, tokens_per_parameter=[10, 20])
    with pytest.raises(ValueError, match="tokens_per_parameter must be a finite number > 0, got 0"):
        scaling.tokens_per_parameter_optimal(1e24, tokens_per_parameter=0)
    with pytest.raises(ValueError, match="compute_flop must be finite and > 0 everywhere"):
        scaling.chinchilla_optimal(-1)


def test_besiroglu_refit_matches_a_torch_minimisation_and_twenty_tokens():
    budget = 5.76e23
    n_opt, d_opt = scaling.chinchilla_optimal(budget, scaling.BESIROGLU)
    assert 6 * n_opt * d_opt == pytest.approx(budget)
    log_n = torch.tensor(math.log(1e9), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([log_n], lr=0.05)
    c = scaling.BESIROGLU
    for _ in range(3000):
        optimizer.zero_grad()
        n = torch.exp(log_n)
        loss = c["E"] + c["A"] / n ** c["alpha"] + c["B"] / (budget / (6 * n)) ** c["beta"]
        loss.backward()
        optimizer.step()
    assert math.exp(log_n.item()) == pytest.approx(n_opt, rel=1e-3)
    assert scaling.chinchilla_loss(n_opt, d_opt, scaling.BESIROGLU) == pytest.approx(
        loss.item(), rel=1e-9
    )
    # The replication's point: its optimum is near 20 tokens per parameter (and near
    # Chinchilla's 70e9 parameters), the paper's own fit far from it.
    assert 17 < d_opt / n_opt < 23
    n_paper, d_paper = scaling.chinchilla_optimal(budget)
    assert d_paper / n_paper > 80


def test_chinchilla_functions_reject_bad_constants():
    with pytest.raises(TypeError, match="constants must be a dict with exactly the keys"):
        scaling.chinchilla_optimal(1e24, {"E": 1.0})
    with pytest.raises(TypeError, match="constants must be a dict"):
        scaling.chinchilla_loss(1e9, 1e10, [1.69, 406.4, 410.7, 0.34, 0.28])
    bad = {**scaling.CHINCHILLA, "alpha": -0.3}
    with pytest.raises(ValueError, match=r"constants\['alpha'\] must be a finite number > 0"):
        scaling.chinchilla_optimal(1e24, bad)


def test_fit_power_law_recovers_a_known_exponent():
    sizes = np.array([100.0, 300.0, 1000.0, 3000.0])
    fit = scaling.fit_power_law(sizes, 5.0 * sizes**-0.7)
    assert fit.exponent == pytest.approx(0.7)
    assert fit.coefficient == pytest.approx(5.0)
    assert fit.r_squared == pytest.approx(1.0)
    np.testing.assert_allclose(fit.predict(sizes), 5.0 * sizes**-0.7, rtol=1e-9)


def test_fit_power_law_agrees_with_torch_least_squares():
    rng = np.random.default_rng(1)
    sizes = np.geomspace(50, 5000, 12)
    losses = 3.0 * sizes**-0.4 * np.exp(rng.normal(0, 0.1, size=12))
    fit = scaling.fit_power_law(sizes, losses)
    design = torch.tensor(
        np.column_stack([np.log(sizes), np.ones_like(sizes)]), dtype=torch.float64
    )
    target = torch.tensor(np.log(losses), dtype=torch.float64).unsqueeze(1)
    slope, intercept = torch.linalg.lstsq(design, target).solution.squeeze().tolist()
    assert fit.exponent == pytest.approx(-slope, rel=1e-9)
    assert fit.coefficient == pytest.approx(math.exp(intercept), rel=1e-9)
    assert 0 < fit.r_squared < 1


@pytest.mark.parametrize(
    ("sizes", "losses", "error", "message"),
    [
        ([10, 10], [1, 2], ValueError, "two different sizes"),
        ([10, 20], [1, 0], ValueError, "> 0"),
        ([10, 20, 40], [1, 2], ValueError, "equal length"),
        ([10, float("inf")], [1, 2], ValueError, "finite"),
        ("big", [1, 2], TypeError, "sizes must be a positive number or array"),
        ([10, 20], None, TypeError, "losses must be a positive number or array"),
    ],
)
def test_fit_power_law_rejects_bad_input(sizes, losses, error, message):
    with pytest.raises(error, match=message):
        scaling.fit_power_law(sizes, losses)
