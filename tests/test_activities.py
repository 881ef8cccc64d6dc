"""Tests of clientstrategy.activities: hand-computed fixtures, an exact simulated panel, planted truth."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clientstrategy import activities as act

AS_OF = pd.Timestamp("2026-09-30")
QUARTERS = pd.period_range("2023Q4", "2026Q3", freq="Q")  # 12 complete quarters


# -- fixtures -------------------------------------------------------------------------------------
def _exact_panel(n_clients: int = 60, seed: int = 1):
    """Revenue that follows touches exactly.

    Client c has base revenue B_c every quarter; one attended meeting in quarter i adds 0.3 B_c to
    quarter i+1 and one answered call in quarter j adds 0.1 B_c to quarter j+1. Emails scale with B_c
    and do nothing. The client's mean quarter is B_c (12 + 0.3 + 0.1) / 12, so the within-client
    effect per touch is exactly 0.3 x 12 / 12.4 for a meeting, 0.1 x 12 / 12.4 for a call, 0 for email.
    """
    rng = np.random.default_rng(seed)
    rev, acts = [], []
    for c in range(n_clients):
        cid = f"c{c:03d}"
        base = float(rng.lognormal(8, 1))
        i, j = rng.choice(np.arange(10), size=2, replace=False)  # regressor quarters 0..9, outcome <= 10
        amounts = np.full(len(QUARTERS), base)
        amounts[i + 1] += 0.3 * base
        amounts[j + 1] += 0.1 * base
        for q, amt in zip(QUARTERS, amounts):
            rev.append((q.start_time + pd.Timedelta(days=40), cid, amt))
        acts.append((QUARTERS[i].start_time + pd.Timedelta(days=10, hours=15), cid, "meeting", "attended"))
        acts.append((QUARTERS[j].start_time + pd.Timedelta(days=20), cid, "call", "answered"))
        for q in range(len(QUARTERS)):
            for _ in range(int(rng.poisson(base / 1500.0))):
                acts.append((QUARTERS[q].start_time + pd.Timedelta(days=int(rng.integers(0, 85))), cid, "email",
                             "unopened"))
    revenue = pd.DataFrame(rev, columns=["date", "client_id", "amount"])
    activities = pd.DataFrame(acts, columns=["timestamp", "client_id", "activity_type", "outcome"])
    return revenue, activities


@pytest.fixture(scope="module")
def exact():
    return _exact_panel()


# -- weights, summaries, coverage -----------------------------------------------------------------
def test_touch_weights_by_type_and_outcome_with_fallbacks():
    a = pd.DataFrame({"activity_type": ["Call", "call", "email", "meeting", "fax"],
                      "outcome": ["answered", None, "unopened", "weird", "sent"]})
    w = act.touch_weights(a, weights={"call": {"answered": 1.0, "*": 0.25}, "email": {"unopened": 0.0},
                                      "meeting": {"*": 0.7}})
    # exact match, missing outcome -> type default, exact 0, unlisted outcome -> type default, unknown type
    assert w["weight"].tolist() == [1.0, 0.25, 0.0, 0.7, 0.1]
    assert w["outcome"].tolist()[1] == "unknown"
    assert "weight" not in a.columns  # input untouched


def test_weights_table_lists_every_weight():
    t = act.weights_table()
    assert len(t) == sum(len(v) for v in act.DEFAULT_WEIGHTS.values())
    assert t.loc[(t["activity_type"] == "meeting") & (t["outcome"] == "attended"), "weight"].item() == 1.0


def test_touch_summary_by_tier_ignores_rows_after_as_of():
    a = pd.DataFrame({"timestamp": pd.to_datetime(["2026-09-30 16:00", "2026-10-01 00:00", "2026-07-01 00:00", "2026-08-01 00:00"]),
                      "client_id": ["a", "a", "b", "c"], "activity_type": ["meeting", "meeting", "email", "email"],
                      "outcome": ["attended", "attended", "opened", "unopened"]})
    tiers = pd.DataFrame({"client_id": ["a", "b", "c"], "tier": ["Gold", "Bronze", "Bronze"]})
    s = act.touch_summary(a, AS_OF, by=["tier"], clients=tiers)
    # a's touch late on as_of counts, the one on 2026-10-01 does not; Bronze 0.2 + 0.02
    assert s.set_index("tier")["touches"].to_dict() == {"Bronze": 2, "Gold": 1}
    assert s.set_index("tier")["weighted_touches"].to_dict() == pytest.approx({"Bronze": 0.22, "Gold": 1.0})
    with pytest.raises(ValueError, match="period"):
        act.touch_summary(a, AS_OF, by=["period"])
    with pytest.raises(ValueError, match="'activity_type'"):
        act.touch_summary(a.drop(columns="activity_type"), AS_OF)


def test_touch_coverage_flags_against_reference_tier_medians():
    # Silver median weighted touches = 1.0 (meeting attended); Gold median = 2.0
    rows = ([("s1", "meeting")] + [("s2", "meeting")] + [("g1", "meeting")] * 3 + [("g2", "meeting")]
            + [("b1", "meeting")] * 3 + [("b2", "meeting")])
    a = pd.DataFrame({"timestamp": pd.Timestamp("2026-06-01"), "client_id": [r[0] for r in rows],
                      "activity_type": [r[1] for r in rows], "outcome": "attended"})
    p = pd.DataFrame({"client_id": ["p1", "g1", "g2", "s1", "s2", "b1", "b2"],
                      "tier": ["Platinum", "Gold", "Gold", "Silver", "Silver", "Bronze", "Bronze"],
                      "revenue_ltm": [9.0, 5, 5, 2, 2, 1, 1]})
    cov = act.touch_coverage(a, p, AS_OF).set_index("client_id")
    assert cov.loc["p1", "status"] == "under-served"  # 0 < Silver median 1.0
    assert cov.loc["g2", "status"] == "ok"  # 1.0 is not below 1.0
    assert cov.loc["b1", "status"] == "over-served"  # 3 > Gold median 2.0
    assert cov.loc["b2", "status"] == "ok"
    assert cov.loc["g1", "tier_median"] == 2.0


# -- passive ------------------------------------------------------------------------------------
def test_digital_engagement_counts_and_score():
    d = pd.DataFrame({"timestamp": pd.to_datetime(["2026-09-01", "2026-09-01", "2026-09-02", "2026-09-03",
                                                   "2024-01-01", "2026-10-05"]),
                      "client_id": ["a", "a", "a", "b", "c", "b"],
                      "event_type": ["login", "page_view", "download", "login", "login", "login"],
                      "session_id": ["s1", "s1", "s2", "s3", "s4", "s5"], "duration_s": [0, 600, 60, 0, 0, 0]})
    e = act.digital_engagement(d, AS_OF, clients=["a", "b", "c"]).set_index("client_id")
    assert e.loc["a", ["logins", "sessions", "page_views", "downloads"]].tolist() == [1, 2, 1, 1]
    assert e.loc["a", "minutes"] == pytest.approx(11.0)
    assert e.loc["c", "logins"] == 0 and e.loc["c", "last_digital"] == pd.Timestamp("2024-01-01")
    assert e.loc["b", "last_digital"] == pd.Timestamp("2026-09-03")  # the October login is after as_of
    # a: logins pct 5/6 (tie with b), sessions 1, page views 1, downloads 1, minutes 1; searches never recorded
    assert e.loc["a", "engagement_score"] == pytest.approx(100 * (2.5 / 3 + 4) / 5)
    assert e.loc["c", "engagement_score"] == 0.0


def test_people_also_viewed_lift_by_hand():
    # 4 clients: x,y together for a,b; x alone for c; z for d
    d = pd.DataFrame({"timestamp": pd.Timestamp("2026-05-01"), "event_type": "page_view",
                      "client_id": ["a", "a", "b", "b", "c", "d", "a"], "page": ["x", "y", "x", "y", "x", "z", "y"]})
    p = act.people_also_viewed(d, AS_OF, min_clients=1)
    assert len(p) == 1
    row = p.iloc[0]
    assert (row["item_a"], row["item_b"], row["baskets_both"], row["clients_both"]) == ("x", "y", 2, 2)
    assert row["support"] == pytest.approx(0.5)
    assert row["confidence_a_to_b"] == pytest.approx(2 / 3) and row["confidence_b_to_a"] == pytest.approx(1.0)
    assert row["lift"] == pytest.approx(0.5 / (0.75 * 0.5))
    assert act.people_also_viewed(d, AS_OF, min_clients=3).empty
    # by session: a and b each viewed x and y, but in different sessions for b
    sess = d.assign(session_id=["s1", "s1", "s2", "s3", "s4", "s5", "s1"])
    p2 = act.people_also_viewed(sess, AS_OF, min_clients=1)
    assert p2[["item_a", "item_b", "baskets_both", "clients_both"]].values.tolist() == [["x", "y", 1, 1]]
    assert p2["lift"].item() == pytest.approx((1 / 5) / ((3 / 5) * (2 / 5)))


@pytest.mark.parametrize("a,b", [("Credit outlook 2026?", "credit OUTLOOK 2026"),
                                 ("How do I hedge FX exposures", "hedge fx exposure how"),
                                 ("Fees for equities", "equities fee")])
def test_normalise_query_merges_variants(a, b):
    assert act.normalise_query(a) == act.normalise_query(b) != ""


def test_normalise_query_keeps_different_questions_apart():
    assert act.normalise_query("FX outlook") != act.normalise_query("credit outlook")
    assert act.normalise_query(None) == ""


def test_top_questions_groups_and_trends():
    d = pd.DataFrame({"timestamp": pd.to_datetime(["2026-05-01", "2026-05-02", "2026-08-01", "2026-08-02",
                                                   "2026-08-03", "2026-08-04"]),
                      "client_id": ["a", "b", "a", "c", "c", "c"], "event_type": "search",
                      "search_query": ["FX outlook", "fx outlook?", "Outlook FX", "FX outlook", "bond fees",
                                       None]})
    t = act.top_questions(d, AS_OF)
    assert t["question"].tolist() == ["FX outlook", "bond fees"]
    first = t.iloc[0]
    assert (first["searches"], first["clients"], first["variants"]) == (4, 3, 3)
    assert (first["last_period"], first["previous_period"], first["change"]) == (2, 2, 0.0)
    assert np.isnan(t.iloc[1]["change"])


# -- effects --------------------------------------------------------------------------------------
def test_touch_panel_outcome_is_next_quarter_over_mean():
    rev = pd.DataFrame({"date": pd.to_datetime(["2026-01-10", "2026-04-10", "2026-07-10", "2026-10-10"]),
                        "client_id": "a", "amount": [100.0, 200.0, 300.0, 999.0]})
    t = pd.DataFrame({"timestamp": pd.to_datetime(["2026-02-01", "2026-08-01"]), "client_id": ["a", "a"],
                      "activity_type": ["call", "call"], "outcome": ["answered", "answered"]})
    p = act.touch_panel(t, rev, AS_OF, min_touches=1)
    assert p["period"].tolist() == ["2026Q1", "2026Q2"]  # Q3's outcome (Q4) is after as_of
    assert p["outcome"].tolist() == [1.0, 1.5]
    assert p["call/answered"].tolist() == [1.0, 0.0]


def test_touch_effects_exact_within_client(exact):
    revenue, activities = exact
    eff = act.touch_effects(activities, revenue, AS_OF, n_boot=50, min_touches=10, random_state=3)
    e = eff.set_index(["activity_type", "outcome"])
    assert e.loc[("meeting", "attended"), "effect"] == pytest.approx(0.3 * 12 / 12.4, abs=1e-7)
    assert e.loc[("call", "answered"), "effect"] == pytest.approx(0.1 * 12 / 12.4, abs=1e-7)
    assert e.loc[("email", "unopened"), "effect"] == pytest.approx(0.0, abs=1e-7)
    assert e.loc[("meeting", "attended"), "n"] == 60
    assert set(eff["segment"]) == {"all"}
    # the naive view is fooled: emails follow size, so they "correlate" with revenue
    naive = act.naive_correlation(activities, revenue, AS_OF, min_touches=10).set_index("activity_type")
    assert naive.loc["email", "naive_corr"] > 0.5


def test_touch_effects_is_deterministic_and_by_segment(exact):
    revenue, activities = exact
    seg = pd.DataFrame({"client_id": [f"c{c:03d}" for c in range(60)], "segment": ["A"] * 30 + ["B"] * 30})
    e1 = act.touch_effects(activities, revenue, AS_OF, segments=seg, n_boot=20, min_touches=5, min_clients=20,
                           random_state=7)
    e2 = act.touch_effects(activities, revenue, AS_OF, segments=seg, n_boot=20, min_touches=5, min_clients=20,
                           random_state=7)
    pd.testing.assert_frame_equal(e1, e2)
    assert set(e1["segment"]) == {"all", "A", "B"}
    with pytest.raises(ValueError, match="'amount'"):
        act.touch_effects(activities, revenue.drop(columns="amount"), AS_OF)


def _noisy_panel(n_clients=400, seed=5):
    """Size-confounded touches with multiplicative effects and noisy revenue (known betas)."""
    rng = np.random.default_rng(seed)
    betas = {("meeting", "attended"): 0.3, ("call", "answered"): 0.1, ("email", "opened"): 0.0}
    rates = {("meeting", "attended"): 0.4, ("call", "answered"): 0.8, ("email", "opened"): 3.0}
    rev, acts = [], []
    for c in range(n_clients):
        cid = f"c{c:04d}"
        size = float(rng.lognormal(0, 0.8))
        lift = np.ones(len(QUARTERS))
        for k, rate in rates.items():
            n = rng.poisson(rate * (size if k[0] == "email" else np.sqrt(size)), size=len(QUARTERS))
            for q, m in enumerate(n):
                for _ in range(m):
                    acts.append((QUARTERS[q].start_time + pd.Timedelta(days=int(rng.integers(0, 88))), cid, *k))
                if q + 1 < len(QUARTERS):
                    lift[q + 1] += betas[k] * m
        amounts = 1000 * size * lift * rng.gamma(4.0, 0.25, size=len(QUARTERS))
        for q, amt in zip(QUARTERS, amounts):
            rev.append((q.start_time + pd.Timedelta(days=45), cid, float(amt)))
    return (pd.DataFrame(rev, columns=["date", "client_id", "amount"]),
            pd.DataFrame(acts, columns=["timestamp", "client_id", "activity_type", "outcome"]))


def test_touch_effects_recovers_ranking_under_noise_and_out_of_time():
    revenue, activities = _noisy_panel()
    eff = act.touch_effects(activities, revenue, AS_OF, n_boot=100, random_state=0).set_index("activity_type")
    assert eff.loc["meeting", "ci_low"] > eff.loc["call", "effect"] > eff.loc["email", "effect"]
    assert eff.loc["email", "ci_low"] < 0 < eff.loc["email", "ci_high"]
    assert eff.loc["meeting", "ci_low"] > 0
    naive = act.naive_correlation(activities, revenue, AS_OF).set_index("activity_type")
    assert naive.loc["email", "naive_corr"] > naive.loc["meeting", "naive_corr"]
    table, summary = act.effects_out_of_time(activities, revenue, AS_OF, n_boot=50, random_state=0)
    assert summary["split"] == "2025-03-31"
    assert summary["oot_r2"] > 0
    t = table.set_index("activity_type")
    assert t.loc["meeting", "effect_early"] > t.loc["email", "effect_early"]
    assert t.loc["meeting", "effect_late"] > t.loc["email", "effect_late"]


def _churn_panel(prevent: bool, react: bool, n_clients: int = 600, seed: int = 11):
    """Quarterly book where clients leave for good with hazard 12% a quarter.

    ``prevent``: each attended meeting in a quarter cuts the hazard of leaving in the next by a
    factor exp(-1.5) (touches prevent churn; revenue while buying does not depend on them).
    ``react``: once a client has left, it gets a tenth of the meetings and emails (we stop calling
    clients who left); otherwise touches go on at the same rate.
    """
    rng = np.random.default_rng(seed)
    rev, acts = [], []
    for c in range(n_clients):
        cid = f"c{c:04d}"
        base = float(rng.lognormal(7, 0.8))
        alive = True
        for per in QUARTERS:
            slow = react and not alive
            m = rng.poisson(0.06 if slow else 0.6)
            for _ in range(m):
                acts.append((per.start_time + pd.Timedelta(days=int(rng.integers(0, 88)), hours=10), cid, "meeting",
                             "attended"))
            for _ in range(rng.poisson(0.2 if slow else 2.0)):
                acts.append((per.start_time + pd.Timedelta(days=int(rng.integers(0, 88)), hours=11), cid, "email",
                             "opened"))
            if alive:
                rev.append((per.start_time + pd.Timedelta(days=45), cid, base * float(rng.gamma(8.0, 1 / 8.0))))
                alive = rng.random() >= 0.12 * (np.exp(-1.5 * m) if prevent else 1.0)
    return (pd.DataFrame(rev, columns=["date", "client_id", "amount"]),
            pd.DataFrame(acts, columns=["timestamp", "client_id", "activity_type", "outcome"]))


def test_touches_that_prevent_churn_are_seen_once_lapsed_quarters_are_kept():
    """Issue 19: ending each client's rows at its last purchase selects on the outcome and removes
    exactly the effect of a touch that prevents churn (here: meetings, and nothing else)."""
    revenue, activities = _churn_panel(prevent=True, react=False)
    chk = act.leaving_check(activities, revenue, AS_OF, n_boot=100)
    assert not chk["touches_follow_leaving"] and chk["after_last_purchase"]
    assert chk["touch_rate_after_vs_before"] == pytest.approx(1.0, abs=0.15)
    eff = act.touch_effects(activities, revenue, AS_OF, n_boot=100).set_index("activity_type")
    assert eff.loc["meeting", "ci_low"] > 0 and eff.loc["meeting", "significant"]
    assert not eff.loc["email", "significant"] and not eff["lead_flag"].any()
    old = act.touch_effects(activities, revenue, AS_OF, n_boot=100, after_last_purchase=False).set_index("activity_type")
    assert old.loc["meeting", "ci_low"] < 0 < old.loc["meeting", "ci_high"]  # the old design misses it


def test_touches_that_follow_leaving_are_not_read_as_effects():
    """The other side: touches do nothing, but we stop calling clients who left. Kept, the quarters
    after the last purchase make every touch look effective; the check sees our touching follow the
    leaving and ends each client's rows at its last purchase."""
    revenue, activities = _churn_panel(prevent=False, react=True)
    chk = act.leaving_check(activities, revenue, AS_OF, n_boot=100)
    assert chk["touches_follow_leaving"] and not chk["after_last_purchase"] and chk["z"] > 3
    assert chk["touch_rate_after_vs_before"] < 0.2
    eff = act.touch_effects(activities, revenue, AS_OF, n_boot=100)
    assert not eff["significant"].any()
    kept = act.touch_effects(activities, revenue, AS_OF, n_boot=100, after_last_purchase=True)
    assert kept["significant"].all() and kept["lead_flag"].all()  # spurious, and the placebo says so


def _many_kinds(seed: int, n_clients: int = 300, n_null: int = 30):
    """Meetings add 0.3 of a base quarter next quarter; 30 other kinds do nothing."""
    rng = np.random.default_rng(seed)
    rev, acts = [], []
    for c in range(n_clients):
        cid = f"c{c:04d}"
        base = float(rng.lognormal(7, 0.8))
        lift = np.ones(len(QUARTERS))
        for q, per in enumerate(QUARTERS):
            m = rng.poisson(0.5)
            if q + 1 < len(QUARTERS):
                lift[q + 1] += 0.3 * m
            for _ in range(m):
                acts.append((per.start_time + pd.Timedelta(days=int(rng.integers(0, 88))), cid, "meeting", "attended"))
            for k in rng.choice(n_null, rng.poisson(3.0)):
                acts.append((per.start_time + pd.Timedelta(days=int(rng.integers(0, 88))), cid, f"kind{k:02d}", "done"))
        for q, per in enumerate(QUARTERS):
            rev.append((per.start_time + pd.Timedelta(days=45), cid, base * lift[q] * float(rng.gamma(4.0, 0.25))))
    return (pd.DataFrame(rev, columns=["date", "client_id", "amount"]),
            pd.DataFrame(acts, columns=["timestamp", "client_id", "activity_type", "outcome"]))


def test_significant_is_adjusted_for_the_number_of_kinds():
    """31 kinds tested at once: by chance alone, several intervals of the 30 that do nothing clear zero
    (7 over these two books); after Benjamini-Hochberg none is flagged, and meetings still are."""
    raw, flagged = 0, 0
    for seed in (1, 2):
        revenue, activities = _many_kinds(seed)
        e = act.touch_effects(activities, revenue, AS_OF, n_boot=200, placebo=False, min_touches=10)
        null = e["activity_type"] != "meeting"
        raw += int((((e["ci_low"] > 0) | (e["ci_high"] < 0)) & null).sum())
        flagged += int((e["significant"] & null).sum())
        assert e.loc[~null, "significant"].item()
        assert (e["p_adjusted"] >= e["p_value"] - 1e-12).all()
        assert (e["significant"] == (e["p_adjusted"] < 0.05)).all()
    assert raw >= 4 and flagged == 0


def test_plots_return_figures(exact):
    import matplotlib

    matplotlib.use("Agg")
    revenue, activities = exact
    eff = act.touch_effects(activities, revenue, AS_OF, n_boot=10, min_touches=10)
    fig = act.plot_effects(eff, act.naive_correlation(activities, revenue, AS_OF, min_touches=10))
    assert len(fig.axes) == 2
    p = pd.DataFrame({"client_id": ["c000", "c001"], "tier": ["Gold", "Bronze"]})
    assert act.plot_coverage(act.touch_coverage(activities, p, AS_OF)).axes


# -- planted truth of the bundled sample (data/sample/README.md, effects 2, 11, 12) ------------------
@pytest.fixture(scope="module")
def planted():
    from clientstrategy import sample

    return sample.generate("default")


@pytest.fixture(scope="module")
def planted_effects(planted):
    t = planted.tables
    return act.touch_effects(t["activities"], t["revenue"], AS_OF, n_boot=200, random_state=0)


def test_recovers_planted_touch_effects_and_naive_misleads(planted, planted_effects):
    e = planted_effects.query("segment == 'all'").set_index(["activity_type", "outcome"])
    meeting, call = e.loc[("meeting", "attended")], e.loc[("call", "answered")]
    assert meeting["effect"] > call["effect"] > 0 and meeting["ci_low"] > 0 and call["ci_low"] > 0
    for outcome in ("opened", "unopened", "replied"):  # emails do nothing: intervals cover 0
        assert e.loc[("email", outcome), "ci_low"] < 0 < e.loc[("email", outcome), "ci_high"]
    assert meeting["effect"] > e.loc[("email", "opened"), "effect"] + 0.03
    t = planted.tables
    naive = act.naive_correlation(t["activities"], t["revenue"], AS_OF).set_index(["activity_type", "outcome"])
    assert naive.loc[("email", "opened"), "naive_corr"] > 0.3
    assert naive.loc[("email", "opened"), "naive_corr"] > naive.loc[("meeting", "attended"), "naive_corr"]


def test_placebo_flags_the_planted_reverse_causality_and_only_it(planted):
    """Sample effect 13: documents follow the clients' buying (sent before and after big purchases) and
    do nothing. Client fixed effects do not remove that: documents look effective. The lead (placebo)
    check flags them, and nothing else, in every segment."""
    t = planted.tables
    assert planted.truth["reverse_causality"]["activity_type"].tolist() == ["document"]
    segs = planted.truth["clients"][["client_id", "tier"]].rename(columns={"tier": "segment"})
    e = act.touch_effects(t["activities"], t["revenue"], AS_OF, segments=segs, n_boot=200, random_state=0)
    assert set(e.loc[e["lead_flag"], "activity_type"]) == {"document"}
    al = e.loc[e["segment"] == "all"].set_index(["activity_type", "outcome"])
    for outcome in ("opened", "unopened"):
        assert al.loc[("document", outcome), "lead_flag"]
        assert al.loc[("document", outcome), "significant"]  # what fixed effects alone would report
    assert not al.loc[("meeting", "attended"), "lead_flag"] and al.loc[("meeting", "attended"), "significant"]


def test_the_sample_without_reverse_causality_flags_nothing():
    from clientstrategy import sample

    s = sample.generate("default", reverse_causality=None)
    t = s.tables
    assert s.truth["reverse_causality"].empty
    e = act.touch_effects(t["activities"], t["revenue"], AS_OF, n_boot=200, random_state=0)
    assert not e["lead_flag"].any()
    assert set(e.loc[e["significant"], "activity_type"]) <= {"meeting", "call", "event"}


def test_the_lapsed_quarters_of_the_sample_are_left_out_for_a_reason(planted):
    """The generator touches a client that has left at a tenth of the usual rate (effect 1): our
    touching follows the leaving, so the check ends each client's rows at its last purchase."""
    t = planted.tables
    chk = act.leaving_check(t["activities"], t["revenue"], AS_OF)
    assert chk["touches_follow_leaving"] and not chk["after_last_purchase"]
    assert chk["touch_rate_after_vs_before"] < 0.5


def test_recovers_planted_effects_out_of_time(planted):
    t = planted.tables
    table, summary = act.effects_out_of_time(t["activities"], t["revenue"], AS_OF, n_boot=100, random_state=0)
    row = table.set_index(["activity_type", "outcome"])
    m = row.loc[("meeting", "attended")]
    assert m["ci_low_early"] > 0 and m["ci_low_late"] > 0  # found in each half on its own
    for outcome in ("opened", "unopened"):
        r = row.loc[("email", outcome)]
        assert r["ci_low_early"] < 0 < r["ci_high_early"] and r["ci_low_late"] < 0 < r["ci_high_late"]
    assert summary["significant_early_confirmed"] >= 1 and summary["split"] == "2025-03-31"


def test_recovers_planted_page_pairs(planted):
    pav = act.people_also_viewed(planted.tables["digital"], AS_OF)
    top2 = {frozenset(p) for p in pav[["item_a", "item_b"]].head(2).itertuples(index=False)}
    truth = {frozenset((a, b)) for a, b in planted.truth["page_pairs"][["page_a", "page_b"]].itertuples(index=False)}
    assert top2 == truth
    assert pav["lift"].iloc[1] > 2 * pav["lift"].iloc[2]


def test_recovers_planted_questions(planted):
    q = planted.truth["questions"]
    keys = q.assign(key=q["variant"].map(act.normalise_query)).groupby("question")["key"].nunique()
    assert (keys == 1).all()  # every variant of a question gets one key
    top = act.top_questions(planted.tables["digital"], AS_OF, top=0)
    assert len(top) == q["question"].nunique() and (top["variants"] == 4).all()


def test_engagement_and_coverage_on_the_sample(planted):
    t = planted.tables
    eng = act.digital_engagement(t["digital"], AS_OF, clients=t["clients"]["client_id"])
    truth = planted.truth["clients"].set_index("client_id")["persona"]
    by = eng.assign(persona=eng["client_id"].map(truth)).groupby("persona")["engagement_score"].median()
    assert by["Self-directed researcher"] > by["Event-driven trader"] > by["Relationship-led"]
    tiers = planted.truth["clients"][["client_id", "tier"]]
    cov = act.touch_coverage(t["activities"], tiers, AS_OF)
    assert len(cov) == len(tiers) and set(cov["status"]) <= {"ok", "under-served", "over-served"}
    med = cov.groupby("tier")["weighted_touches"].median()
    assert med["Platinum"] > med["Bronze"]  # touches follow size


def test_naive_correlation_without_enough_touches_still_merges():
    """A small CRM export (the worked example) has no touch kind with min_touches touches: the empty
    result must keep text key columns so the notebook can merge it with the effects."""
    r = pd.DataFrame({"date": pd.to_datetime(["2026-03-01"] * 3), "client_id": ["a", "b", "c"], "amount": [1.0, 2.0, 3.0]})
    t = pd.DataFrame({"timestamp": pd.to_datetime(["2026-03-01"] * 3), "client_id": ["b", "c", "c"],
                      "activity_type": "email", "outcome": "unopened"})
    naive = act.naive_correlation(t, r, pd.Timestamp("2026-06-30"), min_touches=30)
    assert naive.empty and list(naive.columns[:2]) == ["activity_type", "outcome"]
    effects = pd.DataFrame({"activity_type": ["email"], "outcome": ["unopened"], "effect": [0.1]})
    merged = effects.merge(naive[["activity_type", "outcome", "naive_corr"]], on=["activity_type", "outcome"], how="left")
    assert len(merged) == 1 and merged["naive_corr"].isna().all()


def test_naive_correlation_leaves_out_kinds_without_variation():
    """Bank Marketing: one call per client, so the count does not vary and the correlation is
    undefined; the kind is left out instead of reported as 'nan'."""
    r = pd.DataFrame({"date": pd.to_datetime(["2026-03-01"] * 4), "client_id": list("abcd"), "amount": [1.0, 2.0, 3.0, 4.0]})
    t = pd.DataFrame({"timestamp": pd.to_datetime(["2026-03-01"] * 4), "client_id": list("abcd"),
                      "activity_type": "call", "outcome": "answered"})
    assert act.naive_correlation(t, r, pd.Timestamp("2026-06-30"), min_touches=1).empty


def test_robust_fit_names_a_regressor_without_variation_instead_of_failing():
    # bank_marketing: a kind of touch that never varies within a client made the normal matrix singular
    rng = np.random.default_rng(0)
    C, T = 40, 6
    x = rng.poisson(1.0, (C, T, 1)).astype(float)
    X = np.concatenate([x, np.zeros((C, T, 1))], axis=2)  # the second kind: never touched
    y = 2.0 * x[:, :, 0] + rng.normal(0, 0.1, (C, T))
    beta, se = act._fe_fit_robust(X, y, np.ones((C, T), bool))
    assert abs(beta[0] - 2.0) < 0.1 and np.isfinite(se[0]) and se[0] > 0
    assert np.isnan(beta[1]) and np.isnan(se[1])
    beta, se = act._fe_fit_robust(np.zeros((C, T, 1)), y, np.ones((C, T), bool))  # nothing identified
    assert np.isnan(beta).all() and np.isnan(se).all()
