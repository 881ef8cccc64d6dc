"""Tests of clientstrategy.strategy on hand-made profiles with hand-computed expectations."""
import matplotlib.pyplot
import numpy as np
import pandas as pd
import pytest

from clientstrategy import strategy as st
from clientstrategy.schema import INTENTS

AS_OF = pd.Timestamp("2026-09-30")


def _profile():
    return pd.DataFrame({
        "client_id": ["a", "b", "c", "d"],
        "clv": [10.0, 20.0, 30.0, 40.0],
        "growth": [0.1, -0.1, 0.2, np.nan],
        "nps_last": [10.0, 0.0, 5.0, np.nan],
        "engagement_score": [np.nan] * 4,
        "headroom": [np.nan] * 4,
    })


def test_value_scores_hand_computed_and_renormalised():
    out = st.value_scores(_profile())
    # clv ranks .25 .5 .75 1; growth ranks among a,b,c: .667 .333 1 (d missing)
    # business weights clv .4, growth .2 -> a = (.4*.25 + .2*2/3)/.6
    exp_b = [(0.4 * 0.25 + 0.2 * 2 / 3) / 0.6, (0.4 * 0.5 + 0.2 / 3) / 0.6, (0.4 * 0.75 + 0.2) / 0.6, 1.0]
    assert out["value_to_business"].tolist() == pytest.approx(exp_b)
    # client: only nps (engagement all null) -> nps/10; d has none -> median of a,b,c = .5
    assert out["value_to_client"].tolist() == pytest.approx([1.0, 0.0, 0.5, 0.5])
    assert out.attrs["ingredients"] == {"business": ["clv", "growth"], "client": ["nps"]}
    assert "vb_headroom" not in out.columns and "vc_nps" in out.columns


def test_value_scores_uses_frames_and_revenue_stand_in():
    p = pd.DataFrame({"client_id": ["a", "b"], "clv": [np.nan, np.nan], "revenue_ltm": [5.0, 1.0]})
    resp = pd.DataFrame({"client_id": ["a", "a", "b"], "topic": ["FX", "Eq", "FX"],
                         "responsiveness": [0.1, 0.9, 0.5]})
    breadth = pd.DataFrame({"client_id": ["a", "b"], "breadth": [1, 3]})
    out = st.value_scores(p, responsiveness=resp, breadth=breadth)
    assert "clv<-revenue_ltm" in out.attrs["ingredients"]["business"]
    assert out["value_to_business"].tolist() == [1.0, 0.5]
    # a: responsiveness max .9 -> rank 1, breadth rank .5 -> (.2*.5 + .2*1)/.4 = .75; b: (.2*1 + .2*.5)/.4
    assert out["value_to_client"].tolist() == pytest.approx([0.75, 0.75])


def test_value_scores_input_checks():
    with pytest.raises(ValueError, match="client_id"):
        st.value_scores(pd.DataFrame({"clv": [1.0]}))
    with pytest.raises(ValueError, match="client_id"):
        st.value_scores(pd.DataFrame({"client_id": ["a", "a"], "clv": [1.0, 2.0]}))
    with pytest.raises(ValueError, match="unknown business ingredient"):
        st.value_scores(_profile(), business_weights={"size": 1.0})


def test_assign_groups_two_by_two_and_threshold_check():
    s = pd.DataFrame({"client_id": list("abcd"), "value_to_business": [0.9, 0.9, 0.2, 0.5],
                      "value_to_client": [0.8, 0.1, 0.7, 0.49]})
    assert st.assign_groups(s)["group"].tolist() == [
        "Strategic partners", "Value at risk", "Untapped advocates", "Value at risk"]
    assert st.assign_groups(s, 0.95, 0.0)["group"].tolist() == ["Untapped advocates"] * 4
    with pytest.raises(ValueError, match="business_threshold"):
        st.assign_groups(s, business_threshold=1.5)


def test_intents_rules_churned_never_grow():
    plan = pd.DataFrame({
        "client_id": list("abcdef"),
        "group": ["Strategic partners", "Strategic partners", "Untapped advocates", "Transactional",
                  "Transactional", "Value at risk"],
        "p_alive": [0.9, 0.1, 0.8, 0.9, 0.2, 0.05],
        "headroom": [1000.0, 5000.0, 10.0, 3000.0, 0.0, 100.0],
        "revenue_ltm": [1.0] * 6,
    })
    out = st.assign_intents(plan)
    # positive headroom: 1000, 5000, 10, 3000, 100 -> median 1000; b is dead, c below the bar
    assert out["intent"].tolist() == ["grow", "maintain", "maintain", "re-engineer", "retire", "retire"]
    assert not out.loc[out["p_alive"] < 0.5, "intent"].eq("grow").any()
    assert out["intent_source"].eq("rule").all()
    assert plan.columns.tolist() == ["client_id", "group", "p_alive", "headroom", "revenue_ltm"]  # not mutated


def test_intents_at_most_two_per_group_on_random_profiles():
    rng = np.random.default_rng(0)
    n = 400
    prof = pd.DataFrame({"client_id": [f"c{i}" for i in range(n)], "clv": rng.gamma(2, 100, n),
                         "growth": rng.normal(0, 0.3, n), "headroom": rng.gamma(1, 500, n),
                         "nps_last": rng.integers(0, 11, n).astype(float),
                         "engagement_score": rng.random(n), "p_alive": rng.random(n),
                         "revenue_ltm": rng.gamma(2, 50, n), "tier": rng.choice(["Gold", "Bronze"], n)})
    plan = st.build_plan(prof)
    assert plan.groupby("group")["intent"].nunique().max() <= 2
    assert set(plan["intent"]) <= set(INTENTS)
    assert not plan.loc[plan["p_alive"] < 0.5, "intent"].eq("grow").any()
    # the largest headroom with healthy value (alive, high value to client) mostly get grow
    top = plan.loc[(plan["headroom"] >= plan["headroom"].quantile(0.8)) & (plan["p_alive"] >= 0.5)
                   & (plan["value_to_client"] >= 0.5)]
    assert len(top) > 10 and (top["intent"] == "grow").mean() >= 0.9


def test_policy_checks_and_headroom_fallback():
    plan = pd.DataFrame({"client_id": ["a", "b"], "group": ["Strategic partners"] * 2,
                         "p_alive": [0.9, 0.9], "growth": [0.2, -0.3]})
    assert st.assign_intents(plan)["intent"].tolist() == ["grow", "maintain"]
    with pytest.raises(ValueError, match="one or two intents"):
        st.assign_intents(plan, policy={"Strategic partners": ("grow", "maintain", "retire")})
    with pytest.raises(ValueError, match="unknown intent"):
        st.assign_intents(plan, policy={"Strategic partners": ("expand",)})
    with pytest.raises(ValueError, match="no intents for group"):
        st.assign_intents(plan, policy={"Transactional": ("retire",)})


def test_overrides_replace_and_validate():
    plan = pd.DataFrame({"client_id": ["a", "b"], "intent": ["grow", "maintain"]})
    ov = pd.DataFrame({"client_id": ["b"], "intent": [" Retire "], "reason": ["exiting the market"]})
    out = st.apply_overrides(plan, ov)
    assert out["intent"].tolist() == ["grow", "retire"]
    assert out["intent_source"].tolist() == ["rule", "analyst"]
    assert out.loc[1, "intent_reason"] == "exiting the market"
    with pytest.raises(ValueError, match="'intent'"):
        st.apply_overrides(plan, pd.DataFrame({"client_id": ["a"], "intent": ["expand"]}))
    with pytest.raises(ValueError, match="'client_id'"):
        st.apply_overrides(plan, pd.DataFrame({"client_id": ["zz"], "intent": ["grow"]}))


def test_service_levels_move_with_intent():
    plan = pd.DataFrame({"client_id": list("abcde"), "tier": ["Platinum", "Bronze", "Gold", None, "Silver"],
                         "intent": ["grow", "re-engineer", "retire", "grow", "maintain"]})
    assert st.assign_service_levels(plan)["service_level"].tolist() == [
        "Platinum", "Bronze", "Bronze", "Silver", "Silver"]


def test_coverage_and_capacity_hand_computed():
    plan = pd.DataFrame({"client_id": ["a", "b", "c"], "service_level": ["Platinum", "Silver", "Bronze"],
                         "intent": ["grow", "maintain", "retire"]})
    ts = pd.to_datetime(["2026-09-01 09:00", "2026-09-30 15:00", "2026-08-01", "2026-09-02", "2026-09-03",
                         "2026-09-04", "2026-10-02", "2026-05-01"], format="mixed")
    act = pd.DataFrame({"timestamp": ts, "client_id": ["a", "a", "b", "c", "c", "c", "a", "a"],
                        "activity_type": "call", "duration_min": [30.0, 30.0, 10.0, 5.0, 5.0, 5.0, 60.0, 60.0]})
    clients = pd.DataFrame({"client_id": ["a", "b", "c"], "owner_id": ["p1", "p1", None]})
    cov = st.service_coverage(plan, act, AS_OF, clients=clients)
    assert cov["touches_required"].tolist() == [12.0, 3.0, 1.0]
    assert cov["touches_actual"].tolist() == [2.0, 1.0, 3.0]  # 2 Oct and May are outside the quarter
    assert cov["under_served"].tolist() == [True, True, False]
    assert cov["owner_id"].tolist() == ["p1", "p1", "unassigned"]
    by_intent = st.capacity_summary(cov, by="intent").set_index("intent")
    assert by_intent.loc["retire", "touch_share"] == pytest.approx(0.5)
    assert by_intent.loc["retire", "minutes_share"] == pytest.approx(15 / 85)
    by_level = st.capacity_summary(cov)
    assert by_level["service_level"].tolist() == ["Platinum", "Silver", "Bronze"]
    assert by_level["coverage"].tolist() == pytest.approx([2 / 12, 1 / 3, 3.0])


def _budget_plan():
    return pd.DataFrame({
        "client_id": ["a", "b", "c", "d"], "group": ["G1", "G1", "G2", "G2"],
        "owner_id": ["p1", "p2", "p1", None], "intent": ["grow", "maintain", "re-engineer", "retire"],
        "revenue_ltm": [100.0, 200.0, 50.0, 40.0], "headroom": [300.0, 0.0, np.nan, 10.0],
    })


# the models' forecast of each client's next twelve months (plan.existing_forecast); d has none
_BASE = pd.DataFrame({"client_id": ["a", "b", "c"], "base": [100.0, 100.0, 40.0]})
_RANGES = pd.DataFrame({"client_id": ["a", "b", "c"], "low": [110.0, 50.0, 20.0], "high": [150.0, 200.0, 50.0]})


def test_client_budget_hand_computed():
    cp = st.client_budget(_budget_plan(), {"reengineer_change": -0.1, "grow_cap": 1.0}, base=_BASE,
                          client_ranges=_RANGES)
    # a: base 100 + 0.1*300 = 130; b: 100; c: 40 * .9 = 36; d: no forecast -> 0 (retire keeps half of 0)
    assert cp["plan_revenue"].tolist() == pytest.approx([130.0, 100.0, 36.0, 0.0])
    assert cp["base"].tolist() == pytest.approx([100.0, 100.0, 40.0, 0.0])
    assert cp["mult"].tolist() == pytest.approx([1.0, 1.0, 0.9, 0.5])
    assert cp["add"].tolist() == pytest.approx([30.0, 0.0, 0.0, 0.0])
    # client ranges come from the simulation; a client without a forecast is certain
    assert cp["plan_low"].tolist() == pytest.approx([110.0, 50.0, 20.0, 0.0])
    assert cp["plan_high"].tolist() == pytest.approx([150.0, 200.0, 50.0, 0.0])
    # default cap: a grows at most 25% of its base of 100 -> 125
    assert st.client_budget(_budget_plan(), base=_BASE)["plan_revenue"].iloc[0] == pytest.approx(125.0)
    assert cp["target_revenue"].tolist() == pytest.approx([108.0, 216.0, 54.0, 43.2])
    assert cp["owner_id"].tolist() == ["p1", "p2", "p1", "unassigned"]
    with pytest.raises(ValueError, match="unknown budget assumption"):
        st.client_budget(_budget_plan(), {"inflation": 0.02}, base=_BASE)
    with pytest.raises(ValueError, match="unknown budget assumption"):  # renamed: a year, not a conversation
        st.client_budget(_budget_plan(), {"headroom_capture": 0.1}, base=_BASE)


def test_budget_table_reconciles_and_bridge_adds_up():
    cp = st.client_budget(_budget_plan(), base=_BASE, client_ranges=_RANGES)
    ranges = {"group": pd.DataFrame({"key": ["G1", "G2"], "low": [180.0, 15.0], "high": [320.0, 45.0]}),
              "owner": pd.DataFrame({"key": ["p1", "p2", "unassigned"], "low": [140.0, 60.0, 0.0],
                                     "high": [190.0, 190.0, 0.0]}),
              "total": {"low": 230.0, "high": 380.0}}
    new = {"plan_revenue": 12.0, "low": 5.0, "high": 20.0, "clients": 3.4}
    b = st.budget_table(cp, ranges=ranges, new=new)
    assert set(b["level"]) == {"client", "group", "owner", "new", "total"}
    total = b.loc[b["level"] == "total"].iloc[0]
    assert total["plan_revenue"] == pytest.approx(cp["plan_revenue"].sum() + 12.0)
    for level in ("group", "owner"):
        rows = b.loc[b["level"].isin([level, "new"])]
        for col in ("revenue_ltm", "plan_revenue", "target_revenue", "gap"):
            assert rows[col].sum() == pytest.approx(total[col]), (level, col)
    clients = b.loc[b["level"] == "client"]
    for col in ("revenue_ltm", "target_revenue"):
        assert clients[col].sum() == pytest.approx(total[col])
    # ranges of sums are the simulated ones, not sums of the client bounds
    assert (total["plan_low"], total["plan_high"]) == (230.0, 380.0)
    assert b.loc[(b["level"] == "group") & (b["key"] == "G1"), "plan_low"].item() == 180.0
    assert b.loc[b["level"] == "new", ["plan_revenue", "plan_low", "plan_high", "clients"]].values.tolist() == [
        [12.0, 5.0, 20.0, 3]]
    assert total["target_revenue"] == pytest.approx(390 * 1.08)
    assert b.loc[(b["level"] == "owner") & (b["key"] == "p1"), "plan_revenue"].item() == pytest.approx(125.0 + 40.0)
    br = st.gap_bridge(cp, new_revenue=12.0)
    s = br.set_index("step")["amount"]
    moves = br.loc[(br["kind"] == "move") & (br["step"] != "Gap to top-down target"), "amount"].sum()
    assert s["Last twelve months"] + moves == pytest.approx(s["Bottom-up plan"])
    assert s["Bottom-up plan"] + s["Gap to top-down target"] == pytest.approx(s["Top-down target"])
    # attrition is each client's forecast minus last year's revenue: d (no forecast) loses all of its 40
    assert s["Expected attrition"] == pytest.approx((100 - 100) + (100 - 200) + (40 - 50) + (0 - 40))
    assert s["New clients"] == 12.0


def test_group_summary_and_scorecard():
    plan = pd.DataFrame({"client_id": list("abcd"), "group": ["Strategic partners"] * 2 + ["Transactional"] * 2,
                         "intent": ["grow", "maintain", "retire", "retire"],
                         "revenue_ltm": [60.0, 20.0, 15.0, 5.0], "revenue_prior_ltm": [50.0, 20.0, 10.0, 10.0],
                         "nps_last": [10.0, 9.0, 3.0, np.nan], "wallet": [120.0, np.nan, 30.0, 50.0],
                         "p_alive": [1.0, 0.8, 0.4, 0.2]})
    gs = st.group_summary(plan)
    assert gs["group"].tolist() == ["Strategic partners", "Transactional"]
    assert gs["revenue_share"].tolist() == pytest.approx([0.8, 0.2])
    assert gs["client_share"].sum() == pytest.approx(1.0)
    assert gs.loc[1, "intents"] == "retire 2"
    sc = st.scorecard(plan).set_index("group")
    assert sc.loc["Strategic partners", "nps"] == pytest.approx(100.0)
    assert sc.loc["Transactional", "nps"] == pytest.approx(-100.0)
    assert sc.loc["All clients", "growth"] == pytest.approx(100 / 90 - 1)
    assert sc.loc["All clients", "share_of_wallet"] == pytest.approx((60 + 15 + 5) / 200)
    assert sc.loc["Transactional", "retention"] == pytest.approx(0.3)


def test_what_if_widget_reacts_to_controls():
    pytest.importorskip("ipywidgets")
    rng = np.random.default_rng(1)
    n = 50
    prof = pd.DataFrame({"client_id": [f"c{i:02d}" for i in range(n)], "clv": rng.gamma(2, 100, n),
                         "revenue_ltm": rng.gamma(2, 50, n), "p_alive": rng.random(n),
                         "nps_last": rng.integers(0, 11, n).astype(float), "headroom": rng.gamma(1, 500, n),
                         "tier": "Gold"})
    base = pd.DataFrame({"client_id": prof["client_id"], "base": prof["revenue_ltm"] * 0.8})
    box = st.what_if_widget(prof, base=base, target_growth=0.05)
    sliders = {s.description: s for s in box.children[0].children}
    html = box.children[1]
    assert sliders["target_growth"].value == pytest.approx(0.05)
    expected = st.budget_table(st.client_budget(st.build_plan(prof), {"target_growth": 0.05}, base=base))
    tgt = expected.loc[expected["level"] == "total", "target_revenue"].item()
    assert f"{tgt:,.0f}" in html.value
    before = html.value
    sliders["business_threshold"].value = 0.0  # everyone is now high value to the business
    assert html.value != before
    assert "Untapped advocates" not in html.value and "Transactional" not in html.value
    sliders["target_growth"].value = 0.2
    assert f"{prof['revenue_ltm'].sum() * 1.2:,.0f}" in html.value
    with pytest.raises(ValueError, match="unknown parameter"):
        st.what_if_widget(prof, base=base, colour="red")
    with pytest.raises(ValueError, match="base="):
        st.what_if_widget(prof)


def test_margin_and_breadth_from_tables():
    rev = pd.DataFrame({"date": pd.to_datetime(["2026-01-05", "2026-02-05", "2025-01-01", "2026-03-01"]),
                        "client_id": ["a", "a", "a", "b"], "amount": [100.0, 50.0, 999.0, -20.0],
                        "product_id": ["p1", "p2", "p1", "p1"]})
    prod = pd.DataFrame({"product_id": ["p1", "p2"], "category": ["FX", "FX"], "margin_rate": [0.5, 0.2]})
    m = st.client_margin(rev, prod, AS_OF)
    assert m.set_index("client_id")["margin"].to_dict() == pytest.approx({"a": 60.0, "b": -10.0})
    br = st.product_breadth(rev, prod, AS_OF)
    assert br.set_index("client_id")["breadth"].to_dict() == {"a": 1}


def test_an_ingredient_without_spread_is_left_out_of_the_split():
    """Online Retail: breadth of categories was the only client-side ingredient and nearly every client
    held one category; the tied mid-rank sat just under the 0.50 threshold, so 87% of revenue was
    called "Value at risk". An ingredient whose interquartile range is zero (the middle half of the
    clients share one value) is left out, and says so."""
    n = 200
    profile = pd.DataFrame({"client_id": [f"c{i:03d}" for i in range(n)], "clv": np.linspace(1.0, 1000.0, n)})
    breadth = pd.DataFrame({"client_id": profile["client_id"], "breadth": [1] * 196 + [2] * 4})  # 98% tie
    scores = st.value_scores(profile, breadth=breadth)
    assert "breadth" not in scores.attrs["ingredients"]["client"] and "vc_breadth" not in scores.columns
    left = scores.attrs["left_out"]["client"]["breadth"]
    assert left["iqr"] == 0 and left["tie_share"] == pytest.approx(0.98) and left["median"] == 1.0
    assert left["clients"] == n
    assert (scores["value_to_client"] == 0.5).all()  # nothing with spread measures it: every client in the middle
    plan = st.build_plan(profile, breadth=breadth)
    # split on value to the business only, and named for it
    assert set(plan["group"]) == {"High value to us", "Low value to us"}
    # Bank Marketing's "response to events": 0 for 89% of clients, -0.33 for the rest: no spread either
    resp = pd.DataFrame({"client_id": profile["client_id"], "topic": "Deposits",
                         "responsiveness": [0.0] * 178 + [-1 / 3] * 22})
    assert "responsiveness" in st.value_scores(profile, responsiveness=resp).attrs["left_out"]["client"]
    # with spread (a middle half that differs) the ingredient is used; a top-heavy score like NPS too
    varied = breadth.assign(breadth=[1] * 100 + [2] * 60 + [3] * 40)
    assert "breadth" in st.value_scores(profile, breadth=varied).attrs["ingredients"]["client"]
    nps = profile.assign(nps_last=[10.0] * 112 + [8.0] * 40 + [2.0] * 48)  # 56% promoters
    assert "nps" in st.value_scores(nps).attrs["ingredients"]["client"]
    assert st.ingredient_spread(pd.Series([np.nan, np.nan]))["iqr"] == 0.0


def test_groups_are_named_for_the_one_side_the_data_measure():
    """A purchase log (CDNOW, Online Retail) measures nothing of what clients get from us: the groups
    used to be "Strategic partners" and "Untapped advocates" all the same, and every low-value client
    was to be grown or kept, even one long gone."""
    n = 100
    profile = pd.DataFrame({"client_id": [f"c{i:03d}" for i in range(n)], "clv": np.linspace(1.0, 1000.0, n),
                            "revenue_ltm": np.linspace(1.0, 500.0, n),
                            "p_alive": np.tile([0.9, 0.1], n // 2)})
    plan = st.build_plan(profile)
    assert plan.attrs["ingredients"]["client"] == []
    high = plan["value_to_business"] >= 0.5
    assert (plan.loc[high, "group"] == "High value to us").all()
    assert (plan.loc[~high, "group"] == "Low value to us").all()
    low = plan[~high]
    # low value to us: kept while it buys, let go once it has stopped; never "grow" on no evidence
    assert (low.loc[low["p_alive"] >= 0.5, "intent"] == "maintain").all()
    assert (low.loc[low["p_alive"] < 0.5, "intent"] == "retire").all()
    assert set(plan.loc[high, "intent"]) <= {"grow", "maintain"}
    groups = st.group_summary(plan)
    assert groups["group"].tolist() == ["High value to us", "Low value to us"]
    assert groups["description"].str.contains("nothing in the data says what they get from us").all()
    # the figure shows the measured side (a scatter would be one vertical line)
    fig = st.plot_value_map(plan)
    assert "nothing in the data measures value to the client" in fig.axes[0].get_title()
    matplotlib.pyplot.close(fig)
    # the other side alone, and neither
    s = pd.DataFrame({"client_id": ["a", "b"], "value_to_business": [0.5, 0.5], "value_to_client": [0.9, 0.1]})
    assert st.assign_groups(s, measured={"business": False, "client": True})["group"].tolist() == [
        "High value to them", "Low value to them"]
    assert st.assign_groups(s, measured={"business": False, "client": False})["group"].tolist() == [
        st.UNMEASURED_GROUP] * 2
    unmeasured = pd.DataFrame({"client_id": ["a", "b"], "group": [st.UNMEASURED_GROUP] * 2, "p_alive": [0.9, 0.1]})
    assert st.assign_intents(unmeasured)["intent"].tolist() == ["maintain", "maintain"]  # no evidence, no action
    # both measured: the 2x2 as before
    assert st.assign_groups(s.assign(value_to_business=[0.9, 0.1]))["group"].tolist() == [
        "Strategic partners", "Transactional"]
    for g in [*st.ONE_WAY_NAMES.values(), st.UNMEASURED_GROUP]:
        assert g in st.DEFAULT_POLICY and g in st.GROUP_DESCRIPTIONS


def test_scorecard_plan_growth_sets_the_plan_against_last_year_on_the_same_footing():
    # ten months of data: the twelve-month plan is set against the annualised revenue, not the ten months
    pl = pd.DataFrame({"client_id": ["a", "b"], "group": ["G", "G"], "revenue_ltm": [100.0, 100.0]})
    cp = pd.DataFrame({"client_id": ["a", "b"], "plan_revenue": [120.0, 120.0],
                       "revenue_last_year": [120.0, 120.0]})
    card = st.scorecard(pl, cp)
    assert abs(float(card.loc[card["group"] == "All clients", "plan_growth"].iloc[0])) < 1e-12
    old = st.scorecard(pl, cp.drop(columns="revenue_last_year"))  # without it: against the revenue itself
    assert float(old.loc[0, "plan_growth"]) == pytest.approx(0.2)


def test_bridge_names_a_forecast_rise_of_todays_clients_as_growth_not_attrition():
    up = pd.DataFrame({"step": ["Last twelve months", "Expected attrition", "Bottom-up plan"],
                       "amount": [100.0, 5.0, 105.0], "kind": ["total", "move", "total"]})
    labels = [t.get_text().replace("\n", " ") for t in st.plot_bridge(up).axes[0].get_xticklabels()]
    assert "Today's clients: expected growth" in labels and "Expected attrition" not in labels
    down = up.assign(amount=[100.0, -5.0, 95.0])
    labels = [t.get_text().replace("\n", " ") for t in st.plot_bridge(down).axes[0].get_xticklabels()]
    assert "Expected attrition" in labels
