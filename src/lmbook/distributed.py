"""Data parallelism on one machine, launched as on a cluster (chapter 8.3 and 8.4).

- :func:`ring_all_reduce`: the ring algorithm that sums gradients across
  workers, in NumPy.
- :func:`train`: the data-parallel training script, PyTorch DistributedDataParallel on
  the gloo backend; :func:`train_single` is the same training in one process.
- :func:`launch`: the launch below, run and waited for; a rank that fails raises
  :class:`RankFailedError`, which says which rank failed, how, and its last stderr
  lines.

Two processes on this CPU, started the way a cluster starts them::

    torchrun --standalone --nproc_per_node=2 -m lmbook.distributed --out ddp.pt

Two nodes with 8 GPUs each run, on every node (``--node_rank`` 0 and 1)::

    torchrun --nnodes=2 --nproc_per_node=8 --node_rank=0 \\
        --rdzv_backend=c10d --rdzv_endpoint=HOST_OF_NODE_0:29500 \\
        -m lmbook.distributed --backend nccl --out ddp.pt
"""

from __future__ import annotations

import argparse
import copy
import importlib
import os
import re
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.distributed.elastic.multiprocessing.errors import get_error_handler
from torch.nn.parallel import DistributedDataParallel

from lmbook import data, validate


def ring_all_reduce(buffers: list[np.ndarray]) -> tuple[list[np.ndarray], list[int]]:
    """Sum ``buffers`` (one 1-D array per worker) as a ring of workers does
    (chapter 8.3).

    Each buffer is cut into p chunks. In p − 1 reduce-scatter steps every worker passes
    one chunk to its right-hand neighbour, which adds it to its own; afterwards worker i
    holds the complete sum of chunk i + 1. In p − 1 all-gather steps the finished chunks
    travel round the ring. Returns every worker's result (all equal to the sum) and the
    number of values each worker sent: 2·(p − 1)/p of a buffer.
    """
    if not isinstance(buffers, list | tuple):
        raise TypeError(
            f"buffers must be a list of arrays, one per worker, got {buffers!r:.60}"
        )
    if len(buffers) < 2:
        raise ValueError(
            f"buffers must hold at least 2 arrays (workers), got {len(buffers)}"
        )
    arrays = [
        validate.float_array(f"buffers[{i}]", b, ndim=1, layout="(values,)").astype(
            np.float64
        )
        for i, b in enumerate(buffers)
    ]
    size = arrays[0].shape
    if any(a.shape != size for a in arrays):
        shapes = [a.shape for a in arrays]
        raise ValueError(
            f"every buffer must be of the same length, got shapes {shapes}"
        )
    p = len(arrays)
    if size[0] < p:
        raise ValueError(
            f"each buffer needs at least one value per worker ({p}), got {size[0]}"
        )
    chunks = [np.array_split(a.copy(), p) for a in arrays]
    sent = [0] * p
    for phase in ("reduce-scatter", "all-gather"):
        for step in range(p - 1):
            offset = -step if phase == "reduce-scatter" else 1 - step
            # Every worker sends at once, so read all messages before applying any.
            messages = [(i, (i + offset) % p) for i in range(p)]
            payloads = [chunks[i][c].copy() for i, c in messages]
            for (i, c), payload in zip(messages, payloads, strict=True):
                right = (i + 1) % p
                if phase == "reduce-scatter":
                    chunks[right][c] += payload
                else:
                    chunks[right][c] = payload
                sent[i] += payload.size
    return [np.concatenate(c) for c in chunks], sent


def digits_split(test_size: int = 397) -> tuple[torch.Tensor, ...]:
    """scikit-learn's digits as (train x, train y, test x, test y), pixels scaled
    to [0, 1].
    """
    validate.integer("test_size", test_size, minimum=1, maximum=1796)  # of 1,797 digits
    images, labels = data.digits()
    x = torch.tensor(images.reshape(len(images), -1) / 16.0, dtype=torch.float32)
    y = torch.tensor(labels)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    test, train = order[:test_size], order[test_size:]
    return x[train], y[train], x[test], y[test]


def make_model(seed: int) -> torch.nn.Module:
    """The small MLP every rank builds; the same seed gives every rank the
    same weights.
    """
    torch.manual_seed(validate.integer("seed", seed))
    return torch.nn.Sequential(
        torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10)
    )


def global_batches(
    n_examples: int, batch_size: int, steps: int, seed: int
) -> list[torch.Tensor]:
    """The indices of each step's global batch, the same in every process."""
    for name, value in (
        ("n_examples", n_examples),
        ("batch_size", batch_size),
        ("steps", steps),
    ):
        validate.count(name, value)
    generator = torch.Generator().manual_seed(seed)
    return [
        torch.randperm(n_examples, generator=generator)[:batch_size]
        for _ in range(steps)
    ]


def _flat(tensors) -> torch.Tensor:
    return torch.cat([t.detach().reshape(-1) for t in tensors])


def _check_run(steps: int, batch_size: int, lr: float, world_size: int = 1) -> None:
    """The settings of :func:`train` and :func:`train_single`, checked
    before any work.
    """
    validate.count("steps", steps)
    validate.count("batch_size", batch_size)
    validate.number("lr", lr, low=0, high=10, low_open=True, high_open=True)
    if batch_size % validate.count("world_size", world_size):
        raise ValueError(
            f"batch_size = {batch_size} must split evenly over {world_size} processes, "
            "or the averaged gradient is not the gradient of the whole batch"
        )


def train_single(
    steps: int = 60, batch_size: int = 64, lr: float = 0.1, seed: int = 0
) -> dict:
    """Train the MLP in one process on each step's whole batch (chapter 8.4).

    This loop and :func:`train` are written out, not handed to :func:`lmbook.train.fit`,
    so that chapter 8 can set them side by side: the same steps, and the only
    difference is that :func:`train` splits each batch over processes.
    """
    _check_run(steps, batch_size, lr)
    x, y, x_test, y_test = digits_split()
    model = make_model(seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    losses = []
    for indices in global_batches(len(x), batch_size, steps, seed):
        loss = F.cross_entropy(model(x[indices]), y[indices])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    with torch.no_grad():
        accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
    return {
        "weights": _flat(model.parameters()),
        "losses": torch.tensor(losses),
        "test_accuracy": accuracy,
    }


def _all_gather(tensor: torch.Tensor) -> torch.Tensor:
    parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, tensor)
    return torch.stack(parts)


def train(
    steps: int = 60,
    batch_size: int = 64,
    lr: float = 0.1,
    seed: int = 0,
    device: str = "cpu",
) -> dict | None:
    """The data-parallel run; call it in every process that torchrun starts
    (chapter 8.4).

    Each of the p processes takes every p-th example of the step's global batch, and
    DistributedDataParallel averages the gradients over the processes during backward.
    Returns the results on rank 0 (None elsewhere): each rank's gradients of step 0
    before and after averaging, each rank's final weights, the losses, test accuracy.
    ``device`` is "cpu" with gloo, this process's GPU ("cuda:LOCAL_RANK") with nccl.
    """
    rank, world = dist.get_rank(), dist.get_world_size()
    _check_run(steps, batch_size, lr, world)
    x, y, x_test, y_test = (t.to(device) for t in digits_split())
    model = make_model(seed).to(device)
    alone = copy.deepcopy(model)  # to show each rank's own gradient before averaging
    ddp_model = DistributedDataParallel(model)
    optimizer = torch.optim.SGD(ddp_model.parameters(), lr=lr, momentum=0.9)
    losses = []
    for step, indices in enumerate(global_batches(len(x), batch_size, steps, seed)):
        mine = indices[rank::world]
        loss = F.cross_entropy(ddp_model(x[mine]), y[mine])
        optimizer.zero_grad()
        loss.backward()  # the gradients are all-reduced here, bucket by bucket
        if step == 0:
            own = torch.autograd.grad(
                F.cross_entropy(alone(x[mine]), y[mine]), alone.parameters()
            )
            local_gradients = _all_gather(_flat(own))
            averaged_gradients = _all_gather(_flat(p.grad for p in model.parameters()))
        optimizer.step()
        total = loss.detach().clone()
        dist.all_reduce(total)  # the loss of the whole batch, for the log
        losses.append(total.item() / world)
    weights = _all_gather(_flat(model.parameters()))
    with torch.no_grad():
        accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
    if rank != 0:
        return None
    return {
        "world_size": world,
        "backend": dist.get_backend(),
        "losses": torch.tensor(losses),
        "local_gradients": local_gradients.cpu(),
        "averaged_gradients": averaged_gradients.cpu(),
        "weights": weights.cpu(),
        "test_accuracy": accuracy,
    }


# The script torchrun starts in each rank: a dotted module name, run with python -m.
_MODULE = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


def launch_command(
    out: str | Path,
    nproc: int = 2,
    options: Sequence[str] = (),
    module: str = "lmbook.distributed",
) -> list[str]:
    """The chapter 8 launch line: ``torchrun`` (by its module name) starting
    ``nproc`` ranks.

    With the defaults it is the command of the chapter's launch cell; ``options`` go to
    :func:`main` (``--steps``, and for tests ``--fail-rank`` with ``--fail-how``).
    ``module`` is the script each rank runs, e.g. ``"lmbook.sharding"``.
    """
    if not isinstance(module, str):
        raise TypeError(
            f"module must be a module name such as 'lmbook.sharding', got {module!r}"
        )
    if not _MODULE.fullmatch(module):
        raise ValueError(
            f"module must be a module name such as 'lmbook.sharding', got {module!r}"
        )
    if not isinstance(out, str | Path):
        raise TypeError(f"out must be a file path, got {out!r}")
    if not str(out):
        raise ValueError("out is empty; give the file rank 0 saves its results to")
    validate.count("nproc", nproc)
    if isinstance(options, str) or not all(isinstance(o, str) for o in options):
        raise TypeError(f"options must be a sequence of strings, got {options!r}")
    runner = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    script = ["-m", module, "--out", str(out), *options]
    return [*runner, f"--nproc_per_node={nproc}", *script]


class RankFailedError(ChildProcessError):
    """A rank of the chapter 8 launch failed: which one, its exit code, its last
    stderr lines.

    ``failures`` maps every rank that failed to its exit code (negative: the signal that
    killed it), the cause first: torchrun's root cause, unless torchrun itself stopped
    that rank with SIGTERM after another one failed. ``rank`` and ``exitcode`` are the
    cause's.
    """

    def __init__(self, failures: dict[int, int], stderr: str, returncode: int) -> None:
        self.failures, self.stderr, self.returncode = failures, stderr, returncode
        self.rank = next(iter(failures), None)
        self.exitcode = failures.get(self.rank, returncode)
        super().__init__(_failure_message(failures, stderr, returncode))


# torchrun's failure summary gives each failed rank as "rank : R (local_rank: L)"
# followed by "exitcode : C (pid: P)"; the other failures come first, the root cause
# last.
_SUMMARY = re.compile(r"rank\s*:\s*(\d+) \(local_rank.*?\n\s*exitcode\s*:\s*(-?\d+)")
_ROOT_CAUSE = "Root Cause (first observed failure):"


def _failures(stderr: str) -> dict[int, int]:
    """Each failed rank's exit code from torchrun's summary, the cause first."""
    others, _, root = stderr.rpartition(_ROOT_CAUSE)
    found = [
        (int(r), int(c)) for r, c in _SUMMARY.findall(root) + _SUMMARY.findall(others)
    ]
    # Stable: stopped ranks last.
    found.sort(key=lambda failure: failure[1] == -signal.SIGTERM)
    return dict(found)


def _exit_reason(exitcode: int) -> str:
    if exitcode >= 0:
        return f"exit code {exitcode}"
    try:
        return f"exit code {exitcode}, killed by {signal.Signals(-exitcode).name}"
    except ValueError:
        return f"exit code {exitcode}, killed by signal {-exitcode}"


def _tail(text: str, lines: int = 12) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _rank_lines(stderr: str, rank: int) -> list[str]:
    """What ``rank`` wrote on stderr through :func:`_exit_failed`
    (or torch's own excepthook).
    """
    return [line for line in stderr.splitlines() if line.startswith(f"[rank{rank}]:")]


def _said(stderr: str, rank: int, exitcode: int) -> str:
    """How ``rank`` ended: its exit code or signal, and the error it
    reported, if any.
    """
    marker = f"[rank{rank}]: rank {rank} failed: "
    said = [
        line[len(marker) :]
        for line in _rank_lines(stderr, rank)
        if line.startswith(marker)
    ]
    return f"rank {rank}: {_exit_reason(exitcode)}" + (f": {said[-1]}" if said else "")


def _failure_message(failures: dict[int, int], stderr: str, returncode: int) -> str:
    if not failures:
        return (
            f"the chapter 8 launch failed with exit code {returncode} before any rank "
            f"reported; the last lines of its stderr:\n{_tail(stderr)}"
        )
    lines = [
        "the chapter 8 launch failed (torchrun stops the other ranks when one fails):"
    ]
    lines += [f"  {_said(stderr, r, c)}" for r, c in failures.items()]
    for rank in failures:
        if _rank_lines(stderr, rank):
            lines += [
                f"rank {rank}'s last stderr lines:",
                *_rank_lines(stderr, rank)[-8:],
            ]
    if not any(_rank_lines(stderr, rank) for rank in failures):
        lines += ["the last lines of torchrun's stderr:", _tail(stderr)]
    return "\n".join(lines)


def launch(
    out: str | Path,
    nproc: int = 2,
    options: Sequence[str] = (),
    timeout: float = 300,
    module: str = "lmbook.distributed",
) -> subprocess.CompletedProcess:
    """Run the chapter 8 launch (:func:`launch_command`) of ``module`` and wait for it.

    Returns the finished process when every rank succeeded. Raises
    :class:`RankFailedError`, naming each failed rank, its exit code or signal and the
    end of its stderr, when a rank raised or was killed (torchrun then stops the
    others); raises ``TimeoutError`` after ``timeout`` seconds, once torchrun and its
    ranks are stopped.
    """
    command = launch_command(out, nproc, options, module)
    validate.positive("timeout", timeout)  # seconds
    pipe = subprocess.PIPE
    process = subprocess.Popen(command, stdout=pipe, stderr=pipe, text=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stdout, stderr = _stop(process)
        raise TimeoutError(
            f"the chapter 8 launch did not finish in {timeout} s and was stopped; "
            f"the last lines of its stderr:\n{_tail(stderr)}"
        ) from None
    if process.returncode != 0:
        raise RankFailedError(_failures(stderr), stderr, process.returncode)
    return subprocess.CompletedProcess(command, 0, stdout, stderr)


def _stop(process: subprocess.Popen) -> tuple[str, str]:
    """Stop torchrun: on SIGTERM it stops its ranks (they run in sessions of
    their own).
    """
    process.terminate()
    try:
        return process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()


def _fail_on_purpose(how: str) -> None:
    """Make this rank fail, to test the launch's error path (chapter 8's tests only)."""
    if how == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    # The other ranks wait for it in a collective; launch's timeout ends it.
    if how == "hang":
        time.sleep(3600)
    raise RuntimeError(f"rank {dist.get_rank()} fails on purpose (--fail-rank, a test)")


def _exit_failed(error: Exception) -> NoReturn:
    """Report a failed rank (chapter 8) to torchrun and exit at once with status 1.

    Its process group may still have collectives in flight, and tearing it down would
    wait for peers that may never answer, so the process exits without that. Its lines
    on stderr start with ``[rankR]:``, as torch marks a rank's uncaught exception.
    """
    rank = os.environ["RANK"]
    cause = f"rank {rank} failed: {type(error).__name__}: {error}"
    lines = [*traceback.format_exc().splitlines(), cause]
    print(
        "\n".join(f"[rank{rank}]: {line}" for line in lines),
        file=sys.stderr,
        flush=True,
    )
    get_error_handler().record_exception(error)  # the error torchrun's summary shows
    sys.stdout.flush()
    os._exit(1)


def add_launch_options(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options every chapter 8 rank script takes: ``--out`` and the
    tests' failures.
    """
    parser.add_argument(
        "--out", type=Path, required=True, help="where rank 0 saves results"
    )
    parser.add_argument(
        "--fail-rank", type=int, help="tests only: this rank fails on purpose"
    )
    parser.add_argument(
        "--fail-how",
        choices=("raise", "kill", "hang"),
        default="raise",
        help="tests only",
    )
    return parser


def run_rank(
    work: Callable[[], dict | None],
    args: argparse.Namespace,
    parser: argparse.ArgumentParser,
    backend: str = "gloo",
) -> None:
    """Run ``work`` in this rank's process group and save what rank 0 returns
    (chapter 8.4).

    ``args`` holds :func:`add_launch_options`' values. A rank that fails reports its
    error to torchrun and exits at once (:func:`_exit_failed`).
    """
    if "RANK" not in os.environ:
        parser.error(
            "launch this with torchrun, which sets RANK, WORLD_SIZE and MASTER_ADDR"
        )
    # DDP's constructor imports torch._dynamo, and with it
    # torch.distributed.nn.functional, whose functions take `group=group.WORLD` as a
    # default argument. Imported while a process group exists, those defaults keep it
    # alive after destroy_process_group, and its gloo threads run on into the
    # interpreter's shutdown, where the group is freed at last while Python tears itself
    # down: a rank sometimes aborted there ("terminate called without an active
    # exception"). Imported first, the defaults hold None.
    importlib.import_module("torch._dynamo")
    dist.init_process_group(backend)
    try:
        if args.fail_rank == dist.get_rank():
            _fail_on_purpose(args.fail_how)
        results = work()
        if results is not None:
            torch.save(results, args.out)
    except Exception as error:
        _exit_failed(error)
    dist.destroy_process_group()  # joins gloo's threads while Python is fully alive


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--backend", default="gloo", help="gloo for CPUs, nccl for NVIDIA GPUs"
    )
    return add_launch_options(parser)


def main(argv: list[str] | None = None) -> None:
    """Entry point for ``torchrun ... -m lmbook.distributed`` (chapter 8.4)."""
    parser = _parser()
    args = parser.parse_args(argv)
    device = "cpu"
    if args.backend == "nccl" and "LOCAL_RANK" in os.environ:  # one GPU per process
        device = f"cuda:{os.environ['LOCAL_RANK']}"
        torch.cuda.set_device(device)
    run_rank(
        lambda: train(args.steps, args.batch_size, args.lr, args.seed, device),
        args,
        parser,
        args.backend,
    )


if __name__ == "__main__":
    main()
