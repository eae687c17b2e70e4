"""Parameters of the code-similarity engine: one frozen record, stored with every result."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, kw_only=True)
class Params:
    """Every knob of the engine, with principled defaults (none learnt from labelled data).

    ``k`` and ``window`` are the winnowing parameters of Schleimer et al. (2003): every shared run
    of at least ``k + window - 1`` normalised tokens is guaranteed to be detected; ``k`` = 12 tokens
    is about one or two statements once identifiers and literals are normalised.  ``ngram`` is the
    length of the short token n-grams of the order-insensitive channel.  ``min_match`` is the
    shortest fragment (in tokens) that greedy string tiling reports.  ``max_df`` drops features seen
    in more than that share of the documents (as MOSS's ``-m``), once there are ``min_docs_for_df``
    documents or more: they carry no evidence and cost quadratic time in the inverted index.
    """

    k: int = 12
    window: int = 8
    lang: str = "auto"
    ngram: int = 4
    min_match: int = 12
    max_df: float = 0.5
    min_docs_for_df: int = 20
    max_tokens_per_file: int = 200_000
    min_score: float = 0.0
    max_report_pairs: int = 500

    def __post_init__(self) -> None:
        if self.k < 1 or self.window < 1 or self.ngram < 1 or self.min_match < 1:
            raise ValueError("k, window, ngram and min_match must be positive")
        if not 0.0 < self.max_df <= 1.0:
            raise ValueError("max_df must be in (0, 1]")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


DEFAULT_PARAMS = Params()
