"""The references page in the citations' own style: author-year labels, sorted by name.

The chapters cite as "(Rumelhart et al., 1986)" (``bibtex_reference_style``, registered by
plain_notebooks.py). This registers a pybtex style, ``lmbook_author_year``
(``bibtex_default_style`` in _config.yml), whose list shows the same text as its label,
``[Rumelhart et al., 1986]``, so that a reader can find a cited work, and which sorts the
list by that text: organisations ("OpenAI", "{DeepSeek-AI}") by their name, not after
"Z" as BibTeX's braces would put them. Two works with the same label get a, b, ...
"""

from __future__ import annotations

from collections import Counter

from plain_notebooks import authors, bib_field, citation, plain, year
from pybtex.plugin import register_plugin
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle
from pybtex.style.sorting import BaseSortingStyle
from sphinx.application import Sphinx

STYLE = "lmbook_author_year"  # bibtex_default_style in _config.yml


def sort_key(entry) -> tuple[str, str, str]:
    """Author text, year and title, case-folded and without BibTeX's braces."""
    return (
        authors(entry).casefold(),
        year(entry),
        plain(bib_field(entry, "title") or "").casefold(),
    )


class AuthorYearLabels(BaseLabelStyle):
    """``Vaswani et al., 2017``; a second work with the same label gets ``2017b``."""

    def format_labels(self, sorted_entries):
        entries = list(sorted_entries)
        labels = [citation(entry) for entry in entries]
        repeated = {label for label, count in Counter(labels).items() if count > 1}
        seen: Counter = Counter()
        for label in labels:
            if label in repeated:
                seen[label] += 1
                label += "abcdefghijklmnopqrstuvwxyz"[seen[label] - 1]
            yield label


class AuthorYearSorting(BaseSortingStyle):
    def sorting_key(self, entry):
        return sort_key(entry)


class AuthorYearStyle(UnsrtStyle):
    default_label_style = STYLE
    default_sorting_style = STYLE


def setup(app: Sphinx) -> dict:
    register_plugin("pybtex.style.labels", STYLE, AuthorYearLabels)
    register_plugin("pybtex.style.sorting", STYLE, AuthorYearSorting)
    register_plugin("pybtex.style.formatting", STYLE, AuthorYearStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
