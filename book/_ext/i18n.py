"""The Chinese edition of the website, from the same sources (README, "The Chinese edition").

``scripts/translations.py html`` builds the book with ``language = "zh_CN"`` into
``_build/html/zh/``: Sphinx replaces each message by its translation from
``locales/zh_CN/LC_MESSAGES/`` and parses it again as MyST. This extension makes that
work for this book:

1. **Heading anchors stay those of the English.** myst-parser 3.0.1 keeps a page's heading
   slugs in ``env.metadata[docname]["myst_slugs"]``, and every translated message that
   Sphinx parses overwrites them with its own, so links such as
   ``01_rise_of_large_models.ipynb#14-why-training-costs-about-6nd-operations`` broke.
   One transform before Sphinx's (priority 20) keeps the slugs, one after puts them back;
   both editions then have the same anchors.
2. **A language switch** at the end of every page's header: a link to the same page in
   the other edition (``_templates/language-switch.html``).
3. **The table of contents' part captions.** sphinx-external-toc inserts the toctrees
   (priority 100) after Sphinx has translated the page (priority 20), so their captions
   ("Foundations", ...) stayed English in the sidebar; a transform right after inserts
   their translations from the page's catalogue.
4. **Links out of the Chinese edition.** The lecture decks exist in English only, at the
   English site's root; the Chinese pages link there. The book's PDF has a Chinese
   edition, ``zh/large-models-book.pdf`` (``make pdf``), which they keep.
5. **Display maths.** Sphinx translates a message that is a literal (display maths) by
   parsing ``::`` and the translation as reStructuredText, which MyST reads as a
   paragraph "::", so a transform before Sphinx's puts the translated TeX (its
   ``\\text{...}`` words in Chinese) into the block itself.
6. **Colab opens the Chinese notebook.** A chapter's Colab button and its "在 Colab 中打开"
   link open ``notebooks/zh/<chapter>.ipynb`` (``scripts/zh_notebooks.py``) on the Chinese
   pages, as do their links to other chapters on Colab.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.transforms import SphinxTransform

SLUGS = "myst_slugs"
# Each edition: the switch's label and tooltip that lead to it, its folder in the site.
EDITIONS = {
    "en": ("English", "This page in English", ""),
    "zh_CN": ("中文", "本页的中文版", "zh/"),
}
# Built for the English site only; the Chinese pages link to those copies.
ENGLISH_ONLY = re.compile(r"^slides/")
HREF = re.compile(r'(href=")([^"#?]+)')
COLAB_NOTEBOOK = re.compile(
    r"(https://colab\.research\.google\.com/github/[^\s\"'<>]*?/notebooks/)(?!zh/)([\w-]+\.ipynb)"
)


def language(app: Sphinx) -> str:
    return "zh_CN" if (app.config.language or "en").startswith("zh") else "en"


class KeepSlugs(SphinxTransform):
    default_priority = 19  # sphinx.transforms.i18n.Locale is 20

    def apply(self, **kwargs) -> None:
        slugs = self.env.metadata.get(self.env.docname, {}).get(SLUGS)
        self.document["lmbook_slugs"] = dict(slugs) if slugs else None


class RestoreSlugs(SphinxTransform):
    default_priority = 21

    def apply(self, **kwargs) -> None:
        slugs = self.document.attributes.pop("lmbook_slugs", None)
        metadata = self.env.metadata.setdefault(self.env.docname, {})
        if slugs:
            metadata[SLUGS] = slugs
            self.document.myst_slugs = slugs
        else:
            metadata.pop(SLUGS, None)


def page_catalogue(transform: SphinxTransform):
    """The Chinese catalogue of the page being read, or None (English, or no catalogue)."""
    from sphinx.locale import init as init_locale
    from sphinx.util.i18n import docname_to_domain

    if language(transform.app) == "en":
        return None
    env, config = transform.env, transform.config
    domain = docname_to_domain(env.docname, config.gettext_compact)
    dirs = [str(Path(env.srcdir, folder)) for folder in config.locale_dirs]
    catalogue, found = init_locale(dirs, config.language, domain)
    return catalogue if found else None


class TranslateTocCaptions(SphinxTransform):
    default_priority = 101  # after sphinx_external_toc's InsertToctrees (100)

    def apply(self, **kwargs) -> None:
        from sphinx import addnodes

        catalogue = page_catalogue(self)
        if catalogue is None:
            return
        for toctree in self.document.findall(addnodes.toctree):
            if toctree.get("caption"):
                toctree["caption"] = catalogue.gettext(toctree["caption"])


class TranslateDisplayMaths(SphinxTransform):
    default_priority = 19  # before sphinx.transforms.i18n.Locale (20)

    def apply(self, **kwargs) -> None:
        from docutils import nodes

        catalogue = page_catalogue(self)
        if catalogue is None:
            return
        for block in self.document.findall(nodes.math_block):
            english = block.rawsource or block.astext()
            chinese = catalogue.gettext(english)
            if chinese != english:
                block.children = [nodes.Text(chinese)]
                block.rawsource = chinese
                block["translated"] = True  # Locale leaves it alone


def switch_link(pagename: str, current: str) -> dict[str, str]:
    """The link from ``pagename`` of edition ``current`` to the same page of the other."""
    other = "en" if current == "zh_CN" else "zh_CN"
    to_root = "../" * pagename.count("/") + ("../" if current == "zh_CN" else "")
    label, title, folder = EDITIONS[other]
    return {
        "label": label,
        "title": title,
        "href": to_root + folder + pagename + ".html",
        "lang": other.replace("_", "-"),
    }


def page_context(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    context["lmbook_other_language"] = switch_link(pagename, language(app))


def add_switch(app: Sphinx, config) -> None:
    """After the theme's buttons in the article header. jupyter-book builds
    html_theme_options from _config.yml's html section, so it is set here."""
    config.html_theme_options["article_header_end"] = [
        "article-header-buttons.html",
        "language-switch.html",
    ]
    templates = str(Path(__file__).resolve().parent.parent / "_templates")
    if templates not in config.templates_path:
        config.templates_path.append(templates)


def to_english_site(href: str, page: str) -> str:
    """``href`` of the Chinese ``page`` (its path in the site, zh/...) rewritten to the
    English site's copy when it points at something only that site has."""
    target = posixpath.normpath(posixpath.join(posixpath.dirname(page), href))
    inside = target.removeprefix("zh/")
    if target == inside or not ENGLISH_ONLY.match(inside):
        return href
    return posixpath.relpath(inside, posixpath.dirname(page))


def to_chinese_notebook(text: str, srcdir: Path) -> str:
    """``text`` with every Colab address of a chapter notebook opening its Chinese
    notebook instead, where there is one."""

    def chinese(match: re.Match) -> str:
        if not (srcdir / "notebooks" / "zh" / match[2]).is_file():
            return match.group(0)
        return match[1] + "zh/" + match[2]

    return COLAB_NOTEBOOK.sub(chinese, text)


def link_english_only(app: Sphinx, exception) -> None:
    if exception is not None or language(app) != "zh_CN" or app.builder.name != "html":
        return
    outdir = Path(app.outdir)
    for path in outdir.rglob("*.html"):
        page = "zh/" + path.relative_to(outdir).as_posix()
        text = path.read_text(encoding="utf-8")
        changed = HREF.sub(
            lambda m, page=page: m.group(1) + to_english_site(m.group(2), page), text
        )
        changed = to_chinese_notebook(changed, Path(app.srcdir))
        if changed != text:
            path.write_text(changed, encoding="utf-8")


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", add_switch)
    app.add_transform(KeepSlugs)
    app.add_transform(RestoreSlugs)
    app.add_transform(TranslateTocCaptions)
    app.add_transform(TranslateDisplayMaths)
    app.connect("html-page-context", page_context)
    # Before lean_pages (priorities 800 and 900) typesets and trims the pages.
    app.connect("build-finished", link_english_only, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
