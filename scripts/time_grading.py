"""Time nbgrader's autograding of one submission per chapter: ``make time-grading``.

For each chapter the script writes the nbgrader course (``scripts/assignments.py``) in a
temporary folder, releases the assignments, submits each release version with the
solutions filled in (``assignments.answered``), and runs ``nbgrader autograde`` on it
alone, timing the command. It writes ``book/grading-times.csv``: the assignment, the
seconds of one submission, the minutes of a class of 40 run one after the other, and the
autograded points earned out of those available. The instructor guide's table
("Grading with nbgrader") is this file; a test checks that they agree.

Run it on a quiet machine: the times are wall-clock times of the whole command.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path

import assignments
from execute_notebook import machine

OUTPUT = assignments.ROOT / "book" / "grading-times.csv"
CLASS_SIZE = 40
STUDENT = "solutions"
SEED = 20261204


def auto_points(course: Path, name: str, notebook: str) -> tuple[float, float]:
    """The points the autograded cells earned and the points they were worth."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        graded = gradebook.find_submission_notebook(notebook, name, STUDENT)
        checks = [g for g in graded.grades if g.cell.name.endswith("_check")]
        return sum(g.auto_score or 0 for g in checks), sum(g.max_score for g in checks)


def time_one(notebook: Path, work: Path) -> dict[str, str]:
    name = assignments.assignment_name(notebook)
    course = work / name
    assignments.write_course([notebook], course, seed=SEED)
    assignments.release(course, [name])
    versions = {
        kind: json.loads((course / kind / name / notebook.name).read_text(encoding="utf-8"))
        for kind in ("release", "source")
    }
    submission = assignments.answered(versions["release"], versions["source"])
    folder = course / "submitted" / STUDENT / name
    folder.mkdir(parents=True)
    (folder / notebook.name).write_text(json.dumps(submission), encoding="utf-8")
    start = time.perf_counter()
    done = assignments.nbgrader(course, "autograde", name, "--create")
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"nbgrader autograde {name} failed:\n{done.stderr[-3000:]}")
    earned, available = auto_points(course, name, notebook.stem)
    return {
        "assignment": name,
        "seconds": f"{seconds:.0f}",
        "class_of_40_minutes": f"{CLASS_SIZE * seconds / 60:.0f}",
        "auto_points": f"{earned:g}",
        "auto_points_available": f"{available:g}",
        "machine": machine(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every chapter")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted(assignments.NOTEBOOKS.glob("*.ipynb"))
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for notebook in notebooks:
            rows.append(time_one(notebook, Path(work)))
            row = rows[-1]
            print(
                f"{row['assignment']}: {row['seconds']} s, "
                f"{row['auto_points']} of {row['auto_points_available']} points",
                flush=True,
            )
    with args.output.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
