"""Step 2: what we do (proactive touches), what clients do (digital), and what it gets us.

Proactive touches are counted and quality-weighted ("track it all but weight accordingly"), compared
with each client's value (coverage), and related to the client's later revenue with a within-client
design that survives the size confounding of cross-sectional correlations. Passive behaviour gives an
engagement score, "people also viewed" pairs and the top questions asked in search.

Every function is pure: DataFrames in, new DataFrame out; rows after ``as_of`` are ignored (a row
belongs to its calendar day, so a touch at 15:00 on ``as_of`` counts).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from . import features

__all__ = [
    "DEFAULT_WEIGHTS",
    "digital_engagement",
    "effects_out_of_time",
    "effects_windows",
    "leaving_check",
    "naive_correlation",
    "normalise_query",
    "people_also_viewed",
    "plot_coverage",
    "plot_effects",
    "plot_touches",
    "top_questions",
    "touch_coverage",
    "touch_effects",
    "touch_kinds",
    "touch_panel",
    "touch_summary",
    "touch_weights",
    "weights_table",
]

#: Quality weight of one touch by activity type and outcome ("*" = outcome missing or unlisted).
#: A touch that reached the person counts fully; one that did not (voicemail, unopened email,
#: no-show) counts little. These are judgement calls shown in the notebook, not estimates.
DEFAULT_WEIGHTS: dict[str, dict[str, float]] = {
    "meeting": {"attended": 1.0, "no_show": 0.1, "cancelled": 0.0, "*": 0.6},
    "event": {"attended": 0.8, "no_show": 0.05, "*": 0.4},
    "call": {"answered": 0.6, "unanswered": 0.05, "voicemail": 0.05, "*": 0.3},
    "email": {"replied": 0.5, "opened": 0.2, "unopened": 0.02, "bounced": 0.0, "*": 0.1},
    "document": {"opened": 0.3, "downloaded": 0.3, "unopened": 0.02, "*": 0.1},
    "other": {"*": 0.1},
}
_FALLBACK_WEIGHT = 0.1
_UNKNOWN = "unknown"


# -- checks -------------------------------------------------------------------------------------
def _check(df: pd.DataFrame, columns, table: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"table '{table}' must be a DataFrame, got {type(df).__name__}")
    for col in columns:
        if col not in df.columns:
            raise ValueError(f"column '{col}' is missing from table '{table}'")


def _table(activities, columns) -> features.EngineTable:
    """``activities`` (DataFrame or engine table) as an engine table with ``columns``."""
    t = features.as_table(activities, "activities")
    features.require(t, columns, "activities")
    return t


def touch_kinds(activities, weights: dict | None = None) -> pd.DataFrame:
    """The quality weight of every raw touch kind in ``activities``, for the engine's join.

    :func:`touch_weights` applied to the distinct raw ``activity_type`` and ``outcome`` pairs
    (a few dozen), so its rules stay in one place while the touches are counted in the engine.

    Parameters
    ----------
    activities : DataFrame or EngineTable
        Canonical ``activities``.
    weights : dict, optional
        Quality weights; see :func:`touch_weights`.

    Returns
    -------
    DataFrame
        ``raw_type``, ``raw_outcome`` (as stored, None when missing), ``activity_type``,
        ``outcome`` (normalised), ``weight``.

    Examples
    --------
    >>> a = pd.DataFrame({"activity_type": ["Call", "call", "call"], "outcome": ["answered", None, None]})
    >>> touch_kinds(a)[["raw_type", "activity_type", "outcome", "weight"]].values.tolist()
    [['Call', 'call', 'answered', 0.6], ['call', 'call', 'unknown', 0.3]]
    """
    pairs = features.touch_kind_pairs(activities)
    w = touch_weights(pairs, weights)
    return pd.DataFrame({"raw_type": pairs["activity_type"], "raw_outcome": pairs["outcome"],
                         "activity_type": w["activity_type"], "outcome": w["outcome"],
                         "weight": w["weight"].astype("float64")})


def _weighted(x: pd.Series) -> pd.Series:
    """Weighted-touch sums from the engine (weights such as 0.05 need more than six decimals)."""
    return features.settled(x, 9)


def _as_of(as_of) -> pd.Timestamp:
    if as_of is None:
        raise ValueError("as_of is required (a pandas Timestamp)")
    return pd.Timestamp(as_of).normalize()


def _upto(df: pd.DataFrame, col: str, as_of: pd.Timestamp, start: pd.Timestamp | None = None) -> pd.DataFrame:
    day = df[col].dt.normalize()
    keep = day <= as_of
    if start is not None:
        keep &= day > start
    return df.loc[keep]


def _outcome(df: pd.DataFrame) -> pd.Series:
    if "outcome" not in df.columns:
        return pd.Series(_UNKNOWN, index=df.index, dtype="str")
    out = df["outcome"].astype("str").str.strip().str.lower()
    return out.where(df["outcome"].notna() & (out != ""), _UNKNOWN)


# -- weighting ----------------------------------------------------------------------------------
def weights_table(weights: dict | None = None) -> pd.DataFrame:
    """The quality weights as a table for display.

    Parameters
    ----------
    weights : dict, optional
        ``{activity_type: {outcome: weight, "*": weight_if_outcome_unknown}}``; default
        :data:`DEFAULT_WEIGHTS`.

    Returns
    -------
    DataFrame
        ``activity_type``, ``outcome`` ("any other / missing" for ``"*"``), ``weight``.

    Examples
    --------
    >>> weights_table({"call": {"answered": 1.0, "*": 0.2}})
      activity_type              outcome  weight
    0          call             answered     1.0
    1          call  any other / missing     0.2
    """
    weights = DEFAULT_WEIGHTS if weights is None else weights
    rows = [(t, "any other / missing" if o == "*" else o, float(w))
            for t, d in weights.items() for o, w in d.items()]
    return pd.DataFrame(rows, columns=["activity_type", "outcome", "weight"])


def touch_weights(activities: pd.DataFrame, weights: dict | None = None) -> pd.DataFrame:
    """Activities with a quality ``weight`` column and a normalised ``outcome``.

    Parameters
    ----------
    activities : DataFrame
        Canonical ``activities`` (``activity_type``; ``outcome`` optional).
    weights : dict, optional
        ``{activity_type: {outcome: weight, "*": default}}``; default :data:`DEFAULT_WEIGHTS`.
        Types not listed weigh 0.1.

    Returns
    -------
    DataFrame
        A copy of ``activities`` with ``activity_type`` and ``outcome`` lower-cased (missing
        outcome -> ``"unknown"``) and ``weight`` (float).

    Examples
    --------
    >>> a = pd.DataFrame({"activity_type": ["call", "call", "email"],
    ...                   "outcome": ["answered", None, "unopened"]})
    >>> touch_weights(a)["weight"].tolist()
    [0.6, 0.3, 0.02]
    """
    _check(activities, ["activity_type"], "activities")
    weights = DEFAULT_WEIGHTS if weights is None else weights
    out = activities.copy()
    out["activity_type"] = out["activity_type"].astype("str").str.strip().str.lower()
    out["outcome"] = _outcome(out)
    lut = {(t, o): float(w) for t, d in weights.items() for o, w in d.items()}
    exact = pd.Series([lut.get(k) for k in zip(out["activity_type"], out["outcome"])], index=out.index,
                      dtype="float64")
    by_type = out["activity_type"].map({t: float(d.get("*", _FALLBACK_WEIGHT)) for t, d in weights.items()})
    out["weight"] = exact.fillna(by_type.astype("float64")).fillna(_FALLBACK_WEIGHT)
    return out


# -- proactive: counts and coverage ---------------------------------------------------------------
def touch_summary(activities: pd.DataFrame, as_of, by=("activity_type",), freq: str | None = None,
                  clients: pd.DataFrame | None = None, weights: dict | None = None,
                  months: int | None = None) -> pd.DataFrame:
    """Touches and quality-weighted touches by any grouping (person, client, tier, period...).

    Parameters
    ----------
    activities : DataFrame
        Canonical ``activities``.
    as_of : Timestamp
        Rows after this day are ignored.
    by : sequence of str
        Grouping columns: activities columns, ``clients`` columns (e.g. ``tier``), or ``period``.
    freq : str, optional
        Pandas period frequency (``"Q"``, ``"M"``) for a ``period`` column; required when ``by``
        holds ``"period"``.
    clients : DataFrame, optional
        ``client_id`` plus attributes to group by (e.g. the profile's ``tier``).
    weights : dict, optional
        Quality weights; see :func:`touch_weights`.
    months : int, optional
        Only the last ``months`` months up to ``as_of``.

    Returns
    -------
    DataFrame
        ``by`` columns, ``touches``, ``weighted_touches``, ``clients`` (distinct clients touched),
        sorted by ``by``.

    Examples
    --------
    >>> a = pd.DataFrame({"timestamp": pd.to_datetime(["2026-01-05", "2026-02-01", "2026-05-01"]),
    ...                   "client_id": ["a", "b", "a"], "activity_type": ["call"] * 3,
    ...                   "outcome": ["answered", "voicemail", "answered"]})
    >>> touch_summary(a, pd.Timestamp("2026-06-30"), by=["period"], freq="Q")
       period  touches  weighted_touches  clients
    0  2026Q1        2              0.65        2
    1  2026Q2        1              0.60        1
    """
    t = _table(activities, ["timestamp", "client_id", "activity_type"])
    as_of = _as_of(as_of)
    by = [by] if isinstance(by, str) else list(by)
    start = as_of - pd.DateOffset(months=months) if months else None
    if "period" in by and not freq:
        raise ValueError("column 'period' needs freq (e.g. 'Q')")
    own = set(t.columns) | {"outcome", "weight", "period"}
    join = None
    if clients is not None:
        _check(clients, ["client_id"], "clients")
        extra = [c for c in by if c not in own]
        for c in extra:
            if c not in clients.columns:
                raise ValueError(f"column '{c}' is in neither activities nor clients")
        join = (clients[["client_id", *extra]], "client_id")
    for c in by:
        if c not in own and (clients is None or c not in clients.columns):
            raise ValueError(f"column '{c}' is missing from table 'activities'")
    # counted where the table lives: the touches never reach pandas, only one row per group
    cid = f"a.{features.q('client_id')}"
    # grouped by client, a group holds one client (or none: missing ids): no costly distinct count
    clients = (f"CASE WHEN COUNT({cid}) > 0 THEN 1 ELSE 0 END" if "client_id" in by
               else f"COUNT(DISTINCT {cid})")
    out = features.touch_counts(t, by, where=features.window(as_of, start), kinds=touch_kinds(t, weights),
                                join=join, freq=freq,
                                measures={"touches": "COUNT(*)", "weighted_touches": "SUM(k.weight)",
                                          "clients": clients}, ordered=True)
    out["touches"] = out["touches"].astype("int64")
    out["weighted_touches"] = _weighted(out["weighted_touches"])
    out["clients"] = out["clients"].astype("int64")
    return out


def touch_coverage(activities: pd.DataFrame, profile: pd.DataFrame, as_of, weights: dict | None = None,
                   months: int = 12, under_reference: str = "Silver",
                   over_reference: str = "Gold") -> pd.DataFrame:
    """Effort against value per client: who among the top tiers is under-served, who in Bronze over-served.

    A Platinum or Gold client is *under-served* when its quality-weighted touches in the last
    ``months`` are below the median of the ``under_reference`` tier (it gets less attention than a
    typical lower-tier client); a Bronze client is *over-served* when its weighted touches exceed the
    median of the ``over_reference`` tier.

    Parameters
    ----------
    activities : DataFrame
        Canonical ``activities``.
    profile : DataFrame
        ``client_id``, ``tier``; ``revenue_ltm`` is carried along when present.
    as_of : Timestamp
        End of the window.
    weights : dict, optional
        Quality weights; see :func:`touch_weights`.
    months : int
        Window length.
    under_reference, over_reference : str
        Tiers whose median weighted touches are the thresholds.

    Returns
    -------
    DataFrame
        One row per profile client: ``client_id``, ``tier``, ``revenue_ltm``, ``touches``,
        ``weighted_touches``, ``tier_median``, ``threshold``, ``status`` (``under-served``,
        ``over-served`` or ``ok``), sorted by tier then weighted touches.

    Examples
    --------
    >>> a = pd.DataFrame({"timestamp": pd.to_datetime(["2026-03-01"] * 4), "client_id": ["s", "s", "b", "b"],
    ...                   "activity_type": ["meeting"] * 4, "outcome": ["attended"] * 4})
    >>> p = pd.DataFrame({"client_id": ["p", "g", "s", "b"], "tier": ["Platinum", "Gold", "Silver", "Bronze"]})
    >>> touch_coverage(a, p, pd.Timestamp("2026-06-30"))["status"].tolist()
    ['under-served', 'under-served', 'ok', 'over-served']
    """
    _check(profile, ["client_id", "tier"], "client_profile")
    as_of = _as_of(as_of)
    per = touch_summary(activities, as_of, by=["client_id"], weights=weights, months=months)
    cols = ["client_id", "tier"] + (["revenue_ltm"] if "revenue_ltm" in profile.columns else [])
    out = profile[cols].drop_duplicates("client_id").merge(per[["client_id", "touches", "weighted_touches"]],
                                                           on="client_id", how="left")
    if "revenue_ltm" not in out.columns:
        out["revenue_ltm"] = np.nan
    out["touches"] = out["touches"].fillna(0).astype("int64")
    out["weighted_touches"] = out["weighted_touches"].fillna(0.0)
    med = out.groupby("tier")["weighted_touches"].median()
    out["tier_median"] = out["tier"].map(med).astype("float64")
    under = float(med.get(under_reference, np.nan))
    over = float(med.get(over_reference, np.nan))
    top = out["tier"].isin(["Platinum", "Gold"])
    out["threshold"] = np.where(top, under, np.where(out["tier"] == "Bronze", over, np.nan))
    status = np.where(top & (out["weighted_touches"] < under), "under-served",
                      np.where((out["tier"] == "Bronze") & (out["weighted_touches"] > over), "over-served", "ok"))
    out["status"] = pd.Series(status, index=out.index, dtype="str")
    order = {t: i for i, t in enumerate(["Platinum", "Gold", "Silver", "Bronze"])}
    out = out.assign(_o=out["tier"].map(order)).sort_values(["_o", "weighted_touches", "client_id"],
                                                            kind="mergesort").drop(columns="_o")
    return out.reset_index(drop=True)[["client_id", "tier", "revenue_ltm", "touches", "weighted_touches",
                                       "tier_median", "threshold", "status"]]


# -- passive: engagement, co-views, questions ---------------------------------------------------
_EVENT_ALIASES = {
    "logins": ("login", "logon", "sign_in", "signin"),
    "page_views": ("page_view", "pageview", "view", "page"),
    "searches": ("search",),
    "downloads": ("download",),
}
_ENGAGEMENT_METRICS = ("logins", "sessions", "page_views", "searches", "downloads", "minutes")


def digital_engagement(digital: pd.DataFrame, as_of, window_days: int = 365,
                       clients=None) -> pd.DataFrame:
    """Per-client digital activity over the window and an engagement score (0-100).

    The score is the mean, over logins, sessions, page views, searches, downloads and minutes on
    site (those the source records), of the client's percentile rank among all clients (a measure at
    zero scores zero), so a client in the top of every measure scores near 100 and one with no
    digital activity scores 0.

    Parameters
    ----------
    digital : DataFrame
        Canonical ``digital`` (``event_type``; ``session_id``, ``duration_s`` optional).
    as_of : Timestamp
        End of the window.
    window_days : int
        Window length in days: rows with ``as_of - window_days < day <= as_of``.
    clients : iterable of str, optional
        Every client to score (those without digital activity get zeros); default: the clients
        seen in ``digital``.

    Returns
    -------
    DataFrame
        ``client_id``, ``engagement_score``, ``logins``, ``sessions``, ``page_views``, ``searches``,
        ``downloads``, ``minutes``, ``last_digital`` (last event ever up to ``as_of``).

    Examples
    --------
    >>> d = pd.DataFrame({"timestamp": pd.to_datetime(["2026-06-01", "2026-06-01", "2026-06-02"]),
    ...                   "client_id": ["a", "a", "b"], "event_type": ["login", "search", "login"]})
    >>> digital_engagement(d, pd.Timestamp("2026-06-30"), clients=["a", "b", "c"])["engagement_score"].round(1).tolist()
    [88.9, 55.6, 0.0]
    """
    as_of = _as_of(as_of)
    # counted where the table lives (DuckDB or Spark): the event rows never reach pandas
    counts = features.digital_counts(digital, as_of, window_days, {k: v for k, v in _EVENT_ALIASES.items()})
    counts = counts.set_index("client_id")
    ids = sorted(counts.index) if clients is None else sorted(set(map(str, clients)))
    out = pd.DataFrame({"client_id": pd.Series(ids, dtype="str")}).set_index("client_id")
    for name in _EVENT_ALIASES:
        out[name] = counts[name].reindex(out.index).fillna(0).astype("int64")
    # without session ids (or none in the window), each login opens a session
    sess = counts["sessions"] if counts["sessions"].fillna(0).gt(0).any() else counts["logins"]
    out["sessions"] = sess.reindex(out.index).fillna(0).astype("int64")
    out["minutes"] = counts["minutes"].reindex(out.index).fillna(0.0).astype("float64")
    last = counts["last_digital"]
    ranks = []
    for m in _ENGAGEMENT_METRICS:
        if not (out[m] > 0).any():
            continue  # a measure this source does not record (e.g. no durations) is left out
        r = out[m].rank(method="average", pct=True)
        ranks.append(r.where(out[m] > 0, 0.0))
    out["engagement_score"] = (100.0 * pd.concat(ranks, axis=1).mean(axis=1)) if ranks else 0.0
    out["last_digital"] = last.reindex(out.index).astype("datetime64[ns]")
    out = out.reset_index()
    return out[["client_id", "engagement_score", *_ENGAGEMENT_METRICS, "last_digital"]]


def people_also_viewed(digital: pd.DataFrame, as_of, item: str = "page",
                       event_types=("page_view", "pageview", "view", "download"), basket: str | None = None,
                       min_clients: int = 5, window_days: int | None = None) -> pd.DataFrame:
    """Item pairs viewed together, with support, confidence and lift.

    Views are grouped into baskets: a session (``session_id``) when the source has sessions, else
    everything a client viewed. For items A and B over N baskets: support = baskets(A and B) / N,
    confidence A->B = baskets(A and B) / baskets(A), lift = support / (share(A) x share(B)); lift
    above 1 means the pair is viewed together more than chance. (A self-join of baskets; an
    association-rule library would add nothing for pairs and is not installed.)

    Parameters
    ----------
    digital : DataFrame
        Canonical ``digital`` with column ``item``.
    as_of : Timestamp
        Rows after this day are ignored.
    item : str
        Column naming the item (``page`` or ``product_id``).
    event_types : sequence of str
        Event types that count as a view.
    basket : str, optional
        Column grouping views (``session_id`` or ``client_id``); default ``session_id`` when present.
    min_clients : int
        Pairs viewed together by fewer distinct clients are dropped.
    window_days : int, optional
        Only the last ``window_days`` days.

    Returns
    -------
    DataFrame
        ``item_a``, ``item_b`` (``item_a < item_b``), ``baskets_a``, ``baskets_b``, ``baskets_both``,
        ``clients_both``, ``support``, ``confidence_a_to_b``, ``confidence_b_to_a``, ``lift``; by
        lift, then ``baskets_both``, descending.

    Examples
    --------
    >>> d = pd.DataFrame({"timestamp": pd.to_datetime(["2026-01-01"] * 5), "event_type": ["page_view"] * 5,
    ...                   "client_id": ["a", "a", "b", "b", "c"], "page": ["x", "y", "x", "y", "z"]})
    >>> people_also_viewed(d, pd.Timestamp("2026-01-31"), min_clients=1)[["item_a", "item_b", "lift"]]
      item_a item_b  lift
    0      x      y   1.5
    """
    t = features.as_table(digital, "digital")
    features.require(t, ["timestamp", "client_id", "event_type", item])
    as_of = _as_of(as_of)
    if basket is None:
        has_sessions = "session_id" in t.columns and features.count_where(t, '"session_id" IS NOT NULL') > 0
        basket = "session_id" if has_sessions else "client_id"
    features.require(t, [basket])
    start = as_of - pd.Timedelta(days=window_days) if window_days else None
    cols = ["item_a", "item_b", "baskets_a", "baskets_b", "baskets_both", "clients_both", "support",
            "confidence_a_to_b", "confidence_b_to_a", "lift"]
    # the self-join of baskets runs in the engine; pandas gets the pairs
    out, per_item, n_all = features.view_pairs(t, as_of, item, [str(e).lower() for e in event_types], basket,
                                               start, min_clients)
    if n_all == 0:
        return pd.DataFrame(columns=cols)
    per_item = per_item.set_index("item")["baskets"]
    out["baskets_a"] = out["item_a"].map(per_item).astype("int64")
    out["baskets_b"] = out["item_b"].map(per_item).astype("int64")
    out["support"] = out["baskets_both"] / n_all
    out["confidence_a_to_b"] = out["baskets_both"] / out["baskets_a"]
    out["confidence_b_to_a"] = out["baskets_both"] / out["baskets_b"]
    out["lift"] = out["support"] / ((out["baskets_a"] / n_all) * (out["baskets_b"] / n_all))
    out = out.sort_values(["lift", "baskets_both", "item_a", "item_b"], ascending=[False, False, True, True],
                          kind="mergesort")
    return out.reset_index(drop=True)[cols]


_STOPWORDS = frozenset(["a", "an", "the", "of", "for", "to", "in", "on", "and", "or", "is", "are", "do", "does", "did", "my", "our", "your", "me", "i", "we", "you", "it", "its", "about", "with", "at", "by", "be", "can", "should", "please"])


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def normalise_query(query) -> str:
    """A search query's grouping key: case, punctuation, plurals, filler words and word order removed.

    Parameters
    ----------
    query : str
        Raw search text.

    Returns
    -------
    str
        Lower-case singular content words, sorted and joined by spaces ("" for an empty query).

    Examples
    --------
    >>> normalise_query("What is the Credit Outlook?")
    'credit outlook what'
    >>> normalise_query("outlook for credit, what is it")
    'credit outlook what'
    >>> normalise_query("FX hedging costs")
    'cost fx hedging'
    """
    if query is None or (not isinstance(query, str) and pd.isna(query)):
        return ""
    words = re.findall(r"[a-z0-9]+", str(query).lower())
    return " ".join(sorted({_singular(w) for w in words if w not in _STOPWORDS}))


def top_questions(digital: pd.DataFrame, as_of, freq: str = "Q", top: int = 10) -> pd.DataFrame:
    """The most asked search questions, variants grouped by :func:`normalise_query`, with their trend.

    Parameters
    ----------
    digital : DataFrame
        Canonical ``digital`` with ``search_query``.
    as_of : Timestamp
        Rows after this day are ignored; the last period is the one holding ``as_of``.
    freq : str
        Period for the trend (``"Q"`` quarter, ``"M"`` month).
    top : int
        How many questions to return (all when 0).

    Returns
    -------
    DataFrame
        ``rank``, ``question`` (the most frequent wording), ``key``, ``searches``, ``clients``,
        ``variants`` (distinct wordings), ``last_period``, ``previous_period`` (searches in the
        latest and the one before), ``change`` (last / previous - 1; NaN when previous is 0).

    Examples
    --------
    >>> d = pd.DataFrame({"timestamp": pd.to_datetime(["2026-05-01", "2026-08-01", "2026-08-02"]),
    ...                   "client_id": ["a", "b", "b"], "event_type": ["search"] * 3,
    ...                   "search_query": ["FX outlook", "fx outlook?", "Outlook FX"]})
    >>> top_questions(d, pd.Timestamp("2026-09-30"))[["question", "searches", "variants", "change"]]
         question  searches  variants  change
    0  FX outlook         3         3     1.0
    """
    t = features.as_table(digital, "digital")
    features.require(t, ["timestamp", "client_id", "search_query"])
    as_of = _as_of(as_of)
    cols = ["rank", "question", "key", "searches", "clients", "variants", "last_period", "previous_period",
            "change"]
    # distinct wordings come from the engine and are keyed here (the wording rules are Python);
    # the key lookup goes back to the engine, which counts searches, clients and periods per key
    raw = features.search_counts(t, as_of, None)
    raw["wording"] = raw["query"].str.strip()
    raw["key"] = raw["wording"].map(normalise_query)
    raw = raw.loc[raw["key"] != ""]
    if raw.empty:
        return pd.DataFrame(columns=cols)
    last_p = as_of.to_period(freq)
    prev_p = last_p - 1
    end = as_of + pd.Timedelta(days=1)
    periods = [("last_period", last_p.start_time, end), ("previous_period", prev_p.start_time, last_p.start_time)]
    wording = (raw.groupby(["key", "wording"])["n"].sum().rename("n").reset_index()
               .sort_values(["key", "n", "wording"], ascending=[True, False, True], kind="mergesort")
               .drop_duplicates("key").set_index("key")["wording"])
    out = features.search_counts(t, as_of, raw[["query", "wording", "key"]], periods).set_index("key")
    out["question"] = wording.reindex(out.index)
    prev = out["previous_period"].astype("float64")
    out["change"] = (out["last_period"] / prev.where(prev > 0)) - 1.0
    out = out.reset_index().sort_values(["searches", "key"], ascending=[False, True], kind="mergesort")
    if top:
        out = out.head(top)
    out["rank"] = np.arange(1, len(out) + 1)
    return out.reset_index(drop=True)[cols]


# -- effects on revenue ---------------------------------------------------------------------------
@dataclass(frozen=True)
class _Panel:
    """A client x period panel: regressor rows ``t`` (periods[t]) with the outcome in ``t + 1``.

    Both designs of the panel's end are held: rows up to the last complete period
    (``after_last_purchase=True``) and rows ending at the client's last purchase (``False``);
    :meth:`design` switches between them without recounting touches.
    """

    clients: np.ndarray  # (C,) client ids
    periods: list  # (T,) regressor periods; the outcome is the next one
    keys: list  # (K,) touch keys
    X_all: np.ndarray  # (C, T + 1, K) touches (or weighted touches) from the first purchase period to the last complete one
    counts_all: np.ndarray  # (C, T + 1, K) raw touch counts (the same array unless weighted)
    y: np.ndarray  # (C, T) next-period revenue / client's mean revenue per period while buying
    scale: np.ndarray  # (C,) client's mean revenue per period from its first to its last purchase (the unit of y)
    masks: dict  # design -> ((C, T) rows used, (C, T) rows whose lead period t + 2 is complete and used)
    last_buy: np.ndarray  # (C,) index of the client's last period with a purchase
    after_last_purchase: bool = True  # the design in force

    def design(self, after_last_purchase: bool) -> _Panel:
        """The same panel with the other end of each client's rows."""
        return replace(self, after_last_purchase=bool(after_last_purchase))

    @property
    def mask(self) -> np.ndarray:
        """(C, T) the row is used."""
        return self.masks[self.after_last_purchase][0]

    @property
    def lead_mask(self) -> np.ndarray:
        """(C, T) rows of the placebo regression (their lead period is complete and used)."""
        return self.masks[self.after_last_purchase][1]

    @property
    def X(self) -> np.ndarray:
        """(C, T, K) touches in the regressor period, zero outside the rows used."""
        return self.X_all[:, :-1] * self.mask[:, :, None]

    @property
    def touches(self) -> np.ndarray:
        """(K,) raw touch counts in the rows used."""
        return (self.counts_all[:, :-1] * self.mask[:, :, None]).sum(axis=(0, 1)).round().astype("int64")

    @property
    def same(self) -> np.ndarray:
        """(C, T, K) touches in the outcome's own period (t + 1)."""
        return self.X_all[:, 1:]

    @property
    def lead(self) -> np.ndarray:
        """(C, T, K) touches in the period after the outcome's (t + 2): the placebo regressors."""
        out = np.zeros(self.X_all[:, :-1].shape)
        out[:, :-1] = self.X_all[:, 2:]
        return out

    @property
    def used(self) -> np.ndarray:
        """(C,) the client has a row in this design."""
        return self.mask.any(axis=1)


def _key_frame(a: pd.DataFrame, key) -> pd.Series:
    key = [key] if isinstance(key, str) else list(key)
    for c in key:
        if c not in a.columns:
            raise ValueError(f"column '{c}' is missing from table 'activities'")
    s = a[key[0]].astype("str").fillna(_UNKNOWN)
    for c in key[1:]:
        s = s + "/" + a[c].astype("str").fillna(_UNKNOWN)
    return s


def _build_panel(activities, revenue, as_of, key=("activity_type", "outcome"), weights=None,
                 weighted=False, freq="Q", start=None, clients=None, min_touches=30, join=None,
                 after_last_purchase: bool = True) -> _Panel:
    """Client x period panel from each client's first purchase to the last complete period.

    A client enters the panel with its first period with a purchase (before it, touches and
    revenue of a client not yet won would make any touch look effective). With
    ``after_last_purchase`` (the default) the periods after its last purchase are kept: dropping
    them selects on the outcome, since a client who stopped buying despite the touches leaves the
    panel exactly where a touch that prevents churn shows its effect. With ``False`` the rows end
    at the last purchase (a lapsed client also loses that last, partial, period as an outcome): the
    design to use when our touching follows the client's leaving (:func:`leaving_check`). Both
    designs are held (:meth:`_Panel.design`); ``after_last_purchase`` picks the one in force and
    the rows on which ``min_touches`` is counted.
    Touches are counted per client, period and kind in the engine (``join``: a frame and key
    whose columns may name the kind, see ``features.touch_counts``), through the last complete
    period, so that the placebo regressors (touches in the period after the outcome's) exist.
    """
    acts = _table(activities, ["timestamp", "client_id", "activity_type"])
    _check(revenue, ["date", "client_id", "amount"], "revenue")
    freq = features.check_freq(freq)
    as_of = _as_of(as_of)
    last = as_of.to_period(freq)
    if (last + 1).start_time.normalize() - pd.Timedelta(days=1) > as_of:
        last = last - 1  # only complete periods carry an outcome
    # revenue per client and period on plain arrays: the revenue table can hold tens of millions of
    # lines, and a filtered copy plus a pivot of it cost several times its size in memory
    dates = revenue["date"]
    upto = (dates < as_of + pd.Timedelta(days=1)).to_numpy()
    first = dates[upto].min().to_period(freq) if upto.any() else last
    if start is not None:
        first = max(first, pd.Timestamp(start).to_period(freq))
    periods = pd.period_range(first, last, freq=freq)
    if len(periods) < 3:
        raise ValueError(f"column 'date' of table 'revenue' spans {len(periods)} complete periods up to "
                         f"as_of; at least 3 are needed")
    T_all = len(periods)
    year = dates.dt.year.to_numpy(dtype="float64")
    within = {"Q": (4, dates.dt.quarter), "M": (12, dates.dt.month)}.get(freq)
    linear = year if within is None else year * within[0] + within[1].to_numpy(dtype="float64") - 1
    first_linear = first.year if within is None else first.year * within[0] + (
        first.quarter if freq == "Q" else first.month) - 1
    ti = linear - first_linear
    sel = upto & (ti >= 0) & (ti < T_all)
    codes, ids = pd.factorize(revenue["client_id"].to_numpy()[sel])
    ti = ti[sel].astype("int64")
    amount = revenue["amount"].to_numpy(dtype="float64")[sel]
    ids = np.asarray(ids, dtype=str)
    if clients is not None:
        wanted = np.isin(ids, np.asarray(list(map(str, clients)), dtype=str))
        keep_code = np.full(len(ids), -1)
        keep_code[wanted] = np.arange(int(wanted.sum()))
        ids = ids[wanted]
        codes = np.where(codes >= 0, keep_code[np.maximum(codes, 0)], -1)
    order = np.argsort(ids, kind="mergesort")
    rank = np.empty(len(ids), dtype="int64")
    rank[order] = np.arange(len(ids))
    ok_row = codes >= 0
    cell = rank[codes[ok_row]] * T_all + ti[ok_row]
    n_cells = len(ids) * T_all
    vals = np.bincount(cell, weights=amount[ok_row], minlength=n_cells).reshape(len(ids), T_all)
    bought = np.bincount(cell, weights=(amount[ok_row] > 0), minlength=n_cells).reshape(len(ids), T_all) > 0
    R = pd.DataFrame(vals, index=pd.Index(ids[order], name="client_id"), columns=periods)
    any_buy = bought.any(axis=1)
    first_i = np.where(any_buy, bought.argmax(axis=1), T_all)
    last_i = np.where(any_buy, T_all - 1 - bought[:, ::-1].argmax(axis=1), -1)
    span = (np.arange(T_all)[None, :] >= first_i[:, None]) & (np.arange(T_all)[None, :] <= last_i[:, None])
    vals = R.to_numpy()
    # the unit of the outcome: the client's mean revenue per period while it was buying
    scale = np.where(span.any(axis=1), (vals * span).sum(axis=1) / np.maximum(span.sum(axis=1), 1), 0.0)
    t = np.arange(T_all - 1)[None, :]
    ends = {True: np.where(any_buy, T_all - 1, -1),  # every complete period after the first purchase
            False: np.where(last_i == T_all - 1, last_i, last_i - 1)}  # a lapsed client's last period is partial
    masks = {d: (t >= first_i[:, None]) & (t + 1 <= e[:, None]) for d, e in ends.items()}
    ok = (scale > 0) & masks[True].any(axis=1)
    R, vals, scale = R.loc[ok], vals[ok], scale[ok]
    first_i, last_i = first_i[ok], last_i[ok]
    masks = {d: (m[ok], m[ok] & (t + 2 <= T_all - 1) & (t + 2 <= ends[d][ok][:, None] + 1)) for d, m in masks.items()}
    kc = [key] if isinstance(key, str) else list(key)
    # touches per client, period and kind from the first purchase period to the last complete one
    # (the placebo needs the period after each outcome's), counted in the engine and returned as
    # integer cells of the panel (its long form has a row per non-empty cell: tens of millions at scale)
    span_clients = pd.DataFrame({"client_id": R.index.astype(str), "ci": np.arange(len(R)),
                                 "t_lo": first_i, "t_hi": np.full(len(R), T_all - 1)})
    cells, all_keys = features.touch_cells(acts, kc, span_clients, periods[0], where=features.window(as_of),
                                           kinds=touch_kinds(acts, weights), join=join)
    ci_, ti_ = cells["ci"].to_numpy(), cells["ti"].to_numpy()
    in_rows = np.zeros(len(cells), bool)
    reg = ti_ < T_all - 1
    in_rows[reg] = masks[bool(after_last_purchase)][0][ci_[reg], ti_[reg]]
    per_key = np.bincount(cells["ki"].to_numpy()[in_rows], weights=cells["touches"].to_numpy(float)[in_rows],
                          minlength=len(all_keys)).round().astype("int64")
    kept = np.flatnonzero(per_key >= min_touches)
    keys = [all_keys[i] for i in kept]
    new_k = np.full(len(all_keys), -1)
    new_k[kept] = np.arange(len(kept))
    cells = cells.loc[new_k[cells["ki"].to_numpy()] >= 0]
    at = (cells["ci"].to_numpy(), cells["ti"].to_numpy(), new_k[cells["ki"].to_numpy()])
    counts_all = np.zeros((len(R), T_all, len(keys)))
    # each cell comes once from the engine's GROUP BY: plain assignment, no accumulation needed
    counts_all[at] = cells["touches"].to_numpy(float)
    if weighted:
        X_all = np.zeros_like(counts_all)
        X_all[at] = _weighted(cells["weighted"]).to_numpy()
    else:
        X_all = counts_all
    y = vals[:, 1:] / scale[:, None]
    return _Panel(clients=R.index.to_numpy(dtype=object), periods=list(periods[:-1]), keys=keys, X_all=X_all,
                  counts_all=counts_all, y=y, scale=scale, masks=masks, last_buy=last_i,
                  after_last_purchase=bool(after_last_purchase))


def touch_panel(activities: pd.DataFrame, revenue: pd.DataFrame, as_of, key=("activity_type", "outcome"),
                freq: str = "Q", min_touches: int = 30, after_last_purchase=True) -> pd.DataFrame:
    """The client x period panel behind :func:`touch_effects`, in long form.

    Each client's rows run from its first period with a purchase to the last complete period
    (``after_last_purchase=True``) or to its last purchase (``False``: a client whose purchases
    stop early also loses that last, partial, period as an outcome); see :func:`leaving_check`.

    Parameters
    ----------
    activities, revenue : DataFrame
        Canonical tables.
    as_of : Timestamp
        Only complete periods up to ``as_of`` are used.
    key : sequence of str
        Activity columns that name a touch kind (joined with ``/``).
    freq : str
        Period length (``"Q"``).
    min_touches : int
        Touch kinds with fewer touches are left out.
    after_last_purchase : bool
        Where each client's rows end (above).

    Returns
    -------
    DataFrame
        ``client_id``, ``period``, ``scale`` (client's mean revenue per active period), ``outcome``
        (next period's revenue / scale) and one column of touch counts per touch kind.

    Examples
    --------
    >>> r = pd.DataFrame({"date": pd.to_datetime(["2026-01-10", "2026-04-10", "2026-07-10"]),
    ...                   "client_id": "a", "amount": [100.0, 200.0, 300.0]})
    >>> t = pd.DataFrame({"timestamp": pd.to_datetime(["2026-02-01"]), "client_id": ["a"],
    ...                   "activity_type": ["call"], "outcome": ["answered"]})
    >>> touch_panel(t, r, pd.Timestamp("2026-09-30"), min_touches=1)["outcome"].tolist()
    [1.0, 1.5]
    """
    p = _build_panel(activities, revenue, as_of, key=key, freq=freq, min_touches=min_touches,
                     after_last_purchase=bool(after_last_purchase))
    C, T, _ = p.X.shape
    out = pd.DataFrame({"client_id": np.repeat(p.clients, T).astype(str),
                        "period": np.tile(np.asarray(p.periods, dtype=object), C).astype(str),
                        "scale": np.repeat(p.scale, T), "outcome": p.y.ravel()})
    for k, name in enumerate(p.keys):
        out[name] = p.X[:, :, k].ravel()
    return out.loc[p.mask.ravel()].reset_index(drop=True)


def _within(Z: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Demean ``Z`` (C, T, ...) within client over the active rows ``m`` (C, T); inactive rows -> 0."""
    mm = m.reshape(m.shape + (1,) * (Z.ndim - 2)).astype("float64")
    n = np.maximum(m.sum(axis=1), 1).reshape((-1,) + (1,) * (Z.ndim - 1))
    return (Z - (Z * mm).sum(axis=1, keepdims=True) / n) * mm


def _period_dummies(C: int, T: int) -> np.ndarray:
    D = np.zeros((T, T - 1))
    D[1:] = np.eye(T - 1)
    return np.broadcast_to(D, (C, T, T - 1))


def _fe_fit(X: np.ndarray, y: np.ndarray, mask: np.ndarray, n_boot: int, rng, alpha: float, chunk: int = 4000):
    """Two-way fixed effects OLS on an unbalanced panel with a client-cluster (Poisson) bootstrap.

    Client effects are removed by demeaning within client over its active rows; period effects by
    period dummies, demeaned the same way (Frisch-Waugh-Lovell). Per-client sufficient statistics
    make each bootstrap draw a weighted sum: every client enters a draw a Poisson(1) number of
    times (the Poisson bootstrap, which needs no global resampling and streams over clients).
    Hand-written because refitting a library model per draw is ~100x slower and statsmodels is not
    installed. Returns the estimates, the percentile interval and the bootstrap standard error
    (the spread of the draws; NaN without draws).
    """
    C, T, K = X.shape
    keep = mask.sum(axis=1) >= 2
    X, y, mask = X[keep], y[keep], mask[keep]
    C = len(X)
    Z = np.concatenate([X, _period_dummies(C, T)], axis=2)
    p = Z.shape[2]
    Zc = _within(Z, mask)
    yc = _within(y, mask)

    def solve(A, b):
        ridge = 1e-12 * np.trace(A, axis1=-2, axis2=-1)[..., None, None] / p * np.eye(p)
        return np.linalg.solve(A + ridge, b[..., None])[..., 0][..., :K]

    A = np.einsum("ctk,ctl->kl", Zc, Zc)
    b = np.einsum("ctk,ct->k", Zc, yc)
    beta = solve(A, b)
    if not (n_boot and n_boot > 1) or C < 2:
        return beta, np.full(K, np.nan), np.full(K, np.nan), np.full(K, np.nan)
    Ab = np.zeros((n_boot, p * p))
    bb = np.zeros((n_boot, p))
    for lo in range(0, C, chunk):  # chunks keep memory flat for large portfolios
        Zs, ys = Zc[lo:lo + chunk], yc[lo:lo + chunk]
        W = rng.poisson(1.0, size=(n_boot, len(Zs))).astype("float64")
        Ab += W @ np.einsum("ctk,ctl->ckl", Zs, Zs).reshape(len(Zs), p * p)
        bb += W @ np.einsum("ctk,ct->ck", Zs, ys)
    bs = solve(Ab.reshape(n_boot, p, p), bb)
    lo_, hi_ = np.quantile(bs, [alpha / 2, 1 - alpha / 2], axis=0)
    return beta, lo_, hi_, bs.std(axis=0, ddof=1)


def _fe_fit_robust(X: np.ndarray, y: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two-way fixed effects fit of :func:`_fe_fit` with a cluster-robust standard error instead of a bootstrap.

    The sandwich of Liang and Zeger (clusters = clients): with the within-transformed regressors
    ``Z`` and residuals ``e``, ``V = G / (G - 1) * A^-1 (sum over clients of s_c s_c') A^-1``,
    ``A = Z'Z`` and ``s_c`` the client's score ``Z_c' e_c``. It needs one pass over the clients
    where a bootstrap needs one per draw, so the checks that only need a standard error (the
    placebo, the leaving check) stay cheap on a large book. Written out because statsmodels is not
    installed; it is the ``cov_type="cluster"`` of its OLS.
    """
    C, T, K = X.shape
    keep = mask.sum(axis=1) >= 2
    X, y, mask = X[keep], y[keep], mask[keep]
    C = len(X)
    if C == 0:
        return np.full(K, np.nan), np.full(K, np.nan)
    Z = np.concatenate([X, _period_dummies(C, T)], axis=2)
    Zc = _within(Z, mask)
    yc = _within(y, mask)
    A = np.einsum("ctk,ctl->kl", Zc, Zc)
    # A regressor without variation within clients (a kind of touch every client gets in the same
    # quarters only, or none at all) is not identified: the pseudo-inverse keeps the others' fit
    # and that regressor gets no estimate (NaN), instead of a singular-matrix error.
    scale = max(float(np.trace(A)) / max(A.shape[0], 1), np.finfo(float).tiny)
    free = np.diag(A) > 1e-10 * scale
    A_inv = np.linalg.pinv(A, rcond=1e-10, hermitian=True)
    beta = A_inv @ np.einsum("ctk,ct->k", Zc, yc)
    beta = np.where(free, beta, np.nan)
    if C < 2:
        return beta[:K], np.full(K, np.nan)
    e = (yc - Zc @ np.nan_to_num(beta)) * mask
    score = np.einsum("ctk,ct->ck", Zc, e)
    V = C / (C - 1) * A_inv @ (score.T @ score) @ A_inv
    se = np.where(free, np.sqrt(np.maximum(np.diag(V), 0.0)), np.nan)
    return beta[:K], se[:K]


def _fe_resid_sse(v: np.ndarray, mask: np.ndarray) -> float:
    """Sum of squares of ``v`` (C, T) left after client and period fixed effects on the active rows."""
    C, T = v.shape
    Dc = _within(_period_dummies(C, T), mask)
    vc = _within(v, mask)
    A = np.einsum("ctk,ctl->kl", Dc, Dc)
    g = np.linalg.lstsq(A, np.einsum("ctk,ct->k", Dc, vc), rcond=None)[0]
    r = (vc - Dc @ g) * mask
    return float((r ** 2).sum())


def _split_key(keys, names):
    """Key columns from "type/outcome" keys, typed as text even when there are no keys (an empty
    float column would not merge with the text columns of another result)."""
    parts = [k.split("/") for k in keys]
    return {n: pd.Series([p[i] if i < len(p) else _UNKNOWN for p in parts], dtype="str") for i, n in enumerate(names)}


def _segment_map(segments) -> pd.Series | None:
    if segments is None:
        return None
    if isinstance(segments, pd.DataFrame):
        _check(segments, ["client_id", "segment"], "segments")
        return segments.drop_duplicates("client_id").set_index("client_id")["segment"]
    return pd.Series(segments)


def leaving_check(activities, revenue, as_of, key=("activity_type", "outcome"), freq: str = "Q", n_boot: int = 200,
                  alpha: float = 0.05, min_touches: int = 30, random_state: int = 0, panel=None) -> dict:
    """Does our touching follow the client's leaving? Decides where each client's rows end.

    Keeping the periods after a client's last purchase lets the within-client design see a touch
    that stops a client from leaving (the better design), but only if the touches there are not
    themselves a reaction to the leaving: when we stop calling clients who have left, "few touches,
    no revenue" in those periods makes every touch kind look effective. The check is a placebo
    on the periods the keeping adds: in the regression of revenue on this period's and the
    outcome period's touches of every kind, all touches of the period *after* the outcome (summed
    over kinds) are added; their coefficient must be zero when touches do not follow revenue. It is
    estimated with the periods after the last purchase kept and with them left out; when keeping
    them raises it (one-sided z-test of the difference at ``alpha``, the two estimates'
    cluster-robust standard errors combined as if independent, which is conservative), our
    touching follows the clients' leaving there, and the rows end at each client's last purchase.

    Parameters
    ----------
    activities, revenue : DataFrame
        Canonical tables.
    as_of : Timestamp
        End of the history.
    key, freq, alpha, min_touches
        As in :func:`touch_effects`.
    n_boot, random_state
        Not used (the standard errors are cluster-robust); kept for the callers' symmetry.
    panel : optional
        A panel already built (internal).

    Returns
    -------
    dict
        ``lead_kept``, ``se_kept``, ``lead_dropped``, ``se_dropped`` (the summed lead's coefficient
        in each design), ``difference``, ``z``, ``p_value``, ``touches_follow_leaving`` (bool),
        ``after_last_purchase`` (the design to use: ``not touches_follow_leaving``),
        ``lapsed_clients`` (clients with periods after their last purchase) and
        ``touch_rate_after_vs_before`` (their touches per period after their last purchase over
        those before it, from their first purchase; NaN without lapsed clients).

    Examples
    --------
    >>> chk = leaving_check(acts, rev, pd.Timestamp("2026-09-30"))  # doctest: +SKIP
    >>> chk["after_last_purchase"]  # doctest: +SKIP
    """
    from scipy import stats

    p = panel if panel is not None else _build_panel(activities, revenue, as_of, key=key, freq=freq,
                                                     min_touches=min_touches)
    res = {}
    for design in (True, False):
        d = p.design(design)
        Z = np.concatenate([d.X, d.same, d.lead.sum(axis=2, keepdims=True)], axis=2)
        b, se = _fe_fit_robust(Z, d.y, d.lead_mask)
        res[design] = (float(b[-1]), float(se[-1]))
    diff = res[True][0] - res[False][0]
    se = float(np.hypot(res[True][1], res[False][1]))
    z = diff / se if se > 0 else float("nan")
    pv = float(stats.norm.sf(z)) if se > 0 else float("nan")
    follows = bool(pv < alpha) if se > 0 else False
    # descriptive: touches per period of lapsed clients after their last purchase against before
    t = np.arange(p.X_all.shape[1])[None, :]
    first = np.argmax(p.masks[True][0], axis=1)
    before = (t >= first[:, None]) & (t <= p.last_buy[:, None])
    after = t > p.last_buy[:, None]
    lapsed = after.any(axis=1) & p.masks[True][0].any(axis=1)
    total = p.counts_all.sum(axis=2)
    rate_after = (total * after)[lapsed].sum() / max(after[lapsed].sum(), 1)
    rate_before = (total * before)[lapsed].sum() / max(before[lapsed].sum(), 1)
    return {"lead_kept": res[True][0], "se_kept": res[True][1], "lead_dropped": res[False][0],
            "se_dropped": res[False][1], "difference": diff, "z": z, "p_value": pv,
            "touches_follow_leaving": follows, "after_last_purchase": not follows,
            "lapsed_clients": int(lapsed.sum()),
            "touch_rate_after_vs_before": float(rate_after / rate_before) if lapsed.any() and rate_before > 0
            else float("nan")}


def touch_effects(activities: pd.DataFrame, revenue: pd.DataFrame, as_of, segments=None,
                  key=("activity_type", "outcome"), freq: str = "Q", n_boot: int = 200, alpha: float = 0.05,
                  min_touches: int = 30, min_clients: int = 100, start=None, weighted: bool = False,
                  weights: dict | None = None, placebo: bool = True, after_last_purchase="auto",
                  random_state: int = 0) -> pd.DataFrame:
    """Effect of one touch on the client's revenue in the next period, within client (two-way fixed effects).

    Panel: client x period (quarter), from the client's first purchase to the last complete period
    (the periods after its last purchase are kept: dropping them would select on the outcome and
    hide exactly the effect of a touch that prevents churn). Outcome: the client's revenue in the
    *next* period divided by the client's mean revenue per period while it was buying, so an
    effect of 0.10 means "one such touch is followed by 10% of a typical quarter's revenue for
    that client". Regressors: counts of each touch kind in the period. Client fixed effects remove
    size (big clients get more touches *and* buy more); period fixed effects remove seasonality and
    trends. Confidence intervals: percentile bootstrap resampling whole clients (serial
    correlation within a client stays intact).

    **Many tests at once.** Every row (touch kind x segment) is a test of "no effect". Its p-value
    is two-sided from the normal approximation ``effect / bootstrap standard error``, and the
    ``significant`` flag is the Benjamini-Hochberg adjustment of all rows' p-values together
    (false discovery rate ``alpha``: among the kinds flagged, at most a share ``alpha`` are
    expected to be flukes). The intervals are the unadjusted ``1 - alpha`` intervals.

    **Placebo (lead) check.** Client fixed effects do not remove reverse causality: if people
    touch clients who are about to buy (or who just bought), touches and next quarter's revenue
    move together without touches causing anything. The check adds, for every kind, the touches
    of the period *after* the outcome's period to the regression (Wooldridge's test of strict
    exogeneity, *Econometric Analysis of Cross Section and Panel Data*, 2010, 10.7.1): touches that
    come later cannot have caused the revenue, so their coefficient (``lead_effect``) must be zero;
    the outcome period's own touches are in the regression too (they may lift that period's
    revenue; left out, they would bias the lead through the client means). Its standard error is
    cluster-robust by client (:func:`_fe_fit_robust`). A kind whose lead coefficient differs from
    zero (Benjamini-Hochberg over all rows at ``alpha``) is flagged (``lead_flag``): its effect is
    not credible as an effect of touching.

    Parameters
    ----------
    activities, revenue : DataFrame
        Canonical tables.
    as_of : Timestamp
        Rows after it are ignored; only complete periods carry an outcome.
    segments : DataFrame or Series, optional
        ``client_id`` -> ``segment``; effects are also estimated within each segment that has at
        least ``min_clients`` clients.
    key : sequence of str
        Activity columns naming a touch kind.
    freq : str
        Period length.
    n_boot : int
        Bootstrap draws (0 = no intervals, no p-values, nothing flagged).
    alpha : float
        1 - confidence level of the intervals, and the false discovery rate of both flags.
    min_touches : int
        Touch kinds with fewer touches in the panel are not estimated.
    min_clients : int
        Smallest segment estimated.
    start : Timestamp, optional
        First period used (default: the first with revenue).
    weighted : bool
        Count quality-weighted touches instead of touches.
    weights : dict, optional
        Quality weights when ``weighted``.
    placebo : bool
        Run the lead check (adds the ``lead_*`` columns).
    after_last_purchase : bool or "auto"
        Keep the periods after each client's last purchase (``True``), end each client's rows at
        its last purchase (``False``), or let :func:`leaving_check` decide (``"auto"``, the
        default: kept unless our touching follows the clients' leaving there).
    random_state : int
        Seed of the bootstrap.

    Returns
    -------
    DataFrame
        ``activity_type``, ``outcome``, ``segment`` ("all" for the portfolio), ``effect``, ``ci_low``,
        ``ci_high``, ``n`` (touches of that kind in the estimation panel), ``clients``, ``effect_money``
        (effect x the median client's mean revenue per period), ``se`` (bootstrap standard error),
        ``p_value``, ``p_adjusted``
        (Benjamini-Hochberg over every row), ``significant`` (``p_adjusted < alpha``); with
        ``placebo`` also ``lead_effect``, ``lead_ci_low``, ``lead_ci_high``, ``lead_p_adjusted`` and
        ``lead_flag`` (the touches of the following period "explain" this revenue: reverse causality).
        With ``"auto"``, ``attrs["panel_end"]`` holds the :func:`leaving_check` that decided.

    Examples
    --------
    >>> eff = touch_effects(acts, rev, pd.Timestamp("2026-09-30"))  # doctest: +SKIP
    >>> eff.sort_values("effect", ascending=False).head(3)  # doctest: +SKIP
    """
    from scipy import stats

    rng = np.random.default_rng(random_state)
    p = _build_panel(activities, revenue, as_of, key=key, weights=weights, weighted=weighted, freq=freq,
                     start=start, min_touches=min_touches, after_last_purchase=after_last_purchase is not False)
    chk = None
    if after_last_purchase == "auto":
        chk = leaving_check(activities, revenue, as_of, alpha=alpha, panel=p)
        p = p.design(chk["after_last_purchase"])
    seg = _segment_map(segments)
    groups = [("all", np.ones(len(p.clients), bool))]
    if seg is not None:
        s = pd.Series(p.clients).map(seg)
        for name in sorted(s.dropna().astype(str).unique()):
            sel = (s.astype("str") == name).to_numpy()
            if sel.sum() >= min_clients:
                groups.append((name, sel))
    names = [key] if isinstance(key, str) else list(key)
    rows = []
    median_scale = float(np.median(p.scale[p.used])) if p.used.any() else np.nan
    for name, sel in groups:
        X, y, m = p.X[sel], p.y[sel], p.mask[sel]
        present = X.sum(axis=(0, 1)) >= (min_touches if name == "all" else max(10, min_touches // 3))
        if not present.any():
            continue
        Xp = X[:, :, present]
        beta, lo, hi, se = _fe_fit(Xp, y, m, n_boot, rng, alpha)
        ks = [k for k, keep in zip(p.keys, present) if keep]
        part = pd.DataFrame(_split_key(ks, names))
        part["segment"] = name
        part["effect"], part["ci_low"], part["ci_high"] = beta, lo, hi
        part["n"] = (p.counts_all[sel][:, :-1] * m[:, :, None]).sum(axis=(0, 1))[present].round().astype("int64")
        part["clients"] = int(sel.sum())
        part["effect_money"] = beta * median_scale
        part["se"] = se
        part["p_value"] = _two_sided_p(beta, se)
        if placebo:
            k = int(present.sum())
            # touches of the outcome's own period are held fixed too: they may lift that period's
            # revenue, and left out they would bias the lead downwards through the client means
            Z = np.concatenate([Xp, p.same[sel][:, :, present], p.lead[sel][:, :, present]], axis=2)
            lb, lse = _fe_fit_robust(Z, y, p.lead_mask[sel])
            z_ci = stats.norm.isf(alpha / 2)
            part["lead_effect"] = lb[2 * k:]
            part["lead_ci_low"], part["lead_ci_high"] = lb[2 * k:] - z_ci * lse[2 * k:], lb[2 * k:] + z_ci * lse[2 * k:]
            part["lead_p_value"] = _two_sided_p(lb[2 * k:], lse[2 * k:])
        rows.append(part)
    cols = [*names, "segment", "effect", "ci_low", "ci_high", "n", "clients", "effect_money", "se", "p_value",
            "p_adjusted", "significant"]
    if placebo:
        cols += ["lead_effect", "lead_ci_low", "lead_ci_high", "lead_p_adjusted", "lead_flag"]
    if not rows:
        out = pd.DataFrame(columns=cols)
        out.attrs["panel_end"] = chk
        return out
    out = pd.concat(rows, ignore_index=True)
    out["p_adjusted"] = _bh(out["p_value"].to_numpy())
    out["significant"] = out["p_adjusted"] < alpha
    if placebo:
        out["lead_p_adjusted"] = _bh(out["lead_p_value"].to_numpy())
        out["lead_flag"] = out["lead_p_adjusted"] < alpha
    out = out[cols]
    out.attrs["panel_end"] = chk  # the leaving check behind "auto" (None when the design was given)
    return out


def _two_sided_p(estimate, se) -> np.ndarray:
    """Two-sided p-value of ``estimate / se`` against the normal distribution (NaN without a spread)."""
    from scipy import stats

    est, se = np.asarray(estimate, float), np.asarray(se, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(se > 0, np.abs(est) / se, np.nan)
    return 2.0 * stats.norm.sf(z)


def _bh(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (scipy's ``false_discovery_control``); NaN stays NaN."""
    from scipy import stats

    p = np.asarray(p, float)
    out = np.full(len(p), np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = stats.false_discovery_control(p[ok], method="bh")
    return out


def naive_correlation(activities: pd.DataFrame, revenue: pd.DataFrame, as_of, key=("activity_type", "outcome"),
                      months: int = 12, min_touches: int = 30) -> pd.DataFrame:
    """The misleading view: correlation across clients of touch counts with revenue over the same months.

    Parameters
    ----------
    activities, revenue : DataFrame
        Canonical tables.
    as_of : Timestamp
        End of the window.
    key : sequence of str
        Activity columns naming a touch kind.
    months : int
        Window length (LTM by default).
    min_touches : int
        Touch kinds with fewer touches are left out.

    Returns
    -------
    DataFrame
        ``activity_type``, ``outcome``, ``naive_corr`` (Pearson across clients with revenue in the
        window, untouched clients counted as zero), ``clients``, ``touches``. Kinds whose count or
        whose clients' revenue does not vary have no correlation and are left out.

    Examples
    --------
    >>> r = pd.DataFrame({"date": pd.to_datetime(["2026-03-01"] * 3), "client_id": ["a", "b", "c"],
    ...                   "amount": [1.0, 2.0, 3.0]})
    >>> t = pd.DataFrame({"timestamp": pd.to_datetime(["2026-03-01"] * 3), "client_id": ["b", "c", "c"],
    ...                   "activity_type": "email", "outcome": "unopened"})
    >>> naive_correlation(t, r, pd.Timestamp("2026-06-30"), min_touches=1)["naive_corr"].round(3).tolist()
    [1.0]
    """
    _check(revenue, ["date", "client_id", "amount"], "revenue")
    t = _table(activities, ["timestamp", "client_id", "activity_type"])
    as_of = _as_of(as_of)
    start = as_of - pd.DateOffset(months=months)
    rev = _upto(revenue, "date", as_of, start).groupby("client_id")["amount"].sum()
    kc = [key] if isinstance(key, str) else list(key)
    a = features.touch_counts(t, ["client_id", *kc], where=features.window(as_of, start), kinds=touch_kinds(t))
    a = a.assign(key=_key_frame(a, key))
    a = a.loc[a["client_id"].isin(rev.index)]
    counts = a.groupby(["client_id", "key"])["touches"].sum().unstack(fill_value=0).reindex(rev.index, fill_value=0)
    counts = counts.loc[:, counts.sum() >= min_touches]
    names = [key] if isinstance(key, str) else list(key)
    corr = counts.apply(lambda col: np.corrcoef(col.to_numpy(float), rev.to_numpy(float))[0, 1]
                        if col.std() > 0 and rev.std() > 0 else np.nan)
    out = pd.DataFrame(_split_key(list(counts.columns), names))
    out["naive_corr"] = corr.to_numpy()
    out["clients"] = len(rev)
    out["touches"] = counts.sum().to_numpy().astype("int64")
    # a kind whose count (or revenue) is the same for every client has no correlation: left out
    # (Bank Marketing: one call per client), rather than shown as "nan"
    out = out.loc[out["naive_corr"].notna()]
    return out.sort_values("naive_corr", ascending=False, kind="mergesort").reset_index(drop=True)


def effects_out_of_time(activities: pd.DataFrame, revenue: pd.DataFrame, as_of, split=None,
                        key=("activity_type", "outcome"), freq: str = "Q", n_boot: int = 200,
                        alpha: float = 0.05, min_touches: int = 30, after_last_purchase="auto",
                        random_state: int = 0) -> tuple[pd.DataFrame, dict]:
    """Touch effects estimated on the earlier history and checked against the later history.

    The earlier fit uses periods up to ``split`` (outcomes included); the later fit uses the periods
    after it. Each touch kind's early estimate is set beside the late one and the full-history one,
    and the early estimates predict the later period's within-client outcome: an out-of-time R^2
    above 0 says the early effects carry over (0 = no better than assuming no effect).

    Parameters
    ----------
    activities, revenue : DataFrame
        Canonical tables.
    as_of : Timestamp
        End of the history.
    split : Timestamp, optional
        End of the earlier part; default the end of the middle complete period.
    key, freq, n_boot, alpha, min_touches, after_last_purchase, random_state
        As in :func:`touch_effects` (``"auto"`` is decided once, on the whole history).

    Returns
    -------
    table : DataFrame
        ``activity_type``, ``outcome``, ``effect_full``, ``effect_early``, ``ci_low_early``,
        ``ci_high_early``, ``effect_late``, ``ci_low_late``, ``ci_high_late``, ``late_in_early_ci``.
    summary : dict
        ``split`` (date), ``rank_corr`` (Spearman of early vs late effects), ``same_sign_share``,
        ``oot_r2`` (out-of-time R^2 of the early effects on the later panel), ``oot_r2_significant``
        (the same with only the early effects whose interval excludes 0), ``significant_early`` and
        ``significant_early_confirmed`` (of those, how many have the same sign later), ``touch_kinds``.

    Examples
    --------
    >>> table, summary = effects_out_of_time(acts, rev, pd.Timestamp("2026-09-30"))  # doctest: +SKIP
    """
    from scipy import stats

    as_of = _as_of(as_of)
    full = _build_panel(activities, revenue, as_of, key=key, freq=freq, min_touches=min_touches,
                        after_last_purchase=after_last_purchase is not False)
    if after_last_purchase == "auto":
        after_last_purchase = leaving_check(activities, revenue, as_of, alpha=alpha, panel=full)["after_last_purchase"]
        full = full.design(after_last_purchase)
    all_periods = full.periods + [full.periods[-1] + 1]
    if split is None:
        split = all_periods[len(all_periods) // 2 - 1].end_time.normalize()
    split = pd.Timestamp(split).normalize()
    rng = np.random.default_rng(random_state)
    early = _build_panel(activities, revenue, split, key=key, freq=freq, min_touches=min_touches,
                         after_last_purchase=after_last_purchase)
    late_start = (split + pd.Timedelta(days=1))
    late = _build_panel(activities, revenue, as_of, key=key, freq=freq, start=late_start, min_touches=min_touches,
                        after_last_purchase=after_last_purchase)
    keys = [k for k in full.keys if k in early.keys and k in late.keys]
    if not keys:
        raise ValueError("column 'activity_type': no touch kind has enough touches in both halves")

    def fit(p):
        idx = [p.keys.index(k) for k in keys]
        return _fe_fit(p.X[:, :, idx], p.y, p.mask, n_boot, rng, alpha)[:3], idx

    (bf, _, _), _ = fit(full)
    (be, le, he), _ = fit(early)
    (bl, ll, hl), idx_l = fit(late)
    names = [key] if isinstance(key, str) else list(key)
    table = pd.DataFrame(_split_key(keys, names))
    table["effect_full"], table["effect_early"] = bf, be
    table["ci_low_early"], table["ci_high_early"] = le, he
    table["effect_late"], table["ci_low_late"], table["ci_high_late"] = bl, ll, hl
    table["late_in_early_ci"] = (bl >= le) & (bl <= he)
    sse0 = _fe_resid_sse(late.y, late.mask)
    sse1 = _fe_resid_sse(late.y - late.X[:, :, idx_l] @ be, late.mask)
    be_sig = np.where((le > 0) | (he < 0), be, 0.0)  # only the effects the early half was sure of
    sse2 = _fe_resid_sse(late.y - late.X[:, :, idx_l] @ be_sig, late.mask)
    summary = {"split": split.strftime("%Y-%m-%d"),
               "rank_corr": float(stats.spearmanr(be, bl).statistic) if len(keys) > 2 else float("nan"),
               "same_sign_share": float(np.mean(np.sign(be) == np.sign(bl))),
               "oot_r2": 1.0 - sse1 / sse0 if sse0 > 0 else float("nan"),
               "oot_r2_significant": 1.0 - sse2 / sse0 if sse0 > 0 else float("nan"),
               "significant_early": int(((le > 0) | (he < 0)).sum()),
               "significant_early_confirmed": int((((le > 0) & (bl > 0)) | ((he < 0) & (bl < 0))).sum()),
               "touch_kinds": len(keys)}
    return table, summary


def effects_windows(activities, revenue, as_of, window_periods: int = 4, key=("activity_type", "outcome"),
                    freq: str = "Q", n_boot: int = 200, alpha: float = 0.05, min_touches: int = 30,
                    after_last_purchase="auto", random_state: int = 0) -> pd.DataFrame:
    """Touch effects on two windows of history that share no data: the latest and the one before.

    Each window holds ``window_periods`` outcome periods; the latest ends with the last complete
    period, the previous one ends where the latest begins. Their rows (regressor periods and
    outcome periods) do not overlap, so the two estimates are independent evidence and
    :func:`clientstrategy.monitoring.effects_hold` can test whether an effect changed. (Two
    full-history estimates a quarter apart share about nine tenths of their data and would agree
    whatever happened in the new quarter.)

    Parameters
    ----------
    activities, revenue : DataFrame
        Canonical tables.
    as_of : Timestamp
        End of the history.
    window_periods : int
        Outcome periods per window (4 quarters: a year against the year before).
    key, freq, n_boot, alpha, min_touches, after_last_purchase, random_state
        As in :func:`touch_effects` (``"auto"`` is decided once, on the whole history).

    Returns
    -------
    DataFrame
        ``activity_type``, ``outcome``, ``window`` (``latest`` or ``previous``), ``window_start``,
        ``window_end`` (first and last day of the window's outcome periods), ``effect``, ``ci_low``,
        ``ci_high``, ``se``, ``n``, ``clients``.

    Examples
    --------
    >>> w = effects_windows(acts, rev, pd.Timestamp("2026-09-30"))  # doctest: +SKIP
    """
    if window_periods < 2:
        raise ValueError("window_periods must be at least 2")
    freq = features.check_freq(freq)
    as_of = _as_of(as_of)
    last = as_of.to_period(freq)
    if (last + 1).start_time.normalize() - pd.Timedelta(days=1) > as_of:
        last = last - 1
    first = revenue.loc[revenue["date"] <= as_of + pd.Timedelta(days=1), "date"].min()
    if pd.isna(first) or (last - first.to_period(freq)).n < 2 * window_periods:
        raise ValueError(f"column 'date' of table 'revenue' spans too few complete periods for two windows of "
                         f"{window_periods} outcome periods each (needs {2 * window_periods + 1})")
    if after_last_purchase == "auto":
        after_last_purchase = leaving_check(activities, revenue, as_of, key=key, freq=freq, alpha=alpha,
                                            min_touches=min_touches)["after_last_purchase"]
    names = [key] if isinstance(key, str) else list(key)
    parts = []
    for i, label in enumerate(("latest", "previous")):
        end = last - i * window_periods
        begin = end - window_periods + 1  # first outcome period of the window
        e = touch_effects(activities, revenue, end.end_time.normalize(), key=key, freq=freq, n_boot=n_boot,
                          alpha=alpha, min_touches=min_touches, start=(begin - 1).start_time, placebo=False,
                          after_last_purchase=after_last_purchase, random_state=random_state + i)
        e = e.loc[e["segment"] == "all"]
        parts.append(e.assign(window=label, window_start=begin.start_time.normalize(),
                              window_end=end.end_time.normalize()))
    out = pd.concat(parts, ignore_index=True)
    return out[[*names, "window", "window_start", "window_end", "effect", "ci_low", "ci_high", "se", "n",
                "clients"]]


# -- figures ------------------------------------------------------------------------------------
def plot_effects(effects: pd.DataFrame, naive: pd.DataFrame | None = None, segment: str = "all"):
    """Within-client effects with their intervals, beside the naive correlation when given.

    Parameters
    ----------
    effects : DataFrame
        Output of :func:`touch_effects`.
    naive : DataFrame, optional
        Output of :func:`naive_correlation`.
    segment : str
        Which segment's effects to draw.

    Returns
    -------
    Figure
    """
    import matplotlib.pyplot as plt

    e = effects.loc[effects["segment"] == segment].copy()
    e["label"] = e["activity_type"].astype(str) + " · " + e["outcome"].astype(str)
    e = e.sort_values("effect")
    ncols = 2 if naive is not None else 1
    fig, axes = plt.subplots(1, ncols, figsize=(11 if ncols == 2 else 7, 0.35 * len(e) + 1.8), sharey=True,
                             squeeze=False)
    ax = axes[0, 0]
    ypos = np.arange(len(e))
    colors = np.where(e["ci_low"] > 0, "#2a9d8f", np.where(e["ci_high"] < 0, "#e76f51", "#8d99ae"))
    ax.barh(ypos, e["effect"], color=colors)
    ax.errorbar(e["effect"], ypos, xerr=[e["effect"] - e["ci_low"], e["ci_high"] - e["effect"]], fmt="none",
                ecolor="black", capsize=2, lw=0.8)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(ypos, e["label"])
    ax.set_xlabel("next quarter's revenue per touch\n(share of the client's typical quarter)")
    ax.set_title("Within-client effect (95% interval)")
    if naive is not None:
        n = naive.assign(label=naive["activity_type"].astype(str) + " · " + naive["outcome"].astype(str))
        n = n.set_index("label")["naive_corr"].reindex(e["label"])
        axes[0, 1].barh(ypos, n.to_numpy(), color="#adb5bd")
        axes[0, 1].axvline(0, color="black", lw=0.8)
        axes[0, 1].set_xlabel("correlation of touches with revenue across clients")
        axes[0, 1].set_title("Naive view (confounded by client size)")
    return fig


def plot_touches(summary: pd.DataFrame):
    """Touches and quality-weighted touches per period by activity type.

    Parameters
    ----------
    summary : DataFrame
        Output of :func:`touch_summary` with ``by=["period", "activity_type"]``.

    Returns
    -------
    Figure
    """
    import matplotlib.pyplot as plt

    _check(summary, ["period", "activity_type", "touches", "weighted_touches"], "touch summary")
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharex=True)
    for ax, col, title in ((axes[0], "touches", "Touches logged"),
                           (axes[1], "weighted_touches", "Quality-weighted touches")):
        wide = summary.pivot_table(index="period", columns="activity_type", values=col, aggfunc="sum",
                                   fill_value=0.0)
        wide.index = wide.index.astype(str)
        wide.plot(kind="bar", stacked=True, ax=ax, width=0.85, legend=ax is axes[1])
        ax.set_title(title)
        ax.set_xlabel("quarter")
        ax.set_ylabel(col.replace("_", " "))
    axes[1].legend(title="type", fontsize=8, bbox_to_anchor=(1.01, 1), loc="upper left")
    return fig


def plot_coverage(coverage: pd.DataFrame):
    """Quality-weighted touches per client by tier, with the under/over-served clients marked.

    Parameters
    ----------
    coverage : DataFrame
        Output of :func:`touch_coverage`.

    Returns
    -------
    Figure
    """
    import matplotlib.pyplot as plt

    order = [t for t in ["Platinum", "Gold", "Silver", "Bronze"] if t in set(coverage["tier"])]
    fig, ax = plt.subplots(figsize=(8, 4.2))
    rng = np.random.default_rng(0)  # jitter only, fixed for reproducible figures
    for i, tier in enumerate(order):
        c = coverage.loc[coverage["tier"] == tier]
        x = i + rng.uniform(-0.25, 0.25, len(c))
        col = np.where(c["status"] == "under-served", "#e76f51",
                       np.where(c["status"] == "over-served", "#f4a261", "#8d99ae"))
        ax.scatter(x, c["weighted_touches"], s=8, c=col, alpha=0.7)
        ax.hlines(c["tier_median"].iloc[0] if len(c) else np.nan, i - 0.35, i + 0.35, color="black")
    ax.set_xticks(range(len(order)), order)
    ax.set_ylabel("quality-weighted touches, last 12 months")
    ax.set_title("Effort by tier (red: under-served top clients, orange: over-served Bronze)")
    return fig
