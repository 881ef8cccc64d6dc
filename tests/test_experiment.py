"""Tests of clientstrategy.experiment: the control group's design (assignment, power, balance) and analysis."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from clientstrategy import experiment as ex
from clientstrategy import sample

START, END = pd.Timestamp("2026-06-30"), pd.Timestamp("2026-09-30")


def _units(n=2000, seed=0, people=10):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"client_id": [f"c{i:04d}" for i in range(n)],
                         "person_id": rng.choice([f"p{k}" for k in range(people)], n),
                         "tier": rng.choice(["Platinum", "Gold", "Silver", "Bronze"], n, p=[0.05, 0.15, 0.3, 0.5])})


# ------------------------------------------------------------------------------------- design

def test_assignment_rotates_with_the_quarter_and_stays_stratified():
    u = _units()
    q2 = ex.assign(u, share=0.2, random_state=7, quarter="2026Q2")
    q3 = ex.assign(u, share=0.2, random_state=7, quarter="2026Q3")
    assert q2.equals(ex.assign(u.sample(frac=1.0, random_state=1), share=0.2, random_state=7, quarter="2026Q2"))
    held2, held3 = set(q2.index[q2]), set(q3.index[q3])
    # a fresh draw each quarter: about a fifth of last quarter's control is held back again, not all of it
    again = len(held2 & held3) / len(held2)
    assert 0.1 < again < 0.3, again
    # and the draw stays stratified: floor or ceil of the share in every person x tier cell, both quarters
    for flags in (q2, q3):
        per = u.assign(c=u["client_id"].map(flags)).groupby(["person_id", "tier"])["c"].agg(["size", "sum"])
        assert ((per["sum"] - 0.2 * per["size"]).abs() < 1).all()
    # over many quarters every client is held back about a fifth of the time (no one is always held back)
    many = pd.concat([ex.assign(u, 0.2, 7, quarter=f"{y}Q{k}") for y in range(2020, 2030) for k in range(1, 5)], axis=1)
    rate = many.mean(axis=1)
    assert rate.max() < 0.6 and abs(rate.mean() - 0.2) < 0.01


def test_minimum_detectable_effect_is_the_textbook_formula_within_strata():
    rng = np.random.default_rng(3)
    n = 1200
    stratum = np.repeat(["big", "small"], n // 2)
    control = np.tile([True, False, False], n // 3)
    y = np.where(stratum == "big", 1000.0, 10.0) + rng.normal(0, 20.0, n)
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    # within strata the spread is 20; the level difference between strata must not count
    within = ex.minimum_detectable_effect(y, control, strata=stratum)
    sd = np.sqrt(sum(((y[stratum == s] - y[stratum == s].mean()) ** 2).sum() for s in ("big", "small")) / (n - 2))
    k = sum(0.5 ** 2 * (1 / (~control[stratum == s]).sum() + 1 / control[stratum == s].sum()) for s in ("big", "small"))
    assert within == pytest.approx(z * sd * np.sqrt(k), rel=1e-9)
    assert within == pytest.approx(z * 20 * np.sqrt(1 / 800 + 1 / 400), rel=0.1)
    assert ex.minimum_detectable_effect(y, control) > 10 * within  # ignoring the strata: the level gap swamps it
    # a pre-period covariate that explains most of the outcome shrinks it by sqrt(1 - rho^2)
    x = rng.normal(0, 1, n)
    y2 = 3 * x + rng.normal(0, 1, n)
    rho2 = np.corrcoef(x, y2)[0, 1] ** 2
    assert ex.minimum_detectable_effect(y2, control, covariate=x) == pytest.approx(
        ex.minimum_detectable_effect(y2, control) * np.sqrt(1 - rho2), rel=0.02)
    # a 0/1 outcome: the MDE solves the two-proportion formula
    p0 = 0.3
    d = ex.minimum_detectable_effect(np.r_[np.ones(360), np.zeros(840)], np.tile([True, False, False], 400), binary=True)
    assert d == pytest.approx(z * np.sqrt((p0 * (1 - p0) + (p0 + d) * (1 - p0 - d)) / 2 * (1 / 800 + 1 / 400)), rel=1e-6)


def test_an_uplift_of_the_mde_is_detected_with_the_stated_power():
    """Planted effect = MDE: the estimate's 95% interval excludes zero about 80% of the time."""
    rng = np.random.default_rng(11)
    n = 300
    control = np.tile([True, False, False], n // 3)
    mde = ex.minimum_detectable_effect(rng.normal(0, 1, n), control)
    hits = []
    for k in range(200):
        y = rng.normal(0, 1, n) + np.where(control, 0.0, mde)
        r = ex.estimate(y, control, n_boot=300, random_state=k)
        hits.append(r["ci_low"] > 0)
    assert 0.7 <= np.mean(hits) <= 0.9, np.mean(hits)


def test_share_needed_solves_for_the_promised_value():
    s = ex.share_needed(mde=150.0, share=0.1, target=100.0)
    assert s * (1 - s) == pytest.approx(0.1 * 0.9 * 1.5 ** 2)
    assert np.isnan(ex.share_needed(mde=200.0, share=0.1, target=100.0))  # even half held back is not enough
    assert ex.share_needed(mde=50.0, share=0.1, target=100.0) < 0.1


def test_balance_is_fine_for_a_random_draw_and_flags_a_rigged_one():
    rng = np.random.default_rng(5)
    u = _units(1000, seed=5).assign(revenue=rng.lognormal(10, 1, 1000))
    fair = u.assign(control=ex.assign(u, 0.3, 1, quarter="2026Q2").reindex(u["client_id"]).to_numpy())
    b = ex.balance(fair, ["revenue", "tier"])
    assert set(b["covariate"]) == {"revenue", "tier"} and len(b) == 5
    assert b["std_diff"].abs().max() < 0.15 and not b.loc[b["covariate"] == "revenue", "imbalanced"].any()
    rigged = u.assign(control=u["revenue"] < u["revenue"].quantile(0.3))  # the smallest clients held back
    r = ex.balance(rigged, ["revenue"])
    assert r["imbalanced"].all() and r["std_diff"].iloc[0] > 0.5


# --------------------------------------------------------------------------------------- data

def test_contacts_by_channel_and_topic_from_activities():
    acts = pd.DataFrame({
        "timestamp": pd.to_datetime(["2026-07-03 10:00", "2026-07-04 11:00", "2026-07-05 12:00", "2026-06-20 09:00",
                                     "2026-07-06 12:00"]),
        "client_id": ["a", "b", "c", "d", "e"], "activity_type": ["meeting", "meeting", "call", "call", "Call"],
        "topic": ["relationship review", "FX", "service recovery", "service recovery", "Service Recovery"]})
    u = pd.DataFrame({"client_id": ["a", "b", "c", "d", "e", "f"], "action": ["meeting", "meeting", "email", "call", "call", "call"],
                      "topic": ["relationship review", "relationship review", "service recovery", "service recovery",
                                "service recovery", "service recovery"]})
    got = ex.contacts(acts, u, START, END)
    # a: right channel and topic; b: wrong topic; c: wrong channel; d: before the window; e: case differs; f: nothing
    assert got.tolist() == [True, False, False, False, True, False]
    # touches without topics: the channel alone
    assert ex.contacts(acts.drop(columns="topic"), u, START, END).tolist() == [True, True, False, False, True, False]


def test_window_outcomes_count_purchase_days_and_adoption():
    rev = pd.DataFrame({"date": pd.to_datetime(["2026-07-02", "2026-07-02", "2026-07-09", "2026-08-01", "2026-06-30"]),
                        "client_id": ["a", "a", "a", "b", "b"], "amount": [10.0, 5.0, -3.0, 7.0, 100.0],
                        "product_id": ["p1", "p2", "p1", "p2", "p1"]})
    prod = pd.DataFrame({"product_id": ["p1", "p2"], "category": ["FX", "Equities"]})
    out = ex.window_outcomes(rev, ["a", "b", "z"], START, END, products=prod, topics=pd.Series({"a": "Equities", "b": "FX"}))
    # a: one purchase day (07-09 is a credit), revenue 12; b: 06-30 is outside (start, end]; z: nothing, no topic
    assert out["revenue"].tolist() == [12.0, 7.0, 0.0]
    assert out["purchases"].tolist() == [1.0, 1.0, 0.0]
    assert out["retained"].tolist() == [1.0, 1.0, 0.0]
    assert out["adopted"].tolist()[:2] == [1.0, 0.0] and np.isnan(out["adopted"].iloc[2])


def test_list_units_lead_by_value_and_refuse_mixed_flags():
    a = pd.DataFrame({"client_id": ["a", "a", "b"], "control": [False, False, True], "signal": ["headroom", "detractor", "x"],
                      "expected_value": [5.0, 9.0, 1.0], "rank": [1, 2, 1], "person_id": "p", "tier": "Gold"})
    u = ex.list_units(a)
    assert u["signal"].tolist() == ["detractor", "x"] and u["promised_12m"].tolist() == [14.0, 1.0]
    with pytest.raises(ValueError, match="control"):
        ex.list_units(a.assign(control=[True, False, True]))


# ----------------------------------------------------------------------------------- analysis

def test_analysis_strata_collapse_thin_cells_to_tier_then_all():
    u = pd.DataFrame({"person_id": ["p"] * 10 + ["q"] * 2 + ["r"] * 2 + ["s"] * 2,
                      "tier": ["Gold"] * 10 + ["Silver"] * 4 + ["Bronze"] * 2,
                      "control": [True, False] * 8})
    lab = ex.analysis_strata(u, min_per_arm=2)
    assert set(lab[:10]) == {"person_id|tier=p|Gold"}           # 5 + 5: a stratum of its own
    assert set(lab[10:14]) == {"tier=Silver"}                     # q and r: 1 + 1 each, pooled in their tier
    assert set(lab[14:]) == {"all"}                               # s: 1 + 1, and alone in Bronze


def _heavy_book(seed, n=600, uplift=0.0, whales=0.01):
    """A book with lognormal client sizes, lognormal quarter noise and rare giant orders (whatever the arm)."""
    rng = np.random.default_rng(seed)
    u = _units(n, seed=seed, people=4)
    control = ex.assign(u, 0.3, seed, quarter="2026Q2").reindex(u["client_id"]).to_numpy()
    size = rng.lognormal(0, 1.2, n)
    pre = size * rng.lognormal(0, 0.5, n) * 10_000
    post = size * rng.lognormal(0, 0.5, n) * 10_000 + np.where(control, 0.0, uplift)
    post = post + (rng.random(n) < whales) * 40 * size * 10_000
    return u.assign(control=control), pre, post


def test_estimate_covers_the_uplift_on_heavy_tailed_books_and_winsorising_steadies_it():
    errors = {"winsorised": [], "plain": []}
    covered = []
    for seed in range(40):
        u, pre, post = _heavy_book(seed, uplift=3000.0)
        lab = ex.analysis_strata(u).to_numpy()
        w = ex.estimate(post, u["control"], strata=lab, covariate=pre, winsor=0.99, n_boot=400, random_state=seed)
        p = ex.estimate(post, u["control"], strata=lab, covariate=pre, n_boot=400, random_state=seed)
        covered.append(w["ci_low"] <= 3000.0 <= w["ci_high"])
        errors["winsorised"].append(w["estimate"] - 3000.0)
        errors["plain"].append(p["estimate"] - 3000.0)
    rmse = {k: np.sqrt(np.mean(np.square(v))) for k, v in errors.items()}
    assert np.mean(covered) >= 0.85, np.mean(covered)
    assert rmse["winsorised"] < 0.7 * rmse["plain"], rmse  # the giant orders no longer decide the estimate
    assert abs(np.mean(errors["winsorised"])) < 0.3 * rmse["winsorised"] + 500  # and it stays centred


def test_cuped_keeps_the_meaning_and_narrows_the_interval():
    u, pre, post = _heavy_book(1, n=1500, uplift=5000.0, whales=0.0)
    with_x = ex.estimate(post, u["control"], covariate=pre, n_boot=500)
    without = ex.estimate(post, u["control"], n_boot=500)
    assert with_x["se"] < 0.75 * without["se"]
    assert with_x["ci_low"] <= 5000.0 <= with_x["ci_high"]
    assert with_x["unadjusted"] == pytest.approx(without["estimate"])


def test_per_contact_divides_by_the_difference_in_contact_rates():
    rng = np.random.default_rng(2)
    n = 3000
    control = rng.random(n) < 0.3
    contacted = rng.random(n) < np.where(control, 0.1, 0.8)
    y = rng.normal(0, 1, n) + 2.0 * contacted  # a conversation is worth 2; the list is worth 2 x 0.7
    r = ex.estimate(y, control, per=contacted, n_boot=400)
    assert r["estimate"] == pytest.approx(1.4, abs=0.15)
    assert r["per_gap"] == pytest.approx(0.7, abs=0.04)
    assert r["per_low"] <= 2.0 <= r["per_high"]


def test_by_bins_sees_whether_the_ranking_ranks_the_uplift():
    rng = np.random.default_rng(4)
    n = 1500
    u = pd.DataFrame({"control": rng.random(n) < 0.3, "promised_12m": rng.lognormal(0, 1, n)})
    noise = rng.normal(0, 1, n)
    ranked = u.assign(y=noise + np.where(u["control"], 0.0, u["promised_12m"].rank(pct=True) * 2))
    flat = u.assign(y=noise + np.where(u["control"], 0.0, 1.0))
    t, trend = ex.by_bins(ranked, "y", n_boot=300)
    assert trend["bins"] == 10 and len(t) == 10 and trend["ci_low"] > 0
    assert t["estimate"].iloc[-1] > t["estimate"].iloc[0]
    _, flat_trend = ex.by_bins(flat, "y", n_boot=300)
    se = (flat_trend["ci_high"] - flat_trend["ci_low"]) / (2 * 1.96)
    assert abs(flat_trend["difference"]) < 3 * se < trend["difference"]  # no trend where none is planted
    # small counts: fewer bins, then none
    few, few_trend = ex.by_bins(ranked.iloc[:200], "y", n_boot=100)
    assert 2 <= few_trend["bins"] < 10 and len(few) == few_trend["bins"]
    none, none_trend = ex.by_bins(ranked.iloc[:30], "y", n_boot=100)
    assert none.empty and none_trend["bins"] == 0


# ---------------------------------------------------------------------------- planted sample

def test_planted_experiment_leaves_the_sample_before_the_list_unchanged():
    base = sample.generate("small", random_state=9)
    s = sample.generate_uplift_experiment("small", random_state=9)
    for name, col in (("revenue", "date"), ("activities", "timestamp"), ("surveys", "date"), ("survey_invites", "date")):
        before = s.tables[name].loc[s.tables[name][col] <= START].reset_index(drop=True)
        want = base.tables[name].loc[base.tables[name][col] <= START].reset_index(drop=True)
        pd.testing.assert_frame_equal(before.sort_values([col, "client_id"], kind="stable").reset_index(drop=True),
                                      want.sort_values([col, "client_id"], kind="stable").reset_index(drop=True))
        after = s.tables[name].loc[s.tables[name][col] > END]
        assert len(after) == (base.tables[name][col] > END).sum()  # nothing planted after the quarter either
    for name in ("clients", "people", "products", "digital", "market_events", "third_party"):
        pd.testing.assert_frame_equal(s.tables[name], base.tables[name])
    a = s.truth["actions"]
    assert a["client_id"].is_unique and set(a["signal"]) == {"falling activity", "detractor", "cross-sell", "headroom"}
    assert abs(a["control"].mean() - 0.3) < 0.05
    # the truth: none planted for headroom, and the comparison's target is (compliance - contamination) x the contact's effect
    t = s.truth["uplift"].set_index(["signal", "outcome"])
    assert (t.loc["headroom", "itt"] == 0).all()
    assert t.loc[("falling activity", "revenue"), "itt"] == pytest.approx(
        0.75 * t.loc[("falling activity", "revenue"), "per_contact"])
