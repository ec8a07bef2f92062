import math
import sys

import pytest
import torch
import torch.nn.functional as F

from lmbook import distributed, scale, sharding

SHAPES = [(999, 64), (999,), (999, 999), (999,), (10, 999), (10,)]  # make_model's, hidden 999
N = sum(math.prod(shape) for shape in SHAPES)
MISFIT = torch.nn.Sequential(torch.nn.Linear(16, 64), torch.nn.GELU(), torch.nn.Linear(32, 16))


@pytest.mark.parametrize("shape", [(7,), (9, 3), (10, 2), (1, 5), (3, 4, 2)])
@pytest.mark.parametrize("world_size", [1, 2, 3, 4, 8])
def test_shard_numel_cuts_as_torch_chunk_does(shape, world_size):
    tensor = torch.empty(shape)
    chunks = tensor.chunk(world_size)  # may be fewer than world_size: the last ranks get none
    sizes = [c.numel() for c in chunks] + [0] * (world_size - len(chunks))
    held = [sharding.shard_numel(shape, world_size, r) for r in range(world_size)]
    assert held == sizes and sum(held) == tensor.numel()
    assert sharding.padded_shard_numel(shape, world_size) == max(sizes)


def test_odd_rows_leave_rank_0_half_a_row_above_the_even_share():
    shares = [sharding.shard_numel((999, 64), 2, r) for r in range(2)]
    assert shares == [500 * 64, 499 * 64]
    assert shares[0] - 999 * 64 / 2 == 64 / 2
    assert sharding.padded_shard_numel((999, 64), 2) == 500 * 64


@pytest.mark.parametrize("stage", [0, 1, 2, 3])
@pytest.mark.parametrize("precision", ["fp32", "mixed"])
@pytest.mark.parametrize("gpus", [1, 2, 64])
def test_zero_bytes_per_rank_are_the_parts_of_model_state_bytes(stage, precision, gpus):
    parts = sharding.zero_bytes_per_rank(
        7.5e9, data_parallel=gpus, zero_stage=stage, precision=precision
    )
    total = scale.model_state_bytes(
        7.5e9, zero_stage=stage, data_parallel=gpus, precision=precision
    )
    assert sum(parts.values()) == pytest.approx(total, rel=1e-12)


def test_zero_3_in_fp32_with_adam_divides_every_part():
    parts = sharding.zero_bytes_per_rank(N, data_parallel=2)
    assert parts == {"weights": N * 2, "gradients": N * 2, "master weights": 0, "optimizer": N * 4}
    assert sharding.zero_bytes_per_rank(N, data_parallel=2, zero_stage=0)["weights"] == N * 4
    assert sharding.zero_bytes_per_rank(N, data_parallel=2, zero_stage=2)["weights"] == N * 4


def test_expected_shard_bytes_add_up_to_the_whole_model():
    per_rank = [sharding.expected_shard_bytes(SHAPES, 2, r) for r in range(2)]
    assert per_rank[0] == {"weights": 2_150_000, "gradients": 2_150_000, "optimizer": 4_300_000}
    for part, per_value in (("weights", 4), ("gradients", 4), ("optimizer", 8)):
        assert per_rank[0][part] + per_rank[1][part] == N * per_value


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: sharding.shard_numel((), 2, 0), ValueError, "shape has no dimensions"),
        (lambda: sharding.shard_numel("99", 2, 0), TypeError, "shape must be a sequence"),
        (lambda: sharding.shard_numel(99, 2, 0), TypeError, "shape must be a sequence"),
        (lambda: sharding.shard_numel((9, 0), 2, 0), ValueError, r"shape\[1\] must be an int"),
        (lambda: sharding.shard_numel((9, 2.0), 2, 0), TypeError, r"shape\[1\] must be an int"),
        (
            lambda: sharding.shard_numel((9,), 2, 2),
            ValueError,
            r"rank must be an integer in \[0, 1\], got 2",
        ),
        (lambda: sharding.shard_numel((9,), 0, 0), ValueError, "world_size must be an integer"),
        (lambda: sharding.padded_shard_numel((9,), 1.5), TypeError, "world_size must be an"),
        (lambda: sharding.expected_shard_bytes([], 2, 0), TypeError, "non-empty list"),
        (lambda: sharding.expected_shard_bytes([(0,)], 2, 0), ValueError, r"shape\[0\]"),
    ],
)
def test_shard_helpers_reject_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"data_parallel": 0}, ValueError, "data_parallel must be an integer ≥ 1, got 0"),
        ({"data_parallel": 2.5}, TypeError, "data_parallel must be an integer ≥ 1, got 2.5"),
        ({"zero_stage": 4}, ValueError, "zero_stage must be an integer"),
        ({"precision": "bf16"}, ValueError, "precision must be one of"),
        ({"optimizer": "lion"}, ValueError, "optimizer must be one of"),
        ({"parameters": 0}, ValueError, "parameters must be a finite number > 0"),
    ],
)
def test_zero_bytes_per_rank_rejects_bad_input(kwargs, error, message):
    settings = {"parameters": 1e9, "data_parallel": 2} | kwargs
    with pytest.raises(error, match=message):
        sharding.zero_bytes_per_rank(**settings)


def _one_adam_step(model: torch.nn.Module) -> torch.optim.Optimizer:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    F.cross_entropy(model(torch.randn(4, 64)), torch.tensor([0, 1, 2, 3])).backward()
    optimizer.step()
    return optimizer


def test_held_bytes_of_one_process_are_16_bytes_per_parameter():
    model = sharding.make_model(seed=0, hidden=33)
    optimizer = _one_adam_step(model)
    n = sum(p.numel() for p in model.parameters())
    held = sharding.held_bytes(model, optimizer)
    assert held == {"weights": 4 * n, "gradients": 4 * n, "optimizer": 8 * n, "step": 4 * 6}
    assert sharding.held_bytes(model, optimizer, allocated=True) == held


def test_held_bytes_needs_gradients_and_adam_states():
    model = sharding.make_model(seed=0, hidden=8)
    with pytest.raises(ValueError, match="has no gradient"):
        sharding.held_bytes(model, torch.optim.Adam(model.parameters()))
    sgd = torch.optim.SGD(model.parameters(), lr=0.1)
    F.cross_entropy(model(torch.randn(2, 64)), torch.tensor([0, 1])).backward()
    sgd.step()
    with pytest.raises(ValueError, match="no Adam moments"):
        sharding.held_bytes(model, sgd)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        sharding.held_bytes("model", sgd)
    with pytest.raises(TypeError, match="optimizer must be a torch.optim.Optimizer"):
        sharding.held_bytes(model, None)


@pytest.mark.parametrize("world_size", [1, 2, 4])
def test_tensor_parallel_shards_sum_to_the_unsplit_block(world_size):
    # The arithmetic of the split, without processes: the ranks' partial outputs, summed
    # as the all-reduce would, plus the bias, are the block's output.
    block = sharding.make_block(seed=0, d_model=16)
    parts = [sharding.TensorParallelMLP(block, r, world_size) for r in range(world_size)]
    x = torch.randn(3, 5, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        total = sum(part.partial(x) for part in parts) + parts[0].bias
        torch.testing.assert_close(total, block(x), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(torch.cat([p.up.weight for p in parts]), block[0].weight)
    torch.testing.assert_close(torch.cat([p.down.weight for p in parts], dim=1), block[2].weight)
    assert all(p.down.weight.shape == (16, 64 // world_size) for p in parts)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"world_size": 3}, ValueError, "64 hidden units must split evenly over 3 ranks"),
        ({"rank": 2}, ValueError, r"rank must be an integer in \[0, 1\], got 2"),
        ({"world_size": 0}, ValueError, "world_size must be an integer ≥ 1"),
        ({"block": torch.nn.Linear(4, 4)}, TypeError, "block must be nn.Sequential"),
        ({"block": MISFIT}, ValueError, "64 hidden units out, 32 in"),
    ],
)
def test_tensor_parallel_mlp_rejects_bad_splits(kwargs, error, message):
    settings = {"block": sharding.make_block(seed=0, d_model=16), "rank": 0, "world_size": 2}
    with pytest.raises(error, match=message):
        sharding.TensorParallelMLP(**(settings | kwargs))


def test_launch_command_runs_this_module_under_torchrun():
    command = sharding.launch_command("sharding.pt")
    assert command[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert command[-4:] == ["-m", "lmbook.sharding", "--out", "sharding.pt"]
    # lmbook.distributed's launch is unchanged by its new module argument.
    assert distributed.launch_command("ddp.pt")[-3:] == ["lmbook.distributed", "--out", "ddp.pt"]


@pytest.mark.parametrize(
    "module, error", [("lmbook sharding", ValueError), ("", ValueError), (3, TypeError)]
)
def test_launch_command_rejects_a_bad_module(module, error):
    with pytest.raises(error, match="module must be a module name"):
        distributed.launch_command("x.pt", module=module)


def test_main_refuses_to_run_without_torchrun(tmp_path, monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    with pytest.raises(SystemExit):
        sharding.main(["--out", str(tmp_path / "x.pt")])


@pytest.fixture(scope="module")
def launched(tmp_path_factory):
    """One real two-process launch, shared by the tests below (a few seconds)."""
    out = tmp_path_factory.mktemp("sharding") / "sharding.pt"
    run = sharding.launch(out, nproc=2, timeout=240)
    assert run.returncode == 0 and "terminate called" not in run.stderr
    return torch.load(out, weights_only=True)


def test_launch_saves_plain_results(launched):
    assert launched["world_size"] == 2 and launched["backend"] == "gloo"
    assert launched["parameters"] == N and [tuple(s) for s in launched["shapes"]] == SHAPES


def test_fsdp_shards_hold_what_the_zero_3_formula_says(launched):
    measured, allocated = launched["fsdp"]["bytes"], launched["fsdp"]["allocated"]
    formula = sharding.zero_bytes_per_rank(N, data_parallel=2)
    for rank in range(2):
        # Exactly the rank's share of dim-0 chunks of every tensor...
        expected = sharding.expected_shard_bytes(SHAPES, 2, rank)
        assert {part: measured[part][rank] for part in expected} == expected
    for part, per_value in (("weights", 4), ("gradients", 4), ("optimizer", 8)):
        # ... which together are the whole model, each value held once ...
        assert sum(measured[part]) == 2 * formula[part] == N * per_value
        # ... and differ from the formula's even share by the half rows of odd tensors.
        padding = sum(sharding.padded_shard_numel(s, 2) - math.prod(s) / 2 for s in SHAPES)
        assert padding == 532.5
        for rank in range(2):
            assert abs(measured[part][rank] - formula[part]) <= padding * per_value
            # The buffers under the shards hold at most the padded shard.
            padded = per_value * sum(sharding.padded_shard_numel(s, 2) for s in SHAPES)
            assert measured[part][rank] <= allocated[part][rank] <= padded
    assert launched["fsdp"]["bytes"]["step"] == [24, 24]  # Adam's 6 step counters, fp32


def test_ddp_holds_everything_on_every_rank(launched):
    formula = sharding.zero_bytes_per_rank(N, data_parallel=2, zero_stage=0)
    parts = ("weights", "gradients", "optimizer")
    for part in parts:
        assert launched["ddp"]["bytes"][part] == [formula[part]] * 2
    totals = [sum(launched["ddp"]["bytes"][part][rank] for part in parts) for rank in range(2)]
    assert totals == [scale.model_state_bytes(N, precision="fp32")] * 2


def test_fsdp_trains_as_ddp_does(launched):
    fsdp, ddp = launched["fsdp"], launched["ddp"]
    # Both compute every product on the same full-size weights and average the same two
    # gradients, so they agree to rounding; 1e-5 is far above it and far below a step.
    torch.testing.assert_close(fsdp["losses"], ddp["losses"], rtol=0, atol=1e-6)
    torch.testing.assert_close(fsdp["weights"], ddp["weights"], rtol=0, atol=1e-5)
    assert fsdp["losses"][-1] < fsdp["losses"][0]
    start = torch.cat([p.detach().flatten() for p in sharding.make_model(seed=0).parameters()])
    assert (fsdp["weights"] - start).abs().max() > 1e-3  # it trained: 100 times the tolerance


def test_fsdp_gathers_each_layer_whole_for_its_forward_pass(launched):
    fsdp = launched["fsdp"]
    assert fsdp["gathered_in_forward"] == [[999, 64], [999, 999], [10, 999]]
    calls = fsdp["collectives_per_step"]
    assert calls == {"all_gather": 2 * 3, "reduce_scatter": 3}  # per layer: 2 gathers, 1 scatter


def test_tensor_parallel_equals_the_unsplit_block(launched):
    tp = launched["tp"]
    assert tp["output_error"] < 1e-5 and tp["gradient_error"] < 1e-5
    assert tp["dtensor_error"] < 1e-5
    assert tp["all_reduce_bytes"] == tp["batch"] * tp["tokens"] * tp["d_model"] * 4
    assert tp["forward_collectives"] == {"all_reduce": 1}
    assert tp["backward_collectives"] == {"all_reduce": 1}
    assert tp["dtensor_forward_collectives"] == {"all_reduce": 1}
    bias = tp["d_model"] * 4  # the second bias, kept whole on each rank
    assert tp["weight_bytes_per_rank"] == (tp["weight_bytes_unsplit"] - bias) / 2 + bias
    assert len(tp["all_reduce_seconds"]) == len(tp["local_seconds"]) == 50


def test_a_failing_rank_is_named(tmp_path):
    with pytest.raises(sharding.RankFailedError) as failed:
        sharding.launch(tmp_path / "s.pt", options=["--fail-rank", "1"], timeout=240)
    assert failed.value.failures[1] == 1
    assert "rank 1: exit code 1: RuntimeError: rank 1 fails on purpose" in str(failed.value)
    assert not (tmp_path / "s.pt").exists()


@pytest.mark.parametrize(
    ("op_name", "kind"),
    [
        ("c10d._allgather_base_", "all_gather"),
        ("c10d_functional.all_gather_into_tensor", "all_gather"),
        ("c10d._reduce_scatter_base_", "reduce_scatter"),
        ("c10d_functional.reduce_scatter_tensor", "reduce_scatter"),
        ("c10d.allreduce_", "all_reduce"),
        ("c10d_functional.all_reduce", "all_reduce"),
        ("c10d.broadcast_", "broadcast"),
        ("aten.mm", "aten.mm"),
    ],
)
def test_collective_kind_names_the_collective_whatever_the_op_is_called(op_name, kind):
    assert sharding.collective_kind(op_name) == kind


def test_collective_kind_rejects_a_non_string():
    with pytest.raises(TypeError, match="op_name must be a str"):
        sharding.collective_kind(3)
