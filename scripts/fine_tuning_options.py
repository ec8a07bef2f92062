"""Measure what each fine-tuning option costs and gains (chapter 6, part 2, section 6.8).

Writes src/lmbook/tables/fine_tuning_options.csv, which the notebook
06b_fine_tuning_a_classifier reads. Run from the repository root with one thread,
as the notebooks run; two processes can share a 2-core machine:

    OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 .venv/bin/python scripts/fine_tuning_options.py [OPTION ...]

With no option named it measures them all, which takes about half an hour of CPU
time. Costs are CPU seconds of this process (time.process_time). Every option is
scored on a validation set (1,000 training snippets the CPU recipe does not use),
by which options should be compared, and on the notebook's test set.
"""

import fcntl
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import pandas as pd
import torch

from lmbook import data, text

OUTPUT = (
    Path(__file__).resolve().parents[1] / "src" / "lmbook" / "tables" / "fine_tuning_options.csv"
)
CPU_TRAIN_SIZE = 6000  # the notebook's CPU recipe trains on this many snippets
# option: (trainable_from, epochs, learning rate, warm-up share, max_length, training snippets)
OPTIONS = {
    "top 1 layer": (5, 1, 2e-4, 0.1, 64, CPU_TRAIN_SIZE),
    "top 2 layers, lr 1e-4": (4, 1, 1e-4, 0.1, 64, CPU_TRAIN_SIZE),
    "top 2 layers": (4, 1, 2e-4, 0.1, 64, CPU_TRAIN_SIZE),
    "top 2 layers, no warm-up": (4, 1, 2e-4, 0.0, 64, CPU_TRAIN_SIZE),
    "top 2 layers, max length 32": (4, 1, 2e-4, 0.1, 32, CPU_TRAIN_SIZE),
    "top 2 layers, 2 epochs": (4, 2, 2e-4, 0.1, 64, CPU_TRAIN_SIZE),
    "top 3 layers": (3, 1, 2e-4, 0.1, 64, CPU_TRAIN_SIZE),
    "top 3 layers, 2 epochs": (3, 2, 2e-4, 0.1, 64, CPU_TRAIN_SIZE),
    "top 2 layers, all 10,808 snippets": (4, 1, 2e-4, 0.1, 64, None),
    "all weights": (0, 1, 5e-5, 0.1, 64, CPU_TRAIN_SIZE),
    "all weights, 2 epochs": (0, 2, 5e-5, 0.1, 64, CPU_TRAIN_SIZE),
}


def main(selected: list[str]) -> None:
    unknown = [name for name in selected if name not in OPTIONS]
    if unknown:
        raise SystemExit(f"unknown options {unknown}; choose from {list(OPTIONS)}")
    torch.set_num_threads(1)
    train, validation, test = data.rotten_tomatoes_split(CPU_TRAIN_SIZE)
    everything, _, _ = data.rotten_tomatoes_split(None)
    tokenizer, encoder = text.load_minilm()
    caches = {}
    for name, (trainable_from, epochs, lr, warmup, max_length, size) in OPTIONS.items():
        if selected and name not in selected:
            continue
        train_set = train if size == CPU_TRAIN_SIZE else everything
        texts = list(train_set.text) + list(validation.text) + list(test.text)
        started = time.process_time()
        if trainable_from == 0:
            ids = tokenizer(texts, truncation=True, max_length=max_length).input_ids
            inputs = [torch.tensor(row) for row in ids]
            cache_seconds = 0.0
        else:
            key = (trainable_from, max_length, len(train_set))
            if key not in caches:
                states = text.hidden_states(
                    texts, tokenizer, encoder, [trainable_from], max_length=max_length
                )
                caches[key] = (states[trainable_from], time.process_time() - started)
            inputs, cache_seconds = caches[key]
        n = len(train_set)
        started = time.process_time()
        classifier = text.EncoderClassifier(encoder, trainable_from=trainable_from)
        text.fine_tune(
            classifier, inputs[:n], train_set.label.to_numpy(), epochs=epochs, lr=lr, warmup=warmup
        )
        training_seconds = time.process_time() - started
        scores = {}
        for part, labels, start in [("validation", validation, n), ("test", test, n + 1000)]:
            predicted = text.predict(classifier, inputs[start : start + 1000])
            scores[part] = float((predicted == labels.label.to_numpy()).mean())
        row = {
            "option": name,
            "training_snippets": n,
            "trainable_parameters": sum(
                p.numel() for p in classifier.parameters() if p.requires_grad
            ),
            "epochs": epochs,
            "learning_rate": lr,
            "cache_cpu_seconds": round(cache_seconds),
            "training_cpu_seconds": round(training_seconds),
            "validation_accuracy": scores["validation"],
            "test_accuracy": scores["test"],
        }
        print(row, flush=True)
        save(row)


def processor() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown processor"


def save(row: dict) -> None:
    """Add one measured row to the table, replacing an earlier row of the same option."""
    row = {**row, "measured": f"{date.today()}, {processor()}, 1 thread"}
    with open(Path(tempfile.gettempdir()) / "fine_tuning_options.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two processes may measure at once
        table = pd.read_csv(OUTPUT) if OUTPUT.exists() else pd.DataFrame()
        if len(table):
            table = table[table.option != row["option"]]
        table = pd.concat([table, pd.DataFrame([row])], ignore_index=True)
        order = {name: i for i, name in enumerate(OPTIONS)}
        table = table.sort_values("option", key=lambda c: c.map(order)).reset_index(drop=True)
        table.to_csv(OUTPUT, index=False)


if __name__ == "__main__":
    main(sys.argv[1:])
