"""lmbook.nn against torch.autograd, torch.optim and finite differences."""

import numpy as np
import pytest
import torch

from lmbook import nn

ACTIVATION_NAMES = ["sigmoid", "tanh", "relu", "gelu", "identity"]
TORCH_ACTIVATIONS = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "gelu": torch.nn.functional.gelu,
    "identity": lambda z: z,
}


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def batch(rng, n=7, features=5, classes=4):
    return rng.standard_normal((n, features)), rng.integers(0, classes, size=n)


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_activation_and_derivative_match_autograd(name, rng):
    z = rng.standard_normal(50) * 3
    z = z[np.abs(z) > 1e-3]  # keep away from ReLU's kink
    zt = torch.tensor(z, requires_grad=True)
    yt = TORCH_ACTIVATIONS[name](zt)
    yt.sum().backward()
    np.testing.assert_allclose(nn.activation(name, z), yt.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(nn.activation_derivative(name, z), zt.grad.numpy(), atol=1e-12)


def test_sigmoid_is_stable_far_from_zero():
    z = np.array([-1000.0, -40.0, 0.0, 40.0, 1000.0])
    with np.errstate(over="raise"):
        values = nn.sigmoid(z)
    np.testing.assert_allclose(values, torch.sigmoid(torch.tensor(z)).numpy(), rtol=1e-12)


def test_relu_derivative_at_zero_is_zero_like_pytorch():
    assert nn.activation_derivative("relu", np.array([0.0]))[0] == 0.0


def test_unknown_activation_is_rejected():
    with pytest.raises(
        ValueError, match="activation must be one of 'sigmoid', 'tanh', .*got 'swish'"
    ):
        nn.activation("swish", np.zeros(3))
    with pytest.raises(ValueError, match="activation must be one of"):
        nn.activation_derivative(None, np.zeros(3))
    with pytest.raises(ValueError, match="activation must be one of .*; got 'softplus'"):
        nn.MLP([2, 2], activation="softplus")


def test_softmax_and_log_softmax_match_torch_even_for_huge_logits(rng):
    logits = rng.standard_normal((6, 5)) * 1000
    expected = torch.log_softmax(torch.tensor(logits), dim=1).numpy()
    np.testing.assert_allclose(nn.log_softmax(logits), expected, atol=1e-9)
    np.testing.assert_allclose(nn.softmax(logits), np.exp(expected), atol=1e-12)
    np.testing.assert_allclose(nn.softmax(logits).sum(axis=1), 1.0)
    assert nn.logsumexp(np.array([1000.0, 1000.0])) == pytest.approx(1000 + np.log(2))


def test_cross_entropy_and_its_gradient_match_torch(rng):
    logits, labels = batch(rng)
    lt = torch.tensor(logits, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(lt, torch.tensor(labels))
    loss.backward()
    assert nn.cross_entropy(logits, labels) == pytest.approx(loss.item(), abs=1e-12)
    np.testing.assert_allclose(nn.cross_entropy_grad(logits, labels), lt.grad.numpy(), atol=1e-14)


def test_mse_and_its_gradient_match_torch(rng):
    prediction, target = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    pt = torch.tensor(prediction, requires_grad=True)
    loss = torch.nn.functional.mse_loss(pt, torch.tensor(target))
    loss.backward()
    assert nn.mse(prediction, target) == pytest.approx(loss.item(), abs=1e-12)
    np.testing.assert_allclose(nn.mse_grad(prediction, target), pt.grad.numpy(), atol=1e-14)


def test_one_hot():
    np.testing.assert_array_equal(nn.one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])


@pytest.mark.parametrize("name", ["relu", "tanh", "sigmoid", "gelu"])
def test_mlp_forward_and_backward_match_torch(name, rng):
    x, labels = batch(rng)
    model = nn.MLP([5, 8, 6, 4], activation=name, seed=1)
    loss, grads = model.loss_and_grads(x, labels)

    reference = model.to_torch()
    torch_loss = torch.nn.functional.cross_entropy(reference(torch.tensor(x)), torch.tensor(labels))
    torch_loss.backward()
    torch_grads = [p.grad.numpy() for p in reference.parameters()]
    assert loss == pytest.approx(torch_loss.item(), abs=1e-12)
    for ours, theirs in zip(grads, torch_grads, strict=True):
        np.testing.assert_allclose(ours, theirs, atol=1e-12)


def test_gradient_check_against_central_differences(rng):
    x, labels = batch(rng)
    model = nn.MLP([5, 8, 6, 4], activation="tanh", seed=2)
    assert nn.gradient_check(model, x, labels) < 1e-6


def test_gradient_check_catches_a_wrong_backward(rng):
    x, labels = batch(rng)
    model = nn.MLP([5, 8, 4], activation="tanh", seed=2)
    model.backward = lambda d: [2 * g for g in nn.MLP.backward(model, d)]
    assert nn.gradient_check(model, x, labels) > 0.1


def test_float32_model_stays_float32(rng):
    x, labels = batch(rng)
    model = nn.MLP([5, 4], dtype=np.float32)
    assert model.forward(x.astype(np.float32)).dtype == np.float32
    assert all(g.dtype == np.float32 for g in model.loss_and_grads(x, labels)[1])


def test_initialisation_scales_follow_he_and_glorot():
    relu = nn.MLP([400, 300, 10], activation="relu", seed=0)
    tanh = nn.MLP([400, 300, 10], activation="tanh", seed=0)
    assert relu.weights[0].std() == pytest.approx(np.sqrt(2 / 400), rel=0.02)
    assert tanh.weights[0].std() == pytest.approx(np.sqrt(2 / 700), rel=0.02)
    assert relu.num_params == 400 * 300 + 300 + 300 * 10 + 10


def run_torch_optimizer(optimizer_class, params, grads_per_step, **options):
    tensors = [torch.tensor(p.copy(), requires_grad=True) for p in params]
    optimizer = optimizer_class(tensors, **options)
    for grads in grads_per_step:
        for tensor, grad in zip(tensors, grads, strict=True):
            tensor.grad = torch.tensor(grad)
        optimizer.step()
    return [t.detach().numpy() for t in tensors]


@pytest.mark.parametrize(
    ("ours", "theirs", "options"),
    [
        (nn.SGD, torch.optim.SGD, {"lr": 0.1}),
        (nn.SGD, torch.optim.SGD, {"lr": 0.1, "momentum": 0.9}),
        (nn.Adam, torch.optim.Adam, {"lr": 0.01, "betas": (0.8, 0.95), "eps": 1e-6}),
    ],
)
def test_optimizers_match_torch_optim(ours, theirs, options, rng):
    params = [rng.standard_normal((3, 2)), rng.standard_normal(3)]
    steps = [[rng.standard_normal(p.shape) for p in params] for _ in range(5)]
    expected = run_torch_optimizer(theirs, params, steps, **options)
    optimizer = ours(**options)
    for grads in steps:
        optimizer.step(params, grads)
    for mine, reference in zip(params, expected, strict=True):
        np.testing.assert_allclose(mine, reference, atol=1e-12)


def test_training_separates_two_blobs(rng):
    x = np.vstack([rng.normal(-2, 1, (50, 2)), rng.normal(2, 1, (50, 2))])
    labels = np.repeat([0, 1], 50)
    model, optimizer = nn.MLP([2, 8, 2], seed=0), nn.Adam(lr=0.05)
    first, _ = model.loss_and_grads(x, labels)
    for _ in range(3):
        for index in nn.minibatches(len(x), 20, rng):
            _, grads = model.loss_and_grads(x[index], labels[index])
            optimizer.step(model.params, grads)
    last, _ = model.loss_and_grads(x, labels)
    assert last < first / 3
    assert (model.predict(x) == labels).mean() > 0.95


def test_minibatches_cover_every_index_once(rng):
    indices = np.concatenate(list(nn.minibatches(10, 3, rng)))
    assert sorted(indices) == list(range(10))
    assert [len(i) for i in nn.minibatches(10, 3, rng)] == [3, 3, 3, 1]


def test_relative_error():
    assert nn.relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert nn.relative_error(np.ones(2), -np.ones(2)) == 1.0


# Bad inputs -----------------------------------------------------------------


def test_mismatched_shapes_are_rejected(rng):
    model = nn.MLP([5, 4])
    with pytest.raises(ValueError, match="x has 3 features per row, but the network expects 5"):
        model.forward(rng.standard_normal((2, 3)))
    with pytest.raises(
        ValueError, match=r"x must be a 2-D array of shape \(batch, features\), got shape \(5,\)"
    ):
        model.forward(rng.standard_normal(5))
    with pytest.raises(TypeError, match="x must be a float32 or float64 array, got dtype int64"):
        model.forward(np.ones((2, 5), dtype=int))
    with pytest.raises(TypeError, match="logits must be a NumPy array, got list"):
        nn.cross_entropy([[0.0, 1.0]], np.array([0]))
    with pytest.raises(ValueError, match="empty batch"):
        model.forward(np.zeros((0, 5)))
    model.forward(rng.standard_normal((2, 5)))
    with pytest.raises(ValueError, match=r"dlogits must have the shape of the logits \(2, 4\)"):
        model.backward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"same shape, got \(2,\) and \(3,\)"):
        nn.mse(np.zeros(2), np.zeros(3))
    with pytest.raises(ValueError, match=r"labels must have shape \(2,\) to match the batch"):
        nn.cross_entropy(np.zeros((2, 4)), np.array([0, 1, 2]))


def test_backward_before_forward_is_rejected():
    with pytest.raises(RuntimeError, match=r"call forward\(x\) before backward"):
        nn.MLP([2, 2]).backward(np.zeros((1, 2)))


def test_labels_out_of_range_or_not_integers_are_rejected():
    logits = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\] for 3 classes, got values"):
        nn.cross_entropy(logits, np.array([0, 3]))
    with pytest.raises(ValueError, match="labels must lie in"):
        nn.cross_entropy_grad(logits, np.array([-1, 0]))
    with pytest.raises(TypeError, match="labels must be integer class indices"):
        nn.cross_entropy(logits, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="classes must be an integer ≥ 1, got 0"):
        nn.one_hot(np.array([0]), 0)
    with pytest.raises(TypeError, match="classes must be an integer ≥ 1, got 3.0"):
        nn.one_hot(np.array([0]), 3.0)


def test_bad_network_sizes_are_rejected():
    with pytest.raises(ValueError, match=r"sizes must list at least two integers ≥ 1 .*got \[5\]"):
        nn.MLP([5])
    with pytest.raises(ValueError, match=r"sizes\[1\] must be an integer ≥ 1, got 0"):
        nn.MLP([5, 0])
    for sizes in ([5, 2.5], [5, True], [5, "3"]):
        with pytest.raises(TypeError, match=r"sizes\[1\] must be an integer ≥ 1, got"):
            nn.MLP(sizes)
    with pytest.raises(TypeError, match="sizes must be a list of layer widths, got 5"):
        nn.MLP(5)
    assert nn.MLP(np.array([3, 2])).sizes == [3, 2]
    with pytest.raises(ValueError, match="dtype must be float32 or float64"):
        nn.MLP([2, 2], dtype=np.int64)


@pytest.mark.parametrize("lr", [0, -0.1, float("inf"), float("nan")])
def test_non_positive_learning_rates_are_rejected(lr):
    with pytest.raises(ValueError, match="lr must be a finite number > 0, got"):
        nn.SGD(lr=lr)
    with pytest.raises(ValueError, match="lr must be a finite number > 0, got"):
        nn.Adam(lr=lr)


def test_other_bad_optimizer_settings_are_rejected():
    with pytest.raises(TypeError, match="lr must be a finite number > 0, got '0.1'"):
        nn.SGD(lr="0.1")
    with pytest.raises(ValueError, match=r"momentum must be a finite number in \[0, 1\), got 1.0"):
        nn.SGD(lr=0.1, momentum=1.0)
    with pytest.raises(TypeError, match=r"momentum must be a finite number in \[0, 1\), got None"):
        nn.SGD(lr=0.1, momentum=None)
    with pytest.raises(ValueError, match=r"beta2 must be a finite number in \[0, 1\), got 1.5"):
        nn.Adam(betas=(0.9, 1.5))
    with pytest.raises(TypeError, match="betas must be a pair"):
        nn.Adam(betas=0.9)
    with pytest.raises(ValueError, match=r"betas must be a pair \(beta1, beta2\), got \(0.9,\)"):
        nn.Adam(betas=(0.9,))
    with pytest.raises(ValueError, match="eps must be a finite number > 0, got 0"):
        nn.Adam(eps=0)
    params = [np.zeros((2, 2))]
    with pytest.raises(ValueError, match="got 2 gradients for 1 parameters"):
        nn.SGD(lr=0.1).step(params, [np.zeros((2, 2))] * 2)
    with pytest.raises(ValueError, match=r"gradient 0 has shape \(2,\), but its parameter"):
        nn.Adam().step(params, [np.zeros(2)])


def test_bad_gradient_check_inputs_are_rejected(rng):
    with pytest.raises(TypeError, match="array must be a NumPy array, got list"):
        nn.numerical_gradient(lambda: 0.0, [1.0, 2.0])
    with pytest.raises(
        TypeError, match="array must be a float32 or float64 array, got dtype int64"
    ):
        nn.numerical_gradient(lambda: 0.0, np.zeros(2, dtype=np.int64))
    with pytest.raises(ValueError, match="h must be a finite number > 0, got 0"):
        nn.numerical_gradient(lambda: 0.0, np.zeros(2), h=0)
    with pytest.raises(TypeError, match="model must be an lmbook.nn.MLP"):
        nn.gradient_check("model", *batch(rng))
    with pytest.raises(ValueError, match="batch_size must be an integer ≥ 1, got 0"):
        list(nn.minibatches(10, 0, rng))
    with pytest.raises(TypeError, match="n must be an integer ≥ 1, got 10.0"):
        list(nn.minibatches(10.0, 2, rng))
