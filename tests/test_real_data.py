"""Real data through the mapping files in data/mappings/ (issue 6).

Every mapping loads and validates on its dataset in ../shared/datasets (read in place, never copied),
with row counts checked against the figures the datasets' publishers and SOURCE.md files state, and
each documented fix (missing ids, cancellations, odd stock codes, misspelt names, missing years)
checked against the raw files. The whole runs of every dataset (and their published figures) are in
tests/test_real_invariants.py, which runs each dataset once per session.
"""
from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clientstrategy import io, mapping, paths, validate
from conftest import DATASETS, need_dataset

MAPPINGS = paths.MAPPINGS
EXAMPLES = MAPPINGS / "examples"

#: mapping file stem -> data folder (relative to DATASETS), as Makefile.real runs them.
SOURCES = {
    "online_retail": "online_retail",
    "cdnow": "cdnow",
    "olist_ecommerce": "olist_ecommerce/sample_4000_orders",
    "olist_marketing_funnel": "olist_marketing_funnel",
    "bank_marketing": "bank_marketing",
    "maven_crm": "maven_crm",
}

_cache: dict[str, io.LoadedTables] = {}


def _data(name: str) -> Path:
    """The dataset's folder; skipped when absent, a failure under CLIENTSTRATEGY_SYSTEM_TESTS=required."""
    return need_dataset(DATASETS / SOURCES[name])


def load(name: str) -> io.LoadedTables:
    """The mapped, typed tables of one dataset (loaded once per test session)."""
    if name not in _cache:
        _cache[name] = io.load_source(_data(name), mapping=MAPPINGS / f"{name}.yaml")
    return _cache[name]


def report_rows(tables: io.LoadedTables, table: str, rule: str) -> int:
    rep = tables.mapping_report
    hit = rep[(rep["table"] == table) & (rep["rule"] == rule)]
    assert len(hit) == 1, f"no report row for {table}/{rule}: {rep.to_dict('records')}"
    return int(hit["rows"].iloc[0])


# --------------------------------------------------------------------------- every mapping

def test_every_mapping_file_has_a_dataset_here():
    found = {p.stem for p in MAPPINGS.glob("*.yaml")}
    assert found == set(SOURCES), "a mapping without a test (or a test without its mapping)"


def test_makefile_real_runs_every_mapping_on_its_folder():
    import re

    text = (paths.ROOT / "Makefile.real").read_text()
    names = re.search(r"^REAL \?= (.+)$", text, re.MULTILINE).group(1).split()
    dirs = dict(re.findall(r"^REAL_DIR_(\w+) := (\S+)$", text, re.MULTILINE))
    assert sorted(names) == sorted(SOURCES) and dirs == SOURCES


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_mapping_loads_and_validates(name):
    tables = load(name)
    assert "revenue" in tables and len(tables["revenue"]) > 0
    assert tables.problems.empty, tables.problems.to_dict("records")
    validate.validate(tables, problems=tables.problems)  # raises on any problem
    rev = tables["revenue"]
    assert str(rev["date"].dtype) == "datetime64[ns]" and rev["amount"].dtype == np.float64
    assert rev["client_id"].map(type).eq(str).all()


# (table, expected rows): figures from the publishers / SOURCE.md, not from running the mapping
PUBLISHED_ROWS = {
    "cdnow": {"revenue": 69_659, "clients": 23_570},
    "online_retail": {"clients": 4_372, "products": 4_070},
    "maven_crm": {"revenue": 4_238, "clients": 85, "people": 35, "products": 7, "third_party": 85},
    "bank_marketing": {"clients": 41_188, "activities": 41_188, "revenue": 4_640, "market_events": 26},
    "olist_marketing_funnel": {"clients": 8_000, "digital": 8_000, "revenue": 842, "people": 22,
                               "third_party": 842},
    "olist_ecommerce": {"clients": 3_998, "surveys": 3_986, "products": 3_132},  # 3,998 customer_unique_id
}


@pytest.mark.parametrize("name", sorted(PUBLISHED_ROWS))
def test_row_counts_match_the_published_figures(name):
    tables = load(name)
    assert {t: len(tables[t]) for t in PUBLISHED_ROWS[name]} == PUBLISHED_ROWS[name]


def test_cdnow_total_matches_fader_hardie():
    assert load("cdnow")["revenue"]["amount"].sum() == pytest.approx(2_500_315.63, abs=0.005)


# --------------------------------------------------------------------------- Online Retail

@pytest.fixture(scope="module")
def retail_raw():
    return pd.read_parquet(_data("online_retail") / "customer_raw.parquet")


def test_online_retail_missing_customer_ids_are_reported_and_excluded(retail_raw):
    t = load("online_retail")
    assert report_rows(t, "revenue", "no_customer_id") == 135_080
    assert report_rows(t, "clients", "no_customer_id") == 135_080
    # every source line is either in revenue or counted by exactly one exclusion rule
    rep = t.mapping_report
    excluded = int(rep.loc[(rep["table"] == "revenue") & ~rep["rule"].str.startswith("derive."), "rows"].sum())
    assert len(t["revenue"]) + excluded == 541_909
    assert set(t["revenue"]["client_id"]) <= set(t["clients"]["client_id"])
    assert t["revenue"]["client_id"].str.fullmatch(r"\d{5}").all()  # 17850.0 -> "17850"


def test_online_retail_cancellations_are_credits(retail_raw):
    rev = load("online_retail")["revenue"]
    cancel = rev["transaction_id"].str.startswith("C")
    assert cancel.sum() > 8_000  # 9,288 cancellation lines in the file, most with a customer id
    assert (rev.loc[cancel, "amount"] < 0).all()
    assert (rev.loc[~cancel, "amount"] > 0).all()
    # the invoice 536365 of customer 17850 on 2010-12-01: 7 lines, 139.12 in total (hand-summed)
    inv = rev[rev["transaction_id"] == "536365"]
    assert len(inv) == 7 and inv["amount"].sum() == pytest.approx(139.12)
    assert set(inv["client_id"]) == {"17850"} and set(inv["date"]) == {pd.Timestamp("2010-12-01")}


def test_online_retail_odd_stock_codes_are_excluded_and_counted(retail_raw):
    t = load("online_retail")
    codes = set(t["revenue"]["product_id"])
    assert not codes & {"POST", "DOT", "C2", "M", "m", "B", "BANK CHARGES", "AMAZONFEE", "CRUK", "S", "PADS"}
    assert "D" in codes  # discounts stay: credits the client received
    known = retail_raw[retail_raw["CustomerID"].notna()]
    assert report_rows(t, "revenue", "postage") == int(known["StockCode"].isin(["POST", "DOT", "C2"]).sum())
    # amounts agree with an independent pandas computation over the same kept lines
    kept = known[~known["StockCode"].str.upper().isin(
        ["POST", "DOT", "C2", "M", "B", "BANK CHARGES", "AMAZONFEE", "CRUK", "S", "PADS"]) & (known["UnitPrice"] != 0)]
    assert len(kept) == len(t["revenue"])
    assert t["revenue"]["amount"].sum() == pytest.approx((kept["Quantity"] * kept["UnitPrice"]).sum(), abs=1.0)
    cat = t["products"].set_index("product_id")["category"]
    assert cat["POST"] == "Postage" and cat["M"] == "Adjustment" and cat["85123A"] == "Goods"


def test_online_retail_descriptions_nan_text_is_null():
    assert not (load("online_retail")["products"]["product_name"] == "nan").any()


# --------------------------------------------------------------------------- Maven CRM

def test_maven_misspellings_are_fixed():
    t = load("maven_crm")
    industry = t["clients"]["industry"].value_counts()
    assert "technolgy" not in industry.index and industry["technology"] == 12
    assert (t["clients"]["region"] == "Philippines").sum() == 1 and "Philipines" not in set(t["clients"]["region"])
    for table in ("revenue", "activities"):
        ids = set(t[table]["product_id"])
        assert "GTXPro" not in ids and "GTX Pro" in ids
        assert ids <= set(t["products"]["product_id"])


def test_maven_pipeline_as_revenue_people_and_firmographics():
    t = load("maven_crm")
    assert t["revenue"]["amount"].sum() == pytest.approx(10_005_534.0)  # SOURCE.md: sum of close_value
    assert report_rows(t, "revenue", "lost") == 2_473
    assert report_rows(t, "revenue", "open") == 1_589 + 500
    assert report_rows(t, "activities", "no_account") == 1_425
    assert t["revenue"]["person_id"].nunique() == 30  # 30 of 35 agents have deals
    acme = t["third_party"].set_index("client_id").loc["Acme Corporation"]
    assert acme["employees"] == 2822 and acme["annual_revenue"] == pytest.approx(1_100.04e6)
    assert t["clients"].set_index("client_id").loc["Acme Corporation", "size_band"] == "Mid (1,000-4,999 staff)"


# --------------------------------------------------------------------------- Bank Marketing

def test_bank_dates_and_ids_match_the_row_order():
    """Re-derive each row's year from the file's date order (a new year when the month goes back)
    and its id from the row text; the mapping's (client, month) pairs must be exactly these."""
    raw = pd.read_csv(_data("bank_marketing") / "bank-additional-full.csv", sep=";", dtype=str,
                      keep_default_na=False)
    months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    month = raw["month"].map(lambda m: months.index(m) + 1)
    year = 2008 + (month.diff() < 0).cumsum()
    text = raw.apply(lambda r: "|".join(r.to_numpy()), axis=1)
    digest = text.map(lambda s: hashlib.md5(s.encode()).hexdigest()[:12])
    ids = digest + "-" + (text.groupby(text).cumcount() + 1).astype(str)
    dates = pd.to_datetime(pd.DataFrame({"year": year, "month": month, "day": 1}))
    expected = Counter(zip(ids, dates))
    act = load("bank_marketing")["activities"]
    assert Counter(zip(act["client_id"], act["timestamp"])) == expected
    rev = load("bank_marketing")["revenue"]
    yes = raw["y"] == "yes"
    assert Counter(zip(rev["client_id"], rev["date"])) == Counter(zip(ids[yes], dates[yes]))
    assert (rev["amount"] == 1.0).all()
    assert ids.nunique() == 41_188 and (text.duplicated()).sum() == 12


def test_bank_macro_indicators_are_monthly_market_context():
    ev = load("bank_marketing")["market_events"].set_index("date")
    may08 = ev.loc[pd.Timestamp("2008-05-01")]
    assert may08["cons_price_idx"] == pytest.approx(93.994) and may08["emp_var_rate"] == pytest.approx(1.1)
    assert may08["topic"] == "Deposits" and 4.8 < may08["magnitude"] < 5.0
    act = load("bank_marketing")["activities"]
    assert (act["outcome"] == "unanswered").sum() == 4  # the four calls of 0 seconds


# --------------------------------------------------------------------------- Olist

def test_olist_funnel_blank_origins_become_unknown():
    t = load("olist_marketing_funnel")
    origin = t["clients"]["tag_origin"].value_counts()
    assert origin["unknown"] == 1_099 + 60 and origin["organic_search"] == 2_296
    assert set(t["revenue"]["client_id"]) <= set(t["clients"]["client_id"])


@pytest.fixture(scope="module")
def olist_raw():
    """The sample's items, orders, customers and reviews joined with pandas (independently of the mapping)."""
    folder = _data("olist_ecommerce")

    def read(name):
        return pd.read_csv(folder / f"olist_{name}_dataset.csv", dtype=str)

    orders = read("orders").merge(read("customers"), on="customer_id", how="left", validate="one_to_one")
    items = read("order_items").merge(orders, on="order_id", how="left", validate="many_to_one")
    reviews = read("order_reviews").merge(orders, on="order_id", how="left", validate="many_to_one")
    return {"orders": orders, "items": items, "reviews": reviews}


def test_olist_clients_are_customers_reached_through_two_joins(olist_raw):
    t = load("olist_ecommerce")
    orders, items, reviews = olist_raw["orders"], olist_raw["items"], olist_raw["reviews"]
    # clients: one per customer_unique_id, region = the customer's state, onboarded on the first order
    clients = t["clients"].set_index("client_id").sort_index()
    state = orders.groupby("customer_unique_id")["customer_state"].first()
    assert len(clients) == len(state) == 3_998
    assert clients["region"].to_dict() == state.to_dict()
    first = pd.to_datetime(orders["order_purchase_timestamp"]).dt.normalize().groupby(orders["customer_unique_id"]).min()
    assert (clients["onboarded_on"] == first).all()
    # revenue: items of orders not cancelled, credited to the customer, dated on the purchase day
    cancelled = items["order_status"] == "canceled"
    assert report_rows(t, "revenue", "cancelled_order") == int(cancelled.sum()) == 22
    kept = items[~cancelled]
    rev = t["revenue"]
    assert len(rev) == len(kept) == 4_497
    want = (kept["price"].astype(float) + kept["freight_value"].astype(float)).groupby(kept["customer_unique_id"]).sum()
    got = rev.groupby("client_id")["amount"].sum()
    assert got.index.tolist() == want.index.tolist() and np.allclose(got.to_numpy(), want.to_numpy())
    date = rev.set_index("transaction_id")["date"].loc[(kept["order_id"] + "-" + kept["order_item_id"]).to_numpy()]
    assert (date.to_numpy() == pd.to_datetime(kept["order_purchase_timestamp"]).dt.normalize().to_numpy()).all()
    assert rev["transaction_id"].tolist() == (kept["order_id"] + "-" + kept["order_item_id"]).tolist()  # file order
    assert (rev.groupby("client_id")["region"].first() == state.loc[got.index]).all()
    # surveys: every review reaches its customer
    assert Counter(t["surveys"]["client_id"]) == Counter(reviews["customer_unique_id"])
    assert set(t["products"]["category"]) >= {"bed_bath_table", "health_beauty", "unknown"}  # English names


def test_olist_one_order_customers_are_the_data(olist_raw):
    """A random order sample: 2 of 3,998 customers ordered twice; both orders go to the one client."""
    orders = olist_raw["orders"]
    repeat = orders.groupby("customer_unique_id")["order_id"].nunique()
    assert (repeat > 1).sum() == 2
    t = load("olist_ecommerce")
    rev = t["revenue"]
    orders_per_client = rev["transaction_id"].str.split("-").str[0].groupby(rev["client_id"]).nunique()
    assert set(orders_per_client[orders_per_client > 1].index) <= set(repeat[repeat > 1].index)
    assert report_rows(t, "clients", "derive.onboarded_on") == 2


# --------------------------------------------------------------------------- the worked example

def test_crm_example_maps_as_the_doc_says():
    t = io.load_source(EXAMPLES, mapping=EXAMPLES / "crm_export.yaml")
    validate.validate(t, problems=t.problems)
    rev = t["revenue"]
    # 12 of the 17 opportunities are won, in USD, with an account (hand count); 142,500.00 in total
    # (12,500 + 4,000 + 48,000 + 6,500 + 15,250.50 - 1,250.50 + 30,000 + 5,000 + 3,200 + 9,000 + 7,500 + 2,800)
    assert len(rev) == 12 and rev["amount"].sum() == pytest.approx(142_500.0)
    assert rev.set_index("transaction_id").loc["006-009", "amount"] == -1250.5
    assert rev.set_index("transaction_id").loc["006-001", "date"] == pd.Timestamp("2025-02-14")
    got = dict(zip(t.mapping_report["rule"], t.mapping_report["rows"]))
    assert got == {"no_firmographics": 1, "lost": 1, "open": 2, "no_account": 1, "other_currency": 1, "note": 1}
    act = t["activities"]
    assert act["activity_type"].value_counts().to_dict() == {"meeting": 4, "call": 4, "email": 3}
    assert act["outcome"].value_counts().to_dict() == {"attended": 3, "unanswered": 2, "answered": 2,
                                                        "opened": 1, "replied": 1, "no_show": 1, "unopened": 1}
    assert t["clients"].set_index("client_id").loc["001C", "size_band"] == "Large (5,000+ staff)"
    assert t["third_party"].set_index("client_id").loc["001C", "annual_revenue"] == 1.1e9


def test_readme_example_is_the_mapping_file():
    """The README's CRM excerpt is the real crm_export.yaml (revenue and activities), not a paraphrase."""
    import re

    import yaml

    text = (paths.ROOT / "README.md").read_text()
    section = text[text.index("## Bring your own data"):text.index("## What a run writes")]
    block = re.search(r"```yaml\n(.*?)```", section, re.DOTALL).group(1)
    shown = mapping.parse_mapping(yaml.safe_load(block)).tables
    real = mapping.load_mapping(EXAMPLES / "crm_export.yaml").tables
    assert set(shown) == {"revenue", "activities"} and all(shown[t] == real[t] for t in shown)
    for doc in ("docs/bring-your-own-data.md", "docs/mapping.md", "docs/real-data.md"):
        assert f"]({doc})" in section


def test_mapping_doc_shows_the_online_retail_mapping_it_tells_you_to_follow():
    """docs/mapping.md's Online Retail excerpt used to be a different, shorter mapping than the tested
    data/mappings/online_retail.yaml (no book-keeping rules): the doc now names the file to follow and
    its excerpt is that file's revenue table."""
    import re

    import yaml

    text = (paths.ROOT / "docs" / "mapping.md").read_text()
    section = text[text.index("* UCI Online Retail"):]
    assert "follow `data/mappings/online_retail.yaml`" in section
    block = re.search(r"```yaml\n(.*?)```", section, re.DOTALL).group(1)
    shown = mapping.parse_mapping({"tables": yaml.safe_load(block)}).tables
    real = mapping.load_mapping(MAPPINGS / "online_retail.yaml").tables
    assert set(shown) == {"revenue"} and shown["revenue"] == real["revenue"]


def test_mapping_files_parse_without_the_data():
    for path in [*MAPPINGS.glob("*.yaml"), EXAMPLES / "crm_export.yaml"]:
        m = mapping.load_mapping(path)
        assert "revenue" in m.tables and m.description


# --------------------------------------------------------------------------- end to end

def real_params(name: str) -> dict:
    """The notebook parameters `make real` gives a dataset (REAL_PARAMS_<name> in Makefile.real)."""
    import re
    import shlex

    from clientstrategy.cli import parse_param

    text = (paths.ROOT / "Makefile.real").read_text().replace("\\\n", " ")
    found = re.search(rf"^REAL_PARAMS_{name} := (.+)$", text, re.MULTILINE)
    words = shlex.split(found.group(1)) if found else []
    assert words[::2] == ["--param"] * (len(words) // 2)
    return dict(parse_param(w) for w in words[1::2])


def test_makefile_real_parameters_are_declared_by_the_notebooks():
    from clientstrategy.runner import check_parameters, declared_parameters, notebook_list

    declared = {k for nb in notebook_list(paths.NOTEBOOKS) for k in declared_parameters(nb)}
    params = real_params("olist_ecommerce")
    assert params["comment_language"] == "portuguese" and "5 -> 10" in params["score_note"]
    for name in SOURCES:
        check_parameters(real_params(name), declared)


def test_a_missing_dataset_fails_under_required_and_skips_otherwise(monkeypatch, tmp_path):
    """The real-data and published-result tests read ../shared/datasets from the project root; in CI
    (CLIENTSTRATEGY_SYSTEM_TESTS=required) a missing dataset is a failure, not a skip."""
    from conftest import SYSTEM_TESTS_ENV, shared_dataset

    assert DATASETS == paths.ROOT.parent / "shared" / "datasets"
    missing = tmp_path / "no_such_dataset"
    monkeypatch.delenv(SYSTEM_TESTS_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception):
        need_dataset(missing)
    assert shared_dataset("no_such_dataset") == DATASETS / "no_such_dataset"  # the module imports; its skipif skips
    monkeypatch.setenv(SYSTEM_TESTS_ENV, "required")
    with pytest.raises(pytest.fail.Exception, match="failure, not a skip"):
        need_dataset(missing)
    with pytest.raises(pytest.fail.Exception, match="failure, not a skip"):
        shared_dataset("no_such_dataset")
    assert need_dataset(DATASETS) == DATASETS if DATASETS.is_dir() else True
