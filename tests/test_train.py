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


@pytest.mark.parametrize(
    ("epochs", "error"), [(0, ValueError), (-1, ValueError), (1.5, TypeError), (True, TypeError)]
)
def test_fit_rejects_bad_epochs(epochs, error):
    model, loader = make_problem()
    with pytest.raises(error, match="epochs must be an integer ≥ 1"):
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


def test_fit_steps_the_scheduler_after_every_batch_when_asked():
    model, loader = make_problem()  # 4 batches per epoch
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    history = train.fit(
        model,
        loader,
        optimizer,
        epochs=2,
        scheduler=scheduler,
        scheduler_interval="step",
        progress=False,
    )
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5**8)
    assert all("lr" not in record for record in history)
    with pytest.raises(ValueError, match="scheduler_interval must be one of 'epoch', 'step'"):
        train.fit(model, loader, optimizer, epochs=1, scheduler_interval="batch")


def test_fit_passes_tuples_of_inputs_and_targets_apart():
    generator = torch.Generator().manual_seed(0)
    x, mask = torch.randn(32, 4, generator=generator), torch.ones(32, 4)
    labels, weights = (x[:, 0] > 0).long(), torch.rand(32, generator=generator)
    seen = []

    class Masked(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(4, 2)

        def forward(self, inputs, mask):
            seen.append(mask.shape)
            return self.linear(inputs * mask)

    def weighted(logits, labels, weights):
        losses = torch.nn.functional.cross_entropy(logits, labels, reduction="none")
        return (losses * weights).mean()

    loader = [
        ((x[i : i + 8], mask[i : i + 8]), (labels[i : i + 8], weights[i : i + 8]))
        for i in range(0, 32, 8)
    ]
    model = Masked()
    history = train.fit(
        model,
        loader,
        torch.optim.SGD(model.parameters(), lr=0.1),
        epochs=1,
        loss_fn=weighted,
        progress=False,
    )
    assert seen == [torch.Size([8, 4])] * 4
    assert history[0]["train_loss"] > 0


def test_on_epoch_end_adds_to_each_record():
    model, loader = make_problem()
    calls = []

    def note(trained, record):
        calls.append(trained is model)
        record["note"] = record["epoch"] * 10

    history = train.fit(
        model,
        loader,
        torch.optim.SGD(model.parameters(), lr=0.1),
        epochs=2,
        on_epoch_end=note,
        progress=False,
    )
    assert calls == [True, True] and [record["note"] for record in history] == [10, 20]
    with pytest.raises(TypeError, match="on_epoch_end must be callable"):
        train.fit(
            model, loader, torch.optim.SGD(model.parameters(), lr=0.1), epochs=1, on_epoch_end=1
        )


def test_batches_reshuffle_every_pass_and_repeat_with_the_seed():
    x, y = torch.arange(10).float().unsqueeze(1), torch.arange(10)
    batches = train.Batches(x, y, 4, seed=3)
    first, second = [b[1].tolist() for b in batches], [b[1].tolist() for b in batches]
    assert [len(b) for b in first] == [4, 4, 2] and len(batches) == 3
    assert sorted(sum(first, [])) == list(range(10)) and first != second
    again = train.Batches(x, y, 4, seed=3)
    assert [b[1].tolist() for b in again] == first
    generator = torch.Generator().manual_seed(3)  # the order a hand-written loop would draw
    assert sum(first, []) == torch.randperm(10, generator=generator).tolist()
    paired = train.Batches(x, (y, y * 2), 4, seed=3)
    inputs, (labels, doubled) = next(iter(paired))
    assert torch.equal(doubled, labels * 2) and torch.equal(inputs[:, 0].long(), labels)


def test_batches_reject_bad_inputs():
    x, y = torch.zeros(5, 2), torch.zeros(5, dtype=torch.long)
    with pytest.raises(ValueError, match="5 inputs but a target with 4 rows"):
        train.Batches(x, y[:4], 2)
    with pytest.raises(TypeError, match="inputs must be a tensor, got list"):
        train.Batches([[0.0]], y, 2)
    with pytest.raises(TypeError, match="targets must be tensors"):
        train.Batches(x, [0, 1, 2, 3, 4], 2)
    with pytest.raises(ValueError, match="batch_size must be an integer ≥ 1, got 0"):
        train.Batches(x, y, 0)
    with pytest.raises(ValueError, match="inputs is empty"):
        train.Batches(x[:0], y[:0], 2)
