"""The Chinese catalogues (scripts/translations.py): markup kept, glossary terms used, and
every page translated and up to date, measured against a fresh extraction of the English.
"""

from __future__ import annotations

import re

import pytest
import translations  # scripts/, on the path through conftest
from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po

CATALOGUES = sorted(translations.LOCALE.rglob("*.po"))
# The share of a page's messages that must be translated from its current English (or need
# no translation). A release needs 100% (README, "Releasing a version").
MIN_SHARE = 95.0
# Key terms of the glossary (book/glossary.md) and the Chinese each translation must use.
TERMS = {
    r"\brecurrent\b": "循环",
    r"\btokens?\b": "词元",
    r"\bembeddings?\b": "嵌入",
    r"\battention\b": "注意力",
    r"\bgradients?\b": "梯度",
    r"\bparameters?\b": "参数",
    r"\bquanti[sz]": "量化",
    r"\bprun(e|ed|ing)\b": "剪枝",
    r"\bdistill": "蒸馏",
    r"\bfine-tun": "微调",
    r"\bpretrain": "预训练",
    r"\bperplexity\b": "困惑度",
    r"\blearning rate\b": "学习率",
    r"\bvalidation\b": "验证",
    r"\bencoders?\b": "编码器",
    r"\bbackpropagation\b": "反向传播",
}
NOT_PROSE = re.compile(r"`[^`]*`|\$[^$]*\$|\]\([^)]*\)|\{[a-z:]+\}`[^`]*`|“[^”]*”|\"[^\"]*\"")


def translated(path):
    return [m for m in translations.read(path) if m.id and m.string and not m.fuzzy]


def test_there_is_a_catalogue_per_page():
    names = {str(p.relative_to(translations.LOCALE).with_suffix("")) for p in CATALOGUES}
    assert "book/glossary" in names and "notebooks/01_rise_of_large_models" in names
    instructor = {page.removesuffix(".md") for page in translations.INSTRUCTOR_PAGES}
    assert instructor <= names, "the rubrics that make assignments-zh writes in Chinese"
    assert len(names - instructor) == 23


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda p: p.stem)
def test_translations_keep_the_markup(path):
    found = [
        (message.lineno, problem)
        for message in translated(path)
        for problem in translations.problems(message.id, message.string)
    ]
    assert not found, found[:5]


@pytest.mark.parametrize(
    ("msgid", "msgstr", "problem"),
    [
        ("Loss $L$ falls.", "损失 $M$ 下降。", "inline maths"),
        ("See {cite:p}`vaswani2017`.", "见原文。", "roles"),
        ("See {ref}`erratum <erratum-001-2>`.", "见{ref}`勘误 <erratum-001-2>`。", None),
        ("Call `fit`.", "调用 `train`。", "code spans"),
        ("[§1.4](a.ipynb#x)", "[第 1.4 节](a.ipynb#y)", "link targets"),
        ("1. The rise of large models", "1. 大模型的兴起", "numbered title"),
        ("1. The rise of large models", "1\\. 大模型的兴起", None),
        ("It fits.", "- 它拟合。", "starts a list"),
        ("the **large** model", "**“大”**模型", "** left"),
        ("the **large** model", "“**大**”模型", None),
        ("\n16 \\ \\text{bytes per rank}\n", "\n16 \\ \\text{字节/进程}\n", None),
        ("\n16 \\ \\text{bytes per rank}\n", "\n61 \\ \\text{字节/进程}\n", "display maths"),
    ],
)
def test_problems_finds_each_kind(msgid, msgstr, problem):
    found = translations.problems(msgid, msgstr)
    if problem is None:
        assert found == []
    else:
        assert any(problem in text for text in found), found


def test_glossary_terms_are_used():
    counts = {term: [0, 0] for term in TERMS}
    for path in CATALOGUES:
        if path.stem == "glossary":  # its headwords stay English by design
            continue
        for message in translated(path):
            prose = NOT_PROSE.sub("", message.id)
            for term, chinese in TERMS.items():
                if re.search(term, prose, re.I):
                    counts[term][0] += chinese in message.string
                    counts[term][1] += 1
    low = {t: f"{a}/{n}" for t, (a, n) in counts.items() if n and a / n < 0.95}
    assert not low, f"glossary terms not used: {low}"
    assert all(n >= 10 for _, n in counts.values())


def test_the_articles_mistakes_are_not_repeated():
    """循环神经网络 is an RNN; 递归神经网络 names recursive networks. GPT-3 has 1750亿."""
    for path in CATALOGUES:
        for message in translated(path):
            if "递归神经网络" in message.string:
                assert "递归" in message.id or "ecursive" in message.id, message.string
            if "175亿" in message.string:
                assert "175亿" in message.id, message.string


def catalogue(messages: dict[str, str]) -> Catalog:
    result = Catalog(locale="zh_CN")
    for msgid, msgstr in messages.items():
        result.add(msgid, msgstr)
    return result


def test_status_sees_stale_and_new_messages(tmp_path):
    templates, locale = tmp_path / "pot", tmp_path / "po"
    (templates / "book").mkdir(parents=True)
    (locale / "book").mkdir(parents=True)
    english = {
        "A neural network is a function with adjustable numbers.": "",
        "Training adjusts them to fit the examples.": "",
        "A new paragraph.": "",
        "$$\nC = 6ND\n$$": "",
    }
    chinese = {
        "A neural network is a function with adjustable numbers.": "神经网络是带可调数值的函数。",
        "Training adjusts them to fit examples.": "训练调整这些数值去拟合样例。",
    }
    for folder, messages in ((templates, english), (locale, chinese)):
        suffix = ".pot" if folder == templates else ".po"
        with (folder / "book" / f"page{suffix}").open("wb") as handle:
            write_po(handle, catalogue(messages))
    (row,) = translations.status(templates, locale)
    assert (row.done, row.stale, row.new, row.exempt) == (1, 1, 1, 1)
    assert row.share == pytest.approx(50.0)


@pytest.fixture(scope="module")
def fresh_status(tmp_path_factory):
    work = tmp_path_factory.mktemp("gettext")
    templates = translations.extract(work / "pot", doctrees=work / "doctrees")
    return translations.status(templates)


def test_every_page_is_translated_and_up_to_date(fresh_status):
    """About 20 s: the English is extracted afresh, so a changed paragraph counts as stale
    until its translation is revised (python scripts/translations.py update, then edit)."""
    assert len(fresh_status) == len(CATALOGUES)
    below = {row.page: f"{row.share:.1f}%" for row in fresh_status if row.share < MIN_SHARE}
    assert not below, f"pages below {MIN_SHARE}% translated and current: {below}"
