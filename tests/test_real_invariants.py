"""What leadership reads must hold on real exports: invariants over whole runs of every public dataset.

Each dataset of ``../shared/datasets`` that has a mapping in ``data/mappings/`` (as ``make real`` runs
it, with its ``REAL_PARAMS``), and the CRM worked example, goes through the runner once per test
session (a module fixture); the tests then check its outputs, never the code's internals, so the
suite holds for whatever the notebooks become:

* no NaN or infinity in any leadership page, nor in a modelled client's model columns;
* no client first seen after ``AS_OF`` (onboarded, or first seen in any dated table, later) in any
  artifact;
* no two-way value split on a side without spread;
* no "twelve months" claimed over less than twelve months of data;
* a client whose purchase range is [0, 0] under a positive expectation is shown with its chance of
  buying at all;
* wording: no profanity, no "1 clients", no snake_case table headers.

About 8 minutes of work on the 2-core machine (seven runs, split with ``test_real_invariants_more.py`` so
both workers share them); marked slow (part of ``make test``). A dataset
that is absent skips, and fails under ``CLIENTSTRATEGY_SYSTEM_TESTS=required`` (CI).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clientstrategy import io, paths, widgets
from conftest import DATASETS, need_dataset
from test_real_data import SOURCES, real_params

pytestmark = pytest.mark.slow

EXAMPLES = paths.MAPPINGS / "examples"
#: Every run of the suite: the public datasets with their mappings, and the CRM worked example.
RUNS = [*sorted(SOURCES), "crm_example"]
#: The runs split in two files of about equal time (this one and ``test_real_invariants_more.py``), so the
#: two workers of ``make test`` (``--dist loadfile``) share them instead of one doing all seven.
RUNS_MORE = ["cdnow", "olist_ecommerce", "crm_example"]
RUNS_HERE = [r for r in RUNS if r not in RUNS_MORE]
#: Fewer bootstrap refits and simulated futures than a real run: the checks read what a page says and
#: whether it is finite and well worded, which does not need the final precision of the ranges.
FAST = {"n_bootstrap": 40, "plan_boot": 20, "plan_draws": 400, "n_boot": 60}
#: Dated columns of the canonical tables where a client is "seen" (a third party's snapshot date is not
#: a sign of the client).
_DATED = {"revenue": "date", "activities": "timestamp", "digital": "timestamp", "surveys": "date",
          "survey_invites": "date"}
#: Leadership pages whose windowed figures are revenue's (the others may count touches, visits...).
_REVENUE_PAGES = ("00_", "01_", "06_", "07_", "08_", "09_", "index")


def _source(name: str) -> tuple[Path, Path]:
    if name == "crm_example":
        return EXAMPLES, EXAMPLES / "crm_export.yaml"
    return need_dataset(DATASETS / SOURCES[name]), paths.MAPPINGS / f"{name}.yaml"


@pytest.fixture(scope="module", params=RUNS_HERE)
def run(request, tmp_path_factory):
    """One dataset through the runner (once per session) and what the checks read from it."""
    return run_dataset(request.param, tmp_path_factory)


def run_dataset(name: str, tmp_path_factory) -> dict:
    """Run ``name`` through the workbook as ``make real`` does (with :data:`FAST` precision) and read its outputs."""
    from clientstrategy.runner import RunConfig
    from clientstrategy.runner import run as run_workbook

    data, mapping = _source(name)
    out = tmp_path_factory.mktemp(f"real-{name}")
    published = run_workbook(RunConfig(data=str(data), mapping=str(mapping), out=out, progress=False,
                                       params={**FAST, **(real_params(name) if name in SOURCES else {})}))
    art = published / "artifacts"
    metrics = json.loads((art / "metrics.json").read_text())
    pages = {p.stem: p.read_text() for p in sorted((published / "leadership").glob("*.html"))}
    pages["index"] = (published / "index.html").read_text()
    tables = io.load_source(data, mapping=mapping)
    return {"name": name, "published": published, "artifacts": art, "metrics": metrics, "pages": pages,
            "text": {k: _text(v) for k, v in pages.items()}, "tables": tables,
            "as_of": pd.Timestamp(metrics["data_health"]["as_of"]),
            "profile": pd.read_parquet(art / "client_profile.parquet")}


def _text(page_html: str) -> str:
    """The words a reader sees on a page: tags, scripts and embedded images removed, entities decoded."""
    import html as _html

    body = re.sub(r"<(script|style)\b.*?</\1>", " ", page_html, flags=re.DOTALL | re.IGNORECASE)
    body = re.sub(r"<[^>]+>", " ", body)
    return re.sub(r"\s+", " ", _html.unescape(body))


def _first_seen(tables: dict) -> pd.Series:
    """Each client's first day in the data: onboarding or any dated row, whatever its table."""
    dates = []
    for table, col in _DATED.items():
        df = tables.get(table)
        if df is not None and len(df) and {"client_id", col} <= set(df.columns):
            dates.append(pd.to_datetime(df[col]).groupby(df["client_id"].astype(str)).min())
    cl = tables.get("clients")
    if cl is not None and "onboarded_on" in cl.columns:
        dates.append(pd.to_datetime(cl["onboarded_on"]).groupby(cl["client_id"].astype(str)).min())
    return pd.concat(dates, axis=1).min(axis=1) if dates else pd.Series(dtype="datetime64[ns]")


def _months_of_data(start: pd.Timestamp, as_of: pd.Timestamp) -> float:
    return (as_of - max(start, as_of - pd.DateOffset(months=12))).days / (365.25 / 12)


# --------------------------------------------------------------------------- numbers

def test_no_nan_or_infinity_on_any_page(run):
    for page, text in run["text"].items():
        bad = re.findall(r"\b(?:nan|NaN|inf|-inf|infinity|Infinity)\b", text)
        assert not bad, f"{run['name']} {page}: {bad[:5]} in {text[max(0, text.find(bad[0]) - 120):][:240]!r}"


def test_modelled_clients_have_finite_model_columns(run):
    prof = run["profile"]
    model_cols = ["p_alive", "expected_purchases_12m", "expected_purchases_12m_low", "expected_purchases_12m_high",
                  "clv", "clv_low", "clv_high"]
    modelled = prof[prof["p_alive"].notna()]
    if modelled.empty:
        assert run["metrics"]["purchase_model"].get("fitted") is False, "no client modelled, yet no reason given"
        return
    values = modelled[model_cols].to_numpy(dtype=float)
    assert np.isfinite(values).all(), f"{run['name']}: {int((~np.isfinite(values)).sum())} NaN/inf model values"
    assert ((modelled["p_alive"] >= 0) & (modelled["p_alive"] <= 1)).all()


# --------------------------------------------------------------------------- clients from the future

def test_no_client_first_seen_after_as_of_in_any_artifact(run):
    seen = _first_seen(run["tables"])
    future = set(seen.index[seen.dt.normalize() > run["as_of"]])
    found = {}
    for path in sorted(run["artifacts"].iterdir()):
        if path.suffix == ".parquet":
            df = pd.read_parquet(path)
        elif path.suffix == ".csv":
            df = pd.read_csv(path, dtype=str)
        else:
            continue
        if "client_id" in df.columns:
            late = set(df["client_id"].dropna().astype(str)) & future
            if late:
                found[path.name] = sorted(late)[:5]
    assert not found, f"{run['name']}: clients first seen after {run['as_of'].date()} in {found}"
    if future:  # the profile holds exactly the clients known on the day
        assert not set(run["profile"]["client_id"]) & future


# --------------------------------------------------------------------------- two-way value

def test_no_value_split_on_a_side_without_spread(run):
    prof = run["profile"].dropna(subset=["value_to_business", "value_to_client"])
    params = run["metrics"]["strategy"]["parameters"]
    for col, threshold in (("value_to_business", params["business_threshold"]),
                           ("value_to_client", params["client_threshold"])):
        high = prof[col] >= threshold
        if high.all() or (~high).all():
            continue  # no split on this side
        tie = prof[col].round(9).value_counts(normalize=True).iloc[0]
        assert tie < 0.9, (f"{run['name']}: groups split on {col}, yet {tie:.1%} of clients share one score "
                           f"(an ingredient without spread decides the groups)")


# --------------------------------------------------------------------------- windows

_TWELVE = re.compile(r"\b(?:(?:in|over|during|for|of|to) the (?:last |past )?(?:twelve|12) months"
                     r"|the (?:twelve|12) months (?:to|before)\b|, last (?:twelve|12) months"
                     r"|last (?:twelve|12) months'|bought this year)", re.IGNORECASE)


def _twelve_month_claims(text: str) -> list[str]:
    return [text[max(0, m.start() - 60):m.end() + 40] for m in _TWELVE.finditer(text)
            if not re.search(r"\bnext\s*$", text[max(0, m.start() - 6):m.start() + 8])]


def _sections(page: str, text: str) -> list[tuple[str, str]]:
    """(page, text) pairs: a page's own text, or the executive summary of index.html cut by the page
    each headline comes from ("01 · Outcomes ...")."""
    if page != "index":
        return [(page, text)]
    cuts = [(m.start(), m.group(1) + "_") for m in re.finditer(r"\b(0\d) · ", text)]
    parts = [("index", text[:cuts[0][0]] if cuts else text)]
    for (start, name), nxt in zip(cuts, [*cuts[1:], (len(text), "")]):
        parts.append((name, text[start:nxt[0]]))
    return parts


def test_no_twelve_months_over_less_than_twelve_months_of_data(run):
    tables, as_of = run["tables"], run["as_of"]
    revenue_start = tables["revenue"]["date"].min()
    any_start = min(pd.to_datetime(tables[t][c]).min() for t, c in _DATED.items() if t in tables and len(tables[t]))
    sections = [part for page, text in run["text"].items() for part in _sections(page, text)]
    for page, text in sections:
        start = revenue_start if page.startswith(_REVENUE_PAGES) else any_start
        if _months_of_data(start, as_of) >= 11.75:
            continue
        claims = [c for c in _twelve_month_claims(text) if "next twelve months" not in c]
        assert not claims, (f"{run['name']} {page}: 'twelve months' over "
                            f"{_months_of_data(start, as_of):.1f} months of data: {claims[:3]}")


# --------------------------------------------------------------------------- purchase ranges

def test_a_zero_range_under_a_positive_expectation_shows_the_chance_of_buying(run):
    prof = run["profile"]
    gone = prof[(prof["expected_purchases_12m_high"] == 0) & (prof["expected_purchases_12m"] > 0)]
    assert "range 0 to 0" not in run["text"]["09_explorers"]
    if gone.empty:
        return
    models_path = run["artifacts"] / "models.json"
    models = json.loads(models_path.read_text()) if models_path.exists() else None
    client = str(gone.sort_values("expected_purchases_12m", ascending=False)["client_id"].iloc[0])
    card = widgets.client_card(client, prof, revenue=run["tables"]["revenue"], as_of=run["as_of"], models=models)
    assert "chance of buying at all is" in card and "range 0 to 0" not in card
    share = re.search(r"chance of buying at all is ([\d.]+)%", card)
    assert share and 0 < float(share.group(1)) < 100


# --------------------------------------------------------------------------- wording

_PLURAL_NOUNS = ("clients", "columns", "tables", "rows", "lines", "segments", "products", "categories", "customers",
                 "accounts", "findings", "touches", "conversations", "responses", "invitations", "months", "years",
                 "weeks", "days", "deals", "deposits", "purchases", "signals", "alerts", "themes", "waves", "people",
                 "persons", "comments", "reviews", "events", "visits", "clusters", "groups", "owners", "intents")


def test_wording_of_every_page(run):
    for page, text in run["text"].items():
        rude = re.findall(r"\b(?:shit|fuck\w*|crap|bullshit|damn)\b", text, re.IGNORECASE)
        assert not rude, f"{run['name']} {page}: {rude}"
        one = re.findall(rf"(?<![\d.,\-])\b1 (?:{'|'.join(_PLURAL_NOUNS)})\b", text)
        assert not one, f"{run['name']} {page}: {one} in {text[max(0, text.find(one[0]) - 80):][:200]!r}"


def test_table_headers_are_business_words(run):
    for page, page_html in run["pages"].items():
        headers = [re.sub(r"<[^>]+>", "", h).strip() for h in re.findall(r"<th\b[^>]*>(.*?)</th>", page_html, re.DOTALL)]
        snake = [h for h in headers if re.fullmatch(r"[a-z0-9]+(?:_[a-z0-9]+)+", h)]
        assert not snake, f"{run['name']} {page}: snake_case headers {snake}"


# --------------------------------------------------------------------------- each dataset's known figures

def _online_retail(run):
    """The whole file (541,909 lines): what issue 17 saw, fixed."""
    text, metrics, profile = run["text"], run["metrics"], run["profile"]
    assert run["published"].name == "2011Q3"  # data end 2011-12-09: the latest complete quarter ends 2011-09-30
    rep = pd.read_csv(run["artifacts"] / "mapping_report.csv")
    no_id = rep[(rep["table"] == "revenue") & (rep["rule"] == "no_customer_id")].iloc[0]
    assert no_id["rows"] == 135_080 and round(no_id["amount_share"], 3) == 0.149
    assert "14.9% of the amount in the source" in text["00_data_health"]  # the guest lines' share, stated
    assert metrics["data_health"]["tables"]["revenue"] == 404_953
    assert metrics["data_health"]["suspicious"]["revenue.negative_amount"] > 8_000  # cancellations kept as credits
    assert metrics["data_health"]["suspicious"]["clients.first_seen_after_as_of"] == 714
    # the 714 clients first seen in Q4 2011 are in no output: 3,658 were clients on 30 Sep 2011
    assert profile["client_id"].is_unique and len(profile) == 4_372 - 714
    # the real window, on the pages that use it: ten months, no year before
    for page in ("01_outcomes", "06_strategy"):
        assert "ten months of data (1 Dec 2010 to 30 Sep 2011)" in text[page] or "10 months to 30 Sep 2011" in text[page]
    assert "bought for the first time in" not in text["01_outcomes"] and "Largest growers" not in text["01_outcomes"]
    assert metrics["outcomes"]["revenue_prior_ltm"] == 0
    assert not profile["segment"].dropna().str.contains("growing|declining").any()
    # groups do not split on breadth of categories (one category in practice)
    assert "breadth" not in metrics["strategy"]["ingredients"]["client"]
    assert "Breadth of categories bought is left out of value to the client" in text["06_strategy"]
    seg = profile["segment"].value_counts()
    assert (seg.drop(["Lapsed", "Credits exceed purchases"], errors="ignore") >= 10).all(), seg.to_dict()
    # the purchase model is fitted and back-tested on the 26 weeks before 2011-09-30
    assert {"r", "alpha", "a", "b"} <= set(metrics["purchase_model"]) and metrics["backtest"]["holdout_weeks"] == 26
    assert 0.5 < metrics["outcomes"]["top_20pct_share"] < 0.9
    assert "detractors (needs surveys)" in metrics["execution"]["signals_skipped"]
    # ten months of data: the plan back-test goes back as far as they allow (four months), and says so
    assert metrics["plan_backtest"]["horizon_months"] == 4 and metrics["plan_backtest"]["as_of"] == "2011-05-31"
    assert "too short to go back 12 months" in text["06_strategy"]


def _olist_ecommerce(run):
    """The 4,000-order sample with clients = customer_unique_id, reviews in Portuguese."""
    metrics, profile = run["metrics"], run["profile"]
    assert run["published"].name == "2018Q2"  # purchases up to 2018-08-29
    first = _first_seen(run["tables"])
    known = int((first.dt.normalize() <= run["as_of"]).sum())
    assert len(profile) == known < 3_998 and profile["client_id"].is_unique  # customers of Q3 2018 are not in it
    assert metrics["run"]["parameters"]["comment_language"] == "portuguese"
    # one-order customers: the purchase model refuses, and says why
    assert metrics["purchase_model"]["fitted"] is False and "bought more than once" in metrics["purchase_model"]["reason"]
    assert not profile["segment"].dropna().str.contains("Frequent|Occasional|Rare").any()
    # reviews -> NPS: 56% fives (promoters) and 15% ones-and-twos among the answers up to 2018-06-30
    assert 20 < metrics["voice"]["nps"] < 45 and metrics["voice"]["responses"] > 3_000
    assert {"de", "o", "a", "que", "e"}.isdisjoint({w for t in metrics["voice"]["themes"] for w in t["name"].split(", ")})
    assert (run["artifacts"] / "themes.csv").is_file()
    # nearly every customer holds one category: breadth does not decide value to the client
    assert "breadth" not in metrics["strategy"]["ingredients"]["client"]


def _crm_example(run):
    """The worked example of README and docs/bring-your-own-data.md runs through every notebook."""
    assert run["published"].name == "2025Q4"  # the last opportunity closes in January 2026
    assert run["metrics"]["data_health"]["tables"]["revenue"] == 12
    first = _first_seen(run["tables"])
    assert sorted(run["profile"]["client_id"]) == sorted(first.index[first.dt.normalize() <= run["as_of"]])


_FIGURES = {"online_retail": _online_retail, "olist_ecommerce": _olist_ecommerce, "crm_example": _crm_example}


def test_every_page_is_published(run):
    names = sorted(p.stem for p in paths.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    assert sorted(p for p in run["pages"] if p != "index") == names


def test_the_figures_each_dataset_is_known_for(run):
    _FIGURES.get(run["name"], lambda _run: None)(run)
