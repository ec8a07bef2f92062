import json
import subprocess
import sys
from pathlib import Path

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


def _all_reduce_in_one_process(rank, world, folder, buffers):
    """One of the processes of the test below: torch's all-reduce of its own buffer."""
    dist.init_process_group(
        "gloo", init_method=f"file://{folder / 'store'}", rank=rank, world_size=world
    )
    try:
        tensor = torch.from_numpy(buffers[rank].copy())
        dist.all_reduce(tensor)
        np.save(folder / f"rank{rank}.npy", tensor.numpy())
    finally:
        dist.destroy_process_group()


def test_ring_all_reduce_matches_torch_all_reduce(tmp_path):
    # Three processes with different buffers: with one, all-reduce returns its input.
    # Whole numbers in float64 sum exactly in any order, so the results must be equal.
    world = 3
    buffers = list(np.random.default_rng(0).integers(-50, 50, size=(world, 7)).astype(float))
    torch.multiprocessing.spawn(
        _all_reduce_in_one_process, args=(world, tmp_path, buffers), nprocs=world
    )
    reduced = [np.load(tmp_path / f"rank{rank}.npy") for rank in range(world)]
    ring, _ = distributed.ring_all_reduce(buffers)
    assert not np.array_equal(reduced[0], buffers[0])
    for rank in range(world):
        np.testing.assert_array_equal(ring[rank], reduced[rank])


@pytest.mark.parametrize(
    "buffers, message",
    [
        ([np.ones(4)], "at least 2 arrays"),
        ([np.ones(4), np.ones(5)], "of the same length"),
        ([np.ones((2, 2)), np.ones((2, 2))], r"buffers\[0\] must be a 1-D array"),
        ([np.ones(1)] * 3, "at least one value per worker"),
    ],
)
def test_ring_all_reduce_rejects_bad_buffers(buffers, message):
    with pytest.raises(ValueError, match=message):
        distributed.ring_all_reduce(buffers)


@pytest.mark.parametrize(
    "buffers, message",
    [
        ("ab", "buffers must be a list of arrays"),
        ([[1.0, 2.0], [3.0, 4.0]], r"buffers\[0\] must be a NumPy array, got list"),
        ([np.ones(2, dtype=int)] * 2, r"buffers\[0\] must be a float32 or float64 array"),
    ],
)
def test_ring_all_reduce_rejects_buffers_of_the_wrong_kind(buffers, message):
    with pytest.raises(TypeError, match=message):
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


NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "08_training_at_scale.ipynb"


def test_the_notebook_launches_the_command_it_shows():
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    markdown = " ".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    assert any("distributed.launch(" in source for source in code)
    command = distributed.launch_command("ddp.pt")
    assert command[:3] == [sys.executable, "-m", "torch.distributed.run"]
    # The chapter's text shows the same launch as torchrun, the module's command name.
    assert "torchrun " + " ".join(command[3:]) in markdown


def _threads_after_main(tmp_path: Path) -> list[str]:
    """Run main() under torchrun in two ranks; each prints its threads' names after it."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import os, sys\n"
        "from lmbook import distributed\n"
        "distributed.main(sys.argv[1:])\n"
        "tasks = os.listdir('/proc/self/task')\n"
        "print([open(f'/proc/self/task/{t}/comm').read().strip() for t in tasks])\n"
    )
    command = distributed.launch_command(tmp_path / "ddp.pt", options=["--steps", "2"])
    command[command.index("-m", 3) : command.index("--out")] = [str(probe)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout.splitlines()


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="lists threads in /proc")
def test_no_gloo_thread_outlives_main(tmp_path):
    # The cause of the rank that aborted at exit: the process group, and its gloo threads,
    # lived on after destroy_process_group into the interpreter's shutdown.
    threads = _threads_after_main(tmp_path)
    assert len(threads) == 2, threads
    assert not any("gloo" in line for line in threads), threads


def test_launch_returns_when_every_rank_succeeds(tmp_path):
    run = distributed.launch(tmp_path / "ddp.pt", options=["--steps", "2"])
    assert run.returncode == 0 and "terminate called" not in run.stderr
    assert len(torch.load(tmp_path / "ddp.pt", weights_only=True)["losses"]) == 2


def test_a_rank_that_raises_is_named_with_its_error(tmp_path):
    options = ["--steps", "2", "--fail-rank", "1"]
    with pytest.raises(distributed.RankFailedError) as failed:
        distributed.launch(tmp_path / "ddp.pt", options=options, timeout=240)
    # Rank 0, waiting for rank 1 in a collective, fails in turn or is stopped by torchrun.
    assert failed.value.failures[1] == 1 and set(failed.value.failures) <= {0, 1}
    assert "rank 1: exit code 1: RuntimeError: rank 1 fails on purpose" in str(failed.value)
    assert "[rank1]: Traceback" in str(failed.value)  # the tail of rank 1's stderr
    assert not (tmp_path / "ddp.pt").exists()


def test_a_killed_rank_is_named_with_its_signal(tmp_path):
    options = ["--steps", "2", "--fail-rank", "1", "--fail-how", "kill"]
    with pytest.raises(
        distributed.RankFailedError, match="rank 1: exit code -9, killed by SIGKILL"
    ):
        distributed.launch(tmp_path / "ddp.pt", options=options, timeout=240)


def _processes_naming(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text in entry.read_bytes().decode(errors="replace"):
                found.append(int(entry.parent.name))
        except OSError:  # the process ended meanwhile
            pass
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="looks for leftover ranks in /proc")
def test_a_hanging_rank_ends_in_a_timeout_that_stops_every_rank(tmp_path):
    options = ["--steps", "2", "--fail-rank", "1", "--fail-how", "hang"]
    with pytest.raises(TimeoutError, match="did not finish in 20 s and was stopped"):
        distributed.launch(tmp_path / "ddp.pt", options=options, timeout=20)
    assert _processes_naming(str(tmp_path)) == []


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"out": 3}, TypeError, "out must be a file path"),
        ({"out": ""}, ValueError, "out is empty"),
        ({"nproc": 0}, ValueError, "nproc must be an integer ≥ 1, got 0"),
        ({"nproc": True}, TypeError, "nproc must be an integer ≥ 1, got True"),
        ({"options": "--steps 2"}, TypeError, "options must be a sequence of strings"),
        ({"options": ["--steps", 2]}, TypeError, "options must be a sequence of strings"),
    ],
)
def test_launch_command_rejects_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        distributed.launch_command(**({"out": "ddp.pt"} | kwargs))


@pytest.mark.parametrize(
    "timeout, error", [(0, ValueError), (-1, ValueError), ("300", TypeError), (True, TypeError)]
)
def test_launch_rejects_a_bad_timeout(timeout, error):
    with pytest.raises(error, match="timeout must be a finite number > 0, got "):
        distributed.launch("ddp.pt", timeout=timeout)


def test_failure_summary_is_read_cause_first():
    summary = (
        "Failures:\n[1]:\n  rank      : 0 (local_rank: 0)\n  exitcode  : -15 (pid: 7)\n"
        "Root Cause (first observed failure):\n[0]:\n"
        "  rank      : 1 (local_rank: 1)\n  exitcode  : 1 (pid: 8)\n"
    )
    error = distributed.RankFailedError(distributed._failures(summary), summary, 1)
    assert error.failures == {1: 1, 0: -15} and error.rank == 1
    assert "rank 0: exit code -15, killed by SIGTERM" in str(error)
    no_summary = distributed.RankFailedError({}, "usage: torchrun ...", 2)
    assert no_summary.rank is None and "exit code 2 before any rank" in str(no_summary)


def test_main_refuses_to_run_without_torchrun(tmp_path, monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    with pytest.raises(SystemExit):
        distributed.main(["--out", str(tmp_path / "x.pt")])


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"steps": 0}, ValueError, "steps must be an integer ≥ 1, got 0"),
        ({"batch_size": 63, "world_size": 2}, ValueError, "must split evenly over 2 processes"),
        ({"lr": -1}, ValueError, r"lr must be a finite number in \(0, 10\), got -1"),
        ({"steps": 2.5}, TypeError, "steps must be an integer ≥ 1, got 2.5"),
        ({"lr": "0.1"}, TypeError, "lr must be a finite number"),
    ],
)
def test_run_settings_are_checked(kwargs, error, message):
    settings = {"steps": 5, "batch_size": 64, "lr": 0.1} | kwargs
    with pytest.raises(error, match=message):
        distributed._check_run(**settings)


def test_train_single_rejects_bad_settings():
    with pytest.raises(ValueError, match="batch_size must be an integer ≥ 1, got 0"):
        distributed.train_single(batch_size=0)
    with pytest.raises(TypeError, match="batch_size must be an integer ≥ 1, got 64.0"):
        distributed.train_single(batch_size=64.0)
