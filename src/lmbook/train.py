"""One readable PyTorch training loop, with the few hooks the chapters need.

Chapter 2 writes the loop by hand and explains each line; after that, chapters
call :func:`fit` rather than repeating it: chapter 3 (a CNN, a learning-rate
schedule per epoch), chapter 6b (a fine-tuned encoder: padded batches with a
mask, a schedule per step, the test accuracy and time of each epoch through
``on_epoch_end``) and chapter 9 (MLPs trained from labels or distilled from a
teacher's logits, a loss with two targets).

Four loops stay apart because each is the lesson of its chapter and ``fit``
would hide it: :func:`lmbook.gpt.train` (chapter 5: counted in steps, not
epochs, with warm-up, a cosine schedule, gradient clipping and a time budget),
:func:`lmbook.privacy.dp_sgd_train` (chapter 11: per-example gradients, clipped
and noised, on Poisson-sampled batches), and :func:`lmbook.distributed.train`
with its one-process mirror :func:`lmbook.distributed.train_single` (chapter 8:
the same steps in one process and in several, so that only the all-reduce
differs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from tqdm import tqdm

from lmbook import validate

if TYPE_CHECKING:
    import torch


def _to(batch, device: str):
    if isinstance(batch, tuple | list):
        return tuple(part.to(device) for part in batch)
    return batch.to(device)


def _as_tuple(batch) -> tuple:
    return tuple(batch) if isinstance(batch, tuple | list) else (batch,)


class Batches:
    """Minibatches ``(inputs, targets)`` drawn in a new random order on every pass
    (chapter 2).

    ``targets`` is a tensor or a tuple of tensors with one row per example (chapter 9
    passes the labels and a teacher's logits). The order comes from a generator seeded
    with ``seed``, so two loaders with the same seed give the same batches.
    """

    def __init__(
        self, inputs: torch.Tensor, targets, batch_size: int, *, seed: int = 0
    ):
        import torch  # here, not at the top: importing lmbook loads no framework

        if not isinstance(inputs, torch.Tensor):
            raise TypeError(f"inputs must be a tensor, got {type(inputs).__name__}")
        self.targets = _as_tuple(targets)
        for target in self.targets:
            if not isinstance(target, torch.Tensor):
                raise TypeError(f"targets must be tensors, got {type(target).__name__}")
            if len(target) != len(inputs):
                raise ValueError(
                    f"{len(inputs)} inputs but a target with {len(target)} rows"
                )
        if len(inputs) == 0:
            raise ValueError("inputs is empty; give at least one example")
        self.inputs, self.tuple_targets = inputs, isinstance(targets, tuple | list)
        self.batch_size = validate.count("batch_size", batch_size)
        self.generator = torch.Generator().manual_seed(validate.integer("seed", seed))

    def __len__(self) -> int:
        return -(-len(self.inputs) // self.batch_size)

    def __iter__(self) -> Iterator[tuple]:
        import torch

        order = torch.randperm(len(self.inputs), generator=self.generator)
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            targets = tuple(target[batch] for target in self.targets)
            yield self.inputs[batch], targets if self.tuple_targets else targets[0]


def accuracy(model, loader: Iterable, device: str = "cpu") -> float:
    """Fraction of examples whose arg-max logit equals the label
    (eval mode, no gradients).
    """
    import torch

    was_training = model.training
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for inputs, labels in loader:
            logits = model(*_as_tuple(_to(inputs, device)))
            if logits.ndim != 2:
                raise ValueError(
                    "accuracy expects logits of shape (batch, classes), "
                    f"got {tuple(logits.shape)}"
                )
            correct += (logits.argmax(dim=1).cpu() == labels).sum().item()
            total += labels.numel()
    model.train(was_training)
    if total == 0:
        raise ValueError("the loader yielded no examples")
    return correct / total


def fit(
    model,
    train_loader: Iterable,
    optimizer,
    *,
    epochs: int,
    loss_fn: Callable | None = None,
    eval_loader: Iterable | None = None,
    scheduler=None,
    scheduler_interval: str = "epoch",
    on_epoch_end: Callable | None = None,
    device: str = "cpu",
    progress: bool = True,
) -> list[dict[str, float]]:
    """Train ``model`` for ``epochs`` passes over ``train_loader``; return one record
    per epoch.

    The loader yields ``(inputs, targets)``. ``inputs`` is a tensor, or a tuple of
    tensors given to the model as separate arguments (token ids and a mask);
    ``targets`` is a tensor, or a tuple given to ``loss_fn`` after the model's output
    (labels and a teacher's logits). ``loss_fn`` defaults to cross-entropy on logits.

    Each record has ``epoch``, ``train_loss`` (mean over examples) and, with an
    ``eval_loader``, ``eval_accuracy``. A ``torch.optim.lr_scheduler`` given as
    ``scheduler`` steps at the end of every epoch, and each record then has the
    epoch's ``lr``; with ``scheduler_interval="step"`` it steps after every
    optimizer step instead. ``on_epoch_end(model, record)`` runs last in each
    epoch and may add entries to the record. A tqdm bar over epochs shows the
    latest loss when ``progress``.
    """
    import torch

    validate.count("epochs", epochs)
    validate.choice("scheduler_interval", scheduler_interval, ["epoch", "step"])
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}"
        )
    if scheduler is not None and not isinstance(
        scheduler, torch.optim.lr_scheduler.LRScheduler
    ):
        raise TypeError(
            "scheduler must be a torch.optim.lr_scheduler.LRScheduler or None, "
            f"got {type(scheduler).__name__}"
        )
    if on_epoch_end is not None and not callable(on_epoch_end):
        raise TypeError(
            f"on_epoch_end must be callable, got {type(on_epoch_end).__name__}"
        )
    loss_fn = loss_fn or torch.nn.functional.cross_entropy
    model.to(device)
    history = []
    bar = tqdm(
        range(1, epochs + 1), desc="training", unit="epoch", disable=not progress
    )
    for epoch in bar:
        model.train()
        loss_sum, count = 0.0, 0
        for inputs, targets in train_loader:
            inputs, targets = (
                _as_tuple(_to(inputs, device)),
                _as_tuple(_to(targets, device)),
            )
            optimizer.zero_grad()
            loss = loss_fn(model(*inputs), *targets)
            loss.backward()
            optimizer.step()
            if scheduler is not None and scheduler_interval == "step":
                scheduler.step()
            loss_sum += loss.item() * len(targets[0])
            count += len(targets[0])
        if count == 0:
            raise ValueError("train_loader yielded no examples")
        record = {"epoch": epoch, "train_loss": loss_sum / count}
        if scheduler is not None and scheduler_interval == "epoch":
            record["lr"] = optimizer.param_groups[0]["lr"]
            scheduler.step()
        if eval_loader is not None:
            record["eval_accuracy"] = accuracy(model, eval_loader, device)
        if on_epoch_end is not None:
            on_epoch_end(model, record)
        bar.set_postfix(loss=f"{record['train_loss']:.4f}")
        history.append(record)
    return history
