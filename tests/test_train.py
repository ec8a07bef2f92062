import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from lmbook import train


def make_problem(seed=0):
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(64, 4, generator=generator)
    labels = (inputs[:, 0] + inputs[:, 1] > 0).long()
    loader = DataLoader(TensorDataset(inputs, labels), batch_size=16, shuffle=False)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    return model, loader


def test_fit_matches_a_hand_written_loop():
    model, loader = make_problem()
    history = train.fit(
        model, loader, torch.optim.SGD(model.parameters(), lr=0.1), epochs=3, progress=False
    )

    reference, _ = make_problem()
    optimizer = torch.optim.SGD(reference.parameters(), lr=0.1)
    for _ in range(3):
        total = 0.0
        for x, y in loader:
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(reference(x), y)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(y)
    for ours, theirs in zip(model.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(ours, theirs)
    assert [record["epoch"] for record in history] == [1, 2, 3]
    assert history[-1]["train_loss"] == pytest.approx(total / 64)


def test_fit_learns_and_reports_accuracy():
    model, loader = make_problem()
    history = train.fit(
        model,
        loader,
        torch.optim.Adam(model.parameters(), lr=0.05),
        epochs=30,
        eval_loader=loader,
        progress=False,
    )
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert history[-1]["eval_accuracy"] > 0.9
    assert train.accuracy(model, loader) == history[-1]["eval_accuracy"]


@pytest.mark.parametrize("epochs", [0, -1, 1.5, True])
def test_fit_rejects_bad_epochs(epochs):
    model, loader = make_problem()
    with pytest.raises(ValueError, match="epochs"):
        train.fit(model, loader, torch.optim.SGD(model.parameters(), lr=0.1), epochs=epochs)


def test_fit_steps_the_scheduler_once_per_epoch():
    model, loader = make_problem()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    history = train.fit(model, loader, optimizer, epochs=3, scheduler=scheduler, progress=False)
    assert [record["lr"] for record in history] == pytest.approx([0.1, 0.05, 0.025])
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.0125)


def test_fit_rejects_a_non_scheduler():
    model, loader = make_problem()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(TypeError, match="LRScheduler"):
        train.fit(model, loader, optimizer, epochs=1, scheduler="cosine")


def test_fit_rejects_a_non_optimizer():
    model, loader = make_problem()
    with pytest.raises(TypeError, match="Optimizer"):
        train.fit(model, loader, "sgd", epochs=1)


def test_accuracy_rejects_bad_logits_and_empty_loaders():
    model, loader = make_problem()
    with pytest.raises(ValueError, match="no examples"):
        train.accuracy(model, [])
    flat = torch.nn.Sequential(torch.nn.Linear(4, 1), torch.nn.Flatten(0))
    with pytest.raises(ValueError, match="batch, classes"):
        train.accuracy(flat, loader)
