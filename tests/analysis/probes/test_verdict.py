from __future__ import annotations

from analysis.probes.verdict import CONSISTENT, NO_EVIDENCE, STRONG, VerdictParams, decide


def test_canary_below_strong_threshold_is_strong_evidence() -> None:
    v = decide(adjusted={"canary": 1e-9, "item_null": 0.5}, n_references=3)
    assert v.verdict == STRONG and "canary" in v.rule


def test_item_null_needs_the_pair_level_null_to_agree_for_strong() -> None:
    kw = {"adjusted": {"item_null": 1e-8, "pair_null": 0.1}, "n_references": 3}
    assert decide(pair_z=4.0, pair_rank=1, **kw).verdict == STRONG  # type: ignore[arg-type]
    weak = decide(pair_z=2.0, pair_rank=1, **kw)  # type: ignore[arg-type]
    assert weak.verdict == CONSISTENT and "item_null p = 1e-08" in weak.rule
    assert decide(pair_z=4.0, pair_rank=2, **kw).verdict == CONSISTENT  # type: ignore[arg-type]


def test_any_adjusted_p_below_alpha_is_consistent() -> None:
    v = decide(adjusted={"item_null": 0.004, "pair_null": 0.2}, n_references=2)
    assert v.verdict == CONSISTENT
    assert "not met" in v.rule


def test_nothing_below_alpha_is_no_evidence_and_lists_the_tests() -> None:
    v = decide(adjusted={"item_null": 0.3, "pair_null": 0.5}, n_references=4)
    assert v.verdict == NO_EVIDENCE and "item_null 0.3" in v.rule
    assert decide(adjusted={}, n_references=4).rule.endswith("(no tests)")


def test_without_references_never_more_than_consistent_and_says_why() -> None:
    v = decide(
        adjusted={"canary": 1e-30},
        n_references=0,
        all_answers_identical=True,
        n_both_wrong=30,
        n_same_wrong=30,
    )
    assert v.verdict == CONSISTENT and "no null distribution" in v.rule
    v = decide(adjusted={}, n_references=1, all_answers_identical=False, n_same_wrong=30)
    assert v.verdict == NO_EVIDENCE and "no null distribution" in v.rule


def test_thresholds_are_parameters_and_recorded() -> None:
    p = VerdictParams(alpha=0.5)
    v = decide(adjusted={"item_null": 0.3}, n_references=2, params=p)
    assert v.verdict == CONSISTENT
    assert v.to_dict()["params"]["alpha"] == 0.5
