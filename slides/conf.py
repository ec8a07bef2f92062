"""Sphinx configuration of the lecture slides, one reveal.js deck per chapter.

sphinx-revealjs renders each deck's MyST source with the reveal.js it ships, so
nothing is fetched from a CDN; scripts/slides.py (make slides) then typesets the
maths in Node.js, as the website's build does, and prints each deck to PDF.
"""

project = "Large Models: From Neurons to Business"
author = "The course's authors"
extensions = ["myst_parser", "sphinx_revealjs"]
myst_enable_extensions = ["dollarmath", "colon_fence"]
# _figures/ holds the chapters' figures, and a snippet per figure to include.
exclude_patterns = ["_figures/*.md", "README.md"]
revealjs_style_theme = "white"
revealjs_static_path = ["_static"]
# Code is coloured by reveal.js's highlight plugin, shipped with the decks.
revealjs_css_files = ["revealjs/plugin/highlight/zenburn.css", "slides.css"]
revealjs_script_conf = {
    "width": 1280,
    "height": 720,
    "margin": 0.04,
    "controls": True,
    "progress": True,
    "slideNumber": "c/t",
    "hash": True,
    "center": False,
    "transition": "none",
    # A PDF page per slide, whatever its fragments and length.
    "pdfSeparateFragments": False,
    "pdfMaxPagesPerSlide": 1,
}
revealjs_script_plugins = [
    {"name": "RevealNotes", "src": "revealjs/plugin/notes/notes.js"},
    {
        "name": "RevealHighlight",
        "src": "revealjs/plugin/highlight/highlight.js",
    },
]
# The same local MathJax path as the website; scripts/slides.py replaces the
# formulas by MathJax's output and removes the script: no deck loads MathJax.
mathjax_path = "mathjax/startup.js"
html_permalinks = False
