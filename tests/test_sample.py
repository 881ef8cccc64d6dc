"""Tests of the sample generator: determinism, schema, integrity, mess, and the planted effects.

Most tests use the "small" size (300 clients); the statistical checks that need more clients
use "default" (2,000 clients, ~3 s), generated once per module.
"""
import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from clientstrategy import sample as sm
from clientstrategy.schema import TABLES

AS_OF = pd.Timestamp("2026-09-30")
CAT = {p[0]: p[2] for p in sm.PRODUCTS}


@pytest.fixture(scope="module")
def small():
    return sm.generate("small", random_state=20261123)


@pytest.fixture(scope="module")
def default():
    return sm.generate("default", random_state=20261123)


def _nps(x):
    x = np.asarray(x)
    return 100.0 * ((x >= 9).mean() - (x <= 6).mean())


# ------------------------------------------------------------------ determinism, API


def test_same_seed_same_tables_other_seed_other_tables(small):
    again = sm.generate("small", random_state=20261123)
    for name in TABLES:
        assert small.tables[name].equals(again.tables[name]), name
    for name, df in small.truth.items():
        assert df.equals(again.truth[name]), name
    other = sm.generate("small", random_state=1)
    assert not other.tables["revenue"].equals(small.tables["revenue"])


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="size"):
        sm.generate("huge")
    with pytest.raises(ValueError, match="random_state"):
        sm.generate("small", random_state=-1)
    with pytest.raises(ValueError, match="fmt"):
        sm.write_sample("/tmp/never-written", size="small", fmt="xlsx")


def test_sizes(small):
    assert len(small.tables["clients"]) == 300 and len(small.tables["people"]) == 8
    assert len(small.tables["products"]) == 12
    assert set(small.tables["products"]["category"]) == set(sm.CATEGORIES)


# ------------------------------------------------------------------ schema and integrity


def _check_type(series, kind):
    if kind in ("id", "str"):
        return pd.api.types.is_string_dtype(series.dtype) and series.dtype != object
    if kind in ("date", "datetime"):
        return str(series.dtype) == "datetime64[ns]"
    if kind == "float":
        return pd.api.types.is_float_dtype(series.dtype)
    if kind == "int":
        return pd.api.types.is_integer_dtype(series.dtype)
    if kind == "bool":
        return pd.api.types.is_bool_dtype(series.dtype)
    raise AssertionError(kind)


def test_every_table_has_schema_columns_and_types(small):
    assert list(small.tables) == list(TABLES)
    for name, spec in TABLES.items():
        df = small.tables[name]
        assert len(df) > 0, name
        assert set(spec.required) <= set(df.columns), name
        for col in df.columns:
            kind = spec.type_of(col)
            assert kind is not None, f"{name}.{col} is not a schema column"
            assert _check_type(df[col], kind), f"{name}.{col}: {df[col].dtype} is not {kind}"
        if spec.key:
            assert df[spec.key].is_unique, name
    assert small.tables["surveys"]["nps"].between(0, 10).all()


def test_references_resolve(small):
    for name, spec in TABLES.items():
        df = small.tables[name]
        for col, (table, target) in spec.references.items():
            if col in df.columns:
                values = set(df[col].dropna())
                assert values <= set(small.tables[table][target]), f"{name}.{col} -> {table}.{target}"
    ids = [f"C{k:04d}" for k in range(1, 301)]
    assert list(small.tables["clients"]["client_id"]) == ids
    assert small.tables["revenue"]["transaction_id"].iloc[0] == "T000001"


def test_realistic_mess(default):
    t = default.tables
    neg = (t["revenue"]["amount"] < 0).mean()
    assert 0.01 < neg < 0.03
    for name, col in (("revenue", "date"), ("activities", "timestamp"), ("digital", "timestamp")):
        assert (t[name][col] > AS_OF).any(), name
        assert t[name][col].max() <= pd.Timestamp("2026-10-31 23:59:59")
    assert t["revenue"]["date"].min() == pd.Timestamp("2023-10-02")   # first weekday
    assert 0.01 < t["clients"]["region"].isna().mean() < 0.05
    assert 0.03 < t["activities"]["outcome"].isna().mean() < 0.07
    no_revenue = set(t["clients"]["client_id"]) - set(t["revenue"]["client_id"])
    never = set(default.truth["clients"].query("never_billed")["client_id"])
    assert 10 <= len(never) <= 20 and never <= no_revenue
    assert len(no_revenue) < 2 * len(never)     # the rest are slow buyers with a short life
    assert len(t["digital"]) < 700_000


# ------------------------------------------------------------------ effect 1: churn


def test_churned_clients_stop_buying_and_answering(small):
    tc = small.truth["clients"].set_index("client_id")
    assert 0.06 < tc["churned"].mean() < 0.2
    assert tc.loc[~tc["churned"], "churn_date"].isna().all()
    for name in ("revenue", "surveys"):
        df = small.tables[name].join(tc["churn_date"], on="client_id")
        assert not (df["date"] >= df["churn_date"]).any(), name
    # touches after churn are rare: per client-day at most a fifth of the rate before
    acts = small.tables["activities"].join(tc[["churn_date", "onboarded_on"]], on="client_id")
    acts = acts[acts["client_id"].isin(tc.index[tc["churned"]])]
    after = (acts["timestamp"] >= acts["churn_date"]).sum()
    days_after = (pd.Timestamp("2026-10-31") - tc.loc[tc["churned"], "churn_date"]).dt.days.sum()
    first = tc["onboarded_on"].clip(lower=pd.Timestamp("2023-10-01"))
    days_before = (tc.loc[tc["churned"], "churn_date"] - first[tc["churned"]]).dt.days.sum()
    assert after / days_after < 0.2 * (len(acts) - after) / days_before


# ------------------------------------------------------------------ effect 2: activities


def test_touch_counts_scale_with_size_emails_most(default):
    tc = default.truth["clients"].set_index("client_id")
    acts = default.tables["activities"]
    counts = acts["activity_type"].value_counts()
    assert counts.index[0] == "email"
    emails = acts[acts["activity_type"] == "email"].groupby("client_id").size().reindex(tc.index, fill_value=0)
    assert spearmanr(emails, tc["size"])[0] > 0.5
    rev = default.tables["revenue"]
    ltm = rev[(rev["date"] > AS_OF - pd.DateOffset(months=12)) & (rev["date"] <= AS_OF)]
    ltm = ltm.groupby("client_id")["amount"].sum().reindex(tc.index, fill_value=0)
    assert np.corrcoef(emails, ltm)[0, 1] > 0.3          # the naive correlation says emails "work"


def _within_client_effects(sample, groups):
    """Relative lift of weekly purchase days per touch in the previous 13 weeks (client fixed effects)."""
    t, tc = sample.tables, sample.truth["clients"].set_index("client_id")
    start, weeks = pd.Timestamp("2023-10-01"), 156
    idx = pd.Index(tc.index)
    rev = t["revenue"][(t["revenue"]["date"] <= AS_OF) & (t["revenue"]["amount"] > 0)]
    days = rev.drop_duplicates(["client_id", "date"])
    y = np.zeros((len(idx), weeks))
    wk = ((days["date"] - start).dt.days // 7).clip(upper=weeks - 1)
    np.add.at(y, (idx.get_indexer(days["client_id"]), wk), 1)
    acts = t["activities"].join(tc["persona"], on="client_id")
    acts = acts.join(t["people"].set_index("person_id")["style"], on="person_id")
    acts = acts[acts["timestamp"] <= AS_OF]
    xs = []
    for mask in groups(acts):
        e = np.zeros((len(idx), weeks + 14))
        a = acts[mask]
        np.add.at(e, (idx.get_indexer(a["client_id"]), (a["timestamp"] - start).dt.days // 7 + 1), 1)
        cum = np.cumsum(e, axis=1)
        xs.append(cum[:, :weeks] - np.pad(cum, ((0, 0), (13, 0)))[:, :weeks])
    first = ((rev.groupby("client_id")["date"].min().reindex(idx) - start).dt.days // 7).fillna(10**6)
    end = ((tc["churn_date"].fillna(pd.Timestamp("2100-01-01")) - start).dt.days // 7)
    w = np.arange(weeks)
    alive = (w[None, :] >= first.to_numpy()[:, None]) & (w[None, :] < end.to_numpy()[:, None])
    rate = (y * alive).sum(1) / np.maximum(alive.sum(1), 1)
    ok = rate > 0
    alive = alive[ok]

    def demean(m):
        m = np.where(alive, m[ok], np.nan)
        return (m - np.nanmean(m, axis=1, keepdims=True))[alive]

    yy = demean(y / np.where(rate > 0, rate, 1)[:, None])
    x = np.column_stack([demean(v) for v in xs])
    return np.linalg.lstsq(x, yy, rcond=None)[0]


def test_within_client_activity_effects_rank_as_planted(default):
    def groups(a):
        kinds = [("meeting", "attended"), ("call", "answered"), ("email", "opened"), ("email", "unopened")]
        return [(a["activity_type"] == k) & (a["outcome"] == o) for k, o in kinds]

    meeting, call, email_opened, email_unopened = _within_client_effects(default, groups)
    assert meeting > call > 0.02
    assert meeting > 0.08
    assert abs(email_opened) < 0.05 and abs(email_unopened) < 0.05


def test_assertive_touches_do_nothing_for_passive_and_researchers(default):
    zero = ("Passive consumer", "Self-directed researcher")

    def groups(a):
        lift = (((a["activity_type"] == "meeting") & (a["outcome"] == "attended"))
                | ((a["activity_type"] == "call") & (a["outcome"] == "answered")))
        z = a["persona"].isin(zero)
        return [lift & z & (a["style"] == "assertive"), lift & z & (a["style"] == "consultative"),
                lift & ~z]

    assertive_zero, consultative_zero, _ = _within_client_effects(default, groups)
    assert consultative_zero > assertive_zero + 0.04
    assert abs(assertive_zero) < 0.04


# ------------------------------------------------------------------ effect 3: market responders


def test_responders_buy_their_topic_after_events(small):
    t, tc = small.tables, small.truth["clients"].set_index("client_id")
    rev = t["revenue"][t["revenue"]["date"] <= AS_OF]
    rev = rev.assign(category=rev["product_id"].map(CAT))
    ev = t["market_events"].assign(category=lambda d: d["topic"].map(lambda x: CAT.get(x, x)))
    lifts, labels = [], []
    for cat, e in ev.groupby("category"):
        window = np.zeros(1200, bool)
        for d in (e["date"] - pd.Timestamp("2023-10-01")).dt.days:
            window[d + 1:d + 22] = True
        r = rev[rev["category"] == cat]
        inside = window[(r["date"] - pd.Timestamp("2023-10-01")).dt.days.to_numpy()]
        share = r["amount"].where(inside, 0).groupby(r["client_id"]).sum() / r.groupby("client_id")["amount"].sum()
        lifts.append(share / window[:1096].mean())
        labels.append(tc["responsive_topic"].reindex(share.index) == cat)
    lift, resp = pd.concat(lifts), pd.concat(labels)
    assert 25 <= resp.sum() <= 45
    assert lift[resp].median() > 1.6 * lift[~resp].median()
    assert (tc["persona"][tc["responsive_topic"].notna()] == "Event-driven trader").mean() == pytest.approx(0.5,
                                                                                                           abs=0.05)


# ------------------------------------------------------------------ effect 4, 11, 12: digital


def test_personas_drive_digital(small):
    t, tc = small.tables, small.truth["clients"].set_index("client_id")
    d = t["digital"][t["digital"]["timestamp"] <= AS_OF].join(tc["persona"], on="client_id")
    n = tc["persona"].value_counts()
    per = d.groupby(["persona", "event_type"]).size().unstack(fill_value=0).div(n, axis=0)
    assert per.loc["Self-directed researcher", "page_view"] > 5 * per.loc["Relationship-led", "page_view"]
    assert per.loc["Passive consumer", "download"] > per.loc["Passive consumer", "page_view"]
    assert per.loc["Event-driven trader", "search"] > per.loc["Relationship-led", "search"] * 5
    burst = np.zeros(1200, bool)
    for day in (t["market_events"]["date"] - pd.Timestamp("2023-10-01")).dt.days:
        burst[day + 1:day + 15] = True
    inb = burst[(d["timestamp"].dt.normalize() - pd.Timestamp("2023-10-01")).dt.days.to_numpy()]
    share = pd.Series(inb, index=d.index).groupby(d["persona"]).mean()
    assert share["Event-driven trader"] > share["Self-directed researcher"] + 0.15


def test_planted_page_pairs_have_high_lift(small):
    d = small.tables["digital"]
    views = d[d["event_type"] == "page_view"].drop_duplicates(["session_id", "page"])
    n_sessions = d["session_id"].nunique()
    by_session = views.groupby("page")["session_id"].apply(set)
    for a, b in small.truth["page_pairs"][["page_a", "page_b"]].itertuples(index=False):
        both = len(by_session[a] & by_session[b])
        lift = both * n_sessions / (len(by_session[a]) * len(by_session[b]))
        assert lift > 3, (a, b, lift)


def test_searches_are_planted_question_variants(small):
    d = small.tables["digital"]
    q = small.truth["questions"]
    searches = d.loc[d["event_type"] == "search", "search_query"]
    assert searches.notna().all()
    assert set(searches) <= set(q["variant"])
    assert q["question"].nunique() == 15
    used = q[q["variant"].isin(set(searches))].groupby("question").size()
    assert (used >= 3).all() and len(used) == 15


# ------------------------------------------------------------------ surveys (effects 6-9)


def test_response_rates_by_tier_and_low_wave(default):
    t, tc = default.tables, default.truth["clients"].set_index("client_id")
    inv = t["survey_invites"].join(tc["tier"], on="client_id")
    res = t["surveys"].join(tc["tier"], on="client_id")
    rate = res.groupby("tier").size() / inv.groupby("tier").size()
    assert rate["Platinum"] > rate["Gold"] > rate["Silver"] > rate["Bronze"]
    assert rate["Platinum"] > 3 * rate["Bronze"]
    waves = default.truth["survey_waves"].set_index("wave")
    assert list(waves.index) == list(sm.WAVES) and len(waves) == 12
    assert waves.loc["2025Q2", "response_rate"] < 0.08
    assert (waves.drop("2025Q2")["response_rate"] > 0.15).all()
    assert (waves["invited"] == t["survey_invites"].groupby("wave").size().reindex(waves.index)).all()
    assert (waves["responded"] == t["surveys"].groupby("wave").size().reindex(waves.index)).all()
    # about a quarter of active clients invited per wave
    assert 0.18 < waves["invited"].mean() / len(tc) < 0.27


def test_raw_nps_above_tier_weighted_and_detractors_churn_more(default):
    t, tc = default.tables, default.truth["clients"].set_index("client_id")
    res = t["surveys"].join(tc[["tier", "churned"]], on="client_id")
    raw = _nps(res["nps"])
    share = tc["tier"].value_counts(normalize=True)
    weighted = sum(share[k] * _nps(g["nps"]) for k, g in res.groupby("tier"))
    assert raw > weighted + 5
    last = res.sort_values("date").groupby("client_id").agg(nps=("nps", "last"), churned=("churned", "first"))
    det = last.loc[last["nps"] <= 6, "churned"].mean()
    pro = last.loc[last["nps"] >= 9, "churned"].mean()
    assert det > 2 * pro


def test_ratings_drive_nps_service_first(default):
    s = default.tables["surveys"]
    x = np.column_stack([s["rating_service"], s["rating_research"], s["rating_platform"], np.ones(len(s))])
    b = np.linalg.lstsq(x, s["nps"].to_numpy(float), rcond=None)[0]
    assert b[0] > b[1] > 0 and b[0] > b[2] > 0
    assert b[0] == pytest.approx(0.6, abs=0.15)
    w = default.truth["drivers"].set_index("rating")["weight"]
    assert w.sum() == pytest.approx(1.0)


def test_comments_follow_planted_themes(small):
    s = small.tables["surveys"]
    assert 0.45 < s["comment"].notna().mean() < 0.75
    th = small.truth["themes"]
    words = {side: set(" ".join(g["keywords"]).split()) for side, g in th.groupby("side")}

    def side_hits(text, side):
        return len(set(text.lower().replace(",", " ").replace(".", " ").split()) & words[side])

    det = s[(s["nps"] <= 6) & s["comment"].notna()]["comment"]
    pro = s[(s["nps"] >= 9) & s["comment"].notna()]["comment"]
    assert all(side_hits(c, "detractor") > side_hits(c, "promoter") for c in det)
    assert all(side_hits(c, "promoter") > side_hits(c, "detractor") for c in pro)


def test_owner_bias(default):
    t, tc = default.tables, default.truth["clients"].set_index("client_id")
    biased = default.truth["owner_bias"]["person_id"].iloc[0]
    res = t["surveys"].join(tc["owner_id"], on="client_id")
    mine = res["owner_id"] == biased
    assert mine.sum() >= 10
    assert res.loc[mine, "nps"].mean() > res.loc[~mine, "nps"].mean() + 0.8


# ------------------------------------------------------------------ effect 10: share of wallet


def test_third_party_wallet_and_hidden_giants(default):
    t, tc = default.tables, default.truth["clients"].set_index("client_id")
    tp = t["third_party"]
    assert sorted(tp["as_of"].dt.strftime("%Y-%m-%d").unique()) == ["2024-06-30", "2025-06-30", "2026-06-30"]
    assert 0.78 < tp["client_id"].nunique() / len(tc) < 0.9
    snap = tp[tp["as_of"] == "2026-06-30"].set_index("client_id")
    rev = t["revenue"]
    year = rev[(rev["date"] > "2025-06-30") & (rev["date"] <= "2026-06-30")].groupby("client_id")["amount"].sum()
    alive = tc.loc[snap.index, "churn_date"].isna() & ~tc.loc[snap.index, "never_billed"]
    sow = (year.reindex(snap.index, fill_value=0) / snap["wallet"])[alive]
    giant = tc.loc[sow.index, "hidden_giant"]
    assert 0.06 < tc["hidden_giant"].mean() < 0.14
    assert sow[giant].median() < 0.1
    assert sow[~giant].median() > 0.25
    assert spearmanr(sow, tc.loc[sow.index, "sow_true"])[0] > 0.6


# ------------------------------------------------------------------ truth files, writing, CLI


def test_truth_files_have_the_readme_columns(small):
    tr = small.truth
    need = {
        "clients": ["client_id", "size", "churned", "churn_date", "persona", "responsive_topic", "satisfaction",
                    "sow_true", "hidden_giant"],
        "effects": ["activity_type", "outcome", "beta"], "fit": ["style", "persona", "multiplier"],
        "survey_waves": ["wave", "invited", "responded", "nps_population"], "drivers": ["rating", "weight"],
        "themes": ["theme", "keywords", "side"], "owner_bias": ["person_id", "nps_bias"],
        "page_pairs": ["page_a", "page_b"], "questions": ["question", "variant"],
    }
    for name, cols in need.items():
        assert set(cols) <= set(tr[name].columns), name
    beta = tr["effects"].set_index(["activity_type", "outcome"])["beta"]
    assert beta[("meeting", "attended")] == 0.30 and beta[("event", "attended")] == 0.15
    assert beta[("call", "answered")] == 0.10 and (beta.drop([("meeting", "attended"), ("event", "attended"),
                                                             ("call", "answered")]) == 0).all()
    assert tr["clients"]["persona"].value_counts(normalize=True)["Self-directed researcher"] == pytest.approx(0.3)
    assert list(tr["clients"]["client_id"]) == list(small.tables["clients"]["client_id"])


def test_write_sample_parquet_equals_generate_and_keeps_other_files(small, tmp_path):
    (tmp_path / "README.md").write_text("keep me")
    out = sm.write_sample(tmp_path, size="small")
    assert out == tmp_path / "tables"
    for name in TABLES:
        assert pd.read_parquet(out / f"{name}.parquet").equals(small.tables[name]), name
    truth = pd.read_csv(tmp_path / "truth" / "clients.csv")
    assert len(truth) == 300 and truth["churned"].sum() == small.truth["clients"]["churned"].sum()
    # a second write replaces the folders atomically and leaves nothing else behind
    sm.write_sample(tmp_path, size="small", random_state=5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md", "tables", "truth"]
    assert (tmp_path / "README.md").read_text() == "keep me"
    assert not pd.read_parquet(out / "revenue.parquet").equals(small.tables["revenue"])


def test_cli_writes_csv(small, tmp_path, capsys):
    assert sm.main(["--out", str(tmp_path), "--size", "small", "--seed", "20261123", "--format", "csv"]) == 0
    assert "wrote" in capsys.readouterr().out
    rev = pd.read_csv(tmp_path / "tables" / "revenue.csv", dtype={"client_id": str})
    assert len(rev) == len(small.tables["revenue"])
    assert rev["amount"].sum() == pytest.approx(small.tables["revenue"]["amount"].sum())
    assert sorted(p.name for p in (tmp_path / "truth").iterdir()) == sorted(f"{k}.csv" for k in small.truth)


# ------------------------------------------------------------------ effect 13: reverse causality; a second persona generator
def test_reverse_causality_adds_documents_around_purchases_and_nothing_else(small):
    """The default plants documents that follow the clients' buying; without it every table but the
    touches is the same, and the touches are the same but for those documents."""
    plain = sm.generate("small", random_state=20261123, reverse_causality=None)
    for name in small.tables:
        if name != "activities":
            pd.testing.assert_frame_equal(small.tables[name], plain.tables[name])
    keys = ["timestamp", "client_id", "activity_type", "person_id"]
    extra = small.tables["activities"].merge(plain.tables["activities"][keys], on=keys, how="left", indicator=True)
    extra = extra.loc[extra["_merge"] == "left_only"]
    assert len(small.tables["activities"]) == len(plain.tables["activities"]) + len(extra) and len(extra) > 100
    assert set(extra["activity_type"]) == {"document"}
    assert small.truth["reverse_causality"].to_dict("records") == [{"activity_type": "document", "per_purchase_day": 0.1,
                                                                     "days": 90}]
    assert plain.truth["reverse_causality"].empty
    # each within 90 days of one of the client's purchases: the distance to the nearest is at most 90 days
    rev = small.tables["revenue"].loc[lambda r: r["amount"] > 0]
    near = pd.merge_asof(extra.sort_values("timestamp").assign(day=lambda d: d["timestamp"].dt.normalize()),
                         rev[["date", "client_id"]].sort_values("date").assign(buy=lambda r: r["date"]),
                         left_on="day", right_on="date", by="client_id", direction="nearest")
    assert ((near["day"] - near["buy"]).abs() <= pd.Timedelta(days=92)).all()
    with pytest.raises(ValueError, match="reverse_causality"):
        sm.generate("small", reverse_causality="fax")


def test_persona_sample_types_and_footprints():
    s = sm.persona_sample(600, random_state=3)
    again = sm.persona_sample(600, random_state=3)
    pd.testing.assert_frame_equal(s.tables["digital"], again.tables["digital"])
    truth = s.truth["clients"].set_index("client_id")["persona"]
    assert truth.value_counts().to_dict() == {"Screen watcher": 330, "Report reader": 180, "News reactor": 90}
    d = s.tables["digital"].assign(persona=lambda x: x["client_id"].map(truth))
    per_session = d.groupby(["persona", "event_type"]).size().unstack().div(
        d.loc[d["event_type"] == "login"].groupby("persona").size(), axis=0)
    assert per_session.loc["Screen watcher", "page_view"] > 3 > per_session.loc["Report reader", "page_view"]
    assert per_session.loc["Report reader", "download"] > 0.8 > per_session.loc["News reactor", "download"]
    assert per_session.loc["News reactor", "search"] > 1.2 > per_session.loc["Screen watcher", "search"]
    # how much a client comes does not tell its type: median sessions per client are alike
    sessions = d.loc[d["event_type"] == "login"].groupby("client_id").size().reindex(truth.index, fill_value=0)
    med = sessions.groupby(truth).median()
    assert med.max() < 2.5 * med.min()
