"""Verdict rules: Holm-adjusted p-values and ranks -> one of three verdicts, with the rule text.

Thresholds are provisional until the calibration benchmark (known-ground-truth pairs, TPR at a
fixed FPR) fixes them; every verdict prints the rule that produced it and the parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

STRONG = "strong evidence of derivation"
CONSISTENT = "consistent with derivation"
NO_EVIDENCE = "no evidence"


@dataclass(frozen=True)
class VerdictParams:
    strong_p: float = 1e-6
    alpha: float = 0.01
    strong_z: float = 3.0
    min_both_wrong_no_null: int = 5

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Verdict:
    verdict: str
    rule: str
    params: VerdictParams

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "rule": self.rule, "params": self.params.to_dict()}


def decide(
    *,
    adjusted: Mapping[str, float],
    pair_z: float | None = None,
    pair_rank: int | None = None,
    n_references: int = 0,
    n_both_wrong: int = 0,
    n_same_wrong: int = 0,
    all_answers_identical: bool = False,
    params: VerdictParams | None = None,
) -> Verdict:
    """``adjusted`` holds Holm-adjusted p-values keyed "canary", "item_null", "pair_null"."""
    p = params or VerdictParams()
    if n_references < 2:
        why = (
            f"only {n_references} reference model(s): there is no null distribution for shared "
            "errors (chance is not a valid null), so no test can support more than "
            f"'{CONSISTENT}'"
        )
        if all_answers_identical and n_same_wrong >= p.min_both_wrong_no_null:
            return Verdict(
                CONSISTENT,
                f"{why}; rule: identical answers on every item including "
                f">= {p.min_both_wrong_no_null} identical wrong answers "
                f"(here {n_same_wrong} of {n_both_wrong})",
                p,
            )
        return Verdict(
            NO_EVIDENCE,
            f"{why}; rule for '{CONSISTENT}' without a null (identical answers on every item, "
            f">= {p.min_both_wrong_no_null} identical wrong answers) not met",
            p,
        )
    canary = adjusted.get("canary")
    if canary is not None and canary < p.strong_p:
        return Verdict(
            STRONG,
            f"canary/private items: Holm-adjusted p = {canary:.3g} < {p.strong_p:g} against the "
            "reference hit rate",
            p,
        )
    item = adjusted.get("item_null")
    if (
        item is not None
        and item < p.strong_p
        and pair_z is not None
        and pair_z >= p.strong_z
        and pair_rank == 1
    ):
        return Verdict(
            STRONG,
            f"shared wrong answers: item-level Holm-adjusted p = {item:.3g} < {p.strong_p:g} "
            f"AND pair-level z = {pair_z:.3g} >= {p.strong_z:g} with the pair above every "
            "reference pair (rank 1)",
            p,
        )
    below = {k: v for k, v in adjusted.items() if v < p.alpha}
    if below:
        listed = ", ".join(f"{k} p = {v:.3g}" for k, v in sorted(below.items()))
        return Verdict(
            CONSISTENT,
            f"Holm-adjusted {listed} < {p.alpha:g}, but the rule for '{STRONG}' "
            f"(canary p < {p.strong_p:g}, or item-level p < {p.strong_p:g} with pair-level "
            f"z >= {p.strong_z:g} and rank 1) is not met",
            p,
        )
    return Verdict(
        NO_EVIDENCE,
        f"no Holm-adjusted p-value below {p.alpha:g} "
        f"({', '.join(f'{k} {v:.3g}' for k, v in sorted(adjusted.items())) or 'no tests'})",
        p,
    )
