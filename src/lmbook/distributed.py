"""Data parallelism on one machine, launched as on a cluster (chapter 8.3 and 8.4).

- :func:`ring_all_reduce`: the ring algorithm that sums gradients across workers, in NumPy.
- :func:`train`: the data-parallel training script, PyTorch DistributedDataParallel on the
  gloo backend; :func:`train_single` is the same training in one process.

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
import os
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from lmbook import data


def ring_all_reduce(buffers: list[np.ndarray]) -> tuple[list[np.ndarray], list[int]]:
    """Sum ``buffers`` (one 1-D array per worker) as a ring of workers does (chapter 8.3).

    Each buffer is cut into p chunks. In p − 1 reduce-scatter steps every worker passes
    one chunk to its right-hand neighbour, which adds it to its own; afterwards worker i
    holds the complete sum of chunk i + 1. In p − 1 all-gather steps the finished chunks
    travel round the ring. Returns every worker's result (all equal to the sum) and the
    number of values each worker sent: 2·(p − 1)/p of a buffer.
    """
    if not isinstance(buffers, list | tuple) or len(buffers) < 2:
        raise ValueError("buffers must be a list of at least 2 arrays, one per worker")
    arrays = [np.asarray(b, dtype=np.float64) for b in buffers]
    size = arrays[0].shape
    if any(a.ndim != 1 or a.shape != size for a in arrays):
        shapes = [a.shape for a in arrays]
        raise ValueError(f"every buffer must be 1-D and of the same length, got shapes {shapes}")
    p = len(arrays)
    if size[0] < p:
        raise ValueError(f"each buffer needs at least one value per worker ({p}), got {size[0]}")
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
    """scikit-learn's digits as (train x, train y, test x, test y), pixels scaled to [0, 1]."""
    images, labels = data.digits()
    x = torch.tensor(images.reshape(len(images), -1) / 16.0, dtype=torch.float32)
    y = torch.tensor(labels)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    test, train = order[:test_size], order[test_size:]
    return x[train], y[train], x[test], y[test]


def make_model(seed: int) -> nn.Module:
    """The small MLP every rank builds; the same seed gives every rank the same weights."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


def global_batches(n_examples: int, batch_size: int, steps: int, seed: int) -> list[torch.Tensor]:
    """The indices of each step's global batch, the same in every process."""
    generator = torch.Generator().manual_seed(seed)
    return [torch.randperm(n_examples, generator=generator)[:batch_size] for _ in range(steps)]


def _flat(tensors) -> torch.Tensor:
    return torch.cat([t.detach().reshape(-1) for t in tensors])


def _check_run(steps: int, batch_size: int, lr: float, world_size: int = 1) -> None:
    for name, value in (("steps", steps), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a whole number ≥ 1, got {value!r}")
    if batch_size % world_size:
        raise ValueError(
            f"batch_size = {batch_size} must split evenly over {world_size} processes, "
            "or the averaged gradient is not the gradient of the whole batch"
        )
    if not isinstance(lr, int | float) or not 0 < lr < 10:
        raise ValueError(f"lr must be a learning rate in (0, 10), got {lr!r}")


def train_single(steps: int = 60, batch_size: int = 64, lr: float = 0.1, seed: int = 0) -> dict:
    """Train the MLP in one process on each step's whole batch (chapter 8.4)."""
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
    steps: int = 60, batch_size: int = 64, lr: float = 0.1, seed: int = 0, device: str = "cpu"
) -> dict | None:
    """The data-parallel run; call it in every process that torchrun starts (chapter 8.4).

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
            own = torch.autograd.grad(F.cross_entropy(alone(x[mine]), y[mine]), alone.parameters())
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


def main(argv: list[str] | None = None) -> None:
    """Entry point for ``torchrun ... -m lmbook.distributed``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="where rank 0 saves results")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend", default="gloo", help="gloo for CPUs, nccl for NVIDIA GPUs")
    args = parser.parse_args(argv)
    if "RANK" not in os.environ:
        parser.error("launch this with torchrun, which sets RANK, WORLD_SIZE and MASTER_ADDR")
    device = "cpu"
    if args.backend == "nccl":  # one GPU per process
        device = f"cuda:{os.environ['LOCAL_RANK']}"
        torch.cuda.set_device(device)
    dist.init_process_group(args.backend)
    try:
        results = train(args.steps, args.batch_size, args.lr, args.seed, device)
        if results is not None:
            torch.save(results, args.out)
        # No rank tears gloo down while another still uses it: without this, a rank
        # sometimes aborts at exit ("terminate called without an active exception").
        dist.barrier()
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
