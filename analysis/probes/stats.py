"""Statistics over answer tables: plain mappings ``item id -> normalised answer`` in.

The null is never chance: independent models share errors on hard items.  Shared identical wrong
answers are judged against reference models known to be independent of the original:

* item level: ``q_i`` = (identical wrong answers on item i among reference pairs + 1) /
  (reference pairs both wrong on i + 2) (add-one smoothing, so an item no reference pair got
  identically wrong still has q_i > 0); K = sum of Bernoulli(q_i) over the pair's joint errors,
  p = P(K >= k), exact Poisson-binomial by dynamic programming;
* pair level: the pair's same-wrong rate k/n against the rates of the reference pairs, as a z-score
  and an exact rank p = (1 + #{reference >= s}) / (1 + R_pairs) (handles overdispersion);
* private / canary items: P(Binomial(m, p_ref) >= hits), p_ref = (reference hits + 1) /
  (reference trials + 2).

Tests computed on the same models are not independent: their p-values are never multiplied or
Fisher-combined; Holm's step-down adjustment runs across the battery.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from analysis.probes.probeset import ProbeItem, normalise_answer

Answers = Mapping[str, str]


@dataclass(frozen=True)
class PairStats:
    left: str
    right: str
    n_items: int
    n_agree: int
    n_scored: int  # items with an expected answer
    both_wrong: tuple[str, ...]
    same_wrong: tuple[str, ...]

    @property
    def agreement(self) -> float:
        return self.n_agree / self.n_items if self.n_items else 0.0

    @property
    def same_wrong_rate(self) -> float | None:
        return len(self.same_wrong) / len(self.both_wrong) if self.both_wrong else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "left": self.left,
            "right": self.right,
            "n_items": self.n_items,
            "n_agree": self.n_agree,
            "agreement": self.agreement,
            "n_scored": self.n_scored,
            "n_both_wrong": len(self.both_wrong),
            "n_same_wrong": len(self.same_wrong),
            "same_wrong_rate": self.same_wrong_rate,
            "both_wrong": list(self.both_wrong),
            "same_wrong": list(self.same_wrong),
        }


def _expected(item: ProbeItem) -> str | None:
    return normalise_answer(item.answer) if item.answer is not None else None


def accuracy(answers: Answers, items: Sequence[ProbeItem]) -> tuple[int, int]:
    """(correct, scored) over the items that have an expected answer."""
    scored = [i for i in items if i.answer is not None]
    correct = sum(1 for i in scored if answers.get(i.id) == _expected(i))
    return correct, len(scored)


def pair_stats(
    a: Answers, b: Answers, items: Sequence[ProbeItem], *, left: str = "a", right: str = "b"
) -> PairStats:
    """Agreement over all items; joint errors and identical joint errors over scored items."""
    agree = sum(1 for i in items if a.get(i.id) == b.get(i.id))
    both: list[str] = []
    same: list[str] = []
    n_scored = 0
    for i in items:
        y = _expected(i)
        if y is None:
            continue
        n_scored += 1
        ya, yb = a.get(i.id), b.get(i.id)
        if ya != y and yb != y:
            both.append(i.id)
            if ya == yb:
                same.append(i.id)
    return PairStats(left, right, len(items), agree, n_scored, tuple(both), tuple(same))


def poisson_binomial_sf(k: int, probs: Sequence[float]) -> float:
    """P(K >= k) for K a sum of independent Bernoulli(p_i); exact O(n^2) dynamic programme."""
    if k <= 0:
        return 1.0
    if k > len(probs):
        return 0.0
    pmf = [1.0] + [0.0] * len(probs)
    for n, p in enumerate(probs, start=1):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"probability out of range: {p}")
        for j in range(n, 0, -1):
            pmf[j] = pmf[j] * (1.0 - p) + pmf[j - 1] * p
        pmf[0] *= 1.0 - p
    return min(1.0, max(0.0, math.fsum(pmf[k:])))


@dataclass(frozen=True)
class ItemNullTest:
    k: int
    n: int
    expected: float
    p_value: float
    method: str = "exact Poisson-binomial, q_i=(k_i+1)/(n_i+2) over reference pairs"

    def to_dict(self) -> dict[str, Any]:
        return {
            "k_same_wrong": self.k,
            "n_both_wrong": self.n,
            "expected_same_wrong": self.expected,
            "p_value": self.p_value,
            "method": self.method,
        }


def item_null_test(
    pair: PairStats, reference_pairs: Sequence[tuple[Answers, Answers]], items: Sequence[ProbeItem]
) -> ItemNullTest:
    wanted = set(pair.both_wrong)
    sub = [i for i in items if i.id in wanted]
    q: list[float] = []
    for i in sub:
        y = _expected(i)
        k = n = 0
        for ra, rb in reference_pairs:
            ya, yb = ra.get(i.id), rb.get(i.id)
            if ya != y and yb != y:
                n += 1
                k += ya == yb
        q.append((k + 1) / (n + 2))
    kk = len(pair.same_wrong)
    return ItemNullTest(kk, len(sub), math.fsum(q), poisson_binomial_sf(kk, q))


@dataclass(frozen=True)
class PairNullTest:
    rate: float | None
    reference_rates: tuple[float, ...]
    mean: float | None
    sd: float | None
    z: float | None
    rank: int | None  # 1 = above every reference pair
    p_value: float | None
    method: str = "rank of k/n among reference pairs; p=(1+#{ref>=s})/(1+R_pairs)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "same_wrong_rate": self.rate,
            "reference_rates": list(self.reference_rates),
            "reference_mean": self.mean,
            "reference_sd": self.sd,
            "z": self.z,
            "rank": self.rank,
            "n_reference_pairs": len(self.reference_rates),
            "p_value": self.p_value,
            "method": self.method,
        }


def pair_null_test(rate: float | None, reference_rates: Sequence[float]) -> PairNullTest:
    """Empirical pair-level null; needs at least two reference rates."""
    refs = tuple(reference_rates)
    if rate is None or len(refs) < 2:
        return PairNullTest(rate, refs, None, None, None, None, None)
    mean = math.fsum(refs) / len(refs)
    sd = math.sqrt(math.fsum((r - mean) ** 2 for r in refs) / (len(refs) - 1))
    z: float | None
    if sd > 0:
        z = (rate - mean) / sd
    else:
        z = None if rate == mean else math.copysign(math.inf, rate - mean)
    at_least = sum(1 for r in refs if r >= rate)
    return PairNullTest(rate, refs, mean, sd, z, 1 + at_least, (1 + at_least) / (1 + len(refs)))


@dataclass(frozen=True)
class CanaryTest:
    hits: int
    trials: int
    reference_hits: int
    reference_trials: int
    p_ref: float
    p_value: float
    method: str = "P(Binomial(m, p_ref) >= hits), p_ref=(ref hits+1)/(ref trials+2)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "hits": self.hits,
            "trials": self.trials,
            "reference_hits": self.reference_hits,
            "reference_trials": self.reference_trials,
            "p_ref": self.p_ref,
            "p_value": self.p_value,
            "method": self.method,
        }


def binomial_sf(k: int, n: int, p: float) -> float:
    """P(Binomial(n, p) >= k)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    from scipy.stats import binom

    return float(binom.sf(k - 1, n, p))


def canary_test(
    suspect: Answers, references: Sequence[Answers], items: Sequence[ProbeItem]
) -> CanaryTest:
    private = [i for i in items if i.private and i.answer is not None]
    hits = sum(1 for i in private if suspect.get(i.id) == _expected(i))
    ref_hits = sum(1 for r in references for i in private if r.get(i.id) == _expected(i))
    ref_trials = len(references) * len(private)
    p_ref = (ref_hits + 1) / (ref_trials + 2)
    return CanaryTest(
        hits, len(private), ref_hits, ref_trials, p_ref, binomial_sf(hits, len(private), p_ref)
    )


def holm(p_values: Mapping[str, float]) -> dict[str, float]:
    """Holm step-down adjusted p-values (monotone, capped at 1)."""
    order = sorted(p_values, key=lambda name: (p_values[name], name))
    m = len(order)
    out: dict[str, float] = {}
    running = 0.0
    for rank, name in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[name]))
        out[name] = running
    return out
