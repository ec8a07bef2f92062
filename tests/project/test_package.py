"""lmbook as a package: its wheel and sdist build and pass twine's checks (README, Release)."""

import subprocess
import sys
import tomllib
import zipfile

from conftest import ROOT

import lmbook


def test_version_is_declared_once_and_agrees():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["version"] == lmbook.__version__


def test_wheel_and_sdist_build_and_pass_twine_check(tmp_path):
    # --no-isolation: the pinned setuptools of this environment, no download.
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    version = lmbook.__version__
    wheel = tmp_path / f"lmbook-{version}-py3-none-any.whl"
    sdist = tmp_path / f"lmbook-{version}.tar.gz"
    assert wheel.exists() and sdist.exists(), sorted(p.name for p in tmp_path.iterdir())
    result = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    names = zipfile.ZipFile(wheel).namelist()
    # The tables the chapters load travel in the wheel, as Colab installs it.
    assert "lmbook/tables/landmark_models.csv" in names
    # So do the checkers' Chinese messages, for the Chinese notebooks.
    catalogues = sorted((ROOT / "src/lmbook/checks/locale/zh_CN").glob("*.po"))
    assert catalogues and all(f"lmbook/checks/locale/zh_CN/{p.name}" in names for p in catalogues)
    assert not [name for name in names if name.startswith("tests/")]
