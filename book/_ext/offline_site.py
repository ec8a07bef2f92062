"""Sphinx extension that makes the website self-contained and lean.

- MathJax 3 comes from the pinned package ``django-static-mathjax`` (used only for
  the MathJax copy it ships; it is installed without Django) and is copied into
  ``_static/<mathjax_path's folder>``: the loader that ``mathjax_path`` names, the
  components that ``mathjax3_config["loader"]["load"]`` lists (both in
  ``_config.yml``), MathJax's core, its CHTML fonts and the TeX extensions it
  autoloads. Loading components one by one leaves out MathJax's 0.4 MB context menu,
  which the combined ``tex-chtml.js`` bundles.
  The copy lives outside the book's own ``_static`` folder, which Jupyter Book
  scans and injects as script tags.
- Pages drop scripts they do not need: Thebe's (the book has no live-code button),
  MathJax on pages without math, sphinx-design's on pages without its components,
  and Font Awesome's 1.5 MB script,
  which only redraws as SVG the icons that the theme's stylesheet already draws with
  Font Awesome's local web fonts.
- Chapter pages get a "Source notebook" link to the notebook on the repository.
"""

import importlib.util
import posixpath
import re
import shutil
from pathlib import Path, PurePosixPath

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

# What every page with math needs besides the components (paths inside MathJax's es5).
MATHJAX_FOLDERS = ("output/chtml/fonts/woff-v2", "input/tex/extensions")
MATHJAX_SUPPORT = ("output/chtml/fonts/tex.js",)  # CHTML's font metrics, loaded at startup
UNUSED_ASSETS = ("sphinx-thebe.js", "sphinx-thebe.css")
DESIGN_ASSETS = ("sphinx-design.min.css", "design-tabs.js")
# The theme writes this tag into its template rather than through Sphinx's asset list.
FONTAWESOME_SCRIPT = re.compile(
    r'<script defer src="[^"]*_static/scripts/fontawesome\.js[^"]*"></script>\n?'
)
# pydata-sphinx-theme loads Sphinx's search and its 250 kB index on every page, for
# results shown as one types; with that option off only the search page uses them.
INLINE_SEARCH_SCRIPTS = re.compile(
    r'[ \t]*<script src="[^"]*(?:_static/searchtools|_static/language_data|searchindex)'
    r'\.js"></script>\n?'
)


def mathjax_source() -> Path:
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise ExtensionError(
            "MathJax is missing: install the pinned package with "
            "`pip install --no-deps -r requirements-nodeps.txt` (django-static-mathjax)"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax"
    if not (folder / "es5").is_dir():
        raise ExtensionError(f"no es5 folder in the MathJax package at {folder}")
    return folder


def mathjax_files(config) -> list[str]:
    """The files that the configured loader and components need, inside MathJax's es5."""
    path = config.mathjax_path
    if "://" in path or path.startswith("/"):
        raise ExtensionError(
            f"mathjax_path must be relative to _static (a local copy), got {path!r}"
        )
    components = (config.mathjax3_config or {}).get("loader", {}).get("load", [])
    files = [PurePosixPath(path).name, "core.js"] + [f"{name}.js" for name in components]
    return files + list(MATHJAX_SUPPORT)


def check_mathjax_config(app: Sphinx, config) -> None:
    es5 = mathjax_source() / "es5"
    for name in mathjax_files(config):
        if not (es5 / name).is_file():
            raise ExtensionError(f"MathJax has no component {name} (see _config.yml)")


def copy_mathjax(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    source = mathjax_source()
    target = Path(app.outdir) / "_static" / PurePosixPath(app.config.mathjax_path).parent
    for name in mathjax_files(app.config):
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / "es5" / name, target / name)
    shutil.copy2(source / "LICENSE", target / "LICENSE")
    for folder in MATHJAX_FOLDERS:
        shutil.copytree(source / "es5" / folder, target / folder, dirs_exist_ok=True)


def drop_unused_scripts(app: Sphinx, exception: Exception | None) -> None:
    """Take Font Awesome's script (the icons are its webfonts) out of every written page,
    and the search scripts out of every page but the search page (see
    INLINE_SEARCH_SCRIPTS)."""
    if exception is not None or app.builder.format != "html":
        return
    inline_search = app.config.html_theme_options.get("search_as_you_type", False)
    written = getattr(app.builder, "offline_site_pages", set())
    trimmed_pages = 0
    for pagename in written:
        page = Path(app.builder.get_outfilename(pagename))
        text = page.read_text(encoding="utf-8")
        trimmed = FONTAWESOME_SCRIPT.sub("", text)
        trimmed_pages += trimmed != text
        if pagename != "search" and not inline_search:
            trimmed = INLINE_SEARCH_SCRIPTS.sub("", trimmed)
        if trimmed != text:
            page.write_text(trimmed, encoding="utf-8")
    if written and trimmed_pages == 0:
        raise ExtensionError("no page loads fontawesome.js: has the theme changed its template?")


def asset_name(asset) -> str:
    return PurePosixPath(str(getattr(asset, "filename", "") or "").split("?")[0]).name


def is_unused(asset, page_uses_design: bool, page_uses_math: bool, mathjax: str) -> bool:
    body = str(getattr(asset, "attributes", {}).get("body", ""))
    if asset_name(asset) in UNUSED_ASSETS or "THEBE_JS_URL" in body:
        return True
    if not page_uses_math and (asset_name(asset) == mathjax or "window.MathJax" in body):
        return True
    return asset_name(asset) in DESIGN_ASSETS and not page_uses_design


def trim_page(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    # The pages this build writes, for drop_unused_scripts (an incremental build
    # writes only the pages that changed).
    app.builder.offline_site_pages = getattr(app.builder, "offline_site_pages", set())
    app.builder.offline_site_pages.add(pagename)
    # myst-nb asks Sphinx to put MathJax on every page; only pages with math need it.
    # (The domain's has_equations() would also count the pages a toctree includes.)
    uses_math = app.env.get_domain("math").data["has_equations"].get(pagename, False)
    uses_math = uses_math or app.builder.name == "singlehtml"  # the whole book in one page
    uses_design = 'class="sd-' in context.get("body", "")
    mathjax = PurePosixPath(app.config.mathjax_path).name
    for key in ("script_files", "css_files"):
        context[key] = [
            asset
            for asset in context.get(key, [])
            if not is_unused(asset, uses_design, uses_math, mathjax)
        ]
    if context.get("page_source_suffix") == ".ipynb":
        add_source_notebook_link(app, pagename, context)
    if app.builder.name == "html":
        add_download_button(context, book_pdf_link(pagename, app.config.language or "en"))


BOOK_PDF = "large-models-book.pdf"  # at the site's root: scripts/book_pdf.py prints it


# The entry's words in each edition (the Chinese site has its own PDF, zh/BOOK_PDF).
BOOK_PDF_WORDS = {
    "en": ("The whole book as one PDF (make pdf)", "Book (PDF)"),
    "zh": ("整本书的 PDF（make pdf）", "全书（PDF）"),
}


def book_pdf_link(pagename: str, language: str = "en") -> dict:
    """The download menu's entry for the whole book's PDF, relative to ``pagename``."""
    tooltip, text = BOOK_PDF_WORDS.get(language[:2], BOOK_PDF_WORDS["en"])
    return {
        "type": "link",
        "url": posixpath.relpath(BOOK_PDF, posixpath.dirname(pagename) or "."),
        "tooltip": tooltip,
        "text": text,
        "icon": "fas fa-book",
        "label": "book-pdf-button",
    }


def add_source_notebook_link(app: Sphinx, pagename: str, context: dict) -> None:
    options = app.config.html_theme_options
    url = "/".join(
        part.strip("/")
        for part in (
            options["repository_url"],
            "blob",
            options.get("repository_branch", "main"),
            options.get("path_to_docs", ""),
            f"{pagename}.ipynb",
        )
        if part.strip("/")
    )
    link = {
        "type": "link",
        "url": url,
        "tooltip": "The chapter's notebook in the repository",
        "text": "Source notebook",
        "icon": "fas fa-code",
        "label": "source-notebook-button",
    }
    add_download_button(context, link)


def add_download_button(context: dict, link: dict) -> None:
    """Put ``link`` in the page's download menu (or the header, if it has none)."""
    for button in context.get("header_buttons", []):
        if button.get("label") == "download-buttons":
            button["buttons"].append(link)
            return
    context.setdefault("header_buttons", []).append(link)


def keep_the_top_navbar_empty(app: Sphinx, config) -> None:
    """One button per sidebar, so that they open on a phone.

    pydata-sphinx-theme 0.17.1 puts a search field in a top navbar that sphinx-book-theme
    means to leave empty (pydata's ``update_config`` sets ``navbar_persistent`` when the
    user did not). That navbar brings hidden sidebar buttons of its own, and both themes
    bind their click handlers to the first ``.primary-toggle`` and ``.secondary-toggle``
    of the page: the hidden ones, so the visible buttons did nothing below 992 px
    (pydata-sphinx-theme #2451, sphinx-book-theme #988; no release that runs on
    jupyter-book 1's Sphinx 7 fixes it). Set before the theme's default, this keeps the
    navbar empty, as sphinx-book-theme intends.
    """
    config.html_theme_options.setdefault("navbar_persistent", [])


STATIC = Path(__file__).resolve().parent / "static"  # lmbook.css, lmbook-search.js


def add_course_static(app: Sphinx, config) -> None:
    """The course's stylesheet (narrow screens, wide equations) in every page's _static."""
    config.html_static_path.append(str(STATIC))


def add_search_script(app: Sphinx, pagename: str, templatename: str, context, doctree) -> None:
    """The search page's ranking, section links and prose snippets (lmbook-search.js)."""
    if pagename == "search":
        app.add_js_file("lmbook-search.js")


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", keep_the_top_navbar_empty)
    app.connect("html-page-context", add_search_script)
    app.connect("config-inited", add_course_static)
    app.add_css_file("lmbook.css")
    app.connect("config-inited", check_mathjax_config)
    app.connect("build-finished", copy_mathjax)
    app.connect("build-finished", drop_unused_scripts)
    # After the book theme has added its header buttons (priority 501).
    app.connect("html-page-context", trim_page, priority=900)
    # Not parallel-write safe: the set of written pages lives in the main process.
    return {"parallel_read_safe": True, "parallel_write_safe": False}
