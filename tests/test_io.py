"""io: reading sources into typed canonical tables; fixtures are written here, by hand."""
import duckdb
import numpy as np
import pandas as pd
import pytest
import sqlalchemy

from clientstrategy import io


def _tables():
    """Small canonical tables as an upstream system would hold them (ids as text)."""
    clients = pd.DataFrame({"client_id": ["007", "C2", "C3"], "region": ["EU", None, "US"],
                            "onboarded_on": pd.to_datetime(["2023-01-15", "2023-02-01", None]),
                            "tag_importance": ["high", "low", "low"]})
    revenue = pd.DataFrame({"date": pd.to_datetime(["2024-01-05", "2024-02-10", "2024-02-10", "2024-03-01"]),
                            "client_id": ["007", "C2", "C2", "C3"], "amount": [100.5, -20.0, 35.25, 1e6],
                            "product_id": ["P1", None, "P1", "P2"]})
    surveys = pd.DataFrame({"date": pd.to_datetime(["2024-03-31", "2024-03-31"]), "client_id": ["007", "C3"],
                            "nps": [9, 3], "rating_service": [8.5, 2.0], "wave": ["2024Q1", "2024Q1"]})
    activities = pd.DataFrame({"timestamp": pd.to_datetime(["2024-01-02 09:30:00", "2024-01-03 14:00:00"]),
                               "client_id": ["007", "C2"], "activity_type": ["call", "meeting"],
                               "duration_min": [15.0, 60.0]})
    return {"clients": clients, "revenue": revenue, "surveys": surveys, "activities": activities}


def _expected_dtypes(t):
    assert str(t["revenue"]["date"].dtype) == "datetime64[ns]"
    assert str(t["activities"]["timestamp"].dtype) == "datetime64[ns]"
    assert t["revenue"]["client_id"].dtype == pd.StringDtype(na_value=np.nan)
    assert t["revenue"]["amount"].dtype == np.float64
    assert str(t["surveys"]["nps"].dtype) == "Int64"
    assert t["surveys"]["rating_service"].dtype == np.float64


def _write_all(tmp_path):
    tables = _tables()
    csv, pq = tmp_path / "csv", tmp_path / "pq"
    csv.mkdir()
    pq.mkdir()
    for name, df in tables.items():
        df.to_csv(csv / f"{name}.csv", index=False)
        df.to_parquet(pq / f"{name}.parquet", index=False)
    ddb = tmp_path / "data.duckdb"
    with duckdb.connect(str(ddb)) as con:
        for name, df in tables.items():
            con.register("frame", df)
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")
            con.unregister("frame")
    sqlite = tmp_path / "data.sqlite"
    engine = sqlalchemy.create_engine(f"sqlite:///{sqlite}")
    for name, df in tables.items():
        df.to_sql(name, engine, index=False)
    engine.dispose()
    return {"csv": csv, "parquet": pq, "duckdb": ddb, "sqlite_url": f"sqlite:///{sqlite}"}


def test_csv_parquet_duckdb_sqlite_load_the_same_typed_tables(tmp_path):
    sources = _write_all(tmp_path)
    loaded = {kind: io.load_source(src) for kind, src in sources.items()}
    ref = loaded["csv"]
    assert list(ref) == ["clients", "revenue", "activities", "surveys"]
    _expected_dtypes(ref)
    assert ref["clients"]["client_id"].tolist() == ["007", "C2", "C3"]
    assert ref["clients"]["region"].isna().tolist() == [False, True, False]
    assert ref["revenue"]["amount"].tolist() == [100.5, -20.0, 35.25, 1e6]
    assert ref["surveys"]["nps"].tolist() == [9, 3]
    for kind, tables in loaded.items():
        assert len(tables.problems) == 0, kind
        assert list(tables) == list(ref), kind
        for name in ref:
            pd.testing.assert_frame_equal(tables[name], ref[name], obj=f"{kind}.{name}")
        assert io.fingerprint(tables) == io.fingerprint(ref), kind
    assert io.list_tables(sources["duckdb"])["revenue"].endswith("#revenue")
    assert set(io.list_tables(sources["sqlite_url"])) == {"clients", "revenue", "activities", "surveys"}


def test_xlsx_and_single_file_sources(tmp_path):
    rev = _tables()["revenue"]
    rev.to_excel(tmp_path / "revenue.xlsx", index=False)
    t = io.load_source(tmp_path)
    assert t["revenue"]["client_id"].tolist() == ["007", "C2", "C2", "C3"]
    assert t["revenue"]["date"].tolist() == rev["date"].tolist()
    single = tmp_path / "one"
    single.mkdir()
    rev.to_csv(single / "revenue.csv", index=False)
    assert list(io.load_source(single / "revenue.csv")) == ["revenue"]


def test_id_text_preserved_and_float_ids_lose_point_zero(tmp_path):
    (tmp_path / "clients.csv").write_text("client_id,owner_id\n007,0042\n 12 ,\n")
    pd.DataFrame({"date": pd.to_datetime(["2024-01-01", "2024-01-02"]), "client_id": [17850.0, np.nan],
                  "amount": [1, 2]}).to_parquet(tmp_path / "revenue.parquet")
    t = io.load_source(tmp_path)
    assert t["clients"]["client_id"].tolist() == ["007", "12"]
    assert t["clients"]["owner_id"].iloc[0] == "0042" and pd.isna(t["clients"]["owner_id"].iloc[1])
    assert t["revenue"]["client_id"].iloc[0] == "17850" and pd.isna(t["revenue"]["client_id"].iloc[1])
    assert t["revenue"]["amount"].dtype == np.float64


def test_extra_columns_kept_and_tables_filter(tmp_path):
    src = _write_all(tmp_path)["csv"]
    t = io.load_source(src, tables=["clients"])
    assert list(t) == ["clients"]
    assert t["clients"].columns.tolist() == ["client_id", "region", "onboarded_on", "tag_importance"]
    with pytest.raises(ValueError, match="'invoices'"):
        io.load_source(src, tables=["invoices"])


def test_coerce_collects_problems_without_raising():
    raw = pd.DataFrame({"date": ["2024-01-05", "2024-13-45", "", "20240107"],
                        "client_id": ["A", "B", "C", "D"],
                        "amount": ["1,200.50", "ten", "$3", "-4"]})
    typed, problems = io.coerce(raw, "revenue")
    assert typed["date"].tolist()[0] == pd.Timestamp("2024-01-05")
    assert pd.isna(typed["date"].iloc[1]) and pd.isna(typed["date"].iloc[2])
    assert typed["date"].iloc[3] == pd.Timestamp("2024-01-07")
    assert typed["amount"].tolist()[0] == 1200.5 and typed["amount"].tolist()[2:] == [3.0, -4.0]
    got = {(r.column, r.check): (r.count, r.examples) for r in problems.itertuples()}
    # the empty date is missing, not unparseable: only '2024-13-45' and 'ten' are problems
    assert got == {("date", "unparseable_date"): (1, ["row 2 (client_id B): '2024-13-45'"]),
                   ("amount", "unparseable_number"): (1, ["row 2 (client_id B): 'ten'"])}
    assert raw["amount"].tolist()[0] == "1,200.50"  # input untouched


def test_coerce_dates_month_first_and_day_first_and_nps_whole():
    typed, problems = io.coerce(pd.DataFrame({"date": ["1/15/2024", "2/3/2024"], "client_id": ["a", "b"],
                                              "nps": ["7", "7.5"]}), "surveys")
    assert typed["date"].tolist() == [pd.Timestamp("2024-01-15"), pd.Timestamp("2024-02-03")]
    assert typed["nps"].tolist()[0] == 7 and pd.isna(typed["nps"].iloc[1])
    assert problems[["column", "check", "count"]].values.tolist() == [["nps", "not_whole_number", 1]]
    typed, _ = io.coerce(pd.DataFrame({"date": ["15/01/2024", "03/02/2024"]}), "market_events")
    assert typed["date"].tolist() == [pd.Timestamp("2024-01-15"), pd.Timestamp("2024-02-03")]


def test_fingerprint_independent_of_row_and_column_order_but_not_of_values(tmp_path):
    t = io.load_source(_write_all(tmp_path)["csv"])
    shuffled = {name: df.sample(frac=1.0, random_state=3)[df.columns[::-1]] for name, df in reversed(t.items())}
    assert io.fingerprint(shuffled) == io.fingerprint(t)
    changed = dict(t)
    rev = t["revenue"].copy()
    rev.loc[0, "amount"] = 100.51
    changed["revenue"] = rev
    assert io.fingerprint(changed) != io.fingerprint(t)
    assert io.fingerprint({k: v for k, v in t.items() if k != "surveys"}) != io.fingerprint(t)
    assert len(io.fingerprint(t)) == 64


def test_a_table_in_two_formats_is_refused(tmp_path):
    pd.DataFrame({"client_id": ["1"]}).to_csv(tmp_path / "clients.csv", index=False)
    pd.DataFrame({"client_id": ["1"]}).to_parquet(tmp_path / "clients.parquet")
    with pytest.raises(ValueError, match="clients"):
        io.list_tables(tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        io.load_source(tmp_path / "nowhere")


def test_unreadable_parquet_becomes_a_problem_naming_the_file(tmp_path):
    (tmp_path / "revenue.parquet").write_bytes(b"not a parquet file at all")
    t = io.load_source(tmp_path)
    assert "revenue" not in t
    rec = t.problems.iloc[0]
    assert (rec["table"], rec["check"], rec["count"]) == ("revenue", "unreadable_file", 1)
    assert "revenue.parquet" in rec["examples"][0]
