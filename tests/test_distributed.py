import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.distributed as dist

from lmbook import distributed


@pytest.mark.parametrize("workers", [2, 3, 4, 7])
def test_ring_all_reduce_equals_the_sum(workers):
    rng = np.random.default_rng(workers)
    buffers = [rng.normal(size=23) for _ in range(workers)]
    results, sent = distributed.ring_all_reduce(buffers)
    for result in results:
        np.testing.assert_allclose(result, np.sum(buffers, axis=0), rtol=1e-12, atol=1e-12)
    assert sum(sent) == 2 * (workers - 1) * 23  # 2(p-1)/p of the buffer, per worker
    assert max(sent) - min(sent) <= 2 * (workers - 1)


def test_ring_all_reduce_matches_torch_all_reduce(tmp_path):
    tensor = torch.arange(6, dtype=torch.float64)
    dist.init_process_group(
        "gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1
    )
    try:
        reduced = tensor.clone()
        dist.all_reduce(reduced)
    finally:
        dist.destroy_process_group()
    ring, _ = distributed.ring_all_reduce([tensor.numpy(), np.zeros(6)])
    np.testing.assert_array_equal(ring[0], reduced.numpy())


@pytest.mark.parametrize(
    "buffers",
    [
        [np.ones(4)],
        "ab",
        [np.ones(4), np.ones(5)],
        [np.ones((2, 2)), np.ones((2, 2))],
        [np.ones(1)] * 3,
    ],
)
def test_ring_all_reduce_rejects_bad_buffers(buffers):
    with pytest.raises(ValueError):
        distributed.ring_all_reduce(buffers)


def test_one_rank_ddp_equals_single_process(tmp_path):
    dist.init_process_group(
        "gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1
    )
    try:
        ddp = distributed.train(steps=5)
    finally:
        dist.destroy_process_group()
    single = distributed.train_single(steps=5)
    torch.testing.assert_close(ddp["weights"][0], single["weights"])
    assert ddp["world_size"] == 1 and ddp["backend"] == "gloo"


def test_torchrun_two_processes_match_one(tmp_path):
    out = tmp_path / "ddp.pt"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "lmbook.distributed",
        "--out",
        str(out),
        "--steps",
        "8",
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-2000:]
    result = torch.load(out, weights_only=True)
    assert torch.equal(result["weights"][0], result["weights"][1])
    assert not torch.equal(result["local_gradients"][0], result["local_gradients"][1])
    torch.testing.assert_close(result["averaged_gradients"][0], result["local_gradients"].mean(0))
    torch.testing.assert_close(result["weights"][0], distributed.train_single(steps=8)["weights"])


def test_main_refuses_to_run_without_torchrun(tmp_path, monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    with pytest.raises(SystemExit):
        distributed.main(["--out", str(tmp_path / "x.pt")])


@pytest.mark.parametrize(
    "kwargs", [{"steps": 0}, {"batch_size": 63, "world_size": 2}, {"lr": -1}, {"steps": 2.5}]
)
def test_run_settings_are_checked(kwargs):
    settings = {"steps": 5, "batch_size": 64, "lr": 0.1} | kwargs
    with pytest.raises(ValueError):
        distributed._check_run(**settings)


def test_train_single_rejects_bad_settings():
    with pytest.raises(ValueError, match="batch_size"):
        distributed.train_single(batch_size=0)
