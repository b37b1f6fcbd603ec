"""The 双随机 draw: reproducible from its seed and inputs, and weighted as documented."""

from __future__ import annotations

from collections import Counter

from hazwaste.oversight.draws import pick


def inputs(n=3, weights=None, inspectors=(11, 12, 13, 14)):
    weights = weights or {i: "1" for i in range(1, 21)}
    return {
        "n": n,
        "per_enterprise": 2,
        "candidates": [{"id": i, "weight": w} for i, w in sorted(weights.items())],
        "inspectors": list(inspectors),
    }


def test_same_seed_same_list():
    assert pick("seed-1", inputs()) == pick("seed-1", inputs())


def test_different_seed_different_list():
    results = {str(pick(f"seed-{i}", inputs(n=5))) for i in range(20)}
    assert len(results) > 15


def test_no_enterprise_twice_and_two_distinct_inspectors():
    result = pick("x", inputs(n=20))
    assert sorted(p["organization_id"] for p in result) == list(range(1, 21))
    for p in result:
        assert len(set(p["inspector_ids"])) == 2
        assert set(p["inspector_ids"]) <= {11, 12, 13, 14}


def test_n_larger_than_candidates_takes_all():
    assert len(pick("x", inputs(n=50))) == 20


def test_weights_are_respected():
    # Enterprise 1 weighs 9, the nine others 1 each: it is first in about half the draws.
    weights = {1: "9", **{i: "1" for i in range(2, 11)}}
    firsts = Counter(
        pick(f"s{i}", inputs(n=1, weights=weights))[0]["organization_id"] for i in range(2000)
    )
    assert 900 < firsts[1] < 1100
    assert all(50 < firsts[i] < 190 for i in range(2, 11))


def test_zero_weight_is_never_drawn_first():
    weights = {1: "0", 2: "1", 3: "1"}
    assert all(
        pick(f"s{i}", inputs(n=1, weights=weights))[0]["organization_id"] != 1 for i in range(300)
    )
