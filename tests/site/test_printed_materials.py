"""The instructor's printed material: the sample exams and a chapter's quiz and key print
to PDF in Chromium, with their maths typeset (scripts/teaching.py; make exams, make
quizzes). The HTML is checked without a browser in tests/tools/test_teaching.py."""

import re

import pytest
import teaching  # scripts/, on the path through conftest
from pypdf import PdfReader


@pytest.fixture(scope="module")
def printed(tmp_path_factory):
    out = tmp_path_factory.mktemp("instructor")
    pages = teaching.write_exams(out, seed=7, pdf=True)
    bank = teaching.load(teaching.bank_files()[0])
    for key, suffix in ((False, "quiz"), (True, "key")):
        page = out / f"{bank['chapter']}-{suffix}.html"
        page.write_text(teaching.quiz_page(bank, 7, key), encoding="utf-8")
        pages.append(page)
    teaching.typeset_and_print(out, pages[-2:], pdf=True)
    return {page.stem: page.with_suffix(".pdf") for page in pages}


def text_of(pdf) -> str:
    return " ".join(" ".join(page.extract_text() for page in PdfReader(pdf).pages).split())


def test_every_exam_and_its_solutions_print(printed):
    for name in ("midterm", "final"):
        paper, solutions = text_of(printed[name]), text_of(printed[f"{name}-solutions"])
        assert re.search(r"\d+ minutes · \d+ points", paper), name
        assert "Rubric" not in paper and "Model answer" not in paper
        assert solutions.count("Rubric.") >= 3 and "Marking" in solutions
        assert (
            len(PdfReader(printed[f"{name}-solutions"]).pages)
            > len(PdfReader(printed[name]).pages) - 1
        )


def test_a_quiz_and_its_key_print_with_typeset_maths(printed):
    quiz, key = printed["ch01-quiz"], printed["ch01-key"]
    assert "Answer: (" in text_of(key) and "Answer: (" not in text_of(quiz)
    html = key.with_suffix(".html").read_text(encoding="utf-8")
    assert "<mjx-container" in html and "\\(" not in html
