"""Sharded training on one machine, for real: FSDP and tensor parallelism (chapter 8.4).

- :func:`shard_numel`, :func:`padded_shard_numel`: how many values of a tensor a rank
  keeps when FSDP cuts it along its first dimension, without and with FSDP's padding.
- :func:`zero_bytes_per_rank`: the ZeRO formula of
  :func:`lmbook.scale.model_state_bytes`, component by component;
  :func:`expected_shard_bytes`: the same for FSDP's real shards.
- :func:`held_bytes`: the bytes of weights, gradients and Adam states a process holds.
- :func:`train`: the digits MLP trained with Adam, under FSDP (ZeRO stage 3) or DDP.
- :class:`TensorParallelMLP`: a Transformer's MLP block split over ranks as in
  Megatron-LM; :func:`tensor_parallel` checks it against the unsplit block and times its
  all-reduce.
- :func:`launch`: the launch below, run and waited for, as
  :func:`lmbook.distributed.launch`.

Two processes on this CPU, gloo backend; rank 0 saves every measurement to ``--out``::

    torchrun --standalone --nproc_per_node=2 -m lmbook.sharding --out sharding.pt
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import math
import statistics
import subprocess
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from lmbook import distributed, scale, validate

try:  # FSDP2 and DTensor became public in PyTorch 2.6
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard
    from torch.distributed.tensor import DTensor
    from torch.distributed.tensor.debug import CommDebugMode
    from torch.distributed.tensor.parallel import (
        ColwiseParallel,
        RowwiseParallel,
        parallelize_module,
    )
except ImportError as error:
    raise ImportError(
        "lmbook.sharding needs PyTorch 2.6 or later (FSDP2's fully_shard and "
        f"DTensor); this is PyTorch {torch.__version__}: {error}"
    ) from error

# The launch's errors are those of lmbook.distributed, whose launcher this module uses.
RankFailedError = distributed.RankFailedError

COMPONENTS = ("weights", "gradients", "optimizer")  # what the ZeRO formula counts
HIDDEN = 999  # odd on purpose: FSDP then cuts some tensors into unequal shards


def _shape(shape: Sequence[int]) -> tuple[int, ...]:
    if isinstance(shape, str) or not isinstance(shape, Sequence):
        raise TypeError(
            f"shape must be a sequence of sizes such as (999, 64), got {shape!r}"
        )
    if len(shape) == 0:
        raise ValueError(
            "shape has no dimensions; FSDP cuts a tensor along its first one"
        )
    return tuple(validate.count(f"shape[{i}]", size) for i, size in enumerate(shape))


def shard_numel(shape: Sequence[int], world_size: int, rank: int) -> int:
    """Values of a tensor of ``shape`` that ``rank`` keeps under FSDP (chapter 8.4).

    FSDP2 cuts every parameter along dimension 0 as ``torch.chunk`` does: each of the
    p ranks gets ⌈rows/p⌉ rows, the last ones fewer (none if the rows run out first).
    """
    rows, *rest = _shape(shape)
    p = validate.count("world_size", world_size)
    rank = validate.integer("rank", rank, minimum=0, maximum=p - 1)
    per_rank = math.ceil(rows / p)
    return max(0, min(per_rank, rows - rank * per_rank)) * math.prod(rest)


def padded_shard_numel(shape: Sequence[int], world_size: int) -> int:
    """Values of the buffer each rank allocates for its shard: ⌈rows/p⌉ rows on
    every rank.

    FSDP2 pads the short shards to this size so that one all-gather of equal pieces
    rebuilds the whole tensor (chapter 8.4).
    """
    rows, *rest = _shape(shape)
    return math.ceil(rows / validate.count("world_size", world_size)) * math.prod(rest)


def zero_bytes_per_rank(
    parameters: float,
    *,
    data_parallel: int,
    zero_stage: int = 3,
    precision: str = "fp32",
    optimizer: str = "adam",
) -> dict[str, float]:
    """Bytes per GPU of each part of the model states under ZeRO (chapter 8.4).

    The parts of :func:`lmbook.scale.model_state_bytes`, which is their sum: stage 1
    divides the optimizer states and master weights by ``data_parallel``, stage 2 the
    gradients too, stage 3 the weights too. The formula assumes the parameters divide
    evenly among the GPUs.
    """
    n = validate.positive("parameters", parameters)
    d = validate.count("data_parallel", data_parallel)
    stage = validate.integer("zero_stage", zero_stage, minimum=0, maximum=3)
    per = scale.bytes_per_parameter(precision, optimizer)
    sharded = [(), ("master weights", "optimizer"), ("gradients",), ("weights",)]
    divided = {part for parts in sharded[: stage + 1] for part in parts}
    return {part: n * b / (d if part in divided else 1) for part, b in per.items()}


def expected_shard_bytes(
    shapes: Sequence[Sequence[int]], world_size: int, rank: int
) -> dict[str, int]:
    """Bytes of weights, gradients and Adam states ``rank`` keeps under FSDP in fp32.

    Each parameter of ``shapes`` contributes its :func:`shard_numel`: 4 bytes per value
    for the weight, 4 for its gradient, 8 for Adam's two moments (chapter 8.4).
    """
    if isinstance(shapes, str) or not isinstance(shapes, Sequence) or not shapes:
        raise TypeError(
            f"shapes must be a non-empty list of tensor shapes, got {shapes!r:.60}"
        )
    values = sum(shard_numel(shape, world_size, rank) for shape in shapes)
    per = scale.bytes_per_parameter("fp32", "adam")
    return {part: values * per[part] for part in COMPONENTS}


def _local(tensor: torch.Tensor) -> torch.Tensor:
    """The part of ``tensor`` in this process: a DTensor's shard, or the
    tensor itself.
    """
    return tensor.to_local() if isinstance(tensor, DTensor) else tensor


def _bytes(tensors: list[torch.Tensor], allocated: bool) -> int:
    if not allocated:
        return sum(_local(t).nbytes for t in tensors)
    # Several tensors may be views of one buffer (DDP's gradient buckets): count it
    # once.
    storages = {}
    for tensor in tensors:
        storage = _local(tensor).untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
    return sum(storages.values())


def held_bytes(
    model: nn.Module, optimizer: torch.optim.Optimizer, *, allocated: bool = False
) -> dict[str, int]:
    """Bytes of weights, gradients and Adam states this process holds (chapter 8.4).

    Under FSDP the parameters are DTensors and only the local shard counts. By default
    a tensor counts its own values; ``allocated=True`` counts the buffers under them,
    FSDP's padding included. Adam's step counters (a 0-d tensor per parameter, not in
    the ZeRO formula) are the separate entry ``"step"``. Call it after a step, while
    the gradients are still there.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}"
        )
    validate.flag("allocated", allocated)
    parameters = list(model.parameters())
    if not parameters or any(p.grad is None for p in parameters):
        raise ValueError(
            "a parameter has no gradient: call held_bytes after backward and step"
        )
    states = [optimizer.state.get(p, {}) for p in parameters]
    if not all("exp_avg" in s and "exp_avg_sq" in s for s in states):
        raise ValueError(
            "the optimizer holds no Adam moments (exp_avg, exp_avg_sq) for every "
            "parameter: use torch.optim.Adam or AdamW and take a step first"
        )
    moments = [s[k] for s in states for k in ("exp_avg", "exp_avg_sq")]
    return {
        "weights": _bytes(parameters, allocated),
        "gradients": _bytes([p.grad for p in parameters], allocated),
        "optimizer": _bytes(moments, allocated),
        "step": _bytes([s["step"] for s in states if "step" in s], allocated),
    }


def make_model(seed: int, hidden: int = HIDDEN) -> nn.Sequential:
    """The MLP that FSDP and DDP train: 64 pixels → hidden → hidden → 10 digits.

    With ``hidden = 999`` it has 1,073,935 parameters, and its first dimension is odd
    in four of its six tensors, so FSDP must cut those unevenly.
    """
    torch.manual_seed(validate.integer("seed", seed))
    h = validate.count("hidden", hidden)
    return nn.Sequential(
        nn.Linear(64, h), nn.GELU(), nn.Linear(h, h), nn.GELU(), nn.Linear(h, 10)
    )


def _shard(model: nn.Sequential) -> None:
    """FSDP2 (ZeRO stage 3) on ``model``: each Linear is a unit of its own, so that one
    layer's full weights at a time are gathered; the root call drives the schedule."""
    for layer in model:
        if isinstance(layer, nn.Linear):
            fully_shard(layer)
    fully_shard(model)


_COLLECTIVE_KINDS = {  # the kind, and how PyTorch's op names spell it across versions
    "all_gather": ("allgather", "all_gather"),
    "reduce_scatter": ("reduce_scatter", "reducescatter"),
    "all_reduce": ("allreduce", "all_reduce"),
    "all_to_all": ("alltoall", "all_to_all"),
    "broadcast": ("broadcast",),
}


def collective_kind(op_name: str) -> str:
    """The collective an op of PyTorch runs ("all_gather", ...), from its name
    (chapter 8).

    The same collective has several op names ("c10d._allgather_base_",
    "c10d_functional.all_gather_into_tensor"), which change between PyTorch versions;
    the kind does not. A name that is no known collective is returned unchanged.
    """
    if not isinstance(op_name, str):
        raise TypeError(f"op_name must be a str, got {type(op_name).__name__}")
    lowered = op_name.lower()
    for kind, spellings in _COLLECTIVE_KINDS.items():
        if any(spelling in lowered for spelling in spellings):
            return kind
    return op_name


def _count_collectives(mode: CommDebugMode) -> dict[str, int]:
    """CommDebugMode's count of the collectives, by kind (e.g. {"all_reduce": 1})."""
    counts: dict[str, int] = {}
    for op, count in mode.get_comm_counts().items():
        kind = collective_kind(str(op))
        counts[kind] = counts.get(kind, 0) + count
    return counts


@contextlib.contextmanager
def _counting(enabled: bool = True) -> Iterator[CommDebugMode | None]:
    """PyTorch's count of the collectives run inside the block
    (None if not ``enabled``).

    CommDebugMode also tracks modules, through hooks that make FSDP and autograd warn
    about in-place changes and hooks that this code never makes; those warnings are
    muted.
    """
    if not enabled:
        yield None
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Full backward hook is firing")
        warnings.filterwarnings("ignore", message=".*returned a view tensor")
        with CommDebugMode() as mode:
            yield mode


def train(
    sharded: bool,
    steps: int = 10,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    hidden: int = HIDDEN,
) -> dict:
    """Train :func:`make_model` with Adam on the digits, in every rank (chapter 8.4).

    ``sharded``: FSDP2, each rank keeping 1/p of every weight, gradient and Adam state;
    otherwise DDP, each rank keeping all of them. Either way rank r of p takes every
    p-th example of the step's global batch. Returns, in every rank: the model, the
    optimizer, the losses of the whole batch, and for FSDP the shape of each layer's
    weight seen during its first forward pass and the collectives of the last step.
    """
    validate.flag("sharded", sharded)
    rank, world = dist.get_rank(), dist.get_world_size()
    distributed._check_run(steps, batch_size, lr, world)
    x, y, _, _ = distributed.digits_split()
    model = make_model(seed, hidden)
    gathered, hooks = [], []

    def record(layer: nn.Module, args: tuple) -> None:
        gathered.append(list(layer.weight.shape))  # the weight this layer computes with

    if sharded:
        _shard(model)
        for layer in model:
            # Runs after FSDP's own hook has gathered it.
            if isinstance(layer, nn.Linear):
                hooks.append(layer.register_forward_pre_hook(record))
        wrapped = model
    else:
        wrapped = DistributedDataParallel(model, gradient_as_bucket_view=True)
    optimizer = torch.optim.Adam(wrapped.parameters(), lr=lr)
    losses, collectives = [], {}
    for step, indices in enumerate(
        distributed.global_batches(len(x), batch_size, steps, seed)
    ):
        last = sharded and step == steps - 1
        with _counting(last) as counter:
            mine = indices[rank::world]
            loss = F.cross_entropy(wrapped(x[mine]), y[mine])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if last:
            collectives = _count_collectives(counter)
        for hook in hooks:  # one forward pass is enough to see what FSDP gathers
            hook.remove()
        hooks = []
        total = loss.detach().clone()
        dist.all_reduce(total)
        losses.append(total.item() / world)
    return {
        "model": model,
        "optimizer": optimizer,
        "losses": torch.tensor(losses),
        "gathered_in_forward": gathered,
        "collectives_per_step": collectives,
    }


def _full_weights(model: nn.Module) -> torch.Tensor:
    """Every weight of ``model`` in one vector; FSDP's shards are gathered
    (a collective).
    """
    full = [
        p.full_tensor() if isinstance(p, DTensor) else p for p in model.parameters()
    ]
    return torch.cat([t.detach().reshape(-1) for t in full])


# Tensor parallelism (Shoeybi et al., 2019). Megatron's two conjugate operators: f is
# the identity forward and an all-reduce backward, g the reverse. f sits before the
# block, where every rank reads the same input and so gets only part of its gradient; g
# after it, where every rank holds only part of the output.


class _CopyToRanks(torch.autograd.Function):
    """Megatron's f: forward, the input as it is; backward, the sum of the ranks'
    gradients.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class _SumOverRanks(torch.autograd.Function):
    """Megatron's g: forward, the sum of the ranks' partial outputs;
    backward, as it is.
    """

    @staticmethod
    def forward(ctx, partial: torch.Tensor) -> torch.Tensor:
        total = partial.clone()
        dist.all_reduce(total)
        return total

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad


def make_block(seed: int, d_model: int = 256) -> nn.Sequential:
    """A Transformer's MLP block, unsplit: Linear d → 4d, GELU, Linear 4d → d
    (chapter 8.4).
    """
    torch.manual_seed(validate.integer("seed", seed))
    d = validate.count("d_model", d_model)
    return nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))


class TensorParallelMLP(nn.Module):
    """This rank's part of an MLP block split Megatron-style over ranks (chapter 8.4).

    The first Linear is column-parallel: rank r keeps its slice of the hidden units
    (rows of the weight, PyTorch storing it output × input) and computes them in full,
    so GELU applies locally. The second is row-parallel: rank r keeps the matching
    columns and computes a partial output; one all-reduce sums the partials. The
    second bias is kept whole on every rank and added once, after the sum.
    """

    def __init__(self, block: nn.Sequential, rank: int, world_size: int) -> None:
        super().__init__()
        if not isinstance(block, nn.Sequential) or len(block) != 3:
            raise TypeError(
                "block must be nn.Sequential(Linear(d, h), activation, Linear(h, d))"
            )
        first, activation, second = block
        if not (isinstance(first, nn.Linear) and isinstance(second, nn.Linear)):
            raise TypeError(
                "block must be nn.Sequential(Linear(d, h), activation, Linear(h, d))"
            )
        if first.bias is None or second.bias is None:
            raise ValueError("both Linear layers of the block must have a bias")
        if second.in_features != first.out_features:
            raise ValueError(
                f"the block's layers do not fit: {first.out_features} hidden units "
                f"out, {second.in_features} in"
            )
        p = validate.count("world_size", world_size)
        rank = validate.integer("rank", rank, minimum=0, maximum=p - 1)
        if first.out_features % p:
            raise ValueError(
                f"the {first.out_features} hidden units must "
                f"split evenly over {p} ranks"
            )
        width = first.out_features // p
        mine = slice(rank * width, (rank + 1) * width)
        self.up = nn.Linear(first.in_features, width)
        self.activation = copy.deepcopy(activation)
        self.down = nn.Linear(width, second.out_features, bias=False)
        self.bias = nn.Parameter(second.bias.detach().clone())
        with torch.no_grad():
            self.up.weight.copy_(first.weight[mine])
            self.up.bias.copy_(first.bias[mine])
            self.down.weight.copy_(second.weight[:, mine])

    def partial(self, x: torch.Tensor) -> torch.Tensor:
        """This rank's local work: its hidden units, and their share of the output."""
        return self.down(self.activation(self.up(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _SumOverRanks.apply(self.partial(_CopyToRanks.apply(x))) + self.bias


def _seconds(
    work: Callable[[], object], repeats: int, barrier: bool = False
) -> list[float]:
    """Wall-clock seconds of each of ``repeats`` calls of ``work``, after one
    warm-up call.

    With ``barrier`` the ranks first wait for each other, so that a collective's time is
    its own and not the time its partner took to arrive.
    """
    work()
    samples = []
    for _ in range(repeats):
        if barrier:
            dist.barrier()
        tic = time.perf_counter()
        work()
        samples.append(time.perf_counter() - tic)
    return samples


def _max_over_ranks(value: float) -> float:
    value = torch.tensor(float(value), dtype=torch.float64)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return value.item()


def _max_error(a: torch.Tensor, b: torch.Tensor) -> float:
    """The largest difference of ``a`` from ``b``, relative to the largest entry of
    ``b``: a bound on rounding that does not depend on the size of the values."""
    return ((a.detach() - b.detach()).abs().max() / b.detach().abs().max()).item()


def tensor_parallel(
    d_model: int = 256,
    batch: int = 8,
    tokens: int = 64,
    repeats: int = 50,
    seed: int = 0,
) -> dict:
    """Check :class:`TensorParallelMLP` against the unsplit block and time it
    (chapter 8.4).

    Every rank builds the same block and input. Returns, in every rank: the largest
    difference over the ranks between the split and the unsplit block (output, and the
    gradients of the input and of this rank's weight slices), relative to the largest
    entry; the same for PyTorch's own tensor parallelism (DTensor's ColwiseParallel and
    RowwiseParallel) against the split; the collectives each made; the bytes
    all-reduced per forward pass; and timings, in seconds, of rank 0.
    """
    for name, value in (("batch", batch), ("tokens", tokens), ("repeats", repeats)):
        validate.count(name, value)
    rank, world = dist.get_rank(), dist.get_world_size()
    block = make_block(seed, d_model)
    split = TensorParallelMLP(block, rank, world)
    generator = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(batch, tokens, d_model, generator=generator)
    upstream = torch.randn(batch, tokens, d_model, generator=generator)  # dLoss/dOutput

    x_full, x_split = x.clone().requires_grad_(), x.clone().requires_grad_()
    expected = block(x_full)
    (expected * upstream).sum().backward()
    with _counting() as forward_comm:
        output = split(x_split)
    with _counting() as backward_comm:
        (output * upstream).sum().backward()
    width = split.up.out_features
    mine = slice(rank * width, (rank + 1) * width)
    gradient_errors = [
        _max_error(x_split.grad, x_full.grad),
        _max_error(split.up.weight.grad, block[0].weight.grad[mine]),
        _max_error(split.up.bias.grad, block[0].bias.grad[mine]),
        _max_error(split.down.weight.grad, block[2].weight.grad[:, mine]),
        _max_error(split.bias.grad, block[2].bias.grad),
    ]

    # The same split done by PyTorch: the weights become DTensors sharded over a mesh.
    mesh = init_device_mesh("cpu", (world,))
    plan = {"0": ColwiseParallel(), "2": RowwiseParallel()}
    dtensor_block = parallelize_module(copy.deepcopy(block), mesh, plan)
    x_dtensor = x.clone().requires_grad_()
    with _counting() as dtensor_forward:
        # * 1 waits for its asynchronous sum.
        dtensor_output = dtensor_block(x_dtensor) * 1
    with _counting() as dtensor_backward:
        (dtensor_output * upstream).sum().backward()
    dtensor_errors = [
        _max_error(dtensor_output, output),
        _max_error(x_dtensor.grad, x_split.grad),
    ]

    with torch.no_grad():
        partial = split.partial(x)
        # Zeros stay zeros however often they are summed.
        reduced = torch.zeros_like(partial)
        all_reduce_s = _seconds(lambda: dist.all_reduce(reduced), repeats, barrier=True)
        local_s = _seconds(lambda: split.partial(x), repeats)
        full_s = _seconds(lambda: block(x), repeats)
    local_bytes = sum(p.nbytes for p in split.parameters())
    return {
        "d_model": d_model,
        "hidden": block[0].out_features,
        "batch": batch,
        "tokens": tokens,
        "output_error": _max_over_ranks(_max_error(output, expected)),
        "gradient_error": _max_over_ranks(max(gradient_errors)),
        "dtensor_error": _max_over_ranks(max(dtensor_errors)),
        "forward_collectives": _count_collectives(forward_comm),
        "backward_collectives": _count_collectives(backward_comm),
        "dtensor_forward_collectives": _count_collectives(dtensor_forward),
        "dtensor_backward_collectives": _count_collectives(dtensor_backward),
        "all_reduce_bytes": partial.nbytes,
        "all_reduce_seconds": torch.tensor(all_reduce_s, dtype=torch.float64),
        "local_seconds": torch.tensor(local_s, dtype=torch.float64),
        "full_seconds": torch.tensor(full_s, dtype=torch.float64),
        "all_reduce_median_s": statistics.median(all_reduce_s),
        "local_median_s": statistics.median(local_s),
        "full_median_s": statistics.median(full_s),
        "weight_bytes_per_rank": local_bytes,
        "weight_bytes_unsplit": sum(p.nbytes for p in block.parameters()),
    }


def _per_rank(measured: dict[str, int]) -> dict[str, list[int]]:
    """Each rank's ``measured`` bytes, gathered into one list per part
    (a collective).
    """
    gathered = distributed._all_gather(torch.tensor(list(measured.values())))
    return {part: gathered[:, i].tolist() for i, part in enumerate(measured)}


def run(
    steps: int = 10,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    hidden: int = HIDDEN,
    repeats: int = 50,
) -> dict | None:
    """Everything chapter 8.4 measures; call it in every process that torchrun starts.

    Trains the MLP under FSDP and under DDP from the same start on the same batches,
    measures what each rank holds, and runs :func:`tensor_parallel`. Returns the
    results on rank 0 (None elsewhere), as plain tensors, numbers, strings and lists.
    """
    world = dist.get_world_size()
    fsdp = train(True, steps, batch_size, lr, seed, hidden)
    ddp = train(False, steps, batch_size, lr, seed, hidden)
    shapes = [
        list(p.shape) for p in fsdp["model"].parameters()
    ]  # a DTensor's whole shape
    results = {
        "world_size": world,
        "backend": dist.get_backend(),
        "torch_version": str(torch.__version__),
        "sharding": "FSDP2, torch.distributed.fsdp.fully_shard",
        "steps": steps,
        "batch_size": batch_size,
        "lr": lr,
        "parameters": sum(math.prod(shape) for shape in shapes),
        "names": [name for name, _ in fsdp["model"].named_parameters()],
        "shapes": shapes,
    }
    for name, trained in (("fsdp", fsdp), ("ddp", ddp)):
        model, optimizer = trained["model"], trained["optimizer"]
        results[name] = {
            "bytes": _per_rank(held_bytes(model, optimizer)),
            "allocated": _per_rank(held_bytes(model, optimizer, allocated=True)),
            "losses": trained["losses"],
            "weights": _full_weights(model),
        }
    results["fsdp"]["gathered_in_forward"] = fsdp["gathered_in_forward"]
    results["fsdp"]["collectives_per_step"] = fsdp["collectives_per_step"]
    results["tp"] = tensor_parallel(repeats=repeats, seed=seed)
    return results if dist.get_rank() == 0 else None


def launch_command(
    out: str | Path, nproc: int = 2, options: Sequence[str] = ()
) -> list[str]:
    """The launch line of chapter 8.4: ``torchrun`` starting ``nproc`` ranks of
    this module.
    """
    return distributed.launch_command(out, nproc, options, module=__name__)


def launch(
    out: str | Path, nproc: int = 2, options: Sequence[str] = (), timeout: float = 120
) -> subprocess.CompletedProcess:
    """Run :func:`launch_command` and wait for it, as
    :func:`lmbook.distributed.launch` does.

    Raises :class:`RankFailedError` naming the rank that failed and how, and
    ``TimeoutError`` after ``timeout`` seconds, once every rank is stopped.
    """
    return distributed.launch(out, nproc, options, timeout, module=__name__)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hidden", type=int, default=HIDDEN)
    parser.add_argument(
        "--repeats", type=int, default=50, help="timed calls per measurement"
    )
    return distributed.add_launch_options(parser)


def main(argv: list[str] | None = None) -> None:
    """Entry point for ``torchrun ... -m lmbook.sharding`` (chapter 8.4), on
    gloo and CPUs.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    distributed.run_rank(
        lambda: run(
            args.steps, args.batch_size, args.lr, args.seed, args.hidden, args.repeats
        ),
        args,
        parser,
    )


if __name__ == "__main__":
    main()
