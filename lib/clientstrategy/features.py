"""Event tables kept where they live: typing, checks and aggregations in SQL, results in pandas.

Event tables are large (a firm's web analytics holds hundreds of millions of rows), so the
workbook never loads the tables of :data:`ENGINE_TABLES` into pandas. They stay in an
*engine*: an embedded DuckDB over the source's files (the default), or Apache Spark for data in
a lakehouse. Each analysis that reads them is split in two: the aggregation, written once here
as SQL, runs in the engine and returns a compact per-client (or per-item) result; the rest
(ranks, shares, wording) is plain pandas on that result.

The SQL is DuckDB's dialect kept to what every engine has (``CASE``, ``COUNT(DISTINCT)``,
joins, ``CAST``); :func:`transpile` turns it into Spark SQL with `sqlglot
<https://sqlglot.com>`_, the translator Ibis uses, and a test asserts that Spark and DuckDB give
the same results. The engine is chosen by the data's URL (:func:`open_table`): a folder, table
file or DuckDB file opens in DuckDB; ``spark://<master>/<folder>`` or ``spark:///<folder>``
(local mode) in Spark.

Functions that take an event table accept either a pandas DataFrame (registered with a private
DuckDB, so small inputs and tests need no setup) or an :class:`EngineTable`.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import schema

__all__ = [
    "CHECKED_IN_ENGINE",
    "ENGINE_ENV",
    "ENGINE_TABLES",
    "DuckDBEngine",
    "EngineTable",
    "SparkEngine",
    "as_table",
    "check_freq",
    "counts_before",
    "detach",
    "digital_counts",
    "digital_recent",
    "digital_windows",
    "fingerprint",
    "open_table",
    "problems",
    "purchase_days",
    "repeat_purchases_by_day",
    "search_counts",
    "settled",
    "split_spark_url",
    "touch_counts",
    "touch_kind_pairs",
    "transpile",
    "view_pairs",
    "window",
    "write_parquet",
]

#: Canonical tables kept in the engine and never loaded whole into pandas.
ENGINE_TABLES = ("activities", "digital")

#: Tables the runner checks, fingerprints and stages in the engine (never whole in its own memory);
#: notebooks still read ``revenue`` into pandas.
CHECKED_IN_ENGINE = ("revenue", "activities", "digital")

#: Environment variable through which the runner tells the notebooks' kernels which engine holds
#: the event tables: empty (DuckDB) or ``spark://<host>`` (``spark://`` alone: Spark in local mode).
ENGINE_ENV = "CLIENTSTRATEGY_ENGINE"

#: Allowed values checked in SQL (as ``validate``'s pandera checks do for pandas tables).
VALUE_CHECKS = {("activities", "activity_type"): schema.ACTIVITY_TYPES}

#: Memory DuckDB may use before it spills to disk (``CLIENTSTRATEGY_DUCKDB_MEMORY`` overrides).
DUCKDB_MEMORY = os.environ.get("CLIENTSTRATEGY_DUCKDB_MEMORY", "3GB")

_SQL_TYPES = {"id": "VARCHAR", "str": "VARCHAR", "date": "DATE", "datetime": "TIMESTAMP", "float": "DOUBLE",
              "int": "BIGINT", "bool": "BOOLEAN"}
_CHECK_NAMES = {"date": "unparseable_date", "datetime": "unparseable_date", "float": "unparseable_number",
                "int": "unparseable_number", "bool": "unparseable_bool"}
MAX_EXAMPLES = 5


def settled(values, decimals: int = 6):
    """Float sums from an engine, rounded to ``decimals``.

    An engine adds in whatever order its threads and partitions finish, so a float sum's last bits
    can change from run to run (and between DuckDB and Spark). Rounded well below any figure the
    workbook shows, the same data gives the same figures, and the same ranks and ties, every time.

    Examples
    --------
    >>> settled(pd.Series([0.1 + 0.2])).tolist()
    [0.3]
    """
    return pd.Series(values).astype("float64").round(decimals)


def q(name: str) -> str:
    """A quoted SQL identifier: ``q('timestamp') -> '"timestamp"'``."""
    return '"' + str(name).replace('"', '""') + '"'


def lit(value) -> str:
    """A SQL literal for a string, number, boolean, None or timestamp (``CAST('...' AS TIMESTAMP)``)."""
    if value is None:
        return "NULL"
    if isinstance(value, pd.Timestamp):
        return f"CAST('{value.strftime('%Y-%m-%d %H:%M:%S')}' AS TIMESTAMP)"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, (bool, np.bool_)):
        return "TRUE" if value else "FALSE"
    return repr(float(value)) if isinstance(value, float) else str(int(value))


def _in_list(values) -> str:
    return "(" + ", ".join(lit(str(v)) for v in values) + ")"


def transpile(sql: str, dialect: str = "spark") -> str:
    """Translate the workbook's SQL (DuckDB dialect) into another engine's dialect.

    Parameters
    ----------
    sql : str
        One statement in DuckDB's dialect.
    dialect : str
        A sqlglot dialect name (``"spark"``, ``"duckdb"``, ...).

    Returns
    -------
    str
        The statement in ``dialect``.

    Examples
    --------
    >>> transpile('SELECT COUNT(DISTINCT "session_id") AS n FROM t')
    'SELECT COUNT(DISTINCT `session_id`) AS n FROM t'
    """
    if dialect == "duckdb":
        return sql
    import sqlglot

    return sqlglot.transpile(sql, read="duckdb", write=dialect)[0]


# --------------------------------------------------------------------------- engines

class DuckDBEngine:
    """An embedded DuckDB connection (memory capped, spilling to a temporary folder)."""

    dialect = "duckdb"

    def __init__(self, database: str = ":memory:", memory_limit: str = DUCKDB_MEMORY):
        import duckdb

        self.con = duckdb.connect(database)
        self.con.execute(f"SET memory_limit = {lit(memory_limit)}")
        self.con.execute("SET enable_progress_bar = false")  # no progress bars in notebooks and logs
        self._n = 0

    def name(self, prefix: str) -> str:
        """A fresh view name."""
        self._n += 1
        return f"{prefix}_{self._n}"

    def register(self, name: str, frame: pd.DataFrame) -> None:
        """Make a pandas frame queryable as ``name`` (through Arrow: DuckDB's direct scan of pandas
        fails on some sliced frames of pandas' ``str`` columns)."""
        import pyarrow as pa

        self.con.register(name, pa.Table.from_pandas(frame, preserve_index=False))

    def sql(self, query: str) -> pd.DataFrame:
        """Run a query; the result as pandas (timestamps as ``datetime64[ns]``)."""
        return _ns(self.con.execute(query).df())

    def rows(self, query: str) -> list[tuple]:
        """Run a query with a small result; its rows as tuples (no DataFrame built)."""
        return self.con.execute(query).fetchall()

    def execute(self, statement: str) -> None:
        self.con.execute(statement)

    def close(self) -> None:
        """Close the connection (and free its memory)."""
        self.con.close()

    def columns(self, view: str) -> list[str]:
        return [c[0] for c in self.con.execute(f"SELECT * FROM {q(view)} LIMIT 0").description]

    def column_types(self, view: str) -> dict[str, str]:
        rows = self.con.execute(f"DESCRIBE SELECT * FROM {q(view)}").fetchall()
        return {r[0]: str(r[1]).upper() for r in rows}


class SparkEngine:
    """Apache Spark (a ``SparkSession``); queries are written for DuckDB and translated.

    Parameters
    ----------
    master : str
        Spark master URL (``local[2]``, ``spark://host:7077``).
    spark : pyspark.sql.SparkSession, optional
        A session to use instead of building one.
    """

    dialect = "spark"

    def __init__(self, master: str = "local[2]", spark=None):
        if spark is None:
            from pyspark.sql import SparkSession

            spark = (SparkSession.builder.master(master).appName("clientstrategy")
                     .config("spark.sql.session.timeZone", "UTC")
                     .config("spark.ui.enabled", "false")
                     .config("spark.sql.shuffle.partitions", "4")
                     .config("spark.sql.ansi.enabled", "false")
                     .config("spark.ui.showConsoleProgress", "false")
                     .getOrCreate())
            spark.sparkContext.setLogLevel("ERROR")
        self.spark = spark
        self._n = 0

    def name(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}_{self._n}"

    def register(self, name: str, frame: pd.DataFrame) -> None:
        plain = frame.copy()
        for c in plain.columns:  # Spark's pandas conversion knows object text, not pandas' str dtype
            if isinstance(plain[c].dtype, pd.StringDtype):
                plain[c] = plain[c].astype(object).where(plain[c].notna(), None)
        sdf = self.spark.createDataFrame(plain) if len(plain) else self.spark.createDataFrame(
            [], ", ".join(f"`{c}` string" for c in plain.columns))
        sdf.createOrReplaceTempView(name)

    def sql(self, query: str) -> pd.DataFrame:
        return _ns(self.spark.sql(transpile(query, "spark")).toPandas())

    def rows(self, query: str) -> list[tuple]:
        return [tuple(r) for r in self.spark.sql(transpile(query, "spark")).collect()]

    def execute(self, statement: str) -> None:
        self.spark.sql(transpile(statement, "spark"))

    def columns(self, view: str) -> list[str]:
        return list(self.spark.table(view).columns)

    def column_types(self, view: str) -> dict[str, str]:
        return {f.name: f.dataType.simpleString().upper() for f in self.spark.table(view).schema.fields}


def _ns(frame: pd.DataFrame) -> pd.DataFrame:
    for c in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[c].dtype):
            col = frame[c]
            if getattr(col.dtype, "tz", None) is not None:
                col = col.dt.tz_convert("UTC").dt.tz_localize(None)
            frame[c] = col.astype("datetime64[ns]")
    return frame


@dataclass
class EngineTable:
    """A canonical table held in an engine as a typed view.

    Attributes
    ----------
    name : str
        Canonical table name.
    engine : DuckDBEngine or SparkEngine
        Where it lives.
    view : str
        The view (typed canonical columns).
    location : str
        Where the rows come from (for messages).
    """

    name: str
    engine: object
    view: str
    location: str = ""
    _columns: list = field(default=None, repr=False)
    _rows: int | None = field(default=None, repr=False)

    @property
    def columns(self) -> list[str]:
        """Column names, as a list."""
        if self._columns is None:
            self._columns = self.engine.columns(self.view)
        return self._columns

    def __len__(self) -> int:
        if self._rows is None:
            self._rows = int(self.engine.sql(f"SELECT COUNT(*) AS n FROM {q(self.view)}")["n"].iloc[0])
        return self._rows

    @property
    def shape(self) -> tuple[int, int]:
        return len(self), len(self.columns)

    def sql(self, query: str) -> pd.DataFrame:
        """Run ``query`` with ``{t}`` standing for this table's view."""
        return self.engine.sql(query.format(t=q(self.view)))

    def head(self, n: int = 5) -> pd.DataFrame:
        return self.sql(f"SELECT * FROM {{t}} LIMIT {int(n)}")

    def to_pandas(self) -> pd.DataFrame:
        """The whole table in pandas: for small tables and tests only."""
        return self.sql("SELECT * FROM {t}")



def as_table(data, name: str) -> EngineTable:
    """An :class:`EngineTable` for a DataFrame (registered in a private DuckDB) or the table itself.

    Parameters
    ----------
    data : DataFrame or EngineTable
        The table.
    name : str
        Its canonical name (used in messages).

    Returns
    -------
    EngineTable

    Raises
    ------
    TypeError
        If ``data`` is neither.

    Examples
    --------
    >>> len(as_table(pd.DataFrame({"client_id": ["a", "b"]}), "digital"))
    2
    """
    if isinstance(data, EngineTable):
        return data
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"table '{name}' must be a DataFrame or an EngineTable, got {type(data).__name__}")
    t = register(data, name, DuckDBEngine(memory_limit="1GB"))
    t._rows = len(data)
    return t


def detach(tables) -> None:
    """Keep each engine table's summary (rows, columns, date range: :func:`summary`), then close
    the engines, which frees their memory (DuckDB keeps scanned data cached up to its limit).
    Afterwards the tables answer only ``len``, ``columns`` and :func:`summary`.

    Parameters
    ----------
    tables : iterable
        Tables; those that are not :class:`EngineTable` are left alone.
    """
    held = [t for t in tables if isinstance(t, EngineTable)]
    for t in held:  # tables of one load share an engine: every summary first, then the closes
        summary(t)
        len(t)
        _ = t.columns
    for engine in {id(t.engine): t.engine for t in held}.values():
        close = getattr(engine, "close", None)
        if close is not None:
            close()


def require(table: EngineTable, columns, name: str | None = None) -> None:
    """Raise ``ValueError`` naming the first of ``columns`` the table lacks."""
    for col in columns:
        if col not in table.columns:
            raise ValueError(f"column '{col}' is missing from table '{name or table.name}'")


# --------------------------------------------------------------------------- opening sources

def _typed_sql(raw_view: str, table: str, types: dict[str, str]) -> str:
    """SELECT the canonical columns of ``raw_view`` typed as the schema says (text: trimmed, empty
    -> NULL; integral numeric ids without ``.0``; unparseable values -> NULL)."""
    spec = schema.TABLES[table]
    parts = []
    for col, raw_type in types.items():
        kind = spec.type_of(col)
        c = q(col)
        if kind in ("id", "str"):
            if raw_type.startswith(("DOUBLE", "FLOAT", "DECIMAL")):
                expr = (f"CASE WHEN {c} = ROUND({c}) THEN CAST(CAST({c} AS BIGINT) AS VARCHAR) "
                        f"ELSE CAST({c} AS VARCHAR) END")
            else:
                expr = f"NULLIF(TRIM(CAST({c} AS VARCHAR)), '')"
        elif kind in _SQL_TYPES:
            want = _SQL_TYPES[kind]
            if raw_type == want:
                expr = c
            elif kind in ("date", "datetime") and raw_type.startswith(("DATE", "TIMESTAMP")):
                expr = f"CAST({c} AS {want})"  # a timestamp's day, or a day at midnight
            elif raw_type.startswith(want):
                expr = c
            else:
                expr = f"TRY_CAST(NULLIF(TRIM(CAST({c} AS VARCHAR)), '') AS {want})"
        else:
            expr = c
        parts.append(f"{expr} AS {c}")
    return f"SELECT {', '.join(parts)} FROM {q(raw_view)}"


def split_spark_url(url: str) -> tuple[str, Path]:
    """``spark://<host>/<folder>`` as (``spark://<host>``, folder); ``spark:///<folder>`` is local mode.

    Examples
    --------
    >>> split_spark_url("spark://head:7077/lake/tables")
    ('spark://head:7077', PosixPath('/lake/tables'))
    >>> split_spark_url("spark:///tmp/tables")[0]
    'spark://'
    """
    text = str(url)
    if not text.startswith("spark://"):
        raise ValueError(f"{text!r} is not a spark:// URL (spark://<host>/<folder>, spark:///<folder> for local mode)")
    host, _, folder = text[len("spark://"):].partition("/")
    return f"spark://{host}", Path("/" + folder)


def _source_location(source, table: str):
    """('spark', master, folder) | ('duckdb-file', path, stored name) | ('file', path, fmt) | None."""
    from . import io

    text = str(source)
    if text.startswith("spark://"):
        rest = text[len("spark://"):]
        host, _, folder = rest.partition("/")
        return "spark", (f"spark://{host}" if host else "local[2]"), "/" + folder
    located = io.list_tables(source).get(table)
    if located is None:
        return None
    kind, where = io._source_kind(source)
    if kind == "duckdb":
        return "duckdb-file", str(where), located.rsplit("#", 1)[1]
    if kind in ("folder", "file"):
        hit = io._table_of_file(Path(located))
        if hit and hit[1] in ("csv", "parquet"):
            return "file", located, hit[1]
    return "memory", None, None


def open_table(source, table: str, mapping=None, engine=None, typed: bool = False) -> EngineTable | None:
    """Open canonical table ``table`` of a source in an engine, typed, without loading it.

    Parameters
    ----------
    source : str or pathlib.Path
        A folder of table files, one table file, a DuckDB file, a SQLAlchemy URL, or
        ``spark://<master>/<folder>`` (``spark:///<folder>``: local mode) of Parquet files.
    table : str
        Canonical table name.
    mapping : str, pathlib.Path or mapping.Mapping, optional
        A mapping; a table it defines is built by it (in memory) and then registered.
    engine : DuckDBEngine or SparkEngine, optional
        The engine to use (default: a new DuckDB, or Spark for a ``spark://`` source).
    typed : bool
        The file is already typed and clean (the runner's staged copy): read as stored, without
        casting and trimming every value on every query.

    Returns
    -------
    EngineTable or None
        None when the source has no such table.

    Raises
    ------
    ValueError
        If ``table`` is not canonical or the source cannot be read.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "digital.csv").write_text("timestamp,client_id,event_type\\n2026-01-05 10:00,007,login\\n")
    >>> t = open_table(folder, "digital")
    >>> t.to_pandas()["client_id"].tolist(), len(t)
    (['007'], 1)
    """
    if table not in schema.TABLES:
        raise ValueError(f"unknown table {table!r}; canonical tables are {sorted(schema.TABLES)}")
    from . import io

    if mapping is not None:
        from .mapping import Mapping, load_mapping

        m = mapping if isinstance(mapping, Mapping) else load_mapping(mapping)
        if table in m.tables:
            loaded = io.load_source(source, mapping=m, tables=[table])
            return _in_memory(loaded, table, engine)
    where = _source_location(source, table)
    if where is None:
        return None
    kind, a, b = where
    if kind == "memory":  # a database reached through SQLAlchemy: read as before, then registered
        return _in_memory(io.load_source(source, tables=[table]), table, engine)
    if kind == "spark":
        engine = engine or SparkEngine(master=a)
        path = Path(b) / f"{table}.parquet"
        if not path.exists():
            return None
        raw = engine.name(f"{table}_raw")
        try:
            engine.spark.read.parquet(str(path)).createOrReplaceTempView(raw)
        except Exception as exc:  # noqa: BLE001 (Spark's analysis errors have no common base in Python)
            if "TIMESTAMP(NANOS" in str(exc):
                raise ValueError(f"table '{table}' ({path}): Spark cannot read nanosecond timestamps; write them "
                                 "in microseconds (pandas: to_parquet(..., coerce_timestamps='us'))") from None
            raise ValueError(f"table '{table}' ({path}): Spark cannot read it: {str(exc).splitlines()[0][:300]}") \
                from None
        location = str(path)
    else:
        engine = engine or DuckDBEngine()
        raw = engine.name(f"{table}_raw")
        if kind == "duckdb-file":
            engine.execute(f"ATTACH {lit(a)} AS src_{raw} (READ_ONLY)")
            engine.execute(f"CREATE VIEW {q(raw)} AS SELECT * FROM src_{raw}.main.{q(b)}")
            location = f"{a}#{b}"
        elif b == "parquet":
            engine.execute(f"CREATE VIEW {q(raw)} AS SELECT * FROM read_parquet({lit(a)})")
            location = a
        else:
            # text files carry no types: io.coerce's rules (several date layouts, "$1,234.50") type them,
            # exactly as for every other table; large event tables belong in Parquet
            return _in_memory(io.load_source(source, tables=[table]), table, engine)
    if typed:  # stored typed: nothing to cast, so no need to ask the engine for the column types
        return EngineTable(table, engine, raw, location=location)
    types = engine.column_types(raw)
    types = {str(c).strip(): t for c, t in types.items()}
    view = engine.name(table)
    engine.execute(f"CREATE OR REPLACE TEMP VIEW {q(view)} AS {_typed_sql(raw, table, types)}"
                   if engine.dialect == "spark" else
                   f"CREATE OR REPLACE VIEW {q(view)} AS {_typed_sql(raw, table, types)}")
    t = EngineTable(table, engine, view, location=location)
    t.raw_view, t.raw_types = raw, types
    return t


def register(frame: pd.DataFrame, table: str, engine=None) -> EngineTable:
    """An :class:`EngineTable` over a typed pandas table (e.g. built by a mapping), in a new DuckDB."""
    engine = engine or DuckDBEngine()
    view = engine.name(table)
    engine.register(view, frame)
    return EngineTable(table, engine, view, location="memory", _columns=[str(c) for c in frame.columns])


def _in_memory(loaded, table: str, engine) -> EngineTable | None:
    frame = dict(loaded).get(table)
    if frame is None:
        return None
    t = register(frame, table, engine)
    from .io import problems_frame

    t.read_problems = problems_frame(getattr(loaded, "problems", [])).to_dict("records")
    return t


# --------------------------------------------------------------------------- checks

def problems(table: EngineTable, tables: dict | None = None) -> list[dict]:
    """The validation problems of an engine table, found in SQL (nothing loaded).

    The same checks and problem records as ``validate.validate`` for a pandas table: missing
    required columns, values that do not parse as their type (``unparseable_date``,
    ``unparseable_number``), missing values in required columns, and ids that reference a table
    of ``tables`` without existing there; an empty table. Counts are exact; up to five examples
    are fetched only for a failing check.

    Parameters
    ----------
    table : EngineTable
        From :func:`open_table`.
    tables : dict, optional
        The other canonical tables (pandas), for references.

    Returns
    -------
    list of dict
        ``io.make_problem`` records; empty when the table is usable.
    """
    from .io import make_problem

    spec = schema.TABLES[table.name]
    found = list(getattr(table, "read_problems", []))
    cols = table.columns
    n = len(table)
    for col in spec.required:
        if col not in cols:
            found.append(make_problem(table.name, col, "missing_column", n,
                                      [f"columns present: {', '.join(cols[:12])}"]))
    if n == 0:
        found.append(make_problem(table.name, "*", "empty_table", 0))
        return found
    raw = getattr(table, "raw_view", None)
    types = getattr(table, "raw_types", {})
    unparsed = {}
    for p in found:  # values the pandas reader could not parse are null now: not also "missing"
        if str(p.get("check", "")).startswith("unparseable") or p.get("check") == "not_whole_number":
            unparsed[p["column"]] = unparsed.get(p["column"], 0) + int(p["count"])
    if raw is not None:
        for col in cols:
            kind = spec.type_of(col)
            typed_at_source = (("DATE", "TIMESTAMP") if kind in ("date", "datetime") else
                               ("DOUBLE", "FLOAT", "DECIMAL", "BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT",
                                "UBIGINT", "UINTEGER") if kind in ("float", "int") else (_SQL_TYPES.get(kind, "?"),))
            if kind not in _CHECK_NAMES or types.get(col, "").startswith(typed_at_source):
                continue
            typed = _typed_sql(raw, table.name, {col: types[col]}).split(" FROM ")[0][len("SELECT "):]
            typed = typed.rsplit(" AS ", 1)[0]
            bad = f"{q(col)} IS NOT NULL AND TRIM(CAST({q(col)} AS VARCHAR)) <> '' AND {typed} IS NULL"
            k = int(table.engine.sql(f"SELECT COUNT(*) AS n FROM {q(raw)} WHERE {bad}")["n"].iloc[0])
            if k:
                ex = table.engine.sql(f"SELECT DISTINCT CAST({q(col)} AS VARCHAR) AS v FROM {q(raw)} "
                                      f"WHERE {bad} LIMIT {MAX_EXAMPLES}")["v"].tolist()
                unparsed[col] = unparsed.get(col, 0) + k
                found.append(make_problem(table.name, col, _CHECK_NAMES[spec.type_of(col)], k,
                                          [repr(v) for v in sorted(ex)]))
    present = [c for c in spec.required if c in cols]
    if present:
        counts = table.sql("SELECT " + ", ".join(
            f"SUM(CASE WHEN {q(c)} IS NULL THEN 1 ELSE 0 END) AS {q(c)}" for c in present) + " FROM {t}")
        for c in present:
            k = int(counts[c].iloc[0] or 0) - unparsed.get(c, 0)
            if k > 0:
                found.append(make_problem(table.name, c, "missing_values", k,
                                          [f"{k} rows with no {c}"]))
    for (tn, col), allowed in VALUE_CHECKS.items():
        if tn != table.name or col not in cols:
            continue
        bad = table.sql(f"SELECT {q(col)} AS v, COUNT(*) AS n FROM {{t}} WHERE {q(col)} IS NOT NULL "
                        f"AND {q(col)} NOT IN {_in_list(allowed)} GROUP BY {q(col)}")
        if len(bad):
            bad = bad.sort_values(["n", "v"], ascending=[False, True], kind="mergesort")
            found.append(make_problem(table.name, col, "unknown_value", int(bad["n"].sum()),
                                      [f"{v!r} ({int(k)} rows)" for v, k in zip(bad["v"][:MAX_EXAMPLES],
                                                                               bad["n"][:MAX_EXAMPLES])]
                                      + [f"allowed: {', '.join(allowed)}"]))
    for col, (rt, rc) in spec.references.items():
        other = (tables or {}).get(rt)
        if col not in cols or other is None or rc not in other.columns or not len(other):
            continue
        known = table.engine.name(f"known_{rt}")
        table.engine.register(known, pd.DataFrame({"v": pd.Series(other[rc].dropna().unique(), dtype=object)
                                                   .astype(str)}))
        bad = table.sql(f"SELECT t.{q(col)} AS v, COUNT(*) AS n FROM {{t}} t LEFT JOIN {q(known)} k "
                        f"ON t.{q(col)} = k.v WHERE t.{q(col)} IS NOT NULL AND k.v IS NULL GROUP BY t.{q(col)}")
        if len(bad):
            bad = bad.sort_values(["n", "v"], ascending=[False, True], kind="mergesort")
            found.append(make_problem(
                table.name, col, "unknown_reference", int(bad["n"].sum()),
                [f"{v!r} not in {rt}.{rc} ({int(k)} rows)" for v, k in zip(bad["v"][:MAX_EXAMPLES],
                                                                             bad["n"][:MAX_EXAMPLES])]))
    return found


def summary(table: EngineTable) -> dict:
    """Rows, date range and the non-missing share of every column, in one scan.

    Returns
    -------
    dict
        ``rows``, ``date_min``, ``date_max`` (over the table's date or timestamp column, NaT
        without one), ``non_null`` (column -> share).
    """
    cached = getattr(table, "_summary", None)
    if cached is not None:
        return cached
    cols = table.columns
    spec = schema.TABLES.get(table.name)
    date_col = next((c for c, k in (spec.required.items() if spec else []) if k in ("date", "datetime")
                     and c in cols), None)
    parts = ["COUNT(*) AS n_rows"] + [f"COUNT({q(c)}) AS {q('nn_' + c)}" for c in cols]
    if date_col:
        parts += [f"MIN({q(date_col)}) AS d_min", f"MAX({q(date_col)}) AS d_max"]
    r = table.sql("SELECT " + ", ".join(parts) + " FROM {t}").iloc[0]
    n = int(r["n_rows"])
    table._summary = {"rows": n, "date_column": date_col,
            "date_min": pd.Timestamp(r["d_min"]) if date_col and pd.notna(r["d_min"]) else pd.NaT,
            "date_max": pd.Timestamp(r["d_max"]) if date_col and pd.notna(r["d_max"]) else pd.NaT,
            "non_null": {c: (int(r["nn_" + c]) / n if n else np.nan) for c in cols},
                      "missing": {c: n - int(r["nn_" + c]) for c in cols}}
    return table._summary


def count_where(table: EngineTable, condition: str) -> int:
    """Rows of ``table`` meeting a SQL condition."""
    return int(table.sql(f"SELECT COUNT(*) AS n FROM {{t}} WHERE {condition}")["n"].iloc[0])


# --------------------------------------------------------------------------- fingerprint and copies

def _canonical_expr(col: str, kind: str | None) -> str:
    c = q(col)
    if kind in ("date", "datetime"):
        return f"COALESCE(STRFTIME(CAST({c} AS TIMESTAMP), '%Y-%m-%dT%H:%M:%S.%f'), '\x00')"
    if kind in ("float", "int"):
        return f"COALESCE(CAST(CAST({c} AS DOUBLE) + 0.0 AS VARCHAR), '\x00')"  # + 0.0: -0.0 is 0.0
    return f"COALESCE(CAST({c} AS VARCHAR), '\x00')"


def fingerprint(table: EngineTable) -> str:
    """A SHA-256 of the table's content that does not depend on row or column order.

    DuckDB hashes every row (columns in sorted order, values as text) to 64 bits; the digest is
    over the row count and the sum and exclusive-or of the row hashes. Equal tables give equal
    fingerprints in any row order; different tables collide with negligible probability.

    Parameters
    ----------
    table : EngineTable
        A DuckDB-held table.

    Returns
    -------
    str
        64 hexadecimal characters.
    """
    spec = schema.TABLES.get(table.name)
    cols = sorted(table.columns)
    row = " || '\x1f' || ".join(_canonical_expr(c, spec.type_of(c) if spec else None) for c in cols) or "''"
    r = table.sql(f"SELECT COUNT(*) AS n, CAST(SUM(CAST(h AS HUGEINT)) AS VARCHAR) AS s, "
                  f"CAST(BIT_XOR(h) AS VARCHAR) AS x FROM (SELECT HASH({row}) AS h FROM {{t}})").iloc[0]
    text = f"\x02table\x1f{table.name}\x1f{int(r['n'])}\x1f" + "\x1f".join(cols) + f"\x1e{r['s']}\x1e{r['x']}"
    return hashlib.sha256(text.encode()).hexdigest()


def write_parquet(table: EngineTable, path, replace: dict | None = None) -> None:
    """Write the table to one Parquet file, streamed by the engine (DuckDB).

    Parameters
    ----------
    table : EngineTable
        The table.
    path : str or pathlib.Path
        The file to write.
    replace : dict, optional
        Column -> pandas DataFrame with columns ``old`` and ``new``: values of the column are
        replaced through that lookup (values not in it are kept), as pseudonymisation needs.
    """
    cols, joins = [], []
    for i, c in enumerate(table.columns):
        if replace and c in replace:
            lk = table.engine.name(f"lookup_{i}")
            table.engine.register(lk, replace[c])
            joins.append(f"LEFT JOIN {q(lk)} l{i} ON t.{q(c)} = l{i}.old")
            cols.append(f"CASE WHEN l{i}.old IS NULL THEN t.{q(c)} ELSE l{i}.new END AS {q(c)}")
        else:
            cols.append(f"t.{q(c)}")
    query = f"SELECT {', '.join(cols)} FROM {q(table.view)} t {' '.join(joins)}"
    table.engine.execute(f"COPY ({query}) TO {lit(str(path))} (FORMAT parquet, COMPRESSION zstd)")


def distinct_values(table: EngineTable, column: str) -> pd.Series:
    """The distinct non-null values of a column (for lookups built in Python, e.g. text keys)."""
    return table.sql(f"SELECT DISTINCT {q(column)} AS v FROM {{t}} WHERE {q(column)} IS NOT NULL")["v"]


# --------------------------------------------------------------------------- digital aggregations

def _window(as_of: pd.Timestamp, start: pd.Timestamp | None = None, col: str = "timestamp") -> str:
    """Rows whose calendar day is in ``(start, as_of]``."""
    cond = f"{q(col)} < {lit(as_of.normalize() + pd.Timedelta(days=1))}"
    if start is not None:
        cond += f" AND {q(col)} >= {lit(start.normalize() + pd.Timedelta(days=1))}"
    return cond


def digital_counts(digital, as_of: pd.Timestamp, window_days: int, aliases: dict) -> pd.DataFrame:
    """Per-client digital counts over ``(as_of - window_days, as_of]`` and the last event ever.

    Parameters
    ----------
    digital : DataFrame or EngineTable
        Canonical ``digital``.
    as_of : Timestamp
        End of the window (a day).
    window_days : int
        Window length in days.
    aliases : dict
        Measure -> event types (lower case) it counts, e.g. ``{"logins": ("login",)}``.

    Returns
    -------
    DataFrame
        ``client_id``, one column per measure, ``sessions`` (distinct session ids, or NaN
        without a ``session_id`` column), ``minutes`` (NaN without ``duration_s``), ``events``
        (all events in the window) and ``last_digital``; one row per client with any event up to
        ``as_of``, by ``client_id``.
    """
    t = as_table(digital, "digital")
    require(t, ["timestamp", "client_id", "event_type"])
    start = as_of - pd.Timedelta(days=window_days)
    # which stored spellings count as which measure is decided once, on the few distinct values, so
    # the scan below compares raw values instead of lower-casing every row
    kinds = distinct_values(t, "event_type").astype(str)
    norm = kinds.str.strip().str.lower()
    # one scan: the window's counts as conditional sums, and the last event ever, in the same pass
    # (two queries, window then history, took three times as long on 200 million events)
    w = f"({q('timestamp')} >= {lit(start.normalize() + pd.Timedelta(days=1))})"
    parts = []
    for k, v in aliases.items():
        raw = kinds[norm.isin(v)].tolist()
        parts.append(f"SUM(CASE WHEN {w} AND {q('event_type')} IN {_in_list(raw)} THEN 1 ELSE 0 END) AS {q(k)}"
                     if raw else f"0 AS {q(k)}")
    has_s = "session_id" in t.columns
    has_d = "duration_s" in t.columns
    parts.append(f"COUNT(DISTINCT CASE WHEN {w} THEN {q('session_id')} END) AS sessions" if has_s
                 else "CAST(NULL AS DOUBLE) AS sessions")
    parts.append(f"SUM(CASE WHEN {w} THEN {q('duration_s')} END) / 60.0 AS minutes" if has_d
                 else "CAST(NULL AS DOUBLE) AS minutes")
    parts.append(f"SUM(CASE WHEN {w} THEN 1 ELSE 0 END) AS events")
    parts.append(f"MAX({q('timestamp')}) AS last_digital")
    out = t.sql(f"SELECT {q('client_id')} AS client_id, {', '.join(parts)} FROM {{t}} "
                f"WHERE {_window(as_of)} AND {q('client_id')} IS NOT NULL AND {q('timestamp')} IS NOT NULL "
                f"GROUP BY {q('client_id')}")
    for k in [*aliases, "events"]:
        out[k] = out[k].fillna(0).astype("int64")
    if has_d:
        out["minutes"] = out["minutes"].fillna(0.0)
    out["minutes"] = settled(out["minutes"])
    out["client_id"] = out["client_id"].astype("str")
    return out.sort_values("client_id", kind="mergesort").reset_index(drop=True)


def digital_windows(digital, as_of: pd.Timestamp, window_days: int, days) -> pd.DataFrame:
    """Per-client events in the window, and how many fall on the given days.

    Parameters
    ----------
    digital : DataFrame or EngineTable
        Canonical ``digital``.
    as_of : Timestamp
        End of the window.
    window_days : int
        Window length.
    days : sequence of Timestamp
        Calendar days (e.g. those within a burst after a market event).

    Returns
    -------
    DataFrame
        ``client_id``, ``events``, ``hits`` (events on ``days``); clients with an event in the window.
    """
    t = as_table(digital, "digital")
    require(t, ["timestamp", "client_id"])
    start = as_of - pd.Timedelta(days=window_days)
    dv = t.engine.name("days")
    t.engine.register(dv, pd.DataFrame({"day": pd.to_datetime(pd.Series(list(days), dtype="datetime64[ns]"))
                                        .dt.normalize().dt.strftime("%Y-%m-%d").astype(object)}))
    out = t.sql(f"SELECT d.{q('client_id')} AS client_id, COUNT(*) AS events, COUNT(k.day) AS hits "
                f"FROM {{t}} d LEFT JOIN {q(dv)} k ON CAST(CAST(d.{q('timestamp')} AS DATE) AS VARCHAR) = k.day "
                f"WHERE {_window(as_of, start, 'timestamp').replace(q('timestamp'), 'd.' + q('timestamp'))} "
                f"AND d.{q('client_id')} IS NOT NULL GROUP BY d.{q('client_id')}")
    out["client_id"] = out["client_id"].astype("str")
    return out.astype({"events": "int64", "hits": "int64"}).sort_values("client_id").reset_index(drop=True)


#: Up to this many distinct items, co-views are counted from each basket's item set as a bit mask
#: (one aggregation, no self-join); above it, by the self-join of baskets.
MASK_ITEMS = 62


def _view_pairs_masks(t, where: str, item: str, basket: str, items: list, min_clients: int):
    """:func:`view_pairs` for few items: every basket's set of items as a bit mask.

    One pass groups the views by basket into a mask (``BIT_OR`` of the items' bits), a second counts
    baskets per client and mask; the pairs are read off the distinct (client, mask) rows in numpy.
    The self-join it replaces produced a row per pair per basket (hundreds of millions for 200
    million events) and ran out of memory; this needs a row per basket only.
    """
    iv = t.engine.name("items")
    t.engine.register(iv, pd.DataFrame({"item": pd.Series(items, dtype=object),
                                        "bit": np.arange(len(items), dtype="int64")}))
    keys = f"e.{q('client_id')}" + ("" if basket == "client_id" else f", e.{q(basket)}")
    masks = t.sql(f"SELECT client_id, mask, COUNT(*) AS n FROM (SELECT e.{q('client_id')} AS client_id, "
                  f"BIT_OR(CAST(1 AS BIGINT) << i.bit) AS mask FROM (SELECT * FROM {{t}} WHERE {where}) e "
                  f"JOIN {q(iv)} i ON CAST(e.{q(item)} AS VARCHAR) = i.item GROUP BY {keys}) b "
                  f"GROUP BY client_id, mask")
    client = pd.factorize(masks["client_id"].astype(str))[0]
    order = np.argsort(client, kind="mergesort")
    client, mask = client[order], masks["mask"].to_numpy(dtype="int64")[order]
    n = masks["n"].to_numpy(dtype="int64")[order]
    starts = np.flatnonzero(np.r_[True, client[1:] != client[:-1]]) if len(client) else np.zeros(0, dtype=int)
    bits = [((mask >> i) & 1).astype(bool) for i in range(len(items))]
    rows = []
    for i in range(len(items)):
        for j in range(i + 1, len(items)):
            both = bits[i] & bits[j]
            if not both.any():
                continue
            clients = int(np.maximum.reduceat(both.astype("int8"), starts).sum())
            if clients >= min_clients:
                rows.append((items[i], items[j], int(n[both].sum()), clients))
    pairs = pd.DataFrame(rows, columns=["item_a", "item_b", "baskets_both", "clients_both"])
    per_item = pd.DataFrame({"item": items, "baskets": [int(n[b].sum()) for b in bits]})
    pairs = pairs.astype({"item_a": "str", "item_b": "str", "baskets_both": "int64", "clients_both": "int64"})
    return pairs, per_item.astype({"item": "str", "baskets": "int64"}), int(n.sum())


def view_pairs(digital, as_of: pd.Timestamp, item: str, event_types, basket: str,
               start: pd.Timestamp | None, min_clients: int) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Co-viewed item pairs counted in the engine (bit masks of each basket's items, or a self-join
    of baskets when there are more than :data:`MASK_ITEMS` items).

    Returns
    -------
    pairs : DataFrame
        ``item_a``, ``item_b`` (``item_a < item_b``), ``baskets_both``, ``clients_both``; pairs with
        at least ``min_clients`` distinct clients.
    per_item : DataFrame
        ``item``, ``baskets``.
    n_baskets : int
        Distinct baskets with a view.
    """
    t = as_table(digital, "digital")
    require(t, ["timestamp", "client_id", "event_type", item, basket])
    # which stored spellings are views is decided on the few distinct values, not per row
    kinds = distinct_values(t, "event_type").astype(str)
    raw = kinds[kinds.str.lower().isin(list(event_types))].tolist()
    where = (f"{_window(as_of, start)} AND {q('event_type')} IN {_in_list(raw) if raw else '(NULL)'} "
             f"AND {q(item)} IS NOT NULL AND {q(basket)} IS NOT NULL AND {q('client_id')} IS NOT NULL")
    items = sorted(t.sql(f"SELECT DISTINCT CAST({q(item)} AS VARCHAR) AS item FROM {{t}} WHERE {where}")["item"]
                   .astype(str))
    if len(items) <= MASK_ITEMS:
        return _view_pairs_masks(t, where, item, basket, items, min_clients)
    v = (f"SELECT DISTINCT CAST({q('client_id')} AS VARCHAR) || '|' || CAST({q(basket)} AS VARCHAR) AS basket, "
         f"{q('client_id')} AS client_id, CAST({q(item)} AS VARCHAR) AS item FROM {{t}} "
         f"WHERE {_window(as_of, start)} AND LOWER(CAST({q('event_type')} AS VARCHAR)) IN {_in_list(event_types)} "
         f"AND {q(item)} IS NOT NULL AND {q(basket)} IS NOT NULL AND {q('client_id')} IS NOT NULL")
    pairs = t.sql(f"WITH v AS ({v}) SELECT a.item AS item_a, b.item AS item_b, "
                  f"COUNT(DISTINCT a.basket) AS baskets_both, COUNT(DISTINCT a.client_id) AS clients_both "
                  f"FROM v a JOIN v b ON a.basket = b.basket AND a.item < b.item GROUP BY a.item, b.item "
                  f"HAVING COUNT(DISTINCT a.client_id) >= {int(min_clients)}")
    per_item = t.sql(f"WITH v AS ({v}) SELECT item, COUNT(DISTINCT basket) AS baskets FROM v GROUP BY item")
    n = int(t.sql(f"WITH v AS ({v}) SELECT COUNT(DISTINCT basket) AS n FROM v")["n"].iloc[0])
    pairs = pairs.astype({"item_a": "str", "item_b": "str", "baskets_both": "int64", "clients_both": "int64"})
    return pairs, per_item.astype({"item": "str", "baskets": "int64"}), n


def search_counts(digital, as_of: pd.Timestamp, keys: pd.DataFrame | None, periods=()) -> pd.DataFrame:
    """Search counts in the engine: by raw query, or by question key.

    Parameters
    ----------
    digital : DataFrame or EngineTable
        Canonical ``digital`` with ``search_query``.
    as_of : Timestamp
        Rows after this day are ignored.
    keys : DataFrame or None
        None: return ``query``, ``n`` (searches per distinct raw query). Else a lookup with
        ``query`` (raw), ``wording`` (trimmed) and ``key``: return per key ``searches``,
        ``clients``, ``variants`` (distinct wordings) and one count column per entry of ``periods``.
    periods : sequence of (name, start, end)
        Named half-open timestamp ranges counted per key.

    Returns
    -------
    DataFrame
    """
    t = as_table(digital, "digital")
    require(t, ["timestamp", "client_id", "search_query"])
    base = f"{_window(as_of)} AND {q('search_query')} IS NOT NULL"
    if keys is None:
        out = t.sql(f"SELECT CAST({q('search_query')} AS VARCHAR) AS query, COUNT(*) AS n FROM {{t}} "
                    f"WHERE {base} GROUP BY CAST({q('search_query')} AS VARCHAR)")
        return out.astype({"query": "str", "n": "int64"})
    kv = t.engine.name("keys")
    t.engine.register(kv, keys[["query", "wording", "key"]].astype(object))
    per = [f"SUM(CASE WHEN d.{q('timestamp')} >= {lit(s)} AND d.{q('timestamp')} < {lit(e)} THEN 1 ELSE 0 END) "
           f"AS {q(name)}" for name, s, e in periods]
    out = t.sql(f"SELECT k.key AS key, COUNT(*) AS searches, COUNT(DISTINCT d.{q('client_id')}) AS clients, "
                f"COUNT(DISTINCT k.wording) AS variants{''.join(', ' + p for p in per)} "
                f"FROM {{t}} d JOIN {q(kv)} k ON CAST(d.{q('search_query')} AS VARCHAR) = k.query "
                f"WHERE {base.replace(q('timestamp'), 'd.' + q('timestamp')).replace(q('search_query'), 'd.' + q('search_query'))} "
                f"GROUP BY k.key")
    ints = {c: "int64" for c in ["searches", "clients", "variants", *[p[0] for p in periods]]}
    return out.fillna({c: 0 for c in ints}).astype({"key": "str", **ints})


def digital_recent(digital, start: pd.Timestamp, end: pd.Timestamp, event_types,
                   columns=("product_id", "search_query", "page")) -> pd.DataFrame:
    """Events with ``start < timestamp < end`` of the given types, counted per distinct row.

    Returns
    -------
    DataFrame
        ``client_id``, ``event_type``, the optional ``columns`` present, ``n`` (events) and ``last``
        (latest timestamp).
    """
    t = as_table(digital, "digital")
    require(t, ["timestamp", "client_id", "event_type"])
    extra = [c for c in columns if c in t.columns]
    keys = [q("client_id"), q("event_type"), *[q(c) for c in extra]]
    out = t.sql(f"SELECT {', '.join(keys)}, COUNT(*) AS n, MAX({q('timestamp')}) AS last FROM {{t}} "
                f"WHERE {q('timestamp')} > {lit(start)} AND {q('timestamp')} < {lit(end)} "
                f"AND CAST({q('event_type')} AS VARCHAR) IN {_in_list(event_types)} AND {q('client_id')} IS NOT NULL "
                f"GROUP BY {', '.join(keys)}")
    return out.astype({"n": "int64"})


# --------------------------------------------------------------------------- touch aggregations

#: Stands for a missing raw value in the touch-kind lookup join (a join never matches NULL).
_NULL_KEY = "\x01"

#: Period frequency -> (multiplier of the year, SQL part within the year); pandas' ``to_period``
#: codes, calendar periods.
_PERIOD_PARTS = {"Q": (10, "QUARTER"), "M": (100, "MONTH"), "Y": (1, None), "A": (1, None)}


def _period_code(col: str, freq: str) -> str:
    """SQL for a calendar period as an integer (2026Q1 -> 20261, 2026-03 -> 202603, 2026 -> 2026)."""
    mult, part = _PERIOD_PARTS[freq]
    year = f"EXTRACT(YEAR FROM {col})"
    return year if part is None else f"({year} * {mult} + EXTRACT({part} FROM {col}))"


def _periods_from_codes(codes: pd.Series, freq: str) -> pd.Series:
    """The pandas periods of :func:`_period_code`'s integers."""
    mult, part = _PERIOD_PARTS[freq]
    c = codes.astype("int64").to_numpy()
    if part is None:
        idx = pd.PeriodIndex.from_fields(year=c, freq="Y")
    elif part == "QUARTER":
        idx = pd.PeriodIndex.from_fields(year=c // mult, quarter=c % mult, freq="Q")
    else:
        idx = pd.PeriodIndex.from_fields(year=c // mult, month=c % mult, freq="M")
    return pd.Series(idx, index=codes.index)


def check_freq(freq: str) -> str:
    """``freq`` upper-cased if the engine can group by it (``Q``, ``M``, ``Y``), else ``ValueError``."""
    f = str(freq).upper()
    if f not in _PERIOD_PARTS:
        raise ValueError(f"freq {freq!r}: periods are calendar quarters ('Q'), months ('M') or years ('Y')")
    return f


def touch_kind_pairs(activities) -> pd.DataFrame:
    """The distinct raw ``activity_type`` and ``outcome`` pairs of ``activities`` (a scan of two
    low-cardinality columns), cached on the table.

    Returns
    -------
    DataFrame
        ``activity_type``, ``outcome`` (raw values, None when missing; ``outcome`` all None when
        the table has none), sorted.
    """
    t = as_table(activities, "activities")
    require(t, ["activity_type"])
    cached = getattr(t, "_kind_pairs", None)
    if cached is not None:
        return cached.copy()
    has_o = "outcome" in t.columns
    o = f"CAST({q('outcome')} AS VARCHAR)" if has_o else "CAST(NULL AS VARCHAR)"
    rows = t.engine.rows(f"SELECT DISTINCT CAST({q('activity_type')} AS VARCHAR) AS activity_type, {o} AS outcome "
                         f"FROM {q(t.view)}")
    # sorted with missing values last (a few dozen pairs: plain Python)
    rows = sorted(rows, key=lambda r: tuple((v is None, v or "") for v in r))
    pairs = pd.DataFrame({"activity_type": pd.Series([r[0] for r in rows], dtype=object),
                          "outcome": pd.Series([r[1] for r in rows], dtype=object)})
    t._kind_pairs = pairs
    return pairs.copy()


def _touch_source(t: EngineTable, where: str, kinds: pd.DataFrame | None, join: tuple | None):
    """FROM clause of the touch aggregations: the rows of ``where`` as ``a``, the kinds lookup as ``k``
    (joined on the raw type and outcome), the ``join`` frame as ``j``; and a resolver naming the SQL
    expression of a column (a kinds column, a join column, else an activities column)."""
    src = f"(SELECT * FROM {{t}} WHERE {where}) a"
    cols = set(t.columns)
    kind_cols, join_cols = set(), set()
    if kinds is not None:
        kv = t.engine.name("kinds")
        k = kinds.copy()
        k["raw_type"] = k["raw_type"].where(k["raw_type"].notna(), _NULL_KEY).astype(str)
        k["raw_outcome"] = k["raw_outcome"].where(k["raw_outcome"].notna(), _NULL_KEY).astype(str)
        t.engine.register(kv, k.astype({c: object for c in k.columns if k[c].dtype == "str"}))
        o = f"CAST(a.{q('outcome')} AS VARCHAR)" if "outcome" in cols else "CAST(NULL AS VARCHAR)"
        src += (f" JOIN {q(kv)} k ON COALESCE(CAST(a.{q('activity_type')} AS VARCHAR), {lit(_NULL_KEY)}) = k.raw_type"
                f" AND COALESCE({o}, {lit(_NULL_KEY)}) = k.raw_outcome")
        kind_cols = set(kinds.columns) - {"raw_type", "raw_outcome"}
    if join is not None:
        frame, on = join
        jv = t.engine.name("join")
        j = frame.drop_duplicates(on).copy()
        j[on] = j[on].astype(str)
        t.engine.register(jv, j.astype({c: object for c in j.columns if j[c].dtype == "str"}))
        src += f" LEFT JOIN {q(jv)} j ON CAST(a.{q(on)} AS VARCHAR) = j.{q(on)}"
        join_cols = set(frame.columns) - {on}

    def column(c: str) -> str:
        if c in kind_cols:
            return f"k.{q(c)}"
        if c in join_cols:
            return f"j.{q(c)}"
        if c in cols:
            return f"a.{q(c)}"
        raise ValueError(f"column '{c}' is missing from table 'activities'")

    return src, column


def touch_counts(activities, by, *, where: str = "TRUE", kinds: pd.DataFrame | None = None,
                 join: tuple | None = None, freq: str | None = None,
                 measures: dict | None = None, ordered: bool = False) -> pd.DataFrame:
    """Touches grouped in the engine: the one aggregation behind every touch analysis.

    The rules that turn a raw touch kind into a normalised kind and a quality weight are Python
    (``activities.touch_weights``); they are applied once to the few distinct raw pairs and the
    result, ``kinds``, is joined here, so 50 million touches are never read into pandas.

    Parameters
    ----------
    activities : DataFrame or EngineTable
        Canonical ``activities``.
    by : sequence of str
        Group columns: ``"period"`` (the calendar period of ``timestamp``, needs ``freq``), a
        column of ``kinds`` (e.g. the normalised ``activity_type``, ``outcome``), a column of the
        ``join`` frame, or an ``activities`` column (raw).
    where : str
        SQL condition on the ``activities`` columns (e.g. a time window).
    kinds : DataFrame, optional
        Lookup on the raw pairs: ``raw_type``, ``raw_outcome`` (raw values; None for missing) and
        any other columns (``weight``...), usable in ``by`` and ``measures`` as ``k.<column>``.
    join : (DataFrame, str), optional
        A frame and its key column (an ``activities`` column), left-joined; its columns are
        usable in ``by`` and in ``measures`` as ``j.<column>``.
    freq : str, optional
        ``Q``, ``M`` or ``Y`` when ``by`` holds ``"period"``.
    measures : dict, optional
        Output column -> SQL aggregate over ``a.`` (activities), ``k.`` and ``j.``; default
        ``{"touches": "COUNT(*)"}``.
    ordered : bool
        Rows sorted by ``by`` in the engine (text by code point, periods in time, missing last),
        as pandas sorts them; default in the engine's order.

    Returns
    -------
    DataFrame
        The ``by`` columns (text as ``str``, ``period`` as pandas periods) and the measures; one
        row per group present.
    """
    t = as_table(activities, "activities")
    by = list(by)
    measures = {"touches": "COUNT(*)"} if measures is None else dict(measures)
    src, column = _touch_source(t, where, kinds, join)
    sel, groups = [], []
    for i, c in enumerate(by):
        if c == "period":
            if not freq:
                raise ValueError("column 'period' needs freq (e.g. 'Q')")
            expr = _period_code(f"a.{q('timestamp')}", check_freq(freq))
        else:
            expr = column(c)
        sel.append(f"{expr} AS g{i}")
        groups.append(expr)
    sel += [f"{m} AS {q(name)}" for name, m in measures.items()]
    query = f"SELECT {', '.join(sel)} FROM {src}" + (f" GROUP BY {', '.join(groups)}" if groups else "")
    if ordered and groups:
        query += " ORDER BY " + ", ".join(f"g{i} ASC NULLS LAST" for i in range(len(groups)))
    out = t.sql(query)
    out.columns = [*by, *measures]
    for c in by:
        if c == "period":
            out[c] = _periods_from_codes(out[c], check_freq(freq))
        elif out[c].dtype == object or isinstance(out[c].dtype, pd.StringDtype):
            out[c] = out[c].astype("str")
    return out


def window(as_of: pd.Timestamp, start: pd.Timestamp | None = None, col: str = "timestamp") -> str:
    """SQL condition: the calendar day of ``col`` lies in ``(start, as_of]`` (``start`` optional)."""
    return _window(pd.Timestamp(as_of), None if start is None else pd.Timestamp(start), col)


def counts_before(table, keys: pd.DataFrame, name: str, time_col: str, group_col: str) -> pd.DataFrame:
    """Rows of a client's events in a window before each key row, counted by ``group_col``.

    Parameters
    ----------
    table : DataFrame or EngineTable
        An event table with ``client_id``, ``time_col`` and ``group_col``.
    keys : DataFrame
        ``_row`` (an id), ``client_id``, ``lo``, ``hi``: count events with ``lo <= time < hi``.
    name : str
        The table's canonical name (for messages).
    time_col, group_col : str
        Event time and the column counted by (values as text).

    Returns
    -------
    DataFrame
        ``_row``, ``group`` (text), ``n``: one row per key row and group with an event.
    """
    t = as_table(table, name)
    require(t, ["client_id", time_col, group_col])
    kv = t.engine.name("keys")
    k = keys[["_row", "client_id", "lo", "hi"]].copy()
    k["client_id"] = k["client_id"].astype(str).astype(object)
    t.engine.register(kv, k)
    out = t.sql(f"SELECT k._row AS _row, CAST(e.{q(group_col)} AS VARCHAR) AS grp, COUNT(*) AS n "
                f"FROM {{t}} e JOIN {q(kv)} k ON CAST(e.{q('client_id')} AS VARCHAR) = k.client_id "
                f"WHERE e.{q(time_col)} >= k.lo AND e.{q(time_col)} < k.hi AND e.{q(group_col)} IS NOT NULL "
                f"GROUP BY k._row, CAST(e.{q(group_col)} AS VARCHAR)")
    return pd.DataFrame({"_row": out["_row"].astype("int64"), "group": out["grp"].astype("str"),
                         "n": out["n"].astype("int64")})


def _period_linear(col: str, freq: str) -> str:
    """SQL for the calendar period of ``col`` as a running integer (consecutive periods differ by 1)."""
    part = {"Q": ("QUARTER", 4), "M": ("MONTH", 12)}.get(freq)
    year = f"EXTRACT(YEAR FROM {col})"
    return year if part is None else f"({year} * {part[1]} + EXTRACT({part[0]} FROM {col}) - 1)"


def _linear(period: pd.Period) -> int:
    """The running integer of :func:`_period_linear` for a pandas period."""
    return {"Q": period.year * 4 + period.quarter - 1, "M": period.year * 12 + period.month - 1}.get(
        check_freq(period.freqstr[0]), period.year)


def touch_cells(activities, key, clients: pd.DataFrame, first: pd.Period, *, where: str = "TRUE",
                kinds: pd.DataFrame, join: tuple | None = None) -> tuple[pd.DataFrame, list]:
    """Touches per client, period and touch kind as integer cells of a panel, counted in the engine.

    The within-client designs need a client x period x kind array. Its long form has as many rows
    as the array has non-empty cells (tens of millions for 100,000 clients), so the cells come back
    as integer positions: no text per row reaches pandas.

    Parameters
    ----------
    activities : DataFrame or EngineTable
        Canonical ``activities``.
    key : sequence of str
        Columns naming a touch kind (as in :func:`touch_counts`' ``by``); the kind is their values
        joined with ``/`` (missing -> ``unknown``).
    clients : DataFrame
        ``client_id``, ``ci`` (row in the panel), ``t_lo``, ``t_hi``: only cells of these clients
        with ``t_lo <= t <= t_hi`` are kept (the client's active rows).
    first : pandas.Period
        The panel's period 0 (its frequency is the panel's).
    where, kinds, join
        As in :func:`touch_counts`.

    Returns
    -------
    cells : DataFrame
        ``ci``, ``ti`` (period index), ``ki`` (index in ``keys``), ``touches``, ``weighted`` (sum of
        ``k.weight``).
    keys : list of str
        The kinds present, sorted.
    """
    t = as_table(activities, "activities")
    freq = check_freq(first.freqstr[0])
    src, column = _touch_source(t, where, kinds, join)
    parts = [column(c) for c in key]
    key_sql = " || '/' || ".join(f"COALESCE(CAST({p} AS VARCHAR), 'unknown')" for p in parts)
    cv = t.engine.name("cells_clients")
    cl = clients[["client_id", "ci", "t_lo", "t_hi"]].copy()
    cl["client_id"] = cl["client_id"].astype(str).astype(object)
    t.engine.register(cv, cl.astype({"ci": "int64", "t_lo": "int64", "t_hi": "int64"}))
    ti = f"({_period_linear('a.' + q('timestamp'), freq)} - {_linear(first)})"
    src += f" JOIN {q(cv)} c ON CAST(a.{q('client_id')} AS VARCHAR) = c.client_id"
    keep = f"{ti} >= c.t_lo AND {ti} <= c.t_hi"
    keys = sorted(t.sql(f"SELECT DISTINCT {key_sql} AS key FROM {src} WHERE {keep}")["key"].astype(str))
    kk = t.engine.name("cell_keys")
    t.engine.register(kk, pd.DataFrame({"key": pd.Series(keys, dtype=object), "ki": np.arange(len(keys), dtype="int64")}))
    cells = t.sql(f"SELECT g.ci AS ci, g.ti AS ti, kk.ki AS ki, g.touches AS touches, g.weighted AS weighted FROM "
                  f"(SELECT c.ci AS ci, CAST({ti} AS BIGINT) AS ti, {key_sql} AS key, COUNT(*) AS touches, "
                  f"SUM(k.weight) AS weighted FROM {src} WHERE {keep} GROUP BY c.ci, {ti}, {key_sql}) g "
                  f"JOIN {q(kk)} kk ON g.key = kk.key")
    cells = cells.astype({"ci": "int64", "ti": "int64", "ki": "int64", "touches": "int64", "weighted": "float64"})
    return cells, keys


# --------------------------------------------------------------------------- revenue aggregations

def revenue_spans(revenue, as_of: pd.Timestamp) -> tuple[pd.Timestamp, pd.DataFrame]:
    """The first revenue day up to ``as_of``, and each client's first and last day with a purchase.

    Returns
    -------
    start : Timestamp or NaT
        The first day with any revenue line on or before ``as_of``.
    spans : DataFrame
        ``client_id`` (every client with a line up to ``as_of``), ``first``, ``last`` (days of
        its first and last line with a positive amount; NaT when it has none).
    """
    t = as_table(revenue, "revenue")
    require(t, ["date", "client_id", "amount"])
    d, a, c = q("date"), q("amount"), q("client_id")
    spans = t.sql(f"SELECT CAST({c} AS VARCHAR) AS client_id, MIN(CASE WHEN {a} > 0 THEN {d} END) AS first, "
                  f"MAX(CASE WHEN {a} > 0 THEN {d} END) AS last, MIN({d}) AS any_first FROM {{t}} "
                  f"WHERE {d} <= {lit(as_of)} AND {c} IS NOT NULL GROUP BY CAST({c} AS VARCHAR)")
    start = pd.Timestamp(spans["any_first"].min()) if len(spans) else pd.NaT
    out = pd.DataFrame({"client_id": spans["client_id"].astype("str"),
                        "first": pd.to_datetime(spans["first"]).dt.normalize().astype("datetime64[ns]"),
                        "last": pd.to_datetime(spans["last"]).dt.normalize().astype("datetime64[ns]")})
    return start, out.sort_values("client_id", kind="mergesort").reset_index(drop=True)


def topic_purchases(revenue, as_of: pd.Timestamp, topics, categories: pd.DataFrame | None = None) -> pd.DataFrame:
    """Distinct (client, day, topic) purchases of the given topics up to ``as_of``, with their amount.

    A line with a positive amount is a purchase of its ``product_id`` and, with ``categories``
    (``product_id``, ``category``), of its product's category. Only ``topics`` are kept, so the
    result is small even when the revenue table is not.

    Returns
    -------
    DataFrame
        ``client_id``, ``day`` (datetime64[ns], midnight), ``topic``, ``amount`` (the day's positive
        lines of the topic, summed).
    """
    t = as_table(revenue, "revenue")
    require(t, ["date", "client_id", "amount", "product_id"])
    tv = t.engine.name("topics")
    t.engine.register(tv, pd.DataFrame({"topic": pd.Series(sorted(set(map(str, topics))), dtype=object)}))
    d, a, c, p = q("date"), q("amount"), q("client_id"), q("product_id")
    base = (f"SELECT r.{c} AS client_id, CAST(r.{d} AS DATE) AS day, {{topic}} AS topic, r.{a} AS amount "
            f"FROM {{{{t}}}} r {{join}} WHERE r.{d} <= {lit(as_of)} AND r.{a} > 0 AND r.{c} IS NOT NULL")
    parts = [base.format(topic=f"CAST(r.{p} AS VARCHAR)", join="")]
    if categories is not None:
        cv = t.engine.name("categories")
        cat = categories[["product_id", "category"]].drop_duplicates("product_id").dropna()
        t.engine.register(cv, pd.DataFrame({"product_id": cat["product_id"].astype(str).astype(object),
                                            "category": cat["category"].astype(str).astype(object)}))
        parts.append(base.format(topic="k.category", join=f"JOIN {q(cv)} k ON CAST(r.{p} AS VARCHAR) = k.product_id"))
    out = t.sql(f"SELECT u.client_id, u.day, u.topic, SUM(u.amount) AS amount FROM ({' UNION ALL '.join(parts)}) u "
                f"JOIN {q(tv)} w ON u.topic = w.topic WHERE u.topic IS NOT NULL GROUP BY u.client_id, u.day, u.topic")
    out = pd.DataFrame({"client_id": out["client_id"].astype("str"),
                        "day": pd.to_datetime(out["day"]).astype("datetime64[ns]"), "topic": out["topic"].astype("str"),
                        "amount": settled(out["amount"].astype("float64"))})
    return out.sort_values(["topic", "client_id", "day"], kind="mergesort").reset_index(drop=True)


def _purchase_day_cte(t: EngineTable, as_of: pd.Timestamp, start: pd.Timestamp | None) -> str:
    """SQL: the client-days of ``(start, as_of]`` with their net amount and whether each is a purchase
    (a positive net amount, or a free order whose every line is exactly zero), as the purchase
    models count."""
    d, a, c = q("date"), q("amount"), q("client_id")
    return (f"SELECT CAST({c} AS VARCHAR) AS client_id, CAST({d} AS DATE) AS day, SUM({a}) AS amount, "
            f"MAX(ABS({a})) AS size FROM {{t}} WHERE {_window(pd.Timestamp(as_of), start, 'date')} "
            f"AND {c} IS NOT NULL GROUP BY CAST({c} AS VARCHAR), CAST({d} AS DATE)")


def purchase_days(revenue, as_of: pd.Timestamp, start: pd.Timestamp | None = None) -> pd.DataFrame:
    """Per client, its purchase days in ``(start, as_of]``, grouped in the engine.

    A purchase day is a client-day with a positive net amount, or a free order (every line exactly
    zero): the purchase models' counting (``clv.rfm_summary``).

    Returns
    -------
    DataFrame
        ``client_id`` (every client with a line in the window), ``first``, ``last`` (first and last
        purchase day, NaT without one), ``purchase_days`` (int), ``repeat_amount`` (net amount of
        the purchase days after the first), ``net`` (net amount of all its lines in the window),
        sorted by ``client_id``.
    """
    t = as_table(revenue, "revenue")
    require(t, ["date", "client_id", "amount"])
    start = None if start is None else pd.Timestamp(start)
    days = _purchase_day_cte(t, pd.Timestamp(as_of), start)
    out = t.sql(
        f"WITH d AS ({days}), "
        f"p AS (SELECT client_id, day, amount, MIN(day) OVER (PARTITION BY client_id) AS first_day FROM d "
        f"WHERE amount > 0 OR size = 0) "
        f"SELECT n.client_id AS client_id, g.first_day AS first, g.last_day AS last, "
        f"COALESCE(g.days, 0) AS purchase_days, COALESCE(g.repeat_amount, 0) AS repeat_amount, n.net AS net "
        f"FROM (SELECT client_id, SUM(amount) AS net FROM d GROUP BY client_id) n LEFT JOIN "
        f"(SELECT client_id, MIN(day) AS first_day, MAX(day) AS last_day, COUNT(*) AS days, "
        f"SUM(CASE WHEN day > first_day THEN amount ELSE 0 END) AS repeat_amount FROM p GROUP BY client_id) g "
        f"ON n.client_id = g.client_id")
    res = pd.DataFrame({
        "client_id": out["client_id"].astype("str"),
        "first": pd.to_datetime(out["first"]).astype("datetime64[ns]"),
        "last": pd.to_datetime(out["last"]).astype("datetime64[ns]"),
        "purchase_days": out["purchase_days"].fillna(0).astype("int64"),
        "repeat_amount": settled(out["repeat_amount"].fillna(0.0)).to_numpy(),
        "net": settled(out["net"]).to_numpy()})
    return res.sort_values("client_id", kind="mergesort").reset_index(drop=True)


def repeat_purchases_by_day(revenue, cohort: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Repeat purchase days of a cohort per calendar day up to ``as_of``, counted in the engine.

    Parameters
    ----------
    revenue : DataFrame or EngineTable
        Canonical ``revenue``.
    cohort : DataFrame
        ``client_id``, ``first_purchase``: only days after each client's first purchase count.
    as_of : Timestamp
        Last day counted.

    Returns
    -------
    DataFrame
        ``day`` (datetime64[ns]) and ``purchases`` (int): one row per day with any repeat purchase.
    """
    t = as_table(revenue, "revenue")
    require(t, ["date", "client_id", "amount"])
    cv = t.engine.name("cohort")
    k = pd.DataFrame({"client_id": cohort["client_id"].astype(str).astype(object),
                      "first_day": pd.to_datetime(cohort["first_purchase"]).dt.normalize().astype("datetime64[ns]")})
    t.engine.register(cv, k)
    days = _purchase_day_cte(t, pd.Timestamp(as_of), None)
    out = t.sql(f"WITH d AS ({days}) SELECT d.day AS day, COUNT(*) AS purchases FROM d JOIN {q(cv)} k "
                f"ON d.client_id = k.client_id WHERE (d.amount > 0 OR d.size = 0) "
                f"AND d.day > CAST(k.first_day AS DATE) GROUP BY d.day")
    res = pd.DataFrame({"day": pd.to_datetime(out["day"]).astype("datetime64[ns]"),
                        "purchases": out["purchases"].astype("int64")})
    return res.sort_values("day", kind="mergesort").reset_index(drop=True)
