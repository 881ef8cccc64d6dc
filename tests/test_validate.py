"""validate: one test per kind of bad input (SPEC section 1), health checks and summaries."""
import re

import pandas as pd
import pytest

from clientstrategy import io
from clientstrategy.validate import DataValidationError, completeness, health_checks, table_summary, validate

REVENUE = "date,client_id,amount\n2024-01-05,C1,100\n2024-02-10,C2,50.5\n2024-03-01,C1,-10\n"
CLIENTS = "client_id,region\nC1,EU\nC2,US\nC3,\n"


def _folder(tmp_path, **files):
    for name, text in files.items():
        data = text if isinstance(text, bytes) else text.encode("utf-8")
        (tmp_path / f"{name}.csv").write_bytes(data)
    return tmp_path


def _errors(tables, **kw):
    with pytest.raises(DataValidationError) as info:
        validate(tables, **kw)
    return info.value


def _line(err, table, column, check):
    """The message line of one problem; it must name table, column and count."""
    lines = [ln for ln in str(err).splitlines() if f"table {table}, column {column}, count " in ln and f"[{check}]" in ln]
    assert len(lines) == 1, str(err)
    return lines[0]


def _count_in(line):
    return int(re.search(r", count (\d+): ", line).group(1))


def test_clean_input_passes(tmp_path):
    t = io.load_source(_folder(tmp_path, revenue=REVENUE, clients=CLIENTS))
    assert validate(t, as_of=pd.Timestamp("2024-03-31")) is None
    assert isinstance(DataValidationError(io.problems_frame([])), ValueError)


def test_missing_required_table(tmp_path):
    err = _errors(io.load_source(_folder(tmp_path, clients=CLIENTS)))
    line = _line(err, "revenue", "*", "missing_table")
    assert _count_in(line) == 0 and "clients" in line


def test_missing_required_column(tmp_path):
    t = io.load_source(_folder(tmp_path, revenue="date,client_id\n2024-01-05,C1\n2024-01-06,C2\n"))
    err = _errors(t)
    assert _count_in(_line(err, "revenue", "amount", "missing_column")) == 2


def test_unparseable_date(tmp_path):
    t = io.load_source(_folder(tmp_path, revenue="date,client_id,amount\n2024-01-05,C1,1\nlast tuesday,C2,2\n"
                                                 "2024-02-30,C3,3\n"))
    err = _errors(t)
    line = _line(err, "revenue", "date", "unparseable_date")
    assert _count_in(line) == 2
    assert "row 2 (client_id C2): 'last tuesday'" in line and "row 3 (client_id C3): '2024-02-30'" in line
    # the two values io nulled are not reported a second time as missing values
    assert "missing_values" not in set(err.problems["check"])


def test_unparseable_number(tmp_path):
    t = io.load_source(_folder(tmp_path, revenue="date,client_id,amount\n2024-01-05,C1,1.5\n2024-01-06,C2,n/a?\n"))
    line = _line(_errors(t), "revenue", "amount", "unparseable_number")
    assert _count_in(line) == 1 and "'n/a?'" in line


def test_duplicate_ids(tmp_path):
    t = io.load_source(_folder(tmp_path, revenue=REVENUE, clients="client_id\nC1\nC2\nC1\nC3\nC3\nC3\n"))
    err = _errors(t)
    line = _line(err, "clients", "client_id", "duplicate_ids")
    assert _count_in(line) == 5  # rows sharing an id: C1 twice, C3 three times
    assert "'C1' (2 rows)" in line and "'C3' (3 rows)" in line


def test_unknown_client_in_revenue(tmp_path):
    rev = REVENUE + "2024-03-02,C9,5\n2024-03-03,C9,6\n2024-03-04,C8,7\n"
    err = _errors(io.load_source(_folder(tmp_path, revenue=rev, clients=CLIENTS)))
    line = _line(err, "revenue", "client_id", "unknown_reference")
    assert _count_in(line) == 3
    assert "'C9' not in clients.client_id (2 rows)" in line
    # without the clients table there is nothing to check against
    validate({"revenue": io.load_source(tmp_path)["revenue"]})


def test_unknown_person_in_activities():
    acts = pd.DataFrame({"timestamp": pd.to_datetime(["2024-01-01"] * 3), "client_id": ["C1"] * 3,
                         "activity_type": ["call"] * 3, "person_id": ["P1", "P7", None]})
    rev = pd.DataFrame({"date": pd.to_datetime(["2024-01-01"]), "client_id": ["C1"], "amount": [1.0]})
    people = pd.DataFrame({"person_id": ["P1"]})
    err = _errors({"revenue": rev, "activities": acts, "people": people})
    assert _count_in(_line(err, "activities", "person_id", "unknown_reference")) == 1


def test_empty_table(tmp_path):
    err = _errors(io.load_source(_folder(tmp_path, revenue=REVENUE, clients="client_id,region\n")))
    assert _count_in(_line(err, "clients", "*", "empty_table")) == 0
    assert err.problems["check"].tolist() == ["empty_table"]


def test_undecodable_file_is_reported_not_guessed(tmp_path):
    latin1 = "client_id,client_name\nC1,Caf\u00e9 Cr\u00e8me\nC2,Plain\nC3,Z\u00fcrich AG\n".encode("latin-1")
    t = io.load_source(_folder(tmp_path, revenue=REVENUE, clients=latin1))
    assert "clients" not in t  # not decoded by guesswork
    err = _errors(t)
    line = _line(err, "clients", "*", "undecodable_file")
    assert _count_in(line) == 2
    assert "clients.csv: not UTF-8 at line 2" in line and "line 4" in line


def test_nps_outside_0_to_10(tmp_path):
    surveys = "date,client_id,nps\n2024-03-31,C1,9\n2024-03-31,C2,11\n2024-03-31,C3,-1\n2024-03-31,C1,10\n"
    err = _errors(io.load_source(_folder(tmp_path, revenue=REVENUE, clients=CLIENTS, surveys=surveys)))
    line = _line(err, "surveys", "nps", "out_of_range")
    assert _count_in(line) == 2 and "11" in line and "-1" in line and "0..10" in line


def test_margin_rate_and_activity_type_and_missing_required_values():
    rev = pd.DataFrame({"date": pd.to_datetime(["2024-01-01", None]), "client_id": ["C1", None],
                        "amount": [1.0, 2.0]})
    products = pd.DataFrame({"product_id": ["P1", "P2"], "margin_rate": [0.4, 1.2]})
    acts = pd.DataFrame({"timestamp": pd.to_datetime(["2024-01-01", "2024-01-02"]), "client_id": ["C1", "C1"],
                         "activity_type": ["call", "lunch"]})
    err = _errors({"revenue": rev, "products": products, "activities": acts})
    got = {(r.table, r.column, r.check): r.count for r in err.problems.itertuples()}
    assert got == {("revenue", "date", "missing_values"): 1, ("revenue", "client_id", "missing_values"): 1,
                   ("products", "margin_rate", "out_of_range"): 1,
                   ("activities", "activity_type", "unknown_value"): 1}


def test_several_problems_in_one_table_and_across_tables_reported_together(tmp_path):
    rev = ("date,client_id,amount\n2024-01-05,C1,1\nnot a date,C2,2\n2024-01-07,C9,three\n"
           "2024-01-08,C9,4\n2024-01-09,C2,x\n")
    surveys = "date,client_id,nps\n2024-03-31,C1,12\n"
    err = _errors(io.load_source(_folder(tmp_path, revenue=rev, clients="client_id\nC1\nC2\nC2\n",
                                         surveys=surveys)))
    got = {(r.table, r.column, r.check): r.count for r in err.problems.itertuples()}
    assert got == {("clients", "client_id", "duplicate_ids"): 2,
                   ("revenue", "date", "unparseable_date"): 1,
                   ("revenue", "amount", "unparseable_number"): 2,
                   ("revenue", "client_id", "unknown_reference"): 2,
                   ("surveys", "nps", "out_of_range"): 1}
    assert str(err).startswith("data validation failed: 5 problem(s) in 3 table(s)")
    assert len(str(err).splitlines()) == 6
    # problems passed explicitly as well as carried by the loaded tables are not doubled
    t = io.load_source(tmp_path)
    assert len(_errors(t, problems=t.problems).problems) == 5
    assert len(_errors(dict(t), problems=t.problems).problems) == 5


def test_examples_capped_at_five_and_show_only_offending_column(tmp_path):
    rows = "".join(f"2024-01-{d:02d},C{d},bad{d}\n" for d in range(1, 10))
    t = io.load_source(_folder(tmp_path, revenue="date,client_id,amount,secret\n"
                                                 + rows.replace("\n", ",pii\n")))
    err = _errors(t)
    rec = err.problems.iloc[0]
    assert rec["count"] == 9 and len(rec["examples"]) == 5
    assert "pii" not in str(err)


def test_as_of_before_all_revenue_is_an_error(tmp_path):
    t = io.load_source(_folder(tmp_path, revenue=REVENUE))
    err = _errors(t, as_of=pd.Timestamp("2023-12-31"))
    assert err.problems["check"].tolist() == ["no_rows_before_as_of"]


def test_health_checks_hand_computed():
    rev = pd.DataFrame({"date": pd.to_datetime(["2024-01-05", "2024-01-05", "2024-02-01", "2024-04-02"]),
                        "client_id": ["C1", "C1", "C2", "C3"], "amount": [10.0, 10.0, -4.0, 7.0]})
    clients = pd.DataFrame({"client_id": ["C1", "C2", "C3", "C4"], "region": ["EU", None, None, "US"]})
    acts = pd.DataFrame({"timestamp": pd.to_datetime(["2024-03-31 18:00", "2024-04-01 08:00"]),
                         "client_id": ["C1", "C1"], "activity_type": ["call", "email"]})
    invites = pd.DataFrame({"date": pd.to_datetime(["2024-03-01"] * 25), "client_id": ["C1"] * 25,
                            "wave": ["W1"] * 20 + ["W2"] * 5})
    surveys = pd.DataFrame({"date": pd.to_datetime(["2024-03-05"] * 3), "client_id": ["C1"] * 3,
                            "nps": pd.array([9, 8, 7], dtype="Int64"), "wave": ["W1", "W2", "W2"]})
    h = health_checks({"revenue": rev, "clients": clients, "activities": acts, "surveys": surveys,
                       "survey_invites": invites}, pd.Timestamp("2024-03-31"))
    got = {(r.table, r.check): r.count for r in h.itertuples() if r.check != "missing_values"}
    assert got == {("revenue", "negative_amount"): 1, ("revenue", "rows_after_as_of"): 1,
                   ("activities", "rows_after_as_of"): 1,  # 18:00 on the as-of day is not after it
                   ("clients", "no_revenue"): 1,  # C4 never billed
                   ("clients", "first_seen_after_as_of"): 1,  # C3: first billed after as_of, no onboarding date
                   ("surveys", "low_response_rate"): 1,  # W1: 1 of 20 = 5%; W2: 2 of 5 = 40%
                   ("revenue", "duplicated_lines"): 1}
    assert "W1: 1 response to 20 invitations (5.0%" in h.loc[h["check"] == "low_response_rate", "detail"].iloc[0]
    assert h.loc[h["check"] == "no_revenue", "detail"].iloc[0].endswith(": C4")
    assert "left out of every analysis and output: C3" in h.loc[h["check"] == "first_seen_after_as_of", "detail"].iloc[0]
    miss = h[h["check"] == "missing_values"]
    assert miss[["table", "count"]].values.tolist() == [["clients", 2]]
    assert miss["detail"].iloc[0].startswith("column region: 2 of 4 rows")
    assert health_checks({"revenue": rev.iloc[:1]}, pd.Timestamp("2024-03-31")).empty


def test_completeness_and_table_summary():
    rev = pd.DataFrame({"date": pd.to_datetime(["2024-01-05", "2024-03-01", "2024-02-01"]),
                        "client_id": ["A", "B", "A"], "amount": [1.0, None, 3.0]})
    people = pd.DataFrame({"person_id": ["P1", "P2", "P3", "P4"], "team": ["x", None, None, None]})
    comp = completeness({"revenue": rev, "people": people})
    assert comp["table"].tolist() == ["people", "people", "revenue", "revenue", "revenue"]
    assert comp["non_null_share"].tolist() == [1.0, 0.25, 1.0, 1.0, pytest.approx(2 / 3)]
    summ = table_summary({"revenue": rev, "people": people})
    assert summ[["table", "rows", "columns"]].values.tolist() == [["people", 4, 2], ["revenue", 3, 3]]
    assert summ["date_min"].tolist()[1] == pd.Timestamp("2024-01-05")
    assert summ["date_max"].tolist()[1] == pd.Timestamp("2024-03-01")
    assert pd.isna(summ["date_min"].iloc[0])


def test_missing_ids_are_missing_values_not_duplicates():
    rev = pd.DataFrame({"date": pd.to_datetime(["2024-01-01"]), "client_id": ["C1"], "amount": [1.0]})
    clients = pd.DataFrame({"client_id": pd.Series(["C1", None, None], dtype="str")})
    err = _errors({"revenue": rev, "clients": clients})
    assert err.problems[["column", "check", "count"]].values.tolist() == [["client_id", "missing_values", 2]]
    assert "row 2; row 3" in _line(err, "clients", "client_id", "missing_values")


def test_a_client_first_seen_after_as_of_in_any_table_is_not_a_client_yet():
    """Bank Marketing has no onboarding date: a client called for the first time after as_of (and never
    billed) showed in the profile and the touch coverage of a run before that call."""
    from clientstrategy.validate import first_seen, known_clients

    rev = pd.DataFrame({"date": pd.to_datetime(["2024-01-05"]), "client_id": ["A"], "amount": [1.0]})
    calls = pd.DataFrame({"timestamp": pd.to_datetime(["2024-02-01 09:00", "2024-05-02 10:00", "2024-06-01 10:00"]),
                          "client_id": ["B", "C", "A"], "activity_type": ["call"] * 3})
    clients = pd.DataFrame({"client_id": ["A", "B", "C", "D"]})
    seen = first_seen(rev, clients, others={"activities": calls})
    assert seen.dt.strftime("%Y-%m-%d").fillna("-").tolist() == ["2024-01-05", "2024-02-01", "2024-05-02", "-"]
    kept = known_clients(clients, rev, pd.Timestamp("2024-03-31"), others={"activities": calls})
    assert kept["client_id"].tolist() == ["A", "B", "D"]
    h = health_checks({"revenue": rev, "clients": clients, "activities": calls}, pd.Timestamp("2024-03-31"))
    assert h.set_index("check").loc["first_seen_after_as_of", "count"] == 1
    with pytest.raises(ValueError, match="third_party"):
        first_seen(rev, clients, others={"third_party": clients})
