"""Inverted index over document features and all-pairs scoring.

Each channel is a sparse TF-IDF matrix (sub-linear term frequency, scikit-learn's smooth inverse
document frequency, rows scaled to unit length), so one sparse product per block of rows computes
the cosine of every pair that shares a feature: the cost follows the shared postings, not N².
Features found in the base are removed before anything else (they count for nothing), and those
in more than ``max_df`` of the documents are dropped, as MOSS does.

The overall score (``combine``) takes the stronger of two independent lines of evidence: the
structural score (the mean of the token channels and the surface vocabulary) and the data score
(the literal values).  A disguise that rewrites the code's structure (reordering, equivalent
statements, changed logic) keeps what the program prints and computes with, and one that rewrites
the literals leaves the structure; independent authors differ in both.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse

from analysis.codesim.features import CHANNELS, LITERAL_CHANNEL, STRUCTURAL, DocFeatures
from analysis.codesim.params import DEFAULT_PARAMS, Params

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class PairChannels:
    left: int
    right: int
    score: float
    channels: dict[str, float]


def _matrix(
    docs: Sequence[DocFeatures], name: str, base: DocFeatures | None, params: Params
) -> sparse.csr_matrix:
    excluded = set(base.channel(name)) if base is not None else set()
    df: dict[int | str, int] = {}
    for d in docs:
        for f in d.channel(name):
            if f not in excluded:
                df[f] = df.get(f, 0) + 1
    n = len(docs)
    cap = max(2, int(params.max_df * n)) if n >= params.min_docs_for_df else n
    vocab: dict[int | str, int] = {}
    idf: list[float] = []
    for f, c in df.items():
        if c <= cap:
            vocab[f] = len(idf)
            idf.append(math.log((1 + n) / (1 + c)) + 1.0)
    # Literal values are few per file, so one shared common value could make a cosine of 1.  Their
    # rows carry one unseen pseudo-value of the weakest admissible weight (the IDF at the cut-off),
    # so a match rests on more than one common literal before it counts fully.
    prior = (math.log((1 + n) / (1 + cap)) + 1.0) ** 2 if name == LITERAL_CHANNEL else 0.0
    indptr = [0]
    indices: list[int] = []
    data: list[float] = []
    for d in docs:
        row_idx: list[int] = []
        row_val: list[float] = []
        for f, tf in d.channel(name).items():
            col = vocab.get(f)
            if col is not None:
                row_idx.append(col)
                row_val.append((1.0 + math.log(tf)) * idf[col])
        norm = math.sqrt(prior + sum(v * v for v in row_val)) or 1.0
        indices.extend(row_idx)
        data.extend(v / norm for v in row_val)
        indptr.append(len(indices))
    return sparse.csr_matrix(
        (np.asarray(data, dtype=np.float64), np.asarray(indices), np.asarray(indptr)),
        shape=(n, max(1, len(idf))),
    )


def combine(channels: Mapping[str, float]) -> float:
    """The overall score: the larger of the structural score (the plain mean of the structural
    channels' cosines, each in [0, 1]) and the literal channel's cosine."""
    structural = [channels[c] for c in STRUCTURAL if c in channels]
    score = sum(structural) / len(structural) if structural else 0.0
    return max(score, channels.get(LITERAL_CHANNEL, 0.0))


def score_pairs(
    docs: Sequence[DocFeatures],
    *,
    left: Sequence[int] | None = None,
    right: Sequence[int] | None = None,
    base: DocFeatures | None = None,
    params: Params = DEFAULT_PARAMS,
    block: int = 256,
    progress: Callable[[float], None] | None = None,
) -> Iterator[PairChannels]:
    """Score document pairs: every ``i < j`` when ``left``/``right`` are not given, else every
    ``(i, j)`` with ``i`` in ``left`` and ``j`` in ``right``.  Pairs scoring at most
    ``params.min_score`` are not yielded."""
    mats = {name: _matrix(docs, name, base, params) for name in CHANNELS}
    within = left is None or right is None
    rows = np.arange(len(docs)) if left is None else np.asarray(left, dtype=np.intp)
    cols = np.arange(len(docs)) if right is None else np.asarray(right, dtype=np.intp)
    col_mats = {name: m[cols].T.tocsc() for name, m in mats.items()}
    total = max(1, len(rows))
    for b0 in range(0, len(rows), block):
        rb = rows[b0 : b0 + block]
        dense = {
            name: np.asarray((mats[name][rb] @ col_mats[name]).todense(), dtype=np.float64)
            for name in CHANNELS
        }
        structural: FloatArray = sum(
            (dense[name] for name in STRUCTURAL), np.zeros((len(rb), len(cols)))
        ) / len(STRUCTURAL)
        combined: FloatArray = np.maximum(structural, dense[LITERAL_CHANNEL])
        keep = combined > params.min_score
        if within:
            keep &= cols[None, :] > rb[:, None]
        bis, cjs = np.nonzero(keep)
        # Whole columns of values converted at once: per-element numpy indexing would cost more
        # than the products themselves.
        values = [np.minimum(dense[name][bis, cjs], 1.0).tolist() for name in CHANNELS]
        scores = np.minimum(combined[bis, cjs], 1.0).tolist()
        lefts, rights = rb[bis].tolist(), cols[cjs].tolist()
        for k, (i, j, score) in enumerate(zip(lefts, rights, scores, strict=True)):
            chans = {name: vals[k] for name, vals in zip(CHANNELS, values, strict=True)}
            yield PairChannels(i, j, score, chans)
        if progress is not None:
            progress(min(1.0, (b0 + len(rb)) / total))
