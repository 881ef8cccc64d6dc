"""Pseudonymisation for reports that leave the analytics team (``PSEUDONYMISE=1``).

Names of clients and people are replaced by stable codes derived from their ids before any
notebook runs, so executed notebooks, leadership pages and artifacts never hold a name. The code
is a short SHA-256 digest of the id: the same client gets the same code in every run and quarter,
so quarter-on-quarter monitoring still lines up. Ids are kept (they are already codes in a CRM).

Free text is handled by what it is: survey comments are dropped (a comment can name anyone, and
no list of names catches them all), so a pseudonymised run shows no comment themes; search
queries and activity topics, which the workbook counts and groups, keep their words but every
known client or person name in them is replaced by that name's code (:func:`scrub_text`), and
e-mail addresses and phone numbers by ``[email]`` and ``[phone]``.
"""
from __future__ import annotations

import hashlib
import re

import pandas as pd

__all__ = ["code_for", "name_codes", "pseudonymise", "scrub_text", "text_lookups"]

#: Free-text columns whose names are replaced (table -> columns); survey comments are dropped instead.
FREE_TEXT = {"digital": ["search_query", "page"], "activities": ["topic", "subject", "notes"]}
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_PHONE = re.compile(r"(?<!\w)\+?\d[\d ()./-]{7,}\d(?!\w)")

#: Table -> (id column, name column, code prefix).
NAMED = {"clients": ("client_id", "client_name", "Client"), "people": ("person_id", "person_name", "Person")}


def code_for(value: str, prefix: str) -> str:
    """A stable code for an id: ``code_for("C0001", "Client") -> 'Client-5b1f0c'``."""
    digest = hashlib.sha256(f"{prefix}:{value}".encode()).hexdigest()[:6]
    return f"{prefix}-{digest}"


def scrub_text(text: pd.Series, codes: dict) -> pd.Series:
    """Replace known names in free text by their codes, and e-mail addresses and phone numbers.

    Parameters
    ----------
    text : Series
        Free text (nulls stay null).
    codes : dict
        Name -> code. Names are matched whole-word and case-insensitively, longest first, so
        "Acme Holdings" is replaced before "Acme".

    Returns
    -------
    Series
        The scrubbed text, same index.

    Examples
    --------
    >>> scrub_text(pd.Series(["fees for Acme Ltd", "call jo@acme.com or +44 20 7946 0958", None]),
    ...            {"Acme Ltd": "Client-1a2b3c"}).tolist()[:2]
    ['fees for Client-1a2b3c', 'call [email] or [phone]']
    """
    out = text.astype("object")
    mask = out.notna()
    vals = out[mask].astype(str)
    names = sorted((n for n in codes if isinstance(n, str) and n.strip()), key=len, reverse=True)
    if names:
        pattern = re.compile(r"(?<!\w)(" + "|".join(re.escape(n) for n in names) + r")(?!\w)", re.IGNORECASE)
        lookup = {n.lower(): c for n, c in codes.items() if isinstance(n, str)}
        vals = vals.map(lambda v: pattern.sub(lambda m: lookup.get(m.group(0).lower(), "[name]"), v))
    vals = vals.map(lambda v: _PHONE.sub("[phone]", _EMAIL.sub("[email]", v)))
    out[mask] = vals
    return out.astype(text.dtype) if isinstance(text.dtype, pd.StringDtype) else out


def name_codes(tables: dict) -> dict:
    """Every client and person name of ``tables`` -> its code (:func:`code_for` of the id).

    Raises
    ------
    ValueError
        If a table has names but not the id column they are coded from.

    Examples
    --------
    >>> name_codes({"clients": pd.DataFrame({"client_id": ["C1"], "client_name": ["Acme"]})})
    {'Acme': 'Client-315b8d'}
    """
    codes: dict = {}
    for table, name_col, coded in _coded_names(tables):
        codes.update({n: c for n, c in zip(tables[table][name_col], coded) if isinstance(n, str)})
    return codes


def _coded_names(tables: dict):
    """Yield ``(table, name column, codes of its ids)`` for each table of :data:`NAMED` with names."""
    for table, (id_col, name_col, prefix) in NAMED.items():
        df = tables.get(table)
        if df is None or name_col not in df.columns:
            continue
        if id_col not in df.columns:
            raise ValueError(f"table {table!r}: column {id_col!r} is missing, cannot pseudonymise {name_col!r}")
        yield table, name_col, df[id_col].astype(str).map(lambda v, p=prefix: code_for(v, p)).astype("str")


def text_lookups(values_of, table: str, columns, codes: dict) -> dict:
    """Replacement lookups for the free text of a table too large to copy in memory.

    Parameters
    ----------
    values_of : callable
        Column -> Series of its distinct values (e.g. ``features.distinct_values``).
    table : str
        Canonical table name (its :data:`FREE_TEXT` columns are scrubbed).
    columns : iterable of str
        Columns the table has.
    codes : dict
        Name -> code (:func:`name_codes`).

    Returns
    -------
    dict
        Column -> DataFrame ``old``, ``new`` of the values :func:`scrub_text` changes.

    Examples
    --------
    >>> vals = {"search_query": pd.Series(["fees Acme", "fx"])}
    >>> text_lookups(vals.get, "digital", ["search_query"], {"Acme": "Client-1"})["search_query"].values.tolist()
    [['fees Acme', 'fees Client-1']]
    """
    out = {}
    for col in FREE_TEXT.get(table, []):
        if col not in columns:
            continue
        old = pd.Series(values_of(col), dtype=object).astype(str)
        new = scrub_text(old, codes)
        changed = old != new
        out[col] = pd.DataFrame({"old": old[changed].to_numpy(dtype=object), "new": new[changed].to_numpy(dtype=object)})
    return out


def pseudonymise(tables: dict) -> dict:
    """A copy of ``tables`` with client and person names replaced by stable codes.

    Parameters
    ----------
    tables : dict
        Canonical tables (name -> DataFrame).

    Returns
    -------
    dict
        New tables; tables without names or free text are passed through unchanged. Survey
        comments are dropped, since free text can name anyone; known names in search queries,
        pages and activity topics are replaced by their codes (:func:`scrub_text`).

    Examples
    --------
    >>> t = pseudonymise({"clients": pd.DataFrame({"client_id": ["C1"], "client_name": ["Acme"]})})
    >>> t["clients"]["client_name"].str.startswith("Client-").all()
    np.True_
    """
    out = dict(tables)
    codes = name_codes(tables)
    for table, name_col, coded in _coded_names(tables):
        df = tables[table].copy()
        df[name_col] = coded
        out[table] = df
    for table, cols in FREE_TEXT.items():
        df = out.get(table)
        if df is not None and not isinstance(df, pd.DataFrame):
            continue  # an event table kept in the engine: its text is replaced by text_lookups
        present = [c for c in cols if df is not None and c in df.columns]
        if present:
            df = df.copy()
            for col in present:
                df[col] = scrub_text(df[col], codes)
            out[table] = df
    if "surveys" in tables and "comment" in tables["surveys"].columns:
        out["surveys"] = tables["surveys"].drop(columns=["comment"])
    return out
