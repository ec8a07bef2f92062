"""lmbook.rnn against torch.nn.RNN, LSTM and GRU: forward, BPTT, clipping, bad inputs."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from lmbook import rnn

MODULES = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
DTYPES = [(np.float32, torch.float32, 1e-5), (np.float64, torch.float64, 1e-12)]
T, B, D, H = 7, 3, 4, 5


def run_numpy(kind, params, xs, h0, c0=None):
    """Forward pass of lmbook.rnn; returns (hs, final cell or None, cache)."""
    if kind == "lstm":
        hs, cs, cache = rnn.lstm_forward(params, xs, h0, c0)
        return hs, cs[-1], cache
    hs, cache = {"rnn": rnn.rnn_forward, "gru": rnn.gru_forward}[kind](params, xs, h0)
    return hs, None, cache


def run_torch(kind, module, xs, h0, c0=None):
    if kind == "lstm":
        out, (h_n, c_n) = module(xs, (h0, c0))
        return out, h_n, c_n
    out, h_n = module(xs, h0)
    return out, h_n, None


def backward(kind):
    return {"rnn": rnn.rnn_backward, "lstm": rnn.lstm_backward, "gru": rnn.gru_backward}[kind]


def torch_grads_as_params(kind, module):
    """The gradients of a PyTorch layer, rearranged into lmbook.rnn's parameter layout.

    Summed biases get the gradient of bias_ih (bias_hh's is the same).
    """
    copy = MODULES[kind](module.input_size, module.hidden_size, dtype=module.weight_ih_l0.dtype)
    with torch.no_grad():
        for name, param in module.named_parameters():
            getattr(copy, name).copy_(param.grad)
        if kind != "gru":  # params_from_torch would add the two bias gradients
            copy.bias_hh_l0.zero_()
        else:  # keep b_hn, drop the hh parts of r and z
            copy.bias_hh_l0[: 2 * module.hidden_size] = 0.0
    return rnn.params_from_torch(copy)


@pytest.fixture(params=list(MODULES))
def kind(request):
    return request.param


# Forward -------------------------------------------------------------------


@pytest.mark.parametrize(("np_dtype", "torch_dtype", "tol"), DTYPES)
def test_forward_matches_torch(kind, np_dtype, torch_dtype, tol):
    torch.manual_seed(0)
    module = MODULES[kind](D, H, dtype=torch_dtype)
    xs = torch.randn(T, B, D, dtype=torch_dtype)
    h0, c0 = torch.randn(1, B, H, dtype=torch_dtype), torch.randn(1, B, H, dtype=torch_dtype)
    out, h_n, c_n = run_torch(kind, module, xs, h0, c0)
    params = rnn.params_from_torch(module, dtype=np_dtype)
    assert all(value.dtype == np_dtype for value in params.values())
    hs, c_last, _ = run_numpy(kind, params, xs.numpy(), h0[0].numpy(), c0[0].numpy())
    assert hs.dtype == np_dtype and hs.shape == (T, B, H)
    assert np.abs(hs - out.detach().numpy()).max() < tol
    assert np.abs(hs[-1] - h_n[0].detach().numpy()).max() < tol
    if kind == "lstm":
        assert np.abs(c_last - c_n[0].detach().numpy()).max() < tol


def test_default_start_state_is_zero(kind):
    torch.manual_seed(1)
    module = MODULES[kind](D, H, dtype=torch.float64)
    xs = torch.randn(T, B, D, dtype=torch.float64)
    out = module(xs)[0]
    hs, _, _ = run_numpy(kind, rnn.params_from_torch(module), xs.numpy(), None)
    assert np.abs(hs - out.detach().numpy()).max() < 1e-12


def test_stacked_layers_and_no_bias(kind):
    torch.manual_seed(2)
    module = MODULES[kind](D, H, num_layers=2, bias=False, dtype=torch.float64)
    xs = torch.randn(T, B, D, dtype=torch.float64)
    out = module(xs)[0]
    lower, _, _ = run_numpy(kind, rnn.params_from_torch(module, layer=0), xs.numpy(), None)
    upper, _, _ = run_numpy(kind, rnn.params_from_torch(module, layer=1), lower, None)
    assert np.abs(upper - out.detach().numpy()).max() < 1e-12


def test_gate_order_and_bias_layout():
    torch.manual_seed(3)
    lstm, gru = torch.nn.LSTM(D, H), torch.nn.GRU(D, H)
    p = rnn.params_from_torch(lstm)
    for k, gate in enumerate("ifgo"):  # PyTorch stacks LSTM gates as i, f, g, o
        rows = slice(k * H, (k + 1) * H)
        assert np.array_equal(p[f"W_x{gate}"], lstm.weight_ih_l0[rows].detach().numpy())
        expected = (lstm.bias_ih_l0[rows] + lstm.bias_hh_l0[rows]).detach().numpy()
        assert np.allclose(p[f"b_{gate}"], expected, atol=1e-7)
    q = rnn.params_from_torch(gru)
    assert np.array_equal(q["W_hz"], gru.weight_hh_l0[H : 2 * H].detach().numpy())
    assert np.array_equal(q["b_xn"], gru.bias_ih_l0[2 * H :].detach().numpy())
    assert np.array_equal(q["b_hn"], gru.bias_hh_l0[2 * H :].detach().numpy())


def test_cells_match_one_step_of_the_loop():
    rng = np.random.default_rng(0)
    x, h, c = rng.standard_normal((B, D)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    p = rnn.init_params("rnn", D, H)
    assert np.array_equal(rnn.rnn_cell(p, x, h), rnn.rnn_forward(p, x[None], h)[0][0])
    p = rnn.init_params("gru", D, H)
    assert np.array_equal(rnn.gru_cell(p, x, h), rnn.gru_forward(p, x[None], h)[0][0])
    p = rnn.init_params("lstm", D, H)
    h1, c1 = rnn.lstm_cell(p, x, h, c)
    hs, cs, _ = rnn.lstm_forward(p, x[None], h, c)
    assert np.array_equal(h1, hs[0]) and np.array_equal(c1, cs[0])


def test_torch_cell_modules_agree():
    torch.manual_seed(4)
    cell = torch.nn.GRUCell(D, H, dtype=torch.float64)
    layer = torch.nn.GRU(D, H, dtype=torch.float64)
    with torch.no_grad():
        for name in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]:
            getattr(layer, f"{name}_l0").copy_(getattr(cell, name))
    x, h = torch.randn(B, D, dtype=torch.float64), torch.randn(B, H, dtype=torch.float64)
    ours = rnn.gru_cell(rnn.params_from_torch(layer), x.numpy(), h.numpy())
    assert np.abs(ours - cell(x, h).detach().numpy()).max() < 1e-12


def test_init_params_follow_pytorch():
    params = rnn.init_params("lstm", 3, 100, seed=1, dtype=np.float32)
    assert set(params) == set(rnn.param_names("lstm"))
    assert params["W_hf"].shape == (100, 100) and params["W_xf"].shape == (100, 3)
    assert all(v.dtype == np.float32 for v in params.values())
    bound = 1 / np.sqrt(100)
    assert all(np.abs(v).max() <= bound for v in params.values())
    assert np.abs(params["W_hi"]).max() > 0.9 * bound  # uniform, not all small
    again = rnn.init_params("lstm", 3, 100, seed=1)["b_o"]  # float64, same draws
    assert np.array_equal(params["b_o"], again.astype(np.float32))


def test_sigmoid_is_stable():
    a = np.array([-1000.0, -5.0, 0.0, 5.0, 1000.0])
    with np.errstate(over="raise", invalid="raise"):
        s = rnn.sigmoid(a)
    assert np.allclose(s, torch.sigmoid(torch.tensor(a)).numpy(), rtol=0, atol=1e-15)


# Backpropagation through time ---------------------------------------------------


@pytest.mark.parametrize(("np_dtype", "torch_dtype", "tol"), DTYPES)
def test_bptt_matches_autograd(kind, np_dtype, torch_dtype, tol):
    torch.manual_seed(5)
    module = MODULES[kind](D, H, dtype=torch_dtype)
    xs = torch.randn(T, B, D, dtype=torch_dtype, requires_grad=True)
    h0 = torch.randn(1, B, H, dtype=torch_dtype, requires_grad=True)
    c0 = torch.randn(1, B, H, dtype=torch_dtype, requires_grad=True)
    out, _, _ = run_torch(kind, module, xs, h0, c0)
    weights = torch.randn(T, B, H, dtype=torch_dtype)  # L = sum(weights * outputs)
    (weights * out).sum().backward()

    params = rnn.params_from_torch(module, dtype=np_dtype)
    _, _, cache = run_numpy(
        kind, params, xs.detach().numpy(), h0[0].detach().numpy(), c0[0].detach().numpy()
    )
    grads, inputs = backward(kind)(cache, weights.numpy())

    assert set(grads) == set(rnn.param_names(kind))
    expected = torch_grads_as_params(kind, module)
    scale = tol * 10  # weight gradients sum T·B terms
    for name in grads:
        assert grads[name].shape == params[name].shape
        assert np.abs(grads[name] - expected[name]).max() < scale, name
    assert np.abs(inputs["xs"] - xs.grad.numpy()).max() < tol
    assert np.abs(inputs["h0"] - h0.grad[0].numpy()).max() < tol
    if kind == "lstm":
        assert np.abs(inputs["c0"] - c0.grad[0].numpy()).max() < tol


def test_bptt_only_last_step_loss_gives_dl_dh0():
    """The chapter's measurement: L = u·h_T, gradient with respect to h_0."""
    torch.manual_seed(6)
    module = torch.nn.RNN(D, H, dtype=torch.float64)
    xs = torch.randn(30, B, D, dtype=torch.float64)
    h0 = torch.zeros(1, B, H, dtype=torch.float64, requires_grad=True)
    u = torch.randn(H, dtype=torch.float64)
    (module(xs, h0)[0][-1] @ u).sum().backward()
    hs, cache = rnn.rnn_forward(rnn.params_from_torch(module), xs.numpy())
    upstream = np.zeros_like(hs)
    upstream[-1] = u.numpy()
    _, inputs = rnn.rnn_backward(cache, upstream)
    assert np.allclose(inputs["h0"], h0.grad[0].numpy(), rtol=1e-10, atol=1e-300)


def test_bptt_matches_finite_differences():
    rng = np.random.default_rng(7)
    params = rnn.init_params("gru", 2, 3, seed=7)
    xs = rng.standard_normal((4, 2, 2))
    upstream = rng.standard_normal((4, 2, 3))

    def loss(p):
        return float(np.sum(rnn.gru_forward(p, xs)[0] * upstream))

    grads, _ = rnn.gru_backward(rnn.gru_forward(params, xs)[1], upstream)
    eps = 1e-6
    for name in ["W_hn", "b_hn", "W_xz"]:
        bumped = {k: v.copy() for k, v in params.items()}
        bumped[name].flat[0] += eps
        lowered = {k: v.copy() for k, v in params.items()}
        lowered[name].flat[0] -= eps
        numeric = (loss(bumped) - loss(lowered)) / (2 * eps)
        assert abs(numeric - grads[name].flat[0]) < 1e-7, name


# Gradient clipping ----------------------------------------------------------------


@pytest.mark.parametrize("max_norm", [0.5, 3.0, 100.0])
def test_clip_grad_norm_matches_torch(max_norm):
    rng = np.random.default_rng(8)
    grads = {"a": rng.standard_normal((3, 4)), "b": rng.standard_normal(5)}
    tensors = [torch.zeros(3, 4, dtype=torch.float64), torch.zeros(5, dtype=torch.float64)]
    for tensor, value in zip(tensors, grads.values(), strict=True):
        tensor.grad = torch.tensor(value)
    torch_norm = torch.nn.utils.clip_grad_norm_(tensors, max_norm)
    clipped, norm = rnn.clip_grad_norm(grads, max_norm)
    assert abs(norm - torch_norm.item()) < 1e-12
    for tensor, name in zip(tensors, ["a", "b"], strict=True):
        assert np.abs(clipped[name] - tensor.grad.numpy()).max() < 1e-12
    total = np.sqrt(sum(np.sum(v**2) for v in clipped.values()))
    assert total <= max_norm * (1 + 1e-9)
    assert np.array_equal(grads["a"], np.random.default_rng(8).standard_normal((3, 4)))


def test_clip_keeps_the_direction_and_small_gradients():
    grads = {"w": np.array([3.0, 4.0])}
    clipped, norm = rnn.clip_grad_norm(grads, 1.0)
    assert norm == 5.0 and np.allclose(clipped["w"], [0.6, 0.8], atol=1e-6)
    same, _ = rnn.clip_grad_norm(grads, 10.0)
    assert np.array_equal(same["w"], grads["w"])


def test_clipping_tames_an_exploding_rnn():
    """A tanh RNN with a large recurrent gain: the raw gradient explodes, the clipped one not."""
    params = rnn.init_params("rnn", D, 32, seed=0)
    params["W_hh"] = 3.0 * np.random.default_rng(0).standard_normal((32, 32)) / np.sqrt(32)
    xs = np.random.default_rng(1).standard_normal((100, 4, D))
    hs, cache = rnn.rnn_forward(params, xs)
    upstream = np.zeros_like(hs)
    upstream[-1] = 1.0
    grads, _ = rnn.rnn_backward(cache, upstream)
    clipped, norm = rnn.clip_grad_norm(grads, 1.0)
    assert norm > 1e6
    assert np.sqrt(sum(np.sum(v**2) for v in clipped.values())) <= 1.0 + 1e-9


# Bad inputs --------------------------------------------------------------------


def params_and_sequence():
    return rnn.init_params("rnn", D, H), np.zeros((T, B, D))


@pytest.mark.parametrize(
    ("make_call", "error", "message"),
    [
        (lambda p, xs: rnn.rnn_forward(p, xs[:, 0]), ValueError, r"3-D \(time, batch.*xs\[:, None"),
        (lambda p, xs: rnn.rnn_forward(p, xs[None]), ValueError, "3-D.*got 4-D"),
        (lambda p, xs: rnn.rnn_forward(p, xs[..., :2]), ValueError, "input_size 2.*expect 4"),
        (lambda p, xs: rnn.rnn_forward(p, xs[:0]), ValueError, "at least one time step"),
        (lambda p, xs: rnn.rnn_forward(p, xs.tolist()), TypeError, "NumPy array, got list"),
        (
            lambda p, xs: rnn.rnn_forward(p, torch.tensor(xs)),
            TypeError,
            r"xs must be a NumPy array, got Tensor \(convert a tensor with \.numpy\(\)\)",
        ),
        (
            lambda p, xs: rnn.rnn_forward(p, xs.astype(int)),
            TypeError,
            "xs must be a float32 or float64 array, got dtype int64",
        ),
        (
            lambda p, xs: rnn.rnn_forward({**p, "b_h": p["b_h"].astype(np.float16)}, xs),
            TypeError,
            r"params\['b_h'\] must be a float32 or float64 array, got dtype float16",
        ),
        (lambda p, xs: rnn.rnn_forward(p, xs, [[0.0] * H] * B), TypeError, "h0 must be a NumPy"),
        (
            lambda p, xs: rnn.rnn_forward(p, xs, np.zeros((B, H + 1))),
            ValueError,
            r"h0 has shape \(3, 6\), expected \(batch, hidden_size\) = \(3, 5\)",
        ),
        (lambda p, xs: rnn.rnn_forward(p, xs, np.zeros(H)), ValueError, "h0 has shape"),
        (lambda p, xs: rnn.rnn_forward({"W_xh": p["W_xh"]}, xs), ValueError, r"lack \['W_hh'"),
        (
            lambda p, xs: rnn.rnn_forward({**p, "W_hh": np.zeros((H, H + 1))}, xs),
            ValueError,
            r"params\['W_hh'\] has shape \(5, 6\), expected \(5, 5\)",
        ),
        (
            lambda p, xs: rnn.rnn_forward({**p, "b_h": np.zeros(H + 1)}, xs),
            ValueError,
            r"params\['b_h'\].*expected \(5,\)",
        ),
        (lambda p, xs: rnn.rnn_forward({**p, "W_xh": np.zeros(H)}, xs), ValueError, "must be 2-D"),
        (lambda p, xs: rnn.rnn_forward(list(p.values()), xs), TypeError, "dict of arrays"),
        (lambda p, xs: rnn.lstm_forward(p, xs), ValueError, r"lstm params lack"),
        (lambda p, xs: rnn.rnn_cell(p, xs, np.zeros((B, H))), ValueError, "x must be 2-D"),
        (lambda p, xs: rnn.rnn_cell(p, xs[0], np.zeros((B + 1, H))), ValueError, "h has shape"),
        (
            lambda p, xs: rnn.param_names("transformer"),
            ValueError,
            "kind must be one of 'rnn', 'lstm', 'gru'; got 'transformer'",
        ),
        (lambda p, xs: rnn.init_params("RNN", D, H), ValueError, "kind must be one of"),
        (
            lambda p, xs: rnn.init_params("rnn", 0, H),
            ValueError,
            "input_size must be an integer ≥ 1",
        ),
        (
            lambda p, xs: rnn.init_params("rnn", D, 2.5),
            TypeError,
            "hidden_size must be an integer ≥ 1, got 2.5",
        ),
    ],
)
def test_bad_inputs_raise_clear_errors(make_call, error, message):
    params, xs = params_and_sequence()
    with pytest.raises(error, match=message):
        make_call(params, xs)


def test_lstm_checks_its_cell_state():
    params = rnn.init_params("lstm", D, H)
    with pytest.raises(ValueError, match="c0 has shape"):
        rnn.lstm_forward(params, np.zeros((T, B, D)), None, np.zeros((B, H - 1)))


def test_backward_checks_cache_and_upstream():
    params, xs = params_and_sequence()
    hs, cache = rnn.rnn_forward(params, xs)
    with pytest.raises(ValueError, match="dhs must have the shape"):
        rnn.rnn_backward(cache, np.zeros((T, B, H + 1)))
    with pytest.raises(ValueError, match="cache must be the dict returned by gru_forward"):
        rnn.gru_backward(cache, np.zeros_like(hs))
    with pytest.raises(TypeError, match="dhs must be a NumPy array"):
        rnn.rnn_backward(cache, hs.tolist())
    with pytest.raises(
        TypeError, match="cache must be the dict returned by rnn_forward, got tuple"
    ):
        rnn.rnn_backward((hs, cache), np.zeros_like(hs))
    with pytest.raises(ValueError, match="returned by lstm_forward, not by rnn_forward"):
        rnn.lstm_backward(cache, np.zeros_like(hs))


@pytest.mark.parametrize(
    ("grads", "max_norm", "error", "message"),
    [
        ({}, 1.0, ValueError, "non-empty dict of arrays, got an empty one"),
        ([np.ones(2)], 1.0, TypeError, "non-empty dict of arrays, got list"),
        ({"w": [1.0, 2.0]}, 1.0, TypeError, r"grads\['w'\] must be a NumPy array"),
        ({"w": np.ones(2)}, 0.0, ValueError, "max_norm must be a finite number > 0, got 0.0"),
        ({"w": np.ones(2)}, -1, ValueError, "max_norm must be a finite number > 0, got -1"),
        ({"w": np.ones(2)}, float("inf"), ValueError, "max_norm must be a finite number > 0"),
        ({"w": np.ones(2)}, True, TypeError, "max_norm must be a finite number > 0, got True"),
        ({"w": np.ones(2)}, "1", TypeError, "max_norm must be a finite number > 0, got '1'"),
    ],
)
def test_clip_rejects_bad_inputs(grads, max_norm, error, message):
    with pytest.raises(error, match=message):
        rnn.clip_grad_norm(grads, max_norm)


@pytest.mark.parametrize(
    ("module", "kwargs", "error", "message"),
    [
        (torch.nn.Linear(D, H), {}, TypeError, "torch.nn.RNN, torch.nn.LSTM or torch.nn.GRU"),
        (torch.nn.LSTMCell(D, H), {}, TypeError, "got LSTMCell"),
        (torch.nn.GRU(D, H, bidirectional=True), {}, ValueError, "bidirectional"),
        (torch.nn.RNN(D, H, nonlinearity="relu"), {}, ValueError, "only the tanh RNN"),
        (torch.nn.LSTM(D, H, proj_size=2), {}, ValueError, "proj_size"),
        (torch.nn.LSTM(D, H, num_layers=2), {"layer": 2}, ValueError, r"in \[0, 1\], got 2"),
        (torch.nn.LSTM(D, H), {"layer": -1}, ValueError, r"layer must be an integer in \[0, 0\]"),
        (torch.nn.LSTM(D, H), {"layer": 0.0}, TypeError, "layer must be an integer"),
    ],
)
def test_params_from_torch_rejects_what_it_cannot_copy(module, kwargs, error, message):
    with pytest.raises(error, match=message):
        rnn.params_from_torch(module, **kwargs)


def test_import_has_no_side_effects():
    code = "import sys, lmbook.rnn; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
