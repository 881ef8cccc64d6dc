"""Step 1 of the client strategy: where revenue comes from, how concentrated it is, how it moves.

Descriptive analyses of the ``revenue`` table (with ``clients`` and ``products`` where they
help): revenue by client and by any dimension, concentration (Gini, HHI, Pareto), value tiers
and their migration, growth movers, cross-holding, behavioural segments, the owners' books,
tags, plots and plain-language headlines.

Conventions (``docs/architecture.md``):

* every function ignores revenue rows dated after ``as_of``;
* "LTM" is ``(as_of - 12 months, as_of]`` and "prior LTM" the twelve months before it,
  both from :func:`clientstrategy.periods.ltm_window`;
* a *purchase* is a distinct day with a positive net amount for the client;
* a client *holds* a product (or category) in a window when its net revenue on it there is
  positive (credits can cancel a purchase).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from . import features
from .periods import ltm_window
from .schema import TIERS
from .validate import first_seen, known_clients
from .words import number_word, pct, plural

__all__ = [
    "DEFAULT_TIER_SHARES",
    "K_TOLERANCE",
    "LOST",
    "MIN_SEGMENT_CLIENTS",
    "MIN_SEGMENT_SHARE",
    "MISSING",
    "NET_CREDIT",
    "NEW",
    "SET_ASIDE_IDS",
    "TREND_CLIP",
    "HistoryWindow",
    "SegmentResult",
    "assign_tiers",
    "behavioural_segments",
    "chance_of_any_purchase",
    "client_revenue",
    "concentration",
    "cross_holding",
    "first_seen",
    "growth_movers",
    "headline_sentences",
    "history_window",
    "known_clients",
    "ltm_bounds",
    "owner_book",
    "pareto_curve",
    "plot_cross_holding",
    "plot_migration",
    "plot_pareto",
    "plot_revenue_over_time",
    "plot_segments",
    "plot_tiers",
    "product_breadth",
    "purchase_outlook",
    "revenue_by",
    "segment_features",
    "segment_identities",
    "segment_migration",
    "tags_summary",
    "tier_summary",
    "tier_transitions",
]

#: Shares of (positive-revenue) clients in Platinum, Gold, Silver, Bronze.
DEFAULT_TIER_SHARES = (0.05, 0.15, 0.30, 0.50)
#: ``from_tier`` of a client with no positive revenue in the prior twelve months.
NEW = "New"
#: ``to_tier`` of a client with no positive revenue in the last twelve months.
LOST = "Lost"
#: Label of a missing grouping value (a client without ``region``, a product without ``category``).
MISSING = "(missing)"
#: ``trend`` (log ratio of LTM to prior LTM revenue) is clipped to +-TREND_CLIP.
TREND_CLIP = 2.0
#: A behavioural segment holds at least this share of the clustered clients...
MIN_SEGMENT_SHARE = 0.02
#: ...and at least this many clients; smaller clusters are merged into the nearest segment.
MIN_SEGMENT_CLIENTS = 10
#: Segment of active clients whose credits exceed their purchases in the window (a label, not a behaviour).
NET_CREDIT = "Credits exceed purchases"
#: Fixed ids of the segments set aside by rule (their members are not clustered, so not matched).
SET_ASIDE_IDS = {"lapsed": "lapsed", "net_credit": "net_credit"}
#: With the previous run's k, keep it while its silhouette is within this share of the best.
K_TOLERANCE = 0.05
#: Features that are log-transformed (``log1p``) before scaling in :func:`behavioural_segments`.
_SKEWED = ("recency_days", "frequency", "monetary")
_PRODUCT_COLUMNS = ("category", "product_name", "margin_rate", "complexity")
_CLIENT_COLUMNS = ("owner_id", "region", "industry", "size_band", "client_name", "onboarded_on")
_FREQS = {"M": "M", "Q": "Q", "Y": "Y"}
_SILHOUETTE_SAMPLE = 5000


# --------------------------------------------------------------------------------------------
# checks and windows
# --------------------------------------------------------------------------------------------
def _require(df, columns, table: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"table {table!r} must be a pandas DataFrame, got {type(df).__name__}")
    for column in columns:
        if column not in df.columns:
            raise ValueError(
                f"table {table!r} has no column {column!r} (columns: {list(df.columns)})")


def _as_of(as_of) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(as_of)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"as_of {as_of!r} is not a date") from exc
    if pd.isna(ts):
        raise ValueError("as_of is missing (NaT)")
    return ts


def _revenue_upto(revenue: pd.DataFrame, as_of) -> tuple[pd.DataFrame, pd.Timestamp]:
    """Checked copy of ``revenue`` without the rows after ``as_of``."""
    _require(revenue, ("date", "client_id", "amount"), "revenue")
    if not pd.api.types.is_datetime64_any_dtype(revenue["date"]):
        raise ValueError(f"column 'date' of table 'revenue' must be datetime64, "
                         f"got {revenue['date'].dtype}")
    if not pd.api.types.is_numeric_dtype(revenue["amount"]):
        raise ValueError(f"column 'amount' of table 'revenue' must be numeric, "
                         f"got {revenue['amount'].dtype}")
    as_of = _as_of(as_of)
    out = revenue.loc[revenue["date"] <= as_of].copy()
    out["amount"] = out["amount"].astype(float)
    return out, as_of


def ltm_bounds(as_of) -> tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp]:
    """Edges of the prior and current twelve-month windows.

    Parameters
    ----------
    as_of : Timestamp
        Last day of the analysis.

    Returns
    -------
    tuple of Timestamp
        ``(prior_start, ltm_start, as_of)``: prior LTM is ``(prior_start, ltm_start]``, LTM is
        ``(ltm_start, as_of]``.

    Examples
    --------
    >>> ltm_bounds(pd.Timestamp("2026-09-30"))
    (Timestamp('2024-09-30 00:00:00'), Timestamp('2025-09-30 00:00:00'), Timestamp('2026-09-30 00:00:00'))
    """
    as_of = _as_of(as_of)
    ltm_start, _ = ltm_window(as_of)
    prior_start, _ = ltm_window(ltm_start)
    return prior_start, ltm_start, as_of


def _window_mask(dates: pd.Series, as_of: pd.Timestamp, window: str) -> pd.Series:
    if window == "ltm":
        _, ltm_start, _ = ltm_bounds(as_of)
        return (dates > ltm_start) & (dates <= as_of)
    if window == "all":
        return dates <= as_of
    raise ValueError(f"window must be 'ltm' or 'all', got {window!r}")


_MONTH = 365.25 / 12  # days


def _months_covered(start_excl: pd.Timestamp, end: pd.Timestamp, data_start) -> int:
    """Whole months of data in the window ``(start_excl, end]`` when the data begin on ``data_start``.

    Rounded down after adding a quarter of a month, so a full window (365 days) is 12 and 304 days
    (1 Dec 2010 - 30 Sep 2011) are 10; any data at all in the window count at least one month.
    """
    if data_start is None or pd.isna(data_start):
        return 0
    first = max(start_excl, pd.Timestamp(data_start).normalize() - pd.Timedelta(days=1))
    days = (pd.Timestamp(end) - first).days
    if days <= 0:
        return 0
    return int(min(12, max(1, np.floor(days / _MONTH + 0.25))))


def _day(ts: pd.Timestamp) -> str:
    return f"{ts.day} {ts.strftime('%b %Y')}"


@dataclass(frozen=True)
class HistoryWindow:
    """How much history the twelve-month windows really hold, with the words every page uses.

    "The last twelve months" is ``(as_of - 12 months, as_of]`` and "the year before" the twelve
    months before it (:func:`ltm_bounds`). When the data start inside one of them, a figure over
    that window covers only the months the data have: the attributes say how many, and the words
    say so instead of "twelve months". Build it with :func:`history_window`.

    Attributes
    ----------
    as_of : Timestamp
        Last day of the analysis.
    data_start : Timestamp or None
        First revenue date in the data (None without revenue lines).
    months : int
        Whole months of data in the last twelve months (12 when they are complete).
    prior_months : int
        Whole months of data in the twelve months before (0: no year before to compare with).
    """

    as_of: pd.Timestamp
    data_start: pd.Timestamp | None
    months: int
    prior_months: int

    @property
    def ltm_start(self) -> pd.Timestamp:
        """Exclusive start of the last twelve months."""
        return ltm_bounds(self.as_of)[1]

    @property
    def prior_start(self) -> pd.Timestamp:
        """Exclusive start of the twelve months before."""
        return ltm_bounds(self.as_of)[0]

    @property
    def full(self) -> bool:
        """Whether the last twelve months hold twelve months of data."""
        return self.months >= 12

    @property
    def has_prior(self) -> bool:
        """Whether any data fall in the twelve months before (growth, migration, first purchases)."""
        return self.prior_months > 0

    @property
    def full_prior(self) -> bool:
        """Whether the twelve months before are complete too."""
        return self.prior_months >= 12

    @property
    def _start_in_ltm(self) -> pd.Timestamp:
        return max(self.ltm_start + pd.Timedelta(days=1), pd.Timestamp(self.data_start).normalize())

    @property
    def phrase(self) -> str:
        """The window in a sentence: "the last twelve months" or, when the data start inside it,
        "the ten months of data (1 Dec 2010 to 30 Sep 2011)"."""
        if self.full:
            return "the last twelve months"
        return (f"the {number_word(self.months)} {'month' if self.months == 1 else 'months'} of data "
                f"({_day(self._start_in_ltm)} to {_day(self.as_of)})")

    @property
    def period(self) -> str:
        """The window with its end: "the twelve months to 30 September 2011" or "the ten months of
        data (1 Dec 2010 to 30 Sep 2011)"."""
        if self.full:
            return f"the twelve months to {self.as_of.day} {self.as_of.strftime('%B %Y')}"
        return self.phrase

    @property
    def header(self) -> str:
        """For a table header or axis: "last 12 months" or "10 months to 30 Sep 2011"."""
        if self.full:
            return "last 12 months"
        return f"{self.months} {'month' if self.months == 1 else 'months'} to {_day(self.as_of)}"

    @property
    def prior_phrase(self) -> str:
        """The year before in a sentence: "the twelve months before", "the six months of data
        before (1 Jan 1997 to 30 Jun 1997)", or "" when there is none."""
        if not self.has_prior:
            return ""
        if self.full_prior:
            return "the twelve months before"
        start = max(self.prior_start + pd.Timedelta(days=1), pd.Timestamp(self.data_start).normalize())
        return (f"the {number_word(self.prior_months)} {'month' if self.prior_months == 1 else 'months'} "
                f"of data before ({_day(start)} to {_day(self.ltm_start)})")

    @property
    def prior_header(self) -> str:
        """For a table header: "12 months before", "6 months before" or "no year before"."""
        if not self.has_prior:
            return "no year before"
        return f"{self.prior_months} {'month' if self.prior_months == 1 else 'months'} before"

    @property
    def per(self) -> str:
        """Revenue "a year" or "in ten months" (e.g. the least a Platinum client brings)."""
        return "a year" if self.full else f"in {number_word(self.months)} {'month' if self.months == 1 else 'months'}"

    def note(self) -> str:
        """One sentence on what the window lacks; "" when both years are complete.

        Examples
        --------
        >>> w = HistoryWindow(pd.Timestamp("2011-09-30"), pd.Timestamp("2010-12-01"), 10, 0)
        >>> w.note()
        'The data start on 1 Dec 2010, so the last twelve months hold ten months (1 Dec 2010 to 30 Sep 2011) and there is no year before to compare with: growth, tier moves and first purchases cannot be measured.'
        """
        if self.data_start is None:
            return ""
        start = _day(pd.Timestamp(self.data_start))
        if not self.full:
            return (f"The data start on {start}, so the last twelve months hold {number_word(self.months)} "
                    f"{'month' if self.months == 1 else 'months'} ({_day(self._start_in_ltm)} to {_day(self.as_of)}) "
                    "and there is no year before to compare with: growth, tier moves and first purchases cannot "
                    "be measured.")
        if not self.has_prior:
            return ("The data start at the beginning of the last twelve months, so there is no year before to "
                    "compare with: growth, tier moves and first purchases cannot be measured.")
        if not self.full_prior:
            return (f"The data start on {start}, so the year before holds only {number_word(self.prior_months)} "
                    f"{'month' if self.prior_months == 1 else 'months'}: comparisons with it set twelve months "
                    f"against {number_word(self.prior_months)}.")
        return ""

    def refusal(self, claim: str) -> str:
        """A sentence refusing ``claim`` ("Tier migration") for want of a year before.

        Examples
        --------
        >>> HistoryWindow(pd.Timestamp("2011-09-30"), pd.Timestamp("2010-12-01"), 10, 0).refusal("Tier migration")
        'Tier migration needs a year of data before the last twelve months; the data start on 1 Dec 2010, so it is not measured.'
        """
        start = _day(pd.Timestamp(self.data_start)) if self.data_start is not None else "an unknown day"
        return (f"{claim} needs a year of data before the last twelve months; the data start on {start}, "
                "so it is not measured.")


def history_window(revenue, as_of, column: str = "date") -> HistoryWindow:
    """How many months of data the last twelve months, and the twelve before, really hold.

    The one place every notebook takes its window words from (:class:`HistoryWindow`): a figure
    over "the last twelve months" of data that start ten months before ``as_of`` is a ten-month
    figure, and says so; a comparison with the year before is refused in words when there is none.

    Parameters
    ----------
    revenue : DataFrame or features.EngineTable
        Canonical ``revenue`` (``date``); its first date is where the data start. Any table with a
        date column will do (``activities`` with ``column="timestamp"``: how many months of touches
        a twelve-month count of touches holds).
    as_of : Timestamp
        Last day of the analysis.
    column : str, default "date"
        The table's date column.

    Returns
    -------
    HistoryWindow

    Examples
    --------
    >>> rev = pd.DataFrame({"date": pd.to_datetime(["2010-12-01", "2011-12-09"]), "client_id": ["a", "a"],
    ...                     "amount": [1.0, 2.0]})
    >>> w = history_window(rev, pd.Timestamp("2011-09-30"))
    >>> w.months, w.prior_months, w.phrase, w.header
    (10, 0, 'the ten months of data (1 Dec 2010 to 30 Sep 2011)', '10 months to 30 Sep 2011')
    >>> history_window(rev, pd.Timestamp("2011-12-31")).phrase
    'the last twelve months'
    """
    as_of = _as_of(as_of)
    if isinstance(revenue, features.EngineTable):
        features.require(revenue, [column], revenue.name)
        first = revenue.sql(f"SELECT MIN({features.q(column)}) AS d FROM {{t}}")["d"].iloc[0]
    else:
        _require(revenue, (column,), "revenue")
        first = revenue[column].min() if len(revenue) else None
    start = None if first is None or pd.isna(first) else pd.Timestamp(first).normalize()
    prior_start, ltm_start, _ = ltm_bounds(as_of)
    return HistoryWindow(as_of=as_of, data_start=start, months=_months_covered(ltm_start, as_of, start),
                         prior_months=_months_covered(prior_start, ltm_start, start))


def _fmt_money(x: float) -> str:
    """Compact amount for sentences: 1.2bn, 3.4m, 85k, 950."""
    sign = "-" if x < 0 else ""
    x = abs(float(x))
    # thresholds sit just below the unit so that 999,700 reads "1.0m", not "1000k"
    for size, threshold, unit, digits in ((1e9, 999.95e6, "bn", 1), (1e6, 999.5e3, "m", 1),
                                          (1e3, 1e3, "k", 0)):
        if x >= threshold:
            return f"{sign}{x / size:.{digits}f}{unit}"
    return f"{sign}{x:.0f}"


# --------------------------------------------------------------------------------------------
# revenue by client and by dimension
# --------------------------------------------------------------------------------------------
def client_revenue(revenue: pd.DataFrame, as_of, clients: pd.DataFrame | None = None) -> pd.DataFrame:
    """Revenue of each client: last twelve months, the twelve before, growth and history.

    Parameters
    ----------
    revenue : DataFrame or features.EngineTable
        Canonical ``revenue`` (``date``, ``client_id``, ``amount``; ``product_id`` optional). A
        table held in the engine is summed there in SQL (the same result; sums rounded to 1e-6).
    as_of : Timestamp
        Last day of the analysis; later rows are ignored.
    clients : DataFrame, optional
        Canonical ``clients``; its clients without revenue get rows of zeros, except those first
        seen after ``as_of`` (:func:`known_clients`), who were not clients yet and are left out.

    Returns
    -------
    DataFrame
        One row per client, sorted by ``client_id``: ``revenue_ltm`` (net, window
        ``(as_of - 12 months, as_of]``), ``revenue_prior_ltm`` (the twelve months before),
        ``growth`` (``ltm / prior - 1``; NaN when prior <= 0), ``revenue_total`` (all history up to
        ``as_of``), ``first_date`` / ``last_date`` (of any line, NaT without lines),
        ``n_products`` (distinct ``product_id`` of its lines up to ``as_of``; NA without a
        ``product_id`` column) and ``n_lines`` (lines up to ``as_of``).

    Examples
    --------
    >>> rev = pd.DataFrame({"date": pd.to_datetime(["2025-06-01", "2026-06-01"]),
    ...                     "client_id": ["a", "a"], "amount": [100.0, 150.0]})
    >>> client_revenue(rev, pd.Timestamp("2026-09-30"))[["client_id", "revenue_ltm", "growth"]]
      client_id  revenue_ltm  growth
    0         a        150.0     0.5
    """
    if isinstance(revenue, features.EngineTable):
        out, has_products = _client_totals_engine(revenue, _as_of(as_of))
    else:
        out, has_products = _client_totals(revenue, as_of)
    if clients is not None:
        _require(clients, ("client_id",), "clients")
        clients = known_clients(clients, revenue, as_of)  # not yet clients on as_of: left out
        ids = pd.Index(clients["client_id"].dropna().unique()).union(out.index)
        out = out.reindex(ids)
        for column in ("revenue_ltm", "revenue_prior_ltm", "revenue_total", "n_lines"):
            out[column] = out[column].fillna(0)
        if has_products:
            out["n_products"] = out["n_products"].fillna(0)
    out["n_lines"] = out["n_lines"].astype("int64")
    out["n_products"] = out["n_products"].astype("Int64")
    prior = out["revenue_prior_ltm"]
    out["growth"] = np.where(prior > 0, out["revenue_ltm"] / prior.where(prior > 0, 1.0) - 1.0, np.nan)
    out.index.name = "client_id"
    columns = ["revenue_ltm", "revenue_prior_ltm", "growth", "revenue_total", "first_date",
               "last_date", "n_products", "n_lines"]
    return out[columns].sort_index().reset_index()


def _client_totals_engine(t, as_of: pd.Timestamp) -> tuple[pd.DataFrame, bool]:
    """Per-client totals of :func:`client_revenue` grouped in SQL (sums rounded to 1e-6)."""
    q, lit = features.q, features.lit
    features.require(t, ["date", "client_id", "amount"], "revenue")
    prior_start, ltm_start, _ = ltm_bounds(as_of)
    d, a, c = q("date"), q("amount"), q("client_id")
    has_products = "product_id" in t.columns
    n_prod = f"COUNT(DISTINCT {q('product_id')})" if has_products else "CAST(NULL AS BIGINT)"
    r = t.sql(f"SELECT CAST({c} AS VARCHAR) AS client_id, "
              f"SUM(CASE WHEN {d} > {lit(ltm_start)} THEN {a} ELSE 0 END) AS revenue_ltm, "
              f"SUM(CASE WHEN {d} > {lit(prior_start)} AND {d} <= {lit(ltm_start)} THEN {a} ELSE 0 END) "
              f"AS revenue_prior_ltm, SUM({a}) AS revenue_total, MIN({d}) AS first_date, MAX({d}) AS last_date, "
              f"{n_prod} AS n_products, COUNT(*) AS n_lines FROM {{t}} "
              f"WHERE {d} <= {lit(as_of)} AND {c} IS NOT NULL GROUP BY CAST({c} AS VARCHAR)")
    out = r.set_index(pd.Index(r["client_id"].astype("str"), name="client_id")).drop(columns="client_id")
    for col in ("revenue_ltm", "revenue_prior_ltm", "revenue_total"):
        out[col] = features.settled(out[col])
    for col in ("first_date", "last_date"):
        out[col] = pd.to_datetime(out[col]).astype("datetime64[ns]")
    out["n_products"] = out["n_products"].astype("Int64") if has_products else pd.NA
    return out, has_products


def _client_totals(revenue: pd.DataFrame, as_of) -> tuple[pd.DataFrame, bool]:
    """Per-client totals of :func:`client_revenue` from a pandas table."""
    rev, as_of = _revenue_upto(revenue, as_of)
    prior_start, ltm_start, _ = ltm_bounds(as_of)
    dates, amount = rev["date"], rev["amount"]
    frame = pd.DataFrame({
        "client_id": rev["client_id"],
        "ltm": amount.where(dates > ltm_start, 0.0),
        "prior": amount.where((dates > prior_start) & (dates <= ltm_start), 0.0),
        "amount": amount,
        "date": dates,
    })
    has_products = "product_id" in rev.columns
    if has_products:
        frame["product_id"] = rev["product_id"]
    grouped = frame.groupby("client_id", sort=True)
    out = pd.DataFrame({
        "revenue_ltm": grouped["ltm"].sum(),
        "revenue_prior_ltm": grouped["prior"].sum(),
        "revenue_total": grouped["amount"].sum(),
        "first_date": grouped["date"].min(),
        "last_date": grouped["date"].max(),
        "n_products": (grouped["product_id"].nunique() if has_products
                       else pd.Series(pd.NA, index=grouped.size().index)),
        "n_lines": grouped.size(),
    })
    return out, has_products


def _by_sources(keys, revenue_columns, products, clients) -> tuple[list, list]:
    """Which ``by`` columns come from ``products`` and which from ``clients`` (the rest: revenue)."""
    product_cols, client_cols = [], []
    for col in keys:
        if col in ("date", "amount", "period"):
            raise ValueError(f"cannot group revenue by {col!r}; use freq= for periods")
        if col in revenue_columns:
            continue
        if products is not None and col in products.columns and col != "product_id":
            product_cols.append(col)
        elif clients is not None and col in clients.columns and col != "client_id":
            client_cols.append(col)
        elif col in _PRODUCT_COLUMNS:
            raise ValueError(f"`by` column {col!r} comes from table 'products': pass products= "
                             f"holding it")
        elif col in _CLIENT_COLUMNS or col.startswith("tag_"):
            raise ValueError(f"`by` column {col!r} comes from table 'clients': pass clients= "
                             f"holding it")
        else:
            raise ValueError(f"unknown `by` column {col!r}: not in revenue, products or clients")
    return product_cols, client_cols


def _revenue_by_engine(t, as_of: pd.Timestamp, keys: list, freq: str | None, products, clients) -> pd.DataFrame:
    """:func:`revenue_by` for a revenue table held in the engine: grouped in SQL, the same result."""
    q, lit = features.q, features.lit
    features.require(t, ["date", "client_id", "amount"], "revenue")
    product_cols, client_cols = _by_sources(keys, t.columns, products, clients)
    src = f"(SELECT * FROM {{t}} WHERE {q('date')} <= {lit(as_of)}) r"
    where_of = {}
    text = {}
    types = t.engine.column_types(t.view)
    for alias, frame, on, cols in (("p", products, "product_id", product_cols), ("c", clients, "client_id", client_cols)):
        if not cols:
            continue
        _require(frame, (on,), "products" if alias == "p" else "clients")
        features.require(t, [on], "revenue")
        view = t.engine.name(alias)
        j = frame[[on, *cols]].drop_duplicates(on)
        j = j.assign(**{on: j[on].astype(str)})
        t.engine.register(view, j.astype({c: object for c in j.columns if j[c].dtype == "str"}))
        src += f" LEFT JOIN {q(view)} {alias} ON CAST(r.{q(on)} AS VARCHAR) = {alias}.{q(on)}"
        for c in cols:
            where_of[c] = alias
            text[c] = not (pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_datetime64_any_dtype(frame[c]))
    exprs = []
    for c in keys:
        alias = where_of.get(c, "r")
        if alias == "r":
            text[c] = not any(k in types.get(c, "VARCHAR") for k in ("INT", "DOUBLE", "FLOAT", "DECIMAL", "TIMESTAMP",
                                                                   "DATE", "BIGINT", "REAL"))
        e = f"{alias}.{q(c)}"
        exprs.append(f"COALESCE(CAST({e} AS VARCHAR), {lit(MISSING)})" if text[c] else e)
    if freq is not None:
        year = f"EXTRACT(YEAR FROM r.{q('date')})"
        part = {"M": f"EXTRACT(MONTH FROM r.{q('date')})", "Q": f"EXTRACT(QUARTER FROM r.{q('date')})"}.get(freq)
        exprs.append(year if part is None else f"{year} * 100 + {part}")
    sel = [f"{e} AS g{i}" for i, e in enumerate(exprs)]
    # grouped by client, each group is one client: no distinct count needed (it is the costly part)
    clients_sql = "1" if "client_id" in keys else f"COUNT(DISTINCT r.{q('client_id')})"
    out = t.sql(f"SELECT {', '.join(sel)}, SUM(r.{q('amount')}) AS revenue, {clients_sql} AS clients "
                f"FROM {src} GROUP BY {', '.join(exprs)} ORDER BY {', '.join(f'g{i} ASC NULLS LAST' for i in range(len(exprs)))}")
    names = [*keys, *(["period"] if freq is not None else [])]
    out.columns = [*names, "revenue", "clients"]
    for c in keys:
        if text[c]:
            out[c] = out[c].astype("str")
    if freq is not None:
        code = out["period"].astype("int64")
        y, p = (code // 100).astype(str), code % 100
        out["period"] = (code.astype(str) if freq == "Y" else
                         y + "-" + p.astype(str).str.zfill(2) if freq == "M" else y + "Q" + p.astype(str)).astype("str")
    out["revenue"] = features.settled(out["revenue"])
    out["clients"] = out["clients"].astype("int64")
    # ordered in SQL by the keys (text by code point, periods by their number, missing numbers last),
    # as pandas sorts them
    return out.reset_index(drop=True)


def revenue_by(revenue: pd.DataFrame, as_of, by, freq: str | None = None,
               products: pd.DataFrame | None = None,
               clients: pd.DataFrame | None = None) -> pd.DataFrame:
    """Revenue summed by any client, product or people dimension, optionally per period.

    Parameters
    ----------
    revenue : DataFrame or features.EngineTable
        Canonical ``revenue``; all rows up to ``as_of`` count (no twelve-month window). A table
        held in the engine is grouped there in SQL (the same result; revenue rounded to 1e-6).
    as_of : Timestamp
        Last day of the analysis; later rows are ignored.
    by : str or list of str
        Columns of ``revenue`` (``client_id``, ``product_id``, ``person_id``, ...), of
        ``products`` (``category``, ...; joined on ``product_id``) or of ``clients``
        (``owner_id``, ``region``, ``industry``, ``size_band``, ``tag_*``, ...; joined on
        ``client_id``). A missing value of a text column is grouped as ``"(missing)"``.
    freq : {"M", "Q", "Y"}, optional
        Adds a ``period`` column as text (``"2026-09"``, ``"2026Q3"``, ``"2026"``).
    products, clients : DataFrame, optional
        Canonical tables, needed only for their columns.

    Returns
    -------
    DataFrame
        The ``by`` columns (and ``period``), ``revenue`` (sum of ``amount``) and ``clients``
        (distinct clients), sorted by the keys.

    Raises
    ------
    ValueError
        Naming a ``by`` column found in no table given, or a missing input column.

    Examples
    --------
    >>> rev = pd.DataFrame({"date": pd.to_datetime(["2026-07-01", "2026-08-01"]),
    ...                     "client_id": ["a", "b"], "amount": [1.0, 2.0]})
    >>> revenue_by(rev, pd.Timestamp("2026-09-30"), by=[], freq="Q")
       period  revenue  clients
    0  2026Q3      3.0        2
    """
    keys = [by] if isinstance(by, str) else list(by)
    if freq is not None and freq not in _FREQS:
        raise ValueError(f"freq must be one of {sorted(_FREQS)} or None, got {freq!r}")
    if not keys and freq is None:
        raise ValueError("give at least one `by` column or a freq")
    if isinstance(revenue, features.EngineTable):
        return _revenue_by_engine(revenue, _as_of(as_of), keys, freq, products, clients)
    rev, as_of = _revenue_upto(revenue, as_of)
    product_cols, client_cols = _by_sources(keys, rev.columns, products, clients)
    frame = rev
    if product_cols:
        _require(rev, ("product_id",), "revenue")
        _require(products, ("product_id",), "products")
        frame = frame.merge(products[["product_id", *product_cols]], on="product_id", how="left",
                            validate="many_to_one")
    if client_cols:
        _require(clients, ("client_id",), "clients")
        frame = frame.merge(clients[["client_id", *client_cols]], on="client_id", how="left",
                            validate="many_to_one")
    for col in keys:
        if not pd.api.types.is_numeric_dtype(frame[col]) and \
                not pd.api.types.is_datetime64_any_dtype(frame[col]):
            frame[col] = frame[col].astype(object).where(frame[col].notna(), MISSING).astype(str)
    group_keys = list(keys)
    if freq is not None:
        frame["period"] = frame["date"].dt.to_period(_FREQS[freq]).astype(str)
        group_keys.append("period")
    out = (frame.groupby(group_keys, dropna=False, sort=True)
           .agg(revenue=("amount", "sum"), clients=("client_id", "nunique"))
           .reset_index())
    return out


# --------------------------------------------------------------------------------------------
# concentration
# --------------------------------------------------------------------------------------------
def _values(values, positive_only: bool) -> np.ndarray:
    x = np.asarray(pd.Series(values, dtype=float).to_numpy(), dtype=float)
    x = x[~np.isnan(x)]
    return x[x > 0] if positive_only else np.clip(x, 0.0, None)


def pareto_curve(values, positive_only: bool = True) -> pd.DataFrame:
    """Cumulative share of revenue against share of clients, largest clients first.

    Parameters
    ----------
    values : array-like
        Revenue per client (e.g. ``revenue_ltm``).
    positive_only : bool, default True
        Keep only positive values; if False, negatives count as zero and zeros stay.

    Returns
    -------
    DataFrame
        ``client_share`` and ``revenue_share``, starting at (0, 0) and ending at (1, 1); one
        row per client plus the origin. Empty (origin only) when nothing is positive.

    Examples
    --------
    >>> pareto_curve([1.0, 3.0])
       client_share  revenue_share
    0           0.0           0.00
    1           0.5           0.75
    2           1.0           1.00
    """
    x = np.sort(_values(values, positive_only))[::-1]
    n, total = len(x), x.sum()
    if n == 0 or total <= 0:
        return pd.DataFrame({"client_share": [0.0], "revenue_share": [0.0]})
    return pd.DataFrame({
        "client_share": np.arange(n + 1) / n,
        "revenue_share": np.concatenate([[0.0], np.cumsum(x) / total]),
    })


def concentration(values, positive_only: bool = True) -> dict:
    """How concentrated revenue is across clients.

    Parameters
    ----------
    values : array-like
        Revenue per client (e.g. ``revenue_ltm``); NaN is dropped.
    positive_only : bool, default True
        Measure over positive values only (clients that brought something). If False,
        negatives count as zero and zero-revenue clients stay in the population.

    Returns
    -------
    dict
        ``gini`` (0 = all equal, (n-1)/n = one client brings all), ``hhi`` (sum of squared
        shares, 1/n..1, not x10,000), ``top_decile_share`` and ``top_20pct_share`` (revenue share
        of the largest 10% / 20% of clients, read off the Pareto curve by linear interpolation
        when 10% of n is not whole), ``clients_for_80pct_share`` (fewest clients, largest first,
        whose revenue reaches 80% of the total) and ``n`` (clients measured). NaN measures when
        nothing is positive.

    Examples
    --------
    >>> concentration([1, 1, 1, 1])["gini"]
    0.0
    >>> concentration([1, 2, 3, 4])["hhi"]
    0.3
    """
    x = np.sort(_values(values, positive_only))
    n, total = len(x), float(x.sum())
    if n == 0 or total <= 0:
        return {"gini": np.nan, "hhi": np.nan, "top_decile_share": np.nan,
                "top_20pct_share": np.nan, "clients_for_80pct_share": 0, "n": int(n)}
    rank = np.arange(1, n + 1)
    gini = float(2.0 * np.sum(rank * x) / (n * total) - (n + 1) / n)
    shares = x / total
    curve = pareto_curve(x, positive_only=positive_only)
    cum = curve["revenue_share"].to_numpy()[1:]
    k80 = int(np.searchsorted(cum, 0.8 - 1e-12, side="left") + 1)
    return {
        "gini": round(gini, 12) + 0.0,
        "hhi": round(float(np.sum(shares ** 2)), 12),
        "top_decile_share": float(np.interp(0.1, curve["client_share"], curve["revenue_share"])),
        "top_20pct_share": float(np.interp(0.2, curve["client_share"], curve["revenue_share"])),
        "clients_for_80pct_share": min(k80, n),
        "n": int(n),
    }


# --------------------------------------------------------------------------------------------
# tiers and migration
# --------------------------------------------------------------------------------------------
def _check_shares(shares) -> np.ndarray:
    s = np.asarray(shares, dtype=float)
    if s.shape != (len(TIERS),) or np.any(s < 0) or not np.isclose(s.sum(), 1.0):
        raise ValueError(f"shares must be {len(TIERS)} non-negative numbers summing to 1 "
                         f"(for {TIERS}), got {tuple(shares)}")
    return s


def assign_tiers(revenue_ltm: pd.Series, shares=DEFAULT_TIER_SHARES) -> pd.Series:
    """Platinum / Gold / Silver / Bronze by rank of client revenue.

    Clients with positive revenue are ranked (largest first; equal revenue ordered by
    ``client_id`` so the result does not depend on row order). The top ``shares[0]`` of them are
    Platinum, the next ``shares[1]`` Gold, the next ``shares[2]`` Silver, the rest Bronze; the
    cumulative boundaries are rounded to the nearest whole client (halves up). Clients with
    zero, negative or missing revenue are always Bronze and do not count in the shares.

    Parameters
    ----------
    revenue_ltm : Series
        Revenue indexed by ``client_id`` (unique).
    shares : sequence of 4 floats, default (0.05, 0.15, 0.30, 0.50)
        Shares of positive-revenue clients per tier, summing to 1.

    Returns
    -------
    Series
        ``tier`` per client, same index as ``revenue_ltm``.

    Examples
    --------
    >>> assign_tiers(pd.Series([50.0, 10.0, 0.0], index=["a", "b", "c"]),
    ...              shares=(0.5, 0.0, 0.0, 0.5)).tolist()
    ['Platinum', 'Bronze', 'Bronze']
    """
    if not isinstance(revenue_ltm, pd.Series):
        raise TypeError("revenue_ltm must be a Series of revenue indexed by client_id")
    if revenue_ltm.index.has_duplicates:
        raise ValueError("revenue_ltm has duplicate client_id values in its index")
    s = _check_shares(shares)
    values = pd.to_numeric(revenue_ltm, errors="coerce").astype(float).fillna(0.0)
    positive = values[values > 0]
    ranked = (pd.DataFrame({"value": positive.to_numpy(), "client_id": positive.index})
              .sort_values(["value", "client_id"], ascending=[False, True], kind="mergesort"))
    n = len(ranked)
    bounds = np.floor(np.cumsum(s) * n + 0.5 + 1e-9).astype(int)
    bounds[-1] = n
    tier_idx = np.searchsorted(bounds, np.arange(n), side="right")
    tiers = pd.Series(TIERS[-1], index=revenue_ltm.index, name="tier", dtype=object)
    tiers.loc[ranked["client_id"].to_numpy()] = np.asarray(TIERS, dtype=object)[tier_idx]
    return tiers.astype(str)


def tier_summary(profile: pd.DataFrame) -> pd.DataFrame:
    """Clients and revenue per tier.

    Parameters
    ----------
    profile : DataFrame
        One row per client with ``tier`` and ``revenue_ltm``.

    Returns
    -------
    DataFrame
        One row per tier in Platinum..Bronze order (tiers without clients included):
        ``tier``, ``clients``, ``revenue`` (sum of ``revenue_ltm``), ``revenue_share`` (of the
        total; NaN when the total is not positive) and ``min_revenue`` (smallest member's).

    Examples
    --------
    >>> p = pd.DataFrame({"tier": ["Platinum", "Bronze"], "revenue_ltm": [90.0, 10.0]})
    >>> tier_summary(p)["revenue_share"].tolist()
    [0.9, 0.0, 0.0, 0.1]
    """
    _require(profile, ("tier", "revenue_ltm"), "profile")
    g = profile.groupby(profile["tier"].astype(str))["revenue_ltm"]
    out = pd.DataFrame({"clients": g.size(), "revenue": g.sum(), "min_revenue": g.min()})
    out = out.reindex(list(TIERS))
    out["clients"] = out["clients"].fillna(0).astype("int64")
    out["revenue"] = out["revenue"].fillna(0.0)
    total = out["revenue"].sum()
    out["revenue_share"] = out["revenue"] / total if total > 0 else np.nan
    out.index.name = "tier"
    return out[["clients", "revenue", "revenue_share", "min_revenue"]].reset_index()


def tier_transitions(revenue: pd.DataFrame, as_of, clients: pd.DataFrame | None = None,
                     shares=DEFAULT_TIER_SHARES) -> pd.DataFrame:
    """Each client's tier in the prior twelve months and in the last twelve months.

    Tiers are assigned separately in each window with :func:`assign_tiers`. A client with no
    positive net revenue in the prior window comes from ``"New"`` (this includes clients won
    back after a longer gap); one with none in the last window goes to ``"Lost"``. Clients
    with positive revenue in neither window are left out.

    Parameters
    ----------
    revenue : DataFrame
        Canonical ``revenue``.
    as_of : Timestamp
        Last day of the analysis.
    clients : DataFrame, optional
        Canonical ``clients`` (only adds zero-revenue clients, who are then left out).
    shares : sequence of 4 floats
        Tier shares, as in :func:`assign_tiers`.

    Returns
    -------
    DataFrame
        ``client_id``, ``from_tier``, ``to_tier``, ``revenue_prior_ltm``, ``revenue_ltm``.

    Examples
    --------
    With one paying client per window, 5% of one client rounds to none, so it is Silver:

    >>> rev = pd.DataFrame({"date": pd.to_datetime(["2025-06-01", "2026-06-01"]),
    ...                     "client_id": ["a", "b"], "amount": [5.0, 7.0]})
    >>> tier_transitions(rev, pd.Timestamp("2026-09-30"))[["client_id", "from_tier", "to_tier"]]
      client_id from_tier to_tier
    0         a    Silver    Lost
    1         b       New  Silver
    """
    cr = client_revenue(revenue, as_of, clients).set_index("client_id")
    prior_active = cr["revenue_prior_ltm"] > 0
    current_active = cr["revenue_ltm"] > 0
    from_tier = assign_tiers(cr["revenue_prior_ltm"], shares).where(prior_active, NEW)
    to_tier = assign_tiers(cr["revenue_ltm"], shares).where(current_active, LOST)
    out = pd.DataFrame({"from_tier": from_tier, "to_tier": to_tier,
                        "revenue_prior_ltm": cr["revenue_prior_ltm"],
                        "revenue_ltm": cr["revenue_ltm"]})
    out = out.loc[prior_active | current_active]
    out.index.name = "client_id"
    return out.reset_index()


def segment_migration(revenue: pd.DataFrame, as_of, clients: pd.DataFrame | None = None,
                      shares=DEFAULT_TIER_SHARES) -> pd.DataFrame:
    """Clients and revenue moving between tiers from the prior to the last twelve months.

    See :func:`tier_transitions` for the rules (``New`` rows: no positive revenue in the prior
    twelve months; ``Lost`` rows: none in the last twelve months).

    Parameters
    ----------
    revenue : DataFrame
        Canonical ``revenue``.
    as_of : Timestamp
        Last day of the analysis.
    clients : DataFrame, optional
        Canonical ``clients``.
    shares : sequence of 4 floats
        Tier shares, as in :func:`assign_tiers`.

    Returns
    -------
    DataFrame
        ``from_tier``, ``to_tier``, ``clients``, ``revenue`` (their net revenue in the last
        twelve months, so ``Lost`` rows show what they still booked, usually 0): one row per
        observed pair, in tier order (Platinum..Bronze, New / Lost last). The SPEC artifact
        ``segment_migration.csv``.

    Examples
    --------
    >>> rev = pd.DataFrame({"date": pd.to_datetime(["2025-06-01", "2026-06-01"]),
    ...                     "client_id": ["a", "b"], "amount": [5.0, 7.0]})
    >>> segment_migration(rev, pd.Timestamp("2026-09-30"))
      from_tier to_tier  clients  revenue
    0    Silver    Lost        1      0.0
    1       New  Silver        1      7.0
    """
    tt = tier_transitions(revenue, as_of, clients, shares)
    from_order = {t: i for i, t in enumerate((*TIERS, NEW))}
    to_order = {t: i for i, t in enumerate((*TIERS, LOST))}
    out = (tt.groupby(["from_tier", "to_tier"], sort=False)
           .agg(clients=("client_id", "size"), revenue=("revenue_ltm", "sum"))
           .reset_index())
    out = out.assign(_f=out["from_tier"].map(from_order), _t=out["to_tier"].map(to_order))
    out = out.sort_values(["_f", "_t"]).drop(columns=["_f", "_t"]).reset_index(drop=True)
    out["clients"] = out["clients"].astype("int64")
    return out


def growth_movers(client_rev: pd.DataFrame, n: int = 10) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The clients whose revenue grew and fell the most, in money.

    Ranked by the change ``revenue_ltm - revenue_prior_ltm`` rather than by the growth rate,
    because a rate puts tiny clients first (10 -> 1,000 is +9,900%) while leadership asks
    where the money moved. Ties are ordered by ``client_id``.

    Parameters
    ----------
    client_rev : DataFrame
        Output of :func:`client_revenue` (``client_id``, ``revenue_ltm``,
        ``revenue_prior_ltm``; ``growth`` optional).
    n : int, default 10
        Clients per list.

    Returns
    -------
    (DataFrame, DataFrame)
        ``growers`` (change > 0, largest first) and ``decliners`` (change < 0, largest fall
        first), each with ``client_id``, ``revenue_prior_ltm``, ``revenue_ltm``, ``change``,
        ``growth``.

    Examples
    --------
    >>> cr = pd.DataFrame({"client_id": ["a", "b"], "revenue_ltm": [5.0, 1.0],
    ...                    "revenue_prior_ltm": [1.0, 4.0]})
    >>> [g["client_id"].tolist() for g in growth_movers(cr)]
    [['a'], ['b']]
    """
    _require(client_rev, ("client_id", "revenue_ltm", "revenue_prior_ltm"), "client_rev")
    if int(n) < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    cr = client_rev[["client_id", "revenue_prior_ltm", "revenue_ltm"]].copy()
    cr["change"] = cr["revenue_ltm"] - cr["revenue_prior_ltm"]
    prior = cr["revenue_prior_ltm"]
    cr["growth"] = np.where(prior > 0, cr["revenue_ltm"] / prior.where(prior > 0, 1.0) - 1.0, np.nan)
    growers = (cr.loc[cr["change"] > 0]
               .sort_values(["change", "client_id"], ascending=[False, True], kind="mergesort"))
    decliners = (cr.loc[cr["change"] < 0]
                 .sort_values(["change", "client_id"], ascending=[True, True], kind="mergesort"))
    return growers.head(int(n)).reset_index(drop=True), decliners.head(int(n)).reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# cross-holding
# --------------------------------------------------------------------------------------------
def _holdings(revenue, as_of, products, level, window) -> pd.DataFrame:
    """(client_id, item) pairs with positive net revenue in the window."""
    rev, as_of = _revenue_upto(revenue, as_of)
    _require(rev, ("product_id",), "revenue")
    if level == "category":
        if products is None:
            raise ValueError("level='category' needs products= with column 'category'")
        _require(products, ("product_id", "category"), "products")
        rev = rev.merge(products[["product_id", "category"]], on="product_id", how="left",
                        validate="many_to_one")
        rev["category"] = rev["category"].astype(object).where(rev["category"].notna(), MISSING)
        key = "category"
    elif level == "product":
        key = "product_id"
    else:
        raise ValueError(f"level must be 'category' or 'product', got {level!r}")
    rev = rev.loc[_window_mask(rev["date"], as_of, window) & rev[key].notna()]
    net = rev.groupby(["client_id", key])["amount"].sum()
    held = net[net > 0].reset_index()[["client_id", key]]
    return held.rename(columns={key: "item"}).astype({"item": str})


def cross_holding(revenue: pd.DataFrame, as_of, products: pd.DataFrame | None = None,
                  level: str = "category", window: str = "ltm") -> pd.DataFrame:
    """Share of the holders of A who also hold B.

    A client holds an item when its net revenue on it in the window is positive. The default
    window is the last twelve months (what clients hold now); ``window="all"`` uses all
    history up to ``as_of`` (what they ever held).

    Parameters
    ----------
    revenue : DataFrame
        Canonical ``revenue`` with ``product_id``.
    as_of : Timestamp
        Last day of the analysis.
    products : DataFrame, optional
        Canonical ``products`` with ``category``; required for ``level="category"``.
    level : {"category", "product"}
        Items are categories or products.
    window : {"ltm", "all"}
        Holding window.

    Returns
    -------
    DataFrame
        Square matrix: index ``holds`` (A), columns ``also_holds`` (B), value = clients holding
        A and B / clients holding A (diagonal 1), items sorted; items nobody holds are absent.
        ``attrs["holders"]`` gives the number of clients holding each item.

    Examples
    --------
    >>> rev = pd.DataFrame({"date": pd.to_datetime(["2026-06-01"] * 3), "client_id": ["a", "a", "b"],
    ...                     "product_id": ["x", "y", "x"], "amount": [1.0, 1.0, 1.0]})
    >>> cross_holding(rev, pd.Timestamp("2026-09-30"), level="product").loc["x", "y"]
    np.float64(0.5)
    """
    held = _holdings(revenue, as_of, products, level, window)
    if held.empty:
        empty = pd.DataFrame(dtype=float)
        empty.index.name, empty.columns.name = "holds", "also_holds"
        return empty
    # a 0/1 client x item matrix and its Gram matrix give the co-holding counts in one product
    matrix = pd.crosstab(held["client_id"], held["item"]).clip(upper=1)
    co = matrix.T.to_numpy() @ matrix.to_numpy()
    holders = np.diag(co).astype(float)
    items = matrix.columns.astype(str)
    out = pd.DataFrame(co / holders[:, None], index=pd.Index(items, name="holds"),
                       columns=pd.Index(items, name="also_holds"))
    out.attrs["holders"] = dict(zip(items, holders.astype(int).tolist()))
    return out


def product_breadth(revenue: pd.DataFrame, as_of, window: str = "ltm") -> pd.Series:
    """Distinct products each client holds (positive net revenue in the window).

    Parameters
    ----------
    revenue : DataFrame
        Canonical ``revenue`` with ``product_id``.
    as_of : Timestamp
        Last day of the analysis.
    window : {"ltm", "all"}, default "ltm"
        Last twelve months, or all history up to ``as_of``.

    Returns
    -------
    Series
        ``n_products`` indexed by ``client_id`` for every client with a line in the window
        (0 when none of its products has positive net revenue), sorted by ``client_id``.

    Examples
    --------
    >>> rev = pd.DataFrame({"date": pd.to_datetime(["2026-06-01"] * 3), "client_id": ["a", "a", "b"],
    ...                     "product_id": ["x", "y", "x"], "amount": [1.0, 1.0, -1.0]})
    >>> product_breadth(rev, pd.Timestamp("2026-09-30")).tolist()
    [2, 0]
    """
    rev, as_of = _revenue_upto(revenue, as_of)
    _require(rev, ("product_id",), "revenue")
    rev = rev.loc[_window_mask(rev["date"], as_of, window)]
    net = rev.groupby(["client_id", "product_id"])["amount"].sum()
    counts = (net > 0).groupby(level="client_id").sum().astype("int64")
    counts.name = "n_products"
    return counts.sort_index()


# --------------------------------------------------------------------------------------------
# behavioural segments
# --------------------------------------------------------------------------------------------
def segment_features(revenue: pd.DataFrame, as_of, products: pd.DataFrame | None = None) -> pd.DataFrame:
    """Behavioural features per client for segmentation (RFM, trend and product mix).

    Parameters
    ----------
    revenue : DataFrame
        Canonical ``revenue``.
    as_of : Timestamp
        Last day of the analysis.
    products : DataFrame, optional
        Canonical ``products`` with ``category``; adds the mix columns.

    Returns
    -------
    DataFrame
        One row per client with at least one purchase day (positive net amount on a day) up
        to ``as_of``, sorted by ``client_id``: ``recency_days`` (days from the last purchase day
        to ``as_of``), ``frequency`` (purchase days in the last twelve months), ``monetary``
        (net revenue in the last twelve months), ``trend`` (``log((max(ltm,0)+1) /
        (max(prior,0)+1))`` clipped to +-``TREND_CLIP``; left out when no revenue line is dated
        before the last twelve months, as when the data start inside them: every client would
        then read as "growing" from nothing) and, with products, ``mix_<category>``:
        each category's share of the client's positive net revenue by category over all history
        up to ``as_of`` (all history so lapsed clients have a mix too).

    Examples
    --------
    >>> rev = pd.DataFrame({"date": pd.to_datetime(["2026-09-20", "2026-09-29"]),
    ...                     "client_id": ["a", "a"], "amount": [1.0, 2.0]})
    >>> segment_features(rev, pd.Timestamp("2026-09-30"))[["recency_days", "frequency", "monetary"]]
       recency_days  frequency  monetary
    0           1.0          2       3.0
    """
    rev, as_of = _revenue_upto(revenue, as_of)
    _, ltm_start, _ = ltm_bounds(as_of)
    daily = rev.groupby(["client_id", "date"])["amount"].sum()
    days = daily[daily > 0].reset_index()
    last = days.groupby("client_id")["date"].max()
    ids = last.index
    in_ltm = days.loc[days["date"] > ltm_start]
    frequency = in_ltm.groupby("client_id").size().reindex(ids, fill_value=0).astype("int64")
    cr = client_revenue(rev, as_of).set_index("client_id").reindex(ids)
    ltm = cr["revenue_ltm"].clip(lower=0.0)
    prior = cr["revenue_prior_ltm"].clip(lower=0.0)
    out = pd.DataFrame({
        "recency_days": (as_of - last).dt.days.astype(float),
        "frequency": frequency,
        "monetary": cr["revenue_ltm"],
        "trend": np.log((ltm + 1.0) / (prior + 1.0)).clip(-TREND_CLIP, TREND_CLIP),
    }, index=ids)
    if not (rev["date"] <= ltm_start).any():  # no year before to compare with (e.g. Online Retail)
        out = out.drop(columns="trend")
    if products is not None and "product_id" in rev.columns:
        _require(products, ("product_id", "category"), "products")
        mix = rev.merge(products[["product_id", "category"]], on="product_id", how="left",
                        validate="many_to_one")
        mix["category"] = mix["category"].astype(object).where(mix["category"].notna(), MISSING)
        net = mix.groupby(["client_id", "category"])["amount"].sum().clip(lower=0.0)
        table = net.unstack("category", fill_value=0.0).reindex(ids, fill_value=0.0)
        total = table.sum(axis=1)
        table = table.div(total.where(total > 0, 1.0), axis=0)
        table = table[sorted(table.columns, key=str)]
        table.columns = [f"mix_{c}" for c in table.columns]
        out = out.join(table)
    out.index.name = "client_id"
    return out.sort_index().reset_index()


@dataclass(frozen=True)
class SegmentResult:
    """Behavioural segments of clients.

    Attributes
    ----------
    labels : Series
        ``segment`` name per client, indexed by ``client_id``.
    k : int
        Number of segments chosen.
    scores : DataFrame
        ``k``, ``silhouette``, ``inertia`` for every k tried.
    profile : DataFrame
        Per segment (index ``segment``, largest spend first): ``clients``, ``client_share`` and
        the mean of each feature in its original units.
    description : dict
        Segment name -> one plain sentence built from its centroid.
    embedding : DataFrame
        Two principal components of the scaled features (``pc1``, ``pc2``) per client, for a
        2-D picture of the segments.
    notes : tuple of str
        Sentences on the rules applied: small clusters merged, clients set aside by rule.
    traits : DataFrame
        Per segment (index ``segment``, the order of ``profile``): ``clients``, ``typical_spend``
        and ``purchase_days`` (the centroid's ``monetary`` and ``frequency``), and the words of its
        description: ``frequency``, ``spend``, ``trend``, ``focus`` (the category holding half or
        more of its revenue, ``spread`` otherwise). What :func:`segment_identities` persists and
        compares from one run to the next.
    set_aside : dict
        Segment names given by a rule, not by the clustering, and their fixed ids
        (:data:`SET_ASIDE_IDS`).
    """

    labels: pd.Series
    k: int
    scores: pd.DataFrame
    profile: pd.DataFrame
    description: dict
    embedding: pd.DataFrame
    notes: tuple = ()
    traits: pd.DataFrame | None = None
    set_aside: dict | None = None


def _feature_matrix(features: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(original numeric features, transformed features) indexed by client_id."""
    if not isinstance(features, pd.DataFrame):
        raise TypeError("features must be a DataFrame (see segment_features)")
    frame = features.set_index("client_id") if "client_id" in features.columns else features
    if frame.index.has_duplicates:
        raise ValueError("features has duplicate client_id values")
    # KMeans seeding follows row order: sorting by client_id makes results independent of it
    frame = frame.sort_index()
    numeric = frame.select_dtypes(include="number").astype(float)
    if numeric.shape[1] == 0:
        raise ValueError("features has no numeric column to segment on")
    for column in numeric.columns:
        if numeric[column].isna().any():
            raise ValueError(f"column {column!r} of features has missing values")
    transformed = numeric.copy()
    for column in _SKEWED:
        if column in transformed.columns:
            transformed[column] = np.log1p(transformed[column].clip(lower=0.0))
    return numeric, transformed


def _percentile(population: np.ndarray, value: float) -> float:
    """Mid-rank percentile of ``value`` in ``population`` (0..1)."""
    return float(np.mean(population < value) + 0.5 * np.mean(population == value))


def _level(p: float, words: tuple[str, str, str]) -> str:
    return words[0] if p < 1 / 3 else (words[1] if p < 2 / 3 else words[2])


def _has_thirds(population: np.ndarray) -> bool:
    """Whether low / mid / high thirds mean anything: False when one value fills the middle third
    (e.g. frequency when nearly every client bought once, as in a random sample of Olist orders:
    a centroid a hair above 1 would otherwise read as "Frequent")."""
    q1, q2 = np.quantile(population, [1 / 3, 2 / 3])
    return bool(q1 < q2)


def _traits(centroid: pd.Series, original: pd.DataFrame) -> dict:
    """The words a centroid (original units) earns: ``frequency``, ``spend``, ``trend``, ``focus``, ``lapsed``."""
    mix_cols = [c for c in centroid.index if str(c).startswith("mix_")]
    focus = ""
    if mix_cols:
        top = max(mix_cols, key=lambda c: (centroid[c], str(c)))
        focus = str(top)[4:] if centroid[top] >= 0.5 else "spread"
    lapsed = bool("recency_days" in centroid.index and centroid["recency_days"] >= 365)
    freq = spend = trend = None
    if "frequency" in centroid.index and _has_thirds(original["frequency"].to_numpy()):
        freq = _level(_percentile(original["frequency"].to_numpy(), centroid["frequency"]),
                      ("Rare", "Occasional", "Frequent"))
    if "monetary" in centroid.index and _has_thirds(original["monetary"].to_numpy()):
        spend = _level(_percentile(original["monetary"].to_numpy(), centroid["monetary"]),
                       ("low-spend", "mid-spend", "high-spend"))
    if "trend" in centroid.index:
        t = centroid["trend"]
        trend = "growing" if t > 0.1 else ("declining" if t < -0.1 else "steady")
    return {"frequency": freq, "spend": spend, "trend": trend, "focus": focus, "lapsed": lapsed}


def _name_segment(centroid: pd.Series, original: pd.DataFrame) -> tuple[str, str, str]:
    """(short name, sentence stem, mix phrase) from a centroid in original units."""
    w = _traits(centroid, original)
    mix_phrase = "" if not w["focus"] else (
        "spread across categories" if w["focus"] == "spread" else f"concentrated in {w['focus']}")
    if w["lapsed"]:
        name = "Lapsed"
        stem = "Lapsed clients with no purchase in the last twelve months"
        return name, stem, mix_phrase
    freq, spend, trend = w["frequency"], w["spend"], w["trend"]
    parts = [p for p in (freq, spend) if p]
    if not parts and not trend:
        return "", "", mix_phrase
    who = " ".join(parts) if parts else "Clients"
    if parts and freq is None:
        who = who[0].upper() + who[1:]
    name = ", ".join([*(p for p in (freq, spend) if p), *([trend] if trend else [])])
    if mix_phrase.startswith("concentrated in "):
        name = f"{mix_phrase.removeprefix('concentrated in ')}-focused, {name[0].lower()}{name[1:]}"
    name = name[0].upper() + name[1:]
    stem = f"{who} buyers" if parts else who
    return name, stem, mix_phrase


def behavioural_segments(features: pd.DataFrame, k_range=range(2, 9), random_state: int = 0,
                         set_aside_lapsed: bool = True, min_share: float = MIN_SEGMENT_SHARE,
                         min_clients: int = MIN_SEGMENT_CLIENTS,
                         window: HistoryWindow | None = None, previous_k: int | None = None,
                         k_tolerance: float = K_TOLERANCE) -> SegmentResult:
    """Cluster clients on behaviour and name the clusters from their centroids.

    Numeric columns of ``features`` are used (``client_id`` as a column or the index; rows are
    sorted by it first so the input's row order does not matter); the
    skewed ones (``recency_days``, ``frequency``, ``monetary``, negatives clipped to 0) are
    ``log1p``-transformed, then all are standardised (``StandardScaler``) and clustered with
    ``KMeans(n_init=10, random_state=random_state)`` for each k in ``k_range``.
    **Rule for k:** the k with the highest silhouette score (on up to 5,000 clients sampled
    with ``random_state`` when there are more); ties go to the smaller k. With ``previous_k`` (the
    k the previous quarter's run chose), that k is kept while its silhouette is within
    ``k_tolerance`` (relative) of the best: silhouettes of neighbouring k often differ by a
    percent or two, and a quarter of steady behaviour must not restructure the segments on such
    a near-tie (the segments would split or merge and their clients "move" for no reason).

    **Lapsed clients are set aside first** (``set_aside_lapsed=True``): clients with no purchase
    day in the last twelve months (``frequency == 0``; without that column, ``recency_days >
    365``) form the segment ``"Lapsed"`` by rule and are not clustered. Otherwise the
    silhouette mostly rewards the obvious active / lapsed split (k = 2 with one segment holding
    ~90% of clients on the bundled sample), which says nothing about how active clients differ.
    **Clients whose credits exceed their purchases** in the window (``monetary <= 0``) are set
    aside too, as :data:`NET_CREDIT`: a fact of the books, not a way of buying.

    **Rule for size:** a segment is a behaviour only when it holds at least ``min_share`` of the
    clustered clients and at least ``min_clients`` of them. A smaller cluster (a handful of
    outliers the silhouette likes to isolate) is merged into the segment whose centre is nearest
    to each of its clients, smallest first, until every segment is large enough; when one segment
    is left it is called "Active clients". ``notes`` says what was merged or set aside.

    Names are built from the centroid mapped back to original units: a centroid with a last
    purchase 365+ days ago is "Lapsed"; otherwise frequency and spend are "Rare / Occasional /
    Frequent" and "low / mid / high-spend" by the centroid's percentile among the clustered
    clients (thirds; a feature whose middle third is a single value, such as frequency when
    nearly every client bought once, gets no word), and the trend is "growing" (> +0.1 log ratio), "declining" (< -0.1) or
    "steady"; a centroid with half or more of its revenue in one category is prefixed
    "<category>-focused". Segments are ordered by centroid spend (largest first; the set-aside
    groups last); a repeated name gets " #2", " #3", ... appended.

    Parameters
    ----------
    features : DataFrame
        Output of :func:`segment_features` (or any numeric per-client features).
    k_range : iterable of int, default range(2, 9)
        Numbers of clusters tried; values outside ``2..n_clustered-1`` are skipped.
    random_state : int, default 0
        Seed of KMeans and of the silhouette sample.
    set_aside_lapsed : bool, default True
        Put clients without a purchase in the last twelve months in "Lapsed" before clustering.
    min_share, min_clients : float, int
        Smallest segment: a share of the clustered clients and a number of clients.
    window : HistoryWindow, optional
        The window the features cover (:func:`history_window`), for the descriptions' words.
    previous_k : int, optional
        The number of clusters the previous run chose (``scores`` row with ``chosen``).
    k_tolerance : float, default K_TOLERANCE
        How far (share of the best) ``previous_k``'s silhouette may fall short and still be kept.

    Returns
    -------
    SegmentResult
        ``k`` (segments of active clients after merging) and ``scores`` (of the clustering); the
        set-aside groups come on top of the k segments in ``labels``, ``profile`` and
        ``description``.

    Examples
    --------
    >>> f = pd.DataFrame({"client_id": list("abcdef"),
    ...                   "frequency": [1, 1, 2, 40, 41, 42], "monetary": [5, 6, 5, 900, 950, 990]})
    >>> behavioural_segments(f, k_range=[2, 3], min_clients=2).k
    2
    """
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.metrics import silhouette_score
    from sklearn.preprocessing import StandardScaler

    if not 0 <= float(min_share) < 1 or int(min_clients) < 1:
        raise ValueError(f"min_share must be in [0, 1) and min_clients at least 1, got {min_share}, {min_clients}")
    phrase = window.phrase if window is not None else "the last twelve months"
    original, transformed = _feature_matrix(features)
    n_all = len(original)
    lapsed = pd.Series(False, index=original.index)
    if set_aside_lapsed:
        if "frequency" in original.columns:
            lapsed = original["frequency"] <= 0
        elif "recency_days" in original.columns:
            lapsed = original["recency_days"] > 365
    credit = pd.Series(False, index=original.index)
    if "monetary" in original.columns:  # bought in the window (frequency > 0), yet net revenue <= 0
        bought = original["frequency"] > 0 if "frequency" in original.columns else original["monetary"] < 0
        credit = ~lapsed & bought & (original["monetary"] <= 0)
    clustered = ~lapsed & ~credit
    active, active_t = original.loc[clustered], transformed.loc[clustered]
    n = len(active)
    ks = sorted({int(k) for k in k_range if 2 <= int(k) <= n - 1})
    if not ks:
        raise ValueError(f"no k in k_range fits {n} clients to cluster (need 2 <= k <= n - 1)")
    scaler = StandardScaler().fit(active_t.to_numpy())
    z = scaler.transform(active_t.to_numpy())
    rows, models = [], {}
    sample = _SILHOUETTE_SAMPLE if n > _SILHOUETTE_SAMPLE else None
    for k in ks:
        model = KMeans(n_clusters=k, n_init=10, random_state=random_state).fit(z)
        n_labels = len(np.unique(model.labels_))
        silhouette = (float(silhouette_score(z, model.labels_, sample_size=sample,
                                             random_state=random_state))
                      if 2 <= n_labels <= n - 1 else np.nan)
        rows.append({"k": k, "silhouette": silhouette, "inertia": float(model.inertia_)})
        models[k] = model
    scores = pd.DataFrame(rows)
    if scores["silhouette"].isna().all():
        raise ValueError("no k gave two or more distinct clusters; the features do not vary")
    best = scores.sort_values(["silhouette", "k"], ascending=[False, True]).iloc[0]
    if previous_k is not None and int(previous_k) in models:
        kept = scores.loc[scores["k"] == int(previous_k), "silhouette"].iloc[0]
        if np.isfinite(kept) and kept >= float(best["silhouette"]) * (1 - float(k_tolerance)):
            best = scores.loc[scores["k"] == int(previous_k)].iloc[0]
    scores["chosen"] = scores["k"] == int(best["k"])
    model = models[int(best["k"])]

    # the size rule: merge clusters below the floor into the nearest remaining centre, smallest first
    floor = max(int(min_clients), int(np.ceil(float(min_share) * n)))
    cluster_of = model.labels_.copy()
    centres = model.cluster_centers_
    keep = list(range(centres.shape[0]))
    merged = 0
    while len(keep) > 1:
        sizes_now = np.bincount(cluster_of, minlength=centres.shape[0])
        small = [c for c in keep if sizes_now[c] < floor]
        if not small:
            break
        c = min(small, key=lambda c: (sizes_now[c], c))
        keep = [o for o in keep if o != c]
        members = cluster_of == c
        distance = ((z[members][:, None, :] - centres[keep][None, :, :]) ** 2).sum(axis=2)
        cluster_of[members] = np.asarray(keep)[distance.argmin(axis=1)]
        merged += 1
    renumber = {c: i for i, c in enumerate(keep)}
    cluster_of = np.array([renumber[c] for c in cluster_of], dtype=int)
    k = len(keep)
    centres_z = np.vstack([z[cluster_of == i].mean(axis=0) for i in range(k)])

    # centroids back in original units: undo the scaling, then log1p for the skewed columns
    centers = pd.DataFrame(scaler.inverse_transform(centres_z), columns=active_t.columns)
    for column in _SKEWED:
        if column in centers.columns:
            centers[column] = np.expm1(centers[column])
    sizes = np.bincount(cluster_of, minlength=k)
    spend_key = centers["monetary"] if "monetary" in centers.columns else pd.Series(-sizes)
    order = sorted(range(k), key=lambda c: (-spend_key.iloc[c], -sizes[c], c))

    names, description, traits = {}, {}, {}
    used: set[str] = set()
    for rank, c in enumerate(order):
        if k == 1:
            name, stem, mix = "Active clients", "Active clients", ""
        else:
            name, stem, mix = _name_segment(centers.iloc[c], active)
        if not name:
            name, stem = f"Segment {rank + 1}", f"Clients of segment {rank + 1}"
        base, i = name, 2
        while name in used:
            name, i = f"{base} #{i}", i + 1
        used.add(name)
        names[c] = name
        w = _traits(centers.iloc[c], active)
        traits[name] = {"clients": int(sizes[c]),
                        "typical_spend": float(centers.loc[c, "monetary"]) if "monetary" in centers.columns else np.nan,
                        "purchase_days": float(centers.loc[c, "frequency"]) if "frequency" in centers.columns else np.nan,
                        "frequency": (w["frequency"] or "").lower(), "spend": w["spend"] or "",
                        "trend": w["trend"] or "", "focus": w["focus"]}
        parts = [stem, *([mix] if mix else [])]
        if "trend" in centers.columns and not name.startswith("Lapsed"):
            t = centers.loc[c, "trend"]
            parts.append("growing" if t > 0.1 else ("declining" if t < -0.1 else "steady"))
        facts = [f"{plural(sizes[c], 'client')} ({pct(sizes[c] / n_all)})"]
        if "monetary" in centers.columns and not name.startswith("Lapsed"):
            facts.append(f"typical revenue in {phrase} {_fmt_money(centers.loc[c, 'monetary'])}")
        if "recency_days" in centers.columns:
            facts.append(f"last purchase about {plural(round(centers.loc[c, 'recency_days']), 'day')} ago")
        description[name] = f"{', '.join(parts)}: {'; '.join(facts)}."

    labels = pd.Series([names[c] for c in cluster_of], index=active.index, name="segment", dtype=object)
    segment_order = [names[c] for c in order]
    notes = []
    if merged:
        notes.append(f"{plural(merged, 'cluster')} of fewer than {plural(floor, 'client')} (a segment needs at "
                     f"least {pct(min_share)} of the {plural(n, 'clustered client')} and at least "
                     f"{plural(int(min_clients), 'client')}) {'was' if merged == 1 else 'were'} merged into the "
                     "nearest segment.")
    if credit.any():
        owed = original.loc[credit]
        name = NET_CREDIT
        description[name] = (f"Clients whose credits and returns over {phrase} exceed their purchases (set aside "
                             f"by rule: a fact of the books, not a behaviour): {plural(len(owed), 'client')} "
                             f"({pct(len(owed) / n_all)}).")
        labels = pd.concat([labels, pd.Series(name, index=owed.index, dtype=object)])
        segment_order.append(name)
        notes.append(f"{plural(len(owed), 'client')} whose credits exceed their purchases over {phrase} "
                     f"{'is' if len(owed) == 1 else 'are'} set aside as \"{name}\", not clustered.")
    if lapsed.any():
        lapsed_name = "Lapsed" if "Lapsed" not in used else "Lapsed (set aside)"
        gone = original.loc[lapsed]
        mix_cols = [c for c in gone.columns if str(c).startswith("mix_")]
        mix = ""
        if mix_cols:
            mean_mix = gone[mix_cols].mean()
            top = max(mix_cols, key=lambda c: (mean_mix[c], str(c)))
            mix = (f", mostly in {str(top)[4:]}" if mean_mix[top] >= 0.5 else
                   ", spread across categories")
        facts = [f"{plural(len(gone), 'client')} ({pct(len(gone) / n_all)})"]
        if "recency_days" in gone.columns:
            facts.append(f"last purchase a median {plural(round(gone['recency_days'].median()), 'day')} ago")
        description[lapsed_name] = (f"Lapsed clients with no purchase in {phrase}"
                                    f"{mix}: {'; '.join(facts)}.")
        labels = pd.concat([labels, pd.Series(lapsed_name, index=gone.index, dtype=object)])
        segment_order.append(lapsed_name)
    labels = labels.reindex(original.index).astype(str).rename("segment")
    labels.index.name = original.index.name
    set_aside = {}
    if credit.any():
        set_aside[NET_CREDIT] = SET_ASIDE_IDS["net_credit"]
    if lapsed.any():
        set_aside[lapsed_name] = SET_ASIDE_IDS["lapsed"]
    for name in set_aside:
        traits[name] = {"clients": int((labels == name).sum())}  # a rule, not a behaviour: its size is what changes

    profile = original.groupby(labels.to_numpy()).mean()
    profile.insert(0, "clients", labels.value_counts())
    profile.insert(1, "client_share", profile["clients"] / n_all)
    profile = profile.reindex(segment_order)
    profile.index.name = "segment"

    # the 2-D view is fitted on the clustered clients; set-aside clients are projected onto it
    pca = PCA(n_components=min(2, z.shape[1]), svd_solver="full").fit(z)
    coords = pca.transform(scaler.transform(transformed.to_numpy()))
    if coords.shape[1] == 1:
        coords = np.column_stack([coords, np.zeros(n_all)])
    embedding = pd.DataFrame(coords, index=original.index, columns=["pc1", "pc2"])
    traits = pd.DataFrame.from_dict(traits, orient="index").reindex(segment_order)
    traits.index.name = "segment"
    return SegmentResult(labels=labels, k=k, scores=scores, profile=profile,
                         description=description, embedding=embedding, notes=tuple(notes), traits=traits,
                         set_aside=set_aside)


def segment_identities(result: SegmentResult, previous_model: dict | None = None,
                       previous_ids: pd.Series | None = None, quarter: str = "", as_of=None,
                       min_overlap: float | None = None):
    """Stable ids and names of the segments, matched to the previous run's by their members.

    The clusters of ``result`` are matched to the previous run's segments by the Jaccard overlap of
    their clients (Hungarian algorithm, :func:`clientstrategy.identity.match`): a matched segment
    keeps its id (``S1``, ``S2``...) and the name it was first given, so that a change of its
    description (its trend turned from growing to declining) is a change of the segment, not its
    clients moving; an unmatched one is new (next id, named from its description); a previous one
    left unmatched has vanished. The groups set aside by rule keep the fixed ids of
    :data:`SET_ASIDE_IDS`. See :mod:`clientstrategy.identity` for why members, not centroids.

    Parameters
    ----------
    result : SegmentResult
        Output of :func:`behavioural_segments`.
    previous_model : dict, optional
        The previous run's ``segment_model.json`` (None: the first run).
    previous_ids : Series, optional
        The previous run's ``segment_id`` per client (index ``client_id``), from its profile.
    quarter : str
        This run's quarter.
    as_of : Timestamp, optional
        This run's ``AS_OF``.
    min_overlap : float, optional
        Smallest Jaccard overlap of a match (default :data:`clientstrategy.identity.MIN_OVERLAP`).

    Returns
    -------
    clientstrategy.identity.Identities
        ``ids`` and ``names`` per client, ``table`` per segment, and ``model`` (write it as
        ``segment_model.json``; it records ``k_fitted``, the k the clustering chose, for the next
        run's ``previous_k``).

    Examples
    --------
    >>> f = pd.DataFrame({"client_id": list("abcdef"),
    ...                   "frequency": [1, 1, 2, 40, 41, 42], "monetary": [5, 6, 5, 900, 950, 990]})
    >>> seg = behavioural_segments(f, k_range=[2], min_clients=2)
    >>> segment_identities(seg, quarter="2026Q2").table[["id", "clients"]].values.tolist()
    [['S1', 3], ['S2', 3]]
    """
    from . import identity

    if not isinstance(result, SegmentResult) or result.traits is None:
        raise TypeError("result must be a SegmentResult from behavioural_segments (with traits)")
    chosen = result.scores.loc[result.scores["chosen"], "k"] if "chosen" in result.scores.columns else []
    return identity.keep_identities(
        result.labels, result.traits, previous_model, previous_ids, quarter=quarter, as_of=as_of, prefix="S",
        kind="segment", fixed=result.set_aside or {},
        min_overlap=identity.MIN_OVERLAP if min_overlap is None else min_overlap,
        extra={"k": int(result.k), "k_fitted": int(chosen.iloc[0]) if len(chosen) else None})


# --------------------------------------------------------------------------------------------
# a client's purchases ahead, in words
# --------------------------------------------------------------------------------------------
def chance_of_any_purchase(revenue: pd.DataFrame, as_of, client_ids, models: dict | None = None) -> pd.Series:
    """Each client's chance of buying at all in the twelve months after ``as_of``.

    From the purchase model the run fitted (``models``: the content of ``artifacts/models.json``,
    ``{"purchase_model": clv.model_to_dict(...), ...}``); without it, BG/NBD is refitted on the
    clients' history up to ``as_of``, as the models' readers fall back.

    Parameters
    ----------
    revenue : DataFrame
        Canonical ``revenue``.
    as_of : Timestamp
        Last day of the analysis.
    client_ids : iterable of str
        The clients wanted.
    models : dict, optional
        ``artifacts/models.json``.

    Returns
    -------
    Series
        ``p_any_purchase`` indexed by ``client_id`` (clients without a purchase up to ``as_of``
        are absent).
    """
    from . import clv

    summary = clv.rfm_summary(revenue, as_of)
    if models and models.get("purchase_model"):
        model = clv.model_from_dict(models["purchase_model"])
    else:
        model = clv.BetaGeoModel().fit(summary)
    wanted = summary[summary["client_id"].astype(str).isin({str(c) for c in client_ids})]
    return pd.Series(np.asarray(model.p_any_purchase(clv.WEEKS_PER_YEAR, wanted), dtype=float),
                     index=pd.Index(wanted["client_id"].astype(str), name="client_id"), name="p_any_purchase")


def purchase_outlook(expected, low, high, p_any=None) -> str:
    """A client's expected purchases over the next twelve months in words, with their range.

    A range of [0, 0] under a positive expectation (the client is almost surely gone; the mean
    comes from the rare case that it survives and buys) excludes its own expectation: the words
    give the chance of buying at all instead.

    Examples
    --------
    >>> purchase_outlook(4.2, 2, 7)
    '4.2 (range 2 to 7)'
    >>> purchase_outlook(0.31, 0, 0, p_any=0.08)
    '0.31 expected, most likely none: the chance of buying at all is 8%'
    >>> purchase_outlook(0.31, 0, 0)
    '0.31 expected, most likely none: the range of likely outcomes is no purchase at all'
    """
    if expected is None or pd.isna(expected):
        return "not modelled"
    e = float(expected)
    shown = f"{e:.2f}" if e < 1 else f"{e:,.1f}"
    if low is None or high is None or pd.isna(low) or pd.isna(high):
        return shown
    if float(high) <= 0 < e:
        if p_any is not None and pd.notna(p_any):
            return f"{shown} expected, most likely none: the chance of buying at all is {pct(p_any)}"
        return f"{shown} expected, most likely none: the range of likely outcomes is no purchase at all"
    return f"{shown} (range {float(low):,.0f} to {float(high):,.0f})"


# --------------------------------------------------------------------------------------------
# owners and tags
# --------------------------------------------------------------------------------------------
def owner_book(revenue: pd.DataFrame, clients: pd.DataFrame, as_of,
               shares=DEFAULT_TIER_SHARES) -> pd.DataFrame:
    """Each internal owner's book of clients.

    Parameters
    ----------
    revenue : DataFrame
        Canonical ``revenue``.
    clients : DataFrame
        Canonical ``clients`` with ``owner_id``; clients without an owner (or billed but not in
        ``clients``) are grouped under ``"(missing)"``.
    as_of : Timestamp
        Last day of the analysis.
    shares : sequence of 4 floats
        Tier shares; tiers are firm-wide (:func:`assign_tiers` over all clients).

    Returns
    -------
    DataFrame
        ``owner_id``, ``clients`` (in the book, billed or not), ``revenue_ltm``,
        ``revenue_prior_ltm``, ``growth`` (of the book; NaN when prior <= 0),
        ``platinum_gold`` (clients in those tiers), sorted by ``revenue_ltm`` descending.

    Examples
    --------
    >>> rev = pd.DataFrame({"date": pd.to_datetime(["2026-06-01"]), "client_id": ["a"],
    ...                     "amount": [3.0]})
    >>> cl = pd.DataFrame({"client_id": ["a", "b"], "owner_id": ["p1", "p1"]})
    >>> owner_book(rev, cl, pd.Timestamp("2026-09-30"))["clients"].tolist()
    [2]
    """
    _require(clients, ("client_id", "owner_id"), "clients")
    cr = client_revenue(revenue, as_of, clients).set_index("client_id")
    tiers = assign_tiers(cr["revenue_ltm"], shares)
    owners = clients.drop_duplicates("client_id").set_index("client_id")["owner_id"]
    owner = owners.reindex(cr.index).astype(object)
    owner = owner.where(owner.notna(), MISSING).astype(str)
    frame = cr.assign(owner_id=owner.to_numpy(),
                      top=tiers.isin(["Platinum", "Gold"]).to_numpy().astype("int64"))
    out = (frame.groupby("owner_id")
           .agg(clients=("revenue_ltm", "size"), revenue_ltm=("revenue_ltm", "sum"),
                revenue_prior_ltm=("revenue_prior_ltm", "sum"), platinum_gold=("top", "sum"))
           .reset_index())
    prior = out["revenue_prior_ltm"]
    out["growth"] = np.where(prior > 0, out["revenue_ltm"] / prior.where(prior > 0, 1.0) - 1.0, np.nan)
    out = out.sort_values(["revenue_ltm", "owner_id"], ascending=[False, True], kind="mergesort")
    return out[["owner_id", "clients", "revenue_ltm", "revenue_prior_ltm", "growth",
                "platinum_gold"]].reset_index(drop=True)


def tags_summary(clients: pd.DataFrame, client_rev: pd.DataFrame) -> pd.DataFrame:
    """Revenue by each value of each ``tag_*`` column of ``clients``.

    Parameters
    ----------
    clients : DataFrame
        Canonical ``clients`` (``client_id`` and any ``tag_*`` columns).
    client_rev : DataFrame
        Output of :func:`client_revenue` (``client_id``, ``revenue_ltm``; ``revenue_prior_ltm``
        optional for growth). Clients missing from ``clients`` or without a tag value count
        under ``"(missing)"``.

    Returns
    -------
    DataFrame
        ``tag`` (column name), ``value``, ``clients``, ``revenue_ltm``, ``revenue_share``
        (within the tag), ``growth`` (NaN when prior <= 0 or not given); sorted by tag, then
        revenue descending. Empty with these columns when there is no ``tag_*`` column.

    Examples
    --------
    >>> cl = pd.DataFrame({"client_id": ["a", "b"], "tag_risk": ["high", "low"]})
    >>> cr = pd.DataFrame({"client_id": ["a", "b"], "revenue_ltm": [3.0, 1.0]})
    >>> tags_summary(cl, cr)[["value", "revenue_share"]].to_dict("list")
    {'value': ['high', 'low'], 'revenue_share': [0.75, 0.25]}
    """
    _require(clients, ("client_id",), "clients")
    _require(client_rev, ("client_id", "revenue_ltm"), "client_rev")
    columns = ["tag", "value", "clients", "revenue_ltm", "revenue_share", "growth"]
    tags = sorted(c for c in clients.columns if str(c).startswith("tag_"))
    if not tags:
        return pd.DataFrame({c: pd.Series(dtype=float if c in ("revenue_ltm", "revenue_share", "growth")
                                          else ("int64" if c == "clients" else str)) for c in columns})
    cr = client_rev.copy()
    if "revenue_prior_ltm" not in cr.columns:
        cr["revenue_prior_ltm"] = np.nan
    merged = cr.merge(clients.drop_duplicates("client_id")[["client_id", *tags]], on="client_id",
                      how="left")
    parts = []
    for tag in tags:
        value = merged[tag].astype(object).where(merged[tag].notna(), MISSING).astype(str)
        g = (merged.assign(value=value).groupby("value")
             .agg(clients=("client_id", "size"), revenue_ltm=("revenue_ltm", "sum"),
                  prior=("revenue_prior_ltm", lambda s: s.sum(min_count=1)))
             .reset_index())
        total = g["revenue_ltm"].sum()
        g["revenue_share"] = g["revenue_ltm"] / total if total > 0 else np.nan
        prior = g["prior"]
        g["growth"] = np.where(prior > 0, g["revenue_ltm"] / prior.where(prior > 0, 1.0) - 1.0, np.nan)
        g.insert(0, "tag", tag)
        parts.append(g.sort_values(["revenue_ltm", "value"], ascending=[False, True], kind="mergesort"))
    out = pd.concat(parts, ignore_index=True)
    out["clients"] = out["clients"].astype("int64")
    return out[columns]


# --------------------------------------------------------------------------------------------
# headlines
# --------------------------------------------------------------------------------------------
def headline_sentences(client_rev: pd.DataFrame, conc: dict, window: HistoryWindow | None = None) -> list[str]:
    """Plain-language findings for leadership, computed from the data.

    Parameters
    ----------
    client_rev : DataFrame
        Output of :func:`client_revenue`.
    conc : dict
        Output of :func:`concentration` on ``client_rev["revenue_ltm"]``.
    window : HistoryWindow, optional
        From :func:`history_window`: the sentences name the window the data really cover, and
        leave out every comparison with the year before when the data hold none. Without it the
        windows are taken to be complete.

    Returns
    -------
    list of str
        Sentences on total revenue and growth, concentration, growers and decliners, and
        clients won and lost. Sentences whose figures are undefined are left out.

    Examples
    --------
    >>> cr = pd.DataFrame({"client_id": list("abcde"), "revenue_ltm": [80.0, 5, 5, 5, 5],
    ...                    "revenue_prior_ltm": [50.0, 5, 5, 5, 10]})
    >>> headline_sentences(cr, concentration(cr["revenue_ltm"]))[1]
    'The top 20% of clients bring 80% of revenue; the top 10% bring 40%.'
    >>> short = HistoryWindow(pd.Timestamp("2011-09-30"), pd.Timestamp("2010-12-01"), 10, 0)
    >>> headline_sentences(cr.assign(revenue_prior_ltm=0.0), concentration(cr["revenue_ltm"]), short)[0]
    'Revenue over the ten months of data (1 Dec 2010 to 30 Sep 2011) is 100.'
    """
    _require(client_rev, ("revenue_ltm", "revenue_prior_ltm"), "client_rev")
    for key in ("top_20pct_share", "top_decile_share", "clients_for_80pct_share", "n", "gini"):
        if key not in conc:
            raise ValueError(f"conc has no {key!r}; pass the output of concentration()")
    phrase = window.phrase if window is not None else "the last twelve months"
    before = window.prior_phrase if window is not None else "the twelve months before"
    has_prior = window.has_prior if window is not None else True
    ltm, prior = client_rev["revenue_ltm"], client_rev["revenue_prior_ltm"]
    total, total_prior = float(ltm.sum()), float(prior.sum())
    out = []
    if has_prior and total_prior > 0:
        change = total / total_prior - 1.0
        direction = "up" if change > 0 else ("down" if change < 0 else "level")
        tail = f", {direction} {pct(abs(change))} on {before}" if direction != "level" \
            else f", level with {before}"
        out.append(f"Revenue over {phrase} is {_fmt_money(total)}{tail}.")
    else:
        out.append(f"Revenue over {phrase} is {_fmt_money(total)}.")
    if conc["n"] and not np.isnan(conc["top_20pct_share"]):
        out.append(f"The top 20% of clients bring {pct(conc['top_20pct_share'])} of revenue; "
                   f"the top 10% bring {pct(conc['top_decile_share'])}.")
        k, n = int(conc["clients_for_80pct_share"]), int(conc["n"])
        out.append(f"{k:,} of {plural(n, 'paying client')} ({pct(k / n)}) make up 80% of revenue.")
    if not has_prior:
        return out
    change = ltm - prior
    both = (prior > 0) & (ltm > 0)
    growers, decliners = int(((change > 0) & both).sum()), int(((change < 0) & both).sum())
    if growers or decliners:
        out.append(f"Of the clients who bought in both periods, {growers:,} grew (adding "
                   f"{_fmt_money(change[(change > 0) & both].sum())}) and {decliners:,} declined "
                   f"(losing {_fmt_money(-change[(change < 0) & both].sum())}).")
    new = (prior <= 0) & (ltm > 0)
    lost = (prior > 0) & (ltm <= 0)
    if new.any() or lost.any():
        out.append(f"{plural(int(new.sum()), 'client')} bought in {phrase} but not in {before} "
                   f"({_fmt_money(ltm[new].sum())}); {int(lost.sum()):,} who bought in {before} "
                   f"bought nothing since (they had brought {_fmt_money(prior[lost].sum())}).")
    return out


# --------------------------------------------------------------------------------------------
# plots (return the Figure; no pyplot state, so nothing leaks between notebook cells)
# --------------------------------------------------------------------------------------------
def _pct_axis(axis) -> None:
    from matplotlib.ticker import PercentFormatter
    axis.set_major_formatter(PercentFormatter(1.0, decimals=0))


def _money_axis(axis) -> None:
    from matplotlib.ticker import FuncFormatter
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: _fmt_money(v)))


def plot_pareto(values, positive_only: bool = True) -> Figure:
    """Pareto (Lorenz) curve of revenue across clients, largest first.

    Parameters
    ----------
    values : array-like
        Revenue per client.
    positive_only : bool, default True
        As in :func:`concentration`.

    Returns
    -------
    Figure

    Examples
    --------
    >>> fig = plot_pareto([5.0, 1.0, 1.0])
    """
    curve = pareto_curve(values, positive_only)
    conc = concentration(values, positive_only)
    fig = Figure(figsize=(6.5, 4.5), layout="constrained")
    ax = fig.subplots()
    ax.plot(curve["client_share"], curve["revenue_share"], color="#1f4e79", lw=2,
            label="Our clients")
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="Every client equal")
    if conc["n"]:
        top20 = conc["top_20pct_share"]
        ax.axvline(0.2, color="#c55a11", lw=0.8)
        ax.annotate(f"Top 20% of clients: {pct(top20)} of revenue", (0.2, top20),
                    xytext=(0.3, max(top20 - 0.25, 0.1)), arrowprops={"arrowstyle": "->"})
    ax.set_xlabel("Share of clients (largest first)")
    ax.set_ylabel("Share of revenue")
    ax.set_title("How concentrated is revenue?")
    _pct_axis(ax.xaxis)
    _pct_axis(ax.yaxis)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.legend(loc="lower right")
    return fig


def plot_revenue_over_time(table: pd.DataFrame, by: str = "category") -> Figure:
    """Stacked bars of revenue per period, split by ``by``.

    Parameters
    ----------
    table : DataFrame
        Output of ``revenue_by(revenue, as_of, by="category", freq="Q", products=products)``:
        ``period``, the ``by`` column and ``revenue``.
    by : str, default "category"
        Column of ``table`` that splits the bars.

    Returns
    -------
    Figure

    Examples
    --------
    >>> t = pd.DataFrame({"period": ["2026Q2", "2026Q3"], "category": ["FX", "FX"], "revenue": [1.0, 2.0]})
    >>> fig = plot_revenue_over_time(t)
    """
    import seaborn as sns

    _require(table, ("period", by, "revenue"), "table")
    wide = table.pivot_table(index="period", columns=by, values="revenue", aggfunc="sum",
                             fill_value=0.0).sort_index()
    fig = Figure(figsize=(9, 4.5), layout="constrained")
    ax = fig.subplots()
    bottom = np.zeros(len(wide))
    palette = sns.color_palette("tab10", n_colors=max(wide.shape[1], 1))
    for i, column in enumerate(wide.columns):
        values = wide[column].to_numpy()
        ax.bar(wide.index.astype(str), values, bottom=bottom, label=str(column), color=palette[i % 10])
        bottom = bottom + values
    ax.set_xlabel("Quarter" if wide.index.astype(str).str.contains("Q").all() else "Period")
    ax.set_ylabel("Revenue")
    _money_axis(ax.yaxis)
    ax.set_title(f"Revenue by {by.replace('_', ' ')} over time")
    ax.tick_params(axis="x", rotation=45)
    ax.legend(title=by.replace("_", " ").capitalize(), bbox_to_anchor=(1.01, 1), loc="upper left")
    return fig


def plot_tiers(summary: pd.DataFrame, window: HistoryWindow | None = None) -> Figure:
    """Clients and revenue share per tier, side by side.

    Parameters
    ----------
    summary : DataFrame
        Output of :func:`tier_summary`.
    window : HistoryWindow, optional
        The window the revenue covers (:func:`history_window`), for the title.

    Returns
    -------
    Figure

    Examples
    --------
    >>> fig = plot_tiers(tier_summary(pd.DataFrame({"tier": ["Gold"], "revenue_ltm": [1.0]})))
    """
    _require(summary, ("tier", "clients", "revenue_share"), "summary")
    colours = {"Platinum": "#4b6584", "Gold": "#d4a017", "Silver": "#a6a6a6", "Bronze": "#a0522d"}
    fig = Figure(figsize=(9, 4), layout="constrained")
    left, right = fig.subplots(1, 2)
    tiers = summary["tier"].astype(str)
    colors = [colours.get(t, "#1f4e79") for t in tiers]
    left.bar(tiers, summary["clients"], color=colors)
    left.set_title("Clients per tier")
    left.set_ylabel("Clients")
    right.bar(tiers, summary["revenue_share"].fillna(0.0), color=colors)
    right.set_title(f"Share of revenue ({window.header if window is not None else 'last 12 months'})")
    right.set_ylabel("Share of revenue")
    _pct_axis(right.yaxis)
    for ax in (left, right):
        ax.set_xlabel("Tier")
    fig.suptitle("Clients and revenue by tier")
    return fig


def plot_segments(result: SegmentResult) -> Figure:
    """2-D picture of the behavioural segments (first two principal components).

    Parameters
    ----------
    result : SegmentResult
        Output of :func:`behavioural_segments`.

    Returns
    -------
    Figure

    Examples
    --------
    >>> f = pd.DataFrame({"frequency": [1, 1, 2, 40, 41, 42], "monetary": [5, 6, 5, 900, 950, 990]})
    >>> fig = plot_segments(behavioural_segments(f, k_range=[2]))
    """
    import seaborn as sns

    data = result.embedding.assign(segment=result.labels.reindex(result.embedding.index).to_numpy())
    fig = Figure(figsize=(8, 5.5), layout="constrained")
    ax = fig.subplots()
    order = list(result.profile.index)
    sns.scatterplot(data=data, x="pc1", y="pc2", hue="segment", hue_order=order, s=14,
                    alpha=0.7, linewidth=0, ax=ax)
    ax.set_xlabel("Main behavioural contrast")
    ax.set_ylabel("Second behavioural contrast")
    ax.set_title(f"{len(order)} behavioural segments of clients")
    ax.legend(title="Segment", bbox_to_anchor=(1.01, 1), loc="upper left", fontsize="small")
    return fig


def plot_migration(migration: pd.DataFrame) -> Figure:
    """Heatmap of clients moving between tiers (prior twelve months -> last twelve months).

    Parameters
    ----------
    migration : DataFrame
        Output of :func:`segment_migration`.

    Returns
    -------
    Figure

    Examples
    --------
    >>> m = pd.DataFrame({"from_tier": ["Gold"], "to_tier": ["Lost"], "clients": [3], "revenue": [0.0]})
    >>> fig = plot_migration(m)
    """
    import seaborn as sns

    _require(migration, ("from_tier", "to_tier", "clients"), "migration")
    wide = (migration.pivot_table(index="from_tier", columns="to_tier", values="clients",
                                  aggfunc="sum", fill_value=0)
            .reindex(index=[t for t in (*TIERS, NEW) if t in set(migration["from_tier"])],
                     columns=[t for t in (*TIERS, LOST) if t in set(migration["to_tier"])],
                     fill_value=0))
    fig = Figure(figsize=(7, 5), layout="constrained")
    ax = fig.subplots()
    sns.heatmap(wide, annot=True, fmt=",d", cmap="Blues", cbar_kws={"label": "Clients"}, ax=ax)
    ax.set_xlabel("Tier in the last twelve months")
    ax.set_ylabel("Tier in the twelve months before")
    ax.tick_params(axis="y", rotation=0)
    ax.set_title("How clients moved between tiers")
    return fig


def plot_cross_holding(matrix: pd.DataFrame, max_items: int = 20) -> Figure:
    """Heatmap of the share of holders of one category who also hold another.

    Parameters
    ----------
    matrix : DataFrame
        Output of :func:`cross_holding`.
    max_items : int, default 20
        At most this many items are drawn: those held by the most clients (``attrs["holders"]``;
        without it, those most often co-held). Olist has 67 categories: a 67 x 67 annotated
        heatmap took half a minute to draw and could not be read.

    Returns
    -------
    Figure

    Examples
    --------
    >>> m = pd.DataFrame([[1.0, 0.5], [1.0, 1.0]], index=["FX", "Rates"], columns=["FX", "Rates"])
    >>> fig = plot_cross_holding(m)
    """
    import seaborn as sns

    if not isinstance(matrix, pd.DataFrame):
        raise TypeError("matrix must be the DataFrame returned by cross_holding")
    n_items = len(matrix)
    if n_items > max_items:
        held = matrix.attrs.get("holders") or matrix.mean(axis=0).to_dict()
        keep = sorted(sorted(matrix.index, key=lambda i: (-held.get(i, 0), str(i)))[:max_items], key=str)
        matrix = matrix.loc[keep, keep]
    values = matrix.astype(float)
    # the diagonal is 100% by definition: blank it so the colours show the off-diagonal contrast
    diagonal = np.zeros(values.shape, dtype=bool)
    if values.shape[0] == values.shape[1]:
        np.fill_diagonal(diagonal, True)
    off = values.to_numpy()[~diagonal]
    vmax = float(np.nanmax(off)) if off.size and np.isfinite(off).any() else 1.0
    size = max(4.0, 0.8 * len(matrix) + 2)
    fig = Figure(figsize=(size + 1.5, size), layout="constrained")
    ax = fig.subplots()
    sns.heatmap(values, mask=diagonal, annot=True, fmt=".0%", cmap="Greens", vmin=0,
                vmax=max(vmax, 1e-9), cbar_kws={"label": "Share of holders"}, ax=ax)
    ax.tick_params(axis="y", rotation=0)
    ax.set_xlabel("...who also hold")
    ax.set_ylabel("Clients holding")
    ax.set_title("Cross-holding: who also buys what" + (f" (the {len(matrix)} most held of {n_items})"
                                                          if n_items > len(matrix) else ""))
    return fig
