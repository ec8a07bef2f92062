"""scripts/teaching.py: the question bank, its quizzes, keys and LMS exports, the exams,
and what stays private."""

import ast
import random
import re
import zipfile
from xml.etree import ElementTree

import pytest
import student_copies
import teaching
from conftest import ROOT, chapter_paths

BANKS = teaching.bank_files()
CHAPTER_NAMES = sorted("ch" + path.name.split("_")[0] for path in chapter_paths())


def numeric_questions():
    return [q for path in BANKS for q in teaching.load(path)["questions"] if q["type"] == "numeric"]


def test_a_bank_for_every_chapter_notebook():
    assert [path.stem for path in BANKS] == CHAPTER_NAMES


@pytest.mark.parametrize("path", BANKS, ids=lambda p: p.stem)
def test_bank_is_valid_and_every_answer_computes(path):
    bank = teaching.load(path)
    assert teaching.problems(bank, path.name) == []
    assert len(bank["questions"]) >= teaching.MIN_QUESTIONS


@pytest.mark.parametrize("question", numeric_questions(), ids=lambda q: q["id"])
def test_numeric_answer_is_computed_from_the_questions_values(question):
    """Never typed by hand: the expression uses the values, and other values give another
    answer (a constant would give the same)."""
    names = {
        node.id for node in ast.walk(ast.parse(question["answer"])) if isinstance(node, ast.Name)
    }
    assert names & set(question["given"]), "the answer uses the question's values"
    book = teaching.render(question)["answer_value"]
    rng = random.Random(1)
    others = [
        teaching.render(question, teaching.draw(question, rng))["answer_value"] for _ in range(8)
    ]
    assert any(abs(other - book) > teaching.tolerance(question, book) for other in others)


def bank_with(question: dict, **changes) -> dict:
    bank = teaching.load(BANKS[0])
    bank["questions"] = [
        {**q, **changes} if q["id"] == question["id"] else q for q in bank["questions"]
    ]
    return bank


def first(kind: str) -> dict:
    return next(q for q in teaching.load(BANKS[0])["questions"] if q["type"] == kind)


@pytest.mark.parametrize(
    ("kind", "changes", "message"),
    [
        (
            "choice",
            {
                "choices": [
                    {"text": "a", "correct": True},
                    {"text": "b", "correct": True},
                    {"text": "c"},
                ]
            },
            "2 correct choices",
        ),
        (
            "choice",
            {"choices": [{"text": "a", "correct": True}, {"text": "1.5"}, {"text": "c"}]},
            "bare number",
        ),
        ("choice", {"objective": "nowhere"}, "objective 'nowhere' is not defined"),
        ("numeric", {"answer": "6 * unknown"}, "NameError"),
        ("numeric", {"draw": {}}, "a rule for each given name"),
        ("numeric", {"answer": "1 / 0 * parameters"}, "ZeroDivisionError"),
        ("numeric", {"answer": "1e-9"}, "which an LMS cannot grade"),
        ("written", {"rubric": ["only one"]}, "2 to 4 one-point criteria"),
        ("written", {"type": "essay"}, "type is 'essay'"),
    ],
)
def test_a_broken_question_is_reported(kind, changes, message):
    bank = bank_with(first(kind), **changes)
    found = teaching.problems(bank, BANKS[0].name)
    assert any(message in line for line in found), found


def test_too_few_questions_are_reported():
    bank = teaching.load(BANKS[0])
    bank["questions"] = bank["questions"][:3]
    assert any("at least 15 expected" in line for line in teaching.problems(bank, BANKS[0].name))


def test_draws_follow_the_seed_and_the_book_values_need_none():
    question = numeric_questions()[0]
    one = teaching.instance(question, 11)
    assert teaching.instance(question, 11)["answer"] == one["answer"]
    assert teaching.instance(question, None)["values"] == {
        k: teaching.number(v) for k, v in question["given"].items()
    } | {"answer": teaching.render(question)["answer_value"]}
    answers = {teaching.instance(question, seed)["answer"] for seed in range(10)}
    assert len(answers) > 1


def test_the_private_seed_is_made_once_and_kept(tmp_path):
    path = tmp_path / "private" / "quiz_seed.txt"
    seed = teaching.seed_from(path)
    assert path.exists() and teaching.seed_from(path) == seed
    assert teaching.seed_from(None) is None


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Quizzes, keys, LMS files and exams with a seed, without the PDFs (site tests print)."""
    out = tmp_path_factory.mktemp("instructor")
    teaching.write_quizzes(out, 20261204, pdf=False)
    teaching.write_exams(out, 20261204, pdf=False)
    return out


def test_every_chapter_gets_a_quiz_a_key_and_lms_files(built):
    for chapter in CHAPTER_NAMES:
        for name in (
            f"quizzes/{chapter}-quiz.html",
            f"quizzes/{chapter}-key.html",
            f"lms/{chapter}.gift",
            f"lms/{chapter}-qti.zip",
        ):
            assert (built / name).is_file(), name


def visible(page: str) -> str:
    import html

    text = re.sub(r"<style.*?</style>|<[^>]+>", " ", page, flags=re.S)
    return " ".join(html.unescape(text).split())


def test_the_quiz_has_no_answers_and_the_key_has_them_all(built):
    for path in BANKS:
        bank = teaching.load(path)
        quiz = visible((built / f"quizzes/{bank['chapter']}-quiz.html").read_text(encoding="utf-8"))
        key = visible((built / f"quizzes/{bank['chapter']}-key.html").read_text(encoding="utf-8"))
        assert "Answer: (" not in quiz and "Model answer" not in quiz
        assert key.count("Answer:") + key.count("Model answer") == len(bank["questions"])
        for question in bank["questions"]:
            for text in teaching.answer_fingerprints(question):
                assert text not in quiz, f"{question['id']} answered in the quiz"


def test_the_key_follows_the_seed(tmp_path):
    bank = teaching.load(BANKS[0])
    keys = {seed: teaching.quiz_page(bank, seed, key=True) for seed in (1, 2, None)}
    assert len(set(keys.values())) == 3
    assert "instructor's private seed" in keys[1] and "book's values" in keys[None]


def test_gift_file_has_every_choice_and_numeric_question(built):
    for path in BANKS:
        bank = teaching.load(path)
        gift = (built / f"lms/{bank['chapter']}.gift").read_text(encoding="utf-8")
        blocks = re.findall(r"^::([\w-]+)::\[html\](.*?)^\}$", gift, re.M | re.S)
        expected = [q["id"] for q in bank["questions"] if q["type"] != "written"]
        assert [qid for qid, _ in blocks] == expected
        for qid, block in blocks:
            unescaped = re.sub(r"\\.", "", block)
            assert unescaped.count("{") == 1, f"{qid}: GIFT's braces escaped in the text"
            answers = re.findall(r"^\t([=~#])", block, re.M)
            assert answers.count("=") == 1 or answers[:1] == ["#"], qid


def test_qti_package_has_every_question(built):
    for path in BANKS:
        bank = teaching.load(path)
        with zipfile.ZipFile(built / f"lms/{bank['chapter']}-qti.zip") as package:
            names = [
                n
                for n in package.namelist()
                if n.endswith(".xml") and "meta" not in n and "manifest" not in n
            ]
            root = ElementTree.fromstring(package.read(names[0]))
        items = [e for e in root.iter() if e.tag.endswith("item")]
        assert len(items) == len(bank["questions"]), bank["chapter"]


def test_exams_are_valid_and_cover_their_chapters():
    known = teaching.bank_questions()
    exams = {path.stem: teaching.load(path) for path in teaching.exam_files()}
    assert set(exams) == {"midterm", "final"}
    for name, exam in exams.items():
        assert teaching.exam_problems(exam, name, known) == []
    mid = {q.split("-")[0] for s in exams["midterm"]["sections"] for q in s.get("questions", [])}
    assert mid == {"ch01", "ch02", "ch03", "ch04", "ch05"}
    final = {
        q.split("-")[0][:4] for s in exams["final"]["sections"] for q in s.get("questions", [])
    }
    assert final == {f"ch{n:02d}" for n in range(1, 12)}


def test_every_written_exam_question_has_a_rubric_in_the_solutions(built):
    for name in ("midterm", "final"):
        paper = (built / f"exams/{name}.html").read_text(encoding="utf-8")
        solutions = (built / f"exams/{name}-solutions.html").read_text(encoding="utf-8")
        written = paper.count('class="lines')
        assert written >= 3
        assert solutions.count("<strong>Rubric.</strong>") == written
        assert "Rubric" not in paper and "Model answer" not in paper


def test_no_answer_key_reaches_the_student_copies(tmp_path):
    folder = tmp_path / "_student"
    student_copies.write_student_copies(chapter_paths(), folder, tmp_path / "_student.zip")
    copies = "\n".join(
        " ".join(p.read_text(encoding="utf-8").split()) for p in folder.glob("*.ipynb")
    )
    leaked = [
        (q["id"], text)
        for path in BANKS
        for q in teaching.load(path)["questions"]
        for text in teaching.answer_fingerprints(q)
        if text in copies
    ]
    assert not leaked, leaked[:3]
    assert not list(folder.rglob("*key*")) and not list(folder.rglob("*seed*"))


def test_an_answer_may_sum_an_array_in_a_fresh_process():
    """NumPy imports lazily on a process's first ndarray.sum(), through the built-ins of
    the expression's frame: they must let it."""
    import subprocess
    import sys

    script = (
        "import sys; sys.path.insert(0, 'scripts'); import teaching; "
        "print(teaching.compute({'id': 'x', 'answer': 'np.arange(n).sum()'}, {'n': 4}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and done.stdout.strip() == "6.0", done.stderr[-500:]
