"""Check that requirements*.txt resolve to wheels on every platform and Python the course serves.

pip evaluates environment markers against the interpreter that runs it, not against
``--platform``: those of requirements.txt (``; sys_platform == "darwin"``) and those in the
packages' own dependencies (PyTorch's CUDA libraries are Linux-only). A plain
``pip install --dry-run --platform ...`` on Linux takes the Linux branch of every marker. For
each target (an operating system and processor, and a Python version) this script therefore

1. evaluates the markers of requirements.txt and requirements-nodeps.txt for that target with
   ``packaging.markers``, and keeps the lines that apply there, without their markers;
2. runs pip's resolver on them in dry-run mode with the target's wheel tags (``--platform``,
   ``--python-version``, ``--only-binary=:all:``) and with the target's marker environment
   in place of this machine's (pip's copy of ``packaging.markers.default_environment`` is
   replaced for that run), as pip resolves them on such a machine; requirements-nodeps.txt
   with ``--no-deps``, as the Makefile installs it.

Only wheels count, since a learner's machine may have no compiler. A pin that pip finds no
wheel for is built into a wheel here, from its source distribution if it has one (seqeval and
snownlp ship only those): a pure-Python wheel (``py3-none-any``) then serves every target,
while a wheel for this machine's platform serves none of the others, so they still fail.
Packages come from PyPI alone, as a learner's pip sees it: pip's configuration files and the
PIP_* index settings of this machine are ignored (PIP_CERT and the network settings are kept).

Usage, from the repository root (nothing is installed; a run takes a few minutes)::

    .venv/bin/python scripts/check_platforms.py              # every target
    .venv/bin/python scripts/check_platforms.py macos 3.13   # targets whose name has all words

It prints one line per target: OK with the number of packages pip would install, and those it
would add that requirements.txt does not pin; or FAIL with each pin that has no wheel there,
or pip's error. The exit status is 1 when a supported target fails, or when an unsupported
one (Intel macOS, see UNSUPPORTED) resolves, so that its entry can be revisited.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

try:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
except ImportError:  # a bare interpreter: pip vendors the same library
    from pip._vendor.packaging.requirements import Requirement  # type: ignore[no-redef]
    from pip._vendor.packaging.utils import canonicalize_name  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "requirements.txt"
NODEPS = ROOT / "requirements-nodeps.txt"
INDEX_URL = "https://pypi.org/simple"

# The oldest release of each Python minor version that the pins accept (soupsieve asks for
# 3.11.5 or later). Markers see these; pip checks each package's Requires-Python against them.
PYTHONS = ("3.11.5", "3.12.0", "3.13.0")

# pip's network settings that a learner's pip could have too; other PIP_* variables (indexes,
# find-links, constraints) describe this machine and are dropped.
KEPT_PIP_VARIABLES = {
    "PIP_CERT",
    "PIP_CLIENT_CERT",
    "PIP_PROXY",
    "PIP_TRUSTED_HOST",
    "PIP_DEFAULT_TIMEOUT",
    "PIP_RETRIES",
}


@dataclass(frozen=True)
class Platform:
    """An operating system and processor: its wheel tags and its environment markers."""

    name: str
    tags: tuple[str, ...]  # --platform values; pip adds the older macOS versions itself
    os_name: str
    sys_platform: str
    platform_system: str
    platform_machine: str


# Linux: glibc 2.28 or later (manylinux_2_28: Debian 10, Ubuntu 20.04, RHEL 8 and newer); pip
# takes these tags literally, so every older manylinux tag is listed as well.
LINUX_TAGS = (
    *(f"manylinux_2_{minor}_x86_64" for minor in range(28, 16, -1)),
    "manylinux2014_x86_64",
)
# macOS 14 or later: PyTorch 2.13's Apple-silicon wheels are tagged macosx_14_0_arm64.
PLATFORMS = (
    Platform("linux-x86_64", LINUX_TAGS, "posix", "linux", "Linux", "x86_64"),
    Platform("macos-arm64", ("macosx_14_0_arm64",), "posix", "darwin", "Darwin", "arm64"),
    Platform("macos-x86_64", ("macosx_14_0_x86_64",), "posix", "darwin", "Darwin", "x86_64"),
    Platform("windows-amd64", ("win_amd64",), "nt", "win32", "Windows", "AMD64"),
)

# Intel Macs cannot have the course's environment: PyTorch's last macOS x86-64 wheels are
# 2.2.2 and TensorFlow's 2.16.2, neither for Python 3.13. Learners there use a Linux container.
UNSUPPORTED = {"macos-x86_64"}

NO_DISTRIBUTION = re.compile(r"No matching distribution found for (\S+)")


@dataclass(frozen=True)
class Target:
    """One platform with one Python version."""

    platform: Platform
    python: str

    @property
    def name(self) -> str:
        return f"{self.platform.name} py{'.'.join(self.python.split('.')[:2])}"

    def environment(self) -> dict[str, str]:
        """Every marker variable, as the target's interpreter would report it."""
        return {
            "implementation_name": "cpython",
            "implementation_version": self.python,
            "platform_python_implementation": "CPython",
            "python_version": ".".join(self.python.split(".")[:2]),
            "python_full_version": self.python,
            "platform_release": "",
            "platform_version": "",
            "os_name": self.platform.os_name,
            "sys_platform": self.platform.sys_platform,
            "platform_system": self.platform.platform_system,
            "platform_machine": self.platform.platform_machine,
        }


TARGETS = tuple(Target(platform, python) for platform in PLATFORMS for python in PYTHONS)


def lines_for(path: Path, environment: dict[str, str]) -> list[str]:
    """The requirement lines of a file whose markers hold in the environment, markers removed."""
    kept = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate(environment):
            kept.append(line.split(";", 1)[0].strip())
    return kept


def name_of(line: str) -> str:
    return canonicalize_name(Requirement(line).name)


def pip_environment() -> dict[str, str]:
    """This process's environment with pip's configuration reduced to what a learner has."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PIP_") or key in KEPT_PIP_VARIABLES
    }
    environment["PIP_CONFIG_FILE"] = os.devnull
    environment["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return environment


# Runs pip with the marker environment given as its first argument (JSON) instead of this
# machine's: every marker pip evaluates, in a requirements file or in a package's metadata,
# goes through packaging's default_environment().
PIP_FOR_TARGET = """
import json, sys
from pip._vendor.packaging import markers
environment = json.loads(sys.argv.pop(1))
markers.default_environment = lambda: dict(environment)
from pip._internal.cli.main import main
sys.exit(main())
"""


def pip(*arguments: str, markers: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run pip quietly; with markers, as if on the machine that they describe."""
    command = [sys.executable, "-m", "pip"]
    if markers is not None:
        command = [sys.executable, "-c", PIP_FOR_TARGET, json.dumps(markers)]
    return subprocess.run(
        [*command, *arguments],
        capture_output=True,
        text=True,
        env=pip_environment(),
        check=False,
    )


def last_error(output: str) -> str:
    """pip's last telling error line (not its lists of skipped versions or its help link)."""
    errors = [
        line.removeprefix("ERROR:").strip()
        for line in output.splitlines()
        if line.startswith("ERROR:")
        and not line.startswith(("ERROR: Ignored the following", "ERROR: ResolutionImpossible"))
    ]
    return errors[-1] if errors else output.strip()[-300:]


class Checker:
    """Runs pip's resolver for targets, with one wheelhouse of pins built from source."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.wheelhouse = work / "wheels"
        self.wheelhouse.mkdir()
        self.built: dict[str, str] = {}  # pin -> the wheel built from it, or why there is none

    def build(self, pin: str) -> None:
        """Build a wheel for the pin from its source distribution, once."""
        if pin in self.built:
            return
        name = Requirement(pin).name
        before = set(self.wheelhouse.iterdir())
        result = pip(
            "wheel",
            "--no-deps",
            "--no-binary",
            name,
            "--index-url",
            INDEX_URL,
            "--wheel-dir",
            str(self.wheelhouse),
            pin,
        )
        made = sorted(path.name for path in set(self.wheelhouse.iterdir()) - before)
        output = result.stdout + result.stderr
        if result.returncode == 0 and made:
            self.built[pin] = f"built {made[0]} from source"
        elif NO_DISTRIBUTION.search(output):
            self.built[pin] = "no source distribution either"
        else:
            self.built[pin] = f"source build failed: {last_error(output)}"

    def resolve(
        self, target: Target, lines: list[str], no_deps: bool
    ) -> tuple[list[str], list[str]]:
        """Run pip's dry-run resolver until it passes or fails on something other than a pin.

        Returns the failures (each pin without a wheel, then any other pip error) and, when
        there are none, the names of the packages pip would install.
        """
        failures: list[str] = []
        remaining = list(lines)
        while True:
            requirements = self.work / "requirements.txt"
            requirements.write_text("\n".join(remaining) + "\n", encoding="utf-8")
            report = self.work / "report.json"
            report.unlink(missing_ok=True)
            arguments = [
                "install",
                "--dry-run",
                "--ignore-installed",
                "--quiet",
                "--only-binary=:all:",
                "--implementation",
                "cp",
                "--python-version",
                target.python,
                *[option for tag in target.platform.tags for option in ("--platform", tag)],
                "--target",
                str(self.work / "target"),
                "--index-url",
                INDEX_URL,
                "--find-links",
                str(self.wheelhouse),
                "--report",
                str(report),
                "-r",
                str(requirements),
            ]
            options = ["--no-deps"] if no_deps else []
            result = pip(*arguments, *options, markers=target.environment())
            if result.returncode == 0:
                installed = json.loads(report.read_text(encoding="utf-8"))["install"]
                return failures, [canonicalize_name(item["metadata"]["name"]) for item in installed]
            output = result.stdout + result.stderr
            match = NO_DISTRIBUTION.search(output)
            missing = None
            if match:  # a pin (drop it and go on) or a dependency of one (stop)
                wanted = name_of(match.group(1))
                missing = next((line for line in remaining if name_of(line) == wanted), None)
            if missing is None:
                then = "and then pip: " if failures else ""
                return [*failures, then + last_error(output)], []
            if missing not in self.built:
                self.build(missing)
                continue
            failures.append(f"{missing} has no wheel here ({self.built[missing]})")
            remaining.remove(missing)
            if not remaining:
                return failures, []


def check(checker: Checker, target: Target) -> tuple[bool, str]:
    """Whether the target resolves, and the line that says so."""
    environment = target.environment()
    pinned = lines_for(REQUIREMENTS, environment)
    failures, names = checker.resolve(target, pinned, no_deps=False)
    nodeps_failures, _ = checker.resolve(target, lines_for(NODEPS, environment), no_deps=True)
    failures += [f"{failure} [requirements-nodeps.txt]" for failure in nodeps_failures]
    if failures:
        return False, "FAIL: " + "; ".join(failures)
    unpinned = sorted(set(names) - {name_of(line) for line in pinned})
    added = f"; not pinned, added by pip: {', '.join(unpinned)}" if unpinned else ""
    return True, f"OK, {len(names)} packages{added}"


def main(words: list[str]) -> int:
    targets = [target for target in TARGETS if all(word in target.name for word in words)]
    if not targets:
        print(f"no target matches {' '.join(words)}", file=sys.stderr)
        return 2
    failed = 0
    with tempfile.TemporaryDirectory(prefix="check-platforms-") as work:
        checker = Checker(Path(work))
        for target in targets:
            passed, line = check(checker, target)
            supported = target.platform.name not in UNSUPPORTED
            if not supported:
                line += " (unsupported, as expected)" if not passed else " (revisit UNSUPPORTED)"
            print(f"{target.name:<20} {line}", flush=True)
            failed += passed != supported
        built = [f"{pin}: {outcome}" for pin, outcome in checker.built.items()]
    if built:
        print("Pins without a wheel on PyPI for some target: " + "; ".join(built))
    print(f"{len(targets) - failed} of {len(targets)} targets as expected.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
