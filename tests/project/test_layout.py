"""The book's conventions (COURSE.md), checked on every chapter notebook and config file."""

import csv
import json
import re
import tomllib

import check_platforms  # scripts/, on the path through conftest
import execute_notebook  # scripts/, on the path through conftest
import plain_notebooks  # book/_ext, on the path through conftest
import pytest
from conftest import CHAPTER_NAME, ROOT, chapter_paths, colab_url
from packaging.markers import Marker

import lmbook

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
        "Slides",
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
        # A written solution is one folded <details> block (book/_ext/plain_notebooks.py).
        folded = cell["cell_type"] == "markdown" and plain_notebooks.DETAILS.fullmatch(source(cell))
        hidden = set(cell["metadata"]["tags"]) & HIDDEN_TAGS or folded
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


def markdown_cells(path):
    return [source(c) for c in load(path)["cells"] if c["cell_type"] == "markdown"]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_citations_are_links_that_match_the_bibliography(path):
    # A citation is [Vaswani et al., 2017](URL) or [Jain and Wallace (2019)](URL): its URL
    # belongs to exactly one entry of references.bib and its text is what the entry says.
    texts = markdown_cells(path)
    links = [link for text in texts for link in plain_notebooks.citation_links(text)]
    assert links, "a chapter cites its sources"
    problems = []
    for text, url, _ in links:
        try:
            plain_notebooks.check_citation(text, url)
        except ValueError as error:
            problems.append(str(error))
    assert not problems, "\n".join(problems)
    # A link to a work of the bibliography is a citation, so the website can make it one.
    owners = plain_notebooks.owners()
    cited = {(text, url) for text, url, _ in links}
    for text in texts:
        for label, url in re.findall(r"(?<!!)\[([^\[\]]+)\]\(([^()\s]+)\)", text):
            assert url not in owners or (label, url) in cited, (
                f"[{label}]({url}) links to {owners[url][0]}: write it as a citation, "
                f"[{plain_notebooks.citation(plain_notebooks.bibliography()[owners[url][0]])}]"
            )


def test_citation_text_follows_the_author_year_rule():
    entries = plain_notebooks.bibliography()
    assert plain_notebooks.citation(entries["vaswani2017attention"]) == "Vaswani et al., 2017"
    assert plain_notebooks.citation(entries["howard2018ulmfit"]) == "Howard and Ruder, 2018"
    assert plain_notebooks.citation(entries["elman1990finding"]) == "Elman, 1990"
    assert plain_notebooks.citation(entries["jain2019attention"], True) == "Jain and Wallace (2019)"
    # "and others" counts as more authors; LaTeX accents and braces are decoded.
    assert plain_notebooks.authors(entries["cac2023genai"]).endswith("China et al.")
    assert plain_notebooks.authors(entries["tramer2016stealing"]) == "Tramèr et al."
    assert plain_notebooks.authors(entries["deepseekai2024v3"]) == "DeepSeek-AI"
    # The link: the url, else the DOI (parentheses percent-encoded), else the arXiv record.
    assert plain_notebooks.entry_link(entries["vaswani2017attention"]).endswith("1706.03762")
    assert plain_notebooks.entry_link(entries["polyak1964momentum"]) == (
        "https://doi.org/10.1016/0041-5553%2864%2990137-5"
    )
    assert plain_notebooks.entry_link(entries["lewis2020rag"]) == "https://arxiv.org/abs/2005.11401"
    with pytest.raises(ValueError, match="belongs to no entry"):
        plain_notebooks.check_citation("Vaswani et al., 2017", "https://example.org/attention")
    with pytest.raises(ValueError, match="references.bib says 'Vaswani et al., 2017'"):
        plain_notebooks.check_citation("Vaswani, 2017", "https://arxiv.org/abs/1706.03762")


def test_the_website_turns_the_conventions_back_into_myst():
    vaswani, ruder = "https://arxiv.org/abs/1706.03762", "https://doi.org/10.18653/v1/P18-1031"
    colab = "https://colab.research.google.com/github/o/r/blob/main/"
    text = (
        f"Attention ([Vaswani et al., 2017]({vaswani}); [Howard and Ruder, 2018]({ruder})), "
        f"as [Howard and Ruder (2018)]({ruder}) show (fine-tuning; [Vaswani et al., "
        f"2017]({vaswani})). See [chapter 7]({colab}notebooks/07_x.ipynb#top), or "
        f"[Open in Colab]({colab}notebooks/10_y.ipynb).\n\n<details>\n"
        "<summary>Solution</summary>\n\n- $x^2$\n\n</details>"
    )
    problems = []
    myst = plain_notebooks.to_myst(text, "notebooks/10_y", colab, problems)
    assert not problems
    assert myst == (
        "Attention {cite:p}`vaswani2017attention,howard2018ulmfit`, as "
        "{cite:t}`howard2018ulmfit` show (fine-tuning; {cite:alp}`vaswani2017attention`). "
        f"See [chapter 7](07_x.ipynb#top), or [Open in Colab]({colab}notebooks/10_y.ipynb)."
        "\n\n:::{admonition} Solution\n:class: dropdown\n\n- $x^2$\n:::"
    )
    plain_notebooks.to_myst(f"([Vaswani, 2017]({vaswani}))", "notebooks/10_y", colab, problems)
    assert problems and "references.bib says" in problems[0]

    site = "https://o.github.io/r/"
    errata = f"[004.14]({site}book/errata.html#erratum-004-14) §5, [errata]({site}book/errata.html)"
    assert plain_notebooks.to_myst(errata, "notebooks/10_y", colab, [], site) == (
        "{ref}`004.14 <erratum-004-14>` §5, [errata](../book/errata.md)"
    )


# MyST that Jupyter and Colab would show as raw text, found in a notebook's Markdown outside
# code blocks, code spans and math.
CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`).+?(?<!`)\1(?!`)", re.DOTALL)
MATH = re.compile(r"\$\$.*?\$\$|(?<![\\$])\$(?![\s$]).*?(?<![\s\\])\$(?!\d)", re.DOTALL)
RAW_MYST = [
    ("a role", re.compile(r"\{[a-zA-Z][\w:+.-]*\}\x00")),
    ("a directive option", re.compile(r"^ {0,3}:[\w-]+:(?:[ \t]|$)", re.MULTILINE)),
    ("a target", re.compile(r"^ {0,3}\([^()\s]+\)=[ \t]*$", re.MULTILINE)),
    ("a comment", re.compile(r"^ {0,3}%", re.MULTILINE)),
    ("a block break", re.compile(r"^ {0,3}\+\+\+", re.MULTILINE)),
    ("a substitution", re.compile(r"\{\{[^{}\n]*\}\}")),
    ("a definition list", re.compile(r"^ {0,3}:[ \t]+\S", re.MULTILINE)),
    ("a footnote", re.compile(r"\[\^[^\]\s]+\]")),
]
DIRECTIVE = re.compile(r"^ {0,3}(?:`{3,}|~{3,}|:{3,})[ \t]*\{[^}\n]*\}", re.MULTILINE)
EQUATION_LABEL = re.compile(r"\$\$[ \t]*\([^()\s]+\)[ \t]*$", re.MULTILINE)


def raw_myst(markdown: str) -> list[str]:
    """What of ``markdown`` Jupyter would show raw: '<kind>: <text>' for each find."""
    found = [f"a directive: {m.group(0).strip()}" for m in DIRECTIVE.finditer(markdown)]
    text = plain_notebooks.without_code(markdown)
    found += [f"an equation label: {m.group(0)}" for m in EQUATION_LABEL.finditer(text)]
    text = CODE_SPAN.sub("\x00", MATH.sub("\x01", text))
    for kind, pattern in RAW_MYST:
        found += [f"{kind}: {m.group(0).strip(chr(0))}" for m in pattern.finditer(text)]
    return found


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_notebook_markdown_reads_cleanly_in_jupyter_and_colab(path):
    found = [
        f"cell {index}: {what}"
        for index, cell in enumerate(load(path)["cells"])
        if cell["cell_type"] == "markdown"
        for what in raw_myst(source(cell))
    ]
    assert not found, "MyST that Jupyter and Colab show raw:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("planted", "kind"),
    [
        ("as shown {cite}`vaswani2017attention`.", "a role"),
        ("see {numref}`fig-loss` and", "a role"),
        ("Equation {eq}`eq-loss` gives", "a role"),
        (":::{admonition} Solution\n:class: dropdown\n\nText\n:::", "a directive"),
        ("```{note}\nText\n```", "a directive"),
        ("~~~{figure} a.png\n~~~", "a directive"),
        (":class: dropdown", "a directive option"),
        ("(sec-training)=\n## Training", "a target"),
        ("% a comment for authors", "a comment"),
        ("text\n+++\nmore", "a block break"),
        ("the {{ model_name }} model", "a substitution"),
        ("Term\n: its definition", "a definition list"),
        ("a claim[^1]", "a footnote"),
        ("$$\nx = 1\n$$ (eq-one)", "an equation label"),
    ],
)
def test_raw_myst_finder_catches_planted_syntax(planted, kind):
    found = raw_myst(f"Some prose.\n\n{planted}\n\nMore prose.")
    assert [f for f in found if f.startswith(kind + ":")], f"missed {kind} in {planted!r}: {found}"


def test_raw_myst_finder_leaves_plain_markdown_alone():
    plain = (
        "A citation ([Vaswani et al., 2017](https://arxiv.org/abs/1706.03762)), a link\n"
        "to [chapter 7](https://colab.research.google.com/github/o/r/blob/main/x.ipynb).\n\n"
        "Math: $\\{x : x > 0\\}$, $\\frac{{a}}{b}$ and\n\n$$\n\\mathbf{x}_{i} = {{1}}\n$$\n\n"
        "Code: `{cite}`, ``{cite}`key` `` and\n\n```python\n%timeit f()\nx = {'a': {1}}\n```\n\n"
        "| a | b |\n|:--|--:|\n| 1 | 2 |\n\n<details>\n<summary>Solution</summary>\n\n"
        "- one\n- two (see above)\n\n</details>\n\nAbout 40\npercent, at 12:30: fine."
    )
    assert raw_myst(plain) == []


# A dollar sign before an amount, unescaped: two in a paragraph make the text between them
# math, on the website and in Jupyter alike. Write \\$2 per hour.
CURRENCY = re.compile(
    r"(?<![\\$])\$(?=\d[\d,]*(?:\.\d+)?(?:[ \t\n]+(?:million|billion|thousand|per|a|an|to|for|"
    r"from|against|stops)\b|[,;:)\"]|\.(?!\d)|[ \t]*$))",
    re.MULTILINE,
)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_dollar_amounts_are_escaped(path):
    cells = markdown_cells(path)
    visible = [CODE_SPAN.sub("\x00", plain_notebooks.without_code(t)) for t in cells]
    found = [text[m.start() : m.start() + 20] for text in visible for m in CURRENCY.finditer(text)]
    assert not found, f"write \\$ before an amount: {found[:5]}"


def test_dollar_amount_finder():
    amounts = "at $2 per hour, $62 to $152 million, $5,000 a month, $0.50.\n$3,000\na month"
    assert len(CURRENCY.findall(amounts)) == 6
    math = "$2 \\times H$, $4 L T d$, $1/N$, $10^{-5}$ to $6N$, \\$2 per hour, $$2 = 2$$"
    assert CURRENCY.findall(math) == []


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_links_to_chapters_open_in_colab(path, config):
    # Colab cannot follow a relative link in a notebook uploaded or opened alone; the
    # website turns these addresses into links to its own pages (book/_ext/plain_notebooks.py).
    for text in markdown_cells(path):
        for target in re.findall(r"\]\(([^()\s]+)\)", plain_notebooks.without_code(text)):
            address = target.split("#")[0]
            if address.startswith("https://colab.research.google.com/"):
                notebook = ROOT / "notebooks" / address.rsplit("/", 1)[-1]
                assert notebook.is_file(), f"{target}: no such chapter"
                assert address == colab_url(config, notebook), f"{target}: not as _config.yml"
            else:
                assert not address.endswith(".ipynb"), f"relative link {target}: use its Colab URL"


def test_landmark_table_citations_resolve():
    from lmbook.data import landmark_models

    assert set(landmark_models()["citation"]) <= bib_keys()


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_setup_cell_installs_the_packaged_version(path):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    setup = next(c for c in load(path)["cells"] if c["cell_type"] == "code")
    named = re.search(r'^LMBOOK = "([^"]+)"$', source(setup), re.MULTILINE)
    assert named, "the set-up cell names no lmbook version (LMBOOK = ...)"
    assert named.group(1) == project["version"] == lmbook.__version__, (
        f"the set-up cell installs lmbook {named.group(1)}, pyproject.toml says "
        f"{project['version']}, lmbook.__version__ {lmbook.__version__}: run make execute-all"
    )
    url, _, version = execute_notebook.settings()
    head = execute_notebook.SETUP_HEAD.format(version=version, repository=url)
    assert source(setup).startswith(head), "set-up cell out of date: run make execute NB=..."


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


README_COMMANDS = re.compile(r"```bash\n(make book[^\n]*)\n(make test[^\n]*)\n```")
# What .ci/run may do besides the test command: move to the repository and install
# Chromium (which the README lists among what make test needs).
CI_SETUP = re.compile(
    r"^(set |cd |if |fi$|SUDO=|\$SUDO apt-get |DEBIAN_FRONTEND=\S+ \$SUDO apt-get )"
)


def ci_commands(script: str) -> list[str]:
    """The lines of a shell script that run something, besides its set-up."""
    lines = [line.strip() for line in script.splitlines()]
    return [
        line for line in lines if line and not line.startswith("#") and not CI_SETUP.match(line)
    ]


def readme_test_command(readme: str) -> str:
    match = README_COMMANDS.search(readme)
    assert match, "the README must show the two commands, make book and make test, in one block"
    return match[2].split("#")[0].strip()


def test_ci_runs_the_readme_command_and_nothing_else():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert ci_commands(ci) == [readme_test_command(readme)] == ["make test"]
    assert "Chromium" in readme.split("```bash")[0], "the README must say make test needs Chromium"
    assert "Node.js" in readme.split("```bash")[0], "the README must say the build needs Node.js"


def test_the_readme_describes_every_step_of_make_test():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    steps = re.search(r"^test: \$\(INSTALLED\) (.+)$", makefile, re.M)[1].split()
    assert steps == [
        "lint",
        "unit",
        "nbval",
        "student-check",
        "site-build",
        "pdf",
        "slides",
        "site-check",
    ]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    described = readme.split("**`make test`**")[1].split("\n\n")[0]
    for words in (
        "ruff",
        "unit tests",
        "nbval",
        "student copies",
        "book build",
        "PDF",
        "lecture slides",
        "built site",
    ):
        assert words in described, f"the README's account of make test omits {words!r}"


@pytest.mark.parametrize(
    "script",
    [
        "#!/bin/sh\nmake test\npytest tests\n",  # runs more than the README says
        "#!/bin/sh\nmake unit\n",  # runs less
        "#!/bin/sh\n# make test\n",  # runs nothing
    ],
)
def test_ci_check_catches_a_script_that_differs(script):
    assert ci_commands(script) != ["make test"]


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


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_exercise_the_prose_names_exists(path):
    text = "\n".join(markdown_cells(path))
    defined = set(re.findall(r"\*\*Exercise (\d+[a-d]?\.\d+)\.\*\*", text))
    named = set(re.findall(r"(?<!\*\*)[Ee]xercises? (\d+[a-d]?\.\d+)", text))
    assert named <= defined, f"the prose names exercises that do not exist: {named - defined}"


@pytest.mark.parametrize("path", [*CHAPTERS, *sorted((ROOT / "book").glob("*.md"))], ids=str)
def test_no_link_or_citation_inside_display_maths(path):
    """MathJax would typeset a link or a {cite} role inside $$...$$ as letters."""
    if path.suffix == ".md":
        texts = [path.read_text(encoding="utf-8")]
    else:
        texts = markdown_cells(path)
    for text in texts:
        for maths in re.findall(r"\$\$(.*?)\$\$", text, re.S):
            assert not re.search(r"\]\(|\{cite|\{ref", maths), maths


@pytest.mark.parametrize("deck", sorted((ROOT / "slides").glob("ch*.md")), ids=lambda p: p.name)
def test_slides_state_the_measured_run_time(deck):
    """A deck's "Have open" line that gives a run time gives the measured one."""
    times = execute_notebook.read_times()
    line = next(x for x in deck.read_text(encoding="utf-8").splitlines() if "Have open" in x)
    for name, seconds in re.findall(r"notebooks/([\w]+\.ipynb)`.*?about (\d+) s\b", line):
        measured = float(times[name]["seconds"])
        assert _agrees(float(seconds), measured), f"{deck.name}: about {seconds} s, {measured}"


def test_instructor_guide_grading_times_are_the_measured_ones():
    """The guide's nbgrader table is book/grading-times.csv (make time-grading), one row per
    chapter, and every chapter's solutions earned every autograded point."""
    with (ROOT / "book" / "grading-times.csv").open(encoding="utf-8") as handle:
        measured = {row["assignment"]: row for row in csv.DictReader(handle)}
    assignments = {"ch" + path.name.split("_")[0] for path in CHAPTERS}
    assert set(measured) == assignments, "time every chapter: make time-grading"
    guide = (ROOT / "book" / "instructor-guide.md").read_text(encoding="utf-8")
    table = guide.split("## Grading with nbgrader", 1)[1].split("| assignment |", 1)[1]
    rows = table.split("\n\n", 1)[0].splitlines()[2:]
    stated = {}
    for row in rows:
        name, seconds, minutes, points = (cell.strip() for cell in row.strip("|").split("|"))
        stated[name.strip("`")] = (seconds, minutes, points)
    assert set(stated) == assignments
    for name, row in measured.items():
        assert row["auto_points"] == row["auto_points_available"], f"{name} lost points"
        expected = (f"{row['seconds']} s", f"{row['class_of_40_minutes']} min", row["auto_points"])
        assert stated[name] == expected, f"{name}: the guide says {stated[name]}"


def test_a_fork_changes_one_setting(monkeypatch):
    # make execute rewrites every Colab link and the set-up cell from _config.yml's URL.
    path = ROOT / "notebooks" / "10_business_of_large_models.ipynb"
    notebook = execute_notebook.nbformat.read(path, as_version=4)
    fork = "https://github.com/someone/fork"
    monkeypatch.setattr(execute_notebook, "settings", lambda: (fork, "main", "9.9.9"))
    execute_notebook.sync_setup(notebook, path.name)
    text = "\n".join(cell.source for cell in notebook.cells)
    links = re.findall(r"https://colab\.research\.google\.com/github/([^/]+/[^/]+)/", text)
    assert len(links) > 1 and set(links) == {"someone/fork"}
    assert f'REPO = "{fork}"' in text and 'LMBOOK = "9.9.9"' in text


def test_every_test_file_is_named_after_the_file_it_tests():
    """The rule of tests/README.md: tests/test_<module>.py, tests/checks/test_<notebook>.py,
    tests/tools/test_<script>.py; every module and every notebook's checkers have tests."""
    package = ROOT / "src" / "lmbook"
    modules = {path.stem for path in package.glob("*.py")} - {"__init__"}
    assert {path.stem.removeprefix("test_") for path in ROOT.glob("tests/test_*.py")} == modules
    checkers = {path.stem for path in (package / "checks").glob("*.py")} - {"__init__"}
    notebooks = {"ch" + path.name.split("_")[0] for path in chapter_paths()}
    assert checkers == notebooks | {"core", "grading", "messages"}
    checker_tests = {
        path.stem.removeprefix("test_") for path in ROOT.glob("tests/checks/test_*.py")
    }
    assert checker_tests == checkers
    for path in ROOT.glob("tests/tools/test_*.py"):
        name = path.name.removeprefix("test_")
        assert (ROOT / "scripts" / name).exists() or (ROOT / "tests" / name).exists(), path.name


def _check_guide_table(heading: str, notebooks_of) -> None:
    """The run times of the guide's week table under ``heading`` (its fourth column) are
    the measured ones, one per notebook that ``notebooks_of(second column)`` names."""
    guide = (ROOT / "book" / "instructor-guide.md").read_text(encoding="utf-8")
    table = guide.split(heading, 1)[1].split("\n\n| week |", 1)[1]
    rows = [line for line in table.split("\n\n", 1)[0].splitlines() if line.startswith("| ")]
    times = execute_notebook.read_times()
    checked = []
    for row in rows:  # the header's separator starts "|-"
        week, chapters, _, run_time = (cell.strip() for cell in row.strip("|").split("|")[:4])
        notebooks = notebooks_of(chapters, times)
        stated = [float(s) for s in re.findall(r"(\d+) s\b", run_time)]
        assert len(stated) == len(notebooks), f"week {week}: one run time per notebook"
        for name, seconds in zip(notebooks, stated, strict=True):
            measured = float(times[name]["seconds"])
            assert _agrees(seconds, measured), f"week {week}: {name} {seconds:.0f} s, {measured}"
            checked.append(name)
    assert sorted(checked) == sorted(path.name for path in CHAPTERS)


def test_instructor_guide_syllabus_run_times_are_the_measured_ones():
    def linked(chapters, times):
        return list(dict.fromkeys(re.findall(r"notebooks/([\w]+\.ipynb)", chapters)))

    _check_guide_table("## The syllabus at a glance", linked)


def test_instructor_guide_before_each_lab_run_times_are_the_measured_ones():
    """The table of "Before each lab: Each week" names notebooks by number (1, 6a)."""

    def numbered(chapters, times):
        by_number = {name.split("_")[0].lstrip("0"): name for name in times}
        return [by_number[number.strip()] for number in chapters.split(",")]

    _check_guide_table("### Each week", numbered)


def test_every_errata_item_and_glossary_term_has_a_stable_anchor():
    errata = (ROOT / "book" / "errata.md").read_text(encoding="utf-8")
    items = re.findall(r"^\*\*(\d{3})\.(\d+) ·", errata, re.MULTILINE)
    labelled = re.findall(r"^\(erratum-(\d{3})-(\d+)\)=\n\n\*\*\1\.\2 ·", errata, re.MULTILINE)
    assert len(items) > 80 and labelled == items, "each item: (erratum-AAA-N)= just above it"
    glossary = (ROOT / "book" / "glossary.md").read_text(encoding="utf-8")
    assert "\n| English |" not in glossary, "terms in {glossary} blocks: each gets an anchor"
    assert glossary.count(":::{glossary}") == len(re.findall(r"^## [A-Z]$", glossary, re.M))


IMAGE_TYPES = ("image/png", "image/jpeg", "image/svg+xml")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_figure_has_alt_text_and_a_caption(path):
    names = []
    cells = load(path)["cells"]
    for index, cell in enumerate(cells):
        images = [
            output
            for output in cell.get("outputs", [])
            if any(kind in output.get("data", {}) for kind in IMAGE_TYPES)
        ]
        if not images:
            continue
        assert len(images) == 1, f"cell {index}: one figure per cell, so one caption fits"
        options = cell["metadata"].get("mystnb", {})
        alt = options.get("image", {}).get("alt", "")
        where = f"cell {index} ({cell.get('id')})"
        assert "caption" not in options.get("figure", {}), f"{where}: caption in a cell after"
        caption = plain_notebooks.figure_caption(cells, index) or ""
        assert len(alt.split()) >= 8, f"{where}: alt text that describes the figure"
        assert not re.search(r"\.(png|jpe?g|svg)\b|_images/", alt), f"{where}: alt is a path"
        assert caption.strip(), (
            f"{where}: a caption saying what to see in the figure, in the next cell "
            f"(Markdown, starting {plain_notebooks.CAPTION_PREFIX!r})"
        )
        assert "](" not in caption, f"{where}: a caption has no links or citations"
        assert "$" not in caption.replace("\\$", ""), f"{where}: a $ in a caption is maths"
        names.append(options.get("figure", {}).get("name"))
    assert len(names) == len(set(names)), "figure names (labels) are unique"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_plot_is_a_sharp_png_with_twice_the_pixels_it_is_shown_at(path):
    """plot.use_book_style's retina PNGs: a 256-colour palette at twice the pixels of the
    size given in the output's metadata (photographs are JPEGs, left alone)."""
    import base64
    import io

    from PIL import Image

    for index, cell in enumerate(load(path)["cells"]):
        for output in cell.get("outputs", []):
            if "image/png" not in output.get("data", {}):
                continue
            image = Image.open(io.BytesIO(base64.b64decode(output["data"]["image/png"])))
            shown = output.get("metadata", {}).get("image/png", {}).get("width")
            where = f"cell {index} ({cell.get('id')}): {image.width}x{image.height} {image.mode}"
            assert image.mode == "P" and shown and 0 <= image.width - 2 * shown <= 1, (
                f"{where}, shown {shown} px wide: draw it after plot.use_book_style()"
            )


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_caption_cell_follows_a_figure(path):
    cells = load(path)["cells"]
    for index, cell in enumerate(cells):
        text = source(cell)
        if cell["cell_type"] == "markdown" and text.startswith(plain_notebooks.CAPTION_PREFIX):
            outputs = cells[index - 1].get("outputs", []) if index else []
            assert any(
                kind in output.get("data", {}) for output in outputs for kind in IMAGE_TYPES
            ), f"cell {index}: a caption after a cell that shows no figure"


CAPTION_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_number_in_a_caption_is_printed_or_written_in_the_chapter(path):
    """A caption may not state a number that the notebook does not print or compute: a
    caption is not re-executed, so a measured number in it would go stale."""
    cells = load(path)["cells"]
    printed = " ".join(
        "".join(output.get("text", "")) + "".join(output.get("data", {}).get("text/plain", ""))
        for cell in cells
        for output in cell.get("outputs", [])
    )
    written = " ".join(
        source(cell)
        for cell in cells
        if not source(cell).startswith(plain_notebooks.CAPTION_PREFIX)  # not the captions
    )
    for index in range(len(cells)):
        caption = plain_notebooks.figure_caption(cells, index) or ""
        for number in CAPTION_NUMBER.findall(caption):
            number = number.rstrip(",")
            assert number in printed or number in written, (
                f"cell {index}: the caption's {number} is nowhere in the chapter's outputs or code"
            )


def test_a_caption_cell_moves_into_its_figure_on_the_website():
    figure = {"cell_type": "code", "metadata": {"mystnb": {"figure": {"name": "fig-1"}}}}
    caption = {"cell_type": "markdown", "source": ["**Figure.** Loss ", "falls."]}
    prose = {"cell_type": "markdown", "source": "A **Figure.** in the text is no caption."}
    cells = plain_notebooks.captions_into_figures([figure, caption, prose])
    assert cells == [figure, prose]
    assert figure["metadata"]["mystnb"]["figure"] == {"name": "fig-1", "caption": "Loss falls."}
    assert plain_notebooks.figure_caption([figure, prose], 0) is None
