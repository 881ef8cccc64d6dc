"""Bring a source in another layout into the canonical tables with a declarative YAML mapping.

The mapping is executed as DuckDB SQL (one query per table, files read by DuckDB where it can),
so it scales to files larger than memory allows pandas to juggle and reads like the SQL an
analyst would write. The format is described, key by key, in ``docs/mapping.md``::

    tables:
      revenue:
        from: {file: "orders_*.csv", sep: ";"}
        where: "Status <> 'Cancelled'"
        exclude:
          no_account: {when: "\\"Account Id\\" IS NULL", reason: "Orders without an account"}
        select:
          client_id: Account Id
          date: "strptime(\\"Close Date\\", '%m/%d/%Y')"
          amount: "CAST(Amount AS DOUBLE)"
      clients:
        from: revenue
        derive: distinct
        select: {client_id: client_id}

Order of a table's steps: read ``from`` (and ``join`` sources) -> ``types`` casts -> ``join`` ->
``where`` -> ``exclude`` (each rule counted) -> ``select`` -> ``values`` recoding -> ``derive: distinct``. The output is untyped
(``io.coerce`` types it); rows excluded per rule go to ``Mapping.report``.
"""
from __future__ import annotations

import glob as _glob
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from . import schema
from .features import lit as _lit
from .features import q as _q

__all__ = ["REPORT_COLUMNS", "Mapping", "TableMapping", "apply_mapping", "load_mapping", "parse_mapping"]

#: Columns of ``Mapping.report``: per rule, the rows it removed and, for a table with an ``amount``
#: (revenue), the amount they held and its share of the amount of every source row.
REPORT_COLUMNS = ["table", "rule", "reason", "rows", "amount", "amount_share"]

_TABLE_KEYS = {"from", "join", "select", "where", "exclude", "values", "derive"}
_JOIN_HOWS = ("left", "inner")
_FILE_OPTIONS = {"file", "format", "sep", "header", "names", "encoding", "skip", "sheet", "types"}
_FORMATS = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".dat": "csv", ".gz": "csv",
            ".parquet": "parquet", ".pq": "parquet", ".xlsx": "xlsx", ".xlsm": "xlsx"}
_NULL_TEXT = [""]
_ROW = '"__mapping_row_number"'  # the main source's row number when a table has joins


@dataclass(frozen=True)
class TableMapping:
    """How one canonical table is built.

    Parameters
    ----------
    name : str
        The canonical table.
    source : dict
        ``{"kind": "file", "file": glob, **options}``, ``{"kind": "table", "table": name}`` (a table
        of a database source) or ``{"kind": "canonical", "table": name}`` (another mapped table).
        The main source is called ``src`` in SQL when the table has joins.
    select : dict or None
        Canonical column -> SQL expression (or a plain source column name); None keeps every column.
    where : str or None
        SQL filter over the source columns.
    exclude : tuple
        ``(name, when, reason)`` rules, applied in order after ``where``.
    values : dict
        Canonical column -> {old value: new value} recoding.
    derive : str or None
        ``"distinct"``: one row per key (or distinct rows for tables without a key).
    join : dict
        Alias -> ``{"source": <as source>, "on": SQL condition, "how": "left" | "inner"}``.
    """

    name: str
    source: dict
    select: dict | None = None
    where: str | None = None
    exclude: tuple = ()
    values: dict = field(default_factory=dict)
    derive: str | None = None
    join: dict = field(default_factory=dict)


@dataclass
class Mapping:
    """A loaded mapping: its tables and, after ``apply_mapping``, the report of excluded rows.

    Attributes
    ----------
    tables : dict
        Canonical table name -> ``TableMapping``, in file order.
    path : pathlib.Path or None
        The YAML file it came from.
    description : str
        Free text from the file's ``description`` key.
    report : pandas.DataFrame
        ``REPORT_COLUMNS``: per table and rule, the rows it removed and, for a table with an
        ``amount``, the amount those rows held (``amount``, NaN where it cannot be computed) and
        its share of the amount of all the table's source rows (``amount_share``); set by
        ``apply_mapping``.
    problems : list of dict
        Problems the mapping itself can explain (``io.PROBLEM_COLUMNS``), for ``validate``: ids
        that a ``select`` expression or a ``values`` recode made equal, with the source values
        that collide (set by ``apply_mapping``).
    """

    tables: dict
    path: Path | None = None
    description: str = ""
    report: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=REPORT_COLUMNS))
    problems: list = field(default_factory=list)


def _fail(table: str, key: str, message: str):
    raise ValueError(f"mapping table {table!r}, key {key!r}: {message}")


def _parse_source(table: str, spec) -> dict:
    if isinstance(spec, str):
        if spec in schema.TABLES:
            return {"kind": "canonical", "table": spec}
        return {"kind": "file", "file": spec}
    if not isinstance(spec, dict):
        _fail(table, "from", f"expected a file glob, a table name or a mapping, got {spec!r}")
    if "table" in spec:
        if set(spec) != {"table"}:
            _fail(table, "from", "a database table takes no read options")
        return {"kind": "table", "table": str(spec["table"])}
    if "file" not in spec:
        _fail(table, "from", "needs 'file' (a glob) or 'table'")
    unknown = sorted(set(spec) - _FILE_OPTIONS)
    if unknown:
        _fail(table, "from", f"unknown option(s) {unknown}; allowed: {sorted(_FILE_OPTIONS)}")
    out = {"kind": "file", **spec}
    if "format" in out and out["format"] not in ("csv", "parquet", "xlsx"):
        _fail(table, "from", f"format must be csv, parquet or xlsx, got {out['format']!r}")
    if "names" in out and not (isinstance(out["names"], list) and all(isinstance(n, str) for n in out["names"])):
        _fail(table, "from", "names must be a list of column names")
    if "types" in out and not isinstance(out["types"], dict):
        _fail(table, "from", "types must map source column -> DuckDB type")
    if "header" in out and not isinstance(out["header"], bool):
        _fail(table, "from", "header must be true or false")
    return out


def _parse_join(table: str, spec) -> dict:
    if spec is None:
        return {}
    if not isinstance(spec, dict) or not spec:
        _fail(table, "join", "expected alias -> {from, on, how}")
    out = {}
    for alias, jspec in spec.items():
        alias = str(alias)
        key = f"join.{alias}"
        if isinstance(jspec, dict):
            # YAML 1.1 (PyYAML) reads a bare `on:` key as the boolean True
            jspec = {("on" if k is True else k): v for k, v in jspec.items()}
        if not alias.isidentifier() or alias.lower() == "src":
            _fail(table, key, "the alias must be a plain name (letters, digits, _) other than 'src'")
        if not isinstance(jspec, dict) or not {"from", "on"} <= set(jspec) or set(jspec) - {"from", "on", "how"}:
            _fail(table, key, "expected 'from', 'on' (SQL condition) and optionally 'how' (left, inner)")
        how = str(jspec.get("how", "left")).lower()
        if how not in _JOIN_HOWS:
            _fail(table, key, f"how must be one of {list(_JOIN_HOWS)}, got {how!r}")
        out[alias] = {"source": _parse_source(table, jspec["from"]), "on": str(jspec["on"]), "how": how}
    return out


def parse_mapping(spec: dict, path=None) -> Mapping:
    """Check a mapping given as a dict (the parsed YAML) and build a ``Mapping``.

    Parameters
    ----------
    spec : dict
        ``{"tables": {canonical table: {from, select, where, exclude, values, derive}}}`` and an
        optional ``description``.
    path : str or pathlib.Path, optional
        Where it came from (kept for messages).

    Returns
    -------
    Mapping

    Raises
    ------
    ValueError
        Naming the table and key of anything malformed (unknown table or key, wrong type, a
        ``from`` cycle).

    Examples
    --------
    >>> m = parse_mapping({"tables": {"revenue": {"from": "x.csv", "select": {"client_id": "id"}}}})
    >>> m.tables["revenue"].source
    {'kind': 'file', 'file': 'x.csv'}
    """
    if not isinstance(spec, dict) or not isinstance(spec.get("tables"), dict) or not spec["tables"]:
        raise ValueError("mapping: expected a top-level 'tables:' with at least one table")
    unknown_top = sorted(set(spec) - {"tables", "description", "version"})
    if unknown_top:
        raise ValueError(f"mapping: unknown top-level key(s) {unknown_top}; allowed: tables, description, version")
    tables = {}
    for name, tspec in spec["tables"].items():
        if name not in schema.TABLES:
            raise ValueError(f"mapping: {name!r} is not a canonical table; tables are {sorted(schema.TABLES)}")
        if not isinstance(tspec, dict):
            raise ValueError(f"mapping table {name!r}: expected a mapping of keys, got {tspec!r}")  # noqa: TRY004
        unknown = sorted(set(tspec) - _TABLE_KEYS)
        if unknown:
            _fail(name, unknown[0], f"unknown key; allowed: {sorted(_TABLE_KEYS)}")
        if "from" not in tspec:
            _fail(name, "from", "missing: say where the rows come from")
        source = _parse_source(name, tspec["from"])
        select = tspec.get("select")
        if select is not None:
            if not isinstance(select, dict) or not select:
                _fail(name, "select", "expected canonical column -> expression")
            select = {str(k): str(v) for k, v in select.items()}
        where = tspec.get("where")
        if where is not None and not isinstance(where, str):
            _fail(name, "where", "expected an SQL condition as text")
        rules = []
        excl = tspec.get("exclude") or {}
        if not isinstance(excl, dict):
            _fail(name, "exclude", "expected rule name -> {when, reason}")
        for rule, rspec in excl.items():
            if not isinstance(rspec, dict) or set(rspec) != {"when", "reason"}:
                _fail(name, f"exclude.{rule}", "expected exactly 'when' (SQL condition) and 'reason'")
            rules.append((str(rule), str(rspec["when"]), str(rspec["reason"])))
        values = tspec.get("values") or {}
        if not isinstance(values, dict) or not all(isinstance(v, dict) for v in values.values()):
            _fail(name, "values", "expected column -> {old value: new value}")
        derive = tspec.get("derive")
        if derive is not None and derive != "distinct":
            _fail(name, "derive", f"only 'distinct' is supported, got {derive!r}")
        if derive and select is None:
            _fail(name, "derive", "needs a 'select' naming the columns to keep")
        join = _parse_join(name, tspec.get("join"))
        if join and select is None:
            _fail(name, "join", "needs a 'select' naming the columns to keep")
        tables[name] = TableMapping(name, source, select, where, tuple(rules),
                                    {str(k): dict(v) for k, v in values.items()}, derive, join)
    _order(tables)  # raises on unknown references and cycles
    return Mapping(tables, Path(path) if path is not None else None, str(spec.get("description", "")))


def load_mapping(path) -> Mapping:
    """Read a mapping YAML file (format: ``docs/mapping.md``).

    Parameters
    ----------
    path : str or pathlib.Path
        The YAML file.

    Returns
    -------
    Mapping

    Raises
    ------
    ValueError
        If the file is missing, is not YAML, or is malformed (the message names table and key).

    Examples
    --------
    >>> from clientstrategy.paths import MAPPINGS
    >>> sorted(load_mapping(MAPPINGS / "cdnow.yaml").tables)
    ['clients', 'revenue']
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"mapping file {str(path)!r} does not exist")
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ValueError(f"mapping file {str(path)!r} is not valid YAML: {exc}") from exc
    return parse_mapping(spec, path)


def _order(tables: dict) -> list[str]:
    """Tables in an order where every ``from: <canonical table>`` comes after its source."""
    done, out, visiting = set(), [], set()

    def visit(name, chain):
        if name in done:
            return
        if name in visiting:
            raise ValueError(f"mapping: 'from' references form a cycle: {' -> '.join(chain + [name])}")
        visiting.add(name)
        sources = [("from", tables[name].source)] + [(f"join.{a}.from", j["source"])
                                                     for a, j in tables[name].join.items()]
        for key, src in sources:
            if src["kind"] == "canonical":
                if src["table"] not in tables:
                    _fail(name, key, f"table {src['table']!r} is not defined in this mapping")
                visit(src["table"], chain + [name])
        visiting.discard(name)
        done.add(name)
        out.append(name)

    for name in tables:
        visit(name, [])
    return out


def _base_dir(source) -> tuple[Path | None, str, object]:
    """(folder that file globs are relative to, source kind, location)."""
    from .io import _source_kind  # io imports this module; imported here to avoid a cycle

    kind, where = _source_kind(source)
    if kind == "folder":
        return where, kind, where
    if kind in ("file", "duckdb", "sqlite"):
        return Path(where).parent, kind, where
    return None, kind, where


def _read_file(con, table: str, src: dict, base: Path | None, view: str) -> None:
    """Create view ``view`` over the files of ``src`` (text columns unless ``types`` say otherwise)."""
    if base is None:
        _fail(table, "from", "file sources need a folder or file data source, not a database URL")
    pattern = str(src["file"])
    full = pattern if Path(pattern).is_absolute() else str(base / pattern)
    files = sorted(_glob.glob(full))
    if not files:
        _fail(table, "from", f"no file matches {pattern!r} in {str(base)!r}")
    fmt = src.get("format") or _FORMATS.get(Path(files[0]).suffix.lower())
    if fmt is None:
        _fail(table, "from", f"cannot tell the format of {Path(files[0]).name!r}; add format: csv|parquet|xlsx")
    header = src.get("header", True)
    names = src.get("names")
    skip = int(src.get("skip", 0))
    encoding = str(src.get("encoding", "utf-8"))
    sep = src.get("sep", ",")
    try:
        if fmt == "parquet":
            rel = con.read_parquet(files)
            if names:
                rel = rel.project(", ".join(f"{_q(o)} AS {_q(n)}" for o, n in zip(rel.columns, names)))
            rel.create_view(view, replace=True)
        elif fmt == "csv" and sep != "whitespace" and encoding.lower().replace("_", "-") in ("utf-8", "utf8"):
            kwargs = {"sep": sep, "header": header, "all_varchar": True, "skiprows": skip}
            if names:
                kwargs["names"] = names
            con.read_csv(files, **kwargs).create_view(view, replace=True)
        else:
            # DuckDB's CSV reader only decodes UTF-8 and has no "any run of blanks" separator;
            # pandas covers those two cases (and Excel, which DuckDB reads only via an extension).
            frames = []
            for f in files:
                if fmt == "xlsx":
                    df = pd.read_excel(f, sheet_name=src.get("sheet", 0), header=0 if header else None,
                                       names=names, skiprows=skip, dtype=str, keep_default_na=False,
                                       na_values=_NULL_TEXT)
                else:
                    df = pd.read_csv(f, sep=r"\s+" if sep == "whitespace" else sep, header=0 if header else None,
                                     names=names, skiprows=skip, dtype=str, encoding=encoding,
                                     keep_default_na=False, na_values=_NULL_TEXT)
                frames.append(df)
            frame = pd.concat(frames, ignore_index=True)
            frame.columns = [str(c) for c in frame.columns]
            con.register(view + "_df", frame)
            con.execute(f"CREATE OR REPLACE VIEW {_q(view)} AS SELECT * FROM {_q(view + '_df')}")
    except ValueError:
        raise
    except Exception as exc:  # noqa: BLE001 (any reader failure is reported, never raised)
        _fail(table, "from", f"cannot read {pattern!r}: {str(exc).splitlines()[0][:300]}")


def _sql_error(table: str, key: str, exc: Exception):
    _fail(table, key, f"SQL failed: {str(exc).splitlines()[0][:400]}")


def apply_mapping(mapping: Mapping, source) -> dict[str, pd.DataFrame]:
    """Build the mapped canonical tables from ``source``.

    Parameters
    ----------
    mapping : Mapping
        From ``load_mapping``. Its ``report`` attribute is replaced by this run's report of
        excluded rows (the only thing this function changes).
    source : str or pathlib.Path
        The data source: a folder (file globs are relative to it), a file (globs relative to its
        folder), a DuckDB file or a SQLAlchemy URL (for ``from: {table: ...}``).

    Returns
    -------
    dict
        Canonical table -> DataFrame, untyped (``io.coerce`` types it), in mapping order.

    Raises
    ------
    ValueError
        Naming table and key when a file is missing or unreadable or an SQL expression fails.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "orders.csv").write_text("Cust,Day,Amt\\nA,2024-01-05,10\\n,2024-01-06,5\\n")
    >>> m = parse_mapping({"tables": {"revenue": {"from": "orders.csv",
    ...     "exclude": {"guest": {"when": "Cust IS NULL", "reason": "no customer id"}},
    ...     "select": {"client_id": "Cust", "date": "Day", "amount": "Amt"}}}})
    >>> apply_mapping(m, folder)["revenue"].values.tolist()
    [['A', '2024-01-05', '10']]
    >>> m.report[["rule", "rows"]].values.tolist()
    [['guest', 1]]
    """
    import duckdb

    if not isinstance(mapping, Mapping):
        raise ValueError(f"mapping: expected a Mapping (see load_mapping), got {type(mapping).__name__}")  # noqa: TRY004
    base, kind, where = _base_dir(source)
    report = []
    problems = []
    out = {}
    with duckdb.connect() as con:
        con.execute("SET preserve_insertion_order = true")
        if kind == "duckdb":
            con.execute(f"ATTACH {_lit(str(where))} AS srcdb (READ_ONLY)")
        for name in _order(mapping.tables):
            tm = mapping.tables[name]
            src_view, columns = _source_view(con, name, tm.source, base, kind, where, f"__src_{name}", "", report)
            joined = {}
            # a hash join does not keep the main source's row order: number its rows and sort by them
            from_sql = (f"(SELECT *, row_number() OVER () AS {_ROW} FROM {_q(src_view)}) AS src" if tm.join
                        else _q(src_view))
            for alias, j in tm.join.items():
                jview, jcols = _source_view(con, name, j["source"], base, kind, where, f"__join_{name}_{alias}",
                                            f"join.{alias}.", report)
                joined[alias] = jcols
                from_sql += f" {j['how'].upper()} JOIN {_q(jview)} AS {_q(alias)} ON ({j['on']})"
            n_in = con.execute(f"SELECT count(*) FROM {_q(src_view)}").fetchone()[0]
            if tm.join:
                try:
                    n_joined = con.execute(f"SELECT count(*) FROM {from_sql}").fetchone()[0]
                except duckdb.Error as exc:
                    _sql_error(name, "join", exc)
                if n_joined > n_in:
                    _fail(name, "join", f"the join matches some rows more than once ({n_in} rows became {n_joined}): "
                                        "join on a key that is unique in the joined source")
                if n_joined < n_in:
                    report.append({"table": name, "rule": "join", "reason": "rows without a match (inner join)",
                                   "rows": int(n_in - n_joined)})
                n_in = n_joined
            conds = []
            amount_of = _amount_sum(con, tm, columns, joined, from_sql)
            total = amount_of("TRUE")
            if tm.where:
                conds.append(f"({tm.where})")
                try:
                    kept = con.execute(f"SELECT count(*) FROM {from_sql} WHERE {tm.where}").fetchone()[0]
                except duckdb.Error as exc:
                    _sql_error(name, "where", exc)
                report.append({"table": name, "rule": "where", "reason": tm.where, "rows": int(n_in - kept),
                               **_amounts(amount_of(f"NOT coalesce(({tm.where}), FALSE)"), total)})
            for rule, when, reason in tm.exclude:
                before = " AND ".join(conds) if conds else "TRUE"
                removed = f"({before}) AND coalesce(({when}), FALSE)"
                try:
                    n = con.execute(f"SELECT count(*) FROM {from_sql} WHERE {removed}").fetchone()[0]
                except duckdb.Error as exc:
                    _sql_error(name, f"exclude.{rule}", exc)
                report.append({"table": name, "rule": rule, "reason": reason, "rows": int(n),
                               **_amounts(amount_of(removed), total)})
                conds.append(f"NOT coalesce(({when}), FALSE)")
            where_sql = (" WHERE " + " AND ".join(conds)) if conds else ""
            if tm.select is None:
                select_sql = "*"
                out_cols = columns
            else:
                select_sql = ", ".join(f"{_column_sql(e, columns, joined)} AS {_q(k)}" for k, e in tm.select.items())
                out_cols = list(tm.select)
            query = f"SELECT {select_sql} FROM {from_sql}{where_sql}"
            if tm.join:
                query += f" ORDER BY src.{_ROW}"
            if tm.values:
                missing = [c for c in tm.values if c not in out_cols]
                if missing:
                    _fail(name, "values", f"column(s) {missing} are not in the table's columns {out_cols}")
                recodes = []
                for col, recode in tm.values.items():
                    text = f"CAST({_q(col)} AS VARCHAR)"
                    whens = " ".join(
                        f"WHEN {text} IS NULL THEN {_lit(None if new is None else str(new))}" if old is None
                        else f"WHEN {text} = {_lit(str(old))} THEN {_lit(None if new is None else str(new))}"
                        for old, new in recode.items())
                    recodes.append(f"CASE {whens} ELSE {text} END AS {_q(col)}")
                query = f"SELECT * REPLACE ({', '.join(recodes)}) FROM ({query})"
            if tm.derive == "distinct":
                query, conflicts = _distinct(con, name, query, out_cols)
                report.extend(conflicts)
            try:
                con.execute(f"CREATE OR REPLACE TEMP TABLE {_q('__out_' + name)} AS {query}")
            except duckdb.Error as exc:
                hint = _name_hint(tm.select or {}, [*columns, *(c for cols in joined.values() for c in cols)])
                _fail(name, "select", f"SQL failed: {str(exc).splitlines()[0][:400]}{hint}")
            problems.extend(_key_collisions(con, name, tm, columns, joined, from_sql, where_sql))
            out[name] = con.execute(f"SELECT * FROM {_q('__out_' + name)}").df()
    mapping.report = pd.DataFrame(report, columns=REPORT_COLUMNS).astype(
        {"rows": "int64", "amount": "float64", "amount_share": "float64"})
    mapping.problems = problems
    return out


def _amount_sum(con, tm: TableMapping, columns: list, joined: dict, from_sql: str):
    """A function ``condition -> sum of the table's amount over the source rows where it holds``
    (None when the table has no ``amount`` or its expression cannot be summed on those rows)."""
    import duckdb

    if tm.select is not None:
        expr = tm.select.get("amount")
        sql = None if expr is None else _column_sql(expr, columns, joined)
    else:
        sql = _q("amount") if "amount" in columns else None

    def amount_of(condition: str):
        if sql is None:
            return None
        try:
            # try(): a value the expression cannot read (text in an amount) counts as nothing, not an error
            value = con.execute(f"SELECT SUM(TRY_CAST(try(({sql})) AS DOUBLE)), COUNT(TRY_CAST(try(({sql})) AS DOUBLE)) "
                                f"FROM {from_sql} WHERE {condition}").fetchone()
        except duckdb.Error:  # the expression fails on rows the rule removes: the amount is unknown
            return None
        return 0.0 if value[1] == 0 and value[0] is None else (None if value[0] is None else float(value[0]))

    return amount_of


def _amounts(amount, total) -> dict:
    share = amount / total if amount is not None and total not in (None, 0.0) else None
    return {"amount": float("nan") if amount is None else round(amount, 2),
            "amount_share": float("nan") if share is None else share}


def _referenced(expr: str, columns) -> list[str]:
    """Source columns an SQL expression names (quoted, or as a bare word), in their order."""
    import re

    found = []
    for c in columns:
        if c == expr or f'"{c}"' in expr or re.search(rf"(?<![\w\"]){re.escape(str(c))}(?![\w\"])", expr,
                                                       re.IGNORECASE):
            found.append(c)
    return found


def _key_collisions(con, name: str, tm: TableMapping, columns: list, joined: dict, from_sql: str,
                    where_sql: str) -> list[dict]:
    """Ids of a keyed table that a ``select`` expression or a ``values`` recode made equal.

    ``trim(StockCode)`` turns ``'85123A'`` and ``'85123A '`` into one product id: validate would
    report the duplicate with the trimmed value only, hiding the cause. For a key that is not a
    plain rename (or that is recoded), every duplicated id is traced back to the source values it
    came from, which the problem shows.
    """
    key = schema.TABLES[name].key
    if not key or tm.derive == "distinct" or tm.select is None or key not in tm.select:
        return []
    expr = tm.select[key]
    sources = [*columns, *(c for cols in joined.values() for c in cols)]
    plain = expr in sources
    if plain and key not in tm.values:
        return []  # a renamed source column: its duplicates are the source's, reported by validate
    out_table = _q("__out_" + name)
    dup = con.execute(f"SELECT CAST({_q(key)} AS VARCHAR) AS k, count(*) AS n FROM {out_table} "
                      f"WHERE {_q(key)} IS NOT NULL GROUP BY 1 HAVING count(*) > 1 ORDER BY 1").fetchall()
    if not dup:
        return []
    raw = [expr] if plain else _referenced(expr, sources)
    if not raw:
        return []
    key_sql = f"CAST({_column_sql(expr, columns, joined)} AS VARCHAR)"
    for old, new in tm.values.get(key, {}).items():
        key_sql = (f"CASE WHEN {key_sql} IS NULL THEN {_lit(None if new is None else str(new))} ELSE {key_sql} END"
                   if old is None else
                   f"CASE WHEN {key_sql} = {_lit(str(old))} THEN {_lit(None if new is None else str(new))} "
                   f"ELSE {key_sql} END")
    raw_sql = ", ".join(f"CAST({_column_sql(c, columns, joined)} AS VARCHAR) AS r{i}" for i, c in enumerate(raw))
    keys = ", ".join(_lit(k) for k, _ in dup[:50])
    traced = con.execute(f"SELECT k, {', '.join(f'r{i}' for i in range(len(raw)))}, count(*) AS n FROM "
                         f"(SELECT {key_sql} AS k, {raw_sql} FROM {from_sql}{where_sql}) WHERE k IN ({keys}) "
                         f"GROUP BY ALL ORDER BY ALL").fetchall()
    examples = []
    for k, n in dup[:5]:
        rows = [t for t in traced if t[0] == k]
        values = ", ".join(" / ".join(repr(v) for v in t[1:-1]) + f" ({t[-1]} {'row' if t[-1] == 1 else 'rows'})"
                           for t in rows[:4])
        how = ("the same source value" if len(rows) == 1 else
               f"{len(rows)} different source values made equal by {expr!r}")
        examples.append(f"{k!r} ({n} rows) from {' / '.join(map(str, raw))} {values}: {how}")
    rows_total = int(sum(n for _, n in dup))
    return [{"table": name, "column": key, "check": "duplicate_ids", "count": rows_total, "examples": examples}]


def _column_sql(expr: str, columns: list, joined: dict) -> str:
    """A select expression: a plain column name of the main source (then of the joins, in order)
    becomes a quoted, qualified column; anything else is SQL as written. Names match without
    regard to case, as SQL names do in DuckDB (an export's ``Account Id`` finds ``Account ID``)."""
    for exact in (True, False):
        same = (lambda c: c == expr) if exact else (lambda c: str(c).casefold() == expr.casefold())
        hit = [c for c in columns if same(c)]
        if len(hit) == 1:
            return f"src.{_q(hit[0])}" if joined else _q(hit[0])
        for alias, cols in joined.items():
            hit = [c for c in cols if same(c)]
            if len(hit) == 1:
                return f"{_q(alias)}.{_q(hit[0])}"
    return f"({expr})"


def _name_hint(select: dict, columns: list) -> str:
    """For a failed select: the expressions that look like a column name none of the sources has,
    with the nearest real names (a renamed column in a newer export)."""
    import difflib
    import re

    lower = {str(c).casefold(): c for c in columns}
    hints = []
    for out_col, expr in select.items():
        if not re.fullmatch(r"[A-Za-z_][\w .()/-]*", str(expr)) or str(expr).casefold() in lower:
            continue
        near = difflib.get_close_matches(str(expr).casefold(), list(lower), n=2, cutoff=0.75)
        if near:
            hints.append(f"{out_col}: no source column {expr!r}; did you mean "
                         + " or ".join(repr(lower[n]) for n in near) + "?")
    return (" (" + "; ".join(hints) + ")") if hints else ""


def _source_view(con, name: str, src: dict, base, kind: str, where, view: str, key: str,
                 report: list) -> tuple[str, list]:
    """Create a view over one source (file, database table or mapped table), cast its ``types``;
    return (view name, its columns). Failed casts are appended to ``report``."""
    import duckdb

    if src["kind"] == "file":
        _read_file(con, name, src, base, view)
    elif src["kind"] == "canonical":
        con.execute(f"CREATE OR REPLACE VIEW {_q(view)} AS SELECT * FROM {_q('__out_' + src['table'])}")
    else:
        _table_view(con, name, src["table"], kind, where, view)
    columns = con.execute(f"SELECT * FROM {_q(view)} LIMIT 0").fetchdf().columns.tolist()
    types = src.get("types") or {}
    if not types:
        return view, columns
    missing = [c for c in types if c not in columns]
    if missing:
        _fail(name, f"{key or ''}from.types", f"no source column(s) {missing}; columns are {columns}")
    casts = ", ".join(f"TRY_CAST({_q(c)} AS {t}) AS {_q(c)}" for c, t in types.items())
    try:
        con.execute(f"CREATE OR REPLACE VIEW {_q(view + '_typed')} AS SELECT * REPLACE ({casts}) FROM {_q(view)}")
        failed = con.execute("SELECT " + ", ".join(
            f"count(*) FILTER (WHERE {_q(c)} IS NOT NULL AND TRY_CAST({_q(c)} AS {t}) IS NULL)"
            for c, t in types.items()) + f" FROM {_q(view)}").fetchone()
    except duckdb.Error as exc:
        _sql_error(name, f"{key}from.types", exc)
    for (c, t), n in zip(types.items(), failed):
        if n:
            report.append({"table": name, "rule": f"{key}types.{c}", "reason": f"not a {t}: set to null",
                           "rows": int(n)})
    return view + "_typed", columns


def _distinct(con, name: str, query: str, cols: list[str]) -> tuple[str, list[dict]]:
    """One row per key (the table's key, else the first column): other columns take their smallest
    non-null value, and keys where they disagree are counted in the report."""
    key = schema.TABLES[name].key or cols[0]
    if key not in cols:
        _fail(name, "derive", f"select must include the key column {key!r}")
    others = [c for c in cols if c != key]
    if not others:
        return f"SELECT DISTINCT {_q(key)} FROM ({query}) WHERE {_q(key)} IS NOT NULL ORDER BY {_q(key)}", []
    aggs = ", ".join(f"min({_q(c)}) AS {_q(c)}" for c in others)
    grouped = f"SELECT {_q(key)}, {aggs} FROM ({query}) WHERE {_q(key)} IS NOT NULL GROUP BY {_q(key)} ORDER BY {_q(key)}"
    try:
        counts = con.execute("SELECT " + ", ".join(
            f"count(*) FILTER (WHERE n_{i} > 1)" for i in range(len(others))) + " FROM (SELECT "
            + ", ".join(f"count(DISTINCT {_q(c)}) AS n_{i}" for i, c in enumerate(others))
            + f" FROM ({query}) GROUP BY {_q(key)})").fetchone()
    except Exception as exc:  # noqa: BLE001 (any reader failure is reported, never raised)
        _sql_error(name, "select", exc)
    conflicts = [{"table": name, "rule": f"derive.{c}", "reason": f"{c} differs within a {key}: kept the smallest",
                  "rows": int(n)} for c, n in zip(others, counts) if n]
    return grouped, conflicts


def _table_view(con, name: str, table: str, kind: str, where, view: str) -> None:
    """Create view ``view`` over a table of a database source."""
    if kind == "duckdb":
        try:
            con.execute(f"CREATE OR REPLACE VIEW {_q(view)} AS SELECT * FROM srcdb.main.{_q(table)}")
        except Exception as exc:  # noqa: BLE001 (any reader failure is reported, never raised)
            _sql_error(name, "from", exc)
        return
    if kind not in ("url", "sqlite"):
        _fail(name, "from", f"'table: {table}' needs a database source (DuckDB file or URL), not a {kind}")
    import sqlalchemy

    url = where if kind == "url" else f"sqlite:///{where}"
    engine = sqlalchemy.create_engine(url)
    try:
        prep = engine.dialect.identifier_preparer
        with engine.connect() as c:
            frame = pd.read_sql(sqlalchemy.text(f"SELECT * FROM {prep.quote(table)}"), c)
    except Exception as exc:  # noqa: BLE001 (any reader failure is reported, never raised)
        _fail(name, "from", f"cannot read table {table!r}: {str(exc).splitlines()[0][:300]}")
    finally:
        engine.dispose()
    con.register(view + "_df", frame)
    con.execute(f"CREATE OR REPLACE VIEW {_q(view)} AS SELECT * FROM {_q(view + '_df')}")
