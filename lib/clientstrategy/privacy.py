"""Pseudonymisation for reports that leave the analytics team (``PSEUDONYMISE=1``).

Names of clients and people are replaced by stable codes derived from their ids before any
notebook runs, so executed notebooks, leadership pages and artifacts never hold a name. The code
is a short SHA-256 digest of the id: the same client gets the same code in every run and quarter,
so quarter-on-quarter monitoring still lines up. Ids are kept (they are already codes in a CRM);
free-text comments are not rewritten, so the voice-of-client themes show no example comments
(``voice`` receives ``comment`` only for theme extraction) when pseudonymised.
"""
from __future__ import annotations

import hashlib

import pandas as pd  # noqa: F401 (the doctests use it)

__all__ = ["code_for", "pseudonymise"]

#: Table -> (id column, name column, code prefix).
NAMED = {"clients": ("client_id", "client_name", "Client"), "people": ("person_id", "person_name", "Person")}


def code_for(value: str, prefix: str) -> str:
    """A stable code for an id: ``code_for("C0001", "Client") -> 'Client-5b1f0c'``."""
    digest = hashlib.sha256(f"{prefix}:{value}".encode()).hexdigest()[:6]
    return f"{prefix}-{digest}"


def pseudonymise(tables: dict) -> dict:
    """A copy of ``tables`` with client and person names replaced by stable codes.

    Parameters
    ----------
    tables : dict
        Canonical tables (name -> DataFrame).

    Returns
    -------
    dict
        New tables; tables without names are passed through unchanged. Survey comments are
        dropped, since free text can name people.

    Examples
    --------
    >>> t = pseudonymise({"clients": pd.DataFrame({"client_id": ["C1"], "client_name": ["Acme"]})})
    >>> t["clients"]["client_name"].str.startswith("Client-").all()
    np.True_
    """
    out = dict(tables)
    for table, (id_col, name_col, prefix) in NAMED.items():
        df = tables.get(table)
        if df is None or name_col not in df.columns:
            continue
        if id_col not in df.columns:
            raise ValueError(f"table {table!r}: column {id_col!r} is missing, cannot pseudonymise {name_col!r}")
        df = df.copy()
        df[name_col] = df[id_col].astype(str).map(lambda v, p=prefix: code_for(v, p)).astype("str")
        out[table] = df
    if "surveys" in tables and "comment" in tables["surveys"].columns:
        out["surveys"] = tables["surveys"].drop(columns=["comment"])
    return out
