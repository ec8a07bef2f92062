import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

from lmbook import plot


def test_style_is_applied_only_when_asked():
    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        assert matplotlib.rcParams["axes.spines.top"] is True
        plot.use_book_style()
        assert matplotlib.rcParams["axes.spines.top"] is False
        assert matplotlib.rcParams["axes.prop_cycle"].by_key()["color"][0] == plot.PALETTE[0]


def test_label_axes_sets_all_three():
    fig, ax = plt.subplots()
    plot.label_axes(ax, title="T", xlabel="x (s)", ylabel="y (m)")
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("T", "x (s)", "y (m)")
    plt.close(fig)


@pytest.mark.parametrize("missing", ["title", "xlabel", "ylabel"])
def test_label_axes_requires_every_label(missing):
    fig, ax = plt.subplots()
    labels = {"title": "T", "xlabel": "x", "ylabel": "y", missing: "  "}
    with pytest.raises(ValueError, match=f"{missing} must be a non-empty string, got '  '"):
        plot.label_axes(ax, **labels)
    with pytest.raises(TypeError, match=f"{missing} must be a non-empty string, got None"):
        plot.label_axes(ax, **(labels | {missing: None}))
    plt.close(fig)


def test_annotate_points_writes_each_label():
    fig, ax = plt.subplots()
    plot.annotate_points(ax, [1, 2], [3, 4], ["a", "b"])
    assert [t.get_text() for t in ax.texts] == ["a", "b"]
    with pytest.raises(ValueError, match="equal length"):
        plot.annotate_points(ax, [1, 2], [3, 4], ["a"])
    with pytest.raises(ValueError, match="equal length"):
        plot.annotate_points(ax, [[1, 2]], [[3, 4]], ["a"])
    plt.close(fig)


def test_show_as_jpeg_displays_a_jpeg_and_closes_the_figure(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", shown.append)
    fig, ax = plt.subplots()
    ax.imshow(np.random.default_rng(0).random((64, 64)))
    plot.show_as_jpeg(fig, quality=70)
    (image,) = shown
    assert image.format == "jpeg" and image.data[:2] == b"\xff\xd8"  # the JPEG magic number
    assert not plt.fignum_exists(fig.number)


@pytest.mark.parametrize(
    ("quality", "error"),
    [(0, ValueError), (96, ValueError), (50.0, TypeError), (True, TypeError), ("85", TypeError)],
)
def test_show_as_jpeg_rejects_a_bad_quality(quality, error):
    fig = plt.figure()
    with pytest.raises(error, match=r"quality must be an integer in \[1, 95\], got"):
        plot.show_as_jpeg(fig, quality=quality)
    plt.close(fig)


def test_show_as_jpeg_rejects_what_is_not_a_figure():
    with pytest.raises(TypeError, match="fig must be a matplotlib Figure, got list"):
        plot.show_as_jpeg([])


def test_retina_png_has_twice_the_pixels_it_is_shown_at_in_a_palette():
    from PIL import Image

    plot.use_book_style()
    fig, ax = plt.subplots(figsize=(4, 3), dpi=100)
    ax.plot([0, 1, 2], [0, 1, 4])
    data, size = plot.retina_png(fig)
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG" and image.mode == "P"  # a palette of colours
        pixels = image.size
    assert size == {"width": pixels[0] // 2, "height": pixels[1] // 2}
    full = io.BytesIO()
    fig.savefig(full, format="png", dpi=200)
    with Image.open(full) as image:  # what the book style crops, it crops alike
        assert image.size == pixels
    assert len(data) < len(full.getvalue())
    plt.close(fig)


def test_retina_png_takes_a_figures_own_palette_size():
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.imshow(np.linspace(0, 1, 400).reshape(20, 20), cmap="viridis")
    full, _ = plot.retina_png(fig)
    fig.palette_colors = 8
    few, _ = plot.retina_png(fig)
    with Image.open(io.BytesIO(few)) as image:
        assert len(image.getcolors()) <= 8
    assert len(few) < len(full)
    assert plot.retina_png(fig, colors=256)[0] == full  # an explicit size wins
    plt.close(fig)


def test_retina_png_checks_its_inputs():
    fig, _ = plt.subplots()
    with pytest.raises(TypeError, match="matplotlib Figure"):
        plot.retina_png("figure.png")
    with pytest.raises(ValueError, match="colors"):
        plot.retina_png(fig, colors=1)
    plt.close(fig)


def test_use_book_style_makes_a_notebook_show_figures_as_retina_pngs():
    # In a real kernel: Jupyter's inline backend installs its own PNG formatter when it
    # is first loaded, which once replaced the book's (a bare InteractiveShell has no
    # inline backend and missed it).
    import nbformat
    from nbclient import NotebookClient
    from PIL import Image

    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "import matplotlib.pyplot as plt\nfrom lmbook import plot\nplot.use_book_style()"
            ),
            nbformat.v4.new_code_cell(
                "fig, ax = plt.subplots(figsize=(4, 3), dpi=100)\nax.plot([0, 1], [1, 0]);"
            ),
        ]
    )
    NotebookClient(notebook, kernel_name="python3", timeout=60).execute()
    (shown,) = [out for out in notebook.cells[1].outputs if "image/png" in out.get("data", {})]
    image = Image.open(io.BytesIO(base64.b64decode(shown["data"]["image/png"])))
    assert image.mode == "P"
    assert image.width == 2 * shown["metadata"]["image/png"]["width"]
