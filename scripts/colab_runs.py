"""Run every notebook as Colab's CPU runtimes would: `make test-colab`.

For each runtime stored in scripts/colab/ (the default one and the past one a notebook can be
pinned to; scripts/colab_runtimes.py refreshes them), this script

1. builds a base environment with that runtime's Python minor version, holding the packages
   of Colab's freeze that the notebooks use, at Colab's versions (choose_packages says which);
2. for each notebook, makes a fresh environment from the base (a hard-linked copy, never
   reused), and executes the notebook top to bottom in a kernel of that environment, in an
   empty working folder with a fresh home folder, as a new Colab session does. The notebook's
   own set-up cell installs lmbook (``pip install lmbook==VERSION``, which finds the wheel built
   here from the working tree through PIP_FIND_LINKS) and whatever else Colab lacks;
3. writes notebook, runtime, pass or fail, seconds and the first error to book/colab-runs.csv
   (rows of earlier runs for other notebooks or runtimes are kept) and book/colab-runs.md.

Usage (through make, which passes the variables on)::

    make test-colab                                     # every runtime, every notebook
    make test-colab COLAB_RUNTIMES=default COLAB_NOTEBOOKS="06d 10"
    make test-colab COLAB_CHINESE=1 COLAB_NOTEBOOKS=01       # the Chinese notebooks/zh/
    .venv/bin/python scripts/colab_runs.py --help

Everything large lives in the work folder (``--work``, default ~/.cache/lmbook-colab): uv
(installed there on first use), its download cache, the base environments (rebuilt only when
their freeze file or package choice changes) and the executed notebooks of the last run. The
README says how long a run takes. Needs the network to the package index.
"""

import argparse
import csv
import datetime
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat
from check_platforms import KEPT_PIP_VARIABLES
from colab_runtimes import Runtime, canonical, stored_runtimes
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
RESULTS_CSV = ROOT / "book" / "colab-runs.csv"
RESULTS_MD = ROOT / "book" / "colab-runs.md"
WORK = Path.home() / ".cache" / "lmbook-colab"
UV_VERSION = "0.13.9"
CELL_TIMEOUT_S = 1800  # generous: a stuck cell, not a slow one, should fail
FIELDS = [
    "runtime",
    "notebook",
    "result",
    "seconds",
    "first_error",
    "date",
    "lmbook",
    "course",
    "freeze",
    "python",
    "colab_python",
    "torch",
    "tensorflow",
    "keras",
    "transformers",
    "numpy",
]
MAIN_LIBRARIES = ("torch", "tensorflow", "keras", "transformers", "numpy")

# Which of the freeze's distributions a base environment holds: those the course's
# requirements.in names (the notebooks' imports), the kernel and pip that a Colab session runs
# the notebook with, and every other one whose module the notebooks' processes look for (an
# import in a try block, or a find_spec probe such as transformers' is_torchvision_available):
# present or absent as on Colab, each can change which code runs. USED_WHEN_PRESENT was found
# with --trace-imports (which prints, for each notebook, the modules looked for and not found
# whose distribution Colab has), added to until a run of every notebook on both runtimes
# printed none; rerun it when the notebooks' imports change. Each is installed at Colab's
# version, with dependencies resolved under the whole freeze as constraints. Course packages
# that Colab lacks are left for the notebooks' set-up cells to install, as on Colab. Left out:
# the rest of the freeze (about 400 distributions no notebook looks for), and what cannot be
# had from PyPI (google-colab, Colab's kernel gateway, a spaCy model from GitHub).
KERNEL = ("pip", "setuptools", "wheel", "ipykernel", "ipython", "ipywidgets")
USED_WHEN_PRESENT = (
    # pandas' optional accelerators and formats
    "bottleneck",
    "numexpr",
    "pyarrow",
    "tabulate",
    "xarray",
    # PyTorch's and TensorFlow's (graph drawing, pickling, nested structures, JAX for Keras)
    "cython",
    "dill",
    "dm-tree",
    "jax",
    "pydot",
    "pydotplus",
    # transformers' is_*_available probes (and pooch's, scikit-image's data loader: xxhash)
    "librosa",
    "opencv-python-headless",
    "peft",
    "sentencepiece",
    "soundfile",
    "timm",
    "torchao",
    "torchaudio",
    "torchcodec",
    "torchvision",
    "wandb",
    "xxhash",
    # looked for by JAX, TensorFlow and googleapiclient once those are present
    "cloudpickle",
    "etils",
    "oauth2client",
    # the HTTP stack's (requests, urllib3, httpx, googleapiclient)
    "brotli",
    "chardet",
    "google-api-python-client",
    "h2",
    "pysocks",
    "simplejson",
    "sniffio",
    "zstandard",
)
# Course tools that no notebook imports (building, testing, the website).
NOT_FOR_NOTEBOOKS = {
    "jupyter-book",
    "nbval",
    "pytest",
    "pytest-xdist",
    "ruff",
    "build",
    "twine",
    "playwright",
}
# Names the course and Colab give the same library.
SAME_AS = {"tensorflow-cpu": "tensorflow"}
# Colab's CPU runtime has PyTorch's CPU build from PyTorch's own index; from PyPI, Linux gets
# the CUDA build, which cannot load without these libraries and pins its own versions of them.
# They stay unconstrained and are the only distributions kept that Colab's freeze lacks.
CUDA_PREFIXES = ("nvidia-", "cuda-")

# The kernel's environment: a fresh Colab session's, not this shell's. Only these variables
# pass through (locale, certificates, proxies, pip's network settings); the course Makefile's
# exports (HF_HUB_OFFLINE, OMP_NUM_THREADS, TF_CPP_MIN_LOG_LEVEL, ...) do not.
PASSED_VARIABLES = {
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TERM",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    *KEPT_PIP_VARIABLES,
}
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class Result:
    """One notebook run on one runtime: a row of book/colab-runs.csv."""

    runtime: str
    notebook: str
    result: str  # "pass" or "fail"
    seconds: str
    first_error: str
    date: str
    lmbook: str
    course: str  # the commit of the course that ran (git describe --dirty)
    freeze: str  # the commit of Colab's freeze, and its date
    python: str  # the interpreter that ran here
    colab_python: str  # the one Colab runs
    torch: str
    tensorflow: str
    keras: str
    transformers: str
    numpy: str


# ---- which packages -------------------------------------------------------------------------


def requirement_names(text: str) -> list[str]:
    """The distribution names of a requirements file, canonical, in order, without repeats."""
    names = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
        if match and canonical(match.group(0)) not in names:
            names.append(canonical(match.group(0)))
    return names


def choose_packages(course: list[str], runtime: Runtime) -> tuple[list[str], list[str]]:
    """(what the base installs, the course packages Colab lacks) for a runtime.

    ``course`` is requirements.in's names. The first list is every name of the course, of the
    kernel and of USED_WHEN_PRESENT that the freeze has (tools no notebook imports left out);
    the second, course packages the freeze lacks: the set-up cells install those.
    """
    wanted = [SAME_AS.get(name, name) for name in course if name not in NOT_FOR_NOTEBOOKS]
    chosen, absent = [], []
    for name in [*wanted, *KERNEL, *USED_WHEN_PRESENT]:
        name = canonical(name)
        target = chosen if runtime.version(name) else absent
        if name not in chosen and name not in absent:
            target.append(name)
    return chosen, [name for name in absent if name in wanted]


def is_cuda_library(name: str) -> bool:
    """Whether a distribution is one of the CUDA libraries PyPI's PyTorch build needs."""
    return canonical(name).startswith(CUDA_PREFIXES)


def constraints(runtime: Runtime) -> list[str]:
    """``name==version`` for every versioned pin of the freeze but the CUDA libraries."""
    return [
        f"{name}=={pin.version}"
        for name, pin in sorted(runtime.pins.items())
        if pin.version and not is_cuda_library(name)
    ]


def extras(installed: dict[str, str], runtime: Runtime) -> list[str]:
    """Installed distributions that Colab's freeze lacks, other than the CUDA libraries.

    A dependency the resolver pulled in although Colab's runtime does without it (PyTorch's
    CUDA build requires Triton, ipython 7 requires jedi): the base removes them.
    """
    return sorted(
        name for name in installed if name not in runtime.pins and not is_cuda_library(name)
    )


def parse_freeze_output(text: str) -> dict[str, str]:
    """``uv pip freeze`` output as canonical name -> version."""
    installed = {}
    for line in text.splitlines():
        name, separator, version = line.partition("==")
        if separator:
            installed[canonical(name.strip())] = version.strip()
    return installed


# ---- results --------------------------------------------------------------------------------


def first_error(notebook: nbformat.NotebookNode) -> str:
    """``cell N: Name: message`` for the first cell with an error output, or ""."""
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                message = f"{output.get('ename', '')}: {output.get('evalue', '')}"
                return f"cell {index}: {one_line(message)}"
    return ""


def unfinished(notebook: nbformat.NotebookNode, failure: Exception) -> str:
    """``cell N: Name: message`` for a run that stopped in a cell without an error output.

    A kernel that dies or a cell that times out leaves none; the cell is the one that began
    and never replied (nbclient's timing metadata).
    """
    message = f"{type(failure).__name__}: {one_line(str(failure), 200)}"
    for index, cell in enumerate(notebook.cells):
        timing = cell.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in timing and "shell.execute_reply" not in timing:
            return f"cell {index}: {message}"
    return message


def one_line(text: str, limit: int = 300) -> str:
    """Text on one line, ANSI colours removed, cut to ``limit`` characters."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def merge(old: list[dict[str, str]], new: list[dict[str, str]]) -> list[dict[str, str]]:
    """Rows of both, a new row replacing an old one of the same runtime and notebook."""
    rows = {(row["runtime"], row["notebook"]): row for row in old}
    rows.update({(row["runtime"], row["notebook"]): row for row in new})
    return [rows[key] for key in sorted(rows, key=runtime_order)]


def runtime_order(key: tuple[str, str]) -> tuple[bool, str, str]:
    """Sort key: the default runtime first, then past ones newest first, notebooks in order."""
    runtime, notebook = key
    inverted = "".join(chr(0x10FFFF - ord(char)) for char in runtime)
    return runtime != "default", inverted, notebook


def read_rows(path: Path) -> list[dict[str, str]]:
    """The stored results, or none."""
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


def write_rows(rows: list[dict[str, str]], path: Path) -> None:
    """Write the results as CSV."""
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def markdown(rows: list[dict[str, str]]) -> str:
    """The results as a Markdown page: one summary line per runtime, then the table."""
    lines = [
        "# The notebooks on Colab's CPU runtimes",
        "",
        "Written by `make test-colab` (scripts/colab_runs.py; the README says how it works);",
        "the same rows are in `colab-runs.csv`. Each notebook ran in a fresh environment built",
        "from Colab's published freeze of that runtime (scripts/colab/), its set-up cell",
        "installing lmbook and what Colab lacks. Seconds include that installation.",
        "",
    ]
    for runtime in dict.fromkeys(row["runtime"] for row in rows):
        mine = [row for row in rows if row["runtime"] == runtime]
        passed = sum(row["result"] == "pass" for row in mine)
        last = mine[-1]
        versions = ", ".join(f"{name} {last[name]}" for name in MAIN_LIBRARIES)
        dates = sorted({row["date"] for row in mine})
        courses = ", ".join(sorted({row["course"] for row in mine}))
        lines.append(
            f"- **{runtime}** (freeze {last['freeze']}): {passed} of {len(mine)} passed; "
            f"Colab's Python {last['colab_python']} (run here with {last['python']}), "
            f"{versions}; lmbook {', '.join(sorted({row['lmbook'] for row in mine}))} "
            f"(course {courses}); run {', '.join(dates)}."
        )
    lines += [
        "",
        "| notebook | runtime | result | seconds | first error |",
        "|---|---|---|---:|---|",
    ]
    for row in rows:
        error = row["first_error"].replace("|", "\\|")
        lines.append(
            f"| {row['notebook']} | {row['runtime']} | {row['result']} | {row['seconds']} "
            f"| {error} |"
        )
    return "\n".join(lines) + "\n"


# ---- environments ---------------------------------------------------------------------------


def run(command: list[str | Path], **options) -> str:
    """Run a command, fail with its output when it fails, return its standard output."""
    done = subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, **options
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, command))} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def uv(work: Path) -> Path:
    """The uv executable, installed into the work folder on first use."""
    tools = work / "tools"
    executable = tools / "bin" / "uv"
    if not executable.exists():
        run([sys.executable, "-m", "venv", tools])
        run([tools / "bin" / "python", "-m", "pip", "install", "-q", f"uv=={UV_VERSION}"])
    return executable


def uv_environment(work: Path) -> dict[str, str]:
    """uv's settings: a cache in the work folder, hard links from it, PyPI only."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("UV_")}
    environment |= {
        "UV_CACHE_DIR": str(work / "uv-cache"),
        "UV_LINK_MODE": "hardlink",
        "UV_NO_CONFIG": "1",
        "UV_PYTHON_DOWNLOADS": "never",
    }
    return environment


def find_python(minor: str, given: list[Path]) -> Path:
    """An interpreter of a minor version: one given, ``pythonX.Y`` on PATH, or pyenv's."""
    candidates = [*given]
    if shutil.which(f"python{minor}"):
        candidates.append(Path(shutil.which(f"python{minor}")))
    pyenv = Path.home() / ".pyenv" / "versions"
    candidates += sorted(pyenv.glob(f"{minor}.*/bin/python{minor}"), reverse=True)
    for candidate in candidates:
        probe = subprocess.run(
            [str(candidate), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
        )
        if probe.returncode == 0 and probe.stdout.strip() == minor:
            return candidate
    raise RuntimeError(f"no Python {minor} found: pass one with --python /path/to/python{minor}")


def python_version(python: Path) -> str:
    """The full version of an interpreter, e.g. 3.13.0."""
    return run([python, "-c", "import platform; print(platform.python_version())"]).strip()


def base_recipe(python: Path, packages: list[str], pins: list[str]) -> str:
    """A digest of what a base environment is built from; a change rebuilds it."""
    recipe = {"python": str(python), "packages": packages, "pins": pins, "uv": UV_VERSION}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()


def build_base(work: Path, runtime: Runtime, python: Path, course: list[str]) -> Path:
    """The runtime's base environment, built unless an identical one exists; returns it."""
    base = work / runtime.name / "base"
    stamp = base / "colab-base.json"
    packages, _ = choose_packages(course, runtime)
    pins = constraints(runtime)
    recipe = base_recipe(python, packages, pins)
    if stamp.exists() and json.loads(stamp.read_text())["recipe"] == recipe:
        return base
    start = time.perf_counter()
    shutil.rmtree(base, ignore_errors=True)
    base.parent.mkdir(parents=True, exist_ok=True)
    tool, environment = uv(work), uv_environment(work)
    run([tool, "venv", "--quiet", "--python", python, base], env=environment, cwd=work)
    pin_file = work / runtime.name / "constraints.txt"
    pin_file.write_text("\n".join(pins) + "\n", encoding="utf-8")
    target = ["--python", base / "bin" / "python"]
    install = [tool, "pip", "install", "--quiet", "--compile-bytecode", *target, "-c", pin_file]
    run([*install, *packages], env=environment, cwd=work)
    freeze = [tool, "pip", "freeze", *target]
    removed = extras(parse_freeze_output(run(freeze, env=environment, cwd=work)), runtime)
    if removed:
        run([tool, "pip", "uninstall", "--quiet", *target, *removed], env=environment, cwd=work)
    installed = run(freeze, env=environment, cwd=work)
    (base / "colab-installed.txt").write_text(installed, encoding="utf-8")
    seconds = round(time.perf_counter() - start)
    record = {"recipe": recipe, "removed": removed, "seconds": seconds, "packages": packages}
    stamp.write_text(json.dumps(record, indent=1), encoding="utf-8")
    count = len(parse_freeze_output(installed))
    print(f"{runtime.name}: base built in {seconds} s, {count} distributions ({base})")
    print(f"  removed, as Colab lacks them: {', '.join(removed) or 'none'}")
    return base


def clone(base: Path, target: Path) -> None:
    """A fresh environment from the base: files hard-linked, paths that name the base fixed.

    Installing into it replaces files (pip and uv write new ones and rename), so the base's
    files are never written through the links; ``changed_since_build`` checks that.
    """
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    run(["cp", "-a", "-l", base, target])
    old, new = str(base).encode(), str(target).encode()
    for script in (target / "bin").iterdir():
        if script.is_symlink() or not script.is_file():
            continue
        content = script.read_bytes()
        if old in content:
            fresh = script.with_name(script.name + ".new")
            fresh.write_bytes(content.replace(old, new))
            fresh.chmod(script.stat().st_mode)
            fresh.replace(script)


def changed_since_build(base: Path) -> list[Path]:
    """Files of the base modified after it was built (written through a hard link)."""
    built = (base / "colab-base.json").stat().st_mtime
    changed = []
    for folder, _, files in os.walk(base):
        for name in files:
            path = Path(folder, name)
            if not path.is_symlink() and path.stat().st_mtime > built + 1:
                changed.append(path)
    return changed


def wheelhouse(folder: Path, work: Path) -> str:
    """Build lmbook's wheel from the working tree into ``folder``; return its version."""
    # The sdist first, then the wheel from it, so that no build/ folder lands in the tree.
    run([uv(work), "build", "--quiet", "--out-dir", folder, ROOT], env=uv_environment(work))
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


# ---- running a notebook ---------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """What every notebook run shares."""

    work: Path
    wheels: Path  # lmbook's wheel, built from the working tree
    version: str  # lmbook's version
    pythons: dict[str, str]  # runtime -> the full version of the interpreter used here
    course: str  # the commit of the course (git describe --always --dirty)
    keep: bool = False  # keep each notebook's environment
    trace: bool = False  # log the modules looked for and not found (--trace-imports)


def kernel_environment(environment: Path, home: Path, wheels: Path, work: Path) -> dict[str, str]:
    """The variables the kernel starts with: a fresh session's, plus where lmbook's wheel is."""
    kept = {key: value for key, value in os.environ.items() if key in PASSED_VARIABLES}
    return kept | {
        "PATH": f"{environment / 'bin'}:{SYSTEM_PATH}",
        "VIRTUAL_ENV": str(environment),
        "HOME": str(home),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "PIP_CONFIG_FILE": os.devnull,  # this machine's pip settings are not Colab's
        "PIP_FIND_LINKS": str(wheels),  # lmbook==VERSION, built from the working tree
        "PIP_CACHE_DIR": str(work / "pip-cache"),  # downloads only; shared between runs
    }


def kernel_manager(environment: Path) -> AsyncKernelManager:
    """A kernel manager whose one kernel runs the environment's Python."""
    folder = environment / "colab-kernel"
    spec = {
        "argv": [str(environment / "bin" / "python"), "-Xfrozen_modules=off"]
        + ["-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Colab runtime",
        "language": "python",
    }
    (folder / "colab").mkdir(parents=True, exist_ok=True)
    (folder / "colab" / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    specs = KernelSpecManager(kernel_dirs=[str(folder)], ensure_native_kernel=False)
    return AsyncKernelManager(kernel_name="colab", kernel_spec_manager=specs)


def execute(
    path: Path, environment: Path, variables: dict[str, str], out: Path
) -> tuple[float, str]:
    """Run one notebook in the environment; return its seconds and first error ("" if none).

    The executed notebook, with each cell's timing, is written to ``out``.
    """
    notebook = nbformat.read(path, as_version=4)
    content = environment / "content"  # an empty working folder, as Colab's /content
    content.mkdir()
    manager = kernel_manager(environment)
    client = NotebookClient(notebook, km=manager, timeout=CELL_TIMEOUT_S, record_timing=True)
    start = time.perf_counter()
    error = ""
    try:
        client.execute(env=variables, cwd=str(content))
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as failure:
        error = first_error(notebook) or unfinished(notebook, failure)
    finally:
        seconds = time.perf_counter() - start
        if manager.has_kernel:  # a client given its manager leaves the kernel running
            run_sync(manager.shutdown_kernel)(now=True)
    nbformat.write(notebook, out / path.name)
    return seconds, error


# Installed as sitecustomize.py by --trace-imports: every process of the environment appends
# each top-level module that an import or a find_spec probe looked for and did not find.
TRACER = """\
import os
import sys


class _Missed:
    def find_spec(self, name, path=None, target=None):
        if "." not in name:
            with open(os.environ["LMBOOK_COLAB_TRACE"], "a", encoding="utf-8") as log:
                log.write(f"{sys.argv[0] if sys.argv else ''}\\t{name}\\n")
        return None


sys.meta_path.append(_Missed())
"""
# Modules whose distribution has another name, among those the notebooks' libraries probe.
DISTRIBUTION_OF = {
    "cv2": "opencv-python-headless",  # Colab has three cv2 builds; this one needs no libGL
    "tree": "dm-tree",
    "googleapiclient": "google-api-python-client",
    "socks": "pysocks",
    "pynvml": "nvidia-ml-py",
    "yaml": "pyyaml",
    "PIL": "pillow",
    "sklearn": "scikit-learn",
    "skimage": "scikit-image",
    "dateutil": "python-dateutil",
    "zmq": "pyzmq",
}


def missed_distributions(log: str, runtime: Runtime) -> list[str]:
    """Distributions of Colab's freeze whose module a traced run looked for and did not find.

    Lines written by pip (the set-up cells' installs) are left out: pip probes for its own
    reasons, and the notebooks do not see what it finds.
    """
    found = set()
    for line in log.splitlines():
        program, _, module = line.partition("\t")
        name = canonical(DISTRIBUTION_OF.get(module, module))
        if "/pip/" not in program and runtime.version(name):
            found.add(name)
    return sorted(found)


def label(path: Path) -> str:
    """A notebook's name in the results: ``zh/01_....ipynb`` for a Chinese one."""
    return path.relative_to(NOTEBOOKS).as_posix()


def run_notebook(path: Path, runtime: Runtime, base: Path, settings: Settings) -> dict[str, str]:
    """A fresh environment for one notebook, the run, and its row of the results."""
    folder = settings.work / runtime.name
    environment = folder / "env" / label(path).removesuffix(".ipynb").replace("/", "-")
    executed = folder / "executed" / path.parent.relative_to(NOTEBOOKS)
    executed.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    clone(base, environment)
    copied = time.perf_counter() - start
    (environment / "home").mkdir()  # a fresh home: no caches of earlier runs
    variables = kernel_environment(
        environment, environment / "home", settings.wheels, settings.work
    )
    trace = folder / "traces" / f"{path.stem}.tsv"
    if settings.trace:
        trace.parent.mkdir(exist_ok=True)
        trace.unlink(missing_ok=True)
        site = next(environment.glob("lib/python*/site-packages"))
        (site / "sitecustomize.py").write_text(TRACER, encoding="utf-8")
        variables["LMBOOK_COLAB_TRACE"] = str(trace)
    seconds, error = execute(path, environment, variables, executed)
    if not error and not installed_lmbook(environment, settings.version):
        error = f"lmbook {settings.version} was not installed from the wheel built here"
    changed = changed_since_build(base)
    if changed:
        (base / "colab-base.json").unlink()  # rebuilt on the next run
        error = error or f"the run wrote into the base environment: {changed[0]}"
    if not settings.keep:
        shutil.rmtree(environment)
    row = result_row(runtime, label(path), seconds, error, settings)
    print(
        f"{runtime.name} {label(path)}: {row['result']} in {row['seconds']} s "
        f"(environment copied in {copied:.0f} s) {error}".rstrip()
    )
    if settings.trace and trace.exists():
        missed = missed_distributions(trace.read_text(encoding="utf-8"), runtime)
        print(f"  looked for, and Colab has: {', '.join(missed) or 'none'}")
    return row


def result_row(
    runtime: Runtime, notebook: str, seconds: float, error: str, settings: Settings
) -> dict[str, str]:
    """A row of book/colab-runs.csv."""
    versions = {name: runtime.version(name) or "" for name in MAIN_LIBRARIES}
    row = Result(
        runtime=runtime.name,
        notebook=notebook,
        result="fail" if error else "pass",
        seconds=f"{seconds:.0f}",
        first_error=error,
        date=datetime.date.today().isoformat(),
        lmbook=settings.version,
        course=settings.course,
        freeze=f"{runtime.commit[:12]} of {runtime.date}",
        python=settings.pythons[runtime.name],
        colab_python=runtime.python,
        **versions,
    )
    return asdict(row)


def course_revision() -> str:
    """The course's commit, with ``-dirty`` when the working tree has changes, or "unknown"."""
    command = ["git", "-C", str(ROOT), "describe", "--always", "--dirty"]
    done = subprocess.run(command, capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else "unknown"


def installed_lmbook(environment: Path, version: str) -> bool:
    """Whether the environment holds lmbook at the version built here."""
    return any(environment.glob(f"lib/python*/site-packages/lmbook-{version}.dist-info"))


def select(items: list, names: list[str] | None, name_of) -> list:
    """The items whose name contains one of ``names`` (all of them when none are given)."""
    if not names:
        return items
    return [item for item in items if any(name in name_of(item) for name in names)]


def main(arguments: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runtime", nargs="*", help="runtimes to run (default: all stored)")
    parser.add_argument("--notebook", nargs="*", help="notebooks whose name contains one of these")
    parser.add_argument("--python", nargs="*", type=Path, default=[], help="interpreters to use")
    parser.add_argument("--chinese", action="store_true", help="the Chinese notebooks/zh/")
    parser.add_argument("--work", type=Path, default=WORK, help="folder for environments")
    parser.add_argument("--keep", action="store_true", help="keep each notebook's environment")
    parser.add_argument(
        "--trace-imports", action="store_true", help="list modules looked for and not found"
    )
    options = parser.parse_args(arguments)
    runtimes = select(stored_runtimes(), options.runtime, lambda runtime: runtime.name)
    folder = NOTEBOOKS / "zh" if options.chinese else NOTEBOOKS
    notebooks = select(sorted(folder.glob("*.ipynb")), options.notebook, lambda p: p.name)
    if not runtimes or not notebooks:
        print("no runtime or no notebook matches")
        return 2
    work = options.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    # A wheel folder of this run's own, so that two runs (one per runtime) can go side by side.
    with tempfile.TemporaryDirectory(prefix="wheelhouse-", dir=work) as wheels:
        return run_all(runtimes, notebooks, options, Path(wheels))


def run_all(runtimes: list[Runtime], notebooks: list[Path], options, wheels: Path) -> int:
    """Build what is missing, run every notebook on every runtime, and record each result."""
    work = options.work.resolve()
    course = requirement_names((ROOT / "requirements.in").read_text(encoding="utf-8"))
    start = time.perf_counter()
    version = wheelhouse(wheels, work)
    pythons, bases = {}, {}
    for runtime in runtimes:
        python = find_python(runtime.python_minor, options.python)
        pythons[runtime.name] = python_version(python)
        bases[runtime.name] = build_base(work, runtime, python, course)
    settings = Settings(
        work, wheels, version, pythons, course_revision(), options.keep, options.trace_imports
    )
    built = time.perf_counter()
    failed = []
    for runtime in runtimes:
        for path in notebooks:
            row = run_notebook(path, runtime, bases[runtime.name], settings)
            record(row)  # after each notebook, so that an interrupted run keeps what it did
            failed += [f"{runtime.name} {label(path)}"] if row["result"] != "pass" else []
    total = len(runtimes) * len(notebooks)
    print(
        f"{total - len(failed)} of {total} passed; environments {built - start:.0f} s, "
        f"notebooks {time.perf_counter() - built:.0f} s; results in "
        f"{RESULTS_MD.relative_to(ROOT)}"
    )
    return 1 if failed else 0


def record(row: dict[str, str]) -> None:
    """Merge one result into book/colab-runs.csv and rewrite book/colab-runs.md from it."""
    merged = merge(read_rows(RESULTS_CSV), [row])
    write_rows(merged, RESULTS_CSV)
    RESULTS_MD.write_text(markdown(merged), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
