"""mapping: every key of the format on tiny hand-written fixtures, and the bundled CDNOW mapping."""
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import sqlalchemy
import yaml

from clientstrategy import io
from clientstrategy.mapping import Mapping, apply_mapping, load_mapping, parse_mapping
from clientstrategy.paths import MAPPINGS
from clientstrategy.validate import validate
from conftest import shared_dataset

CDNOW = shared_dataset("cdnow")  # ../shared/datasets beside the project (tests/conftest.py)

# A Salesforce-style opportunity export: spaces in headers, US dates, thousands separators,
# an open opportunity, a row without account.
OPPS = (
    "Opportunity Id,Account Id,Account Name,Billing Region,Close Date,Amount,Stage,Owner Id\n"
    "O1,001A,Acme,EMEA,1/15/2024,\"1,200.50\",Closed Won,U1\n"
    "O2,001A,Acme,EMEA,2/3/2024,300,Closed Won,U2\n"
    "O3,001B,Bolt,AMER,2/20/2024,500,Open,U1\n"
    "O4,,Unknown,AMER,3/1/2024,75,Closed Won,U1\n"
    "O5,002C,Cora,APAC,3/5/2024,-40,Closed Won,U2\n"
    "O6,002C,Cora,EMEA,3/9/2024,60,Closed Won,U2\n"
)


def _write(path: Path, text: str, encoding="utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def _crm_mapping():
    return {
        "tables": {
            "revenue": {
                "from": {"file": "opps*.csv"},
                "where": "Stage = 'Closed Won'",
                "exclude": {"no_account": {"when": '"Account Id" IS NULL', "reason": "no account on the deal"}},
                "select": {
                    "client_id": "Account Id",                                   # plain rename
                    "date": "strptime(\"Close Date\", '%m/%d/%Y')",              # expression
                    "amount": "CAST(replace(Amount, ',', '') AS DOUBLE)",
                    "person_id": "Owner Id",
                    "region": "Billing Region",
                },
            },
            "clients": {
                "from": "revenue",
                "derive": "distinct",
                "select": {"client_id": "client_id", "region": "region"},
                "values": {"region": {"EMEA": "Europe", "AMER": "Americas"}},
            },
        }
    }


def test_rename_expression_where_exclude_derive_values(tmp_path):
    _write(tmp_path / "opps_2024.csv", OPPS)
    m = parse_mapping(_crm_mapping())
    out = apply_mapping(m, tmp_path)
    rev = out["revenue"]
    # O3 is open (where), O4 has no account (exclude): four lines remain, in file order
    assert rev["client_id"].tolist() == ["001A", "001A", "002C", "002C"]
    assert rev["amount"].tolist() == [1200.5, 300.0, -40.0, 60.0]
    assert rev["date"].tolist() == [pd.Timestamp(d) for d in ("2024-01-15", "2024-02-03", "2024-03-05", "2024-03-09")]
    assert rev.columns.tolist() == ["client_id", "date", "amount", "person_id", "region"]
    cl = out["clients"]
    # one row per client; Cora's region differs (APAC, EMEA): the smallest value is kept, then
    # recoded (EMEA -> Europe); APAC has no recoding and is kept as it is
    assert cl.values.tolist() == [["001A", "Europe"], ["002C", "APAC"]]
    rep = m.report
    assert rep.columns.tolist() == ["table", "rule", "reason", "rows", "amount", "amount_share"]
    assert rep[["table", "rule", "rows"]].values.tolist() == [
        ["revenue", "where", 1], ["revenue", "no_account", 1], ["clients", "derive.region", 1]]
    assert rep.loc[rep["rule"] == "no_account", "reason"].item() == "no account on the deal"


def test_exclude_rules_count_rows_not_already_removed(tmp_path):
    _write(tmp_path / "o.csv", "cid,amt\nA,1\n,2\n,-3\nB,-4\nC,5\n")
    m = parse_mapping({"tables": {"revenue": {
        "from": {"file": "o.csv", "types": {"amt": "DOUBLE"}},
        "exclude": {"guest": {"when": "cid IS NULL", "reason": "guest checkout"},
                    "refund": {"when": "amt < 0", "reason": "refunds are booked elsewhere"}},
        "select": {"client_id": "cid", "amount": "amt", "date": "DATE '2024-01-01'"}}}})
    out = apply_mapping(m, tmp_path)["revenue"]
    assert out["client_id"].tolist() == ["A", "C"]
    # the row (NULL, -3) is counted once, by the first rule that removes it
    assert m.report[["rule", "rows"]].values.tolist() == [["guest", 2], ["refund", 1]]


def test_load_source_with_mapping_types_and_validates(tmp_path):
    _write(tmp_path / "opps_a.csv", OPPS)
    _write(tmp_path / "opps_b.csv", OPPS.splitlines()[0] + "\nO9,003D,Dune,APAC,4/1/2024,10,Closed Won,U3\n")
    # a canonical file the mapping does not define is read as it is
    _write(tmp_path / "people.csv", "person_id,person_name\nU1,Ann\nU2,Bob\nU3,Cy\n")
    path = tmp_path / "crm.yaml"
    path.write_text(yaml.safe_dump(_crm_mapping()))
    t = io.load_source(tmp_path, mapping=path)
    assert list(t) == ["clients", "people", "revenue"]
    assert t["revenue"]["client_id"].tolist()[-1] == "003D"  # both files matched by the glob
    assert str(t["revenue"]["date"].dtype) == "datetime64[ns]"
    assert t["revenue"]["region"].tolist()[0] == "EMEA"  # unknown extra column kept
    assert t.sources["revenue"].startswith("mapping ") and t.sources["people"].endswith("people.csv")
    assert t.mapping_report["rows"].sum() == 3
    validate(t)


def test_read_options_sep_encoding_header_names_skip(tmp_path):
    text = "exported by CRM\nAcc;Tag;Euro\nX1;caf\u00e9;12.5\nX2;th\u00e9;7\n"
    _write(tmp_path / "latin.txt", text, encoding="latin-1")
    base = {"select": {"client_id": "acc", "amount": "eur", "date": "DATE '2024-05-01'", "tag_drink": "tag"}}
    m = parse_mapping({"tables": {"revenue": {
        "from": {"file": "latin.txt", "sep": ";", "encoding": "latin-1", "skip": 2, "header": False,
                 "names": ["acc", "tag", "eur"]}, **base}}})
    out = apply_mapping(m, tmp_path)["revenue"]
    assert out.values.tolist()[0][:2] == ["X1", "12.5"] and out["tag_drink"].tolist() == ["caf\u00e9", "th\u00e9"]
    # the same layout in UTF-8 goes through DuckDB's own reader
    _write(tmp_path / "utf8.txt", text)
    m2 = parse_mapping({"tables": {"revenue": {
        "from": {"file": "utf8.txt", "sep": ";", "skip": 2, "header": False, "names": ["acc", "tag", "eur"]},
        **base}}})
    pd.testing.assert_frame_equal(apply_mapping(m2, tmp_path)["revenue"], out, check_dtype=False)
    # without an encoding the latin-1 file is an error naming table, key and file
    m3 = parse_mapping({"tables": {"revenue": {"from": {"file": "latin.txt", "sep": ";", "skip": 1}, **base}}})
    with pytest.raises(ValueError, match=r"'revenue', key 'from'.*latin.txt"):
        apply_mapping(m3, tmp_path)


def test_parquet_and_xlsx_files(tmp_path):
    df = pd.DataFrame({"CustomerID": [17850.0, None, 13047.0], "InvoiceDate": ["2010-12-01 08:26:00"] * 3,
                       "Price": [2.55, 3.39, 1.0], "Qty": [6, 6, 2]})
    df.to_parquet(tmp_path / "retail.parquet")
    df.to_excel(tmp_path / "retail.xlsx", index=False)
    spec = {"exclude": {"no_customer": {"when": "CustomerID IS NULL", "reason": "rows without CustomerID"}},
            "select": {"client_id": "CustomerID", "date": "InvoiceDate", "amount": "CAST(Price AS DOUBLE) * Qty",
                       "quantity": "Qty"}}
    results = []
    for f in ("retail.parquet", "retail.xlsx"):
        m = parse_mapping({"tables": {"revenue": {"from": {"file": f, "types": {"Qty": "INTEGER"}}, **spec}}})
        t = io.load_source(tmp_path, mapping=m)
        assert m.report[["rule", "rows"]].values.tolist() == [["no_customer", 1]]
        results.append(t["revenue"])
    for r in results:
        assert r["client_id"].tolist() == ["17850", "13047"]
        assert r["amount"].tolist() == [pytest.approx(15.3), 2.0]
        assert r["date"].tolist() == [pd.Timestamp("2010-12-01")] * 2  # a date keeps the day only


def test_database_sources_from_table(tmp_path):
    raw = pd.DataFrame({"acct": ["007", "008"], "day": ["2024-01-02", "2024-01-03"], "usd": [5.0, 6.0]})
    ddb = tmp_path / "crm.duckdb"
    with duckdb.connect(str(ddb)) as con:
        con.register("frame", raw)
        con.execute("CREATE TABLE deals AS SELECT * FROM frame")
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'crm.sqlite'}")
    raw.to_sql("deals", engine, index=False)
    engine.dispose()
    spec = {"tables": {"revenue": {"from": {"table": "deals"},
                                   "select": {"client_id": "acct", "date": "day", "amount": "usd"}}}}
    for source in (ddb, f"sqlite:///{tmp_path / 'crm.sqlite'}"):
        t = io.load_source(source, mapping=parse_mapping(spec))
        assert t["revenue"]["client_id"].tolist() == ["007", "008"]
        assert t["revenue"]["amount"].tolist() == [5.0, 6.0]
    with pytest.raises(ValueError, match="needs a database source"):
        apply_mapping(parse_mapping(spec), tmp_path)


def test_malformed_mappings_name_table_and_key(tmp_path):
    bad = [
        ({"tables": {"invoices": {"from": "x.csv"}}}, "'invoices' is not a canonical table"),
        ({"tables": {"revenue": {"from": "x.csv", "selct": {}}}}, "'revenue', key 'selct'"),
        ({"tables": {"revenue": {"select": {"a": "b"}}}}, "'revenue', key 'from'"),
        ({"tables": {"clients": {"from": "revenue", "derive": "distinct", "select": {"client_id": "c"}}}},
         "'clients', key 'from'.*not defined"),
        ({"tables": {"revenue": {"from": "clients"}, "clients": {"from": "revenue"}}}, "cycle"),
        ({"tables": {"revenue": {"from": "x.csv", "derive": "unique"}}}, "'revenue', key 'derive'"),
        ({"tables": {"revenue": {"from": "x.csv", "exclude": {"r": {"when": "a"}}}}}, "key 'exclude.r'"),
        ({"tables": {"revenue": {"from": {"file": "x.csv", "delim": ";"}}}}, r"unknown option\(s\) \['delim'\]"),
    ]
    for spec, message in bad:
        with pytest.raises(ValueError, match=message):
            parse_mapping(spec)
    _write(tmp_path / "x.csv", "a,b\n1,2\n")
    m = parse_mapping({"tables": {"revenue": {"from": "x.csv", "select": {"amount": "no_such_column + 1"}}}})
    with pytest.raises(ValueError, match="'revenue', key 'select'.*no_such_column"):
        apply_mapping(m, tmp_path)
    m = parse_mapping({"tables": {"revenue": {"from": "missing_*.csv"}}})
    with pytest.raises(ValueError, match="no file matches 'missing_\\*.csv'"):
        apply_mapping(m, tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        load_mapping(tmp_path / "none.yaml")


@pytest.mark.skipif(not (CDNOW / "CDNOW_master.txt").exists(), reason="shared CDNOW data not on this machine")
def test_cdnow_mapping_loads_the_published_totals():
    m = load_mapping(MAPPINGS / "cdnow.yaml")
    assert isinstance(m, Mapping) and list(m.tables) == ["revenue", "clients"]
    t = io.load_source(CDNOW, mapping=m)
    rev, clients = t["revenue"], t["clients"]
    # SOURCE.md: 69,659 transactions, 23,570 customers, 1997-01-01..1998-06-30, $2,500,315.63
    assert len(rev) == 69_659 and rev["client_id"].nunique() == 23_570 and len(clients) == 23_570
    assert rev["amount"].sum() == pytest.approx(2_500_315.63, abs=0.005)
    assert (rev["date"].min(), rev["date"].max()) == (pd.Timestamp("1997-01-01"), pd.Timestamp("1998-06-30"))
    assert rev.iloc[0][["client_id", "amount", "quantity"]].tolist() == ["00001", 11.77, 1.0]
    # derived onboarding = each client's first purchase day, and the cohort first bought in Q1 1997
    first = rev.groupby("client_id")["date"].min()
    pd.testing.assert_series_equal(clients.set_index("client_id")["onboarded_on"], first, check_names=False)
    assert clients["onboarded_on"].between(pd.Timestamp("1997-01-01"), pd.Timestamp("1997-03-31")).all()
    assert len(t.problems) == 0
    validate(t, as_of=pd.Timestamp("1998-06-30"))


def test_types_failures_reported_values_nulls_and_header_names(tmp_path):
    _write(tmp_path / "t.csv", "A,B,C\nx,1,EU\ny,two,\nz,3,n/a\n")
    m = parse_mapping({"tables": {"revenue": {
        "from": {"file": "t.csv", "header": True, "names": ["cid", "qty", "reg"], "types": {"qty": "INTEGER"}},
        "where": "qty IS NULL OR qty > 1",
        "select": {"client_id": "cid", "quantity": "qty", "region": "reg", "amount": "1.0", "date": "'2024-01-01'"},
        "values": {"region": {None: "unknown", "n/a": None, "EU": "Europe"}}}}})
    out = apply_mapping(m, tmp_path)["revenue"]
    # header replaced by names; 'two' is not an INTEGER -> null (kept by the where), reported
    assert out["client_id"].tolist() == ["y", "z"]
    assert out["region"].tolist()[0] == "unknown" and pd.isna(out["region"].iloc[1])
    assert m.report[["rule", "rows"]].values.tolist() == [["types.qty", 1], ["where", 1]]


def test_join_brings_columns_from_a_second_file(tmp_path):
    _write(tmp_path / "items.csv", "order_id,price,day\nA,10,2024-01-01\nA,5,2024-01-01\nB,7,2024-01-02\nC,1,2024-01-03\n")
    _write(tmp_path / "orders.csv", "order_id,Customer Key\nA,K1\nB,K2\n")
    spec = {"tables": {"revenue": {
        "from": "items.csv",
        "join": {"orders": {"from": "orders.csv", "on": "orders.order_id = src.order_id"}},
        "select": {"client_id": "Customer Key", "amount": "CAST(price AS DOUBLE)", "date": "day",
                   "transaction_id": "order_id"}}}}
    # the same written as YAML, where a bare `on:` key is read as True by PyYAML
    (tmp_path / "join.yaml").write_text(
        "tables:\n  revenue:\n    from: items.csv\n    join:\n      orders:\n        from: orders.csv\n"
        "        on: orders.order_id = src.order_id\n    select:\n      client_id: Customer Key\n"
        "      amount: CAST(price AS DOUBLE)\n      date: day\n      transaction_id: order_id\n")
    assert load_mapping(tmp_path / "join.yaml").tables["revenue"] == parse_mapping(spec).tables["revenue"]
    m = parse_mapping(spec)
    out = apply_mapping(m, tmp_path)["revenue"]
    # left join: C has no order and keeps a null client; the plain name "Customer Key" is found in the join
    assert out["client_id"].tolist()[:3] == ["K1", "K1", "K2"] and pd.isna(out["client_id"].iloc[3])
    assert out["transaction_id"].tolist() == ["A", "A", "B", "C"]  # 'order_id' resolves to the main file first
    spec["tables"]["revenue"]["join"]["orders"]["how"] = "inner"
    m = parse_mapping(spec)
    assert len(apply_mapping(m, tmp_path)["revenue"]) == 3
    assert m.report[["rule", "rows"]].values.tolist() == [["join", 1]]
    # a join that would duplicate revenue lines is refused
    _write(tmp_path / "orders.csv", "order_id,Customer Key\nA,K1\nA,K9\nB,K2\n")
    with pytest.raises(ValueError, match=r"'revenue', key 'join'.*4 rows became 5"):
        apply_mapping(parse_mapping(spec), tmp_path)
    with pytest.raises(ValueError, match="key 'join.src'"):
        parse_mapping({"tables": {"revenue": {"from": "items.csv", "select": {"client_id": "x"},
                                              "join": {"src": {"from": "orders.csv", "on": "TRUE"}}}}})


def test_chained_joins_reach_a_key_two_files_away(tmp_path):
    """Olist's layout: an item reaches its customer through the order (the second join's `on`
    names the first join's alias); an exclude rule may test a joined column."""
    _write(tmp_path / "items.csv", "order_id,price\nA,10\nA,5\nB,7\nC,1\n")
    _write(tmp_path / "orders.csv", "order_id,customer_id,status\nA,c1,ok\nB,c2,ok\nC,c3,canceled\n")
    _write(tmp_path / "customers.csv", "customer_id,person\nc1,P1\nc2,P1\nc3,P2\n")
    m = parse_mapping({"tables": {"revenue": {
        "from": "items.csv",
        "join": {"orders": {"from": "orders.csv", "on": "orders.order_id = src.order_id"},
                 "customers": {"from": "customers.csv", "on": "customers.customer_id = orders.customer_id"}},
        "exclude": {"cancelled": {"when": "orders.status = 'canceled'", "reason": "cancelled order"}},
        "select": {"client_id": "person", "amount": "CAST(price AS DOUBLE)", "date": "'2024-01-01'",
                   "transaction_id": "src.order_id"}}}})
    out = apply_mapping(m, tmp_path)["revenue"]
    assert out[["client_id", "transaction_id"]].values.tolist() == [["P1", "A"], ["P1", "A"], ["P1", "B"]]
    assert m.report[["rule", "rows"]].values.tolist() == [["cancelled", 1]]


def test_ids_an_expression_made_equal_are_reported_with_their_source_values(tmp_path):
    """A product_id built with trim() made '85123A' and '85123A ' one id: validate reported the
    duplicate with the trimmed value only, so the two source values that collide were invisible."""
    from clientstrategy import io, validate

    _write(tmp_path / "lines.csv", "Code,Cust,Day,Amt\n85123A,1,2024-01-05,10\n85123A ,2,2024-01-06,5\n"
                                   "22423,2,2024-01-07,7\n22423,3,2024-01-08,9\n")
    m = parse_mapping({"tables": {
        "revenue": {"from": "lines.csv", "select": {"client_id": "Cust", "date": "Day", "amount": "CAST(Amt AS DOUBLE)",
                                                    "product_id": "trim(Code)"}},
        "products": {"from": "lines.csv", "select": {"product_id": "trim(Code)", "product_name": "Code"}}}})
    tables = io.load_source(tmp_path, mapping=m)
    with pytest.raises(validate.DataValidationError) as err:
        validate.validate(tables)
    probs = err.value.problems
    dup = probs[(probs["table"] == "products") & (probs["check"] == "duplicate_ids")]
    assert len(dup) == 1 and dup["count"].iloc[0] == 4  # one problem, not one per source of it
    examples = " ".join(dup["examples"].iloc[0])
    assert "'85123A' (2 rows) from Code '85123A' (1 row), '85123A ' (1 row): 2 different source values made equal " \
           "by 'trim(Code)'" in examples
    assert "'22423' (2 rows) from Code '22423' (2 rows): the same source value" in examples
    assert "'85123A '" in str(err.value)  # the raw value, trailing space and all, is in the message


def test_report_gives_the_amount_each_rule_removed(tmp_path):
    """validate and mapping_report.csv say how much revenue each rule left out (Online Retail: the lines
    without a customer id hold 15% of the amount in the file, which nothing said)."""
    _write(tmp_path / "o.csv", "cid,amt,stage\nA,100,won\n,40,won\nB,60,lost\nC,-10,won\n,x,won\n")
    m = parse_mapping({"tables": {"revenue": {
        "from": "o.csv", "where": "stage = 'won'",
        "exclude": {"guest": {"when": "cid IS NULL", "reason": "guest checkout"}},
        "select": {"client_id": "cid", "amount": "CAST(amt AS DOUBLE)", "date": "DATE '2024-01-01'"}}}})
    out = apply_mapping(m, tmp_path)["revenue"]
    assert out["client_id"].tolist() == ["A", "C"]
    rep = m.report.set_index("rule")
    # every source line's amount: 100 + 40 + 60 - 10 = 190 ('x' is not a number and counts as nothing)
    assert rep.loc["where", "rows"] == 1 and rep.loc["where", "amount"] == 60.0
    assert rep.loc["guest", "rows"] == 2 and rep.loc["guest", "amount"] == 40.0
    assert rep.loc["guest", "amount_share"] == pytest.approx(40 / 190)
    from clientstrategy.validate import exclusion_sentences

    assert exclusion_sentences(m.report) == [
        "revenue, where: 1 row holding 60.00 (31.6% of the amount of every source line): stage = 'won'",
        "revenue, guest: 2 rows holding 40.00 (21.1% of the amount of every source line): guest checkout"]


def test_a_renamed_column_in_a_newer_export_is_found_or_named(tmp_path):
    """Variants of one export: 'Account Id' becomes 'Account ID' (found: names match without regard to
    case, as SQL names do), or 'AccountID' (the error names the nearest source column)."""
    _write(tmp_path / "o.csv", "Account ID,Close Date,Amount\nA,2024-01-05,10\n")

    def mapped(client):
        return parse_mapping({"tables": {"revenue": {"from": "o.csv", "select": {
            "client_id": client, "date": "Close Date", "amount": "Amount"}}}})

    assert apply_mapping(mapped("Account Id"), tmp_path)["revenue"]["client_id"].tolist() == ["A"]
    with pytest.raises(ValueError, match=r"client_id: no source column 'AccountID'; did you mean 'Account ID'\?"):
        apply_mapping(mapped("AccountID"), tmp_path)
