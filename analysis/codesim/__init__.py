"""Code similarity: a pure Python package (no Django, no I/O outside ``load_tree``).

Contract: plain data in (``SourceFile`` records), frozen dataclasses out, each with ``to_dict()``;
every result records its ``Params`` and ``__version__``.  Pipeline: Pygments tokens normalised
(``tokens``) -> winnowed k-gram fingerprints, statement shapes, token n-grams, surface vocabulary
and literal values (``features``) -> TF-IDF inverted index scoring all pairs, the stronger of the
structural and the literal evidence (``index``) -> greedy string
tiling into line/column fragments and the rename map (``tiling``) -> reports (``engine``,
``report``, ``html``, ``history``).  Command line: ``python -m analysis.codesim``.
"""

from analysis.codesim.engine import compare_trees, iter_submission_scores, score_submissions
from analysis.codesim.history import annotate_history, first_touch
from analysis.codesim.html import render_html
from analysis.codesim.loader import Skipped, load_tree
from analysis.codesim.params import Params
from analysis.codesim.report import FilePair, Fragment, PairScore, Rename, TreeReport
from analysis.codesim.tokens import SourceFile, TokenStream, tokenize
from analysis.codesim.version import __version__

__all__ = [
    "FilePair",
    "Fragment",
    "PairScore",
    "Params",
    "Rename",
    "Skipped",
    "SourceFile",
    "TokenStream",
    "TreeReport",
    "__version__",
    "annotate_history",
    "compare_trees",
    "first_touch",
    "iter_submission_scores",
    "load_tree",
    "render_html",
    "score_submissions",
    "tokenize",
]
