"""book/_ext/lean_pages.py: maths typeset at build time, stylesheets and fonts cut."""

import json
import shutil
import subprocess

import lean_pages  # book/_ext, on the path through conftest
import pytest
import tinycss2
from offline_site import mathjax_source


def purge(css: str, words: set[str]) -> str:
    rules = tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True)
    return lean_pages.purge(rules, words)


def test_a_rule_stays_only_if_every_class_it_names_is_in_use():
    css = ".used{color:red}.unused{color:blue}.used .unused{margin:0}.used,.unused{padding:0}"
    assert purge(css, {"used"}) == ".used{color:red}.used{padding:0}"


def test_rules_without_classes_at_rules_and_negations_are_kept():
    css = (
        "html[data-theme=dark] p{color:#fff}"
        ":not(.gone)>p{margin:0}"
        "@font-face{font-family:X;src:url(x.woff)}"
        "@media (max-width:900px){.gone{display:none}.kept{display:block}}"
        "@media print{.gone{display:none}}"
    )
    kept = purge(css, {"kept"})
    assert "html[data-theme=dark] p{color:#fff}" in kept
    assert ":not(.gone)>p{margin:0}" in kept
    assert "@font-face" in kept
    assert "@media (max-width:900px){.kept{display:block}}" in kept
    assert "@media print" not in kept  # nothing left inside it


def test_selectors_split_at_top_level_commas_only():
    assert lean_pages.split_selectors("a:is(.x, .y), b[title='a,b']") == [
        "a:is(.x, .y)",
        "b[title='a,b']",
    ]


def test_words_in_use_come_from_pages_and_the_scripts_they_load(tmp_path):
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "menu.js").write_text('el.classList.add("is-open")', "utf-8")
    (tmp_path / "_static" / "unused.js").write_text('el.classList.add("never")', "utf-8")
    (tmp_path / "index.html").write_text(
        '<div class="card wide"></div><script src="_static/menu.js?v=1"></script>', "utf-8"
    )
    words = lean_pages.words_in_use(tmp_path)
    assert {"card", "wide", "is-open"} <= words
    assert "never" not in words


def test_minified_mathjax_css_keeps_its_strings():
    css = '/* 1 */\nmjx-c.mjx-c2C::before {\n  padding: 0.1em 0 0;\n  content: ",";\n}\n'
    assert lean_pages.minify(css) == 'mjx-c.mjx-c2C::before{padding:0.1em 0 0;content:",";}'


def test_css_strings_are_decoded_to_the_characters_they_draw():
    assert lean_pages.decode_css_string(r"\2212") == "\u2212"
    assert lean_pages.decode_css_string(r"x\1D465 y") == "x\U0001d465y"
    assert lean_pages.decode_css_string(r"\"") == '"'


@pytest.fixture(scope="module")
def node():
    path = lean_pages.node()
    if path is None:
        pytest.fail("the website's build needs Node.js (README: Requirements)")
    return path


def typeset(node, formulas):
    es5 = str(mathjax_source() / "es5")
    return subprocess.run(
        [node, str(lean_pages.TYPESET_SCRIPT), es5, "fonts"],
        input=json.dumps(formulas),
        capture_output=True,
        text=True,
        check=False,
    )


def test_mathjax_in_node_typesets_with_hidden_mathml_for_screen_readers(node):
    answer = typeset(node, [{"tex": r"\boldsymbol{x}^\top W", "display": True}])
    assert answer.returncode == 0, answer.stderr
    (html,) = json.loads(answer.stdout)["html"]
    assert html.startswith('<mjx-container class="MathJax" jax="CHTML" display="true"')
    assert "<mjx-assistive-mml" in html and "<math" in html
    assert 'url("fonts/MathJax_' in json.loads(answer.stdout)["css"]


def test_a_tex_error_stops_the_build_with_the_formula(node):
    answer = typeset(node, [{"tex": r"\frac{a}{", "display": False}])
    assert answer.returncode != 0
    assert "\\\\frac{a}{" in answer.stderr and "Missing close brace" in answer.stderr


def test_a_page_gets_typeset_maths_and_no_mathjax_script(node, tmp_path):
    page = tmp_path / "notebooks" / "chapter.html"
    page.parent.mkdir()
    page.write_text(
        "<html><head>\n"
        '<script>window.MathJax = {"loader": {}}</script>\n'
        '<script defer="defer" src="../_static/mathjax/startup.js"></script>\n'
        '<script defer="defer" src="../_static/mathjax/startup.js?v=4ba6"></script>\n'
        "</head><body><p>Let "
        '<span class="math notranslate nohighlight">\\(a &lt; b\\)</span>.</p>\n'
        '<div class="math notranslate nohighlight">\n\\[\ne^{i\\pi} = -1\n\\]</div>\n'
        "</body></html>",
        encoding="utf-8",
    )
    es5 = mathjax_source() / "es5"
    assert lean_pages.typeset(page, tmp_path, es5, node)
    text = page.read_text(encoding="utf-8")
    assert "MathJax" not in text.split("<style")[0] and "startup.js" not in text
    assert text.count("<mjx-container") == 2 and "\\(" not in text and "\\[" not in text
    assert "<mo>&lt;</mo>" in text  # the TeX was unescaped before MathJax read it
    assert 'url("../_static/mathjax/output/chtml/fonts/woff-v2/MathJax_' in text
    assert not lean_pages.typeset(page, tmp_path, es5, node)  # nothing left to typeset


def test_fonts_are_cut_to_the_characters_asked_for(tmp_path):
    source = mathjax_source() / "es5" / "output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff"
    target = tmp_path / "main.woff"
    lean_pages.subset_font(source, target, {ord("x"), ord("+")}, "woff")
    from fontTools.ttLib import TTFont

    kept = set(TTFont(str(target)).getBestCmap())
    assert kept == {ord("x"), ord("+")}
    assert target.stat().st_size < source.stat().st_size / 5
    shutil.rmtree(tmp_path)
