"""Segments and personas keep their identity from one run to the next (issue 21).

Planted truths on constructed behavioural features: three well-separated behaviours, then a
second run on the same clients with (a) nothing changed but the fit's labels, (b) a known set of
clients shifted from one behaviour to another, (c) one segment's trend turned, (d) a behaviour
appearing and one vanishing. Movement is counted on the stable ids, as page 08 counts it.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clientstrategy import context, identity, monitoring, outcomes

#: three behaviours: category focus, purchase days a year, spend, trend
BEHAVIOURS = {
    "eq": {"mix_Equities": 0.9, "mix_FX": 0.05, "mix_Rates": 0.05, "frequency": 30, "monetary": 90_000, "trend": 0.4},
    "fx": {"mix_Equities": 0.05, "mix_FX": 0.9, "mix_Rates": 0.05, "frequency": 6, "monetary": 8_000, "trend": 0.0},
    "rt": {"mix_Equities": 0.05, "mix_FX": 0.05, "mix_Rates": 0.9, "frequency": 14, "monetary": 30_000, "trend": -0.4},
}


def _features(kinds: dict, seed: int, **overrides) -> pd.DataFrame:
    """Features of clients ``{client_id: behaviour}`` with some noise; ``overrides`` by behaviour."""
    rng = np.random.default_rng(seed)
    rows = []
    for cid, kind in sorted(kinds.items()):
        b = {**BEHAVIOURS[kind], **overrides.get(kind, {})}
        mix = np.array([b["mix_Equities"], b["mix_FX"], b["mix_Rates"]]) + rng.uniform(0, 0.05, 3)
        mix = mix / mix.sum()
        rows.append({"client_id": cid, "recency_days": float(rng.integers(1, 60)),
                     "frequency": int(max(1, round(b["frequency"] * rng.lognormal(0, 0.15)))),
                     "monetary": float(b["monetary"] * rng.lognormal(0, 0.15)),
                     "trend": float(b["trend"] + rng.normal(0, 0.05)),
                     "mix_Equities": mix[0], "mix_FX": mix[1], "mix_Rates": mix[2]})
    return pd.DataFrame(rows)


def _run(features, previous=None, quarter="2026Q1", random_state=0):
    """One run's segments with their stable identities, and its profile (client_id, segment, segment_id)."""
    seg = outcomes.behavioural_segments(features, k_range=range(2, 7), random_state=random_state,
                                        previous_k=previous["model"].get("k_fitted") if previous else None)
    ids = outcomes.segment_identities(seg, previous["model"] if previous else None,
                                      previous["ids"] if previous else None, quarter=quarter)
    profile = pd.DataFrame({"client_id": ids.ids.index, "segment": ids.names.to_numpy(),
                            "segment_id": ids.ids.to_numpy(), "fitted": seg.labels.reindex(ids.ids.index).to_numpy()})
    return {"seg": seg, "identities": ids, "model": ids.model, "ids": ids.ids, "profile": profile}


def _moved(first, second) -> set:
    m = first["profile"].merge(second["profile"], on="client_id", suffixes=("_a", "_b"))
    return set(m.loc[m["segment_id_a"] != m["segment_id_b"], "client_id"])


KINDS = {f"c{i:03d}": ("eq", "fx", "rt")[i % 3] for i in range(300)}


@pytest.fixture(scope="module")
def first():
    return _run(_features(KINDS, seed=1))


def test_same_data_refit_with_permuted_labels_moves_nobody(first):
    # another seed numbers the k-means clusters differently; the identities follow the clients
    again = _run(_features(KINDS, seed=1), previous=first, quarter="2026Q2", random_state=7)
    mig = monitoring.migration(first["profile"], again["profile"], "segment")
    assert identity.moved(mig, "segment")["moved"] == 0
    assert set(again["identities"].table["status"]) == {"kept"}
    assert ({c["id"]: c["name"] for c in again["model"]["clusters"]}
            == {c["id"]: c["name"] for c in first["model"]["clusters"]})


def test_labels_permuted_by_the_fit_keep_their_ids(first):
    # the same clusters under other labels (as k-means numbers them): ids follow the members
    labels = first["seg"].labels
    permuted = labels.map({lab: f"cluster {i}" for i, lab in enumerate(sorted(labels.unique(), reverse=True))})
    again = identity.keep_identities(permuted, previous_model=first["model"], previous_ids=first["ids"], quarter="2026Q2")
    assert (again.ids.reindex(first["ids"].index) == first["ids"]).all()
    assert (again.names.reindex(first["ids"].index) == first["profile"].set_index("client_id")["segment"]).all()


def test_a_quarter_of_steady_behaviour_moves_almost_nobody(first):
    later = _run(_features(KINDS, seed=2), previous=first, quarter="2026Q2")  # new noise, same behaviours
    mig = monitoring.migration(first["profile"], later["profile"], "segment")
    mv = identity.moved(mig, "segment")
    assert mv["both"] == 300 and mv["share_moved"] < 0.05
    # page 08's headline is the off-diagonal of the cross-table of the two runs' stable ids
    cross = pd.crosstab(first["profile"].set_index("client_id")["segment_id"],
                        later["profile"].set_index("client_id")["segment_id"])
    assert mv["moved"] == int(cross.to_numpy().sum() - np.trace(cross.reindex(columns=cross.index, fill_value=0).to_numpy()))


def test_planted_shift_of_known_clients_is_reported_as_those_clients_moving(first):
    shifted = {cid for cid, k in KINDS.items() if k == "fx"}
    shifted = set(sorted(shifted)[:30])  # 30 FX clients now buy like the Rates clients
    kinds = {cid: ("rt" if cid in shifted else k) for cid, k in KINDS.items()}
    later = _run(_features(kinds, seed=2), previous=first, quarter="2026Q2")
    moved = _moved(first, later)
    recall = len(moved & shifted) / len(shifted)
    precision = len(moved & shifted) / max(len(moved), 1)
    assert recall >= 0.95 and precision >= 0.9
    # they moved from the FX segment's id to the Rates segment's id, both kept
    a, b = first["profile"].set_index("client_id"), later["profile"].set_index("client_id")
    rt_id = a.loc[min(c for c, k in KINDS.items() if k == "rt"), "segment_id"]
    assert (b.loc[sorted(shifted), "segment_id"] == rt_id).mean() >= 0.95
    assert set(later["identities"].table["status"]) == {"kept"}


def test_planted_trend_change_is_the_segments_change_not_its_clients_moving(first):
    # every member of the growing Equities segment now declines: same clients, new description
    later = _run(_features(KINDS, seed=2, eq={"trend": -0.4}), previous=first, quarter="2026Q2")
    eq_client = min(c for c, k in KINDS.items() if k == "eq")
    a, b = first["profile"].set_index("client_id"), later["profile"].set_index("client_id")
    assert "growing" in a.loc[eq_client, "fitted"] and "declining" in b.loc[eq_client, "fitted"]
    # the names that were rebuilt each run would have moved the whole segment...
    eq = [c for c, k in KINDS.items() if k == "eq"]
    assert (a.loc[eq, "fitted"] != b.loc[eq, "fitted"]).all()
    # ...the stable identity keeps its id and name, and nobody moves
    mv = identity.moved(monitoring.migration(first["profile"], later["profile"], "segment"), "segment")
    assert mv["share_moved"] < 0.05
    assert a.loc[eq_client, "segment_id"] == b.loc[eq_client, "segment_id"]
    assert a.loc[eq_client, "segment"] == b.loc[eq_client, "segment"]
    ch = identity.changes(first["model"], later["model"]).set_index("id")
    row = ch.loc[a.loc[eq_client, "segment_id"]]
    assert row["status"] == "kept" and "trend: growing -> declining" in row["what_changed"]
    others = ch.drop(index=a.loc[eq_client, "segment_id"])
    assert not others["what_changed"].str.contains("trend").any()


def test_new_and_vanished_segments_are_named_as_such(first):
    # the Rates behaviour is gone (its clients left the book), a new one appears on new clients
    kinds = {cid: k for cid, k in KINDS.items() if k != "rt"}
    BEHAVIOURS["hy"] = {"mix_Equities": 0.34, "mix_FX": 0.33, "mix_Rates": 0.33, "frequency": 60, "monetary": 400_000,
                        "trend": 1.2}
    try:
        kinds.update({f"n{i:03d}": "hy" for i in range(60)})
        later = _run(_features(kinds, seed=2), previous=first, quarter="2026Q2")
    finally:
        del BEHAVIOURS["hy"]
    t = later["identities"].table.set_index("id")
    rt_id = first["profile"].set_index("client_id").loc["c002", "segment_id"]
    assert t.loc[rt_id, "status"] == "vanished"
    new = t[t["status"] == "new"]
    assert len(new) == 1 and new.index[0] == "S4" and new["named_in"].iloc[0] == "2026Q2"
    assert set(later["ids"].loc[[f"n{i:03d}" for i in range(60)]]) == {"S4"}
    ch = identity.changes(first["model"], later["model"]).set_index("id")
    assert ch.loc[rt_id, "status"] == "vanished" and ch.loc[rt_id, "what_changed"].startswith("vanished")
    assert ch.loc["S4", "what_changed"] == "new this run (60 clients)"
    # an id is never given twice: a third run with Rates back gives it a new id, not the vanished one
    third = _run(_features(KINDS, seed=3), previous=later, quarter="2026Q3")
    assert rt_id not in set(third["ids"]) and "S5" in set(third["ids"])


def test_match_is_hungarian_on_shared_clients_with_a_floor():
    prev = pd.Series(["A"] * 10 + ["B"] * 10, index=[f"c{i}" for i in range(20)])
    # B split in half: one half keeps B's id, the other is new (Jaccard 0.5 and 0.5; the tie goes to one)
    cur = pd.Series(["x"] * 10 + ["y"] * 5 + ["z"] * 5 + ["w"] * 3, index=[f"c{i}" for i in range(23)])
    m = identity.match(prev, cur, min_overlap=0.3)
    assert m.loc[m["current"] == "x", "previous"].item() == "A"
    assert m["previous"].eq("B").sum() == 1
    assert m.loc[m["current"] == "w", "previous"].item() is None  # only new clients: no overlap
    assert m["jaccard"].between(0, 1).all()
    with pytest.raises(ValueError, match="min_overlap"):
        identity.match(prev, cur, min_overlap=0)
    with pytest.raises(ValueError, match="client_id"):
        identity.match(pd.Series(["A", "B"], index=["c", "c"]), cur)


def test_migration_refuses_segments_without_stable_ids():
    prev = pd.DataFrame({"client_id": ["a"], "segment": ["Occasional, growing"]})
    with pytest.raises(ValueError, match="segment_id"):
        monitoring.migration(prev, prev, "segment")


def test_personas_keep_their_ids_when_the_fit_renumbers_them():
    rng = np.random.default_rng(0)
    n = 240
    kind = np.arange(n) % 3
    feats = pd.DataFrame({"client_id": [f"c{i:03d}" for i in range(n)],
                          "sessions": np.exp(np.array([3.0, 0.5, 1.5])[kind] + rng.normal(0, 0.1, n)),
                          "pages_per_session": np.exp(np.array([2.5, 0.5, 1.0])[kind] + rng.normal(0, 0.1, n)),
                          "downloads_per_session": np.exp(np.array([0.1, 2.0, 0.3])[kind] + rng.normal(0, 0.1, n)),
                          "minutes_per_session": np.exp(np.array([3.0, 1.0, 2.0])[kind] + rng.normal(0, 0.1, n)),
                          "event_burst": 1.0 + rng.normal(0, 0.05, n), "touch_response": 0.3 + rng.normal(0, 0.02, n)})
    fit1 = context.fit_personas(feats, k=3, random_state=0, n_resamples=2)
    first = context.persona_identities(fit1, quarter="2026Q1")
    # the second quarter: a third of the clients more active, enough to reorder the personas by size
    grow = feats.assign(sessions=feats["sessions"] * 1.05)
    extra = feats.iloc[kind == 1].assign(client_id=lambda d: "n" + d["client_id"])
    fit2 = context.fit_personas(pd.concat([grow, extra], ignore_index=True), k=3, random_state=5, n_resamples=2)
    second = context.persona_identities(fit2, first.model, first.ids, quarter="2026Q2")
    shared = first.ids.index
    assert (first.ids.loc[shared] == second.ids.loc[shared]).mean() > 0.95
    assert set(second.table["status"]) == {"kept"}
    named = context.with_identities(fit2, second)
    assert set(named.assignments["persona"]) == set(first.names)


def test_a_new_cluster_never_takes_a_kept_name():
    first = identity.keep_identities(pd.Series(["A"] * 5 + ["B"] * 5, index=range(10)), quarter="2026Q1")
    # the clients of A are now described as "B", and a new group is described as "A"
    cur = pd.Series(["B"] * 5 + ["C"] * 5 + ["A"] * 4, index=range(14))
    clusters = pd.DataFrame({"clients": [4, 5, 5]}, index=["A", "B", "C"])  # the new one first in the order
    second = identity.keep_identities(cur, clusters, first.model, first.ids, quarter="2026Q2")
    t = second.table.set_index("id")
    assert t.loc["S1", "name"] == "A" and t.loc["S1", "label"] == "B" and t.loc["S2", "name"] == "B"
    assert t.loc["S3", "name"] == "A #2" and t.loc["S3", "status"] == "new"
    assert second.names.loc["10"] == "A #2" and second.ids.loc["0"] == "S1"  # client ids are read as text


def test_the_bundled_sample_a_quarter_later_moves_few_clients():
    """The default sample, run at 2026-03-31 and again at 2026-06-30 (the revenue of a quarter more)."""
    from clientstrategy import sample

    tables = sample.generate("default").tables
    runs, previous = [], None
    for quarter, as_of in (("2026Q1", "2026-03-31"), ("2026Q2", "2026-06-30")):
        feats = outcomes.segment_features(tables["revenue"], pd.Timestamp(as_of), products=tables["products"])
        seg = outcomes.behavioural_segments(feats, random_state=42,
                                            previous_k=previous.model["k_fitted"] if previous else None)
        previous = outcomes.segment_identities(seg, previous.model if previous else None,
                                               previous.ids if previous else None, quarter=quarter, as_of=as_of)
        runs.append(previous)
    a, b = runs[0].ids, runs[1].ids
    shared = a.index.intersection(b.index)
    assert len(shared) > 1500 and (a.loc[shared] != b.loc[shared]).mean() < 0.05
    assert set(runs[1].table["status"]) == {"kept"}
