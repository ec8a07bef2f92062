"""Tests of lmbook.deploy (chapter 9) against PyTorch's own quantization, pruning and caches."""

import copy
import math
import warnings

import numpy as np
import pytest
import torch
from torch.nn.utils import prune

from lmbook import deploy


def _observer_qparams(x, bits, signed, symmetric):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torch.ao.quantization.observer import MinMaxObserver

    q_min, q_max = deploy.integer_range(bits, signed)
    dtype = torch.qint32 if bits > 8 else (torch.qint8 if signed else torch.quint8)
    scheme = torch.per_tensor_symmetric if symmetric else torch.per_tensor_affine
    # The default 8-bit ranges; a custom range (other widths) centres zero points differently.
    custom = {} if bits == 8 else {"quant_min": q_min, "quant_max": q_max}
    observer = MinMaxObserver(dtype=dtype, qscheme=scheme, **custom)
    observer(x)
    scale, zero = observer.calculate_qparams()
    return scale.item(), zero.item()


# Bytes -------------------------------------------------------------------------


def test_weight_bytes():
    assert deploy.weight_bytes(7e9, "bf16") == 14e9
    assert deploy.weight_bytes(1000, "int4") == 500
    assert deploy.weight_bytes(10) == 40


@pytest.mark.parametrize("dtype", ["fp64", "int2", None])
def test_weight_bytes_rejects_unknown_dtypes(dtype):
    with pytest.raises(ValueError, match="dtype must be one of 'fp32', 'fp16', 'bf16', 'int8'"):
        deploy.weight_bytes(10, dtype)


@pytest.mark.parametrize(
    "parameters, error",
    [
        (0, ValueError),
        (-5, ValueError),
        (float("inf"), ValueError),
        ("10", TypeError),
        (True, TypeError),
    ],
)
def test_weight_bytes_rejects_bad_counts(parameters, error):
    with pytest.raises(error, match="parameters must be a finite number > 0, got "):
        deploy.weight_bytes(parameters)


# Quantization -----------------------------------------------------------------


@pytest.mark.parametrize(
    "bits, error",
    [
        (0, ValueError),
        (1, ValueError),
        (17, ValueError),
        (32, ValueError),
        (8.0, TypeError),
        (True, TypeError),
        ("8", TypeError),
        (None, TypeError),
    ],
)
def test_bits_outside_2_to_16_are_rejected(bits, error):
    message = r"bits must be an integer in \[2, 16\], got "
    with pytest.raises(error, match=message):
        deploy.check_bits(bits)
    with pytest.raises(error, match=message):
        deploy.affine_qparams(-1.0, 1.0, bits)
    with pytest.raises(error, match=message):
        deploy.fake_quantize(np.ones(3), bits)


def test_integer_range():
    assert deploy.integer_range(8, signed=False) == (0, 255)
    assert deploy.integer_range(8, signed=True) == (-128, 127)
    assert deploy.integer_range(4, signed=True) == (-8, 7)
    assert deploy.integer_range(16, signed=False) == (0, 65535)


@pytest.mark.parametrize("bits", [2, 4, 7, 8, 12, 16])
@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("symmetric", [False, True])
def test_qparams_match_pytorch_observers(bits, signed, symmetric):
    x = torch.randn(50, 30, generator=torch.Generator().manual_seed(bits)) * 2 + 0.4
    scale, zero = deploy.affine_qparams(
        x.min().item(), x.max().item(), bits, signed=signed, symmetric=symmetric
    )
    if symmetric and not signed and bits != 8:
        return  # PyTorch's observers centre unsigned symmetric ranges for 8 bits only
    expected_scale, expected_zero = _observer_qparams(x, bits, signed, symmetric)
    assert math.isclose(float(scale), expected_scale, rel_tol=1e-6)
    assert int(zero) == expected_zero


@pytest.mark.parametrize("bits", [2, 3, 4, 8, 12, 16])
@pytest.mark.parametrize("signed", [False, True])
def test_fake_quantize_per_tensor_matches_pytorch_exactly(bits, signed):
    x = torch.randn(64, 40, generator=torch.Generator().manual_seed(0)) * 3 - 0.5
    ours, scale, zero = deploy.fake_quantize(x.numpy(), bits, signed=signed)
    q_min, q_max = deploy.integer_range(bits, signed)
    theirs = torch.fake_quantize_per_tensor_affine(x, float(scale), int(zero), q_min, q_max)
    np.testing.assert_array_equal(ours, theirs.numpy())
    float32_rounding = 1e-6 * np.abs(x.numpy()).max()
    assert np.abs(ours - x.numpy()).max() <= scale / 2 + float32_rounding


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("symmetric", [False, True])
def test_fake_quantize_per_channel_matches_pytorch_exactly(axis, symmetric):
    x = torch.randn(24, 40, generator=torch.Generator().manual_seed(1))
    x = x * torch.linspace(0.01, 5, 40)  # columns of very different ranges
    ours, scale, zero = deploy.fake_quantize(
        x.numpy(), 8, axis=axis, signed=True, symmetric=symmetric
    )
    theirs = torch.fake_quantize_per_channel_affine(
        x, torch.from_numpy(scale), torch.from_numpy(zero).int(), axis % 2, -128, 127
    )
    np.testing.assert_array_equal(ours, theirs.numpy())


def test_quantize_matches_quantize_per_tensor_integers():
    x = torch.randn(100, generator=torch.Generator().manual_seed(2))
    scale, zero = deploy.affine_qparams(x.min().item(), x.max().item(), 8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # quantized tensors are deprecated in PyTorch 2.13
        theirs = torch.quantize_per_tensor(x, float(scale), int(zero), torch.quint8).int_repr()
    np.testing.assert_array_equal(deploy.quantize(x.numpy(), scale, zero, 8), theirs.numpy())


def test_zero_is_exact_and_clipping():
    scale, zero = deploy.affine_qparams(0.5, 3.0, 8)  # widened to contain 0
    q = deploy.quantize([0.0, 10.0, -10.0], scale, zero, 8)
    assert list(q) == [zero, 255, 0]
    assert deploy.dequantize(q, scale, zero)[0] == 0.0
    assert deploy.affine_qparams(0.0, 0.0, 8)[0] > 0  # an all-zero tensor still gets a scale


def test_quantization_bad_inputs():
    with pytest.raises(ValueError, match="must not exceed"):
        deploy.affine_qparams(1.0, -1.0)
    with pytest.raises(ValueError, match="x_min must be finite everywhere"):
        deploy.affine_qparams(-np.inf, 1.0)
    with pytest.raises(TypeError, match="x_max must be a number or array of numbers"):
        deploy.affine_qparams(-1.0, "1.0")
    with pytest.raises(ValueError, match="x_min and x_max must have the same shape"):
        deploy.affine_qparams([-1.0, -2.0], 1.0)
    with pytest.raises(TypeError, match="signed must be True or False"):
        deploy.affine_qparams(-1.0, 1.0, signed="yes")
    with pytest.raises(ValueError, match="empty"):
        deploy.fake_quantize(np.array([]))
    with pytest.raises(ValueError, match=r"axis must be an integer in \[-2, 1\], got 2"):
        deploy.fake_quantize(np.ones((2, 3)), axis=2)
    with pytest.raises(TypeError, match=r"axis must be an integer in \[-2, 1\], got 1.0"):
        deploy.fake_quantize(np.ones((2, 3)), axis=1.0)
    with pytest.raises(ValueError, match="need 3 values"):
        deploy.quantize(np.ones((2, 3)), np.ones(2), np.zeros(2), axis=1)
    with pytest.raises(ValueError, match="one scale"):
        deploy.quantize(np.ones(3), np.ones(3), np.zeros(3))
    with pytest.raises(ValueError, match="scale must be positive"):
        deploy.quantize(np.ones(3), 0.0, 0)
    with pytest.raises(TypeError, match="integers"):
        deploy.dequantize(np.ones(3), 0.1, 0)


def test_error_halves_with_each_bit():
    w = np.random.default_rng(0).normal(size=(256, 256)).astype(np.float32)
    errors = [np.sqrt(np.mean((deploy.fake_quantize(w, b)[0] - w) ** 2)) for b in (6, 7, 8)]
    assert 1.9 < errors[0] / errors[1] < 2.1 and 1.9 < errors[1] / errors[2] < 2.1


@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("spread", [0.3, 3.0])
def test_dynamic_linear_matches_quantize_dynamic(per_channel, spread):
    generator = torch.Generator().manual_seed(3)
    layer = torch.nn.Linear(96, 40)
    x = torch.randn(17, 96, generator=generator) * spread + 0.2
    quantized = deploy.quantize_dynamic_int8(torch.nn.Sequential(layer), per_channel=per_channel)
    with torch.no_grad():
        theirs = quantized[0](x).numpy()
    ours = deploy.dynamic_quantized_linear(
        x.numpy(),
        layer.weight.detach().numpy(),
        layer.bias.detach().numpy(),
        per_channel=per_channel,
    )
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    without_bias = deploy.dynamic_quantized_linear(
        x.numpy(), layer.weight.detach().numpy(), per_channel=per_channel
    )
    np.testing.assert_allclose(without_bias + layer.bias.detach().numpy(), ours, atol=1e-5)


def test_dynamic_linear_and_quantize_dynamic_bad_inputs():
    with pytest.raises(ValueError, match=r"expected x \(batch, in\)"):
        deploy.dynamic_quantized_linear(np.ones((2, 3)), np.ones((4, 5)))
    with pytest.raises(TypeError, match="torch.nn.Module"):
        deploy.quantize_dynamic_int8("a model")
    with pytest.raises(TypeError, match="torch.nn.Module"):
        deploy.saved_bytes(None)


def test_quantize_dynamic_copies_and_shrinks():
    model = torch.nn.Sequential(torch.nn.Linear(256, 256), torch.nn.ReLU(), torch.nn.Linear(256, 4))
    quantized = deploy.quantize_dynamic_int8(model)
    assert isinstance(model[0], torch.nn.Linear)  # the original is untouched
    assert type(quantized[0]).__module__.startswith("torch.ao.nn.quantized.dynamic")
    parameters = sum(p.numel() for p in model.parameters())
    assert abs(deploy.saved_bytes(model) / (4 * parameters) - 1) < 0.05
    assert deploy.saved_bytes(quantized) < 0.35 * deploy.saved_bytes(model)


def test_best_time():
    assert deploy.best_time(sum, [1, 2, 3], repeat=3) >= 0
    assert deploy.best_time(sum, [1, 2], clock=__import__("time").perf_counter) >= 0
    with pytest.raises(ValueError, match="repeat must be an integer ≥ 1, got 0"):
        deploy.best_time(sum, [1], repeat=0)
    with pytest.raises(TypeError, match="repeat must be an integer ≥ 1, got 3.0"):
        deploy.best_time(sum, [1], repeat=3.0)
    with pytest.raises(TypeError, match="callable"):
        deploy.best_time(42)


def test_best_times_interleaves_and_checks_inputs():
    order = []
    times = deploy.best_times(
        {"a": lambda: order.append("a"), "b": lambda: order.append("b")}, repeat=3
    )
    assert order == ["a", "b"] * 3 and set(times) == {"a", "b"}
    assert all(t >= 0 for t in times.values())
    for bad in ({}, {"a": 1}, [lambda: None]):
        with pytest.raises(TypeError, match="non-empty dict"):
            deploy.best_times(bad)
    with pytest.raises(ValueError, match="repeat must be an integer ≥ 1, got 0"):
        deploy.best_times({"a": lambda: None}, repeat=0)


# Pruning ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "sparsity, error",
    [
        (-0.1, ValueError),
        (1, ValueError),
        (1.0, ValueError),
        (1.5, ValueError),
        (float("nan"), ValueError),
        ("0.5", TypeError),
        (True, TypeError),
        (None, TypeError),
    ],
)
def test_sparsity_outside_0_1_is_rejected(sparsity, error):
    weight = torch.randn(4, 4)
    for function in (deploy.check_sparsity, deploy.magnitude_mask, deploy.structured_mask):
        args = (sparsity,) if function is deploy.check_sparsity else (weight, sparsity)
        with pytest.raises(error, match=r"sparsity must be a finite number in \[0, 1\), got "):
            function(*args)


@pytest.mark.parametrize("sparsity", [0.0, 0.3, 0.5, 0.9, 0.99])
def test_masks_match_torch_prune(sparsity):
    layer = torch.nn.Linear(50, 30)
    check = copy.deepcopy(layer)
    prune.l1_unstructured(check, "weight", amount=sparsity)
    assert torch.equal(check.weight_mask, deploy.magnitude_mask(layer.weight, sparsity))
    check = copy.deepcopy(layer)
    prune.ln_structured(check, "weight", amount=sparsity, n=2, dim=0)
    assert torch.equal(check.weight_mask, deploy.structured_mask(layer.weight, sparsity))
    mask = deploy.magnitude_mask(layer.weight, sparsity)
    assert deploy.zero_share(layer.weight * mask) == pytest.approx(sparsity, abs=1 / 1500)


def test_mask_bad_weights():
    with pytest.raises(TypeError, match="floating-point"):
        deploy.magnitude_mask(torch.ones(3, dtype=torch.long), 0.5)
    with pytest.raises(ValueError, match="non-empty"):
        deploy.structured_mask(torch.ones(3), 0.5)
    with pytest.raises(ValueError, match="no values"):
        deploy.zero_share([])


def test_zero_share_of_a_module():
    layer = torch.nn.Linear(3, 2)
    with torch.no_grad():
        layer.weight.zero_()
    assert deploy.zero_share(layer.weight) == 1
    assert deploy.zero_share(layer) == pytest.approx(6 / 8, abs=0.25)  # biases are random


def test_remove_hidden_units_keeps_the_function():
    torch.manual_seed(0)
    first, second = torch.nn.Linear(8, 6), torch.nn.Linear(6, 3)
    keep = [0, 2, 5]
    with torch.no_grad():  # units 1, 3, 4 are dead: zero weights and bias
        for unit in (1, 3, 4):
            first.weight[unit] = 0
            first.bias[unit] = 0
    small_first, small_second = deploy.remove_hidden_units(first, second, keep)
    assert small_first.weight.shape == (3, 8) and small_second.weight.shape == (3, 3)
    x = torch.randn(5, 8)
    with torch.no_grad():
        torch.testing.assert_close(
            small_second(torch.relu(small_first(x))), second(torch.relu(first(x)))
        )


def test_remove_hidden_units_bad_inputs():
    first, second = torch.nn.Linear(4, 3), torch.nn.Linear(3, 2)
    with pytest.raises(TypeError, match="nn.Linear"):
        deploy.remove_hidden_units(first, "layer", [0])
    with pytest.raises(ValueError, match="outputs but second reads"):
        deploy.remove_hidden_units(first, torch.nn.Linear(5, 2), [0])
    with pytest.raises(ValueError, match="keep must list hidden units"):
        deploy.remove_hidden_units(first, second, [3])
    with pytest.raises(ValueError, match="keep must list hidden units"):
        deploy.remove_hidden_units(first, second, [])


# Distillation -------------------------------------------------------------------


def test_distillation_loss_formula():
    generator = torch.Generator().manual_seed(0)
    s, t = torch.randn(6, 5, generator=generator), torch.randn(6, 5, generator=generator)
    y = torch.randint(5, (6,), generator=generator)
    temperature, alpha = 3.0, 0.7
    p = torch.softmax(t / temperature, dim=1)
    log_q = torch.log_softmax(s / temperature, dim=1)
    kl = (p * (torch.log(p) - log_q)).sum(dim=1).mean()
    ce = torch.nn.functional.cross_entropy(s, y)
    expected = alpha * temperature**2 * kl + (1 - alpha) * ce
    got = deploy.distillation_loss(s, t, y, temperature=temperature, alpha=alpha)
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(deploy.distillation_loss(s, t, y, alpha=0.0), ce)
    assert deploy.distillation_loss(t, t, y, alpha=1.0).item() == pytest.approx(0, abs=1e-6)


def test_t_squared_keeps_the_gradient_scale():
    generator = torch.Generator().manual_seed(1)
    v, z = torch.randn(10, generator=generator), torch.randn(10, generator=generator)
    v, z = v - v.mean(), z - z.mean()
    gradients = []
    for temperature in (20.0, 200.0):
        student = z.clone().requires_grad_()
        deploy.distillation_loss(
            student[None], v[None], torch.tensor([0]), temperature=temperature, alpha=1.0
        ).backward()
        gradients.append(student.grad)
    torch.testing.assert_close(gradients[1], (z - v) / 10, rtol=0.02, atol=1e-4)
    assert gradients[0].norm() / gradients[1].norm() == pytest.approx(1, abs=0.1)


def test_distillation_loss_bad_inputs():
    s, y = torch.zeros(2, 3), torch.zeros(2, dtype=torch.long)
    for temperature, error in (
        (0, ValueError),
        (-1, ValueError),
        (np.inf, ValueError),
        ("4", TypeError),
    ):
        with pytest.raises(error, match="temperature must be a finite number > 0, got "):
            deploy.distillation_loss(s, s, y, temperature=temperature)
    for alpha, error in ((-0.1, ValueError), (1.5, ValueError), (None, TypeError)):
        with pytest.raises(error, match=r"alpha must be a finite number in \[0, 1\], got "):
            deploy.distillation_loss(s, s, y, alpha=alpha)
    with pytest.raises(ValueError, match=r"\(batch, classes\)"):
        deploy.distillation_loss(s, torch.zeros(2, 4), y)


def _blobs():
    generator = torch.Generator().manual_seed(0)
    y = torch.arange(200) % 2
    x = torch.randn(200, 2, generator=generator) + 3 * y[:, None].float()
    return x, y


def test_train_classifier_learns_and_is_reproducible():
    x, y = _blobs()
    models = []
    for _ in range(2):
        torch.manual_seed(0)
        models.append(deploy.train_classifier(torch.nn.Linear(2, 2), x, y, epochs=20, lr=0.05))
    accuracy = (models[0](x).argmax(dim=1) == y).float().mean()
    assert accuracy > 0.95 and not models[0].training
    torch.testing.assert_close(models[0].weight, models[1].weight)
    with torch.no_grad():
        teacher_logits = models[0](x)
    torch.manual_seed(1)
    student = deploy.train_classifier(
        torch.nn.Linear(2, 2), x, y, epochs=20, lr=0.05, teacher_logits=teacher_logits
    )
    assert (student(x).argmax(dim=1) == y).float().mean() > 0.95


def test_train_classifier_bad_inputs():
    x, y = _blobs()
    model = torch.nn.Linear(2, 2)
    with pytest.raises(ValueError, match="same n"):
        deploy.train_classifier(model, x, y[:10], epochs=1)
    with pytest.raises(ValueError, match="teacher_logits has 3 rows"):
        deploy.train_classifier(model, x, y, epochs=1, teacher_logits=torch.zeros(3, 2))
    with pytest.raises(ValueError, match="epochs"):
        deploy.train_classifier(model, x, y, epochs=0)
    with pytest.raises(ValueError, match="lr"):
        deploy.train_classifier(model, x, y, epochs=1, lr=-1)


# The key/value cache -------------------------------------------------------------


def test_kv_cache_bytes():
    # LLaMA-7B: 32 layers, 32 heads of 128, fp16: half a megabyte per token
    assert deploy.kv_cache_bytes(layers=32, kv_heads=32, head_dim=128, tokens=1) == 524_288
    assert (
        deploy.kv_cache_bytes(
            layers=2, kv_heads=3, head_dim=4, tokens=5, batch=6, bytes_per_value=4
        )
        == 2 * 2 * 3 * 4 * 5 * 6 * 4
    )


@pytest.mark.parametrize(
    "bad, error",
    [
        ({"layers": 0}, ValueError),
        ({"tokens": -1}, ValueError),
        ({"kv_heads": 2.5}, TypeError),
        ({"batch": True}, TypeError),
        ({"head_dim": "8"}, TypeError),
    ],
)
def test_kv_cache_bytes_bad_inputs(bad, error):
    sizes = {"layers": 2, "kv_heads": 2, "head_dim": 4, "tokens": 3, **bad}
    (name,) = bad
    with pytest.raises(error, match=f"{name} must be an integer ≥ 1, got "):
        deploy.kv_cache_bytes(**sizes)


def test_kv_cache_bytes_per_value():
    with pytest.raises(ValueError, match="bytes_per_value must be a finite number > 0, got 0"):
        deploy.kv_cache_bytes(layers=1, kv_heads=1, head_dim=1, tokens=1, bytes_per_value=0)
    with pytest.raises(TypeError, match="bytes_per_value must be a finite number > 0, got '2'"):
        deploy.kv_cache_bytes(layers=1, kv_heads=1, head_dim=1, tokens=1, bytes_per_value="2")


def test_cache_tensor_bytes_matches_a_transformers_cache(tiny_llama):
    config = tiny_llama.config  # grouped-query attention: fewer key/value heads than heads
    assert config.num_key_value_heads < config.num_attention_heads
    ids = torch.randint(config.vocab_size, (2, 7))
    with torch.no_grad():
        cache = tiny_llama(input_ids=ids, use_cache=True).past_key_values
    sizes = {
        "layers": config.num_hidden_layers,
        "kv_heads": config.num_key_value_heads,
        "head_dim": config.head_dim,
    }
    expected = deploy.kv_cache_bytes(**sizes, tokens=7, batch=2, bytes_per_value=4)
    assert deploy.cache_tensor_bytes(cache) == expected
    legacy = [(layer.keys, layer.values) for layer in cache.layers]
    assert deploy.cache_tensor_bytes(legacy) == expected
    assert deploy.cache_tensors(cache)[0].shape == (2, sizes["kv_heads"], 7, sizes["head_dim"])
    with pytest.raises(TypeError, match="transformers Cache"):
        deploy.cache_tensor_bytes("cache")
    with pytest.raises(ValueError, match="no tensors"):
        deploy.cache_tensor_bytes([])
