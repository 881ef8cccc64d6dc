"""Check typed canonical tables: errors that stop a run, and suspicious items for data health.

``validate`` collects every problem of every table (pandera per-table checks built from
``schema``, plus the cross-table checks and the problems ``io`` found while reading) and raises
one ``DataValidationError`` listing them all. ``health_checks``, ``completeness`` and
``table_summary`` describe legal data for the data-health notebook.

Examples show row numbers (1 = first data row), the row's id and the offending value of the
offending column only, never other columns (PII).
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from . import features, schema
from .io import MAX_EXAMPLES, _value_examples, make_problem, problems_frame
from .words import pct, plural

__all__ = [
    "HEALTH_COLUMNS",
    "LOW_RESPONSE_RATE",
    "SEEN_IN",
    "DataValidationError",
    "completeness",
    "exclusion_sentences",
    "first_seen",
    "health_checks",
    "known_clients",
    "table_summary",
    "validate",
]

#: Columns of ``health_checks``.
HEALTH_COLUMNS = ["table", "check", "count", "detail"]

#: A survey wave answered by fewer than this share of its invitations is flagged.
LOW_RESPONSE_RATE = 0.10

_CHECK_WORDS = {
    "missing_table": "rows: the required table is missing",
    "missing_column": "rows lacking a required column (the column is missing)",
    "empty_table": "rows: the table is empty",
    "undecodable_file": "lines that are not valid UTF-8 (save the file as UTF-8)",
    "unreadable_file": "file that could not be read",
    "unparseable_date": "values that are not dates",
    "unparseable_number": "values that are not numbers",
    "not_whole_number": "values that are not whole numbers",
    "unparseable_bool": "values that are not true/false",
    "wrong_type": "rows in a column of the wrong type",
    "missing_values": "rows with no value in this required column",
    "duplicate_ids": "rows sharing their id with another row",
    "out_of_range": "values out of range",
    "unknown_value": "values not in the allowed list",
    "unknown_reference": "rows referencing an id that does not exist",
    "no_rows_before_as_of": "rows on or before as_of",
}

_TYPE_TESTS = {
    "id": (pd.api.types.is_string_dtype, "text"),
    "str": (pd.api.types.is_string_dtype, "text"),
    "date": (pd.api.types.is_datetime64_any_dtype, "datetime64"),
    "datetime": (pd.api.types.is_datetime64_any_dtype, "datetime64"),
    "float": (lambda d: pd.api.types.is_numeric_dtype(d) and not pd.api.types.is_bool_dtype(d), "number"),
    "int": (pd.api.types.is_integer_dtype, "whole number"),
    "bool": (pd.api.types.is_bool_dtype, "true/false"),
}

# Value checks beyond types (schema.py names the columns, SPEC the ranges).
_VALUE_CHECKS = {
    ("surveys", "nps"): [pa.Check.in_range(0, 10)],
    ("products", "margin_rate"): [pa.Check.in_range(0, 1)],
    ("activities", "activity_type"): [pa.Check.isin(list(schema.ACTIVITY_TYPES))],
}
_RANGE_WORDS = {("surveys", "nps"): "0..10", ("products", "margin_rate"): "0..1",
                ("activities", "activity_type"): ", ".join(schema.ACTIVITY_TYPES)}


class DataValidationError(ValueError):
    """Bad input: every problem found, at once.

    Attributes
    ----------
    problems : pandas.DataFrame
        One row per problem: table, column (``*`` for the whole table or file), check, count,
        examples (list of up to 5 strings).
    """

    def __init__(self, problems: pd.DataFrame):
        self.problems = problems_frame(problems)
        super().__init__(_message(self.problems))


def _message(problems: pd.DataFrame) -> str:
    n_tables = problems["table"].nunique()
    lines = [(f"data validation failed: {len(problems)} problem(s) in {n_tables} table(s) "
             "(column * = the whole table or file; row 1 = the first data row)")]
    for rec in problems.itertuples(index=False):
        words = _CHECK_WORDS.get(rec.check, rec.check)
        line = f"- table {rec.table}, column {rec.column}, count {rec.count}: {words} [{rec.check}]"
        if len(rec.examples):
            line += "; examples: " + "; ".join(rec.examples[:MAX_EXAMPLES])
        lines.append(line)
    return "\n".join(lines)


def _type_ok(series: pd.Series, kind: str) -> bool:
    test = _TYPE_TESTS.get(kind)
    return True if test is None else bool(test[0](series.dtype))


def _pandera_problems(table: str, df: pd.DataFrame) -> list[dict]:
    """Per-table checks with pandera (lazy): nulls in required columns, unique key, ranges and lists.

    Columns of the wrong type are reported as ``wrong_type`` instead of being checked further.
    """
    spec = schema.TABLES[table]
    problems, columns = [], {}
    for col in df.columns:
        kind = spec.type_of(col)
        if kind is None:
            continue
        if not _type_ok(df[col], kind):
            problems.append(make_problem(table, col, "wrong_type", len(df),
                                         [f"dtype {df[col].dtype}, expected {_TYPE_TESTS[kind][1]}"]))
            continue
        columns[col] = pa.Column(None, nullable=col not in spec.required, unique=(col == spec.key),
                                 checks=_VALUE_CHECKS.get((table, col), []), required=False)
    if not columns:
        return problems
    frame = df.reset_index(drop=True)
    try:
        pa.DataFrameSchema(columns, strict=False).validate(frame, lazy=True)
    except SchemaErrors as err:
        fc = err.failure_cases
        fc = fc[fc["column"].notna()]
        for (col, check), grp in fc.groupby(["column", "check"], sort=True):
            rows = grp["index"].dropna().astype(int).unique()
            bad = pd.Series(False, index=frame.index)
            bad.iloc[rows] = True
            if check == "not_nullable":
                name, examples = "missing_values", [f"row {r + 1}" for r in rows[:MAX_EXAMPLES]]
            elif check == "field_uniqueness":
                bad &= frame[col].notna()  # missing ids are reported as missing values, not duplicates
                if not bad.any():
                    continue
                dup = frame[col][bad]
                name = "duplicate_ids"
                examples = [f"{v!r} ({int((frame[col] == v).sum())} rows)" for v in pd.unique(dup)[:MAX_EXAMPLES]]
            else:
                name = "out_of_range" if str(check).startswith("in_range") else \
                    "unknown_value" if str(check).startswith("isin") else str(check)
                examples = _value_examples(frame, table, col, bad)
                examples.append(f"allowed: {_RANGE_WORDS.get((table, col), check)}")
            problems.append(make_problem(table, col, name, int(bad.sum()), examples[:MAX_EXAMPLES + 1]))
    return problems


def _reference_problems(table: str, df: pd.DataFrame, tables: dict) -> list[dict]:
    spec = schema.TABLES[table]
    problems = []
    for col, (rt, rc) in spec.references.items():
        if col not in df.columns or rt not in tables or rc not in tables[rt].columns or not len(tables[rt]):
            continue  # nothing to check against (an empty table is reported by itself)
        known = set(tables[rt][rc].dropna())
        values = df[col]
        bad = values.notna() & ~values.isin(known)
        if bad.any():
            unknown = pd.unique(values[bad])
            problems.append(make_problem(
                table, col, "unknown_reference", int(bad.sum()),
                [f"{v!r} not in {rt}.{rc} ({int((values == v).sum())} rows)" for v in unknown[:MAX_EXAMPLES]]))
    return problems


def _check_as_of(as_of):
    if as_of is None:
        return None
    try:
        return pd.Timestamp(as_of)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"as_of: not a date: {as_of!r}") from exc


def validate(tables: dict, problems=(), as_of=None, held=()) -> None:
    """Raise one error listing every problem of the input, or return None when it is usable.

    Checks: the required table (``revenue``) and required columns are present; no table is
    empty; columns have their logical type; required columns have no missing values; keys are
    unique; ``nps`` is in 0..10, ``margin_rate`` in 0..1, ``activity_type`` one of
    ``schema.ACTIVITY_TYPES``; ids that reference another table exist there (when that table is
    present); with ``as_of``, revenue has rows on or before it. Problems found while reading
    (``io``: unparseable dates and numbers, undecodable or unreadable files) are added, both the
    ``problems`` given and those carried by a ``LoadedTables`` (``tables.problems``).

    Parameters
    ----------
    tables : dict
        Table name -> typed DataFrame (``io.load_source``).
    problems : pandas.DataFrame or iterable of dict, optional
        Problems from ``io.coerce`` / ``io.load_source`` (``io.PROBLEM_COLUMNS``).
    as_of : pandas.Timestamp, optional
        The run's as-of date.
    held : iterable of str, optional
        Tables present but checked elsewhere (in the engine, ``features.problems``): not missing.

    Returns
    -------
    None

    Raises
    ------
    DataValidationError
        A ``ValueError`` whose ``.problems`` has one row per problem (table, column, check, count,
        examples) and whose message lists them all.

    Examples
    --------
    >>> rev = pd.DataFrame({"date": pd.to_datetime(["2024-01-05"]), "client_id": ["C9"], "amount": [5.0]})
    >>> cl = pd.DataFrame({"client_id": ["C1"]})
    >>> try:
    ...     validate({"revenue": rev, "clients": cl})
    ... except DataValidationError as err:
    ...     print(err.problems[["table", "column", "check", "count"]].values.tolist())
    [['revenue', 'client_id', 'unknown_reference', 1]]
    """
    if not isinstance(tables, dict):
        raise ValueError(f"tables: expected a dict of DataFrames, got {type(tables).__name__}")  # noqa: TRY004
    for name, df in tables.items():
        if name not in schema.TABLES:
            raise ValueError(f"table {name!r} is not a canonical table; tables are {sorted(schema.TABLES)}")
        if not isinstance(df, pd.DataFrame):
            raise ValueError(f"table {name!r}: expected a DataFrame, got {type(df).__name__}")  # noqa: TRY004
    as_of = _check_as_of(as_of)
    given = problems_frame(problems)
    carried = problems_frame(getattr(tables, "problems", []))
    io_probs = pd.concat([given, carried], ignore_index=True)
    if len(io_probs):
        key = io_probs.assign(examples=io_probs["examples"].map(tuple))
        io_probs = io_probs[~key.duplicated()].reset_index(drop=True)
    found = io_probs.to_dict("records")
    file_failed = set(io_probs.loc[io_probs["check"].isin(["undecodable_file", "unreadable_file"]), "table"])
    for req in schema.REQUIRED_TABLES:
        if req not in tables and req not in file_failed and req not in set(held):
            found.append(make_problem(req, "*", "missing_table", 0, [f"present: {sorted(tables) or 'none'}"]))
    unparsed = io_probs[io_probs["check"].isin(["unparseable_date", "unparseable_number", "not_whole_number",
                                                "unparseable_bool"])].groupby(["table", "column"])["count"].sum()
    for name in schema.TABLES:
        if name not in tables:
            continue
        df = tables[name]
        spec = schema.TABLES[name]
        for col in spec.required:
            if col not in df.columns:
                found.append(make_problem(name, col, "missing_column", len(df),
                                          [f"columns present: {', '.join(map(str, df.columns[:12]))}"]))
        if len(df) == 0:
            found.append(make_problem(name, "*", "empty_table", 0))
            continue
        explained = set(zip(io_probs["table"], io_probs["column"], io_probs["check"]))
        for prob in _pandera_problems(name, df):
            if (prob["table"], prob["column"], prob["check"]) in explained:
                continue  # the mapping already reported it, with the source values behind it
            if prob["check"] == "missing_values":
                # values io could not parse are null now; they are reported as unparseable already
                prob["count"] -= int(unparsed.get((name, prob["column"]), 0))
                if prob["count"] <= 0:
                    continue
            found.append(prob)
        found.extend(_reference_problems(name, df, tables))
    rev = tables.get("revenue")
    if as_of is not None and rev is not None and len(rev) and "date" in rev.columns \
            and pd.api.types.is_datetime64_any_dtype(rev["date"].dtype) and not (rev["date"] <= as_of).any():
        found.append(make_problem("revenue", "date", "no_rows_before_as_of", 0,
                                  [f"as_of {as_of.date()}, first date {rev['date'].min()}"]))
    if found:
        order = {t: i for i, t in enumerate(schema.TABLES)}
        frame = problems_frame(found)
        frame = frame.assign(_o=frame["table"].map(order).fillna(len(order)))
        frame = frame.sort_values(["_o", "table", "column", "check"], kind="stable").drop(columns="_o")
        raise DataValidationError(frame.reset_index(drop=True))


def exclusion_sentences(report: pd.DataFrame) -> list[str]:
    """One line per mapping rule that removed rows: how many, and how much revenue they held.

    Rows a ``where``, an ``exclude`` rule or an inner ``join`` removed; ``derive.*`` and
    ``types.*`` lines of the report (values that differed or did not cast) are not removals.

    Parameters
    ----------
    report : pandas.DataFrame
        ``mapping.REPORT_COLUMNS`` (``Mapping.report``, ``mapping_report.csv``); older reports
        without ``amount`` give the rows only.

    Returns
    -------
    list of str
        "revenue, no_customer_id: 135,080 rows holding 1,447,682.12 (14.9% of the amount of every
        source line) -- No CustomerID ...", rules that removed nothing left out.

    Examples
    --------
    >>> rep = pd.DataFrame({"table": ["revenue", "revenue"], "rule": ["guest", "zero"], "reason": ["no id", "free"],
    ...                     "rows": [1, 0], "amount": [7.0, 0.0], "amount_share": [0.318, 0.0]})
    >>> exclusion_sentences(rep)
    ['revenue, guest: 1 row holding 7.00 (31.8% of the amount of every source line): no id']
    """
    out = []
    if report is None or not len(report):
        return out
    for r in report.to_dict("records"):
        rule = str(r["rule"])
        if int(r.get("rows", 0) or 0) <= 0 or rule.startswith(("derive.", "types.")) or ".types." in rule:
            continue  # derive and types lines count values kept or nulled, not rows removed
        amount, share = r.get("amount"), r.get("amount_share")
        money = ""
        if amount is not None and pd.notna(amount):
            money = f" holding {float(amount):,.2f}"
            if share is not None and pd.notna(share):
                money += f" ({pct(share, 1)} of the amount of every source line)"
        out.append(f"{r['table']}, {r['rule']}: {plural(int(r['rows']), 'row')}{money}: {r['reason']}")
    return out


# --------------------------------------------------------------------------- data health

def _need(df, columns, table: str) -> None:
    for column in columns:
        if column not in df.columns:
            raise ValueError(f"table {table!r} has no column {column!r} (columns: {list(df.columns)})")


#: Tables whose dated rows show a client is there (besides ``clients.onboarded_on``), with their date.
SEEN_IN = {"revenue": "date", "activities": "timestamp", "digital": "timestamp", "surveys": "date",
           "survey_invites": "date"}


def _first_dates(df, table: str, col: str) -> pd.Series:
    """The first ``col`` of each client of one table (a DataFrame, or an engine table in SQL)."""
    if isinstance(df, features.EngineTable):
        features.require(df, ["client_id", col], table)
        c, d = features.q("client_id"), features.q(col)
        r = df.sql(f"SELECT CAST({c} AS VARCHAR) AS client_id, MIN({d}) AS d FROM {{t}} "
                   f"WHERE {c} IS NOT NULL GROUP BY CAST({c} AS VARCHAR)")
        return pd.Series(pd.to_datetime(r["d"]).astype("datetime64[ns]").to_numpy(),
                         index=pd.Index(r["client_id"].astype("str"), name="client_id"))
    _need(df, ("client_id", col), table)
    rows = df.loc[df["client_id"].notna()]
    return pd.to_datetime(rows[col]).astype("datetime64[ns]").groupby(rows["client_id"].astype("str")).min()


def first_seen(revenue, clients: pd.DataFrame | None = None, others: dict | None = None) -> pd.Series:
    """The first day each client is seen: its ``onboarded_on`` or its first dated row, whichever is earlier.

    Every row counts here, after ``as_of`` too: a client whose first sign of life is after
    ``as_of`` was not a client yet at ``as_of`` (:func:`known_clients`).

    Parameters
    ----------
    revenue : DataFrame or features.EngineTable
        Canonical ``revenue`` (``date``, ``client_id``).
    clients : DataFrame, optional
        Canonical ``clients`` (``client_id``; ``onboarded_on`` used when present).
    others : dict, optional
        More tables of :data:`SEEN_IN` (``activities``, ``digital``, ``surveys``,
        ``survey_invites``; DataFrames or engine tables): a call or a visit shows the client too.

    Returns
    -------
    Series
        ``first_seen`` (datetime64) indexed by ``client_id``, for every client of any table;
        NaT for a client with no dated row and no ``onboarded_on``.

    Examples
    --------
    >>> rev = pd.DataFrame({"date": pd.to_datetime(["2026-01-05", "2026-12-01"]), "client_id": ["a", "b"],
    ...                     "amount": [1.0, 1.0]})
    >>> cl = pd.DataFrame({"client_id": ["a", "b", "c", "d"], "onboarded_on": pd.to_datetime(["2025-06-01", None, None, None])})
    >>> calls = pd.DataFrame({"timestamp": pd.to_datetime(["2026-03-01 10:00"]), "client_id": ["d"]})
    >>> first_seen(rev, cl, others={"activities": calls}).dt.strftime("%Y-%m-%d").tolist()
    ['2025-06-01', '2026-12-01', nan, '2026-03-01']
    """
    dates = [_first_dates(revenue, "revenue", "date")]
    for table, df in (others or {}).items():
        if table not in SEEN_IN:
            raise ValueError(f"first_seen: table {table!r} holds no date that shows a client; "
                             f"known: {sorted(SEEN_IN)}")
        if df is not None and len(df):
            dates.append(_first_dates(df, table, SEEN_IN[table]))
    if clients is not None:
        _need(clients, ("client_id",), "clients")
        cl = clients.loc[clients["client_id"].notna()]
        ids = cl["client_id"].astype("str")
        if "onboarded_on" in cl.columns:
            dates.append(pd.to_datetime(cl["onboarded_on"]).astype("datetime64[ns]").groupby(ids.to_numpy()).min())
        else:
            dates.append(pd.Series(pd.NaT, index=pd.Index(ids.unique()), dtype="datetime64[ns]"))
    seen = pd.concat(dates, axis=1).min(axis=1) if len(dates) > 1 else dates[0]
    seen = seen.astype("datetime64[ns]").sort_index()
    seen.index.name = "client_id"
    return seen.rename("first_seen")


def known_clients(clients: pd.DataFrame, revenue, as_of, others: dict | None = None) -> pd.DataFrame:
    """``clients`` without those first seen after ``as_of`` (not yet clients on that day).

    A client onboarded after ``as_of``, or without ``onboarded_on`` and first seen (billed, called,
    visiting, surveyed) after it, is left out of every analysis and output of a run as of
    ``as_of``: ``nb.Context.table("clients")`` gives the notebooks this table, and
    ``outcomes.client_revenue`` applies it too; the data-health page counts them. A client with
    no date at all is kept: nothing says it is new.

    Parameters
    ----------
    clients : DataFrame
        Canonical ``clients``.
    revenue : DataFrame or features.EngineTable
        Canonical ``revenue``, all lines (after ``as_of`` too).
    as_of : Timestamp
        Last day of the analysis.
    others : dict, optional
        As :func:`first_seen`.

    Returns
    -------
    DataFrame
        The rows of ``clients`` that were clients on ``as_of``, in their order.

    Examples
    --------
    >>> rev = pd.DataFrame({"date": pd.to_datetime(["2026-01-05", "2026-12-01"]), "client_id": ["a", "b"],
    ...                     "amount": [1.0, 1.0]})
    >>> known_clients(pd.DataFrame({"client_id": ["a", "b", "c"]}), rev, pd.Timestamp("2026-09-30"))["client_id"].tolist()
    ['a', 'c']
    """
    _need(clients, ("client_id",), "clients")
    as_of = _check_as_of(as_of)
    seen = first_seen(revenue, clients, others)
    late = set(seen.index[seen.notna() & (seen.dt.normalize() > as_of.normalize())])
    return clients.loc[~clients["client_id"].astype("str").isin(late)]


def _date_column(table: str, df: pd.DataFrame) -> str | None:
    """The table's own date: its first required date/datetime column present and typed."""
    spec = schema.TABLES.get(table)
    if spec is None:
        return None
    for col, kind in list(spec.required.items()) + list(spec.optional.items()):
        if kind in ("date", "datetime") and col in df.columns and pd.api.types.is_datetime64_any_dtype(df[col].dtype):
            return col
    return None


def _ids_text(values, n=MAX_EXAMPLES) -> str:
    values = list(values)
    more = f" (+{len(values) - n} more)" if len(values) > n else ""
    return ", ".join(map(str, values[:n])) + more


def health_checks(tables: dict, as_of) -> pd.DataFrame:
    """Legal but suspicious items, for the data-health notebook.

    Checks: negative revenue amounts; rows dated after ``as_of`` (per table, compared by calendar
    day: a timestamp on the as-of day is not after it); clients with no revenue on or before
    ``as_of``; survey waves answered by fewer than ``LOW_RESPONSE_RATE`` of their invitations (by
    ``wave``, or by calendar quarter of ``date`` where a table has no ``wave``); missing values in
    optional columns; revenue lines identical to an earlier line in every column.

    Parameters
    ----------
    tables : dict
        Table name -> typed DataFrame.
    as_of : pandas.Timestamp
        The run's as-of date.

    Returns
    -------
    pandas.DataFrame
        ``HEALTH_COLUMNS`` (table, check, count, detail), one row per finding with ``count > 0``
        (one per low wave and per optional column with gaps); empty when nothing is suspicious.

    Examples
    --------
    >>> rev = pd.DataFrame({"date": pd.to_datetime(["2024-01-05", "2024-03-01"]),
    ...                     "client_id": ["A", "A"], "amount": [-5.0, 10.0]})
    >>> health_checks({"revenue": rev}, pd.Timestamp("2024-01-31"))[["check", "count"]].values.tolist()
    [['negative_amount', 1], ['rows_after_as_of', 1]]
    """
    if not isinstance(tables, Mapping):
        raise ValueError(f"tables: expected a dict of DataFrames, got {type(tables).__name__}")  # noqa: TRY004
    if as_of is None:
        raise ValueError("as_of: required (a pandas.Timestamp)")
    as_of = _check_as_of(as_of)
    day = as_of.normalize()
    rows = []
    rev = tables.get("revenue")
    if rev is not None:
        for col in ("date", "client_id", "amount"):
            if col not in rev.columns:
                raise ValueError(f"table 'revenue': column {col!r} is missing")
        # revenue's own checks run where it is held: in the engine for a large table
        rev = features.as_table(rev, "revenue")
        amount, cid = features.q("amount"), features.q("client_id")
        neg = rev.sql(f"SELECT COUNT(*) AS n, SUM({amount}) AS total, COUNT(DISTINCT {cid}) AS clients "
                      f"FROM {{t}} WHERE {amount} < 0").iloc[0]
        if int(neg["n"]):
            rows.append(("revenue", "negative_amount", int(neg["n"]),
                         (f"{int(neg['n']):,} of {plural(len(rev), 'line')} below zero (credits, returns), "
                         f"total {float(neg['total']):,.2f}, {plural(int(neg['clients']), 'client')}")))
    for name in schema.TABLES:
        df = tables.get(name)
        if df is None or not len(df):
            continue
        if isinstance(df, features.EngineTable):  # counted in the engine
            col = features.summary(df)["date_column"]
            if col:
                k = features.count_where(df, f"{features.q(col)} >= {features.lit(day + pd.Timedelta(days=1))}")
                if k:
                    latest = df.sql(f"SELECT MAX({features.q(col)}) AS m FROM {{t}}")["m"].iloc[0]
                    rows.append((name, "rows_after_as_of", k,
                                 (f"{k:,} of {plural(len(df), 'row')} with {col} after {day.date()} "
                                  f"(latest {pd.Timestamp(latest).date()}); analyses ignore them")))
            continue
        col = _date_column(name, df)
        if col is None:
            continue
        after = df[col].dt.normalize() > day
        if after.any():
            rows.append((name, "rows_after_as_of", int(after.sum()),
                         (f"{int(after.sum()):,} of {plural(len(df), 'row')} with {col} after {day.date()} "
                         f"(latest {df.loc[after, col].max().date()}); analyses ignore them")))
    clients = tables.get("clients")
    if clients is not None and rev is not None and "client_id" in clients.columns:
        seen = first_seen(rev, clients, others={t: tables[t] for t in SEEN_IN if t != "revenue" and t in tables})
        late = set(seen.index[seen.notna() & (seen.dt.normalize() > day)])
        listed = clients.loc[clients["client_id"].notna(), "client_id"].astype(str)
        future = sorted(set(listed) & late)
        if future:
            rows.append(("clients", "first_seen_after_as_of", len(future),
                         (f"{plural(len(future), 'client')} of {len(clients):,} first seen after {day.date()} "
                          f"(onboarded or first billed later): not clients yet on that day, so left out of every "
                          f"analysis and output: {_ids_text(future)}")))
        billed = set(rev.sql(f"SELECT DISTINCT {features.q('client_id')} AS c FROM {{t}} WHERE "
                             f"{features.window(day, col='date')} AND {features.q('client_id')} IS NOT NULL")["c"]
                     .astype(str))
        never = listed[~listed.isin(billed) & ~listed.isin(late)]
        if len(never):
            rows.append(("clients", "no_revenue", len(never),
                         (f"{plural(len(never), 'client')} of {len(clients):,} with no revenue up to {day.date()}: "
                          f"{_ids_text(sorted(never))}")))
    rows.extend(_low_response_waves(tables))
    for name in schema.TABLES:
        df = tables.get(name)
        if df is None or not len(df):
            continue
        spec = schema.TABLES[name]
        optional = [c for c in df.columns if c not in spec.required and spec.type_of(c) is not None]
        missing = features.summary(df)["missing"] if isinstance(df, features.EngineTable) else None
        for col in optional:
            n = missing[col] if missing is not None else int(df[col].isna().sum())
            if n:
                rows.append((name, "missing_values", n,
                             f"column {col}: {n:,} of {plural(len(df), 'row')} empty ({pct(n / len(df), 1)})"))
    if rev is not None and len(rev):
        cols = ", ".join(features.q(c) for c in rev.columns)
        dup = rev.sql(f"SELECT CAST({features.q('client_id')} AS VARCHAR) AS c, COUNT(*) - 1 AS extra "
                      f"FROM {{t}} GROUP BY {cols} HAVING COUNT(*) > 1")
        if len(dup):
            n = int(dup["extra"].sum())
            rows.append(("revenue", "duplicated_lines", n,
                         (f"{plural(n, 'line')} identical to an earlier line in every column "
                         f"(clients {_ids_text(sorted(dup['c'].dropna().unique()))})")))
    return pd.DataFrame(rows, columns=HEALTH_COLUMNS).astype({"count": "int64"})


def _low_response_waves(tables: dict) -> list[tuple]:
    surveys, invites = tables.get("surveys"), tables.get("survey_invites")
    if surveys is None or invites is None or not len(invites):
        return []

    def waves(df):
        if "wave" in df.columns:
            return df["wave"].astype(object), "wave"
        if "date" in df.columns and pd.api.types.is_datetime64_any_dtype(df["date"].dtype):
            return df["date"].dt.to_period("Q").astype(str).astype(object), "quarter of date"
        raise ValueError("tables 'surveys'/'survey_invites': need a 'wave' or 'date' column")

    # both sides must group the same way: waves only if both tables have them
    if "wave" in surveys.columns and "wave" in invites.columns:
        s_w, how = surveys["wave"].astype(object), "wave"
        i_w = invites["wave"].astype(object)
    else:
        s_w, how = waves(surveys.drop(columns=["wave"], errors="ignore"))
        i_w, _ = waves(invites.drop(columns=["wave"], errors="ignore"))
    invited = i_w.value_counts(dropna=True)
    answered = s_w.value_counts(dropna=True).reindex(invited.index, fill_value=0)
    rate = answered / invited
    out = []
    for wave in sorted(invited.index[rate < LOW_RESPONSE_RATE], key=str):
        out.append(("surveys", "low_response_rate", int(answered[wave]),
                    (f"{how} {wave}: {plural(int(answered[wave]), 'response')} to "
                     f"{plural(int(invited[wave]), 'invitation')} ({pct(rate[wave], 1)}, threshold "
                     f"{pct(LOW_RESPONSE_RATE)})")))
    return out


def completeness(tables: dict) -> pd.DataFrame:
    """Share of non-missing values of every column of every table.

    Parameters
    ----------
    tables : dict
        Table name -> DataFrame.

    Returns
    -------
    pandas.DataFrame
        ``table``, ``column``, ``non_null_share`` (0..1; NaN for an empty table), tables in schema
        order then others, columns in table order.

    Examples
    --------
    >>> completeness({"clients": pd.DataFrame({"client_id": ["A", "B"], "region": ["EU", None]})})
    ...     # doctest: +NORMALIZE_WHITESPACE
         table     column  non_null_share
    0  clients  client_id             1.0
    1  clients     region             0.5
    """
    if not isinstance(tables, Mapping):
        raise ValueError(f"tables: expected a dict of DataFrames, got {type(tables).__name__}")  # noqa: TRY004
    rows = []
    for name in _table_order(tables):
        df = tables[name]
        shares = features.summary(df)["non_null"] if isinstance(df, features.EngineTable) else None
        for col in df.columns:
            if shares is not None:
                rows.append((name, str(col), shares[col]))
                continue
            share = float(df[col].notna().mean()) if len(df) else np.nan
            rows.append((name, str(col), share))
    return pd.DataFrame(rows, columns=["table", "column", "non_null_share"])


def _table_order(tables: dict) -> list[str]:
    return [t for t in schema.TABLES if t in tables] + sorted(t for t in tables if t not in schema.TABLES)


def table_summary(tables: dict) -> pd.DataFrame:
    """Rows, columns and date range of every table.

    Parameters
    ----------
    tables : dict
        Table name -> typed DataFrame.

    Returns
    -------
    pandas.DataFrame
        ``table``, ``rows``, ``columns``, ``date_min``, ``date_max`` (over the table's own date:
        ``date``, ``timestamp``, ``as_of`` or ``onboarded_on``; NaT when it has none).

    Examples
    --------
    >>> rev = pd.DataFrame({"date": pd.to_datetime(["2024-01-05", "2024-03-01"]),
    ...                     "client_id": ["A", "B"], "amount": [1.0, 2.0]})
    >>> table_summary({"revenue": rev})[["table", "rows", "columns"]].values.tolist()
    [['revenue', 2, 3]]
    """
    if not isinstance(tables, Mapping):
        raise ValueError(f"tables: expected a dict of DataFrames, got {type(tables).__name__}")  # noqa: TRY004
    rows = []
    for name in _table_order(tables):
        df = tables[name]
        if isinstance(df, features.EngineTable):  # one scan in the engine
            sm = features.summary(df)
            rows.append((name, sm["rows"], len(df.columns), sm["date_min"], sm["date_max"]))
            continue
        col = _date_column(name, df)
        lo = df[col].min() if col else pd.NaT
        hi = df[col].max() if col else pd.NaT
        rows.append((name, len(df), df.shape[1], lo, hi))
    out = pd.DataFrame(rows, columns=["table", "rows", "columns", "date_min", "date_max"])
    out["date_min"] = pd.to_datetime(out["date_min"]).astype("datetime64[ns]")
    out["date_max"] = pd.to_datetime(out["date_max"]).astype("datetime64[ns]")
    return out.astype({"rows": "int64", "columns": "int64"})


def load_checked(source, mapping=None, in_engine=None) -> tuple[dict, object]:
    """Read and validate every canonical table of a source, event tables kept in the engine.

    Tables of ``features.ENGINE_TABLES`` are opened in DuckDB (``features.open_table``) and
    checked in SQL; the others are read into pandas (``io.load_source``). All problems are
    reported together.

    Parameters
    ----------
    source : str or pathlib.Path
        As ``io.load_source``.
    mapping : str, pathlib.Path or mapping.Mapping, optional
        As ``io.load_source``.
    in_engine : iterable of str, optional
        Tables opened and checked in the engine (default ``features.ENGINE_TABLES``; the runner
        passes ``features.CHECKED_IN_ENGINE``).

    Returns
    -------
    tables : dict
        Table name -> DataFrame or ``features.EngineTable``, in schema order.
    mapping_report : DataFrame or None
        The mapping's report, if a mapping was used.

    Raises
    ------
    DataValidationError
        Bad input, every problem listed.
    ValueError
        If the source cannot be read.
    """
    from . import io

    if str(source).startswith("spark://"):
        raise ValueError("a spark:// source is read by the runner (make run DATA=spark://...), which checks and "
                         "stages the folder and has the notebooks aggregate the event tables on Spark; a notebook on "
                         "its own reads a folder, a DuckDB file or a database (docs/performance.md, 'Beyond one "
                         "machine')")
    in_engine = tuple(features.ENGINE_TABLES if in_engine is None else in_engine)
    engine = features.DuckDBEngine() if in_engine else None  # one DuckDB (one memory cap) for all of them
    if mapping is not None:
        # a mapping builds its tables in memory (DuckDB, then pandas) all at once: built once, then the
        # engine's tables are registered from it
        loaded = io.load_source(source, mapping=mapping)
        frames = {t: df for t, df in dict(loaded).items() if t not in in_engine}
        held = {t: features.register(df, t, engine) for t, df in dict(loaded).items() if t in in_engine}
    else:
        loaded = io.load_source(source, tables=[t for t in schema.TABLES if t not in in_engine])
        frames = dict(loaded)
        held = {t: et for t in in_engine if (et := features.open_table(source, t, engine=engine)) is not None}
    problems = problems_frame(getattr(loaded, "problems", [])).to_dict("records")
    for et in held.values():
        problems.extend(features.problems(et, frames))
    validate(frames, problems=problems, held=held)
    tables = {**frames, **held}
    return {t: tables[t] for t in schema.TABLES if t in tables}, getattr(loaded, "mapping_report", None)


#: File the runner writes beside the tables it validated and staged for the notebooks.
VALIDATED_MARK = "_validated.json"


def _table_files(folder: Path) -> dict:
    return {p.name: [p.stat().st_size, p.stat().st_mtime_ns] for p in sorted(Path(folder).iterdir())
            if p.is_file() and p.name != VALIDATED_MARK}


def mark_validated(folder) -> None:
    """Record that the tables in ``folder`` passed validation (each file's size and modification time)."""
    (Path(folder) / VALIDATED_MARK).write_text(json.dumps(_table_files(folder), sort_keys=True))


def is_validated(folder) -> bool:
    """Whether ``folder`` holds exactly the files :func:`mark_validated` recorded, unchanged."""
    mark = Path(folder) / VALIDATED_MARK
    if not Path(folder).is_dir() or not mark.exists():
        return False
    try:
        return json.loads(mark.read_text()) == json.loads(json.dumps(_table_files(folder), sort_keys=True))
    except (OSError, ValueError):
        return False


class LazyTables(Mapping):
    """The canonical tables of a folder already validated, each read on first use.

    A notebook run by the runner reads the staged copy the runner validated
    (:func:`mark_validated`): it is not validated again, and a notebook that never asks for
    ``activities`` never reads it. Event tables (``features.ENGINE_TABLES``) open in the engine.

    Parameters
    ----------
    folder : str or pathlib.Path
        A folder of canonical table files.
    engine_url : str, optional
        Where the event tables are aggregated: ``""`` for DuckDB, ``spark://<host>`` (or
        ``spark://`` for local mode) for Spark reading the same folder (it must be on a file system
        the cluster sees). Default: the runner's choice, from the environment
        (``features.ENGINE_ENV``).
    """

    def __init__(self, folder, engine_url: str | None = None):
        from . import io

        self.folder = Path(folder)
        self._where = io.list_tables(self.folder)
        self._loaded: dict = {}
        self.engine_url = os.environ.get(features.ENGINE_ENV, "") if engine_url is None else engine_url
        self._spark = None

    def _open(self, name: str) -> features.EngineTable:
        """Table ``name`` as a view of its staged file in the engine (Spark: one session for all)."""
        if not self.engine_url.startswith("spark://"):
            return features.open_table(self.folder, name, typed=True)
        host = self.engine_url[len("spark://"):].strip("/")
        if self._spark is None:
            self._spark = features.SparkEngine(master=f"spark://{host}" if host else "local[2]")
        return features.open_table(f"spark://{host}{self.folder.resolve()}", name, typed=True, engine=self._spark)

    def __getitem__(self, name):
        if name not in self._where:
            raise KeyError(name)
        if name not in self._loaded:
            from . import io

            path = Path(self._where[name])
            if name in features.ENGINE_TABLES:  # typed and checked by the runner before it staged them
                self._loaded[name] = self._open(name)
            elif path.suffix == ".parquet":  # typed before it was written: only dtypes to set
                self._loaded[name] = io.read_typed_parquet(path, name)
            else:
                self._loaded[name] = io.load_source(self.folder, tables=[name])[name]
        return self._loaded[name]

    def engine(self, name: str) -> features.EngineTable:
        """Table ``name`` opened in the engine (typed view of the staged file, nothing loaded),
        whatever kind of table it is: for checks and summaries of tables otherwise read into pandas."""
        if name not in self._where:
            raise KeyError(name)
        if name in features.ENGINE_TABLES:
            return self[name]
        return self._open(name)

    def __iter__(self):
        return iter([t for t in schema.TABLES if t in self._where])

    def __len__(self) -> int:
        return len(self._where)

    def rows(self, name: str) -> int:
        """Rows of a table without reading it (Parquet metadata), 0 when absent."""
        if name not in self._where:
            return 0
        if name in self._loaded:
            return len(self._loaded[name])
        path = Path(self._where[name])
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            return pq.ParquetFile(path).metadata.num_rows
        return len(self[name])

