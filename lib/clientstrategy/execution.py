"""Execution: who should I speak to today, about what, and what would it be worth?

Each *signal* function turns one kind of evidence into candidate client-actions with a plain-words
reason that quotes the data it came from and an expected value (incremental revenue over the next
twelve months, from the stated :data:`ACTION_ASSUMPTIONS`):

* :func:`market_event_signals` -- a recent market event on a topic the client responds to;
* :func:`churn_signals` -- falling (or low) chance the client is still active;
* :func:`headroom_signals` -- headroom with a grow intent;
* :func:`detractor_signals` -- a recent detractor score;
* :func:`cross_sell_signals` -- categories that similar clients hold and this one does not;
* :func:`digital_interest_signals` -- recent pages, searches and downloads on a topic.

:func:`rank_actions` merges them, applies persona-channel fit (:func:`apply_channel_fit`) and
ranks per person; :func:`assign_control` holds back a seeded, stratified share of clients as a
control group to measure uplift, drawn anew each quarter (:mod:`clientstrategy.experiment`); :func:`alerts` lists the events since the last run that call for
action.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import experiment, features
from .frames import numeric as _num
from .frames import require as _require
from .words import pct as _pct

__all__ = [
    "ACTION_ASSUMPTIONS",
    "ACTION_MEANINGS",
    "PERSONA_CHANNELS",
    "SIGNAL_ASSUMPTIONS",
    "SIGNAL_COLUMNS",
    "alerts",
    "apply_channel_fit",
    "apply_measured",
    "assign_control",
    "churn_signals",
    "cross_sell_signals",
    "decay_event_values",
    "detractor_signals",
    "digital_interest_signals",
    "headroom_signals",
    "main_category",
    "market_event_signals",
    "measured_realisation",
    "no_signal_reasons",
    "order_values",
    "plot_actions",
    "rank_actions",
    "signal_key",
]

#: Assumptions behind expected values (fractions), each a notebook 07 parameter of the same name and
#: shown on page 07 with :data:`ACTION_MEANINGS` and its source (default, set for this run, or
#: measured by an earlier run's control group, :func:`measured_realisation`). ``grow_cap`` means
#: what the budget's ``grow_cap`` means (one assumption, one name); a conversation's
#: ``headroom_capture_conversation`` is not the budget's ``headroom_capture_year`` (a whole year of
#: a grow plan): two meanings, two names.
ACTION_ASSUMPTIONS = {
    "save_rate": 0.2,
    "detractor_risk": 0.3,
    "headroom_capture_conversation": 0.02,
    "grow_cap": 0.25,
    "cross_sell_conversion": 0.1,
    "interest_conversion": 0.1,
}

#: What each action assumption means, in words.
ACTION_MEANINGS = {
    "save_rate": "share of its at-risk revenue a retention conversation saves",
    "detractor_risk": "extra chance a client who just scored us 0-6 leaves within a year",
    "headroom_capture_conversation": ("share of a grow client's headroom one growth conversation converts (the "
                                      "budget's headroom_capture_year is a whole year of conversations)"),
    "grow_cap": ("most a grow client's revenue can rise in a year, as a share of its yearly revenue (the budget's "
                 "grow_cap): one growth conversation is never worth more"),
    "cross_sell_conversion": "chance a cross-sell conversation leads to a purchase",
    "interest_conversion": "chance a conversation on a topic the client is reading about leads to a purchase",
}

#: Signal (``next_best_actions.csv`` ``signal``, normalised) -> the assumption(s) its value rests on.
SIGNAL_ASSUMPTIONS = {
    "market_event": "the responsiveness measured in 03 x the client order value, decaying over the response window",
    "churn": "save_rate",
    "headroom": "headroom_capture_conversation (at most grow_cap)",
    "detractor": "save_rate x detractor_risk",
    "cross_sell": "cross_sell_conversion",
    "digital_interest": "interest_conversion",
}

#: Persona -> preferred channel (the action); unknown personas keep the signal's own channel.
PERSONA_CHANNELS = {
    "Relationship-led": "meeting",
    "Event-driven trader": "call",
    "Self-directed researcher": "email",
    "Passive consumer": "email",
}

#: Columns of every signal function's output.
SIGNAL_COLUMNS = ["client_id", "signal", "action", "topic", "reason", "expected_value", "evidence_date"]


def _empty() -> pd.DataFrame:
    return pd.DataFrame({
        "client_id": pd.Series(dtype="str"), "signal": pd.Series(dtype="str"),
        "action": pd.Series(dtype="str"), "topic": pd.Series(dtype="str"),
        "reason": pd.Series(dtype="str"), "expected_value": pd.Series(dtype=float),
        "evidence_date": pd.Series(dtype="datetime64[ns]"),
    })


def _frame(rows: list[dict]) -> pd.DataFrame:
    if not rows:
        return _empty()
    out = pd.DataFrame(rows)[SIGNAL_COLUMNS]
    for c in ("client_id", "signal", "action", "topic", "reason"):
        out[c] = out[c].astype("str")
    out["expected_value"] = out["expected_value"].astype(float)
    out["evidence_date"] = pd.to_datetime(out["evidence_date"])
    return out.sort_values(["client_id", "signal", "topic"], ignore_index=True)


def _assume(overrides: dict | None) -> dict:
    a = dict(ACTION_ASSUMPTIONS)
    if overrides:
        unknown = set(overrides) - set(a)
        if unknown:
            raise ValueError(f"unknown action assumption(s) {sorted(unknown)}; known: {sorted(a)}")
        a.update({k: float(v) for k, v in overrides.items()})
    return a


def _end(as_of: pd.Timestamp) -> pd.Timestamp:
    """Exclusive end of the as_of day (timestamps count through the whole day)."""
    return as_of.normalize() + pd.Timedelta(days=1)


def _money(x: float) -> str:
    """Compact amount for reasons: 1234567 -> '1.2m', 45300 -> '45k', 800 -> '800'."""
    a = abs(float(x))
    for size, unit in ((1e9, "bn"), (1e6, "m"), (1e3, "k")):
        if a >= size:
            return f"{x / size:.{1 if unit != 'k' else 0}f}{unit}"
    return f"{x:,.0f}"


def order_values(revenue: pd.DataFrame, as_of: pd.Timestamp, plan: pd.DataFrame | None = None) -> pd.Series:
    """Typical order value per client: last-twelve-months positive revenue per purchase day.

    Clients without revenue lines fall back to ``revenue_ltm / max(expected_purchases_12m, 1)``
    from ``plan`` when given.

    Parameters
    ----------
    revenue : DataFrame or None
        Canonical ``revenue``.
    as_of : Timestamp
        End of the period.
    plan : DataFrame, optional
        Profile with ``client_id``, ``revenue_ltm``, ``expected_purchases_12m``.

    Returns
    -------
    Series
        Order value indexed by ``client_id``.

    Examples
    --------
    >>> rev = pd.DataFrame({"date": pd.to_datetime(["2026-01-05", "2026-01-05", "2026-02-01"]),
    ...                     "client_id": ["a", "a", "a"], "amount": [10.0, 20.0, 30.0]})
    >>> order_values(rev, pd.Timestamp("2026-03-31")).to_dict()
    {'a': 30.0}
    """
    ov = pd.Series(dtype=float)
    if revenue is not None and len(revenue):
        _require(revenue, ["date", "client_id", "amount"], "revenue")
        r = revenue.loc[(revenue["date"] > as_of - pd.DateOffset(months=12)) & (revenue["date"] <= as_of)]
        day = r.groupby(["client_id", "date"])["amount"].sum()
        day = day[day > 0].reset_index()
        ov = day.groupby("client_id")["amount"].mean().astype(float)
    if plan is not None and "revenue_ltm" in plan.columns:
        ep = _num(plan, "expected_purchases_12m").fillna(1.0).clip(lower=1.0)
        fb = pd.Series((_num(plan, "revenue_ltm").clip(lower=0) / ep).to_numpy(), index=plan["client_id"])
        ov = ov.combine_first(fb)
    ov.index.name = "client_id"
    return ov


def main_category(revenue: pd.DataFrame | None, products: pd.DataFrame | None, as_of: pd.Timestamp) -> pd.Series:
    """Each client's largest category (or product) by last-twelve-months revenue.

    Parameters
    ----------
    revenue : DataFrame or None
        Canonical ``revenue`` with ``product_id``.
    products : DataFrame or None
        Canonical ``products`` with ``category``.
    as_of : Timestamp
        End of the period.

    Returns
    -------
    Series
        Category indexed by ``client_id`` (empty when revenue has no products); ties go to the
        alphabetically first category.

    Examples
    --------
    >>> rev = pd.DataFrame({"date": pd.to_datetime(["2026-01-05"] * 2), "client_id": ["a", "a"],
    ...                     "amount": [1.0, 5.0], "product_id": ["p1", "p2"]})
    >>> prod = pd.DataFrame({"product_id": ["p1", "p2"], "category": ["FX", "Equities"]})
    >>> main_category(rev, prod, pd.Timestamp("2026-03-31")).to_dict()
    {'a': 'Equities'}
    """
    m = _category_matrix(revenue, products, as_of)
    if m.empty:
        return pd.Series(dtype="str")
    # idxmax returns the first maximum; columns are sorted, so ties go alphabetically
    return m.idxmax(axis=1).astype("str")


def _category_of(products: pd.DataFrame | None) -> dict:
    if products is None or "category" not in products.columns:
        return {}
    return dict(zip(products["product_id"], products["category"].fillna(products["product_id"])))


def _category_matrix(revenue, products, as_of) -> pd.DataFrame:
    if revenue is None or "product_id" not in revenue.columns or revenue["product_id"].isna().all():
        return pd.DataFrame()
    r = revenue.loc[(revenue["date"] > as_of - pd.DateOffset(months=12)) & (revenue["date"] <= as_of)]
    cat = _category_of(products)
    item = r["product_id"].map(cat).fillna(r["product_id"]) if cat else r["product_id"]
    m = r["amount"].groupby([r["client_id"], item.rename("category")]).sum().unstack(fill_value=0.0)
    m = m.clip(lower=0.0)
    return m.loc[m.sum(axis=1) > 0].sort_index(axis=0).sort_index(axis=1)


def market_event_signals(
    responsiveness: pd.DataFrame | None,
    market_events: pd.DataFrame | None,
    as_of: pd.Timestamp,
    *,
    order_value: pd.Series | None = None,
    products: pd.DataFrame | None = None,
    window_days: int = 21,
    top_share: float = 0.2,
    fdr: float = 0.1,
) -> pd.DataFrame:
    """A recent market event on a topic the client has responded to before.

    Events in ``(as_of - window_days, as_of]`` are matched to clients' topic responsiveness (an
    event whose topic is a product id is mapped to the product's category). A client qualifies
    when its responsiveness on the topic is positive, its response rate beats its baseline (when
    those columns exist), it is within the top ``top_share`` of clients on that topic and, when
    the evidence is there, its buying after events is beyond chance: notebook 03's ``responder``
    flag (at its false discovery rate), or else ``q_value <= fdr`` (a client whose one purchase
    happened to follow an event does not qualify).
    Expected value: ``(response_rate - baseline_rate) * order value`` (the extra purchase a
    response brings); with only ``responsiveness``, ``clip(responsiveness, 0, 1) * order value``.

    Parameters
    ----------
    responsiveness : DataFrame or None
        ``client_id``, ``topic``, ``responsiveness`` and optional ``events``, ``responses``,
        ``baseline_rate``, ``response_rate`` (notebook 03).
    market_events : DataFrame or None
        Canonical ``market_events`` (``date``, ``topic``, optional ``headline``).
    as_of : Timestamp
        Today.
    order_value : Series, optional
        Typical order value by client (:func:`order_values`); missing counts 0.
    products : DataFrame, optional
        For mapping product-id topics to categories.
    window_days : int
        How recent an event must be (planted responses come within 21 days).
    top_share : float
        Share of the most responsive clients per topic that qualify.
    fdr : float
        Largest ``q_value`` (Benjamini-Hochberg within the topic) of a client that qualifies, when
        ``responsiveness`` has no ``responder`` column.

    Returns
    -------
    DataFrame
        :data:`SIGNAL_COLUMNS`, ``signal = "market event"``, ``action = "call"``; one row per client
        and topic (the latest event).

    Examples
    --------
    >>> resp = pd.DataFrame({"client_id": ["a", "b"], "topic": ["FX", "FX"], "responsiveness": [0.5, -0.1],
    ...                      "events": [10, 10], "responses": [6, 0], "baseline_rate": [0.1, 0.1],
    ...                      "response_rate": [0.6, 0.0]})
    >>> ev = pd.DataFrame({"date": pd.to_datetime(["2026-09-25"]), "topic": ["FX"]})
    >>> market_event_signals(resp, ev, pd.Timestamp("2026-09-30"), order_value=pd.Series({"a": 100.0}),
    ...                      top_share=1.0)[["client_id", "expected_value"]].values.tolist()
    [['a', 50.0]]
    """
    if responsiveness is None or market_events is None or len(responsiveness) == 0 or len(market_events) == 0:
        return _empty()
    _require(responsiveness, ["client_id", "topic", "responsiveness"], "responsiveness")
    _require(market_events, ["date", "topic"], "market_events")
    ev = market_events.loc[(market_events["date"] > as_of - pd.Timedelta(days=window_days))
                           & (market_events["date"] <= as_of)].copy()
    if ev.empty:
        return _empty()
    cat = _category_of(products)
    ev["match"] = ev["topic"].map(lambda t: cat.get(t, t)).astype("str")
    ev = ev.sort_values(["date", "topic"]).groupby("match", as_index=False).last()
    r = responsiveness.copy()
    r["responsiveness"] = _num(r, "responsiveness")
    r["rank_pct"] = r.groupby("topic")["responsiveness"].rank(ascending=False, pct=True, method="min")
    has_rates = {"baseline_rate", "response_rate"} <= set(r.columns)
    # responsiveness is the extra chance of a purchase after an event (notebook 03 shrinks it towards
    # the baseline), so it is the lift; raw rates only confirm the direction and word the reason
    r["lift"] = r["responsiveness"].clip(0, 1)
    beats = (_num(r, "response_rate") > _num(r, "baseline_rate")) if has_rates else True
    # evidence beyond chance: notebook 03's flag (at its false discovery rate), else the q-value at fdr
    sure = (r["responder"].astype(bool) if "responder" in r.columns
            else (_num(r, "q_value") <= fdr) if "q_value" in r.columns else True)
    r = r.loc[(r["lift"] > 0) & beats & sure & (r["rank_pct"] <= top_share)]
    r = r.merge(ev, left_on="topic", right_on="match", suffixes=("", "_event"))
    ov = order_value if order_value is not None else pd.Series(dtype=float)
    rows = []
    for x in r.itertuples(index=False):
        value = float(x.lift) * float(ov.get(x.client_id, 0.0))
        head = getattr(x, "headline", None)
        head = f" ('{head}')" if isinstance(head, str) and head else ""
        if has_rates and "events" in r.columns and "responses" in r.columns:
            hist = (f"bought {x.topic} after {int(x.responses)} of {int(x.events)} past {x.topic} events "
                    f"({_pct(x.response_rate)} against a usual {_pct(x.baseline_rate)})")
        else:
            hist = f"has a responsiveness of {x.responsiveness:.2f} to {x.topic} events"
        rows.append({
            "client_id": x.client_id, "signal": "market event", "action": "call", "topic": x.topic,
            "reason": f"Market event on {x.topic_event} on {x.date:%d %b %Y}{head}; this client {hist}.",
            "expected_value": value, "evidence_date": x.date,
        })
    return _frame(rows)


def churn_signals(
    plan: pd.DataFrame,
    *,
    previous_profile: pd.DataFrame | None = None,
    p_alive_max: float = 0.6,
    drop: float = 0.15,
    topics: pd.Series | None = None,
    as_of: pd.Timestamp | None = None,
    assumptions: dict | None = None,
) -> pd.DataFrame:
    """Falling chance that a still-billing client is alive.

    With a previous profile: ``p_alive`` fell by at least ``drop`` since then. Without one: the
    client billed in the last twelve months yet its ``p_alive`` is below ``p_alive_max``. Retire
    intents are skipped. Expected value: ``save_rate * (1 - p_alive) * revenue_ltm``.

    Parameters
    ----------
    plan : DataFrame
        ``client_id``, ``p_alive``, ``revenue_ltm``, optional ``intent``.
    previous_profile : DataFrame, optional
        Last run's profile with ``client_id``, ``p_alive``.
    p_alive_max, drop : float
        Thresholds above.
    topics : Series, optional
        Topic per client (e.g. :func:`main_category`); default "relationship review".
    as_of : Timestamp, optional
        Evidence date.
    assumptions : dict, optional
        Overrides of :data:`ACTION_ASSUMPTIONS`.

    Returns
    -------
    DataFrame
        :data:`SIGNAL_COLUMNS`, ``signal = "falling activity"``, ``action = "meeting"``.

    Examples
    --------
    >>> pl = pd.DataFrame({"client_id": ["a", "b"], "p_alive": [0.4, 0.9], "revenue_ltm": [1000.0, 10.0]})
    >>> churn_signals(pl)[["client_id", "expected_value"]].values.tolist()
    [['a', 120.0]]
    """
    _require(plan, ["client_id", "p_alive", "revenue_ltm"], "plan")
    a = _assume(assumptions)
    p = plan.copy()
    p["p_alive"] = _num(p, "p_alive")
    p["revenue_ltm"] = _num(p, "revenue_ltm")
    keep = (p["revenue_ltm"] > 0) & p["p_alive"].notna()
    if "intent" in p.columns:
        keep &= p["intent"] != "retire"
    if previous_profile is not None and "p_alive" in previous_profile.columns:
        _require(previous_profile, ["client_id", "p_alive"], "previous_profile")
        prev = p["client_id"].map(previous_profile.set_index("client_id")["p_alive"]).astype(float)
        p["prev"] = prev
        keep &= (prev - p["p_alive"]) >= drop
    else:
        p["prev"] = np.nan
        keep &= p["p_alive"] < p_alive_max
    rows = []
    for x in p.loc[keep].itertuples(index=False):
        if np.isfinite(x.prev):
            why = f"Chance this client is still active fell from {_pct(x.prev)} to {_pct(x.p_alive)} since the last run"
        else:
            why = (f"Billed {_money(x.revenue_ltm)} in the last twelve months, but its buying pattern gives only a "
                   f"{_pct(x.p_alive)} chance it is still active")
        rows.append({
            "client_id": x.client_id, "signal": "falling activity", "action": "meeting",
            "topic": (topics.get(x.client_id, "relationship review") if topics is not None
                      else "relationship review"),
            "reason": why + "; a retention conversation is due.",
            "expected_value": a["save_rate"] * (1 - x.p_alive) * x.revenue_ltm, "evidence_date": as_of,
        })
    return _frame(rows)


def headroom_signals(
    plan: pd.DataFrame,
    *,
    topics: pd.Series | None = None,
    as_of: pd.Timestamp | None = None,
    assumptions: dict | None = None,
) -> pd.DataFrame:
    """Headroom with a grow intent.

    Clients whose ``intent`` is grow and ``headroom`` is positive. Expected value:
    ``headroom_capture_conversation * headroom``, at most ``grow_cap * revenue_ltm`` when revenue is known (a
    huge wallet does not make one conversation worth more than a share of what the client buys).

    Parameters
    ----------
    plan : DataFrame
        ``client_id``, ``intent``, ``headroom``; optional ``wallet``, ``share_of_wallet``.
    topics : Series, optional
        Topic per client; default "share of wallet".
    as_of : Timestamp, optional
        Evidence date.
    assumptions : dict, optional
        Overrides of :data:`ACTION_ASSUMPTIONS`.

    Returns
    -------
    DataFrame
        :data:`SIGNAL_COLUMNS`, ``signal = "headroom"``, ``action = "meeting"``.

    Examples
    --------
    >>> pl = pd.DataFrame({"client_id": ["a", "b"], "intent": ["grow", "maintain"], "headroom": [5000.0, 9000.0]})
    >>> headroom_signals(pl)[["client_id", "expected_value"]].values.tolist()
    [['a', 100.0]]
    """
    _require(plan, ["client_id", "intent", "headroom"], "plan")
    a = _assume(assumptions)
    p = plan.assign(headroom=_num(plan, "headroom"), sow=_num(plan, "share_of_wallet"),
                    cap=a["grow_cap"] * _num(plan, "revenue_ltm").clip(lower=0))
    p = p.loc[(p["intent"] == "grow") & (p["headroom"] > 0)]
    rows = []
    for x in p.itertuples(index=False):
        sow = f" (our share is {_pct(x.sow)})" if np.isfinite(x.sow) else ""
        rows.append({
            "client_id": x.client_id, "signal": "headroom", "action": "meeting",
            "topic": topics.get(x.client_id, "share of wallet") if topics is not None else "share of wallet",
            "reason": (f"Grow client: outside data puts {_money(x.headroom)} of its yearly spend in our categories "
                       f"with other providers{sow}."),
            "expected_value": (min(a["headroom_capture_conversation"] * x.headroom, x.cap) if np.isfinite(x.cap)
                               else a["headroom_capture_conversation"] * x.headroom), "evidence_date": as_of,
        })
    return _frame(rows)


def detractor_signals(
    surveys: pd.DataFrame | None,
    plan: pd.DataFrame,
    as_of: pd.Timestamp,
    *,
    window_days: int = 91,
    assumptions: dict | None = None,
) -> pd.DataFrame:
    """A detractor score (0-6) in the last ``window_days``.

    Uses each client's latest response in the window. Expected value:
    ``save_rate * detractor_risk * revenue_ltm``.

    Parameters
    ----------
    surveys : DataFrame or None
        Canonical ``surveys`` (``date``, ``client_id``, ``nps``, optional ``comment``).
    plan : DataFrame
        ``client_id``, ``revenue_ltm``, optional ``intent`` (retire is skipped).
    as_of : Timestamp
        Today.
    window_days : int
        How recent the score must be.
    assumptions : dict, optional
        Overrides of :data:`ACTION_ASSUMPTIONS`.

    Returns
    -------
    DataFrame
        :data:`SIGNAL_COLUMNS`, ``signal = "detractor"``, ``action = "call"``, ``topic = "service
        recovery"``.

    Examples
    --------
    >>> sv = pd.DataFrame({"date": pd.to_datetime(["2026-09-01", "2026-09-02"]), "client_id": ["a", "b"],
    ...                    "nps": [3, 9]})
    >>> pl = pd.DataFrame({"client_id": ["a", "b"], "revenue_ltm": [1000.0, 1000.0]})
    >>> detractor_signals(sv, pl, pd.Timestamp("2026-09-30"))[["client_id", "expected_value"]].values.tolist()
    [['a', 60.0]]
    """
    if surveys is None or len(surveys) == 0:
        return _empty()
    _require(surveys, ["date", "client_id", "nps"], "surveys")
    _require(plan, ["client_id", "revenue_ltm"], "plan")
    a = _assume(assumptions)
    s = surveys.loc[(surveys["date"] > as_of - pd.Timedelta(days=window_days)) & (surveys["date"] <= as_of)]
    s = s.sort_values(["client_id", "date"]).groupby("client_id", as_index=False).last()
    s = s.loc[_num(s, "nps") <= 6]
    rev = plan.set_index("client_id")["revenue_ltm"].astype(float)
    retire = set(plan.loc[plan["intent"] == "retire", "client_id"]) if "intent" in plan.columns else set()
    rows = []
    for x in s.itertuples(index=False):
        if x.client_id in retire:
            continue
        comment = getattr(x, "comment", None)
        said = f" and wrote '{comment}'" if isinstance(comment, str) and comment.strip() else ""
        rows.append({
            "client_id": x.client_id, "signal": "detractor", "action": "call", "topic": "service recovery",
            "reason": f"Scored us {int(x.nps)}/10 on {x.date:%d %b %Y}{said}.",
            "expected_value": a["save_rate"] * a["detractor_risk"] * max(float(rev.get(x.client_id, 0.0)), 0.0),
            "evidence_date": x.date,
        })
    return _frame(rows)


def cross_sell_signals(
    revenue: pd.DataFrame | None,
    products: pd.DataFrame | None,
    plan: pd.DataFrame,
    as_of: pd.Timestamp,
    *,
    n_neighbors: int = 20,
    min_adoption: float = 0.3,
    assumptions: dict | None = None,
) -> pd.DataFrame:
    """Categories that similar clients hold and this client does not.

    Clients are described by their share of last-twelve-months revenue per category; neighbours
    are the ``n_neighbors`` nearest by cosine distance (scikit-learn ``NearestNeighbors``). For
    each category the client does not buy, ``adoption`` is the share of neighbours who do; the
    best category with ``adoption >= min_adoption`` is proposed. Expected value:
    ``cross_sell_conversion * adoption * median neighbour spend in that category``. Only clients
    with a grow or maintain intent (or no intent column) are considered.

    Parameters
    ----------
    revenue : DataFrame or None
        Canonical ``revenue`` with ``product_id``.
    products : DataFrame or None
        Canonical ``products`` with ``category`` (else products are the items).
    plan : DataFrame
        ``client_id``, optional ``intent``.
    as_of : Timestamp
        End of the period.
    n_neighbors : int
        Neighbours per client.
    min_adoption : float
        Minimum share of neighbours holding the category.
    assumptions : dict, optional
        Overrides of :data:`ACTION_ASSUMPTIONS`.

    Returns
    -------
    DataFrame
        :data:`SIGNAL_COLUMNS`, ``signal = "cross-sell"``, ``action = "call"``.

    Examples
    --------
    >>> rev = pd.DataFrame({"date": pd.to_datetime(["2026-09-01"] * 5), "client_id": ["a", "b", "b", "c", "c"],
    ...                     "amount": [10.0, 10.0, 100.0, 10.0, 300.0], "product_id": ["x", "x", "y", "x", "y"]})
    >>> pl = pd.DataFrame({"client_id": ["a", "b", "c"]})
    >>> cross_sell_signals(rev, None, pl, pd.Timestamp("2026-09-30"), n_neighbors=2)[
    ...     ["client_id", "topic", "expected_value"]].values.tolist()
    [['a', 'y', 20.0]]
    """
    from sklearn.neighbors import NearestNeighbors

    _require(plan, ["client_id"], "plan")
    a = _assume(assumptions)
    m = _category_matrix(revenue, products, as_of)
    if m.empty or m.shape[1] < 2 or m.shape[0] < 2:
        return _empty()
    shares = m.div(m.sum(axis=1), axis=0)
    k = min(n_neighbors + 1, len(m))
    nn = NearestNeighbors(n_neighbors=k, metric="cosine").fit(shares.to_numpy())
    _, idx = nn.kneighbors(shares.to_numpy())
    eligible = set(plan["client_id"])
    if "intent" in plan.columns:
        eligible = set(plan.loc[plan["intent"].isin(["grow", "maintain"]), "client_id"])
    held = m.to_numpy() > 0
    vals = m.to_numpy()
    cats = list(m.columns)
    rows = []
    for i, cid in enumerate(m.index):
        if cid not in eligible:
            continue
        neigh = [j for j in idx[i] if j != i][: k - 1]
        if not neigh:
            continue
        best = None
        for c, cat in enumerate(cats):
            if held[i, c]:
                continue
            holders = [j for j in neigh if held[j, c]]
            adoption = len(holders) / len(neigh)
            if adoption < min_adoption:
                continue
            value = a["cross_sell_conversion"] * adoption * float(np.median(vals[holders, c]))
            if best is None or value > best[0]:
                best = (value, cat, adoption)
        if best:
            rows.append({
                "client_id": cid, "signal": "cross-sell", "action": "call", "topic": str(best[1]),
                "reason": (f"{_pct(best[2])} of the {len(neigh)} clients with the most similar buying hold "
                           f"{best[1]}; this client does not."),
                "expected_value": best[0], "evidence_date": as_of,
            })
    return _frame(rows)


def digital_interest_signals(
    digital: pd.DataFrame | None,
    products: pd.DataFrame | None,
    as_of: pd.Timestamp,
    *,
    order_value: pd.Series | None = None,
    plan: pd.DataFrame | None = None,
    window_days: int = 14,
    min_events: int = 3,
    assumptions: dict | None = None,
) -> pd.DataFrame:
    """Recent digital interest (pages, searches, downloads) in a topic.

    An event's topic is its product's category; without a product, a search query or page that
    mentions a category name (case-insensitive). A client with at least ``min_events`` such
    events on one topic in ``(as_of - window_days, as_of]`` qualifies (its most-viewed topic).
    Expected value: ``interest_conversion * order value``. Retire intents are skipped.

    Parameters
    ----------
    digital : DataFrame or None
        Canonical ``digital``.
    products : DataFrame or None
        Canonical ``products`` with ``category``.
    as_of : Timestamp
        Today.
    order_value : Series, optional
        By client (:func:`order_values`).
    plan : DataFrame, optional
        ``client_id``, ``intent``.
    window_days, min_events : int
        Recency window and threshold.
    assumptions : dict, optional
        Overrides of :data:`ACTION_ASSUMPTIONS`.

    Returns
    -------
    DataFrame
        :data:`SIGNAL_COLUMNS`, ``signal = "digital interest"``, ``action = "email"``.

    Examples
    --------
    >>> dg = pd.DataFrame({"timestamp": pd.to_datetime(["2026-09-28"] * 3), "client_id": ["a"] * 3,
    ...                    "event_type": ["page_view", "search", "download"], "product_id": ["p1", None, "p1"],
    ...                    "search_query": [None, "fx options pricing", None]})
    >>> prod = pd.DataFrame({"product_id": ["p1"], "category": ["FX"]})
    >>> digital_interest_signals(dg, prod, pd.Timestamp("2026-09-30"), order_value=pd.Series({"a": 50.0}))[
    ...     ["client_id", "topic", "expected_value"]].values.tolist()
    [['a', 'FX', 5.0]]
    """
    if digital is None or len(digital) == 0:
        return _empty()
    t = features.as_table(digital, "digital")
    features.require(t, ["timestamp", "client_id", "event_type"])
    a = _assume(assumptions)
    # the window's events, counted per distinct (client, type, product, query, page) in the engine
    d = features.digital_recent(t, as_of - pd.Timedelta(days=window_days), _end(as_of),
                                ["page_view", "search", "download"])
    if d.empty:
        return _empty()
    cat = _category_of(products)
    topic = pd.Series(np.nan, index=d.index, dtype=object)
    if "product_id" in d.columns:
        topic = d["product_id"].map(cat) if cat else d["product_id"].astype(object)
    names = sorted({str(c) for c in cat.values()}, key=len, reverse=True)
    text = pd.Series("", index=d.index, dtype="str")
    for col in ("search_query", "page"):
        if col in d.columns:
            text = text + " " + d[col].fillna("").astype("str").str.lower()
    for name in names:
        hit = topic.isna() & text.str.contains(name.lower(), regex=False)
        topic = topic.where(~hit, name)
    d = d.assign(topic=topic).dropna(subset=["topic"])
    if plan is not None and "intent" in plan.columns:
        d = d.loc[~d["client_id"].isin(plan.loc[plan["intent"] == "retire", "client_id"])]
    d = d.assign(searches=d["n"].where(d["event_type"].astype("str") == "search", 0))
    counts = d.groupby(["client_id", "topic"]).agg(n=("n", "sum"), last=("last", "max"),
                                                   searches=("searches", "sum"))
    counts = counts.reset_index().sort_values(["client_id", "n", "topic"], ascending=[True, False, True])
    counts = counts.groupby("client_id", as_index=False).first()
    counts = counts.loc[counts["n"] >= min_events]
    ov = order_value if order_value is not None else pd.Series(dtype=float)
    rows = [{
        "client_id": x.client_id, "signal": "digital interest", "action": "email", "topic": str(x.topic),
        "reason": (f"{int(x.n)} page views, searches or downloads on {x.topic} in the last {window_days} days"
                   + (f" ({int(x.searches)} of them searches)" if x.searches else "") + f", latest {x.last:%d %b}."),
        "expected_value": a["interest_conversion"] * float(ov.get(x.client_id, 0.0)),
        "evidence_date": x.last.normalize(),
    } for x in counts.itertuples(index=False)]
    return _frame(rows)


def apply_channel_fit(
    actions: pd.DataFrame,
    *,
    personas: pd.Series | None = None,
    styles: pd.Series | None = None,
    persona_fit: pd.DataFrame | None = None,
    channels: dict | None = None,
) -> pd.DataFrame:
    """Persona-channel fit: pick the channel the persona prefers and weigh the owner's style.

    ``action`` becomes the persona's channel (:data:`PERSONA_CHANNELS`), except for market
    events, which stay a call because they are time-critical. With ``persona_fit`` (style,
    persona, outcome_per_touch) and the person's style, ``expected_value`` is multiplied by
    ``fit = outcome_per_touch(style, persona) / best outcome_per_touch for the persona`` clipped to
    [0.1, 1]; a fit below 0.75 is said in the reason.

    Parameters
    ----------
    actions : DataFrame
        Signal rows with ``client_id``, ``person_id``, ``action``, ``signal``, ``reason``,
        ``expected_value``.
    personas : Series, optional
        Persona by ``client_id``.
    styles : Series, optional
        Style by ``person_id``.
    persona_fit : DataFrame, optional
        ``style``, ``persona``, ``outcome_per_touch`` (notebook 03).
    channels : dict, optional
        Persona -> channel; default :data:`PERSONA_CHANNELS`.

    Returns
    -------
    DataFrame
        ``actions`` with ``action``, ``expected_value``, ``reason`` adjusted and ``persona``,
        ``fit`` added.

    Examples
    --------
    >>> act = pd.DataFrame({"client_id": ["a"], "person_id": ["p"], "action": ["call"], "signal": ["headroom"],
    ...                     "reason": ["r."], "expected_value": [100.0]})
    >>> fit = pd.DataFrame({"style": ["assertive", "consultative"], "persona": ["Passive consumer"] * 2,
    ...                     "outcome_per_touch": [1.0, 4.0]})
    >>> out = apply_channel_fit(act, personas=pd.Series({"a": "Passive consumer"}),
    ...                         styles=pd.Series({"p": "assertive"}), persona_fit=fit)
    >>> out[["action", "expected_value"]].values.tolist()
    [['email', 25.0]]
    """
    _require(actions, ["client_id", "person_id", "action", "signal", "reason", "expected_value"], "actions")
    channels = PERSONA_CHANNELS if channels is None else channels
    out = actions.copy()
    persona = out["client_id"].map(personas) if personas is not None else pd.Series(np.nan, index=out.index)
    out["persona"] = persona.astype("str").where(persona.notna(), None)
    chan = persona.map(channels)
    switch = chan.notna() & (out["signal"] != "market event")
    out.loc[switch, "action"] = chan[switch].astype("str")
    out["fit"] = 1.0
    if persona_fit is not None and styles is not None and len(persona_fit):
        _require(persona_fit, ["style", "persona", "outcome_per_touch"], "persona_fit")
        pf = persona_fit.assign(o=_num(persona_fit, "outcome_per_touch"))
        best = pf.groupby("persona")["o"].max()
        own = pf.set_index(["style", "persona"])["o"]
        style = out["person_id"].map(styles)
        fits = []
        for s_, p_ in zip(style, persona):
            b = best.get(p_, np.nan)
            o = own.get((s_, p_), np.nan)
            fits.append(float(np.clip(o / b, 0.1, 1.0)) if np.isfinite(o) and np.isfinite(b) and b > 0 else 1.0)
        out["fit"] = fits
        low = out["fit"] < 0.75
        out.loc[low, "reason"] = out.loc[low].apply(
            lambda r: f"{r['reason']} Touches in your style have landed less well with {r['persona']} clients "
                      f"({_pct(r['fit'])} of the best style): keep it short or ask a colleague.", axis=1)
        out["expected_value"] = out["expected_value"] * out["fit"]
    return out


def signal_key(signal) -> str:
    """A signal's name as one key, whatever its spelling: "market event" -> "market_event".

    ``falling activity`` (the churn signal's name in the lists) is ``churn``.

    Examples
    --------
    >>> [signal_key(s) for s in ["market event", "Cross-sell", "falling activity", "churn"]]
    ['market_event', 'cross_sell', 'churn', 'churn']
    """
    k = str(signal).strip().lower().replace("-", "_").replace(" ", "_")
    return {"falling_activity": "churn"}.get(k, k)


def measured_realisation(uplift: pd.DataFrame | None, tau: float = 0.5, level: float = 0.8,
                         outcome: str = "revenue") -> pd.DataFrame:
    """What an earlier run's control group measured of each action type, shrunk toward its assumption.

    ``uplift`` is notebook 08's ``artifacts/uplift.csv``: per action type (``signal``) and outcome
    the measured uplift, the value the list promised (``promised``) and their ratio, the
    realisation ``R = estimate / promised``, with its standard error ``s``. The value used is the
    assumption times ``w * R + (1 - w)``, ``w = tau^2 / (tau^2 + s^2)``: the posterior mean of the
    realisation under a normal prior centred on 1 (the assumption holds) with spread ``tau``; a
    precise measurement (small ``s``) moves the value most of the way to what was measured, a noisy
    one barely. Its interval is that mean plus or minus ``z * s * sqrt(w)`` (the posterior spread)
    at ``level``.

    Parameters
    ----------
    uplift : DataFrame or None
        ``signal``, ``outcome``, ``realisation``, ``realisation_se`` and optional ``treated``,
        ``control``, ``window_days``, ``assigned_quarter``, ``estimate``, ``promised``.
    tau : float
        Prior spread of the realisation (0.5: a realisation between 0 and 2 is plausible).
    level : float
        Central probability of the interval.
    outcome : str
        The outcome row used (revenue).

    Returns
    -------
    DataFrame
        One row per measured signal (key of :func:`signal_key`): ``signal``, ``assigned_quarter``,
        ``treated``, ``control``, ``realisation``, ``realisation_se``, ``weight``, ``factor``,
        ``factor_low``, ``factor_high``. Rows without a finite realisation or a positive standard
        error are left out (nothing was measured).

    Examples
    --------
    >>> up = pd.DataFrame({"signal": ["headroom"], "outcome": ["revenue"], "realisation": [0.2],
    ...                    "realisation_se": [0.5]})
    >>> measured_realisation(up, tau=0.5)[["weight", "factor"]].values.round(3).tolist()
    [[0.5, 0.6]]
    """
    from scipy import stats

    cols = ["signal", "assigned_quarter", "treated", "control", "realisation", "realisation_se", "weight",
            "factor", "factor_low", "factor_high"]
    if tau <= 0:
        raise ValueError(f"tau must be positive, got {tau}")
    if uplift is None or len(uplift) == 0:
        return pd.DataFrame({c: pd.Series(dtype="str" if c in ("signal", "assigned_quarter") else float)
                             for c in cols})
    _require(uplift, ["signal", "outcome", "realisation", "realisation_se"], "uplift")
    u = uplift.loc[uplift["outcome"].astype("str").str.lower() == outcome].copy()
    u["realisation"] = _num(u, "realisation")
    u["realisation_se"] = _num(u, "realisation_se")
    u = u.loc[np.isfinite(u["realisation"]) & (u["realisation_se"] > 0)]
    u["signal"] = u["signal"].map(signal_key).astype("str")
    u["assigned_quarter"] = (u["assigned_quarter"].astype("str") if "assigned_quarter" in u.columns
                             else pd.Series("", index=u.index, dtype="str"))
    u = u.sort_values(["signal", "assigned_quarter"]).groupby("signal", as_index=False).last()
    se = u["realisation_se"]
    w = tau ** 2 / (tau ** 2 + se ** 2)
    z = stats.norm.ppf((1 + level) / 2)
    u["weight"] = w
    u["factor"] = w * u["realisation"] + (1 - w)
    u["factor_low"] = u["factor"] - z * se * np.sqrt(w)
    u["factor_high"] = u["factor"] + z * se * np.sqrt(w)
    u["treated"] = _num(u, "treated")
    u["control"] = _num(u, "control")
    return u[cols].reset_index(drop=True)


def apply_measured(signals: pd.DataFrame, measured: pd.DataFrame | None) -> pd.DataFrame:
    """Scale each signal's expected value by its measured, shrunk realisation (:func:`measured_realisation`).

    Parameters
    ----------
    signals : DataFrame
        Signal rows (:data:`SIGNAL_COLUMNS`).
    measured : DataFrame or None
        From :func:`measured_realisation`.

    Returns
    -------
    DataFrame
        ``signals`` with ``expected_value`` multiplied by ``factor`` (never below 0) where the
        signal was measured, and the reason saying so.

    Examples
    --------
    >>> sig = pd.DataFrame({"client_id": ["a"], "signal": ["headroom"], "action": ["meeting"], "topic": ["FX"],
    ...                     "reason": ["Big wallet."], "expected_value": [100.0], "evidence_date": [pd.NaT]})
    >>> m = pd.DataFrame({"signal": ["headroom"], "factor": [0.6], "assigned_quarter": ["2026Q2"]})
    >>> apply_measured(sig, m)["expected_value"].tolist()
    [60.0]
    """
    _require(signals, ["signal", "expected_value", "reason"], "signals")
    out = signals.copy()
    if measured is None or len(measured) == 0 or out.empty:
        return out
    f = measured.set_index("signal")["factor"].clip(lower=0.0)
    q = measured.set_index("signal")["assigned_quarter"] if "assigned_quarter" in measured.columns else None
    key = out["signal"].map(signal_key)
    hit = key.isin(f.index)
    out.loc[hit, "expected_value"] = out.loc[hit, "expected_value"] * key[hit].map(f)
    when = key[hit].map(q).fillna("") if q is not None else pd.Series("", index=key[hit].index)
    out.loc[hit, "reason"] = [
        f"{r} Value: {_pct(fx)} of the assumed, as measured by the control group of {w or 'an earlier run'}."
        for r, fx, w in zip(out.loc[hit, "reason"], key[hit].map(f), when)]
    return out


def decay_event_values(signals: pd.DataFrame, as_of: pd.Timestamp, window_days: int = 21) -> pd.DataFrame:
    """A market-event call loses value as the event's response window passes.

    Clients respond within ``window_days`` of an event (the responsiveness of notebook 03 is
    measured over that window), so a call made ``age`` days after the event can only catch the
    responses still to come: its value is multiplied by ``max(0, 1 - age / window_days)``, linear
    decay from full value on the event's day to nothing when the window closes (responses spread
    evenly across the window).

    Parameters
    ----------
    signals : DataFrame
        Signal rows (:data:`SIGNAL_COLUMNS`); rows whose signal is a market event are decayed.
    as_of : Timestamp
        Today.
    window_days : int
        The response window.

    Returns
    -------
    DataFrame
        ``signals`` with market-event values decayed and the reason saying how much is left.

    Examples
    --------
    >>> sig = pd.DataFrame({"client_id": ["a"], "signal": ["market event"], "action": ["call"], "topic": ["FX"],
    ...                     "reason": ["Event."], "expected_value": [210.0],
    ...                     "evidence_date": pd.to_datetime(["2026-09-23"])})
    >>> decay_event_values(sig, pd.Timestamp("2026-09-30"))["expected_value"].round(6).tolist()
    [140.0]
    """
    _require(signals, ["signal", "expected_value", "evidence_date", "reason"], "signals")
    if window_days <= 0:
        raise ValueError(f"window_days must be positive, got {window_days}")
    out = signals.copy()
    ev = out["signal"].map(signal_key) == "market_event"
    if not ev.any():
        return out
    age = (as_of.normalize() - pd.to_datetime(out.loc[ev, "evidence_date"]).dt.normalize()).dt.days.clip(lower=0)
    left = (1 - age / float(window_days)).clip(0, 1)
    out.loc[ev, "expected_value"] = out.loc[ev, "expected_value"] * left
    out.loc[ev, "reason"] = [
        f"{r} Call soon: {int(d)} of the {window_days} days in which clients respond have passed, so {_pct(lf)} of "
        "the value is left." for r, d, lf in zip(out.loc[ev, "reason"], age, left)]
    return out


def rank_actions(
    signals: pd.DataFrame,
    plan: pd.DataFrame,
    *,
    clients: pd.DataFrame | None = None,
    people: pd.DataFrame | None = None,
    persona_fit: pd.DataFrame | None = None,
    max_per_client: int = 2,
    max_per_person: int = 25,
) -> pd.DataFrame:
    """Merge the signals into one ranked next-best-action list per person.

    Rows for the same client and topic merge into one: the highest-value signal leads and the
    others' reasons are appended. Retire-intent clients get no action. Each client keeps its
    ``max_per_client`` most valuable actions; the person is the client's owner
    (``clients.owner_id``, else ``"unassigned"``); persona-channel fit is applied
    (:func:`apply_channel_fit`); each person's list is ranked by expected value (ties by client,
    topic) and cut at ``max_per_person``.

    Parameters
    ----------
    signals : DataFrame
        Concatenated outputs of the ``*_signals`` functions.
    plan : DataFrame
        ``client_id`` and optional ``intent``, ``tier``, ``persona``.
    clients : DataFrame, optional
        Canonical ``clients`` with ``owner_id``.
    people : DataFrame, optional
        Canonical ``people`` with ``style``.
    persona_fit : DataFrame, optional
        ``style``, ``persona``, ``outcome_per_touch``.
    max_per_client, max_per_person : int
        List limits.

    Returns
    -------
    DataFrame
        ``person_id``, ``client_id``, ``rank``, ``action``, ``topic``, ``reason``,
        ``expected_value``, ``signal``, ``tier``, ``evidence_date`` (no ``control`` yet: see
        :func:`assign_control`).

    Examples
    --------
    >>> sig = pd.DataFrame({"client_id": ["a", "a", "b"], "signal": ["headroom", "cross-sell", "detractor"],
    ...                     "action": ["meeting", "call", "call"], "topic": ["FX", "FX", "service recovery"],
    ...                     "reason": ["Big wallet.", "Peers hold FX.", "Scored 3."],
    ...                     "expected_value": [10.0, 5.0, 20.0], "evidence_date": [pd.NaT] * 3})
    >>> out = rank_actions(sig, pd.DataFrame({"client_id": ["a", "b"]}))
    >>> out[["client_id", "rank", "reason"]].values.tolist()
    [['b', 1, 'Scored 3.'], ['a', 2, 'Big wallet. Also: Peers hold FX.']]
    """
    _require(signals, SIGNAL_COLUMNS, "signals")
    _require(plan, ["client_id"], "plan")
    cols = ["person_id", "client_id", "rank", "action", "topic", "reason", "expected_value", "signal", "tier",
            "evidence_date"]
    s = signals.copy()
    if "intent" in plan.columns:
        s = s.loc[~s["client_id"].isin(plan.loc[plan["intent"] == "retire", "client_id"])]
    if s.empty:
        return pd.DataFrame({c: pd.Series(dtype=float if c == "expected_value" else "str") for c in cols})
    s = s.sort_values(["client_id", "topic", "expected_value", "signal"], ascending=[True, True, False, True])
    merged = s.groupby(["client_id", "topic"], as_index=False, sort=True).agg(
        signal=("signal", "first"), action=("action", "first"), expected_value=("expected_value", "first"),
        evidence_date=("evidence_date", "max"), reason=("reason", lambda r: " Also: ".join(r)))
    merged = merged.sort_values(["client_id", "expected_value", "topic"], ascending=[True, False, True])
    merged = merged.groupby("client_id", sort=False).head(max_per_client)
    owner = pd.Series(dtype="str")
    if clients is not None and "owner_id" in clients.columns:
        owner = clients.set_index("client_id")["owner_id"]
    merged["person_id"] = merged["client_id"].map(owner).astype(object).fillna("unassigned").astype("str")
    pl = plan.set_index("client_id")
    personas = pl["persona"] if "persona" in pl.columns else None
    styles = people.set_index("person_id")["style"] if people is not None and "style" in people.columns else None
    merged = apply_channel_fit(merged, personas=personas, styles=styles, persona_fit=persona_fit)
    merged["tier"] = (merged["client_id"].map(pl["tier"]) if "tier" in pl.columns
                      else pd.Series(None, index=merged.index, dtype=object)).astype(object).fillna(
        "unknown").astype("str")
    merged = merged.sort_values(["person_id", "expected_value", "client_id", "topic"],
                                ascending=[True, False, True, True], ignore_index=True)
    merged["rank"] = merged.groupby("person_id").cumcount() + 1
    merged = merged.loc[merged["rank"] <= max_per_person]
    return merged[cols].reset_index(drop=True)


def assign_control(
    actions: pd.DataFrame,
    share: float = 0.1,
    random_state: int = 42,
    strata: tuple = ("person_id", "tier"),
    quarter: str | None = None,
) -> pd.DataFrame:
    """Hold back a seeded, stratified random share of clients as a control group.

    The unit is the client (all of a client's actions share its flag), so treated and control
    clients can be compared next quarter. Within each stratum (person x tier by default) of ``n``
    clients, ``floor(share * n)`` clients plus one more with probability of the remainder are
    drawn (:func:`clientstrategy.experiment.assign`). With ``quarter`` (07 passes the run's
    quarter) the draw is seeded by the quarter as well, so it **rotates**: each quarter's control
    group is a fresh draw and a client held back this quarter is held back again next quarter
    only with probability ``share``. The same inputs always give the same assignment, whatever the
    row order and whatever happens in other strata.

    Parameters
    ----------
    actions : DataFrame
        ``client_id`` and the ``strata`` columns.
    share : float
        Expected share of clients held back, 0 to 1.
    random_state : int
        Seed.
    strata : tuple of str
        Stratification columns.
    quarter : str, optional
        The quarter of the list (e.g. ``"2026Q3"``); None leaves it out of the seed.

    Returns
    -------
    DataFrame
        ``actions`` plus ``control`` (bool).

    Examples
    --------
    >>> act = pd.DataFrame({"client_id": [f"c{i}" for i in range(10)], "person_id": "p", "tier": "Gold"})
    >>> int(assign_control(act, share=0.3)["control"].sum())
    3
    >>> int(assign_control(act, share=0.3, quarter="2026Q3")["control"].sum())
    3
    """
    held = experiment.assign(actions, share=share, random_state=random_state, strata=strata, quarter=quarter)
    out = actions.copy()
    out["control"] = out["client_id"].astype("str").map(held).fillna(False).astype(bool)
    return out


def alerts(
    as_of: pd.Timestamp,
    since: pd.Timestamp | None = None,
    *,
    market_events: pd.DataFrame | None = None,
    surveys: pd.DataFrame | None = None,
    plan: pd.DataFrame | None = None,
    previous_profile: pd.DataFrame | None = None,
    p_alive_drop: float = 0.15,
) -> pd.DataFrame:
    """Events since the last run that call for action.

    Kinds: ``market event`` (each event in ``(since, as_of]``), ``detractor`` (a score 0-6 in the
    window), and with a previous profile ``p_alive drop`` (fell by at least ``p_alive_drop``) and
    ``tier drop`` (moved to a lower tier).

    Parameters
    ----------
    as_of : Timestamp
        Today.
    since : Timestamp, optional
        Last run's as_of; default ``as_of - 91 days``.
    market_events, surveys : DataFrame, optional
        Canonical tables.
    plan : DataFrame, optional
        Current profile (``client_id``, ``p_alive``, ``tier``).
    previous_profile : DataFrame, optional
        Last run's profile.
    p_alive_drop : float
        Threshold for a p_alive drop.

    Returns
    -------
    DataFrame
        ``date``, ``kind``, ``client_id``, ``topic``, ``detail``; sorted by date, kind, client.

    Examples
    --------
    >>> ev = pd.DataFrame({"date": pd.to_datetime(["2026-09-01", "2026-01-01"]), "topic": ["FX", "FX"]})
    >>> alerts(pd.Timestamp("2026-09-30"), market_events=ev)["kind"].tolist()
    ['market event']
    """
    since = as_of - pd.Timedelta(days=91) if since is None else since
    rows = []
    if market_events is not None and len(market_events):
        _require(market_events, ["date", "topic"], "market_events")
        ev = market_events.loc[(market_events["date"] > since) & (market_events["date"] <= as_of)]
        for x in ev.itertuples(index=False):
            head = getattr(x, "headline", None)
            mag = getattr(x, "magnitude", None)
            detail = head if isinstance(head, str) and head else f"market event on {x.topic}"
            if mag is not None and np.isfinite(mag):
                detail += f" (magnitude {mag:.1f})"
            rows.append({"date": x.date, "kind": "market event", "client_id": None, "topic": str(x.topic),
                         "detail": detail})
    if surveys is not None and len(surveys):
        _require(surveys, ["date", "client_id", "nps"], "surveys")
        s = surveys.loc[(surveys["date"] > since) & (surveys["date"] <= as_of) & (_num(surveys, "nps") <= 6)]
        for x in s.itertuples(index=False):
            rows.append({"date": x.date, "kind": "detractor", "client_id": x.client_id, "topic": "service recovery",
                         "detail": f"scored {int(x.nps)}/10"})
    if plan is not None and previous_profile is not None:
        _require(plan, ["client_id"], "plan")
        _require(previous_profile, ["client_id"], "previous_profile")
        both = plan.merge(previous_profile, on="client_id", suffixes=("", "_prev"))
        if "p_alive" in both.columns and "p_alive_prev" in both.columns:
            d = both.loc[(_num(both, "p_alive_prev") - _num(both, "p_alive")) >= p_alive_drop]
            for x in d.itertuples(index=False):
                rows.append({"date": as_of, "kind": "p_alive drop", "client_id": x.client_id, "topic": "retention",
                             "detail": f"chance still active fell from {_pct(x.p_alive_prev)} to {_pct(x.p_alive)}"})
        if "tier" in both.columns and "tier_prev" in both.columns:
            order = {"Platinum": 0, "Gold": 1, "Silver": 2, "Bronze": 3}
            t0, t1 = both["tier_prev"].map(order), both["tier"].map(order)
            d = both.loc[t1 > t0]
            for x in d.itertuples(index=False):
                rows.append({"date": as_of, "kind": "tier drop", "client_id": x.client_id, "topic": "retention",
                             "detail": f"moved from {x.tier_prev} to {x.tier}"})
    cols = ["date", "kind", "client_id", "topic", "detail"]
    if not rows:
        return pd.DataFrame({"date": pd.Series(dtype="datetime64[ns]"),
                             **{c: pd.Series(dtype="str") for c in cols[1:]}})
    out = pd.DataFrame(rows)[cols]
    out["date"] = pd.to_datetime(out["date"])
    return out.sort_values(["date", "kind", "client_id"], ignore_index=True, na_position="first")


def plot_actions(actions: pd.DataFrame):
    """Bar chart: number of recommended actions and their expected value by signal.

    Parameters
    ----------
    actions : DataFrame
        ``signal``, ``expected_value`` (e.g. the treated rows of the action list).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    _require(actions, ["signal", "expected_value"], "actions")
    g = actions.groupby("signal")["expected_value"].agg(["size", "sum"]).sort_values("sum")
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    axes[0].barh(g.index, g["size"], color="#4c72b0")
    axes[0].set_xlabel("Recommended conversations")
    axes[1].barh(g.index, g["sum"], color="#55a868")
    axes[1].set_xlabel("Expected extra revenue over 12 months")
    axes[0].set_title("Why we are calling")
    axes[1].set_title("What it should be worth")
    return fig


def no_signal_reasons(used, plan: pd.DataFrame | None = None) -> list[str]:
    """Why each signal that ran found nobody, in words: its rule, from the signal functions' defaults.

    Page 07 says this when no signal called for a conversation, so an empty list is explained
    rather than shown bare (issue 17: "no signal called for a conversation" without why). Where
    the purchase model sees almost no drop-out (every client's ``p_alive`` at or above the falling-
    activity bar), that is said too: it is why nobody can look at risk.

    Parameters
    ----------
    used : sequence of str
        The signals that ran, by page 07's names ("falling activity", "cross-sell", "headroom",
        "detractors", "market events", "digital interest").
    plan : DataFrame, optional
        With ``p_alive``: to tell when the model leaves nobody at risk.

    Returns
    -------
    list of str

    Examples
    --------
    >>> pl = pd.DataFrame({"client_id": ["a"], "p_alive": [0.99]})
    >>> r = no_signal_reasons(["falling activity"], pl)
    >>> r[0][:56], r[1][:40]
    ('falling activity: no client still buying has a chance of', 'the purchase model sees almost no drop-o')
    """
    import inspect

    def default(fn, name):
        return inspect.signature(fn).parameters[name].default

    bar = default(churn_signals, "p_alive_max")
    rules = {
        "falling activity": (f"no client still buying has a chance of still being active below "
                             f"{_pct(bar)}, nor one whose chance fell by {round(100 * default(churn_signals, 'drop'))} points since the "
                             "last run"),
        "cross-sell": (f"no client lacks a category that {_pct(default(cross_sell_signals, 'min_adoption'))} of its "
                       f"{default(cross_sell_signals, 'n_neighbors')} most similar clients buy (with one category, or "
                       "clients who all buy alike, there is nothing to cross-sell)"),
        "headroom": "no client with a grow intent has headroom (spend we do not yet win)",
        "detractors": (f"no client scored us 0 to 6 in the last {default(detractor_signals, 'window_days')} days"),
        "market events": (f"no market event in the last {default(market_event_signals, 'window_days')} days touched a "
                          "topic its clients respond to"),
        "digital interest": (f"no client showed {default(digital_interest_signals, 'min_events')} or more views or "
                             f"searches of a topic in the last {default(digital_interest_signals, 'window_days')} days"),
    }
    out = [f"{name}: {rules.get(name, 'no client met its rule')}" for name in used]
    if (plan is not None and "falling activity" in used and "p_alive" in plan.columns
            and plan["p_alive"].notna().any() and float(plan["p_alive"].min()) >= bar):
        out.append(f"the purchase model sees almost no drop-out (page 01): the lowest chance of still being active "
                   f"among the clients is {_pct(float(plan['p_alive'].min()))}, so nobody can look at risk")
    return out

