"""Sphinx extension that makes each page of the website light (issue: lighter pages).

After the build, for every HTML page of the site:

- **Maths typeset when the site is built.** Node.js runs MathJax 3 (the copy that
  book/_ext/offline_site.py ships) over the page's formulas (``typeset_maths.js``);
  the page gets MathJax's HTML output and a stylesheet for the characters it uses,
  and loads no MathJax script: 0.75 MB less per page with maths, and the maths is
  there as soon as the page is, with MathJax's hidden MathML for screen readers.
  Without Node.js the build keeps the browser-side MathJax and says so.
- **Icon fonts cut to the icons the site shows.** The theme's Font Awesome fonts
  (274 kB) hold 2,000 icons; the site shows about a dozen. They are subset with
  fontTools to the code points of the icon rules kept below.
- **The theme's stylesheet cut to the rules the site can use.** pydata-sphinx-theme's
  397 kB stylesheet bundles Bootstrap and Font Awesome's icon rules. A rule is kept if
  each class its selector names occurs in a page of the site or in a script that a
  page loads (where Bootstrap and the theme name the classes they add: ``show``,
  ``collapsing``, ...), as PurgeCSS does; the ``:not(...)``, ``:is(...)`` parts of a
  selector are not judged.
"""

import concurrent.futures
import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path, PurePosixPath

import tinycss2
from offline_site import mathjax_source
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

TYPESET_SCRIPT = Path(__file__).resolve().parent / "typeset_maths.js"
INLINE_MATH = re.compile(
    r'(<span class="math notranslate nohighlight">)\\\((.*?)\\\)(</span>)', re.DOTALL
)
DISPLAY_MATH = re.compile(
    r'(<div class="math notranslate nohighlight">)\s*\\\[(.*?)\\\]\s*(</div>)', re.DOTALL
)
# What Sphinx writes for the browser-side MathJax: its settings and its loader.
MATHJAX_SCRIPTS = re.compile(
    r"[ \t]*<script>window\.MathJax = .*?</script>\n?"
    r'|[ \t]*<script defer="defer" src="[^"]*_static/mathjax/startup\.js(?:\?[^"]*)?"></script>\n?'
)
CONTAINER_STYLE = ' style="position: relative;"'
MATHJAX_FONTS = "_static/mathjax/output/chtml/fonts/woff-v2"
THEME_STYLESHEET = "_static/styles/pydata-sphinx-theme.css"
ICON_FONT = re.compile(r"url\((\.\./vendor/fontawesome/webfonts/fa-[a-z]+-\d+)\.woff2\)")


def html_pages(outdir: Path) -> list[Path]:
    """The site's pages, without those of another edition built into a folder of it
    (the Chinese site in zh/, which has its own _static and is processed by its build)."""
    editions = {path.parent.name for path in outdir.glob("*/_static")}
    return [
        page
        for page in sorted(outdir.rglob("*.html"))
        if not {"_static", "_sources"} & set(page.relative_to(outdir).parts)
        and page.relative_to(outdir).parts[0] not in editions
    ]


def node() -> str | None:
    return shutil.which(os.environ.get("NODE", "node"))


def typeset(page: Path, outdir: Path, es5: Path, node_path: str) -> bool:
    """Replace the TeX of ``page``'s formulas by MathJax's output; False if none."""
    text = page.read_text(encoding="utf-8")
    found = [(m, False) for m in INLINE_MATH.finditer(text)]
    found += [(m, True) for m in DISPLAY_MATH.finditer(text)]
    if not found:
        return False
    found.sort(key=lambda item: item[0].start())
    formulas = [{"tex": html.unescape(m.group(2)), "display": d} for m, d in found]
    depth = len(page.relative_to(outdir).parts) - 1
    fonts = "/".join([".."] * depth + [MATHJAX_FONTS])
    answer = subprocess.run(
        [node_path, str(TYPESET_SCRIPT), str(es5), fonts],
        input=json.dumps(formulas),
        capture_output=True,
        text=True,
        check=False,
    )
    if answer.returncode != 0:
        raise ExtensionError(f"MathJax could not typeset {page}: {answer.stderr.strip()}")
    typeset_maths = json.loads(answer.stdout)
    pieces, end = [], 0
    for (match, _), output in zip(found, typeset_maths["html"], strict=True):
        # lmbook.css gives every formula this style (and its size) once.
        output = output.replace(CONTAINER_STYLE, "", 1)
        pieces += [text[end : match.start()], match.group(1), output, match.group(3)]
        end = match.end()
    text = "".join([*pieces, text[end:]])
    text = MATHJAX_SCRIPTS.sub("", text)
    style = f'<style id="MJX-CHTML-styles">{minify(typeset_maths["css"])}</style>\n'
    page.write_text(text.replace("</head>", style + "</head>", 1), encoding="utf-8")
    return True


def typeset_every_page(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    node_path = node()
    if node_path is None:
        logger.info("no Node.js: the maths of the website is typeset in the browser")
        return
    outdir = Path(app.outdir)
    es5 = mathjax_source() / "es5"
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        done = pool.map(lambda page: typeset(page, outdir, es5, node_path), html_pages(outdir))
        count = sum(done)
    subset_maths_fonts(outdir)
    logger.info(f"maths typeset with MathJax in Node.js on {count} pages")


def minify(css: str) -> str:
    """MathJax's stylesheet without its comments, indentation and spaces."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    css = re.sub(r"\s*\n\s*", "", css)
    return re.sub(r"\s*([{};,>])\s*|(?<=:) ", r"\1", css)


def subset_font(source: Path, target: Path, characters: set[int], flavor: str) -> None:
    """Keep only the glyphs of ``characters`` (code points) in a font, with fontTools."""
    from fontTools import subset

    options = subset.Options()
    options.flavor = flavor
    options.layout_features = ["*"]
    options.notdef_outline = True
    options.drop_tables += ["FFTM"]  # FontForge's timestamp, which fontTools cannot subset
    font = subset.load_font(str(source), options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=characters)
    subsetter.subset(font)
    subset.save_font(font, str(target), options)


def subset_maths_fonts(outdir: Path) -> None:
    """Cut MathJax's fonts to the characters that the site's formulas draw (every one
    is a ``content`` of the stylesheets the pages got)."""
    characters = set()
    for page in html_pages(outdir):
        style = re.search(
            r'<style id="MJX-CHTML-styles">(.*?)</style>', page.read_text(encoding="utf-8"), re.S
        )
        if style:
            for value in re.findall(r'content:"((?:[^"\\]|\\.)*)"', style.group(1)):
                characters.update(ord(char) for char in decode_css_string(value))
    if not characters:
        return
    for font in (outdir / MATHJAX_FONTS).glob("MathJax_*.woff"):
        if font.name != "MathJax_Zero.woff":  # MathJax's zero-width space font
            subset_font(font, font, characters, "woff")


def decode_css_string(value: str) -> str:
    return re.sub(
        r"\\([0-9A-Fa-f]{1,6}) ?|\\(.)",
        lambda m: chr(int(m.group(1), 16)) if m.group(1) else m.group(2),
        value,
    )


# --- the theme's stylesheet and icon fonts -------------------------------------------


def words_in_use(outdir: Path) -> set[str]:
    """Each class named in a page and each word of a script that a page loads."""
    words, scripts = set(), set()
    for page in html_pages(outdir):
        text = page.read_text(encoding="utf-8")
        for value in re.findall(r'class="([^"]*)"', text):
            words.update(value.split())
        for source in re.findall(r'<script[^>]*\ssrc="([^"?]+)', text):
            script = (page.parent / source).resolve()
            if script.is_relative_to(outdir.resolve()):
                scripts.add(script)
    for script in scripts:
        if script.is_file():
            words.update(re.findall(r"[\w-]+", script.read_text(encoding="utf-8")))
    return words


FUNCTIONAL_PSEUDO = re.compile(r":(?:not|is|where|has)\((?:[^()]|\([^()]*\))*\)")


def selector_is_used(selector: str, words: set[str]) -> bool:
    if "\\" in selector:  # an escaped class name: keep it rather than parse it
        return True
    classes = re.findall(r"\.(-?[_a-zA-Z][\w-]*)", FUNCTIONAL_PSEUDO.sub("", selector))
    return all(name in words for name in classes)


def split_selectors(prelude: str) -> list[str]:
    selectors, depth, start = [], 0, 0
    for index, char in enumerate(prelude):
        depth += {"(": 1, ")": -1, "[": 1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            selectors.append(prelude[start:index].strip())
            start = index + 1
    return [*selectors, prelude[start:].strip()]


def purge(rules: list, words: set[str]) -> str:
    """The rules of a stylesheet (tinycss2's nodes) that can match, serialized."""
    kept = []
    for rule in rules:
        if rule.type == "qualified-rule":
            selectors = split_selectors(tinycss2.serialize(rule.prelude))
            used = [selector for selector in selectors if selector_is_used(selector, words)]
            if used:
                kept.append(f"{','.join(used)}{{{tinycss2.serialize(rule.content)}}}")
        elif rule.type == "at-rule" and rule.lower_at_keyword in {"media", "supports", "layer"}:
            if rule.content is None:
                kept.append(rule.serialize())
                continue
            inner = tinycss2.parse_rule_list(rule.content, skip_comments=True, skip_whitespace=True)
            body = purge(inner, words)
            if body:
                kept.append(f"@{rule.at_keyword}{tinycss2.serialize(rule.prelude)}{{{body}}}")
        elif rule.type in {"at-rule", "qualified-rule"}:
            kept.append(rule.serialize())
    return "".join(kept)


def subset_icon_fonts(stylesheet: Path, css: str) -> str:
    """Subset the Font Awesome fonts that ``css`` names to the icons it still draws;
    returns ``css`` loading the subsets (WOFF)."""
    # Icons sit in the Private Use Area, written as escapes or (after tinycss2) as is.
    codepoints = {ord(char) for char in re.findall("[\ue000-\uf8ff]", css)}
    codepoints |= {int(code, 16) for code in re.findall(r"\\([ef][0-9a-f]{3})\b", css)}
    if not codepoints:
        raise ExtensionError(f"no Font Awesome icon left in {stylesheet}")
    for font in set(ICON_FONT.findall(css)):
        # From the TrueType copy: reading WOFF2 would need Brotli.
        source = (stylesheet.parent / f"{font}.ttf").resolve()
        subset_font(source, source.with_suffix(".subset.woff"), codepoints, "woff")
    return ICON_FONT.sub(r'url(\1.subset.woff) format("woff"),url(\1.woff2)', css)


def stylesheets_in_use(outdir: Path) -> set[Path]:
    """The stylesheets of _static that a page of the site links to."""
    sheets = set()
    for page in html_pages(outdir):
        text = page.read_text(encoding="utf-8")
        for tag in re.findall(r"<link\s[^>]*>", text):
            href = re.search(r'\shref="([^"?]+)', tag)
            if 'rel="stylesheet"' not in tag or href is None:
                continue
            sheet = (page.parent / href[1]).resolve()
            if sheet.is_relative_to((outdir / "_static").resolve()) and sheet.is_file():
                sheets.add(sheet)
    return sheets


def trim_stylesheets(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.name != "html":
        return
    outdir = Path(app.outdir)
    theme = (outdir / PurePosixPath(THEME_STYLESHEET)).resolve()
    sheets = stylesheets_in_use(outdir)
    if theme not in sheets:
        raise ExtensionError(f"no page links {THEME_STYLESHEET}: has the theme changed?")
    words = words_in_use(outdir)
    before = after = 0
    for sheet in sorted(sheets):
        text = sheet.read_text(encoding="utf-8")
        rules = tinycss2.parse_stylesheet(text, skip_comments=True, skip_whitespace=True)
        css = purge(rules, words)
        if sheet == theme:
            css = subset_icon_fonts(sheet, css)
        sheet.write_text(css, encoding="utf-8")
        before, after = before + len(text.encode()), after + len(css.encode())
    logger.info(f"{len(sheets)} stylesheets cut from {before:,} to {after:,} bytes")


def setup(app: Sphinx) -> dict:
    # After offline_site's build-finished handlers (priority 500): pages without their
    # unused scripts, MathJax's fonts copied.
    app.connect("build-finished", typeset_every_page, priority=800)
    app.connect("build-finished", trim_stylesheets, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
