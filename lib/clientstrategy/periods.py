"""Calendar helpers shared by the runner and the analyses: the default as-of date and run labels."""
from __future__ import annotations

import pandas as pd

__all__ = ["default_as_of", "ltm_window", "parse_as_of", "quarter_label"]


def default_as_of(dates: pd.Series) -> pd.Timestamp:
    """End of the latest complete quarter in ``dates``.

    A quarter is complete when the data reach its last day.

    Parameters
    ----------
    dates : Series of datetime64
        Dates of the revenue table.

    Returns
    -------
    Timestamp
        The last day of the latest complete quarter.

    Examples
    --------
    >>> default_as_of(pd.Series(pd.to_datetime(["2026-01-05", "2026-11-15"])))
    Timestamp('2026-09-30 00:00:00')
    >>> default_as_of(pd.Series(pd.to_datetime(["2026-01-05", "2026-09-30"])))
    Timestamp('2026-09-30 00:00:00')
    """
    dates = pd.to_datetime(pd.Series(dates)).dropna()
    if dates.empty:
        raise ValueError("column 'date' of table 'revenue' has no valid dates to derive AS_OF from")
    last = dates.max().normalize()
    quarter_end = (last + pd.offsets.QuarterEnd(0)).normalize()
    if quarter_end == last:
        return last
    return (last - pd.offsets.QuarterEnd(1)).normalize()


def parse_as_of(value, dates: pd.Series | None = None) -> pd.Timestamp:
    """``value`` as a Timestamp, or the default as-of of ``dates`` when ``value`` is empty.

    Raises
    ------
    ValueError
        If ``value`` is not a date in ``YYYY-MM-DD`` form.
    """
    if value is None or str(value).strip() == "":
        if dates is None:
            raise ValueError("AS_OF is empty and no revenue dates were given to derive it")
        return default_as_of(dates)
    try:
        return pd.Timestamp(str(value).strip()).normalize()
    except (ValueError, TypeError) as exc:
        raise ValueError(f"AS_OF {value!r} is not a date (expected YYYY-MM-DD)") from exc


def quarter_label(as_of: pd.Timestamp) -> str:
    """Run label of the quarter holding ``as_of``.

    Examples
    --------
    >>> quarter_label(pd.Timestamp("1997-09-30"))
    '1997Q3'
    """
    as_of = pd.Timestamp(as_of)
    return f"{as_of.year}Q{as_of.quarter}"


def ltm_window(as_of: pd.Timestamp, months: int = 12) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``(start, end)`` of the ``months`` ending at ``as_of``: rows with ``start < date <= end``."""
    as_of = pd.Timestamp(as_of)
    return as_of - pd.DateOffset(months=months), as_of
