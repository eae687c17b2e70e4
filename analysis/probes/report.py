"""The probe battery for one original/suspect pair, calibrated on reference models.

Reference pairs are all pairs among the reference models plus (original, reference) pairs: under
the null the suspect is one more model independent of the original, so (original, reference) pairs
are exchangeable with (original, suspect).  Shared-error tests use the public items; private
(canary) items get their own binomial test.  Holm runs across the tests that could be computed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from analysis.probes.probeset import ProbeItem
from analysis.probes.runner import ModelAnswers
from analysis.probes.stats import (
    Answers,
    CanaryTest,
    ItemNullTest,
    PairNullTest,
    PairStats,
    accuracy,
    canary_test,
    holm,
    item_null_test,
    pair_null_test,
    pair_stats,
)
from analysis.probes.verdict import Verdict, VerdictParams, decide
from analysis.probes.version import __version__


@dataclass(frozen=True)
class ProbeReport:
    probe_set: dict[str, Any]
    models: tuple[ModelAnswers, ...]
    accuracy: dict[str, dict[str, Any]]
    pairs: tuple[PairStats, ...]
    suspect_pair: PairStats
    item_null: ItemNullTest | None
    pair_null: PairNullTest | None
    canary: CanaryTest | None
    p_values: dict[str, float]
    adjusted: dict[str, float]
    verdict: Verdict
    reference_pairs: tuple[tuple[str, str], ...]
    version: str = __version__
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "probe_set": self.probe_set,
            "models": [m.to_dict() for m in self.models],
            "accuracy": self.accuracy,
            "pairs": [p.to_dict() for p in self.pairs],
            "suspect_pair": self.suspect_pair.to_dict(),
            "reference_pairs": [list(p) for p in self.reference_pairs],
            "tests": {
                "item_null": self.item_null.to_dict() if self.item_null else None,
                "pair_null": self.pair_null.to_dict() if self.pair_null else None,
                "canary": self.canary.to_dict() if self.canary else None,
            },
            "p_values": self.p_values,
            "holm_adjusted": self.adjusted,
            "verdict": self.verdict.verdict,
            "rule": self.verdict.rule,
            "verdict_params": self.verdict.params.to_dict(),
            "notes": list(self.notes),
        }


def analyse(
    items: Sequence[ProbeItem],
    original: ModelAnswers,
    suspect: ModelAnswers,
    references: Sequence[ModelAnswers] = (),
    *,
    probe_set: dict[str, Any] | None = None,
    params: VerdictParams | None = None,
) -> ProbeReport:
    models = (original, suspect, *references)
    labels = [m.label for m in models]
    if len(set(labels)) != len(labels):
        raise ValueError(f"model labels must be distinct: {labels}")
    public = [i for i in items if not i.private]
    acc: dict[str, dict[str, Any]] = {}
    for m in models:
        c, n = accuracy(m.answers, items)
        acc[m.label] = {"correct": c, "scored": n, "accuracy": c / n if n else None}
    pairs = tuple(
        pair_stats(a.answers, b.answers, public, left=a.label, right=b.label)
        for a, b in combinations(models, 2)
    )
    sp = pairs[0]
    ref_models: list[ModelAnswers] = list(references)
    ref_pair_models = list(combinations(ref_models, 2)) + [(original, r) for r in ref_models]
    ref_pairs: list[tuple[Answers, Answers]] = [(a.answers, b.answers) for a, b in ref_pair_models]
    notes: list[str] = []
    p_values: dict[str, float] = {}
    item_t: ItemNullTest | None = None
    pair_t: PairNullTest | None = None
    canary_t: CanaryTest | None = None
    if len(references) >= 2:
        if sp.both_wrong:
            item_t = item_null_test(sp, ref_pairs, public)
            p_values["item_null"] = item_t.p_value
        else:
            notes.append("no joint errors on public items: shared-error tests not computed")
        rates = [
            r for a, b in ref_pairs if (r := pair_stats(a, b, public).same_wrong_rate) is not None
        ]
        pair_t = pair_null_test(sp.same_wrong_rate, rates)
        if pair_t.p_value is not None:
            p_values["pair_null"] = pair_t.p_value
        else:
            notes.append("pair-level null needs >= 2 reference pairs with joint errors")
    else:
        notes.append("fewer than 2 reference models: no null for shared errors")
    if any(i.private for i in items):
        if references:
            canary_t = canary_test(suspect.answers, [r.answers for r in references], items)
            p_values["canary"] = canary_t.p_value
        else:
            notes.append("private items present but no reference models: no reference hit rate")
    adjusted = holm(p_values)
    identical = all(original.answers.get(i.id) == suspect.answers.get(i.id) for i in items)
    verdict = decide(
        adjusted=adjusted,
        pair_z=pair_t.z if pair_t else None,
        pair_rank=pair_t.rank if pair_t else None,
        n_references=len(references),
        n_both_wrong=len(sp.both_wrong),
        n_same_wrong=len(sp.same_wrong),
        all_answers_identical=identical,
        params=params,
    )
    return ProbeReport(
        probe_set=probe_set or {"n_items": len(items)},
        models=models,
        accuracy=acc,
        pairs=pairs,
        suspect_pair=sp,
        item_null=item_t,
        pair_null=pair_t,
        canary=canary_t,
        p_values=p_values,
        adjusted=adjusted,
        verdict=verdict,
        reference_pairs=tuple((a.label, b.label) for a, b in ref_pair_models),
        notes=tuple(notes),
    )
