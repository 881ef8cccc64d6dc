"""Tests of clientstrategy.third_party: hand-computed fixtures, then the sample's planted truth."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clientstrategy import third_party as tpm
from conftest import shared_dataset

AS_OF = pd.Timestamp("2026-09-30")


def _d(*dates):
    return pd.to_datetime(list(dates))


TP = pd.DataFrame({
    "client_id": ["a", "a", "a", "b", "c"],
    "as_of": _d("2025-06-30", "2026-06-30", "2026-12-31", "2025-06-30", "2026-06-30"),
    "wallet": [900.0, 1000.0, 5000.0, 200.0, 50.0],
    "employees": [10.0, 12.0, 99.0, 3.0, 1.0],
    "intent_score": [0.1, 0.9, 0.0, 0.2, 0.5],
})
REV = pd.DataFrame({
    "date": _d("2025-09-30", "2025-10-01", "2026-03-01", "2026-10-02", "2026-01-01", "2026-05-05", "2026-06-01"),
    "client_id": ["a", "a", "a", "a", "b", "c", "d"],
    "amount": [777.0, 100.0, 150.0, 999.0, 20.0, 60.0, 5.0],
})
CLIENTS = pd.DataFrame({"client_id": ["a", "b", "c", "d", "e"], "size_band": ["Large", "Small", "Small", None, "Small"],
                        "industry": ["Bank", "Bank", "Insurer", "Insurer", "Bank"]})


def test_latest_snapshot_on_or_before_as_of():
    out = tpm.latest_snapshot(TP, AS_OF).set_index("client_id")
    assert out.loc["a", "wallet"] == 1000.0  # the 2026-12-31 snapshot is after as_of
    assert out.loc["a", "as_of"] == pd.Timestamp("2026-06-30")
    assert out.index.tolist() == ["a", "b", "c"]
    with pytest.raises(ValueError, match="as_of"):
        tpm.latest_snapshot(TP.drop(columns="as_of"), AS_OF)


def test_wallet_share_exact_values():
    out = tpm.wallet_share(tpm.latest_snapshot(TP, AS_OF), REV, AS_OF, clients=CLIENTS).set_index("client_id")
    # a: LTM (2025-09-30, 2026-09-30] = 100 + 150 (777 is on the excluded start day, 999 after as_of)
    assert out.loc["a", "revenue_ltm"] == 250.0
    assert out.loc["a", "share_of_wallet"] == 0.25 and out.loc["a", "headroom"] == 750.0
    assert out.loc["b", "share_of_wallet"] == pytest.approx(0.1) and out.loc["b", "headroom"] == 180.0
    # c spends more than the provider's wallet: share above 1, negative headroom, reported as is
    assert out.loc["c", "share_of_wallet"] == pytest.approx(1.2) and out.loc["c", "headroom"] == -10.0
    assert np.isnan(out.loc["d", "wallet"]) and np.isnan(out.loc["d", "share_of_wallet"])
    assert out.loc["e", "revenue_ltm"] == 0.0  # a client without revenue is kept
    assert out.loc["a", "employees"] == 12.0 and out.loc["a", "size_band"] == "Large"


def test_wallet_share_without_third_party():
    out = tpm.wallet_share(None, REV, AS_OF, clients=CLIENTS)
    assert out["wallet"].isna().all() and out["headroom"].isna().all()
    assert len(out) == 5


def test_opportunities_rank_by_headroom_and_fit():
    f = tpm.wallet_share(tpm.latest_snapshot(TP, AS_OF), REV, AS_OF)
    out = tpm.opportunities(f, fit_weight=0.3).set_index("client_id")
    # positive headroom: a 750 (rank 1.0), b 180 (0.5); c negative -> 0. intent ranks: a 1.0, b 1/3, c 2/3
    assert out.loc["a", "score"] == pytest.approx(0.7 * 1.0 + 0.3 * 1.0)
    assert out.loc["b", "score"] == pytest.approx(0.7 * 0.5 + 0.3 * (1 / 3))
    assert out.loc["c", "score"] == pytest.approx(0.3 * (2 / 3))
    assert out.sort_values("rank").index.tolist() == ["a", "b", "c"]
    assert "d" not in out.index  # no wallet, no ranking
    with pytest.raises(ValueError, match="fit_weight"):
        tpm.opportunities(f, fit_weight=2)


def test_outside_in_vs_inside_out_hand_computed():
    f = pd.DataFrame({"client_id": list("abcd"), "revenue_ltm": [1.0, 2.0, 3.0, 4.0],
                      "wallet": [400.0, 30.0, 20.0, np.nan], "employees": [1.0, 2.0, 3.0, 4.0]})
    out = tpm.outside_in_vs_inside_out(f).set_index("client_id")
    # among a, b, c: inside ranks 1/3, 2/3, 1; outside ranks 1, 2/3, 1/3
    assert out.loc["a", "gap"] == pytest.approx(2 / 3) and out.loc["a", "view"] == "outside-in larger"
    assert out.loc["b", "view"] == "aligned"
    assert out.loc["c", "view"] == "inside-out larger"
    assert "d" not in out.index
    emp = tpm.outside_in_vs_inside_out(f.drop(columns="wallet"))
    assert (emp["outside_measure"] == "employees").all() and (emp["view"] == "aligned").all()


def test_penetration_profile_with_and_without_wallet():
    f = tpm.wallet_share(tpm.latest_snapshot(TP, AS_OF), REV, AS_OF, clients=CLIENTS)
    out = tpm.penetration_profile(f, by="size_band").set_index("size_band")
    # Small: b (20, wallet 200), c (60, wallet 50), e (0, no wallet) -> 2 of 3 buying; share 80 / 250
    assert out.loc["Small", "clients"] == 3 and out.loc["Small", "buying_clients"] == 2
    assert out.loc["Small", "share_of_wallet"] == pytest.approx(80 / 250)
    assert out.loc["unknown", "clients"] == 1 and np.isnan(out.loc["unknown", "share_of_wallet"])
    firmo_only = tpm.penetration_profile(tpm.wallet_share(None, REV, AS_OF, clients=CLIENTS), by="industry")
    firmo_only = firmo_only.set_index("industry")
    assert firmo_only.loc["Bank", "penetration"] == pytest.approx(2 / 3)
    assert firmo_only["wallet"].isna().all()


def test_provider_columns_cover_the_schema():
    from clientstrategy.schema import TABLES

    assert set(tpm.PROVIDER_COLUMNS["column"]) == set(TABLES["third_party"].columns)


# ------------------------------------------------------------------------------------------
# planted truth: hidden giants (data/sample/README.md, effect 10)
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sample():
    gen = pytest.importorskip("clientstrategy.sample")
    return gen.generate("default", random_state=20261123)


@pytest.fixture(scope="module")
def frame(sample):
    t = sample.tables
    return tpm.wallet_share(tpm.latest_snapshot(t["third_party"], AS_OF), t["revenue"], AS_OF, clients=t["clients"])


def test_sample_share_of_wallet_exact(sample, frame):
    t = sample.tables
    tp = t["third_party"]
    f = frame.set_index("client_id")
    # independent recomputation for every client with a snapshot
    snap = tp.loc[tp["as_of"] <= AS_OF].sort_values("as_of").groupby("client_id").tail(1).set_index("client_id")
    rev = t["revenue"]
    ltm = rev.loc[(rev["date"] > pd.Timestamp("2025-09-30")) & (rev["date"] <= AS_OF)].groupby("client_id")["amount"].sum()
    expected = ltm.reindex(snap.index, fill_value=0.0) / snap["wallet"]
    pd.testing.assert_series_equal(f.loc[snap.index, "share_of_wallet"], expected, check_names=False)
    assert (f.loc[snap.index, "snapshot_as_of"] == pd.Timestamp("2026-06-30")).mean() > 0.9


def test_sample_hidden_giants_rank_high(sample, frame):
    truth = sample.truth["clients"].set_index("client_id")
    giants = set(truth.index[truth["hidden_giant"].astype(bool)])
    opp = tpm.opportunities(frame)
    top = opp.loc[opp["rank"] <= len(opp) // 5, "client_id"]
    share_top = top.isin(giants).mean()
    base = opp["client_id"].isin(giants).mean()
    assert share_top > 2.5 * base  # giants are over-represented in the top fifth
    views = tpm.outside_in_vs_inside_out(frame)
    oi = views.loc[views["view"] == "outside-in larger", "client_id"]
    assert oi.isin(giants).mean() > 3 * views["client_id"].isin(giants).mean()


# ------------------------------------------------------------------------------------------
# the notebook skips cleanly without third-party data (Olist has none, nor firmographics)
# ------------------------------------------------------------------------------------------
OLIST = shared_dataset("olist_ecommerce", "sample_4000_orders")  # ../shared/datasets (tests/conftest.py)


@pytest.mark.slow
@pytest.mark.skipif(not OLIST.is_dir(), reason="Olist sample not on this machine")
def test_notebook_05_says_what_a_provider_adds_when_absent(tmp_path):
    import nbformat
    import papermill

    from clientstrategy import paths

    art = tmp_path / "artifacts"
    out = tmp_path / "05.ipynb"
    papermill.execute_notebook(
        str(paths.NOTEBOOKS / "05_third_party.ipynb"), str(out), cwd=str(paths.NOTEBOOKS),
        parameters={"data_dir": str(OLIST), "mapping": str(paths.MAPPINGS / "olist_ecommerce.yaml"),
                    "artifacts_dir": str(art)}, progress_bar=False, kernel_name="python3")
    text = "\n".join(str(o.get("data", {})) for c in nbformat.read(str(out), 4).cells if c.cell_type == "code"
                     for o in c.get("outputs", []))
    assert "no `third_party` table" in text and "intent_score" in text
    assert "no size band or industry" in text
    assert not (art / "opportunities.csv").exists() and not (art / "third_party_latest.parquet").exists()
