"""Colab's CPU runtimes as pip freeze files: scripts/colab/<runtime>.txt, and how to refresh them.

Google publishes what its Colab runtime has installed in the repository
googlecolab/backend-info: ``pip-freeze.txt`` (the CPU runtime) and ``os-info.txt`` (its
Python) at the head of ``main`` describe the default runtime, and its README lists the past
runtimes a notebook can be pinned to ("### 2026.07"), each with the commit that holds its
files. ``make test-colab`` (scripts/colab_runs.py) rebuilds those runtimes from these files.

Usage, from the repository root::

    python scripts/colab_runtimes.py refresh                 # clone from GitHub (online)
    python scripts/colab_runtimes.py refresh --from DIR      # a local clone or bare snapshot
    python scripts/colab_runtimes.py refresh --past 2        # keep the two newest past runtimes
    python scripts/colab_runtimes.py list                    # what is stored, one line each

``refresh`` writes ``default.txt`` and one file per past runtime (``2026.07.txt``), each the
freeze verbatim under a header that names the source repository, path, commit and its date,
the runtime and its Python; files of runtimes no longer listed are removed. Needs ``git``.
"""

import argparse
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parents[1]
RUNTIMES = ROOT / "scripts" / "colab"
SOURCE = "https://github.com/googlecolab/backend-info"
FREEZE_PATH = "pip-freeze.txt"  # the CPU runtime; pip-freeze.gpu.txt and .tpu.txt are others
OS_INFO_PATH = "os-info.txt"
DEFAULT_BRANCH = "main"

PAST_HEADING = re.compile(r"^###\s+(\d{4}\.\d{2})\s*$", re.MULTILINE)
TREE_LINK = re.compile(r"backend-info/tree/([0-9a-f]{40})")
PYTHON_LINE = re.compile(r"^Python (\d+\.\d+\.\d+)\s*$", re.MULTILINE)
HEADER_FIELD = re.compile(r"^# ([a-z-]+): (.*)$")
WHEEL_NAME = re.compile(r"^([^-]+)-([^-]+)-.*\.whl$")


@dataclass(frozen=True)
class Pin:
    """One line of a freeze: a version, and the address pip installed it from if it named one."""

    version: str | None  # the public version (a local label such as "+cpu" dropped)
    url: str | None = None


@dataclass(frozen=True)
class Runtime:
    """A stored freeze file: the runtime's name, where it came from, and its pins."""

    name: str
    python: str  # Colab's full version, e.g. "3.13.15"
    commit: str
    date: str  # the commit's date, YYYY-MM-DD
    pins: dict[str, Pin] = field(default_factory=dict)  # canonical name -> pin

    @property
    def python_minor(self) -> str:
        """The minor version the environment is built with, e.g. "3.13"."""
        return ".".join(self.python.split(".")[:2])

    def version(self, name: str) -> str | None:
        """The pinned version of a distribution, or None when the runtime lacks it."""
        pin = self.pins.get(canonical(name))
        return pin.version if pin else None


def canonical(name: str) -> str:
    """A distribution name as packaging compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def public_version(version: str) -> str:
    """The version without its local label: ``2.11.0+cpu`` -> ``2.11.0``."""
    return version.split("+", 1)[0]


def parse_line(line: str) -> tuple[str, Pin] | None:
    """One freeze line as (canonical name, pin), or None for comments and blank lines.

    ``name==version`` pins a version; ``name @ URL`` names a direct URL, whose version is
    read from a wheel's file name (``torch-2.11.0%2Bcpu-cp313-...whl``) and is None for
    anything else (``git+https://...``, a local sdist).
    """
    line = line.split("#", 1)[0].strip() if not line.lstrip().startswith("#") else ""
    if not line:
        return None
    if " @ " in line:
        name, url = (part.strip() for part in line.split(" @ ", 1))
        wheel = WHEEL_NAME.match(unquote(url.rsplit("/", 1)[-1].split("#", 1)[0]))
        version = public_version(wheel.group(2)) if wheel else None
        return canonical(name), Pin(version, url)
    name, _, version = line.partition("==")
    if not version:
        return canonical(name), Pin(None)
    return canonical(name), Pin(public_version(version.strip()))


def parse_freeze(text: str) -> dict[str, Pin]:
    """Every pin of a pip freeze, by canonical name."""
    return dict(pin for pin in map(parse_line, text.splitlines()) if pin is not None)


def parse_header(text: str) -> dict[str, str]:
    """The ``# key: value`` lines this script writes at the top of a stored freeze file."""
    fields = {}
    for line in text.splitlines():
        match = HEADER_FIELD.match(line)
        if not match:
            break
        fields[match.group(1)] = match.group(2).strip()
    return fields


def read_runtime(path: Path) -> Runtime:
    """A stored freeze file (scripts/colab/<name>.txt) as a Runtime."""
    text = path.read_text(encoding="utf-8")
    fields = parse_header(text)
    missing = {"runtime", "python", "commit", "date"} - fields.keys()
    if missing:
        raise ValueError(f"{path}: header lacks {', '.join(sorted(missing))}")
    return Runtime(
        name=path.stem,
        python=fields["python"],
        commit=fields["commit"],
        date=fields["date"],
        pins=parse_freeze(text),
    )


def stored_runtimes(folder: Path = RUNTIMES) -> list[Runtime]:
    """Every stored runtime, the default first, then the past ones newest first."""
    runtimes = sorted(
        (read_runtime(path) for path in folder.glob("*.txt")),
        key=lambda runtime: runtime.name,
        reverse=True,
    )
    return sorted(runtimes, key=lambda runtime: runtime.name != "default")


def past_runtimes(readme: str) -> list[tuple[str, str]]:
    """(name, commit) of each past runtime the README lists, in its order (newest first)."""
    found = []
    headings = list(PAST_HEADING.finditer(readme))
    for heading, following in zip(headings, [*headings[1:], None], strict=True):
        section = readme[heading.end() : following.start() if following else len(readme)]
        link = TREE_LINK.search(section)
        if link:
            found.append((heading.group(1), link.group(1)))
    return found


def python_version(os_info: str) -> str:
    """The Python version that os-info.txt reports ("Python 3.13.15" -> "3.13.15")."""
    match = PYTHON_LINE.search(os_info)
    if not match:
        raise ValueError("os-info.txt names no Python version")
    return match.group(1)


def header(name: str, description: str, commit: str, date: str, python: str) -> str:
    """The lines written above a stored freeze (read back by parse_header)."""
    return "".join(
        f"# {key}: {value}\n"
        for key, value in (
            ("runtime", f"{name} ({description})"),
            ("python", python),
            ("source", f"{SOURCE}, {FREEZE_PATH} (CPU runtime)"),
            ("commit", commit),
            ("date", date),
            ("url", f"{SOURCE}/blob/{commit}/{FREEZE_PATH}"),
            ("refresh", "python scripts/colab_runtimes.py refresh"),
        )
    )


def git(repository: Path, *arguments: str) -> str:
    """The output of a git command in ``repository`` (a clone, bare or not)."""
    command = ["git", "--git-dir", str(git_dir(repository)), *arguments]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def git_dir(repository: Path) -> Path:
    """The git directory of a clone (``.git`` inside a work tree) or of a bare repository."""
    return repository / ".git" if (repository / ".git").exists() else repository


def default_revision(repository: Path) -> str:
    """The head of ``main`` (a branch in a bare snapshot, or origin's in a clone)."""
    for revision in (DEFAULT_BRANCH, f"origin/{DEFAULT_BRANCH}", "HEAD"):
        try:
            return git(repository, "rev-parse", "--verify", f"{revision}^{{commit}}").strip()
        except subprocess.CalledProcessError:
            continue
    raise ValueError(f"{repository}: no {DEFAULT_BRANCH} branch")


def commit_date(repository: Path, commit: str) -> str:
    """The date a commit was made, YYYY-MM-DD."""
    return git(repository, "log", "-1", "--format=%cs", commit).strip()


def stored_text(repository: Path, name: str, description: str, commit: str) -> str:
    """A runtime's freeze file as stored: the header, then Colab's freeze verbatim."""
    freeze = git(repository, "show", f"{commit}:{FREEZE_PATH}")
    python = python_version(git(repository, "show", f"{commit}:{OS_INFO_PATH}"))
    top = header(name, description, commit, commit_date(repository, commit), python)
    return top + freeze


def refresh(repository: Path, past: int = 1, folder: Path = RUNTIMES) -> list[Path]:
    """Write the default runtime and the ``past`` newest past ones; remove other stored files."""
    head = default_revision(repository)
    wanted = [("default", "the current default runtime", head)]
    readme = git(repository, "show", f"{head}:README.md")
    for name, commit in past_runtimes(readme)[:past]:
        wanted.append((name, "a past runtime a notebook can be pinned to", commit))
    # Every file is read before any is written, so that a failure leaves the old set.
    texts = {name: stored_text(repository, name, text, commit) for name, text, commit in wanted}
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in texts.items():
        path = folder / f"{name}.txt"
        path.write_text(text, encoding="utf-8")
        written.append(path)
    for stale in set(folder.glob("*.txt")) - set(written):
        stale.unlink()
    return written


def clone(into: Path) -> Path:
    """A bare, blob-less clone of the source repository (needs GitHub)."""
    target = into / "backend-info.git"
    command = ["git", "clone", "--quiet", "--bare", "--filter=blob:none", SOURCE, str(target)]
    subprocess.run(command, check=True)
    return target


def describe(runtime: Runtime) -> str:
    """One line about a stored runtime: its Python and main libraries, and its source."""
    main = ("torch", "tensorflow", "keras", "transformers", "numpy")
    versions = ", ".join(f"{name} {runtime.version(name)}" for name in main)
    return (
        f"{runtime.name}: Python {runtime.python}, {versions}; "
        f"commit {runtime.commit[:12]} of {runtime.date}"
    )


def main(arguments: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    commands = parser.add_subparsers(dest="command", required=True)
    update = commands.add_parser("refresh", help="rewrite scripts/colab/*.txt")
    update.add_argument("--from", dest="source", type=Path, help="a local clone or snapshot")
    update.add_argument("--past", type=int, default=1, help="how many past runtimes to keep")
    commands.add_parser("list", help="describe the stored runtimes")
    options = parser.parse_args(arguments)
    if options.command == "refresh":
        with tempfile.TemporaryDirectory() as scratch:
            try:
                repository = options.source or clone(Path(scratch))
                written = refresh(repository, options.past)
            except subprocess.CalledProcessError as failure:
                print(f"git failed: {' '.join(failure.cmd)}\n{failure.stderr or ''}".rstrip())
                print(f"(offline? clone {SOURCE} elsewhere and pass --from DIR)")
                return 1
            except ValueError as failure:
                print(failure)
                return 1
        for path in written:
            print(f"wrote {path.relative_to(ROOT)}")
    for runtime in stored_runtimes():
        print(describe(runtime))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
