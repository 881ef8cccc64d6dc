"""Tests of clientstrategy.outcomes: tiny hand-built tables with hand-computed expectations."""
from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from sklearn.metrics import adjusted_rand_score

from clientstrategy import outcomes as oc

AS_OF = pd.Timestamp("2026-09-30")


def _rev(rows, columns=("date", "client_id", "amount")):
    frame = pd.DataFrame(rows, columns=list(columns))
    frame["date"] = pd.to_datetime(frame["date"])
    frame["amount"] = frame["amount"].astype(float)
    return frame


# ------------------------------------------------------------------ client_revenue and windows
def test_ltm_window_edges_inclusive_as_of_exclusive_start():
    # amounts are powers of two so every sum says which rows it took
    rev = _rev([
        ("2024-09-30", "a", 1),   # start of prior window: excluded from prior, in total
        ("2024-10-01", "a", 2),   # prior
        ("2025-09-30", "a", 4),   # LTM start is exclusive -> prior
        ("2025-10-01", "a", 8),   # LTM
        ("2026-09-30", "a", 16),  # as_of inclusive -> LTM
        ("2026-10-01", "a", 32),  # after as_of: ignored everywhere
    ])
    out = oc.client_revenue(rev, AS_OF).set_index("client_id").loc["a"]
    assert out["revenue_ltm"] == 24.0
    assert out["revenue_prior_ltm"] == 6.0
    assert out["growth"] == pytest.approx(3.0)
    assert out["revenue_total"] == 31.0
    assert out["first_date"] == pd.Timestamp("2024-09-30")
    assert out["last_date"] == pd.Timestamp("2026-09-30")
    assert out["n_lines"] == 5
    assert oc.ltm_bounds(AS_OF) == (pd.Timestamp("2024-09-30"), pd.Timestamp("2025-09-30"), AS_OF)


def test_growth_nan_rule_and_clients_without_revenue():
    rev = _rev([
        ("2026-01-01", "new", 10),                              # prior 0 -> NaN
        ("2025-01-01", "credit", -5), ("2026-01-01", "credit", 10),  # prior < 0 -> NaN
        ("2025-01-01", "down", 10), ("2026-01-01", "down", 4),  # 4/10 - 1
    ], columns=("date", "client_id", "amount"))
    rev["product_id"] = ["p1", "p1", "p2", "p1", "p1"]
    clients = pd.DataFrame({"client_id": ["down", "idle", "new", "credit"]})
    out = oc.client_revenue(rev, AS_OF, clients).set_index("client_id")
    assert list(out.index) == ["credit", "down", "idle", "new"]
    assert np.isnan(out.loc["new", "growth"])
    assert np.isnan(out.loc["credit", "growth"])
    assert out.loc["down", "growth"] == pytest.approx(-0.6)
    assert out.loc["credit", "n_products"] == 2
    idle = out.loc["idle"]
    assert (idle["revenue_ltm"], idle["revenue_prior_ltm"], idle["n_lines"], idle["n_products"]) == (0, 0, 0, 0)
    assert np.isnan(idle["growth"]) and pd.isna(idle["last_date"])


def test_missing_amount_names_the_column():
    rev = _rev([("2026-01-01", "a", 1.0)]).drop(columns="amount")
    with pytest.raises(ValueError, match="'amount'"):
        oc.client_revenue(rev, AS_OF)
    with pytest.raises(ValueError, match="'amount'"):
        oc.revenue_by(rev, AS_OF, by="client_id")


def test_untyped_date_is_rejected_naming_the_column():
    rev = _rev([("2026-01-01", "a", 1.0)])
    rev["date"] = rev["date"].dt.strftime("%Y-%m-%d")
    with pytest.raises(ValueError, match="'date'"):
        oc.client_revenue(rev, AS_OF)


# ------------------------------------------------------------------ revenue_by
@pytest.fixture
def small_book():
    rev = _rev([
        ("2026-02-10", "a", 10), ("2026-05-01", "a", 20), ("2026-08-31", "b", 5),
        ("2026-09-01", "c", 7), ("2026-10-02", "a", 1000),  # last row after as_of
    ])
    rev["product_id"] = ["eq1", "fi1", "eq2", "zz", "eq1"]
    products = pd.DataFrame({"product_id": ["eq1", "eq2", "fi1", "zz"],
                             "category": ["Equities", "Equities", "Fixed Income", None]})
    clients = pd.DataFrame({"client_id": ["a", "b", "c"], "region": ["EU", "EU", None],
                            "owner_id": ["p1", "p2", "p1"], "tag_risk": ["high", "low", None]})
    return rev, products, clients


def test_revenue_by_category_and_quarter(small_book):
    rev, products, clients = small_book
    out = oc.revenue_by(rev, AS_OF, by="category", freq="Q", products=products)
    got = {(r.category, r.period): (r.revenue, r.clients) for r in out.itertuples()}
    assert got == {("(missing)", "2026Q3"): (7.0, 1), ("Equities", "2026Q1"): (10.0, 1),
                   ("Equities", "2026Q3"): (5.0, 1), ("Fixed Income", "2026Q2"): (20.0, 1)}
    by_region = oc.revenue_by(rev, AS_OF, by=["region"], clients=clients).set_index("region")
    assert by_region["revenue"].to_dict() == {"(missing)": 7.0, "EU": 35.0}
    yearly = oc.revenue_by(rev, AS_OF, by="owner_id", freq="Y", clients=clients)
    assert yearly[["owner_id", "period", "revenue"]].values.tolist() == [["p1", "2026", 37.0],
                                                                          ["p2", "2026", 5.0]]
    monthly = oc.revenue_by(rev, AS_OF, by="client_id", freq="M")
    assert monthly["period"].tolist() == ["2026-02", "2026-05", "2026-08", "2026-09"]


def test_revenue_by_unknown_column_raises_naming_it(small_book):
    rev, products, clients = small_book
    with pytest.raises(ValueError, match="'colour'"):
        oc.revenue_by(rev, AS_OF, by=["client_id", "colour"], products=products, clients=clients)
    with pytest.raises(ValueError, match="'category'.*products"):
        oc.revenue_by(rev, AS_OF, by="category")
    with pytest.raises(ValueError, match="'tag_risk'.*clients"):
        oc.revenue_by(rev, AS_OF, by="tag_risk")
    with pytest.raises(ValueError, match="freq"):
        oc.revenue_by(rev, AS_OF, by="client_id", freq="W")


# ------------------------------------------------------------------ concentration
def test_gini_hhi_and_shares_hand_computed():
    equal = oc.concentration([1, 1, 1, 1])
    assert equal["gini"] == 0.0 and equal["hhi"] == pytest.approx(0.25)
    assert equal["top_20pct_share"] == pytest.approx(0.2)
    assert equal["clients_for_80pct_share"] == 4
    # one client holds everything; with zeros in the population Gini = (n-1)/n
    assert oc.concentration([0, 0, 0, 1], positive_only=False)["gini"] == pytest.approx(0.75)
    assert oc.concentration([0, 0, 0, 1], positive_only=False)["hhi"] == pytest.approx(1.0)
    only = oc.concentration([0, -3, np.nan, 1])
    # one paying client: the curve is a straight line, so 10% of clients bring 10%
    assert (only["n"], only["gini"], only["top_decile_share"]) == (1, 0.0, pytest.approx(0.1))
    # [1,2,3,4]: sum|xi-xj| over ordered pairs = 20, 20 / (2 * 16 * 2.5) = 0.25
    c = oc.concentration([4, 1, 3, 2])
    assert c["gini"] == pytest.approx(0.25)
    assert c["hhi"] == pytest.approx(0.30)
    assert c["top_decile_share"] == pytest.approx(0.16)   # 0.4 of the largest client's 40%
    assert c["top_20pct_share"] == pytest.approx(0.32)
    assert c["clients_for_80pct_share"] == 3               # 40%, 70%, 90%
    ten = oc.concentration(np.arange(1, 11))
    assert ten["top_decile_share"] == pytest.approx(10 / 55)
    assert ten["top_20pct_share"] == pytest.approx(19 / 55)
    assert ten["clients_for_80pct_share"] == 6              # 10+9+8+7+6+5 = 45 >= 44
    assert np.isnan(oc.concentration([0, -1])["gini"])


def test_gini_matches_mean_absolute_difference_definition():
    x = np.random.default_rng(7).lognormal(8, 1.5, size=300)
    mad = np.abs(x[:, None] - x[None, :]).sum() / (2 * len(x) ** 2 * x.mean())
    assert oc.concentration(x)["gini"] == pytest.approx(mad, rel=1e-10)


def test_pareto_curve_hand_computed():
    curve = oc.pareto_curve([1.0, 3.0, 0.0, -2.0])
    assert curve.values.tolist() == [[0.0, 0.0], [0.5, 0.75], [1.0, 1.0]]


# ------------------------------------------------------------------ tiers
def test_tiers_on_twenty_clients_exact_counts():
    ids = [f"c{i:02d}" for i in range(1, 21)]
    revenue = pd.Series(np.arange(20, 0, -1, dtype=float), index=ids)   # c01 largest
    tiers = oc.assign_tiers(revenue)
    assert tiers.value_counts().to_dict() == {"Platinum": 1, "Gold": 3, "Silver": 6, "Bronze": 10}
    assert tiers["c01"] == "Platinum" and tiers[["c02", "c03", "c04"]].eq("Gold").all()
    assert tiers["c10"] == "Silver" and tiers["c11"] == "Bronze"
    # row order does not matter, ties are broken by client_id
    shuffled = revenue.sample(frac=1.0, random_state=3)
    assert oc.assign_tiers(shuffled).sort_index().equals(tiers.sort_index())
    ties = oc.assign_tiers(pd.Series(5.0, index=ids[::-1]))
    assert ties["c01"] == "Platinum" and ties[["c02", "c03", "c04"]].eq("Gold").all()
    # 16 paying + 4 zero/negative: 16*(.05,.20,.50) = .8,3.2,8 -> 1, 3, 8 -> 1/2/5/8 + 4 Bronze
    values = revenue.copy()
    values.iloc[-4:] = [0.0, -1.0, 0.0, np.nan]
    with_zero = oc.assign_tiers(values)
    assert with_zero.value_counts().to_dict() == {"Platinum": 1, "Gold": 2, "Silver": 5, "Bronze": 12}
    assert with_zero[ids[-4:]].eq("Bronze").all()
    with pytest.raises(ValueError, match="shares"):
        oc.assign_tiers(revenue, shares=(0.5, 0.5, 0.5, 0.5))


def test_tier_summary_hand_computed():
    profile = pd.DataFrame({"tier": ["Platinum", "Gold", "Gold", "Bronze"],
                            "revenue_ltm": [60.0, 15.0, 20.0, 5.0]})
    s = oc.tier_summary(profile)
    assert s["tier"].tolist() == ["Platinum", "Gold", "Silver", "Bronze"]
    assert s["clients"].tolist() == [1, 2, 0, 1]
    assert s["revenue"].tolist() == [60.0, 35.0, 0.0, 5.0]
    assert s["revenue_share"].tolist() == pytest.approx([0.6, 0.35, 0.0, 0.05])
    assert s["min_revenue"].iloc[1] == 15.0 and np.isnan(s["min_revenue"].iloc[2])


def test_segment_migration_counts_with_new_and_lost():
    prior, ltm = "2025-03-01", "2026-03-01"
    rev = _rev([
        (prior, "A", 100), (prior, "B", 80), (prior, "C", 60), (prior, "D", 40),
        (ltm, "A", 50), (ltm, "B", 90), (ltm, "C", 70), (ltm, "E", 200),
        (ltm, "D", -5),                              # a credit only: D is Lost
        ("2023-01-01", "F", 999),                    # active in neither window: left out
        ("2026-10-15", "G", 500),                    # after as_of: ignored
        (ltm, "H", 30), (ltm, "H", -30),             # nets to zero, no prior: left out
    ])
    quarters = (0.25, 0.25, 0.25, 0.25)
    # prior ranks A>B>C>D -> P,G,S,B; LTM ranks E>B>C>A -> P,G,S,B
    m = oc.segment_migration(rev, AS_OF, shares=quarters)
    assert m.values.tolist() == [
        ["Platinum", "Bronze", 1, 50.0],
        ["Gold", "Gold", 1, 90.0],
        ["Silver", "Silver", 1, 70.0],
        ["Bronze", "Lost", 1, -5.0],
        ["New", "Platinum", 1, 200.0],
    ]
    # default shares on the same four-per-window book: cut-offs .2, .8, 2 -> 0 P, 1 G, 1 S, 2 B
    d = oc.tier_transitions(rev, AS_OF).set_index("client_id")
    assert d["from_tier"].to_dict() == {"A": "Gold", "B": "Silver", "C": "Bronze", "D": "Bronze",
                                        "E": "New"}
    assert d["to_tier"].to_dict() == {"A": "Bronze", "B": "Silver", "C": "Bronze", "D": "Lost",
                                      "E": "Gold"}
    counts = oc.segment_migration(rev, AS_OF).set_index(["from_tier", "to_tier"])["clients"]
    assert counts.to_dict() == {("Gold", "Bronze"): 1, ("Silver", "Silver"): 1,
                                ("Bronze", "Bronze"): 1, ("Bronze", "Lost"): 1, ("New", "Gold"): 1}


def test_growth_movers_rank_by_money():
    cr = pd.DataFrame({"client_id": ["a", "b", "c", "d", "e"],
                       "revenue_prior_ltm": [10.0, 1000.0, 0.0, 500.0, 50.0],
                       "revenue_ltm": [1000.0, 1500.0, 30.0, 100.0, 50.0]})
    growers, decliners = oc.growth_movers(cr, n=2)
    assert growers["client_id"].tolist() == ["a", "b"]        # +990, +500 (c +30 cut by n)
    assert growers["change"].tolist() == [990.0, 500.0]
    assert growers["growth"].tolist() == pytest.approx([99.0, 0.5])
    assert decliners["client_id"].tolist() == ["d"]           # e unchanged is neither
    assert decliners["change"].tolist() == [-400.0]


# ------------------------------------------------------------------ cross-holding and breadth
def test_cross_holding_and_breadth_hand_computed():
    products = pd.DataFrame({"product_id": ["e1", "e2", "f1", "x1"],
                             "category": ["Eq", "Eq", "FI", "FX"]})
    d = "2026-06-01"
    rev = _rev([(d, "a", 5), (d, "a", 5), (d, "a", 3), (d, "b", 4), (d, "c", 2), (d, "c", 1),
                (d, "d", 6), (d, "d", -6), ("2024-01-01", "d", 9)])
    rev["product_id"] = ["e1", "e2", "f1", "e1", "f1", "x1", "e1", "e1", "x1"]
    m = oc.cross_holding(rev, AS_OF, products)           # LTM: a {Eq,FI}, b {Eq}, c {FI,FX}
    assert list(m.index) == ["Eq", "FI", "FX"] and list(m.columns) == ["Eq", "FI", "FX"]
    expected = [[1.0, 0.5, 0.0], [0.5, 1.0, 0.5], [0.0, 1.0, 1.0]]
    assert m.values.tolist() == expected
    ever = oc.cross_holding(rev, AS_OF, products, window="all")  # d ever held FX
    assert ever.loc["FX", "FI"] == 0.5
    by_product = oc.cross_holding(rev, AS_OF, level="product")
    assert by_product.loc["e1", "e2"] == 0.5 and by_product.loc["e2", "e1"] == 1.0
    breadth = oc.product_breadth(rev, AS_OF)
    assert breadth.to_dict() == {"a": 3, "b": 1, "c": 2, "d": 0}
    assert oc.product_breadth(rev, AS_OF, window="all")["d"] == 1
    with pytest.raises(ValueError, match="'category'"):
        oc.cross_holding(rev, AS_OF, products.drop(columns="category"))


# ------------------------------------------------------------------ owners and tags
def test_owner_book_and_tags_summary(small_book):
    rev, _, clients = small_book
    rev = pd.concat([rev, _rev([("2025-06-01", "a", 60), ("2025-06-01", "b", 5)])],
                    ignore_index=True)
    book = oc.owner_book(rev, clients, AS_OF).set_index("owner_id")
    # LTM a 30, b 5, c 7; prior a 60, b 5. p1 = a + c: 37 vs 60 -> 37/60 - 1
    assert book["clients"].to_dict() == {"p1": 2, "p2": 1}
    assert book["revenue_ltm"].to_dict() == {"p1": 37.0, "p2": 5.0}
    assert book.loc["p1", "growth"] == pytest.approx(37 / 60 - 1)
    assert book.loc["p2", "growth"] == pytest.approx(0.0)
    # 3 paying clients: cut-offs .15+.5, .6+.5, 1.5+.5 -> 0 P, 1 G (a), 1 S (c), 1 B (b)
    assert book["platinum_gold"].to_dict() == {"p1": 1, "p2": 0}
    cr = oc.client_revenue(rev, AS_OF, clients)
    tags = oc.tags_summary(clients, cr)
    assert tags[["tag", "value", "clients", "revenue_ltm"]].values.tolist() == [
        ["tag_risk", "high", 1, 30.0], ["tag_risk", "(missing)", 1, 7.0], ["tag_risk", "low", 1, 5.0]]
    assert tags["revenue_share"].tolist() == pytest.approx([30 / 42, 7 / 42, 5 / 42])
    assert tags["growth"].iloc[0] == pytest.approx(-0.5) and np.isnan(tags["growth"].iloc[1])
    assert oc.tags_summary(clients.drop(columns="tag_risk"), cr).empty
    with pytest.raises(ValueError, match="'owner_id'"):
        oc.owner_book(rev, clients.drop(columns="owner_id"), AS_OF)


# ------------------------------------------------------------------ segments
def test_segment_features_hand_computed():
    rev = _rev([
        ("2026-09-20", "a", 100), ("2026-09-20", "a", 50),  # one purchase day
        ("2026-03-01", "a", 250),
        ("2025-03-01", "a", 99),                              # prior LTM
        ("2025-01-10", "b", 40), ("2025-01-10", "b", -40),    # nets to zero: no purchase
        ("2025-02-01", "b", 20),                              # lapsed client
        ("2026-10-05", "c", 10),                              # after as_of only
    ])
    rev["product_id"] = ["e", "f", "e", "f", "e", "e", "f"] + ["e"]
    products = pd.DataFrame({"product_id": ["e", "f"], "category": ["Equities", "FX"]})
    f = oc.segment_features(rev, AS_OF, products).set_index("client_id")
    assert list(f.index) == ["a", "b"]
    assert f.loc["a", "recency_days"] == 10 and f.loc["b", "recency_days"] == 606
    assert f.loc["a", "frequency"] == 2 and f.loc["b", "frequency"] == 0
    assert f.loc["a", "monetary"] == 400.0
    assert f.loc["a", "trend"] == pytest.approx(np.log(401 / 100))
    assert f.loc["b", "trend"] == -oc.TREND_CLIP                    # log(1/21) = -3.04, clipped
    assert f.loc["a", "mix_Equities"] == pytest.approx(350 / 499)  # e: 100+250, f: 50+99
    assert f.loc["b", "mix_FX"] == pytest.approx(1.0)               # e nets to 0


_HEAVY = {"recency_days": (4, 2), "frequency": (50, 5), "monetary": (150_000, 0.15), "trend": (0.4, 0.1)}
_MID = {"recency_days": (60, 10), "frequency": (8, 1.5), "monetary": (9_000, 0.15), "trend": (0.0, 0.1)}
_LIGHT = {"recency_days": (200, 30), "frequency": (2, 0.3), "monetary": (700, 0.15), "trend": (-0.8, 0.1)}
_LAPSED = {"recency_days": (520, 60), "frequency": (0, 0), "monetary": (0, 0), "trend": (-2.0, 0.0)}


def _clusters(groups, seed=11, size=60):
    """Features of planted groups (normal, lognormal spend), shuffled; ``truth`` = group number."""
    rng = np.random.default_rng(seed)
    frames = []
    for g, spec in enumerate(groups):
        block = {}
        for col, (centre, spread) in spec.items():
            if col == "monetary" and centre > 0:
                block[col] = centre * rng.lognormal(0, spread, size)
            else:
                low = -2.0 if col == "trend" else 0.0
                block[col] = np.clip(rng.normal(centre, spread, size), low, None)
        block["truth"] = g
        frames.append(pd.DataFrame(block))
    f = pd.concat(frames, ignore_index=True).sample(frac=1.0, random_state=seed).reset_index(drop=True)
    f.insert(0, "client_id", [f"k{i:03d}" for i in range(len(f))])
    return f


def test_segments_recover_three_planted_clusters_and_are_deterministic():
    f = _clusters([_HEAVY, _MID, _LIGHT, _LAPSED])
    truth = f.set_index("client_id")["truth"]
    features = f.drop(columns="truth")
    res = oc.behavioural_segments(features, k_range=range(2, 7), random_state=0)
    assert res.k == 3                                  # three active clusters, lapsed set aside
    assert res.scores["k"].tolist() == [2, 3, 4, 5, 6]
    assert res.scores.set_index("k")["silhouette"].idxmax() == 3
    assert adjusted_rand_score(truth, res.labels.reindex(truth.index)) > 0.9
    named = {g: res.labels[truth[truth == g].index].mode().iloc[0] for g in range(4)}
    assert named[0].startswith("Frequent, high-spend") and named[0].endswith("growing")
    assert named[2].startswith("Rare, low-spend") and named[2].endswith("declining")
    assert named[3] == "Lapsed" and res.labels.eq("Lapsed").sum() == 60
    assert list(res.profile.index) == [named[0], named[1], named[2], "Lapsed"]
    assert res.profile["clients"].tolist() == [60, 60, 60, 60]
    assert set(res.description) == set(res.labels.unique())
    assert all(s.endswith(".") and "60 clients (25%)" in s for s in res.description.values())
    assert res.embedding.shape == (len(f), 2)
    again = oc.behavioural_segments(features.iloc[::-1], k_range=range(2, 7), random_state=0)
    assert again.k == 3 and again.labels.sort_index().equals(res.labels.sort_index())
    pd.testing.assert_frame_equal(again.scores, res.scores, rtol=1e-6)


def test_segments_without_set_aside_name_the_lapsed_centroid():
    f = _clusters([_HEAVY, _MID, _LAPSED], seed=5)
    truth = f.set_index("client_id")["truth"]
    res = oc.behavioural_segments(f.drop(columns="truth"), k_range=range(2, 6), set_aside_lapsed=False)
    assert res.k == 3
    assert adjusted_rand_score(truth, res.labels.reindex(truth.index)) > 0.9
    assert res.labels[truth[truth == 2].index].eq("Lapsed").all()


def test_segment_names_carry_the_dominant_category():
    rng = np.random.default_rng(2)
    n = 40
    eq = rng.uniform(0.85, 0.95, n)
    fx = rng.uniform(0.85, 0.95, n)
    f = pd.DataFrame({
        "client_id": [f"e{i:02d}" for i in range(n)] + [f"x{i:02d}" for i in range(n)],
        "frequency": rng.normal(20, 2, 2 * n).clip(1), "monetary": 1000 * rng.lognormal(0, 0.1, 2 * n),
        "mix_Equities": np.concatenate([eq, 1 - fx]), "mix_FX": np.concatenate([1 - eq, fx]),
    })
    res = oc.behavioural_segments(f, k_range=[2, 3])
    assert res.k == 2
    assert res.labels[[f"e{i:02d}" for i in range(n)]].str.startswith("Equities-focused, ").all()
    assert res.labels[[f"x{i:02d}" for i in range(n)]].str.startswith("FX-focused, ").all()
    assert "concentrated in FX" in res.description[res.labels["x00"]]


def test_segments_input_checks():
    f = _clusters([_HEAVY, _MID, _LIGHT], size=5).drop(columns="truth")
    with pytest.raises(ValueError, match="k_range"):
        oc.behavioural_segments(f, k_range=[1, 99])
    f.loc[0, "monetary"] = np.nan
    with pytest.raises(ValueError, match="'monetary'"):
        oc.behavioural_segments(f)


# ------------------------------------------------------------------ headlines and plots
def test_headline_sentences_follow_the_data():
    cr = pd.DataFrame({"client_id": list("abcdefghij"),
                       "revenue_ltm": [70.0, 10, 5, 5, 4, 3, 2, 1, 0, 0],
                       "revenue_prior_ltm": [50.0, 10, 5, 5, 4, 3, 2, 1, 20, 0]})
    lines = oc.headline_sentences(cr, oc.concentration(cr["revenue_ltm"]))
    # LTM 100 vs prior 100: level; 8 paying clients, top 20% = 1.6 clients = 70 + .6*10 = 76%
    assert lines[0] == "Revenue over the last twelve months is 100, level with the twelve months before."
    assert lines[1] == "The top 20% of clients bring 76% of revenue; the top 10% bring 56%."
    assert lines[2] == "2 of 8 paying clients (25%) make up 80% of revenue."
    assert "1 grew (adding 20)" in lines[3] and "0 declined" in lines[3]
    assert lines[4].startswith("0 clients bought in the last twelve months but not in the twelve months before")
    assert "1 who bought in the twelve months before bought nothing since" in lines[4]
    other = cr.assign(revenue_ltm=cr["revenue_ltm"] * 2)
    assert oc.headline_sentences(other, oc.concentration(other["revenue_ltm"]))[0].endswith(
        "up 100% on the twelve months before.")


def test_plots_return_labelled_figures(small_book):
    rev, products, clients = small_book
    cr = oc.client_revenue(rev, AS_OF, clients)
    profile = cr.assign(tier=oc.assign_tiers(cr.set_index("client_id")["revenue_ltm"]).to_numpy())
    res = oc.behavioural_segments(_clusters([_HEAVY, _MID, _LAPSED], size=15).drop(columns="truth"),
                                   k_range=[2])
    figures = [
        oc.plot_pareto(cr["revenue_ltm"]),
        oc.plot_revenue_over_time(oc.revenue_by(rev, AS_OF, "category", "Q", products=products)),
        oc.plot_tiers(oc.tier_summary(profile)),
        oc.plot_segments(res),
        oc.plot_migration(oc.segment_migration(rev, AS_OF)),
        oc.plot_cross_holding(oc.cross_holding(rev, AS_OF, products)),
    ]
    for fig in figures:
        assert isinstance(fig, Figure)
        ax = fig.axes[0]
        assert ax.get_xlabel() and ax.get_ylabel() and (ax.get_title() or fig.get_suptitle())
        fig.savefig(io.BytesIO(), format="png")


def test_inputs_are_not_mutated(small_book):
    rev, products, clients = small_book
    before = rev.copy()
    oc.client_revenue(rev, AS_OF, clients)
    oc.revenue_by(rev, AS_OF, ["category", "region"], "Q", products, clients)
    oc.segment_features(rev, AS_OF, products)
    pd.testing.assert_frame_equal(rev, before)


def test_segment_features_leave_out_trend_without_a_year_before():
    """Online Retail starts inside the last twelve months: with no prior year, every client would be
    'growing' from nothing, so the trend is left out rather than made up."""
    rev = _rev([("2026-03-01", "a", 100), ("2026-06-01", "b", 50), ("2026-07-01", "a", 20)])
    assert "trend" not in oc.segment_features(rev, AS_OF).columns
    older = pd.concat([rev, _rev([("2025-06-01", "b", 10)])], ignore_index=True)
    assert "trend" in oc.segment_features(older, AS_OF).columns


def test_one_time_buyers_are_not_named_frequent():
    """A random sample of Olist orders: nearly every client bought on one day. A centroid a hair off
    one purchase (floating point) used to rank above or below the tied majority and read 'Frequent'
    or 'Rare'; frequency now gets no word when one value fills its middle third, and spend still
    separates the segments."""
    n = 300
    f = pd.DataFrame({"client_id": [f"c{i:03d}" for i in range(n)],
                      "frequency": [1] * n,
                      "monetary": np.r_[np.full(n // 2, 40.0), np.full(n - n // 2, 400.0)]
                      * np.random.default_rng(3).lognormal(0, 0.1, n)})
    res = oc.behavioural_segments(f, k_range=[2], random_state=0)
    names = set(res.labels)
    assert not any(w in name for name in names for w in ("Frequent", "Occasional", "Rare")), names
    assert names == {"High-spend", "Low-spend"}


def test_cross_holding_plot_keeps_the_most_held_items():
    """Olist has 67 product categories: the heatmap shows the 20 held by the most clients."""
    # item p<k> is held by clients c0 .. c(39-k): p00 by 40 clients, p39 by 1
    rows = [("2026-06-01", f"c{i}", 1.0, f"p{k:02d}") for k in range(40) for i in range(40 - k)]
    rev = _rev(rows, columns=("date", "client_id", "amount", "product_id"))
    matrix = oc.cross_holding(rev, AS_OF, level="product")
    assert len(matrix) == 40 and matrix.attrs["holders"]["p00"] == 40
    ax = oc.plot_cross_holding(matrix).axes[0]
    shown = [t.get_text() for t in ax.get_yticklabels()]
    assert shown == [f"p{k:02d}" for k in range(20)] and "the 20 most held of 40" in ax.get_title()


# ------------------------------------------------------------------ real data (issue 17)
def test_clients_first_seen_after_as_of_are_not_clients_yet():
    """Online Retail: 714 customers first seen in Q4 2011 appeared in the profile of a run as of
    30 Sep 2011 as Bronze, 'Value at risk', retire. A client onboarded after as_of, or first billed
    after it without an onboarding date, is left out; one known earlier stays, revenue or not."""
    rev = _rev([("2026-03-01", "a", 10), ("2026-11-05", "late", 50), ("2026-12-01", "b", 5)])
    clients = pd.DataFrame({"client_id": ["a", "b", "late", "new", "old", "unknown"],
                            "onboarded_on": pd.to_datetime([None, "2026-01-15", None, "2026-10-20", "2025-01-01",
                                                            None])})
    cr = oc.client_revenue(rev, AS_OF, clients)
    # b: onboarded before as_of, first billed after (kept, zero); late: only billed after (gone);
    # new: onboarded after (gone); old: onboarded long ago, never billed (kept); unknown: no date (kept)
    assert cr["client_id"].tolist() == ["a", "b", "old", "unknown"]
    assert oc.first_seen(rev, clients)[["late", "new", "b"]].dt.strftime("%Y-%m-%d").tolist() == [
        "2026-11-05", "2026-10-20", "2026-01-15"]
    # the tiers, movers and migration built on it do not see them either
    assert set(oc.tier_transitions(rev, AS_OF, clients)["client_id"]) == {"a"}


def test_small_clusters_are_merged_and_net_credits_set_aside():
    """Online Retail gave a 'segment' of 5 clients with typical revenue -0 presented as a behaviour.
    Two planted groups of 60, 3 extreme outliers (a cluster the silhouette likes) and 4 clients whose
    credits exceed their purchases: two behaviours remain, the outliers join the nearest, the
    credits are set aside by rule and said to be."""
    f = _clusters([_HEAVY, _MID], size=60).drop(columns="truth")
    outliers = pd.DataFrame({"client_id": ["o1", "o2", "o3"], "recency_days": [1.0, 2.0, 1.0],
                             "frequency": [900, 950, 990], "monetary": [9e7, 8e7, 9.5e7], "trend": [2.0, 2.0, 2.0]})
    credits = pd.DataFrame({"client_id": ["c1", "c2", "c3", "c4"], "recency_days": [100.0] * 4,
                            "frequency": [1, 2, 1, 1], "monetary": [-50.0, -10.0, -0.0, -300.0], "trend": [0.0] * 4})
    res = oc.behavioural_segments(pd.concat([f, outliers, credits], ignore_index=True), k_range=range(2, 6),
                                  random_state=0)
    sizes = res.labels.value_counts()
    assert sizes[oc.NET_CREDIT] == 4 and set(res.labels[res.labels == oc.NET_CREDIT].index) == {"c1", "c2", "c3", "c4"}
    behaviours = sizes.drop(oc.NET_CREDIT)
    assert res.k == len(behaviours) == 2 and (behaviours >= oc.MIN_SEGMENT_CLIENTS).all()
    assert "not a behaviour" in res.description[oc.NET_CREDIT]
    for name in behaviours.index:  # every behaviour's typical revenue is positive
        assert res.profile.loc[name, "monetary"] > 0
    assert any("merged into the nearest segment" in n for n in res.notes)
    assert "60 clients" in " ".join(res.description.values()) or "63 clients" in " ".join(res.description.values())
