import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
# The tests import the scripts (student copies, page weights) as modules, and the book's
# Sphinx extensions (book/_ext: the notebooks' Markdown conventions).
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "book" / "_ext"))
CHAPTER_NAME = re.compile(r"^(\d{2})[a-z]?_[a-z0-9_]+\.ipynb$")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def toc() -> dict:
    return yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))


def chapter_paths() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("*.ipynb"))


def colab_url(config: dict, notebook: Path) -> str:
    """The Colab address of a notebook, derived from the one repository setting."""
    repo = config["repository"]["url"].removeprefix("https://github.com/").rstrip("/")
    branch = config["repository"].get("branch", "main")
    relative = notebook.relative_to(ROOT).as_posix()
    return f"https://colab.research.google.com/github/{repo}/blob/{branch}/{relative}"


@pytest.fixture(scope="session")
def html_root() -> Path:
    """The built website (tests/site only)."""
    html = ROOT / "_build" / "html"
    if not (html / "index.html").exists():
        pytest.fail("the website is not built: run `make book` (or `make test`) first")
    return html
