"""The book's conventions (COURSE.md), checked on every chapter notebook and config file."""

import json
import re
import tomllib

import pytest
from conftest import CHAPTER_NAME, ROOT, chapter_paths, colab_url

CHAPTERS = chapter_paths()
REQUIRED_HEADINGS = ["## Learning objectives", "## Exercises", "## Summary", "## Errata"]
HIDDEN_TAGS = {"hide-input", "hide-cell", "hide-output", "remove-input"}


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def source(cell):
    text = cell["source"]
    return text if isinstance(text, str) else "".join(text)


def toc_files(toc):
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part["chapters"]]
    return files


def bib_keys():
    text = (ROOT / "book" / "references.bib").read_text(encoding="utf-8")
    return set(re.findall(r"@\w+\{([^,\s]+),", text))


def test_there_are_chapters():
    assert CHAPTERS, "notebooks/ holds no chapter"


def test_toc_lists_exactly_the_pages_that_exist(toc):
    assert toc["format"] == "jb-book"
    listed = toc_files(toc)
    for name in listed:
        assert (ROOT / f"{name}.md").exists() or (ROOT / f"{name}.ipynb").exists(), name
    for path in CHAPTERS:
        assert path.relative_to(ROOT).with_suffix("").as_posix() in listed, f"{path} not in toc"
    allowed = [
        "Foundations",
        "Architectures",
        "Pretrained models",
        "Scale and deployment",
        "Business and society",
        "Appendices",
    ]
    captions = [part["caption"] for part in toc["parts"]]
    assert captions == [c for c in allowed if c in captions], "parts out of order or unknown"
    assert all(part["chapters"] for part in toc["parts"]), "a part without pages"


def test_config_builds_from_committed_outputs(config):
    assert config["execute"]["execute_notebooks"] == "off"
    assert config["repository"]["url"].startswith("https://github.com/")
    assert config["launch_buttons"]["colab_url"] == "https://colab.research.google.com"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_follows_the_contract(path, config):
    assert CHAPTER_NAME.match(path.name), f"{path.name} is not NN_snake_case.ipynb"
    number = int(path.name[:2])
    notebook = load(path)
    cells = notebook["cells"]
    markdown = [source(c) for c in cells if c["cell_type"] == "markdown"]

    title = markdown[0].splitlines()[0]
    assert re.match(rf"^# {number}\. \S", title), f"first line should be '# {number}. Title'"
    headings = [line for text in markdown for line in text.splitlines() if line.startswith("## ")]
    positions = [headings.index(h) for h in REQUIRED_HEADINGS]
    assert positions == sorted(positions), f"headings out of order: {headings}"
    assert headings[-1] == "## Errata"

    intro = markdown[0]
    assert colab_url(config, path) in intro, "Open-in-Colab link missing or pointing elsewhere"
    assert re.search(r"takes about [^.]*2-core CPU", intro), "state the run time on a 2-core CPU"
    assert "Prerequisites" in intro

    code = [c for c in cells if c["cell_type"] == "code"]
    setup = code[0]
    assert "colab-setup" in setup["metadata"].get("tags", [])
    assert config["repository"]["url"] in source(setup)

    tags = [set(c["metadata"].get("tags", [])) for c in cells]
    assert sum("exercise" in t for t in tags) >= 3, "at least three exercise cells"
    solutions = [c for c, t in zip(cells, tags, strict=True) if "solution" in t]
    assert len(solutions) >= 3, "at least three solution cells"
    for cell in solutions:
        hidden = set(cell["metadata"]["tags"]) & HIDDEN_TAGS or ":class: dropdown" in source(cell)
        assert hidden, f"solution not hidden by a toggle: {source(cell)[:60]!r}"
        if cell["cell_type"] == "code" and cell["outputs"]:
            assert "hide-cell" in cell["metadata"]["tags"], "a solution's output shows unfolded"
    # A checker's "Correct: ..." line states the answer: the website folds it away too.
    for cell, cell_tags in zip(cells, tags, strict=True):
        if "exercise" in cell_tags and "checks." in source(cell):
            assert "hide-output" in cell_tags, f"checker output not folded: {source(cell)!r}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_was_executed_top_to_bottom(path):
    counts = []
    for index, cell in enumerate(load(path)["cells"]):
        if cell["cell_type"] != "code" or not source(cell).strip():
            continue
        assert cell["execution_count"] is not None, f"cell {index} was never executed"
        counts.append(cell["execution_count"])
        for output in cell["outputs"]:
            assert output["output_type"] != "error", f"cell {index} stored an error"
    assert counts == list(range(1, len(counts) + 1)), "outputs are not from one in-order run"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_citations_resolve(path):
    keys = bib_keys()
    text = path.read_text(encoding="utf-8")
    cited = set()
    for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", text):
        cited |= {key.strip() for key in group.split(",")}
    assert cited, "a chapter cites its sources"
    assert cited <= keys, f"unknown BibTeX keys: {sorted(cited - keys)}"


def test_landmark_table_citations_resolve():
    from lmbook.data import landmark_models

    assert set(landmark_models()["citation"]) <= bib_keys()


def test_package_metadata_has_no_exact_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    for requirement in project["dependencies"] + sum(
        project.get("optional-dependencies", {}).values(), []
    ):
        assert "==" not in requirement, f"exact pin in pyproject.toml: {requirement}"


def test_requirements_pin_everything():
    lines = [
        line.strip()
        for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    pins = dict(line.split("==", 1) for line in lines)
    assert all(re.fullmatch(r"[\w.\-]+==[\w.\-+]+", line) for line in lines)
    names = {name.lower().replace("_", "-") for name in pins}
    assert pins["torch"] == "2.13.0"
    assert "torchvision" not in names
    version = {k.lower(): v for k, v in pins.items()}["jupyter-book"]
    assert version.startswith("1.0.")
    for needed in [
        "nbval",
        "tensorflow-cpu",
        "transformers",
        "numpy",
        "matplotlib",
        "scikit-learn",
        "pytest",
        "ruff",
    ]:
        assert needed in names, f"{needed} is not pinned"


def test_ci_runs_the_readme_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make test" in ci and "make test" in readme and "make book" in readme
