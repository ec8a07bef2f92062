"""Student copies (scripts/student_copies.py, make student): no solution leaks out."""

import json
import re
import zipfile

import pytest
import student_copies  # scripts/, on the path through conftest
from conftest import chapter_paths

CHAPTERS = chapter_paths()


def text_of(cell):
    """A cell's source and the text of its outputs."""
    parts = ["".join(cell["source"])]
    for output in cell.get("outputs", []):
        parts.append("".join(output.get("text", "")))
        for value in output.get("data", {}).values():
            parts.append(value if isinstance(value, str) else "".join(value))
        parts.append(" ".join(output.get("traceback", [])))
    return "\n".join(parts)


def solution_only_lines(notebook):
    """Lines of the solution cells that no other cell of the full notebook shows."""
    solutions = [c for c in notebook["cells"] if "solution" in student_copies.tags(c)]
    shared = "\n".join(
        text_of(c)
        for c in notebook["cells"]
        if not student_copies.tags(c) & {"solution", "exercise"}
    )
    shared += "\n".join(
        "".join(c["source"]) for c in notebook["cells"] if "exercise" in student_copies.tags(c)
    )
    lines = {line.strip() for cell in solutions for line in text_of(cell).splitlines()}
    return {line for line in lines if len(line) >= 12 and line not in shared}


@pytest.fixture(scope="module")
def copies(tmp_path_factory):
    folder = tmp_path_factory.mktemp("course") / "_student"
    archive = folder.parent / "_student.zip"
    written = student_copies.write_student_copies(CHAPTERS, folder, archive)
    return {path.name: path for path in written}, archive


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.name)
def test_no_solution_leaks_into_the_student_copy(copies, notebook):
    full = load(notebook)
    student = copies[0][notebook.name].read_text(encoding="utf-8")
    secret = solution_only_lines(full)
    assert len(secret) >= 3, "the test found almost nothing to look for"
    leaked = sorted(line for line in secret if line in student)
    assert not leaked, f"solution text in the student copy: {leaked[:5]}"
    cells = json.loads(student)["cells"]
    assert not [c for c in cells if "solution" in student_copies.tags(c)]
    exercise_code = [
        c for c in cells if c["cell_type"] == "code" and "exercise" in student_copies.tags(c)
    ]
    assert exercise_code and not [c for c in exercise_code if c["outputs"]]
    assert "Correct:" not in "\n".join(text_of(c) for c in cells)


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.name)
def test_the_student_copy_keeps_everything_else(copies, notebook):
    full = [
        c
        for c in load(notebook)["cells"]
        if "solution" not in student_copies.tags(c) or c["cell_type"] == "markdown"
    ]
    student = load(copies[0][notebook.name])["cells"]
    assert [c["id"] for c in student] == [c["id"] for c in full]
    for kept, original in zip(student[1:], full[1:], strict=True):
        if "solution" in student_copies.tags(original):  # a written solution: a cell to write in
            assert "".join(kept["source"]) == student_copies.WRITTEN_STUB
            assert student_copies.tags(kept) == {"exercise"}
        elif original["cell_type"] == "markdown":
            expected = student_copies.student_markdown("".join(original["source"]))
            assert "".join(kept["source"]) == expected
            assert "colab.research.google.com" not in expected, "it would open a full notebook"
        else:
            assert kept["source"] == original["source"]
        if "exercise" not in student_copies.tags(original):
            assert kept.get("outputs") == original.get("outputs")
    first_code = [c for c in student if c["cell_type"] == "code"][0]
    assert "colab-setup" in student_copies.tags(first_code), "Colab set-up must stay first"
    title = "".join(student[0]["source"])
    assert "colab.research.google.com" not in title, "the link would open the full notebook"
    assert student_copies.STUDENT_NOTE in title


def test_the_zip_holds_every_copy(copies):
    written, archive = copies
    with zipfile.ZipFile(archive) as bundle:
        names = {name.split("/")[-1]: name for name in bundle.namelist()}
        assert sorted(names) == sorted(written)
        for name, path in written.items():
            assert bundle.read(names[name]) == path.read_bytes()


def test_links_to_other_chapters_open_their_pages_on_the_website():
    """A relative link breaks in a notebook opened alone; the website's address does not."""
    colab = "https://colab.research.google.com/github/o/r/blob/main/notebooks"
    text = f"See [chapter 7]({colab}/07_vision.ipynb), [8]({colab}/08_scale.ipynb#top)."
    site = "https://o.github.io/r/"
    assert student_copies.sibling_links(text, site) == (
        f"See [chapter 7]({site}notebooks/07_vision.html), [8]({site}notebooks/08_scale.html#top)."
    )


def test_the_website_address_is_the_books_baseurl(config):
    assert student_copies.website() == config["html"]["baseurl"].rstrip("/") + "/"
    assert config["html"]["baseurl"].startswith("https://")


def test_every_link_of_a_student_copy_is_absolute_or_within_the_page(copies):
    """So that nothing breaks when one notebook is opened alone (on Colab, say)."""
    import re

    for path in copies[0].values():
        for cell in load(path)["cells"]:
            if cell["cell_type"] != "markdown":
                continue
            for target in re.findall(r"\]\(([^)\s]+)\)", "".join(cell["source"])):
                assert target.startswith(("https://", "http://", "#")), (path.name, target)


def test_written_solutions_become_cells_for_the_answer(copies):
    stubs = 0
    for path in copies[0].values():
        text = [("".join(c["source"])) for c in load(path)["cells"]]
        stubs += text.count(student_copies.WRITTEN_STUB)
        assert "<summary>Solution</summary>" not in "\n".join(text), path.name
    assert stubs >= 28  # 16 written exercises and the words of 12 auto-checked ones


def test_bad_input_is_refused(tmp_path):
    with pytest.raises(TypeError, match="expected a notebook"):
        student_copies.student_copy([])
    with pytest.raises(ValueError, match="Open in Colab"):
        student_copies.student_copy({"cells": [{"cell_type": "markdown", "source": ["# T"]}]})
    with pytest.raises(ValueError, match="no notebooks"):
        student_copies.write_student_copies([], tmp_path / "s", tmp_path / "s.zip")


def test_the_student_copy_says_it_has_no_solutions(copies):
    said = 0
    for notebook in CHAPTERS:
        student = copies[0][notebook.name].read_text(encoding="utf-8")
        assert "hidden behind" not in student, notebook.name
        said += student_copies.NO_SOLUTIONS in student
    assert said >= 9  # the chapters whose exercises' introduction mentions the toggles


def test_student_markdown_rewords_the_toggles_across_lines():
    text = "A checker tells you.\nThe solutions are hidden behind\nthe toggles."
    assert student_copies.student_markdown(text) == (
        "A checker tells you.\n" + student_copies.NO_SOLUTIONS
    )


def test_make_student_needs_only_the_standard_library(root):
    """An instructor can make the copies with any Python 3.11+, without the environment."""
    import ast
    import sys

    tree = ast.parse((root / "scripts" / "student_copies.py").read_text(encoding="utf-8"))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert imported - {"__future__"} <= sys.stdlib_module_names, imported - sys.stdlib_module_names
    makefile = (root / "Makefile").read_text(encoding="utf-8")
    rule = makefile.split("\nstudent:", 1)[1].split("\n\n", 1)[0]
    assert "$(INSTALLED)" not in rule and "$(BIN)" not in rule, rule


# The Chinese notebooks' copies (notebooks/zh/, make student writes them into _student/zh/)
ZH = student_copies.EDITIONS["zh_CN"]


@pytest.fixture(scope="module")
def chinese_copies(tmp_path_factory):
    folder = tmp_path_factory.mktemp("course-zh") / "_student" / "zh"
    chapters = [notebook.parent / "zh" / notebook.name for notebook in CHAPTERS]
    written = student_copies.write_student_copies(chapters, folder, folder.parent / "zh.zip")
    return {path.name: path for path in written}


def roles(notebook: dict) -> list[tuple]:
    return [
        (item["role"], item["exercise"], item["checker"], item["cell"].get("id"))
        for item in student_copies.classroom_cells(notebook)
    ]


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.name)
def test_a_chinese_student_copy_is_the_english_ones_in_chinese(chinese_copies, notebook):
    chinese = load(notebook.parent / "zh" / notebook.name)
    assert student_copies.edition(chinese) is ZH
    assert roles(chinese) == roles(load(notebook)), "a cell plays another role in Chinese"
    student = chinese_copies[notebook.name].read_text(encoding="utf-8")
    secret = solution_only_lines(chinese)
    assert len(secret) >= 3, "the test found almost nothing to look for"
    assert not sorted(line for line in secret if line in student)
    cells = json.loads(student)["cells"]
    title = "".join(cells[0]["source"])
    assert ZH.student_note in title and "colab.research.google.com" not in title
    text = "\n".join(text_of(c) for c in cells)
    assert "<summary>" not in text
    exercise_code = [
        c for c in cells if c["cell_type"] == "code" and "exercise" in student_copies.tags(c)
    ]
    assert exercise_code and not [c for c in exercise_code if c["outputs"]]
    assert "隐藏在折叠按钮" not in text
    stubs = sum("".join(c["source"]) == ZH.written_stub for c in cells)
    assert stubs == sum(
        item["role"] == "written" for item in student_copies.classroom_cells(chinese)
    )
    for target in re.findall(r"\]\((https://[^)\s]+)\)", text):
        assert "colab.research.google.com" not in target, target
        if target.startswith(student_copies.website()) and "/notebooks/" in target:
            assert target.startswith(student_copies.website() + "zh/notebooks/"), target


def test_the_chinese_student_copies_say_they_have_no_solutions(chinese_copies):
    said = sum(
        ZH.no_solutions in path.read_text(encoding="utf-8") for path in chinese_copies.values()
    )
    assert said >= 9
