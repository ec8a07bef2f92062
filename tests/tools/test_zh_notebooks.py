"""The Chinese notebooks (scripts/zh_notebooks.py): committed up to date, complete, and
sharing the English notebooks' code and outputs."""

from __future__ import annotations

import json
import re

import pytest
import translations  # scripts/, on the path through conftest
import zh_notebooks
from conftest import chapter_paths
from markdown_it import MarkdownIt

CHAPTERS = chapter_paths()
HAN = re.compile(r"[\u4e00-\u9fff]")
RENDER = MarkdownIt("commonmark").enable("table")


def notebook(path):
    return json.loads(path.read_text(encoding="utf-8"))


def rendered(cell):
    return " ".join(RENDER.render(zh_notebooks.source(cell)).split())


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_the_committed_chinese_notebook_is_up_to_date(path):
    committed = zh_notebooks.OUT / path.name
    assert committed.exists(), f"no {committed.name}: run python scripts/zh_notebooks.py"
    assert committed.read_text(encoding="utf-8") == zh_notebooks.generated(path), (
        f"notebooks/zh/{path.name} is out of date (the English notebook or its catalogue "
        "changed): run python scripts/zh_notebooks.py"
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


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_a_chinese_notebook_shares_code_and_outputs_and_reads_in_chinese(path):
    english, chinese = notebook(path), notebook(zh_notebooks.OUT / path.name)
    assert len(english["cells"]) == len(chinese["cells"])
    set_language = 0
    for en, zh in zip(english["cells"], chinese["cells"], strict=True):
        assert en["cell_type"] == zh["cell_type"]
        assert en.get("metadata", {}).get("tags") == zh.get("metadata", {}).get("tags")
        if en["cell_type"] != "code":
            if re.search(r"[A-Za-z]{3}", zh_notebooks.source(en)):
                assert HAN.search(zh_notebooks.source(zh)), zh_notebooks.source(zh)[:200]
            continue
        code = zh_notebooks.source(zh)
        if zh_notebooks.LANGUAGE_LINE in code:
            set_language += 1
            code = code.replace("\n\n" + zh_notebooks.LANGUAGE_LINE, "", 1)
        assert code == zh_notebooks.source(en)
        if zh_notebooks.CALLS_CHECKS.search(code) and set_language:
            # A checker's English confirmation would contradict its Chinese one.
            assert zh["outputs"] == [] and zh["execution_count"] is None
        else:
            assert zh["outputs"] == en["outputs"]
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
