"""A small, readable PyTorch training loop with a progress bar.

Chapters that train a model call :func:`fit` rather than repeating the loop;
chapter 2 writes the same loop by hand first and explains each line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from tqdm import tqdm


def _check_positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def accuracy(model, loader: Iterable, device: str = "cpu") -> float:
    """Fraction of examples whose arg-max logit equals the label (eval mode, no gradients)."""
    import torch

    was_training = model.training
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for inputs, labels in loader:
            logits = model(inputs.to(device))
            if logits.ndim != 2:
                raise ValueError(
                    f"accuracy expects logits of shape (batch, classes), got {tuple(logits.shape)}"
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
    device: str = "cpu",
    progress: bool = True,
) -> list[dict[str, float]]:
    """Train ``model`` for ``epochs`` passes over ``train_loader``; return one record per epoch.

    Each record has ``epoch``, ``train_loss`` (mean over examples) and, with
    an ``eval_loader``, ``eval_accuracy``. ``loss_fn`` defaults to cross-entropy
    on logits. A ``torch.optim.lr_scheduler`` given as ``scheduler`` steps once
    at the end of every epoch, and each record then has the epoch's ``lr``. A
    tqdm bar over epochs shows the latest loss when ``progress``.
    """
    import torch

    _check_positive_int("epochs", epochs)
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}"
        )
    if scheduler is not None and not isinstance(scheduler, torch.optim.lr_scheduler.LRScheduler):
        raise TypeError(
            "scheduler must be a torch.optim.lr_scheduler.LRScheduler or None, "
            f"got {type(scheduler).__name__}"
        )
    loss_fn = loss_fn or torch.nn.functional.cross_entropy
    model.to(device)
    history = []
    bar = tqdm(range(1, epochs + 1), desc="training", unit="epoch", disable=not progress)
    for epoch in bar:
        model.train()
        loss_sum, count = 0.0, 0
        for inputs, labels in train_loader:
            inputs, labels = inputs.to(device), labels.to(device)
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), labels)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(labels)
            count += len(labels)
        if count == 0:
            raise ValueError("train_loader yielded no examples")
        record = {"epoch": epoch, "train_loss": loss_sum / count}
        if scheduler is not None:
            record["lr"] = optimizer.param_groups[0]["lr"]
            scheduler.step()
        if eval_loader is not None:
            record["eval_accuracy"] = accuracy(model, eval_loader, device)
        bar.set_postfix(loss=f"{record['train_loss']:.4f}")
        history.append(record)
    return history
