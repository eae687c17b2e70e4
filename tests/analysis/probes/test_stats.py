from __future__ import annotations

import itertools
import math

import pytest

from analysis.probes.probeset import ProbeItem
from analysis.probes.stats import (
    accuracy,
    binomial_sf,
    canary_test,
    holm,
    item_null_test,
    pair_null_test,
    pair_stats,
    poisson_binomial_sf,
)


def brute_sf(k: int, probs: list[float]) -> float:
    total = 0.0
    for outcome in itertools.product([0, 1], repeat=len(probs)):
        if sum(outcome) >= k:
            total += math.prod(p if o else 1 - p for o, p in zip(outcome, probs, strict=True))
    return total


@pytest.mark.parametrize(
    "probs",
    [[0.5], [0.1, 0.9], [0.2, 0.35, 0.5, 0.05, 0.99, 0.6, 0.3], [0.0, 1.0, 0.25, 0.75]],
)
def test_poisson_binomial_matches_brute_force(probs: list[float]) -> None:
    for k in range(-1, len(probs) + 2):
        assert poisson_binomial_sf(k, probs) == pytest.approx(brute_sf(k, probs), abs=1e-12)


def test_poisson_binomial_with_equal_probs_is_binomial() -> None:
    assert poisson_binomial_sf(7, [0.3] * 20) == pytest.approx(binomial_sf(7, 20, 0.3), rel=1e-9)
    with pytest.raises(ValueError, match="out of range"):
        poisson_binomial_sf(1, [1.5])


def test_holm_matches_hand_computation() -> None:
    # sorted p: 0.01 (x3 = 0.03), 0.02 (x2 = 0.04), 0.04 (x1 = 0.04) ; monotone
    adj = holm({"a": 0.04, "b": 0.01, "c": 0.02})
    assert adj == pytest.approx({"b": 0.03, "c": 0.04, "a": 0.04})
    # monotonicity carries a larger earlier value forward, and values cap at 1
    adj = holm({"x": 0.02, "y": 0.025, "z": 0.9})
    assert adj == pytest.approx({"x": 0.06, "y": 0.06, "z": 0.9})
    assert holm({"x": 0.6, "y": 0.7}) == {"x": 1.0, "y": 1.0}
    assert holm({}) == {}


ITEMS = [
    ProbeItem("1", "p", answer="A"),
    ProbeItem("2", "p", answer="A"),
    ProbeItem("3", "p", answer="A"),
    ProbeItem("4", "p", answer="A"),
    ProbeItem("5", "p"),  # no expected answer: agreement only
]


def test_accuracy_and_pair_stats_on_a_hand_table() -> None:
    a = {"1": "a", "2": "b", "3": "c", "4": "d", "5": "x"}
    b = {"1": "a", "2": "b", "3": "d", "4": "a", "5": "x"}
    assert accuracy(a, ITEMS) == (1, 4)
    assert accuracy(b, ITEMS) == (2, 4)
    ps = pair_stats(a, b, ITEMS, left="a", right="b")
    assert ps.n_agree == 3 and ps.agreement == pytest.approx(3 / 5)
    assert ps.both_wrong == ("2", "3")
    assert ps.same_wrong == ("2",)
    assert ps.same_wrong_rate == 0.5
    assert ps.to_dict()["n_same_wrong"] == 1


def test_item_null_uses_add_one_smoothed_reference_rates() -> None:
    pair = pair_stats({"1": "b", "2": "b"}, {"1": "b", "2": "b"}, ITEMS[:2])
    assert pair.same_wrong == ("1", "2")
    r1 = {"1": "b", "2": "a"}
    r2 = {"1": "b", "2": "c"}
    r3 = {"1": "c", "2": "a"}
    refs = [(r1, r2), (r1, r3), (r2, r3)]
    # item 1: all 3 ref pairs both wrong, 1 identical -> (1+1)/(3+2) = 0.4
    # item 2: only (r2, r3)? r2 wrong, r3 right -> 0 pairs -> (0+1)/(0+2) = 0.5
    t = item_null_test(pair, refs, ITEMS[:2])
    assert t.k == 2 and t.n == 2
    assert t.expected == pytest.approx(0.9)
    assert t.p_value == pytest.approx(0.4 * 0.5)


def test_pair_null_z_and_rank() -> None:
    t = pair_null_test(0.9, [0.3, 0.4, 0.5])
    assert t.mean == pytest.approx(0.4) and t.sd == pytest.approx(0.1)
    assert t.z == pytest.approx(5.0)
    assert t.rank == 1 and t.p_value == pytest.approx(1 / 4)
    t = pair_null_test(0.4, [0.3, 0.4, 0.5])
    assert t.rank == 3 and t.p_value == pytest.approx(3 / 4) and t.z == pytest.approx(0.0)
    assert pair_null_test(0.9, [0.3]).p_value is None  # one reference pair: no null
    assert pair_null_test(None, [0.3, 0.4]).p_value is None
    assert pair_null_test(0.5, [0.2, 0.2]).z == math.inf


def test_canary_binomial_against_reference_hit_rate() -> None:
    items = [ProbeItem(f"k{i}", "p", answer="z", private=True) for i in range(10)]
    items.append(ProbeItem("pub", "p", answer="z"))
    suspect = {f"k{i}": "z" for i in range(8)} | {"pub": "z"}
    refs = [{"k0": "z"}, {}]
    t = canary_test(suspect, refs, items)
    assert (t.hits, t.trials, t.reference_hits, t.reference_trials) == (8, 10, 1, 20)
    assert t.p_ref == pytest.approx(2 / 22)
    assert t.p_value == pytest.approx(brute_sf(8, [2 / 22] * 10), rel=1e-9)
