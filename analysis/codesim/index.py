"""Inverted index over document features and all-pairs scoring.

Each channel is a sparse TF-IDF matrix (sub-linear term frequency, scikit-learn's smooth inverse
document frequency, rows scaled to unit length), so one sparse product per block of rows computes
the cosine of every pair that shares a feature: the cost follows the shared postings, not N².
Features found in the base are removed before anything else (they count for nothing), and those
in more than ``max_df`` of the documents are dropped, as MOSS does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse

from analysis.codesim.features import CHANNELS, DocFeatures
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
        norm = math.sqrt(sum(v * v for v in row_val)) or 1.0
        indices.extend(row_idx)
        data.extend(v / norm for v in row_val)
        indptr.append(len(indices))
    return sparse.csr_matrix(
        (np.asarray(data, dtype=np.float64), np.asarray(indices), np.asarray(indptr)),
        shape=(n, max(1, len(idf))),
    )


def combine(channels: dict[str, float]) -> float:
    """The overall score: the plain mean of the channel cosines (each in [0, 1])."""
    return sum(channels.values()) / len(channels) if channels else 0.0


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
        combined: FloatArray = sum(dense.values(), np.zeros((len(rb), len(cols)))) / len(CHANNELS)
        keep = combined > params.min_score
        if within:
            keep &= cols[None, :] > rb[:, None]
        for bi, cj in zip(*np.nonzero(keep), strict=True):
            chans = {name: min(1.0, float(dense[name][bi, cj])) for name in CHANNELS}
            yield PairChannels(int(rb[bi]), int(cols[cj]), min(1.0, float(combined[bi, cj])), chans)
        if progress is not None:
            progress(min(1.0, (b0 + len(rb)) / total))
