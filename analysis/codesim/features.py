"""Features of a token stream: winnowed k-gram fingerprints, statement shapes, token n-grams,
surface vocabulary and literal values.  All hashes are stable 64-bit integers (BLAKE2b of the
symbol, then a polynomial rolling hash modulo 2**64), so results do not depend on
``PYTHONHASHSEED``."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from analysis.codesim.tokens import KIND_IDENT, KIND_LITERAL, TokenStream

CHANNELS = ("fingerprints", "statements", "ngrams", "lexical", "literals")
# The channels averaged into the structural score; ``literals`` is a second, independent line of
# evidence (see ``index.combine``).
STRUCTURAL = ("fingerprints", "statements", "ngrams", "lexical")
LITERAL_CHANNEL = "literals"
_MULT = np.uint64(0x100000001B3)  # FNV-64 prime: odd, so the rolling hash is invertible per step
MAX_SURFACE_CHARS = 2_000_000
_SUBWORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_STRING_AFFIX = re.compile(r"^[A-Za-z_]{0,3}(?=[\"'`])")
_STRING_SPACE = re.compile(r"\\[ntr]|\s+")
_NUMBER_SUFFIX = "lLfFdDuU"
MAX_LITERAL_CHARS = 200

U64Array = npt.NDArray[np.uint64]


@lru_cache(maxsize=65536)
def symbol_hash(sym: str) -> int:
    """A stable 64-bit hash of one normalised symbol."""
    return int.from_bytes(hashlib.blake2b(sym.encode("utf-8", "replace"), digest_size=8).digest())


def symbol_array(syms: tuple[str, ...]) -> U64Array:
    return np.fromiter((symbol_hash(s) for s in syms), dtype=np.uint64, count=len(syms))


def kgram_hashes(ids: U64Array, k: int) -> U64Array:
    """Hash of every k-gram (``len(ids) - k + 1`` of them; empty if the stream is shorter)."""
    n = len(ids) - k + 1
    if n <= 0:
        return np.zeros(0, dtype=np.uint64)
    h = np.zeros(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(k):
            h = h * _MULT + ids[j : j + n]
    return h


def winnow(hashes: U64Array, window: int) -> npt.NDArray[np.intp]:
    """Positions selected by winnowing: the minimum hash of every window of ``window`` k-grams
    (the rightmost on ties, as in Schleimer et al.).  Short streams keep their minimum."""
    n = len(hashes)
    if n == 0:
        return np.zeros(0, dtype=np.intp)
    if n <= window:
        rev = hashes[::-1]
        return np.array([n - 1 - int(np.argmin(rev))], dtype=np.intp)
    view = np.lib.stride_tricks.sliding_window_view(hashes[::-1], window)
    # On the reversed array argmin finds the first minimum, i.e. the rightmost in the original.
    first = np.argmin(view, axis=1)
    starts = np.arange(len(view))
    pos_rev = starts + first
    pos: npt.NDArray[np.intp] = np.unique(n - 1 - pos_rev).astype(np.intp)
    return pos


def subwords(identifier: str) -> list[str]:
    """Lower-cased parts of an identifier: ``parseHTTP_v2`` -> parse, http, v, 2."""
    parts = _SUBWORD.findall(identifier)
    return [p.lower() for p in parts] if parts else [identifier.lower()]


@dataclass(frozen=True)
class DocFeatures:
    """Feature counts of one document (a file, or a submission made of several files)."""

    fingerprints: Counter[int]
    statements: Counter[int]
    ngrams: Counter[int]
    lexical: Counter[str]
    literals: Counter[str]

    def channel(self, name: str) -> Counter[int] | Counter[str]:
        value: Counter[int] | Counter[str] = getattr(self, name)
        return value

    @staticmethod
    def merge(parts: list[DocFeatures]) -> DocFeatures:
        fp: Counter[int] = Counter()
        st: Counter[int] = Counter()
        ng: Counter[int] = Counter()
        lx: Counter[str] = Counter()
        lt: Counter[str] = Counter()
        for p in parts:
            fp.update(p.fingerprints)
            st.update(p.statements)
            ng.update(p.ngrams)
            lx.update(p.lexical)
            lt.update(p.literals)
        return DocFeatures(fp, st, ng, lx, lt)


def literal_value(sym: str, text: str) -> str | None:
    """The value a string or number literal denotes, up to spelling: a string without its quotes,
    prefix, escaped line breaks and surrounding or repeated white space (``"Sum:\\n"`` and
    ``'Sum: '`` are both ``S:Sum:``); a number as its value (``5``, ``5L`` and ``5.0`` are
    ``N:5``).  None for other tokens and for the empty string."""
    if sym == "STR":
        affix = _STRING_AFFIX.match(text)
        body = text[affix.end() :] if affix else text
        quote = body[:3] if body[:3] in ('"""', "'''") else body[:1]
        if quote and body.endswith(quote) and len(body) >= 2 * len(quote):
            body = body[len(quote) : len(body) - len(quote)]
        value = _STRING_SPACE.sub(" ", body[:MAX_LITERAL_CHARS]).strip()
        return "S:" + value if value else None
    if sym == "NUM":
        raw = text.rstrip(_NUMBER_SUFFIX).replace("_", "")
        try:
            number = float(raw)
        except ValueError:
            return "N:" + text
        if number.is_integer() and abs(number) < 1e18:
            return f"N:{int(number)}"
        return f"N:{number!r}"
    return None


def extract(
    stream: TokenStream, *, k: int, window: int, ngram: int, text: str | None = None
) -> DocFeatures:
    """Features of one file; ``text`` (the source as written) feeds the surface channel."""
    ids = symbol_array(stream.syms)
    hashes = kgram_hashes(ids, k)
    fps = Counter(int(h) for h in hashes[winnow(hashes, window)])
    stmts: Counter[int] = Counter()
    for a, b in stream.statements():
        if b - a >= 2:
            stmts[int(kgram_hashes(ids[a:b], b - a)[0])] += 1
    ngrams = Counter(int(h) for h in kgram_hashes(ids, ngram)) if len(ids) >= ngram else Counter()
    if text is not None:
        # Surface channel: the set of whitespace-delimited words exactly as written (identifier and
        # literal spellings, operator spacing habits).  Cheap to disguise, so it is one structural
        # channel of four, but what a hurried copier leaves untouched.
        lexical: Counter[str] = Counter(set(text[:MAX_SURFACE_CHARS].split()))
    else:
        lexical = Counter()
        for word, kind in zip(stream.texts, stream.kinds, strict=True):
            if kind in (KIND_IDENT, KIND_LITERAL):
                lexical[word] = 1
    # Data channel: the literal values the program carries (messages, constants).  Disguises that
    # keep the program's behaviour keep them; independent authors word and pick them differently.
    literals: Counter[str] = Counter()
    for sym, word in zip(stream.syms, stream.texts, strict=True):
        value = literal_value(sym, word)
        if value is not None:
            literals[value] += 1
    return DocFeatures(fps, stmts, ngrams, lexical, literals)
