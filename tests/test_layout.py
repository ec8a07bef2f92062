"""The book's conventions (COURSE.md), checked on every chapter notebook and config file."""

import json
import re
import tomllib

import check_platforms  # scripts/, on the path through conftest
import execute_notebook  # scripts/, on the path through conftest
import pytest
from conftest import CHAPTER_NAME, ROOT, chapter_paths, colab_url
from packaging.markers import Marker

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
        version = requirement.split(";")[0]  # an environment marker may compare with ==
        assert "==" not in version, f"exact pin in pyproject.toml: {requirement}"


PIN = re.compile(r"([\w.\-]+)==([\w.\-+]+)(?:\s*;\s*(\S.*))?")


def requirement_pins():
    """(normalized name, version, marker or "") for each line of requirements.txt."""
    pins = []
    for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = PIN.fullmatch(line.strip())
        assert match, f"not an exact pin (name==version, then an optional ; marker): {line}"
        name, version, marker = match.groups()
        pins.append((re.sub(r"[-_.]+", "-", name).lower(), version, marker or ""))
    return pins


def test_requirements_pin_everything():
    pins = requirement_pins()
    for _, _, marker in pins:
        if marker:
            Marker(marker)  # raises InvalidMarker on a malformed one
    versions = {name: version for name, version, _ in pins}
    assert versions["torch"] == "2.13.0"
    assert "torchvision" not in versions
    assert versions["jupyter-book"].startswith("1.0.")
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
        assert needed in versions, f"{needed} is not pinned"


@pytest.mark.parametrize("target", check_platforms.TARGETS, ids=lambda target: target.name)
def test_requirements_pin_each_package_once_per_platform(target):
    # Where markers split a package (tensorflow-cpu has no macOS wheels), each platform
    # and Python gets exactly one pin of it, and TensorFlow exactly once as one or the other.
    environment = target.environment()
    applying = [
        name
        for name, _, marker in requirement_pins()
        if not marker or Marker(marker).evaluate(environment)
    ]
    assert len(applying) == len(set(applying)), f"pinned twice on {target.name}"
    tensorflow = [name for name in applying if name in {"tensorflow", "tensorflow-cpu"}]
    expected = "tensorflow" if target.platform.name.startswith("macos") else "tensorflow-cpu"
    assert tensorflow == [expected], f"{target.name}: {tensorflow}"


def test_requirements_pin_one_tensorflow_release():
    releases = {v for name, v, _ in requirement_pins() if name in {"tensorflow", "tensorflow-cpu"}}
    assert len(releases) == 1, f"tensorflow and tensorflow-cpu pins differ: {releases}"


def test_ci_runs_the_readme_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make test" in ci and "make test" in readme and "make book" in readme


def _seconds(amount: str, unit: str) -> float:
    return float(amount) * (60 if unit.startswith("minute") else 1)


def _agrees(stated: float, measured: float) -> bool:
    """A stated "about" time agrees with the table within 10% or 5 seconds."""
    return abs(stated - measured) <= max(5.0, 0.1 * measured)


STATED_TIME = re.compile(r"about (\d+(?:\.\d+)?) (seconds?|minutes?)")


def test_notebook_times_table_covers_every_chapter():
    times = execute_notebook.read_times()
    assert set(times) == {path.name for path in CHAPTERS}, "run `make bench` for new chapters"
    for name, row in times.items():
        assert int(row["budget_seconds"]) == execute_notebook.budget(name)
        assert row["machine"], f"{name}: the table says on what machine it was measured"
        over = float(row["seconds"]) > int(row["budget_seconds"])
        assert row["within_budget"] == ("no" if over else "yes"), name


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_stated_run_time_is_the_measured_one(path):
    intro = source(load(path)["cells"][0])
    found = re.search(r"The notebook takes about (\d+(?:\.\d+)?) (seconds|minutes)", intro)
    assert found, "the chapter states its run time as 'The notebook takes about N seconds'"
    measured = float(execute_notebook.read_times()[path.name]["seconds"])
    stated = _seconds(*found.groups())
    assert _agrees(stated, measured), (
        f"the chapter says about {stated:.0f} s; book/notebook-times.csv measured {measured:.0f} s"
    )


def test_instructor_guide_lab_times_are_the_measured_ones():
    guide = (ROOT / "book" / "instructor-guide.md").read_text(encoding="utf-8")
    times = execute_notebook.read_times()
    weeks = re.split(r"\n### ", guide.split("## Week by week", 1)[1].split("\n## ", 1)[0])
    checked = 0
    for week in weeks[1:]:
        listed = re.search(r"\*\*Notebooks?:\*\*(.*?)\n\n", week, re.S)
        lab = re.search(r"\*\*Lab:\*\*(.*?)(?:\.\s|\n\n)", week, re.S)
        if not listed or not lab:
            continue
        notebooks = list(dict.fromkeys(re.findall(r"notebooks/([\w]+\.ipynb)", listed[1])))
        stated = [_seconds(*found) for found in STATED_TIME.findall(lab[1])]
        title = week.splitlines()[0]
        assert len(stated) == len(notebooks), f"{title}: one 'about N seconds' per notebook"
        for name, seconds in zip(notebooks, stated, strict=True):
            measured = float(times[name]["seconds"])
            assert _agrees(seconds, measured), f"{title}: {name} about {seconds:.0f} s, {measured}"
            checked += 1
    assert checked == len(CHAPTERS), "every chapter's lab time is stated once in the guide"
