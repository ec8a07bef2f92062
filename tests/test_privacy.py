"""Tests for lmbook.privacy (chapter 11): DP-SGD pieces, the accountant against Opacus, FedAvg."""

import math

import numpy as np
import pytest
import torch
from opacus.accountants.analysis import rdp as opacus_rdp

from lmbook import privacy


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(), torch.nn.Linear(4, 3))


def test_per_example_gradients_match_a_loop():
    model, x, y = _model(), torch.randn(6, 5), torch.tensor([0, 1, 2, 0, 1, 2])
    loss_fn = torch.nn.functional.cross_entropy
    grads = privacy.per_example_gradients(model, loss_fn, x, y)
    for i in range(6):
        model.zero_grad()
        loss_fn(model(x[i : i + 1]), y[i : i + 1]).backward()
        for name, p in model.named_parameters():
            torch.testing.assert_close(grads[name][i], p.grad, atol=1e-6, rtol=1e-5)


def test_clipping_bounds_the_whole_gradient_and_keeps_small_ones():
    grads = {"a": torch.tensor([[3.0, 4.0], [0.3, 0.4]]), "b": torch.zeros(2, 1)}
    clipped, norms = privacy.clip_per_example(grads, max_norm=1.0)
    torch.testing.assert_close(norms, torch.tensor([5.0, 0.5]))
    torch.testing.assert_close(clipped["a"], torch.tensor([[0.6, 0.8], [0.3, 0.4]]))


def test_noisy_gradient_without_noise_is_the_clipped_mean():
    grads = {"w": torch.tensor([[3.0, 4.0], [0.3, 0.4]])}
    out = privacy.noisy_gradient(grads, max_norm=1.0, noise_multiplier=0.0, expected_batch_size=2)
    torch.testing.assert_close(out["w"], torch.tensor([0.45, 0.6]))


def test_noise_has_sigma_times_c_std():
    grads = {"w": torch.zeros(1, 20_000)}
    out = privacy.noisy_gradient(
        grads,
        max_norm=0.5,
        noise_multiplier=3.0,
        expected_batch_size=1,
        generator=torch.Generator().manual_seed(0),
    )
    assert abs(out["w"].std().item() - 1.5) < 0.05


@pytest.mark.filterwarnings("ignore:Optimal order")
@pytest.mark.parametrize("q,sigma", [(0.01, 1.1), (0.2, 0.8), (0.05, 5.0)])
def test_rdp_matches_opacus(q, sigma):
    orders = list(range(2, 80))
    ours = privacy.rdp_sampled_gaussian(q, sigma, orders)
    theirs = np.array(opacus_rdp.compute_rdp(q=q, noise_multiplier=sigma, steps=1, orders=orders))
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)
    eps, _ = privacy.epsilon_from_rdp(100 * ours, orders, 1e-5)
    spent = opacus_rdp.get_privacy_spent(orders=orders, rdp=100 * theirs, delta=1e-5)
    assert math.isclose(eps, spent[0])


def test_rdp_without_sampling_is_the_gaussian_mechanism():
    np.testing.assert_allclose(privacy.rdp_sampled_gaussian(1.0, 2.0, [2, 10]), [0.25, 1.25])


def test_epsilon_falls_with_noise_and_zero_noise_is_infinite():
    eps = [privacy.dp_epsilon(s, 0.01, 1000, 1e-5) for s in (0.8, 1.5, 4.0)]
    assert eps[0] > eps[1] > eps[2] > 0
    assert privacy.dp_epsilon(0.0, 0.01, 1000, 1e-5) == math.inf


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"sample_rate": 1.5}, ValueError, r"sample_rate must be a finite number in \(0, 1\]"),
        ({"sample_rate": 0}, ValueError, r"sample_rate must be a finite number in \(0, 1\]"),
        ({"noise_multiplier": -1.0}, ValueError, "noise_multiplier must be a finite number > 0"),
        ({"orders": [1, 2]}, ValueError, r"orders must be integers ≥ 2, got \[1, 2\]"),
        ({"orders": []}, ValueError, "orders must be a non-empty list"),
        ({"sample_rate": "0.1"}, TypeError, "sample_rate must be a finite number"),
        ({"noise_multiplier": None}, TypeError, "noise_multiplier must be a finite number"),
        ({"orders": [1.5]}, TypeError, r"orders must be integers ≥ 2 \(this accountant"),
        ({"orders": [2.0, 3.0]}, TypeError, r"orders must be integers ≥ 2 \(this accountant"),
    ],
)
def test_accountant_rejects_bad_inputs(kwargs, error, message):
    with pytest.raises(error, match=message):
        privacy.rdp_sampled_gaussian(**({"sample_rate": 0.1, "noise_multiplier": 1.0} | kwargs))


def test_epsilon_from_rdp_checks_delta_and_lengths():
    with pytest.raises(ValueError, match=r"delta must be a finite number in \(0, 1\), got 1.0"):
        privacy.epsilon_from_rdp([1.0], [2], 1.0)
    with pytest.raises(TypeError, match="delta must be a finite number"):
        privacy.epsilon_from_rdp([1.0], [2], "1e-5")
    with pytest.raises(ValueError, match="orders"):
        privacy.epsilon_from_rdp([1.0, 2.0], [2], 1e-5)


def test_dp_epsilon_checks_steps_and_noise():
    with pytest.raises(ValueError, match="steps must be an integer ≥ 1, got 0"):
        privacy.dp_epsilon(1.0, 0.01, 0, 1e-5)
    with pytest.raises(TypeError, match="steps must be an integer ≥ 1, got 100.0"):
        privacy.dp_epsilon(1.0, 0.01, 100.0, 1e-5)
    with pytest.raises(ValueError, match="noise_multiplier must be a finite number ≥ 0"):
        privacy.dp_epsilon(-1.0, 0.01, 100, 1e-5)


def test_dp_sgd_checks_its_settings():
    grads = {"w": torch.zeros(2, 3)}
    with pytest.raises(ValueError, match="max_norm must be a finite number > 0, got 0"):
        privacy.clip_per_example(grads, max_norm=0)
    with pytest.raises(TypeError, match="expected_batch_size must be a finite number > 0"):
        privacy.noisy_gradient(grads, max_norm=1.0, noise_multiplier=1.0, expected_batch_size=None)
    model, x, y = torch.nn.Linear(2, 2), torch.zeros(4, 2), torch.zeros(4, dtype=torch.long)
    settings = {"steps": 1, "sample_rate": 0.5, "max_norm": 1.0, "noise_multiplier": 1.0}
    with pytest.raises(ValueError, match="lr must be a finite number > 0, got -1"):
        privacy.dp_sgd_train(model, x, y, **settings, lr=-1)
    with pytest.raises(TypeError, match="steps must be an integer ≥ 1, got '1'"):
        privacy.dp_sgd_train(model, x, y, **(settings | {"steps": "1"}), lr=0.1)


def test_dp_sgd_train_learns_a_separable_problem():
    torch.manual_seed(0)
    x = torch.randn(200, 5)
    y = (x[:, 0] > 0).long()
    model = torch.nn.Linear(5, 2)
    privacy.dp_sgd_train(
        model, x, y, steps=100, sample_rate=0.2, max_norm=1.0, noise_multiplier=0.5, lr=1.0
    )
    assert (model(x).argmax(1) == y).float().mean() > 0.9


def test_splits_cover_every_example_once():
    labels = np.repeat(np.arange(10), 30)
    for parts in (privacy.split_iid(300, 7), privacy.split_label_skew(labels, 10, 2)):
        np.testing.assert_array_equal(np.sort(np.concatenate(parts)), np.arange(300))
    skew = privacy.split_label_skew(labels, 10, 2)
    assert max(len(np.unique(labels[p])) for p in skew) <= 2
    with pytest.raises(ValueError, match="5 clients but only 3 examples"):
        privacy.split_iid(3, 5)
    with pytest.raises(TypeError, match="n_clients must be an integer ≥ 1, got 5.0"):
        privacy.split_iid(30, 5.0)
    with pytest.raises(ValueError, match="shards need at least as many examples"):
        privacy.split_label_skew(labels, 200, 2)
    with pytest.raises(ValueError, match="shards_per_client must be an integer ≥ 1, got 0"):
        privacy.split_label_skew(labels, 10, 0)


def test_federated_average_is_the_weighted_mean():
    a, b = {"w": torch.tensor([0.0, 2.0])}, {"w": torch.tensor([4.0, 6.0])}
    torch.testing.assert_close(
        privacy.federated_average([a, b], [3, 1])["w"], torch.tensor([1.0, 3.0])
    )
    with pytest.raises(ValueError, match="one weight per state"):
        privacy.federated_average([a, b], [1])
    with pytest.raises(ValueError, match="same parameter names"):
        privacy.federated_average([a, {"v": torch.zeros(2)}], [1, 1])
    with pytest.raises(ValueError, match="weights must be ≥ 0 with a positive sum"):
        privacy.federated_average([a, b], [1, -1])
    with pytest.raises(TypeError, match="weights must be a number or array of numbers"):
        privacy.federated_average([a, b], ["3", "1"])


def test_input_from_linear_gradient_recovers_the_input():
    model, x = _model(), torch.randn(1, 5)
    torch.nn.functional.cross_entropy(model(x), torch.tensor([1])).backward()
    recovered = privacy.input_from_linear_gradient(model[0].weight.grad, model[0].bias.grad)
    torch.testing.assert_close(recovered, x[0], atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match="the bias gradient is zero"):
        privacy.input_from_linear_gradient(torch.zeros(2, 3), torch.zeros(2))
