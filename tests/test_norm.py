"""lmbook.norm against torch.nn.functional.batch_norm, nn.BatchNorm2d, layer_norm and autograd."""

import numpy as np
import pytest
import torch

from lmbook import norm
from lmbook.nn import numerical_gradient

F = torch.nn.functional
TOLERANCE = {np.float32: 1e-5, np.float64: 1e-12}
SHAPES = [(8, 5), (2, 5), (4, 3, 5, 6), (1, 2, 3, 3)]


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def make(rng, shape, dtype):
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    channels = shape[1]
    gamma = rng.standard_normal(channels).astype(dtype)
    beta = rng.standard_normal(channels).astype(dtype)
    return x, gamma, beta


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
def test_batch_norm_forward_and_backward_match_autograd(shape, dtype, rng):
    x, gamma, beta = make(rng, shape, dtype)
    y, cache = norm.batch_norm(x, gamma, beta)
    xt, gt, bt = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    yt = F.batch_norm(xt, None, None, gt, bt, training=True)
    dy = rng.standard_normal(shape).astype(dtype)
    (yt * torch.from_numpy(dy)).sum().backward()
    dx, dgamma, dbeta = norm.batch_norm_backward(dy, cache)
    assert y.dtype == dx.dtype == dtype
    tol = TOLERANCE[dtype] * 10
    for ours, theirs in [(y, yt), (dx, xt.grad), (dgamma, gt.grad), (dbeta, bt.grad)]:
        assert np.abs(ours - theirs.detach().numpy()).max() < tol


def test_batch_norm_backward_matches_central_differences(rng):
    x, gamma, beta = make(rng, (3, 2, 2, 3), np.float64)
    dy = rng.standard_normal(x.shape)
    _, cache = norm.batch_norm(x, gamma, beta)
    dx, dgamma, dbeta = norm.batch_norm_backward(dy, cache)

    def loss():
        return float(np.sum(norm.batch_norm(x, gamma, beta)[0] * dy))

    for ours, array in [(dx, x), (dgamma, gamma), (dbeta, beta)]:
        assert np.abs(ours - numerical_gradient(loss, array)).max() < 1e-7


def test_the_input_gradient_sums_to_zero_per_channel(rng):
    """Shifting a channel of x by a constant leaves y unchanged, so dx sums to zero."""
    x, gamma, beta = make(rng, (4, 3, 5, 5), np.float64)
    _, cache = norm.batch_norm(x, gamma, beta)
    dx, _, _ = norm.batch_norm_backward(rng.standard_normal(x.shape), cache)
    assert np.abs(dx.sum(axis=(0, 2, 3))).max() < 1e-12


@pytest.mark.parametrize("momentum", [0.1, 0.3])
def test_train_and_eval_mode_match_batchnorm2d(momentum, rng):
    layer = torch.nn.BatchNorm2d(3, momentum=momentum).double()
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([0.5, 1.5, -1.0]))
        layer.bias.copy_(torch.tensor([0.1, -0.2, 0.3]))
    gamma, beta = layer.weight.detach().numpy().copy(), layer.bias.detach().numpy().copy()
    running_mean, running_var = np.zeros(3), np.ones(3)
    for _ in range(3):  # three training batches, then evaluation
        x = rng.standard_normal((4, 3, 5, 5)) * 2 + 3
        expected = layer.train()(torch.from_numpy(x)).detach().numpy()
        y, _ = norm.batch_norm(x, gamma, beta)
        running_mean, running_var = norm.update_running_stats(
            x, running_mean, running_var, momentum
        )
        assert np.abs(y - expected).max() < 1e-12
    assert np.abs(running_mean - layer.running_mean.numpy()).max() < 1e-12
    assert np.abs(running_var - layer.running_var.numpy()).max() < 1e-12
    x = rng.standard_normal((2, 3, 5, 5))
    expected = layer.eval()(torch.from_numpy(x)).detach().numpy()
    y = norm.batch_norm_eval(x, gamma, beta, running_mean, running_var)
    assert np.abs(y - expected).max() < 1e-12


def test_update_running_stats_leaves_its_inputs_alone(rng):
    x = rng.standard_normal((4, 2))
    mean, var = np.zeros(2), np.ones(2)
    new_mean, new_var = norm.update_running_stats(x, mean, var)
    assert np.all(mean == 0) and np.all(var == 1)
    np.testing.assert_allclose(new_mean, 0.1 * x.mean(axis=0), atol=1e-15)
    np.testing.assert_allclose(new_var, 0.9 + 0.1 * x.var(axis=0, ddof=1), atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("shape", "normalized"), [((2, 4, 6), (6,)), ((3, 2, 4, 5), (2, 4, 5))])
def test_layer_norm_matches_torch(shape, normalized, dtype, rng):
    x = (rng.standard_normal(shape) * 2 - 1).astype(dtype)
    gamma = rng.standard_normal(normalized).astype(dtype)
    beta = rng.standard_normal(normalized).astype(dtype)
    y, cache = norm.layer_norm(x, gamma, beta)
    xt, gt, bt = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    yt = F.layer_norm(xt, normalized, gt, bt)
    dy = rng.standard_normal(shape).astype(dtype)
    (yt * torch.from_numpy(dy)).sum().backward()
    dx, dgamma, dbeta = norm.layer_norm_backward(dy, cache)
    tol = TOLERANCE[dtype] * 10
    for ours, theirs in [(y, yt), (dx, xt.grad), (dgamma, gt.grad), (dbeta, bt.grad)]:
        assert ours.shape == tuple(theirs.shape)
        assert np.abs(ours - theirs.detach().numpy()).max() < tol


def test_layer_norm_does_not_mix_examples(rng):
    x = rng.standard_normal((3, 6))
    gamma, beta = np.ones(6), np.zeros(6)
    alone = norm.layer_norm(x[:1], gamma, beta)[0]
    together = norm.layer_norm(x, gamma, beta)[0][:1]
    assert np.abs(alone - together).max() < 1e-15


def test_bad_inputs_are_rejected(rng):
    x, gamma, beta = make(rng, (4, 3), np.float64)
    with pytest.raises(TypeError, match="NumPy array"):
        norm.batch_norm(x.tolist(), gamma, beta)
    with pytest.raises(TypeError, match="float32 or float64"):
        norm.batch_norm(x.astype(int), gamma, beta)
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        norm.batch_norm(x[0], gamma, beta)
    with pytest.raises(ValueError, match=r"gamma must have shape \(3,\)"):
        norm.batch_norm(x, gamma[:2], beta)
    with pytest.raises(TypeError, match="cast one"):
        norm.batch_norm(x, gamma.astype(np.float32), beta)
    with pytest.raises(ValueError, match="more than one value per channel"):
        norm.batch_norm(x[:1], gamma, beta)
    with pytest.raises(ValueError, match="eps"):
        norm.batch_norm(x, gamma, beta, eps=0.0)
    with pytest.raises(ValueError, match="momentum"):
        norm.update_running_stats(x, np.zeros(3), np.ones(3), momentum=1.5)
    with pytest.raises(ValueError, match="at least 2 values"):
        norm.update_running_stats(x[:1], np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match="running_var"):
        norm.batch_norm_eval(x, gamma, beta, np.zeros(3), -np.ones(3))
    _, cache = norm.batch_norm(x, gamma, beta)
    with pytest.raises(ValueError, match="output's shape"):
        norm.batch_norm_backward(np.zeros((4, 2)), cache)
    with pytest.raises(TypeError, match="forward pass ran"):
        norm.batch_norm_backward(np.zeros((4, 3), np.float32), cache)
    with pytest.raises(TypeError, match="cache"):
        norm.batch_norm_backward(np.zeros((4, 3)), "cache")
    with pytest.raises(ValueError, match="between 1 and"):
        norm.layer_norm(x, np.ones((2, 4, 3)), np.zeros((2, 4, 3)))
    with pytest.raises(ValueError, match=r"gamma must have shape \(3,\)"):
        norm.layer_norm(x, np.ones(4), np.zeros(4))
    with pytest.raises(ValueError, match="at least 2 values"):
        norm.layer_norm(x[:, :1], np.ones(1), np.zeros(1))
