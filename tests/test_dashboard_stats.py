"""Statistics behind the dashboard, on synthetic data with known answers."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest

from dashboards import stats


@pytest.mark.parametrize(
    ("successes", "trials", "low", "high"),
    [
        (5, 10, 0.2366, 0.7634),
        (0, 10, 0.0, 0.2775),
        (10, 10, 0.7225, 1.0),
        (50, 100, 0.4038, 0.5962),
        (1, 3, 0.0615, 0.7923),
    ],
)
def test_wilson_interval_matches_published_values(successes, trials, low, high):
    got = stats.wilson_interval(successes, trials)
    assert got == pytest.approx((low, high), abs=1e-4)


def test_wilson_interval_of_no_trials_is_empty_not_an_error():
    assert stats.wilson_interval(0, 0) == (0.0, 0.0)


def test_with_shares_adds_share_and_bounds_per_row():
    table = stats.with_shares(pd.DataFrame({"items": [5, 0], "total": [10, 0]}))
    assert table["share"].tolist() == [0.5, 0.0]
    assert table.loc[0, "share_low"] == pytest.approx(0.2366, abs=1e-4)
    assert table.loc[1, ["share_low", "share_high"]].tolist() == [0.0, 0.0]


def test_change_points_find_a_planted_shift_with_its_date_and_size():
    trials = [100] * 40
    successes = [20] * 20 + [60] * 20
    found = stats.change_points(successes, trials)
    assert len(found) == 1
    assert found[0].index == 20
    assert found[0].before == pytest.approx(0.2)
    assert found[0].after == pytest.approx(0.6)
    assert found[0].size == pytest.approx(0.4)


def test_change_points_find_two_shifts_in_order():
    successes = [10] * 10 + [50] * 10 + [20] * 10
    found = stats.change_points(successes, [100] * 30)
    assert [c.index for c in found] == [10, 20]


def test_change_points_ignore_binomial_noise_around_a_constant_share():
    rng = np.random.default_rng(3)
    trials = [200] * 60
    successes = rng.binomial(200, 0.3, size=60).tolist()
    assert stats.change_points(successes, trials) == []


def test_change_points_need_enough_evidence_from_few_items():
    # 1 of 5 then 3 of 5: a big jump in share, but far too few items to call it a shift
    assert stats.change_points([1, 1, 1, 3, 3, 3], [5] * 6) == []


def test_change_points_ignore_significant_but_tiny_shifts():
    # 50.0% → 51.5% on a million items a period is significant and not worth a mark
    found = stats.change_points([500_000] * 10 + [515_000] * 10, [1_000_000] * 20)
    assert found == []


def test_terms_lowercase_drop_function_words_and_keep_cyrillic():
    assert stats.terms("The NATO door and the Відкриті двері, 2022!") == [
        "nato",
        "door",
        "відкриті",
        "двері",
    ]


def test_log_odds_ranks_each_sides_own_words_first():
    a = Counter({"accession": 120, "door": 60, "talks": 100, "week": 200})
    b = Counter({"escalation": 130, "threat": 50, "talks": 100, "week": 200})
    table = stats.log_odds_dirichlet(a, b)
    assert table["term"].iloc[0] == "accession"
    assert table["term"].iloc[-1] == "escalation"
    shared = table.set_index("term").loc[["talks", "week"], "z"]
    assert (shared.abs() < 1.0).all()
    assert table.set_index("term").loc["door", "z"] > 2


def test_log_odds_prior_keeps_rare_words_below_frequent_distinctive_ones():
    a = Counter({"frequent": 300, "rare": 3, "common": 1000})
    b = Counter({"frequent": 100, "common": 1000})
    z = stats.log_odds_dirichlet(a, b).set_index("term")["z"]
    assert z["frequent"] > z["rare"] > 0


def test_log_odds_drops_words_below_the_minimum_count():
    table = stats.log_odds_dirichlet(Counter({"once": 1, "often": 9}), Counter({"often": 9}))
    assert "once" not in set(table["term"])


def test_top_terms_labels_the_side_each_term_is_typical_of():
    a = Counter({"accession": 120, "talks": 100})
    b = Counter({"escalation": 130, "talks": 100})
    top = stats.top_terms(stats.log_odds_dirichlet(a, b), n=1)
    assert top[["term", "side"]].values.tolist() == [["accession", "A"], ["escalation", "B"]]
