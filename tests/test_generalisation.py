"""lmbook.generalisation against PyTorch: dropout, weight decay, early stopping, init."""

import math

import numpy as np
import pytest
import torch

from lmbook import generalisation as gen
from lmbook import nn


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def batch(rng, n=16, features=6, classes=4):
    return rng.standard_normal((n, features)), rng.integers(0, classes, size=n)


# Dropout -------------------------------------------------------------------------


def test_dropout_keeps_the_mean_and_has_the_derived_variance(rng):
    p, x = 0.4, np.full((800, 800), 2.0)
    y, keep = gen.dropout_forward(x, p, rng)
    assert keep.dtype == np.bool_ and keep.shape == x.shape
    assert np.array_equal(y[keep], np.full(keep.sum(), 2.0 / 0.6))
    assert np.all(y[~keep] == 0)
    assert abs((~keep).mean() - p) < 0.005
    assert abs(y.mean() - 2.0) < 0.02
    assert abs(y.var() - 4.0 * p / (1 - p)) < 0.05


def test_dropout_statistics_match_torch(rng):
    p, x = 0.25, np.ones((500, 500))
    ours, _ = gen.dropout_forward(x, p, rng)
    torch.manual_seed(0)
    theirs = torch.nn.functional.dropout(torch.from_numpy(x), p, training=True).numpy()
    for statistic in (lambda y: (y == 0).mean(), np.mean, np.var):
        assert abs(statistic(ours) - statistic(theirs)) < 0.01
    assert np.allclose(np.unique(ours[ours != 0]), np.unique(theirs[theirs != 0]))


def test_dropout_backward_matches_autograd_with_torchs_mask(rng):
    p = 0.3
    x = torch.tensor(rng.standard_normal((20, 30)) + 5.0, requires_grad=True)
    y = torch.nn.functional.dropout(x, p, training=True)
    upstream = rng.standard_normal((20, 30))
    y.backward(torch.from_numpy(upstream))
    keep = y.detach().numpy() != 0
    np.testing.assert_allclose(gen.dropout_backward(upstream, keep, p), x.grad.numpy(), atol=1e-15)


def test_dropout_is_the_identity_out_of_training_and_at_p_zero(rng):
    x = rng.standard_normal((3, 4))
    for y, keep in (
        gen.dropout_forward(x, 0.5, rng, training=False),
        gen.dropout_forward(x, 0.0, rng),
    ):
        assert np.array_equal(y, x) and keep.all()


def test_dropout_keeps_float32(rng):
    y, _ = gen.dropout_forward(np.ones((4, 4), dtype=np.float32), 0.5, rng)
    assert y.dtype == np.float32


def test_dropout_rejects_bad_inputs(rng):
    x = np.ones((2, 3))
    with pytest.raises(ValueError, match=r"p must be a finite number in \[0, 1\)"):
        gen.dropout_forward(x, 1.0, rng)
    with pytest.raises(TypeError, match="x must be a NumPy array"):
        gen.dropout_forward([[1.0, 2.0]], 0.5, rng)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        gen.dropout_forward(x, 0.5, 0)
    with pytest.raises(TypeError, match="training must be True or False"):
        gen.dropout_forward(x, 0.5, rng, training="yes")
    with pytest.raises(TypeError, match="keep must be the boolean mask"):
        gen.dropout_backward(x, np.ones((2, 3)), 0.5)
    with pytest.raises(ValueError, match=r"keep has shape \(3, 2\) but dy has shape"):
        gen.dropout_backward(x, np.ones((3, 2), dtype=bool), 0.5)
    with pytest.raises(ValueError, match="p must be"):
        gen.dropout_backward(x, np.ones((2, 3), dtype=bool), -0.1)


def test_dropout_mlp_gradients_match_autograd_through_the_same_masks(rng):
    x, labels = batch(rng)
    model = gen.DropoutMLP([6, 8, 8, 4], activation="tanh", p=0.5, seed=1)
    model.training = True
    _, grads = model.loss_and_grads(x, labels)
    params = [torch.tensor(p, requires_grad=True) for p in model.params]
    a = torch.from_numpy(x)
    for layer in range(3):
        a = a @ params[2 * layer].T + params[2 * layer + 1]
        if layer < 2:
            a = torch.tanh(a) * torch.from_numpy(model.masks[layer]) / 0.5
    torch.nn.functional.cross_entropy(a, torch.from_numpy(labels)).backward()
    for ours, theirs in zip(grads, params, strict=True):
        np.testing.assert_allclose(ours, theirs.grad.numpy(), atol=1e-12)
    assert any(not mask.all() for mask in model.masks)  # something was dropped


def test_dropout_mlp_in_evaluation_is_the_plain_mlp(rng):
    x, _ = batch(rng)
    dropped = gen.DropoutMLP([6, 8, 4], p=0.5, seed=2)
    plain = nn.MLP([6, 8, 4], seed=2)
    np.testing.assert_array_equal(dropped.forward(x), plain.forward(x))
    dropped.training = True
    assert not np.allclose(dropped.forward(x), plain.forward(x))
    with pytest.raises(ValueError, match="p must be"):
        gen.DropoutMLP([6, 4], p=1.5)
    with pytest.raises(ValueError, match="x has 5 features per row"):
        dropped.forward(np.ones((2, 5)))


# Weight decay ----------------------------------------------------------------------


def run_numpy(optimizer, model, x, labels, steps=4):
    for _ in range(steps):
        _, grads = model.loss_and_grads(x, labels)
        optimizer.step(model.params, grads)
    return model.params


def run_torch(make_optimizer, model, x, labels, steps=4):
    net = model.to_torch()
    optimizer = make_optimizer(net.parameters())
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(net(torch.from_numpy(x)), torch.from_numpy(labels))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return [p.detach().numpy() for p in net.parameters()]


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (
            lambda: gen.L2SGD(lr=0.1, weight_decay=0.05),
            lambda ps: torch.optim.SGD(ps, lr=0.1, weight_decay=0.05),
        ),
        (
            lambda: gen.L2SGD(lr=0.1, weight_decay=0.05, momentum=0.9),
            lambda ps: torch.optim.SGD(ps, lr=0.1, weight_decay=0.05, momentum=0.9),
        ),
        (
            lambda: gen.AdamL2(lr=0.01, weight_decay=0.2),
            lambda ps: torch.optim.Adam(ps, lr=0.01, weight_decay=0.2),
        ),
        (
            lambda: gen.AdamW(lr=0.01, weight_decay=0.2),
            lambda ps: torch.optim.AdamW(ps, lr=0.01, weight_decay=0.2),
        ),
    ],
    ids=["sgd", "sgd-momentum", "adam-l2", "adamw"],
)
def test_weight_decay_optimizers_match_torch(ours, theirs, rng):
    x, labels = batch(rng)
    model = nn.MLP([6, 5, 4], activation="tanh", seed=3)
    expected = run_torch(theirs, model, x, labels)
    for a, b in zip(run_numpy(ours(), model, x, labels), expected, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-12)


def test_adam_with_l2_and_adamw_differ(rng):
    x, labels = batch(rng)
    first = run_numpy(gen.AdamL2(lr=0.01, weight_decay=0.5), nn.MLP([6, 5, 4], seed=4), x, labels)
    second = run_numpy(gen.AdamW(lr=0.01, weight_decay=0.5), nn.MLP([6, 5, 4], seed=4), x, labels)
    assert max(np.abs(a - b).max() for a, b in zip(first, second, strict=True)) > 1e-3


def test_sgd_weight_decay_shrinks_by_one_minus_eta_lambda(rng):
    w = rng.standard_normal((3, 3))
    g = rng.standard_normal((3, 3))
    expected = (1 - 0.1 * 0.3) * w - 0.1 * g
    gen.L2SGD(lr=0.1, weight_decay=0.3).step([w], [g])
    np.testing.assert_allclose(w, expected, atol=1e-15)
    # With no gradient, AdamW only shrinks (Adam's step of a zero gradient is zero).
    v = rng.standard_normal(4)
    before = v.copy()
    gen.AdamW(lr=0.1, weight_decay=0.5).step([v], [np.zeros(4)])
    np.testing.assert_allclose(v, 0.95 * before, atol=1e-15)


def test_l2_penalty_and_its_gradient(rng):
    params = [rng.standard_normal((3, 2)), rng.standard_normal(3)]
    tensors = [torch.tensor(p, requires_grad=True) for p in params]
    penalty = 0.5 * 0.7 * sum((t**2).sum() for t in tensors)
    penalty.backward()
    assert math.isclose(gen.l2_penalty(params, 0.7), penalty.item(), rel_tol=1e-12)
    for p, t in zip(params, tensors, strict=True):
        np.testing.assert_allclose(t.grad.numpy(), 0.7 * p, atol=1e-15)


def test_weight_decay_rejects_bad_inputs():
    with pytest.raises(ValueError, match="weight_decay must be a finite number ≥ 0"):
        gen.L2SGD(lr=0.1, weight_decay=-1.0)
    with pytest.raises(TypeError, match="weight_decay must be"):
        gen.AdamW(weight_decay="0.1")
    with pytest.raises(ValueError, match="got 1 gradients for 2 parameters"):
        gen.AdamL2().step([np.ones(2), np.ones(2)], [np.ones(2)])
    with pytest.raises(ValueError, match=r"gradient 0 has shape \(3,\)"):
        gen.AdamW().step([np.ones(2)], [np.ones(3)])
    with pytest.raises(TypeError, match="params must be a list of arrays"):
        gen.l2_penalty(np.ones(3), 0.1)
    with pytest.raises(TypeError, match=r"params\[0\] must be a NumPy array"):
        gen.l2_penalty([[1.0, 2.0]], 0.1)


# Early stopping --------------------------------------------------------------------


def test_early_stopping_waits_patience_epochs_after_the_best():
    losses = [1.0, 0.8, 0.7, 0.75, 0.72, 0.71, 0.9, 0.65, 0.7]
    assert gen.early_stopping_epoch(losses, patience=3) == (2, 5)
    assert gen.early_stopping_epoch(losses, patience=4) == (2, 6)
    assert gen.early_stopping_epoch(losses, patience=5) == (7, 8)  # never stops
    # 0.95 beats 1.0, but not by more than min_delta: no improvement.
    rule = gen.EarlyStopping(patience=2, min_delta=0.06)
    assert [rule.update(loss) for loss in [1.0, 0.95, 0.97]] == [False, False, True]
    assert rule.best_epoch == 0 and rule.best == 1.0 and rule.stopped
    with pytest.raises(RuntimeError, match="already stopped"):
        rule.update(0.1)


def test_early_stopping_rejects_bad_inputs():
    with pytest.raises(ValueError, match="patience must be an integer ≥ 1"):
        gen.EarlyStopping(0)
    with pytest.raises(TypeError, match="patience must be"):
        gen.EarlyStopping(2.0)
    with pytest.raises(ValueError, match="loss must be a finite number"):
        gen.EarlyStopping(2).update(float("nan"))
    with pytest.raises(ValueError, match="losses is empty"):
        gen.early_stopping_epoch([], 3)
    with pytest.raises(TypeError, match="losses must be a list"):
        gen.early_stopping_epoch("0.5", 3)


def test_fit_with_patience_restores_the_best_epoch(rng):
    x, labels = batch(rng, n=40)
    data = (x[:20], labels[:20], x[20:], labels[20:])
    model = nn.MLP([6, 32, 4], seed=5)
    history = gen.fit(model, nn.Adam(lr=0.05), data, 60, batch_size=8, patience=5)
    best = history["best epoch"][0]
    assert len(history["loss"]) - 1 - best == 5  # it stopped, patience epochs later
    restored = nn.cross_entropy(model.forward(data[2]), data[3])
    assert math.isclose(restored, history["validation loss"][best], rel_tol=1e-12)
    assert restored == min(history["validation loss"])


def test_fit_scores_both_sets_every_epoch(rng):
    x, labels = batch(rng, n=30)
    data = (x[:20], labels[:20], x[20:], labels[20:])
    model = gen.DropoutMLP([6, 16, 4], p=0.3, seed=6)
    history = gen.fit(model, nn.SGD(lr=0.1), data, 3)
    assert set(history) == {"loss", "accuracy", "validation loss", "validation accuracy"}
    assert all(len(values) == 3 for values in history.values())
    assert model.training is False
    assert math.isclose(history["loss"][-1], nn.cross_entropy(model.forward(x[:20]), labels[:20]))
    with pytest.raises(TypeError, match="data must be a tuple"):
        gen.fit(model, nn.SGD(lr=0.1), data[:3], 1)
    with pytest.raises(TypeError, match="optimizer must be an lmbook optimizer"):
        gen.fit(model, torch.optim.SGD([torch.zeros(1)], lr=0.1), data, 1)
    with pytest.raises(ValueError, match="epochs must be an integer ≥ 1"):
        gen.fit(model, nn.SGD(lr=0.1), data, 0)
    with pytest.raises(ValueError, match="labels must lie in"):
        gen.fit(model, nn.SGD(lr=0.1), (x[:20], labels[:20] + 4, x[20:], labels[20:]), 1)


# Initialisation --------------------------------------------------------------------


def test_xavier_and_he_stds_match_torch_init():
    torch.manual_seed(0)
    w = torch.empty(300, 700)  # (fan_out, fan_in) as torch.nn.Linear(700, 300)
    torch.nn.init.xavier_normal_(w)
    assert abs(w.std().item() / gen.xavier_std(700, 300) - 1) < 0.01
    torch.nn.init.xavier_uniform_(w, gain=torch.nn.init.calculate_gain("tanh"))
    assert abs(w.std().item() / gen.xavier_std(700, 300, gain=5 / 3) - 1) < 0.01
    torch.nn.init.kaiming_normal_(w, nonlinearity="relu")
    assert abs(w.std().item() / gen.he_std(700) - 1) < 0.01
    assert math.isclose(gen.he_std(700), math.sqrt(2 / 700))
    torch.nn.init.kaiming_uniform_(w, nonlinearity="relu")
    assert w.abs().max().item() <= math.sqrt(3) * gen.he_std(700)


def test_activation_stds_follow_the_relu_prediction():
    x = np.random.default_rng(1).standard_normal((256, 400))
    he = gen.activation_stds(x, 10, gen.he_std(400), "relu", np.random.default_rng(2))
    xavier = gen.activation_stds(x, 10, gen.xavier_std(400, 400), "relu", np.random.default_rng(2))
    assert he.shape == (10,) and np.all(np.abs(he / math.sqrt(2) - 1) < 0.25)
    # Xavier halves the variance at every layer after the first: the same network, scaled.
    predicted = 1.0 / np.sqrt(2.0) ** np.arange(10)
    np.testing.assert_allclose(xavier / xavier[0], predicted * he / he[0], rtol=1e-10)


def test_init_functions_reject_bad_inputs(rng):
    with pytest.raises(ValueError, match="fan_in must be an integer ≥ 1"):
        gen.he_std(0)
    with pytest.raises(TypeError, match="fan_out must be"):
        gen.xavier_std(10, 2.5)
    with pytest.raises(ValueError, match="gain must be a finite number > 0"):
        gen.xavier_std(10, 10, gain=-1.0)
    x = rng.standard_normal((4, 5))
    with pytest.raises(ValueError, match="activation must be one of"):
        gen.activation_stds(x, 3, 0.1, "swish", rng)
    with pytest.raises(ValueError, match="std must be a finite number > 0"):
        gen.activation_stds(x, 3, 0.0, "relu", rng)
    with pytest.raises(ValueError, match=r"x must be a 2-D array of shape \(examples, width\)"):
        gen.activation_stds(np.ones(5), 3, 0.1, "relu", rng)
