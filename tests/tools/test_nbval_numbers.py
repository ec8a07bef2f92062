"""The tolerant output comparison (tests/nbval_numbers.py): for each rule, a change that
must pass and one that must fail; then the plugin inside a real nbval run."""

import json
import os
import subprocess
import sys

import nbformat
import pytest
from conftest import ROOT, chapter_paths
from nbval_numbers import (
    MEASURED_REL,
    NOISE,
    Tolerance,
    last_digit_unit,
    numbers_match,
    texts_match,
    tolerance_of,
)

MEASURED = Tolerance(rel=MEASURED_REL, reason="accuracy after training")
COUNTED = Tolerance(rel=MEASURED_REL, counts=True, reason="correct answers after training")


@pytest.mark.parametrize(
    ("token", "unit"),
    [("3.14", 0.01), ("98.9", 0.1), ("4.2e-07", 1e-8), ("1.0000e+00", 1e-4), ("12", 1.0)],
)
def test_last_digit_unit(token, unit):
    assert last_digit_unit(token) == pytest.approx(unit)


# Rule 1: text and integers exactly.
@pytest.mark.parametrize(
    ("committed", "fresh"),
    [
        ("accuracy: 0.943", "accuracy: 0.943"),
        ("loss  9.99 | ok", "loss 10.00 | ok"),  # a wider number shifts the column
        ("torch.Size([2, 3])", "torch.Size([2,  3])"),
    ],
)
def test_exact_text_passes(committed, fresh):
    assert texts_match(committed, fresh) is None


@pytest.mark.parametrize(
    ("committed", "fresh", "why"),
    [
        ("label: positive", "label: negative", "text around"),
        ("memory: 1.5 GB", "memory: 1.5 MB", "text around"),  # a unit
        ("torch.Size([2, 3])", "torch.Size([2, 4])", "integer"),  # a shape
        ("138,357,544 parameters", "138,357,545 parameters", "integer"),
        ("ids [1, 2]", "ids [1, 2, 3]", "text around"),
        ("5 mistakes", "6 mistakes", "integer"),  # counts need the measured rule
        ("fp32 weights", "fp16 weights", "text around"),  # digits in a word are text
    ],
)
def test_exact_text_fails(committed, fresh, why):
    assert why in texts_match(committed, fresh)


# Rule 2: floating-point noise, in every cell.
@pytest.mark.parametrize(
    ("committed", "fresh"),
    [
        ("max error 8.9e-16", "max error 4.4e-16"),
        ("max error 4.2e-07", "max error 3.6e-07"),
        ("max error 0.0e+00", "max error 2.2e-16"),
        ("max error 2.9e-06", "max error 1.9e-06"),  # float32 round-off
        ("loss 0.8246", "loss 0.8245"),  # a rounding flip in the last digit
        ("mean -0.000", "mean 0.000"),
        ("98.9%", "99.0%"),
    ],
)
def test_noise_passes(committed, fresh):
    assert texts_match(committed, fresh, NOISE) is None


@pytest.mark.parametrize(
    ("committed", "fresh"),
    [
        ("loss 0.8246", "loss 0.8240"),  # six units: a measured quantity, not noise
        ("98.9%", "98.7%"),
        ("max error 3.1e-06", "max error 3.1e-03"),  # a real loss of precision
        ("max error 2.5e-05", "max error 5.0e-05"),
        ("7.5B parameters", "7.7B parameters"),
        ("gradient norm 2.6e+18", "gradient norm 1.7e+18"),
    ],
)
def test_noise_fails(committed, fresh):
    assert "last digit" in texts_match(committed, fresh, NOISE)


# Rule 3: measured quantities, and per-cell overrides for chaotic cells.
@pytest.mark.parametrize(
    ("committed", "fresh"),
    [
        ("445/450 = 98.9%", "444/450 = 98.7%"),
        ("teacher 94.2%", "teacher 93.8%"),
        ("loss 0.8246", "loss 0.8240"),
    ],
)
def test_measured_passes(committed, fresh):
    assert texts_match(committed, fresh, COUNTED) is None


@pytest.mark.parametrize(
    ("committed", "fresh", "why"),
    [
        ("teacher 94.2%", "teacher 90.0%", "outside the tolerance"),
        ("445/450 = 98.9%", "400/450 = 88.9%", "outside the tolerance"),
        ("accuracy 0.90 on test", "accuracy 0.90 on train", "text around"),
    ],
)
def test_measured_fails(committed, fresh, why):
    assert why in texts_match(committed, fresh, COUNTED)


def test_measured_keeps_integers_exact_unless_they_are_counts():
    assert (
        texts_match("MLP, 269,322 parameters, 93.8%", "MLP, 269,322 parameters, 94.1%", MEASURED)
        is None
    )
    assert "integer" in texts_match("MLP, 269,322 parameters", "MLP, 269,323 parameters", MEASURED)
    assert "integer" in texts_match("445/450 = 98.9%", "444/450 = 98.7%", MEASURED)


def test_override_for_a_chaotic_cell():
    chaotic = Tolerance(rel=0.6, reason="an exploding gradient's magnitude is chaotic")
    assert texts_match("norm 2.6e+18", "norm 1.7e+18", chaotic) is None
    assert "outside the tolerance" in texts_match("norm 2.6e+18", "norm 2.6e+12", chaotic)
    counts = Tolerance(abs=2, counts=True, reason="a handful of mistakes out of 450")
    assert texts_match("5 mistakes", "6 mistakes", counts) is None
    assert "outside the tolerance" in texts_match("5 mistakes", "9 mistakes", counts)


def test_numbers_that_are_not_finite_never_match():
    anything = Tolerance(rel=1.0, abs=1e300, reason="any change at all")
    assert "not finite" in numbers_match("1e999", "1.0", anything)
    assert numbers_match("1e999", "1e999", anything) is None


def test_tolerance_from_metadata():
    assert tolerance_of({}) == NOISE
    reason = "accuracy after training depends on the summation order"
    assert tolerance_of({"nbval": {"tolerance": "measured", "reason": reason}}) == Tolerance(
        rel=MEASURED_REL, reason=reason
    )
    assert tolerance_of({"nbval": {"rel": 0.5, "reason": reason}}).rel == 0.5


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("measured", "must be a dict"),
        ({"tolerance": "measured"}, "reason"),
        ({"tolerance": "measured", "reason": "noise"}, "reason"),
        ({"tolerance": "loose", "reason": "because it moves a lot"}, "must be 'measured'"),
        ({"rel": -1, "reason": "because it moves a lot"}, "rel must be"),
        ({"abs": "2", "reason": "because it moves a lot"}, "abs must be"),
        ({"reason": "because it moves a lot"}, "neither rel nor abs"),
        ({"rtol": 0.1, "reason": "because it moves a lot"}, "unknown keys"),
        ({"tolerance": "measured", "rel": 0.1, "reason": "because it moves"}, "rel/abs alone"),
        ({"tolerance": "measured", "counts": 1, "reason": "because it moves"}, "counts must be"),
    ],
)
def test_bad_metadata_is_refused(spec, message):
    with pytest.raises(ValueError, match=message):
        tolerance_of({"nbval": spec})


def _notebook(tmp_path, cells, committed):
    """A notebook whose code cells print ``committed`` as their stored output."""
    notebook = nbformat.v4.new_notebook()
    for (code, metadata), text in zip(cells, committed, strict=True):
        cell = nbformat.v4.new_code_cell(code, metadata=metadata, execution_count=1)
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
        notebook.cells.append(cell)
    path = tmp_path / "check.ipynb"
    path.write_text(json.dumps(notebook), encoding="utf-8")
    return path


def _nbval(path):
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval", str(path), "--nbval-current-env"]
        + ["-p", "nbval_numbers", "-p", "no:cacheprovider", "-q"],
        capture_output=True,
        text=True,
        cwd=path.parent,
        env={**os.environ, "PYTHONPATH": str(ROOT / "tests")},
        timeout=300,
    )


def test_plugin_in_a_real_nbval_run(tmp_path):
    measured = {
        "nbval": {"tolerance": "measured", "counts": True, "reason": "a stand-in for a training"}
    }
    cells = [
        ('print(f"error {4.4e-16:.1e}")', {}),
        ('print("445/450 = 98.9%".replace("445", "444"))', measured),
        ('print("torch.Size([2, 3])")', {}),
        ('print("teacher 90.0%")', measured),
    ]
    committed = ["error 8.9e-16\n", "445/450 = 98.9%\n", "torch.Size([2, 4])\n", "teacher 94.2%\n"]
    run = _nbval(_notebook(tmp_path, cells, committed))
    report = run.stdout + run.stderr
    assert "2 failed, 2 passed" in report, report
    assert "number 2: committed 4, now 3: is an integer" in report
    assert "number 1: committed 94.2, now 90.0: is outside the tolerance" in report


@pytest.mark.parametrize("path", chapter_paths(), ids=lambda p: p.name)
def test_every_override_in_the_chapters_is_valid(path):
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if "nbval" in cell["metadata"]:
            assert cell["cell_type"] == "code", "only code cells have outputs to compare"
            assert "nbval-ignore-output" not in cell["metadata"].get("tags", [])
            tolerance_of(cell["metadata"])
