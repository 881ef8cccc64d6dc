"""Input checks shared by the analyses: a table's required columns, and a column read as numbers.

A bottom-layer helper (it imports nothing from the package), so that every analysis refuses bad
input with the same words: the table and the missing column named, with the columns it has.

* :func:`require` -- ``ValueError`` naming the table and the first missing column;
* :func:`numeric` -- a column as floats (non-numbers NaN; all-NaN when the column is absent).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["numeric", "require"]


def require(df, columns, table: str) -> None:
    """Raise unless ``df`` is a DataFrame holding every one of ``columns``.

    Parameters
    ----------
    df : DataFrame
        The table to check.
    columns : iterable of str
        Columns it must have.
    table : str
        Its name, for the message.

    Raises
    ------
    TypeError
        ``df`` is not a DataFrame.
    ValueError
        A column is missing: the message names the table, the column and the columns it has.

    Examples
    --------
    >>> require(pd.DataFrame({"client_id": ["a"]}), ["client_id", "amount"], "revenue")
    Traceback (most recent call last):
    ...
    ValueError: revenue needs column 'amount' (it has: client_id)
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{table} must be a pandas DataFrame, got {type(df).__name__}")
    for c in columns:
        if c not in df.columns:
            have = ", ".join(map(str, list(df.columns)[:12])) + (", ..." if len(df.columns) > 12 else "")
            raise ValueError(f"{table} needs column {c!r} (it has: {have or 'no columns'})")


def numeric(df: pd.DataFrame, col: str) -> pd.Series:
    """Column ``col`` of ``df`` as floats: values that are not numbers become NaN, an absent column all NaN.

    Examples
    --------
    >>> numeric(pd.DataFrame({"a": ["1", "x"]}), "a").tolist(), bool(numeric(pd.DataFrame({"a": [1]}), "b").isna().all())
    ([1.0, nan], True)
    """
    if col not in df.columns:
        return pd.Series(np.nan, index=df.index, dtype=float)
    return pd.to_numeric(df[col], errors="coerce").astype(float)
