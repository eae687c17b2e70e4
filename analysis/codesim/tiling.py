"""Greedy string tiling (Wise 1993, as in JPlag) seeded by k-gram hash hits, and the identifier
rename map read off the aligned tiles."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from analysis.codesim.features import kgram_hashes, symbol_array
from analysis.codesim.tokens import KIND_IDENT, TokenStream

MAX_POSITIONS = 64
MAX_ROUNDS = 16
# Token comparisons allowed per file pair: greedy string tiling is cubic at worst (periodic input
# such as minified code), so past this budget a round stops looking and keeps what it found.
MAX_WORK = 3_000_000


@dataclass(frozen=True)
class Tile:
    """``length`` tokens aligned from ``left`` in the first stream and ``right`` in the second."""

    left: int
    right: int
    length: int


def kgram_mask(stream: TokenStream, k: int, excluded: set[int]) -> list[bool]:
    """True for every token inside a k-gram whose hash is in ``excluded`` (base code)."""
    mask = [False] * len(stream)
    if not excluded:
        return mask
    hashes = kgram_hashes(symbol_array(stream.syms), k)
    for i, h in enumerate(hashes.tolist()):
        if h in excluded:
            for t in range(i, i + k):
                mask[t] = True
    return mask


def all_kgrams(stream: TokenStream, k: int) -> set[int]:
    return set(kgram_hashes(symbol_array(stream.syms), k).tolist())


def greedy_tiles(
    a: TokenStream,
    b: TokenStream,
    *,
    min_match: int,
    mask_a: list[bool] | None = None,
    mask_b: list[bool] | None = None,
) -> list[Tile]:
    """Maximal non-overlapping common runs of normalised tokens, longest first, each at least
    ``min_match`` tokens; masked tokens (base code) never take part."""
    ids_a = symbol_array(a.syms)
    ids_b = symbol_array(b.syms)
    sa: list[int] = ids_a.tolist()
    sb: list[int] = ids_b.tolist()
    ma = list(mask_a) if mask_a is not None else [False] * len(sa)
    mb = list(mask_b) if mask_b is not None else [False] * len(sb)
    ha = kgram_hashes(ids_a, min_match).tolist()
    hb = kgram_hashes(ids_b, min_match).tolist()
    where: dict[int, list[int]] = {}
    for j, h in enumerate(hb):
        lst = where.setdefault(h, [])
        if len(lst) < MAX_POSITIONS:
            lst.append(j)
    tiles: list[Tile] = []
    na, nb = len(sa), len(sb)
    work = 0
    for _ in range(MAX_ROUNDS):
        found: list[tuple[int, int, int]] = []
        for i, h in enumerate(ha):
            if work > MAX_WORK:
                break
            js = where.get(h)
            if js is None or ma[i] or ma[i + min_match - 1]:
                continue
            for j in js:
                if mb[j] or mb[j + min_match - 1]:
                    continue
                if i > 0 and j > 0 and sa[i - 1] == sb[j - 1] and not ma[i - 1] and not mb[j - 1]:
                    continue  # not the start of a maximal run
                length = 0
                while (
                    i + length < na
                    and j + length < nb
                    and sa[i + length] == sb[j + length]
                    and not ma[i + length]
                    and not mb[j + length]
                ):
                    length += 1
                work += length + 1
                if length >= min_match:
                    found.append((length, i, j))
        if not found:
            break
        found.sort(key=lambda t: (-t[0], t[1], t[2]))
        added = 0
        for length, i, j in found:
            if any(ma[i : i + length]) or any(mb[j : j + length]):
                continue
            for t in range(length):
                ma[i + t] = True
                mb[j + t] = True
            tiles.append(Tile(i, j, length))
            added += 1
        if added == len(found) or work > MAX_WORK:
            break
    tiles.sort(key=lambda t: (-t.length, t.left, t.right))
    return tiles


def rename_pairs(a: TokenStream, b: TokenStream, tiles: list[Tile]) -> Counter[tuple[str, str]]:
    """How often each identifier of ``a`` is aligned with a differently spelt one of ``b``."""
    seen: Counter[tuple[str, str]] = Counter()
    for t in tiles:
        for off in range(t.length):
            i, j = t.left + off, t.right + off
            if a.kinds[i] == KIND_IDENT and b.kinds[j] == KIND_IDENT:
                seen[(a.texts[i], b.texts[j])] += 1
    return seen


def consistent_renames(aligned: Counter[tuple[str, str]]) -> list[tuple[str, str, int]]:
    """For each original identifier its most frequent counterpart, where that differs from it:
    ``(original, suspect, count)`` sorted by count, then name."""
    best: dict[str, tuple[int, str]] = {}
    for (orig, sus), count in sorted(aligned.items()):
        cur = best.get(orig)
        if cur is None or count > cur[0]:
            best[orig] = (count, sus)
    out = [(o, s, c) for o, (c, s) in best.items() if o != s]
    out.sort(key=lambda r: (-r[2], r[0], r[1]))
    return out
