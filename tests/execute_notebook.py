"""Execute notebooks top to bottom, in place, so their committed outputs are real.

Usage (through make): make execute NB=notebooks/01_rise_of_large_models.ipynb

Each notebook runs in a fresh kernel of this environment with its own folder
as working directory, as nbval runs it. Timing metadata is not recorded, so a
re-run only changes the file where an output changed.
"""

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

TIME_BUDGET_S = 120  # the book's limit per notebook on 2 CPU cores
LONGER_BUDGETS_S = {"06b_fine_tuning_a_classifier.ipynb": 300}  # fine-tuning may take 5 min


def client_for(notebook, folder: Path, *, allow_errors: bool = False) -> NotebookClient:
    """A client that runs ``notebook`` in a fresh kernel with ``folder`` as working directory.

    Also used by tests/student, which lets the unanswered exercises fail.
    """
    return NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        record_timing=False,
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(folder)}},
    )


def execute(path: Path) -> float:
    notebook = nbformat.read(path, as_version=4)
    client = client_for(notebook, path.parent)
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start
    nbformat.write(notebook, path)
    return elapsed


def main(paths: list[str]) -> int:
    if not paths:
        print(__doc__)
        return 2
    slow = []
    for name in paths:
        path = Path(name)
        if path.suffix != ".ipynb" or not path.is_file():
            print(f"not a notebook file: {name}")
            return 2
        elapsed = execute(path)
        print(f"{path}: executed in {elapsed:.1f} s")
        if elapsed > LONGER_BUDGETS_S.get(path.name, TIME_BUDGET_S):
            slow.append(path)
    if slow:
        print(f"over their time budget: {', '.join(map(str, slow))}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
