"""Tests of clientstrategy.voice: hand-computed fixtures, then the sample's planted truth."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from clientstrategy import voice
from conftest import shared_dataset

AS_OF = pd.Timestamp("2026-09-30")


def _d(*dates):
    return pd.to_datetime(list(dates))


# ------------------------------------------------------------------------------------------
# NPS basics
# ------------------------------------------------------------------------------------------
def test_nps_stats_hand_computed():
    r = voice.nps_stats([10, 9, 8, 3])
    # 2 promoters, 1 passive, 1 detractor of 4: NPS = 50% - 25% = 25 points
    assert (r["n"], r["promoters"], r["passives"], r["detractors"]) == (4, 2, 1, 1)
    assert r["nps"] == pytest.approx(25.0)
    se = math.sqrt((0.5 + 0.25 - 0.25**2) / 4) * 100  # 41.4578
    assert r["se"] == pytest.approx(se)
    assert r["ci_low"] == pytest.approx(25 - 1.959964 * se, rel=1e-5)
    assert r["ci_high"] == pytest.approx(min(25 + 1.959964 * se, 100))


def test_nps_category_cut_offs_and_range_check():
    assert voice.nps_category(pd.Series([0, 6, 7, 8, 9, 10])).tolist() == [
        "detractor", "detractor", "passive", "passive", "promoter", "promoter"]
    with pytest.raises(ValueError, match="nps"):
        voice.nps_category(pd.Series([11]))


def test_nps_summary_by_group_ignores_rows_after_as_of():
    s = pd.DataFrame({"date": _d("2026-01-01", "2026-02-01", "2026-03-01", "2026-04-01", "2026-12-01"),
                      "nps": [10, 10, 5, 9, 0], "tier": ["Gold", "Gold", "Gold", "Bronze", "Bronze"]})
    out = voice.nps_summary(s, AS_OF, by="tier").set_index("tier")
    assert out.loc["Gold", "n"] == 3
    assert out.loc["Gold", "nps"] == pytest.approx(100 * (2 - 1) / 3)
    assert out.loc["Bronze", "n"] == 1 and out.loc["Bronze", "nps"] == 100.0  # the December 0 is ignored
    with pytest.raises(ValueError, match="segment"):
        voice.nps_summary(s, AS_OF, by="segment")


def test_add_wave_and_wave_order():
    s = pd.DataFrame({"date": _d("2026-05-01", "2025-11-20", "2026-08-01"), "wave": ["spring", None, ""]})
    w = voice.add_wave(s)
    assert w["wave"].tolist() == ["spring", "2025Q4", "2026Q3"]
    assert voice.wave_order(w) == ["2025Q4", "spring", "2026Q3"]


def test_ratings_summary_hand_computed():
    s = pd.DataFrame({"date": _d("2026-01-01", "2026-01-02", "2026-01-03"), "rating_service": [6.0, 8.0, 10.0],
                      "rating_platform": [5.0, np.nan, 7.0]})
    out = voice.ratings_summary(s).set_index("rating")
    assert out.loc["service", "mean"] == 8.0 and out.loc["service", "sd"] == 2.0
    # t(0.975, 2) = 4.302653
    assert out.loc["service", "ci_high"] == pytest.approx(8 + 4.302653 * 2 / math.sqrt(3), rel=1e-6)
    assert out.loc["platform", "n"] == 2 and out.loc["platform", "mean"] == 6.0


def test_nps_trend_z_test_and_weighted_slope():
    w = pd.DataFrame({"wave": ["A", "B", "C"], "n": [100, 100, 100], "nps": [0.0, 10.0, 20.0],
                      "se": [5.0, 5.0, 5.0]})
    out = voice.nps_trend(w).set_index("test")
    # last vs previous: 10 points, se = sqrt(50) = 7.071, z = 1.414, p = 0.1573
    assert out.loc["last_vs_previous", "estimate"] == pytest.approx(10.0)
    assert out.loc["last_vs_previous", "se"] == pytest.approx(math.sqrt(50))
    assert out.loc["last_vs_previous", "p_value"] == pytest.approx(0.157299, rel=1e-4)
    # slope exactly 10 per wave; Sxx_w = 2/25, se = sqrt(12.5)
    assert out.loc["trend_per_wave", "estimate"] == pytest.approx(10.0)
    assert out.loc["trend_per_wave", "se"] == pytest.approx(math.sqrt(12.5))
    assert out.loc["trend_per_wave", "p_value"] < 0.01


# ------------------------------------------------------------------------------------------
# bias
# ------------------------------------------------------------------------------------------
def test_response_rates_match_on_client_and_wave():
    inv = pd.DataFrame({"date": _d("2026-07-01", "2026-07-01", "2026-07-01", "2026-04-01", "2026-10-05"),
                        "client_id": ["a", "b", "c", "a", "d"], "tier": ["Gold", "Gold", "Bronze", "Gold", "Bronze"]})
    sv = pd.DataFrame({"date": _d("2026-07-15", "2026-07-20"), "client_id": ["a", "c"]})
    out = voice.response_rates(inv, sv, AS_OF, by="tier").set_index("tier")
    # Gold: a(Q3) answered, b no, a(Q2) no -> 1/3; Bronze: c answered, d is after as_of -> 1/1
    assert out.loc["Gold", ["invited", "responded"]].tolist() == [3, 1]
    assert out.loc["Bronze", ["invited", "responded"]].tolist() == [1, 1]
    assert out.loc["Gold", "ci_low"] < 1 / 3 < out.loc["Gold", "ci_high"]


def test_post_stratified_nps_hand_computed():
    r = pd.DataFrame({"date": _d(*["2026-01-01"] * 5), "tier": ["Gold", "Gold", "Gold", "Gold", "Bronze"],
                      "nps": [10, 10, 10, 0, 0]})
    pop = pd.DataFrame({"tier": ["Gold", "Bronze", "Silver"], "population": [1, 3, 4]})
    out = voice.post_stratified_nps(r, pop).iloc[0]
    assert out["nps_raw"] == pytest.approx(100 * (3 - 2) / 5)  # 20
    # Gold NPS 50 (3 pro, 1 det of 4), Bronze -100; Silver has no respondent: weights 1/4, 3/4
    assert out["nps_weighted"] == pytest.approx(0.25 * 50 + 0.75 * -100)  # -62.5
    se_gold = math.sqrt((0.75 + 0.25 - 0.5**2) / 4) * 100
    assert out["se_weighted"] == pytest.approx(0.25 * se_gold)
    assert out["difference"] == pytest.approx(20 + 62.5)
    assert out["uncovered_share"] == pytest.approx(0.5)
    tab = voice.strata_table(r, pop).set_index("tier")
    assert tab.index.tolist() == ["Gold", "Silver", "Bronze"]
    assert tab.loc["Gold", "respondent_share"] == pytest.approx(0.8)
    assert tab.loc["Gold", "population_share"] == pytest.approx(1 / 8)


def test_owner_bias_removes_tier_mean_first():
    # tier A mean 8, tier B mean 4: p1 sits +1 in both tiers, p2 -1; raw means would mix tiers
    r = pd.DataFrame({"client_id": list("abcdefgh"), "nps": [9, 9, 7, 7, 5, 5, 3, 3],
                      "tier": list("AAAABBBB"), "owner_id": ["p1", "p1", "p2", "p2"] * 2})
    out = voice.owner_bias(r, min_clients=2).set_index("owner_id")
    assert out.loc["p1", "bias"] == pytest.approx(2.0)
    assert out.loc["p2", "bias"] == pytest.approx(-2.0)
    assert out.loc["p1", "clients"] == 4
    with pytest.raises(ValueError, match="owner_id"):
        voice.owner_bias(r.drop(columns="owner_id"))


# ------------------------------------------------------------------------------------------
# text, drivers, client level, outcomes
# ------------------------------------------------------------------------------------------
THEME_FIXTURE = pd.DataFrame({
    "date": _d(*["2026-03-01"] * 12), "client_id": [f"c{i:02d}" for i in range(12)],
    "nps": [1, 2, 3, 4, 5, 6, 9, 10, 9, 10, 9, 10],
    "comment": ["slow response from support", "support response is slow", "very slow response again",
                "pricing is too high", "high pricing for the service", "pricing far too high",
                "excellent research quality", "research quality is excellent", "great research quality",
                "helpful coverage team", "the coverage team is helpful", "really helpful coverage team"],
})


def test_comment_themes_recover_fixture_topics_and_sides():
    themes, assign = voice.comment_themes(THEME_FIXTURE, n_themes=4, min_df=2, ngram_range=(1, 1),
                                          random_state=0)
    assert len(themes) == 4 and themes["comments"].sum() == 12
    by_term = {}
    for _, row in themes.iterrows():
        for key in ("slow", "pricing", "research", "coverage"):
            if key in row["top_terms"].split(", ")[:2]:
                by_term[key] = row
    assert set(by_term) == {"slow", "pricing", "research", "coverage"}
    for key in ("slow", "pricing"):
        assert by_term[key]["detractors"] == 3 and by_term[key]["promoters"] == 0
    for key in ("research", "coverage"):
        assert by_term[key]["promoters"] == 3 and by_term[key]["detractors"] == 0
    assert "slow" in by_term["slow"]["examples"]
    assert set(assign["theme"]) == {1, 2, 3, 4}
    # row order does not matter
    shuffled = THEME_FIXTURE.sample(frac=1.0, random_state=3)
    themes2, _ = voice.comment_themes(shuffled, n_themes=4, min_df=2, ngram_range=(1, 1), random_state=0)
    pd.testing.assert_frame_equal(themes, themes2)


def test_nps_drivers_recover_noise_free_coefficients():
    rng = np.random.default_rng(1)
    a, b, c = rng.normal(size=300), rng.normal(size=300), rng.normal(size=300)
    s = pd.DataFrame({"date": AS_OF, "rating_service": a, "rating_research": b, "rating_platform": c,
                      "nps": 5 + 2.0 * a + 0.5 * b + 0.0 * c})
    out = voice.nps_drivers(s).set_index("driver")
    assert out.index[0] == "rating_service"
    # points per (population) standard deviation of the driver
    assert out.loc["rating_service", "coef"] == pytest.approx(2.0 * a.std(), rel=1e-9)
    assert out.loc["rating_research", "coef"] == pytest.approx(0.5 * b.std(), rel=1e-9)
    assert abs(out.loc["rating_platform", "coef"]) < 1e-9
    assert out["r2"].iloc[0] == pytest.approx(1.0)
    assert out["importance"].sum() == pytest.approx(1.0)  # Pratt's measure adds up to R^2


def test_response_features_window():
    s = pd.DataFrame({"date": _d("2026-03-01", "2026-03-01"), "client_id": ["a", "b"]})
    a = pd.DataFrame({"timestamp": _d("2026-02-01", "2026-02-28", "2025-01-01", "2026-03-02"),
                      "client_id": ["a", "a", "a", "a"], "activity_type": ["call", "meeting", "call", "call"]})
    r = pd.DataFrame({"date": _d("2026-01-15", "2025-06-01"), "client_id": ["a", "a"], "amount": [10.0, 99.0]})
    out = voice.response_features(s, activities=a, revenue=r, window_days=90)
    assert out["touches_call"].tolist() == [1.0, 0.0]
    assert out["touches_meeting"].tolist() == [1.0, 0.0]
    assert out["revenue_before"].tolist() == [10.0, 0.0]


def test_client_nps_latest_on_or_before_as_of():
    s = pd.DataFrame({"date": _d("2026-01-01", "2026-06-01", "2026-06-01", "2026-12-01", "2025-03-01"),
                      "client_id": ["a", "a", "a", "a", "b"], "nps": [3, 9, 6, 0, 10]})
    out = voice.client_nps(s, AS_OF).set_index("client_id")
    assert out.loc["a", "nps"] == 7.5 and out.loc["a", "category"] == "passive"  # mean of the 2026-06-01 pair
    assert out.loc["a", "date"] == pd.Timestamp("2026-06-01")
    assert out.loc["b", "nps"] == 10.0 and out.loc["b", "category"] == "promoter"


def test_detractor_outcomes_hand_computed():
    # as_of 2026-09-30, lapse 180 days -> responses up to 2026-04-03 count; churned = no buy after 2026-04-03
    s = pd.DataFrame({"date": _d("2025-09-30", "2025-09-30", "2025-09-30", "2025-09-30", "2025-09-30"),
                      "client_id": ["p1", "p2", "d1", "d2", "x"], "nps": [10, 9, 2, 5, 0]})
    r = pd.DataFrame({
        "date": _d("2025-09-01", "2025-09-01", "2025-09-01", "2025-09-01", "2024-01-01",
                   "2026-09-01", "2026-09-01", "2026-09-01", "2025-12-01"),
        "client_id": ["p1", "p2", "d1", "d2", "x", "p1", "p2", "d2", "d1"],
        "amount": [1.0, 1.0, 1.0, 1.0, 1.0, 100.0, 50.0, 20.0, 30.0]})
    out = voice.detractor_outcomes(s, r, AS_OF).set_index("category")
    # x had stopped buying before answering: left out
    assert out.loc["promoter", ["clients", "churned"]].tolist() == [2, 0]
    assert out.loc["detractor", ["clients", "churned"]].tolist() == [2, 1]
    assert out.loc["detractor", "churn_rate"] == 0.5
    years = 365 / 365.25
    assert out.loc["promoter", "revenue_per_year_mean"] == pytest.approx(75 / years)
    assert out.loc["detractor", "revenue_per_year_mean"] == pytest.approx(25 / years)
    assert out.loc["passive", "clients"] == 0


def test_nps_interval_is_clustered_by_client():
    """Issue 19: a client answering in several waves is not several independent clients. Clients with a
    lasting view (latent mean score, sd 1.5 between clients, 0.7 within) answer 1-7 times; over 300 books
    the independent (multinomial) 95% interval covers the population NPS 66% of the time when written,
    the client-clustered one 93%."""
    rng0 = np.random.default_rng(123)
    mu = rng0.normal(7.5, 1.5, 1_000_000)
    x = np.round(np.clip(mu + rng0.normal(0, 0.7, mu.size), 0, 10))
    truth = 100 * ((x >= 9).mean() - (x <= 6).mean())
    clustered = independent = 0
    for r in range(300):
        rng = np.random.default_rng(r)
        m, k = rng.normal(7.5, 1.5, 120), rng.integers(1, 8, 120)
        c = np.repeat(np.arange(120), k)
        st = voice.nps_stats(np.round(np.clip(m[c] + rng.normal(0, 0.7, c.size), 0, 10)), clusters=c)
        clustered += st["ci_low"] <= truth <= st["ci_high"]
        independent += abs(st["nps"] - truth) <= 1.959964 * st["se_independent"]
    assert clustered / 300 >= 0.9 and independent / 300 <= 0.8
    # summaries cluster by client_id by default, and say how many clients stand behind the answers
    s = pd.DataFrame({"date": pd.Timestamp("2026-01-05"), "client_id": ["a", "a", "b", "b"], "nps": [10, 10, 3, 3]})
    row = voice.nps_summary(s).iloc[0]
    assert (row["n"], row["clients"]) == (4, 2) and row["se"] == pytest.approx(100.0)
    assert voice.nps_summary(s, cluster=None).iloc[0]["se"] == pytest.approx(50.0)
    # the weighted NPS too: one stratum, so its estimate and interval are the raw one's
    ps = voice.post_stratified_nps(s.assign(tier="Gold"), pd.DataFrame({"tier": ["Gold"], "population": [10]})).iloc[0]
    assert ps["se_weighted"] == pytest.approx(100.0) and ps["se_raw"] == pytest.approx(100.0)


def test_post_stratified_nps_weighs_clients_by_their_tier_when_they_answered():
    """Issue 19: a hundred clients whose revenue ranks reversed after the 2025 survey. Then, the 20 largest
    (Platinum and Gold) all answered, and happily; half of Silver answered (passives) and a fifth of Bronze
    (detractors): the NPS of everyone invited is -30, the raw NPS +22. Weighted by the tier each client had
    when invited and when it answered, the survey gives -30; weighted by today's tiers, -2."""
    ids = [f"c{i:03d}" for i in range(100)]
    rev = pd.DataFrame({"date": [pd.Timestamp("2024-09-15")] * 100 + [pd.Timestamp("2026-06-15")] * 100,
                        "client_id": ids + ids,
                        "amount": [1000.0 - 10 * i for i in range(100)] + [10.0 + 10 * i for i in range(100)]})
    inv = pd.DataFrame({"date": pd.Timestamp("2025-03-03"), "client_id": ids, "wave": "2025Q1"})
    then = voice.tiers_at(inv, rev)
    assert then.value_counts().to_dict() == {"Bronze": 50, "Silver": 30, "Gold": 15, "Platinum": 5}
    assert then.iloc[0] == "Platinum" and then.iloc[-1] == "Bronze"
    score = then.map({"Platinum": 10, "Gold": 10, "Silver": 8, "Bronze": 3})
    pick = []
    for tier, share in (("Platinum", 1.0), ("Gold", 1.0), ("Silver", 0.5), ("Bronze", 0.2)):
        idx = np.flatnonzero(then == tier)
        pick += list(idx[: round(share * len(idx))])
    sv = pd.DataFrame({"date": pd.Timestamp("2025-03-10"), "client_id": np.array(ids)[pick],
                       "nps": score.to_numpy()[pick], "wave": "2025Q1"})
    pop = inv.assign(tier=then).groupby("tier").size().rename("population").reset_index()
    at = voice.post_stratified_nps(sv.assign(tier=voice.tiers_at(sv, rev)), pop).iloc[0]
    assert at["nps_raw"] == pytest.approx(200 / 9) and at["nps_weighted"] == pytest.approx(-30.0)
    now = voice.client_tiers(ids, rev, AS_OF)
    pop_now = voice.attach_attributes(inv, tiers=now).groupby("tier").size().rename("population").reset_index()
    today = voice.post_stratified_nps(voice.attach_attributes(sv, tiers=now), pop_now).iloc[0]
    assert abs(today["nps_weighted"] - -30.0) > 20


def test_tiers_at_follows_the_rule_of_assign_tiers():
    from clientstrategy import outcomes

    rng = np.random.default_rng(2)
    ids = pd.Index([f"k{i:03d}" for i in rng.permutation(400)])
    values = np.round(rng.lognormal(3, 1, 400), 0) * (rng.random(400) > 0.2)  # ties and zeros
    rank = np.argsort(np.argsort(ids.to_numpy(dtype=str), kind="mergesort"), kind="mergesort")
    for shares in (outcomes.DEFAULT_TIER_SHARES, (0.1, 0.2, 0.3, 0.4)):
        fast = np.asarray(voice.TIERS, dtype=object)[voice._tier_index(values, rank, shares)]
        assert (fast == outcomes.assign_tiers(pd.Series(values, index=ids), shares=shares).to_numpy()).all()


def test_client_tiers_profile_first_then_outcomes_rule():
    prof = pd.DataFrame({"client_id": ["a"], "tier": ["Platinum"]})
    rev = pd.DataFrame({"date": _d("2026-05-01", "2026-05-01", "2026-05-01"), "client_id": ["a", "b", "c"],
                        "amount": [1.0, 500.0, 0.0]})
    out = voice.client_tiers(["a", "b", "c"], rev, AS_OF, profile=prof).set_index("client_id")
    assert out.loc["a", "tier"] == "Platinum" and out.loc["a", "tier_source"] == "profile"
    assert out.loc["c", "tier"] == "Bronze"  # no positive revenue
    assert out.loc["b", "tier_source"] == "outcomes"


def test_attach_attributes_fills_unknown():
    s = pd.DataFrame({"client_id": ["a", "b"], "nps": [9, 3]})
    c = pd.DataFrame({"client_id": ["a", "b"], "region": ["EU", None], "owner_id": ["p1", "p2"]})
    t = pd.DataFrame({"client_id": ["a"], "tier": ["Gold"]})
    out = voice.attach_attributes(s, clients=c, tiers=t)
    assert out["region"].tolist() == ["EU", "unknown"]
    assert out["tier"].tolist() == ["Gold", "unknown"]
    assert out["owner_id"].tolist() == ["p1", "p2"]
    assert "segment" not in out.columns


# ------------------------------------------------------------------------------------------
# planted truth of the bundled sample (data/sample/README.md, effects 6-9)
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sample():
    gen = pytest.importorskip("clientstrategy.sample")
    return gen.generate("default", random_state=20261123)


@pytest.fixture(scope="module")
def answered(sample):
    t = sample.tables
    tiers = voice.client_tiers(t["clients"], t["revenue"], AS_OF)
    s = voice.add_wave(voice.attach_attributes(t["surveys"], clients=t["clients"], tiers=tiers))
    inv = voice.add_wave(voice.attach_attributes(t["survey_invites"], clients=t["clients"], tiers=tiers))
    return s, inv


def test_sample_raw_nps_above_weighted(sample, answered):
    s, inv = answered
    rates = voice.response_rates(inv, s, AS_OF, by="tier").set_index("tier")
    assert rates.loc["Platinum", "response_rate"] > rates.loc["Bronze", "response_rate"]
    pop = inv.loc[inv["date"] <= AS_OF].drop_duplicates(["client_id", "wave"]).groupby("tier").size()
    pop = pop.rename("population").reset_index()
    out = voice.post_stratified_nps(s, pop, as_of=AS_OF).iloc[0]
    assert out["nps_raw"] > out["nps_weighted"]
    # the weighting moves the estimate toward the planted NPS of everyone invited
    waves = sample.truth["survey_waves"]
    truth = float(np.average(waves["nps_population"], weights=waves["invited"]))
    assert abs(out["nps_weighted"] - truth) < abs(out["nps_raw"] - truth)


def test_sample_intervals_widen_when_clustered_by_client(sample):
    """The sample's satisfaction is a lasting trait of the client and 28% of those who answer do so more
    than once: clustered standard errors are wider, most for the tiers that answer most."""
    s = voice.add_wave(sample.tables["surveys"])
    s = s.assign(tier=voice.tiers_at(s, sample.tables["revenue"]))
    t = voice.nps_summary(s, by="tier").set_index("tier")
    assert (t["clients"] < t["n"]).all() and (t["se"] > t["se_independent"]).all()
    overall = voice.nps_summary(s).iloc[0]
    assert overall["se"] > 1.05 * overall["se_independent"]


def test_sample_detractors_churn_more(sample):
    t = sample.tables
    out = voice.detractor_outcomes(t["surveys"], t["revenue"], AS_OF).set_index("category")
    assert out.loc["detractor", "churn_rate"] > out.loc["promoter", "churn_rate"]
    assert out.loc["detractor", "p_value_vs_promoters"] < 0.05


def test_sample_nps_last_exact(sample):
    s = sample.tables["surveys"]
    out = voice.client_nps(s, AS_OF).set_index("client_id")
    upto = s.loc[s["date"] <= AS_OF]
    assert len(out) == upto["client_id"].nunique()
    # independent recomputation for every client: mean score on the client's last date
    for cid, g in upto.groupby("client_id"):
        last = g.loc[g["date"] == g["date"].max(), "nps"].astype(float).mean()
        assert out.loc[cid, "nps"] == last


def test_sample_owner_bias_flags_planted_owner(sample, answered):
    s, _ = answered
    truth = sample.truth["owner_bias"]
    out = voice.owner_bias(s, min_clients=10)
    flagged = set(out.loc[out["flagged"], "owner_id"])
    assert set(truth["person_id"].astype(str)) <= flagged
    assert out.iloc[0]["owner_id"] in set(truth["person_id"].astype(str))


def test_sample_service_drives_nps(sample):
    out = voice.nps_drivers(sample.tables["surveys"], as_of=AS_OF)
    assert out.iloc[0]["driver"] == "rating_service"


def test_sample_themes_match_planted(sample):
    truth = sample.truth["themes"]
    themes, _ = voice.comment_themes(sample.tables["surveys"], AS_OF, n_themes=8, random_state=0)
    for _, planted in truth.iterrows():
        kw = set(str(planted["keywords"]).lower().split())
        found = [row for _, row in themes.iterrows() if kw & set(row["top_terms"].split(", ")[:3])]
        assert found, f"planted theme {planted['theme']!r} not among the NMF themes"
        for row in found:  # and it is written by the planted side (passives write on both sides)
            other = row["promoters"] if planted["side"] == "detractor" else row["detractors"]
            assert other <= 0.05 * row["comments"], (planted["theme"], row["name"])


# ------------------------------------------------------------------------------------------
# real data: the Olist reviews through data/mappings/olist_ecommerce.yaml
# ------------------------------------------------------------------------------------------
OLIST = shared_dataset("olist_ecommerce", "sample_4000_orders")  # ../shared/datasets (tests/conftest.py)
needs_olist = pytest.mark.skipif(not OLIST.is_dir(), reason="Olist sample not on this machine")


@needs_olist
def test_olist_mapping_puts_review_stars_on_the_stated_scale():
    from clientstrategy import io, paths

    tables = dict(io.load_source(str(OLIST), mapping=str(paths.MAPPINGS / "olist_ecommerce.yaml")))
    s = tables["surveys"]
    raw = pd.read_csv(OLIST / "olist_order_reviews_dataset.csv", dtype=str)
    assert len(s) == len(raw) == 3986
    m = s.merge(raw[["review_id", "review_score"]], left_on="respondent_id", right_on="review_id")
    assert set(zip(m["review_score"].astype(int), m["nps"].astype(int))) == {(5, 10), (4, 8), (3, 5), (2, 2), (1, 0)}
    # SOURCE.md: scores 1:454 2:137 3:337 4:765 5:2,293 -> 5 stars promoters, 1-3 detractors
    assert voice.nps_stats(s["nps"])["nps"] == pytest.approx(100 * (2293 - (454 + 137 + 337)) / 3986)
    assert s["comment"].notna().sum() >= 1656  # every review with a message (titles add a few)


@needs_olist
@pytest.mark.slow
def test_notebook_04_runs_on_olist_reviews(tmp_path):
    import json

    import papermill

    from clientstrategy import paths

    art = tmp_path / "artifacts"
    papermill.execute_notebook(
        str(paths.NOTEBOOKS / "04_voice.ipynb"), str(tmp_path / "04.ipynb"), cwd=str(paths.NOTEBOOKS),
        parameters={"data_dir": str(OLIST), "mapping": str(paths.MAPPINGS / "olist_ecommerce.yaml"),
                    "artifacts_dir": str(art), "comment_language": "portuguese",
                    "score_note": "Olist review stars mapped to 0-10: 5 to 10, 4 to 8, 3 to 5, 2 to 2, 1 to 0."},
        progress_bar=False, kernel_name="python3")
    raw = pd.read_csv(OLIST / "olist_order_reviews_dataset.csv", dtype=str)
    raw = raw.loc[pd.to_datetime(raw["review_answer_timestamp"]).dt.normalize() <= pd.Timestamp("2018-06-30")]
    cn = pd.read_parquet(art / "client_nps.parquet")
    # a client is the customer (customer_unique_id), reached through orders and customers
    orders = pd.read_csv(OLIST / "olist_orders_dataset.csv", dtype=str).merge(
        pd.read_csv(OLIST / "olist_customers_dataset.csv", dtype=str), on="customer_id")
    customers = raw.merge(orders, on="order_id", how="left", validate="many_to_one")["customer_unique_id"]
    assert len(cn) == customers.nunique() == 3_360  # AS_OF defaults to 2018-06-30, the last complete quarter
    prof = pd.read_parquet(art / "client_profile.parquet").set_index("client_id")
    assert (prof.loc[cn["client_id"], "nps_last"].to_numpy() == cn["nps"].to_numpy()).all()
    metrics = json.loads((art / "_metrics" / "04_voice.json").read_text())["voice"]
    stars = raw["review_score"].astype(int)
    assert metrics["nps"] == pytest.approx(100 * ((stars == 5).mean() - (stars <= 3).mean()))
    themes = pd.read_csv(art / "themes.csv")
    # the real finding: "not received (yet)" is the detractors' theme
    undelivered = themes.loc[themes["top_terms"].str.contains("recebi")]
    assert len(undelivered) and undelivered["detractor_share"].max() > 0.5


def test_ratings_change_interval_finds_a_planted_shift_and_not_noise():
    rng = np.random.default_rng(7)
    n = 400
    dates = pd.to_datetime(["2026-02-01"] * n + ["2026-05-01"] * n)
    waves = ["2026Q1"] * n + ["2026Q2"] * n
    service = np.r_[rng.normal(7.0, 1.5, n), rng.normal(7.6, 1.5, n)]   # +0.6 planted
    platform = np.r_[rng.normal(6.0, 1.5, n), rng.normal(6.0, 1.5, n)]  # no change
    s = pd.DataFrame({"date": dates, "wave": waves, "rating_service": service, "rating_platform": platform})
    out = voice.ratings_change(s).set_index("rating")
    assert out.loc["service", "significant"] and out.loc["service", "ci_low"] < 0.6 < out.loc["service", "ci_high"]
    assert not out.loc["platform", "significant"] and out.loc["platform", "ci_low"] < 0 < out.loc["platform", "ci_high"]
    assert voice.ratings_change(s[s["wave"] == "2026Q1"]).empty


def test_ratings_change_carries_the_trend_across_waves():
    rng = np.random.default_rng(3)
    waves = [f"2026Q{q}" for q in (1, 2, 3, 4)]
    dates = pd.to_datetime(["2026-02-01", "2026-05-01", "2026-08-01", "2026-11-01"])
    parts = [pd.DataFrame({"date": d, "wave": w, "rating_service": rng.normal(6 + 0.5 * i, 1.0, 300)})
             for i, (w, d) in enumerate(zip(waves, dates))]
    out = voice.ratings_change(pd.concat(parts, ignore_index=True)).set_index("rating")
    assert out.loc["service", "trend_per_wave"] == pytest.approx(0.5, abs=0.15)
    assert out.loc["service", "trend_p_value"] < 0.01
