"""Execute notebooks top to bottom in fresh kernels, and time them.

Usage (through make):

    make execute NB=notebooks/01_rise_of_large_models.ipynb   # refresh committed outputs
    make execute-all                                           # every notebook
    make bench                                                 # time every notebook only

Each notebook runs in a fresh kernel of this environment with its own folder as
working directory, as nbval runs it. ``make execute`` writes the outputs back in
place (timing metadata is not recorded, so a re-run changes the file only where an
output changed); ``make bench`` (``--time-only``) leaves the notebooks untouched.
Both record each notebook's wall-clock time, its budget and the machine in
book/notebook-times.csv, the table the book's stated run times come from
(tests/project/test_layout.py keeps them consistent); a Chinese notebook
(``notebooks/zh/``) runs the same code, and only its English one is recorded. Time is
measured, never asserted.

Before it runs, ``make execute`` brings each notebook's Colab link and set-up cell up
to date with the two settings they derive from: ``repository.url`` in _config.yml and
the version in pyproject.toml. A fork changes the first and re-executes the notebooks.
"""

import csv
import os
import platform
import re
import sys
import time
import tomllib
from pathlib import Path

import nbformat
import yaml
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
TIMES = ROOT / "book" / "notebook-times.csv"
FIELDS = ["notebook", "seconds", "budget_seconds", "within_budget", "threads", "machine"]
BUDGET_S = 120  # the book's limit per notebook on 2 CPU cores
LONGER_BUDGETS_S = {"06b_fine_tuning_a_classifier.ipynb": 300}  # fine-tuning may take 5 min


SETUP_HEAD = """\
# Colab setup: install the course package at the version this notebook was run with
# (from the package index, else from the repository's tag for that version), then
# report the runtime.
import importlib.metadata
import subprocess
import sys

LMBOOK = "{version}"
REPO = "{repository}"
try:
    found = importlib.metadata.version("lmbook")
except importlib.metadata.PackageNotFoundError:
    found = None
if found != LMBOOK:
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    installed = subprocess.run([*pip, f"lmbook=={{LMBOOK}}"], capture_output=True)
    if installed.returncode != 0:
        subprocess.run([*pip, f"lmbook @ git+{{REPO}}@v{{LMBOOK}}"], check=True)

"""


def settings() -> tuple[str, str, str]:
    """The repository URL, its branch, and lmbook's version: what the notebooks name."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    repository = config["repository"]
    return repository["url"].rstrip("/"), repository["branch"], project["project"]["version"]


def colab_url(name: str) -> str:
    """The Open-in-Colab address of notebook ``name`` in the configured repository."""
    url, branch, _ = settings()
    owner_repo = url.removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{owner_repo}/blob/{branch}/notebooks/{name}"


def pins() -> dict[str, str]:
    """The exact version of each package in requirements*.txt, by normalised name."""
    found = {}
    for requirements in ("requirements.txt", "requirements-nodeps.txt"):
        for line in (ROOT / requirements).read_text(encoding="utf-8").splitlines():
            match = re.match(r"([A-Za-z0-9._-]+)==([^\s;]+)\s*$", line)
            if match:
                found[re.sub(r"[-_.]+", "-", match.group(1).lower())] = match.group(2)
    return found


def pin_packages(code: str) -> str:
    """Pin each requirement of the ``ensure_packages`` calls in ``code`` to requirements*.txt.

    On Colab the chapter then gets the data and model packages it was executed with.
    """
    versions = pins()

    def pinned(match: re.Match) -> str:
        name = re.sub(r"[-_.]+", "-", match.group(2).lower())
        if name not in versions:
            raise ValueError(f"{match.group(2)} is installed by a set-up cell but not pinned")
        return f'{match.group(1)}{match.group(2)}=={versions[name]}"'

    return re.sub(r'("[\w.]+": ")([A-Za-z0-9._-]+)(?:==[^"]*)?"', pinned, code)


# A link to a chapter on Colab: the notebook's own "Open in Colab" and links to other chapters.
COLAB_LINK = re.compile(
    r"https://colab\.research\.google\.com/github/[^/\s)]+/[^/\s)]+/blob/[^/\s)]+"
    r"/notebooks/([\w.-]+\.ipynb)"
)


def sync_setup(notebook, name: str) -> None:
    """Point the notebook's Colab links and set-up cell at the configured repository and
    version, and pin the packages the cell installs to requirements*.txt."""
    url, _, version = settings()
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = COLAB_LINK.sub(lambda link: colab_url(link.group(1)), cell.source)
    setup = next(cell for cell in notebook.cells if cell.cell_type == "code")
    if "colab-setup" not in setup.metadata.get("tags", []):
        raise ValueError(f"{name}: the first code cell is not tagged colab-setup")
    _, marker, rest = setup.source.partition("from lmbook import env")
    if not marker:
        raise ValueError(f"{name}: the set-up cell does not import lmbook.env")
    setup.source = SETUP_HEAD.format(version=version, repository=url) + marker + pin_packages(rest)


def budget(name: str) -> int:
    """The time budget of a notebook, in seconds on a 2-core CPU."""
    return LONGER_BUDGETS_S.get(name, BUDGET_S)


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


def machine() -> str:
    """The processor, its core count and the Python that ran, for the table."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    return (
        f"{model}, {os.cpu_count()} cores, {platform.system()}, Python {platform.python_version()}"
    )


def read_times(path: Path = TIMES) -> dict[str, dict[str, str]]:
    """The committed table, one row per notebook."""
    if not path.exists():
        return {}
    with path.open(encoding="utf-8", newline="") as file:
        return {row["notebook"]: row for row in csv.DictReader(file)}


def write_times(rows: dict[str, dict[str, str]], path: Path = TIMES) -> None:
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows[name] for name in sorted(rows))


def execute(path: Path, *, write: bool = True) -> float:
    """Run one notebook; write its outputs back if ``write``; return the seconds it took."""
    notebook = nbformat.read(path, as_version=4)
    if write:
        sync_setup(notebook, path.name)
    client = client_for(notebook, path.parent)
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start
    if write:
        nbformat.write(notebook, path)
    return elapsed


def main(arguments: list[str]) -> int:
    write = "--time-only" not in arguments
    names = [name for name in arguments if name != "--time-only"]
    if not names:
        print(__doc__)
        return 2
    paths = [Path(name) for name in names]
    for path in paths:
        if path.suffix != ".ipynb" or not path.is_file():
            print(f"not a notebook file: {path}")
            return 2
    rows = read_times()
    for path in paths:
        elapsed = execute(path, write=write)
        limit = budget(path.name)
        print(f"{path}: executed in {elapsed:.1f} s (budget {limit} s)")
        if path.resolve().parent.name == "zh":  # a Chinese notebook: its English one is timed
            continue
        rows[path.name] = {
            "notebook": path.name,
            "seconds": f"{elapsed:.0f}",
            "budget_seconds": str(limit),
            "within_budget": "yes" if elapsed <= limit else "no",
            "threads": os.environ.get("OMP_NUM_THREADS", "default"),
            "machine": machine(),
        }
        write_times(rows)
    over = [name for name, row in rows.items() if row["within_budget"] != "yes"]
    print(f"times written to {TIMES.relative_to(ROOT)}")
    if over:
        print(f"over their time budget: {', '.join(over)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
