"""The Chinese notebooks (scripts/zh_notebooks.py): committed up to date, complete,
sharing the English notebooks' code, and executed."""

from __future__ import annotations

import configparser
import json
import re

import nbval_numbers  # tests/
import pytest
import translations  # scripts/, on the path through conftest
import zh_notebooks
from conftest import chapter_paths
from markdown_it import MarkdownIt

CHAPTERS = chapter_paths()
HAN = re.compile(r"[\u4e00-\u9fff]")
# What a Chinese checker message may quote in Latin letters: quoted values, lists, names
# of code (with a dot or an underscore), a function's argument, acronyms.
NOT_PROSE = re.compile(
    r"'[^']*'|\"[^\"]*\"|\[[^\]]*\]|[\w.]*[._][\w.]*|\w+\([^)]*\)|\b[A-Z][A-Za-z0-9]*\b"
)
RENDER = MarkdownIt("commonmark").enable("table")


def notebook(path):
    return json.loads(path.read_text(encoding="utf-8"))


def rendered(cell):
    return " ".join(RENDER.render(zh_notebooks.source(cell)).split())


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_the_committed_chinese_notebook_is_up_to_date(path):
    committed = zh_notebooks.OUT / path.name
    assert committed.exists(), f"no {committed.name}: run python scripts/zh_notebooks.py"
    text, executed = zh_notebooks.generated(path)
    assert committed.read_text(encoding="utf-8") == text, (
        f"notebooks/zh/{path.name} is out of date (the English notebook or its catalogue "
        "changed): run python scripts/zh_notebooks.py"
    )
    assert executed, (
        f"notebooks/zh/{path.name} has no outputs: make execute NB=notebooks/{path.name}"
    )


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_the_round_trip_through_the_messages_loses_nothing(path):
    """With every message its own translation, the generator gives back the English
    cell for cell, and with each paragraph rewritten on one line, the same rendered
    Markdown; every message of the page's catalogue is one the generator looked up
    (or display maths, kept as it is)."""
    english, docname, seen = notebook(path), f"notebooks/{path.stem}", set()

    def identity(msgid):
        seen.add(msgid)
        return msgid

    same = zh_notebooks.chinese_notebook(english, docname, identity, chinese=False)
    assert [c["source"] for c in same["cells"]] == [
        zh_notebooks.source(c).splitlines(keepends=True) for c in english["cells"]
    ]
    rewrapped = zh_notebooks.chinese_notebook(
        english, docname, identity, chinese=False, rewrap=True
    )
    assert [rendered(c) for c in rewrapped["cells"]] == [rendered(c) for c in english["cells"]]
    maths = {
        token.content.strip()
        for cell in english["cells"]
        if cell["cell_type"] == "markdown"
        for token in zh_notebooks.settings()[2].parse(zh_notebooks.source(cell))
        if token.type in ("math_block", "amsmath", "math_block_label")
    }
    with (translations.LOCALE / f"{docname}.po").open("rb") as handle:
        messages = {m.id for m in translations.read_po(handle) if m.id}
    missed = {m for m in messages - seen - maths if not translations.exempt(m)}
    assert not missed, sorted(missed)[:3]


def sanitizers() -> list[tuple[re.Pattern, str]]:
    """nbval's replacements of what changes from run to run (tests/nbval_sanitize.cfg)."""
    config = configparser.ConfigParser()
    config.read(nbval_numbers.__file__.replace("nbval_numbers.py", "nbval_sanitize.cfg"))
    return [
        (re.compile(config[name]["regex"]), config[name]["replace"]) for name in config.sections()
    ]


def texts(outputs: list) -> dict[str, str]:
    """An output list's compared texts (streams and text/plain) and its other kinds."""
    found = {}
    for output in outputs:
        if output["output_type"] == "stream":
            key, text = output["name"], output["text"]
        elif "data" in output:
            key, text = "text/plain", output["data"].get("text/plain", "")
            for mime in output["data"]:
                found.setdefault(mime, "")
        else:
            key, text = output["output_type"], output.get("ename", "")
        found[key] = found.get(key, "") + "".join(text)
    return found


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_a_chinese_notebook_shares_code_reads_in_chinese_and_was_executed(path):
    """Its code is the English code and the language line; it was executed top to bottom
    (the project's command numbers every code cell in order); the checkers confirmed the
    answers in Chinese; every other output is the English notebook's within nbval's
    tolerances, so the two runs did the same."""
    english, chinese = notebook(path), notebook(zh_notebooks.OUT / path.name)
    assert len(english["cells"]) == len(chinese["cells"])
    set_language, number, replacements = 0, 0, sanitizers()

    def sanitized(text):
        for pattern, replacement in replacements:
            text = pattern.sub(replacement, text)
        return text

    for en, zh in zip(english["cells"], chinese["cells"], strict=True):
        assert en["cell_type"] == zh["cell_type"]
        assert en.get("metadata", {}).get("tags") == zh.get("metadata", {}).get("tags")
        if en["cell_type"] != "code":
            if re.search(r"[A-Za-z]{3}", zh_notebooks.source(en)):
                assert HAN.search(zh_notebooks.source(zh)), zh_notebooks.source(zh)[:200]
            continue
        code = zh_notebooks.source(zh)
        number += 1
        assert zh["execution_count"] == number, (
            f"cell {number} of notebooks/zh/{path.name} not executed in order"
        )
        if zh_notebooks.LANGUAGE_LINE in code:
            set_language += 1
            code = code.replace("\n\n" + zh_notebooks.LANGUAGE_LINE, "", 1)
        assert code == zh_notebooks.source(en)
        en_texts, zh_texts = texts(en["outputs"]), texts(zh["outputs"])
        assert en_texts.keys() == zh_texts.keys(), f"cell {number}: other kinds of output"
        if zh_notebooks.CALLS_CHECKS.search(code) and set_language:
            for key, text in zh_texts.items():
                if "Correct:" in en_texts[key]:
                    assert text.count("正确：") == en_texts[key].count("Correct:"), text
                if re.search(r"[A-Za-z]{3}", en_texts[key]):
                    assert HAN.search(text), f"cell {number}: a checker answered in English: {text}"
                words = re.findall(r"[a-z]{3,}", NOT_PROSE.sub("", text))
                assert not words, f"cell {number}: English words {words} in {text}"
            continue
        if "nbval-ignore-output" in en.get("metadata", {}).get("tags", []):
            continue
        tolerance = nbval_numbers.tolerance_of(en.get("metadata", {}))
        for key, text in en_texts.items():
            why = nbval_numbers.texts_match(sanitized(text), sanitized(zh_texts[key]), tolerance)
            assert why is None, f"cell {number}, {key}: {why}"
    uses_checks = any(
        zh_notebooks.IMPORTS_CHECKS.search(zh_notebooks.source(c)) for c in english["cells"]
    )
    assert set_language == uses_checks
    colab = zh_notebooks.settings()[0]
    first = zh_notebooks.source(chinese["cells"][0])
    assert f"({colab}notebooks/zh/{path.name})" in first, "its Colab link opens itself"
    text = "".join(zh_notebooks.source(c) for c in chinese["cells"])
    assert f"{colab}notebooks/0" not in text and f"{colab}notebooks/1" not in text, (
        "a link opens an English notebook on Colab"
    )


def test_without_its_executed_notebook_the_generator_writes_no_outputs(tmp_path, monkeypatch):
    """Outputs come only from executing the Chinese notebook, never from the English."""
    path = CHAPTERS[0]
    monkeypatch.setattr(zh_notebooks, "OUT", tmp_path)
    text, executed = zh_notebooks.generated(path)
    cells = zh_notebooks.code_cells(json.loads(text))
    assert not executed and all(c["outputs"] == [] and c["execution_count"] is None for c in cells)
    changed = json.loads((zh_notebooks.ROOT / "notebooks" / "zh" / path.name).read_text())
    zh_notebooks.code_cells(changed)[-1]["source"] = "print('changed')\n"
    (tmp_path / path.name).write_text(json.dumps(changed), encoding="utf-8")
    assert not zh_notebooks.generated(path)[1], "kept the outputs of other code"
    (tmp_path / path.name).write_text(
        (zh_notebooks.ROOT / "notebooks" / "zh" / path.name).read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    text, executed = zh_notebooks.generated(path)
    assert executed and zh_notebooks.code_cells(json.loads(text))[0]["outputs"]


def test_links_point_into_the_chinese_edition():
    colab, baseurl, _parser = zh_notebooks.settings()
    myst = (
        "见 [第 6 章](06a_encoders_and_embeddings.ipynb#choosing-an-option)、"
        "[术语表](../book/glossary.md) 和 {ref}`勘误 <erratum-001-2>`"
        "，{cite:p}`krizhevsky2012imagenet`。"
    )
    plain = zh_notebooks.from_myst(myst, "notebooks/01_rise_of_large_models", chinese=True)
    assert f"({colab}notebooks/zh/06a_encoders_and_embeddings.ipynb#choosing-an-option)" in plain
    assert f"({baseurl}zh/book/glossary.html)" in plain
    assert f"[勘误]({baseurl}zh/book/errata.html#erratum-001-2)" in plain
    assert "([Krizhevsky et al., 2012](" in plain
