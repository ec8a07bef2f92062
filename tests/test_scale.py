import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lmbook import bench, gpt, scale, scaling


def test_accelerator_table_holds_datasheet_units():
    h100 = scale.ACCELERATORS["H100"]
    assert h100.peak_flops == 989e12 and h100.memory_bytes == 80e9
    assert h100.bandwidth_bytes_s == 3.35e12
    for gpu in scale.ACCELERATORS.values():
        assert gpu.peak_tflops > gpu.fp32_tflops > 0 and gpu.source


def test_adam_fp32_state_matches_pytorch():
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.Linear(32, 4))
    optimizer = torch.optim.Adam(model.parameters())
    F.mse_loss(model(torch.randn(8, 16)), torch.randn(8, 4)).backward()
    optimizer.step()
    n = sum(p.numel() for p in model.parameters())
    held = sum(p.nbytes + p.grad.nbytes for p in model.parameters())
    held += sum(t.nbytes for s in optimizer.state.values() for t in s.values() if t.dim() > 0)
    assert held == n * sum(scale.bytes_per_parameter("fp32", "adam").values())


def test_sgd_momentum_state_matches_pytorch():
    model = torch.nn.Linear(10, 3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(4, 10)).sum().backward()
    optimizer.step()
    state = sum(t.nbytes for s in optimizer.state.values() for t in s.values())
    n = sum(p.numel() for p in model.parameters())
    assert state == n * scale.bytes_per_parameter("fp32", "sgd_momentum")["optimizer"]


def test_mixed_precision_adam_costs_16_bytes():
    assert sum(scale.bytes_per_parameter().values()) == 16
    assert sum(scale.bytes_per_parameter("mixed", "sgd").values()) == 8


def test_zero_reproduces_the_papers_figure_and_table():
    # Rajbhandari et al. (2020), figure 1 (7.5B, 64 GPUs) and table 1 (1T, 1,024 GPUs).
    fig1 = [scale.model_state_bytes(7.5e9, zero_stage=s, data_parallel=64) / 1e9 for s in range(4)]
    np.testing.assert_allclose(fig1, [120, 31.4, 16.6, 1.9], atol=0.05)
    table1 = [
        scale.model_state_bytes(1e12, zero_stage=s, data_parallel=1024) / 1e9 for s in range(4)
    ]
    np.testing.assert_allclose(table1, [16000, 4011.7, 2013.7, 15.6], atol=0.05)


def test_model_state_bytes_broadcasts_over_gpus():
    per_gpu = scale.model_state_bytes(1e9, zero_stage=3, data_parallel=np.array([1, 2, 4]))
    np.testing.assert_allclose(per_gpu, [16e9, 8e9, 4e9])


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"zero_stage": 4}, ValueError, r"zero_stage must be an integer in \[0, 3\], got 4"),
        ({"zero_stage": True}, TypeError, r"zero_stage must be an integer in \[0, 3\], got True"),
        ({"data_parallel": 0}, ValueError, "data_parallel must be finite and > 0 everywhere"),
        ({"data_parallel": 2.5}, ValueError, "data_parallel must be whole numbers of GPUs"),
        ({"data_parallel": "8"}, TypeError, "data_parallel must be a positive number or array"),
        ({"precision": "fp8"}, ValueError, "precision must be one of 'mixed', 'fp32'; got 'fp8'"),
        ({"optimizer": "adagrad"}, ValueError, "optimizer must be one of 'adam', 'sgd', "),
    ],
)
def test_model_state_bytes_rejects_bad_input(kwargs, error, message):
    with pytest.raises(error, match=message):
        scale.model_state_bytes(1e9, **kwargs)


@pytest.mark.parametrize(("dropout", "mask_bytes"), [(0.1, 2), (0.0, 0)])
def test_activation_bytes_match_what_autograd_saves(dropout, mask_bytes):
    s, b, h, a, layers = 32, 2, 64, 4, 2
    config = gpt.GPTConfig(block_size=s, n_layer=layers, n_head=a, n_embd=h, dropout=dropout)
    torch.manual_seed(0)
    blocks = torch.nn.Sequential(*[gpt.Block(config) for _ in range(layers)]).to(torch.bfloat16)
    x = torch.randn(b, s, h, dtype=torch.bfloat16, requires_grad=True)
    expected = scale.activation_bytes(
        seq_len=s, batch_size=b, hidden=h, heads=a, layers=layers, dropout_mask_bytes=mask_bytes
    )
    extras = layers * (2 * 2 * s * b * 2 + s * s)  # LayerNorm mean and rstd, causal mask
    assert bench.saved_tensor_bytes(blocks, x, exclude=blocks.parameters()) == expected + extras


def test_activation_bytes_papers_formula_and_recomputation():
    kwargs = {"seq_len": 2048, "batch_size": 1, "hidden": 12288, "heads": 96, "layers": 1}
    s, h, a = 2048, 12288, 96
    assert scale.activation_bytes(**kwargs) == s * h * (34 + 5 * a * s / h)
    assert scale.activation_bytes(**kwargs, recompute="selective") == 34 * s * h
    assert scale.activation_bytes(**kwargs, recompute="full") == 2 * s * h


@pytest.mark.parametrize(
    ("bad", "error", "message"),
    [
        ({"seq_len": 0}, ValueError, "seq_len must be an integer ≥ 1, got 0"),
        ({"heads": 2.5}, TypeError, "heads must be an integer ≥ 1, got 2.5"),
        ({"layers": True}, TypeError, "layers must be an integer ≥ 1, got True"),
        ({"dropout_mask_bytes": 3}, ValueError, "dropout_mask_bytes must be 0 .*, 1, 2 or 4"),
        ({"dropout_mask_bytes": 1.0}, TypeError, "dropout_mask_bytes must be an integer ≥ 0"),
        ({"recompute": "some"}, ValueError, "recompute must be one of 'none', 'selective', 'full'"),
    ],
)
def test_activation_bytes_rejects_bad_input(bad, error, message):
    kwargs = {"seq_len": 8, "batch_size": 1, "hidden": 8, "heads": 2, "layers": 1} | bad
    with pytest.raises(error, match=message):
        scale.activation_bytes(**kwargs)


def test_llama_65b_time_and_mfu_match_the_paper():
    # Touvron et al. (2023): ~380 tokens/s/GPU on 2,048 A100-80GB; 1.4T tokens in ~21 days.
    a100 = scale.ACCELERATORS["A100"]
    mfu = scale.model_flops_utilization(
        parameters=65.2e9, tokens_per_second=380 * 2048, gpus=2048, peak_flops=a100.peak_flops
    )
    seconds = scale.training_time(
        scaling.training_compute(65.2e9, 1.4e12), gpus=2048, peak_flops=a100.peak_flops, mfu=mfu
    )
    assert seconds / 86400 == pytest.approx(21, abs=0.5)
    assert seconds == pytest.approx(1.4e12 / (380 * 2048))


def test_training_time_broadcasts_over_cluster_sizes():
    days = scale.training_time(1e24, gpus=np.array([1000, 2000]), peak_flops=1e15, mfu=0.5)
    np.testing.assert_allclose(days, [2e6, 1e6])


@pytest.mark.parametrize(
    ("mfu", "error"),
    [(0, ValueError), (-0.1, ValueError), (1.5, ValueError), (45, ValueError)]
    + [(np.array([0.3, 0.4]), TypeError), ("0.4", TypeError), (None, TypeError)],
)
def test_training_time_rejects_impossible_mfu(mfu, error):
    with pytest.raises(error, match="mfu must be a"):
        scale.training_time(1e24, gpus=8, peak_flops=1e15, mfu=mfu)


def test_mfu_message_suggests_a_percentage_slip():
    with pytest.raises(
        ValueError, match=r"mfu must be a fraction in \(0, 1\], got 45 \(did you mean 0.45"
    ):
        scale.training_time(1e24, gpus=8, peak_flops=1e15, mfu=45)


def test_mfu_above_peak_is_an_error():
    with pytest.raises(ValueError, match="peak"):
        scale.model_flops_utilization(
            parameters=1e9, tokens_per_second=1e9, gpus=1, peak_flops=1e15
        )


def test_ring_all_reduce_time_formula():
    assert scale.ring_all_reduce_time(8e9, gpus=8, bandwidth=1e9) == pytest.approx(14.0)
    assert scale.ring_all_reduce_time(8e9, gpus=1, bandwidth=1e9) == 0
    with pytest.raises(ValueError, match="gpus must be whole numbers, got 2.5"):
        scale.ring_all_reduce_time(8e9, gpus=2.5, bandwidth=1e9)
    with pytest.raises(ValueError, match="bandwidth must be finite and > 0 everywhere"):
        scale.ring_all_reduce_time(8e9, gpus=8, bandwidth=0)
    with pytest.raises(TypeError, match="nbytes must be a positive number or array of numbers"):
        scale.ring_all_reduce_time(None, gpus=8, bandwidth=1e9)


def test_min_gpus():
    assert scale.min_gpus_training(70e9, "H100") == 14
    assert scale.min_gpus_training(1e9, "H100", zero_stage=0) == 1
    assert scale.min_gpus_training(70e9, "A100", activation_bytes_per_gpu=40e9) == 28
    assert scale.min_gpus_inference(70e9, "H100") == 2
    assert scale.min_gpus_inference(70e9, "H100", bytes_per_weight=1) == 1
    assert scale.min_gpus_inference(405e9, scale.ACCELERATORS["H200"]) == 6
    assert scale.min_gpus_inference(7e9, "T4", extra_bytes=3e9) == 2


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: scale.min_gpus_training(70e9, "H100", zero_stage=0), ValueError),
        (lambda: scale.min_gpus_training(70e9, "H100", zero_stage=1), ValueError),
        (lambda: scale.min_gpus_training(70e9, "B300"), ValueError),
        (lambda: scale.min_gpus_training(70e9, "H100", activation_bytes_per_gpu=90e9), ValueError),
        (lambda: scale.min_gpus_training(70e9, "H100", activation_bytes_per_gpu=-1), ValueError),
        (lambda: scale.min_gpus_training(70e9, "H100", activation_bytes_per_gpu="1"), TypeError),
        (lambda: scale.min_gpus_inference(-7e9, "H100"), ValueError),
        (lambda: scale.min_gpus_inference(7e9, "H100", extra_bytes=math.nan), ValueError),
        (lambda: scale.min_gpus_inference([7e9], "H100"), TypeError),
    ],
)
def test_min_gpus_rejects_impossible_input(call, error):
    with pytest.raises(error):
        call()


def test_min_gpus_messages_name_the_argument():
    with pytest.raises(
        TypeError, match="activation_bytes_per_gpu must be a finite number ≥ 0, got '1'"
    ):
        scale.min_gpus_training(70e9, "H100", activation_bytes_per_gpu="1")
    with pytest.raises(
        ValueError, match="parameters must be a finite number > 0, got -7000000000.0"
    ):
        scale.min_gpus_inference(-7e9, "H100")
