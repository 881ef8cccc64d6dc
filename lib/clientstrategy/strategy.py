"""From insight to strategy: two-way value, client groups, intents, service levels and the budget.

The chain (seed 001, "How to create your customer strategy"; seed 000, "client strategy driving
business strategy"):

1. :func:`value_scores` -- value to the business and value to the client, each 0-1, from stated
   ingredients and weights (percentile ranks among clients, NPS on its own 0-10 scale).
2. :func:`assign_groups` -- a 2x2 of groups with business names (:data:`GROUP_NAMES`), or, where the
   data measure only one side, groups of that side named for it (:data:`ONE_WAY_NAMES`).
3. :func:`assign_intents` -- grow / maintain / re-engineer / retire, at most two per group
   (:data:`DEFAULT_POLICY`), with :func:`apply_overrides` for an analyst's CSV of decisions.
4. :func:`assign_service_levels` -- Platinum/Gold/Silver/Bronze as a *service* (touches and
   channels, :data:`SERVICE_MODEL`), and :func:`service_coverage` / :func:`capacity_summary` to
   check them against people's actual time.
5. :func:`client_budget` / :func:`budget_table` -- the bottom-up plan beside a top-down target: each
   client's forecast from the models (``plan.existing_forecast``), changed by its intent
   (:func:`intent_effects`), new clients as their own line, and ranges of every total from the
   joint simulation of ``plan.simulate_plan``; :func:`gap_bridge` explains the gap.
6. :func:`group_summary` and :func:`scorecard` -- each group's share of the portfolio and a
   several-dimension scorecard (seed 002).

:func:`build_plan` runs steps 1-4 in one call; :func:`what_if_widget` lets an analyst move the
thresholds and assumptions in JupyterLab.
"""
from __future__ import annotations

import html as _html
import textwrap

import numpy as np
import pandas as pd

from . import features
from .frames import numeric as _num
from .frames import require as _require
from .schema import INTENTS, PROFILE_COLUMNS, TIERS
from .words import pct as _pct

__all__ = [
    "BUDGET_ASSUMPTIONS",
    "BUDGET_MEANINGS",
    "BUSINESS_WEIGHTS",
    "CLIENT_WEIGHTS",
    "DEFAULT_POLICY",
    "GROUP_DESCRIPTIONS",
    "GROUP_NAMES",
    "INTENT_OUTCOMES",
    "ONE_WAY_NAMES",
    "SERVICE_MODEL",
    "UNMEASURED_GROUP",
    "apply_overrides",
    "assign_groups",
    "assign_intents",
    "assign_service_levels",
    "budget_table",
    "build_plan",
    "capacity_summary",
    "client_budget",
    "client_margin",
    "gap_bridge",
    "group_summary",
    "ingredient_spread",
    "intent_effects",
    "margin_rates",
    "plot_bridge",
    "plot_capacity",
    "plot_value_map",
    "product_breadth",
    "scorecard",
    "service_coverage",
    "value_scores",
    "what_if_widget",
]

#: Ingredients of value to the business and their default weights.
BUSINESS_WEIGHTS = {"clv": 0.4, "margin": 0.2, "growth": 0.2, "headroom": 0.2}
#: Ingredients of value to the client and their default weights.
CLIENT_WEIGHTS = {"engagement": 0.3, "nps": 0.3, "breadth": 0.2, "responsiveness": 0.2}

#: (high value to business, high value to client) -> group name.
GROUP_NAMES = {
    (True, True): "Strategic partners",
    (True, False): "Value at risk",
    (False, True): "Untapped advocates",
    (False, False): "Transactional",
}
#: When nothing in the data measures one side of the exchange (every client scores the middle on
#: it: a purchase log says nothing of what clients get from us), the groups split on the measured
#: side alone and are named for it: (measured side, high on it) -> group name. With neither side
#: measured every client is in "Value not measured".
ONE_WAY_NAMES = {
    ("business", True): "High value to us",
    ("business", False): "Low value to us",
    ("client", True): "High value to them",
    ("client", False): "Low value to them",
}
UNMEASURED_GROUP = "Value not measured"
GROUP_DESCRIPTIONS = {
    "Strategic partners": "worth a lot to us and get a lot from us: the sweet spot of the two-way exchange",
    "Value at risk": "worth a lot to us but get little from us: the relationship needs re-working",
    "Untapped advocates": "value what we do but bring in little: room to grow our share",
    "Transactional": "low value both ways: serve efficiently or let go",
    "High value to us": "worth a lot to us; nothing in the data says what they get from us",
    "Low value to us": "worth little to us; nothing in the data says what they get from us",
    "High value to them": "get a lot from us; nothing in the data says what they are worth to us",
    "Low value to them": "get little from us; nothing in the data says what they are worth to us",
    UNMEASURED_GROUP: "nothing in the data measures value either way",
}

#: group -> (primary intent, fallback intent). The primary applies when its condition holds:
#: ``grow`` needs an alive client with high headroom; ``maintain`` and ``re-engineer`` need an
#: alive client; ``retire`` always applies. Otherwise the fallback applies.
#: The one-way groups: high value to us as a strategic partner; low value to us is kept while it
#: buys and let go when it has stopped (without the client side, neither "untapped" nor
#: "transactional" can be told apart); on the client side alone, as the 2x2's advocates and
#: transactional clients. With nothing measured either way, nothing tells one client's intent from
#: another's: every client is maintained.
DEFAULT_POLICY = {
    "Strategic partners": ("grow", "maintain"),
    "Untapped advocates": ("grow", "maintain"),
    "Value at risk": ("re-engineer", "retire"),
    "Transactional": ("re-engineer", "retire"),
    "High value to us": ("grow", "maintain"),
    "Low value to us": ("maintain", "retire"),
    "High value to them": ("grow", "maintain"),
    "Low value to them": ("re-engineer", "retire"),
    UNMEASURED_GROUP: ("maintain", "maintain"),
}

#: Expected outcome of each intent, in words; the numbers behind them are BUDGET_ASSUMPTIONS.
INTENT_OUTCOMES = {
    "grow": "revenue rises by capturing part of the client's headroom; more products held",
    "maintain": "revenue held at what the purchase model expects; satisfaction and engagement kept",
    "re-engineer": "revenue held while cost-to-serve falls (lighter channels); value to the client should rise",
    "retire": "revenue winds down; coverage time is released for grow clients",
}

#: The service each level gets (per quarter) and through which channels.
SERVICE_MODEL = pd.DataFrame(
    {
        "service_level": list(TIERS),
        "touches_per_quarter": [12.0, 6.0, 3.0, 1.0],
        "channels": [
            "monthly meeting, fortnightly call, events, analyst access",
            "quarterly meeting, monthly call, events",
            "call each month, event invitations, email",
            "email and digital self-service",
        ],
    }
)

#: Bottom-up budget assumptions (fractions), each a notebook 06 parameter of the same name and shown
#: on page 06 with :data:`BUDGET_MEANINGS`: grow captures ``headroom_capture_year`` of headroom in a
#: year (or ``grow_uplift`` of the base when headroom is unknown), at most ``grow_cap`` of the base
#: (a client rarely grows faster, however large its wallet); re-engineer changes the base by
#: ``reengineer_change``; retire keeps ``retire_keep`` of it; the top-down target is
#: ``target_growth`` over last year's revenue. ``headroom_capture_year`` is a year of the grow plan;
#: one conversation's share is ``execution.ACTION_ASSUMPTIONS["headroom_capture_conversation"]``.
BUDGET_ASSUMPTIONS = {
    "headroom_capture_year": 0.10,
    "grow_uplift": 0.10,
    "grow_cap": 0.25,
    "reengineer_change": 0.0,
    "retire_keep": 0.5,
    "target_growth": 0.08,
}

#: What each budget assumption means, in words (pages 06 and 07 show it beside the value).
BUDGET_MEANINGS = {
    "headroom_capture_year": ("share of its headroom a grow client converts within a year: the whole year of its "
                              "grow plan, all its conversations together"),
    "grow_uplift": "growth in a year of a grow client whose headroom is unknown, as a share of its forecast",
    "grow_cap": "most a grow client can grow in a year, as a share of its forecast (its yearly revenue)",
    "reengineer_change": "revenue change in a year of a re-engineer client, as a share of its forecast",
    "retire_keep": "share of its forecast a retire client still brings in the year",
    "target_growth": "the top-down target: growth on last year's revenue",
}

_TEXT_COLUMNS = {"tier", "segment", "persona", "group", "intent", "service_level"}


def _ltm(revenue: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    start = as_of - pd.DateOffset(months=12)
    return revenue.loc[(revenue["date"] > start) & (revenue["date"] <= as_of)]


def client_margin(revenue: pd.DataFrame, products: pd.DataFrame | None, as_of: pd.Timestamp) -> pd.DataFrame:
    """Gross margin per client over the last twelve months.

    Uses ``amount - cost`` where the revenue table has ``cost``, else ``amount * margin_rate`` of
    the product; rows with neither count no margin.

    Parameters
    ----------
    revenue : DataFrame
        Canonical ``revenue`` (``date``, ``client_id``, ``amount``; optional ``cost``, ``product_id``).
    products : DataFrame or None
        Canonical ``products`` with ``margin_rate``.
    as_of : Timestamp
        End of the period; later rows are ignored.

    Returns
    -------
    DataFrame
        ``client_id``, ``margin`` (float). Empty when no margin can be computed.

    Examples
    --------
    >>> rev = pd.DataFrame({"date": pd.to_datetime(["2026-01-05"]), "client_id": ["a"],
    ...                     "amount": [100.0], "cost": [60.0]})
    >>> client_margin(rev, None, pd.Timestamp("2026-03-31"))["margin"].tolist()
    [40.0]
    """
    _require(revenue, ["date", "client_id", "amount"], "revenue")
    r = _ltm(revenue, as_of)
    cost = _num(r, "cost")
    rate = pd.Series(np.nan, index=r.index, dtype=float)
    if products is not None and "margin_rate" in products.columns and "product_id" in r.columns:
        _require(products, ["product_id"], "products")
        rates = products.set_index("product_id")["margin_rate"].astype(float)
        rate = r["product_id"].map(rates).astype(float)
    amount = r["amount"].astype(float)
    margin = (amount - cost).where(cost.notna(), amount * rate)
    if margin.notna().sum() == 0:
        return pd.DataFrame({"client_id": pd.Series(dtype="str"), "margin": pd.Series(dtype=float)})
    out = margin.groupby(r["client_id"]).sum(min_count=1).rename("margin").reset_index()
    return out.sort_values("client_id", ignore_index=True)


def product_breadth(revenue: pd.DataFrame, products: pd.DataFrame | None, as_of: pd.Timestamp) -> pd.DataFrame:
    """Number of distinct product categories (or products) each client bought in the last twelve months.

    Parameters
    ----------
    revenue : DataFrame
        Canonical ``revenue`` with ``product_id``.
    products : DataFrame or None
        Canonical ``products`` with ``category``; without it products are counted.
    as_of : Timestamp
        End of the period.

    Returns
    -------
    DataFrame
        ``client_id``, ``breadth`` (int); empty when revenue has no ``product_id``.

    Examples
    --------
    >>> rev = pd.DataFrame({"date": pd.to_datetime(["2026-01-05"] * 3), "client_id": ["a", "a", "b"],
    ...                     "amount": [1.0, 2.0, 3.0], "product_id": ["p1", "p2", "p1"]})
    >>> product_breadth(rev, None, pd.Timestamp("2026-03-31"))["breadth"].tolist()
    [2, 1]
    """
    _require(revenue, ["date", "client_id", "amount"], "revenue")
    if "product_id" not in revenue.columns or revenue["product_id"].isna().all():
        return pd.DataFrame({"client_id": pd.Series(dtype="str"), "breadth": pd.Series(dtype=int)})
    r = _ltm(revenue, as_of)
    r = r.loc[r["amount"] > 0]
    item = r["product_id"]
    if products is not None and "category" in products.columns:
        item = r["product_id"].map(products.set_index("product_id")["category"]).fillna(r["product_id"])
    out = item.groupby(r["client_id"]).nunique().rename("breadth").reset_index()
    return out.sort_values("client_id", ignore_index=True)


def _pct_rank(s: pd.Series) -> pd.Series:
    return s.rank(pct=True, method="average")


def _normalise_weights(weights: dict, allowed: dict, what: str) -> dict:
    unknown = set(weights) - set(allowed)
    if unknown:
        raise ValueError(f"unknown {what} ingredient(s) {sorted(unknown)}; known: {sorted(allowed)}")
    if any(float(w) < 0 for w in weights.values()):
        raise ValueError(f"{what} weights must be non-negative")
    return {k: float(v) for k, v in weights.items()}


def _combine(parts: dict[str, pd.Series], weights: dict) -> pd.Series:
    """Weighted mean of the available ingredient scores, weights renormalised per client."""
    idx = next(iter(parts.values())).index if parts else None
    if not parts:
        return pd.Series(dtype=float)
    num = pd.Series(0.0, index=idx)
    den = pd.Series(0.0, index=idx)
    for name, s in parts.items():
        w = weights.get(name, 0.0)
        num = num + s.fillna(0.0) * w
        den = den + s.notna() * w
    return (num / den).where(den > 0)


def ingredient_spread(values: pd.Series) -> dict:
    """How much a value ingredient varies among the clients who have it.

    The rule of :func:`value_scores`: an ingredient has **no spread** when its interquartile range
    is zero, that is when the middle half of the clients who have it share one value. Its
    percentile ranks then cannot tell the typical client from the next, and give the tied clients
    one shared mid-rank whose side of a group threshold is an accident (Online Retail: one category
    held by nearly every client put 4,380 clients at 0.4997 against a 0.50 threshold; Bank
    Marketing: "response to events" is 0 for the 89% of clients with nothing to score).

    Parameters
    ----------
    values : Series
        One ingredient per client (NaN = the client has none).

    Returns
    -------
    dict
        ``clients`` (with a value), ``distinct`` (different values), ``median``, ``iqr``
        (interquartile range, 0 when fewer than two clients), ``value`` (the most common value) and
        ``tie_share`` (the share of clients holding it; 1.0 when one value or none).

    Examples
    --------
    >>> ingredient_spread(pd.Series([1, 1, 1, 2, None]))["iqr"], ingredient_spread(pd.Series([0, 5, 8, 10, 10]))["iqr"]
    (0.25, 5.0)
    >>> ingredient_spread(pd.Series([1] * 8 + [2] * 2))["iqr"]
    0.0
    """
    v = pd.to_numeric(pd.Series(values), errors="coerce").dropna().astype(float)
    if v.empty:
        return {"clients": 0, "distinct": 0, "median": float("nan"), "iqr": 0.0, "value": float("nan"),
                "tie_share": 1.0}
    counts = v.value_counts(sort=False)
    top = counts.sort_index(kind="mergesort").sort_values(ascending=False, kind="mergesort")
    q1, q3 = np.quantile(v.to_numpy(), [0.25, 0.75])
    return {"clients": len(v), "distinct": len(counts), "median": float(v.median()), "iqr": float(q3 - q1),
            "value": float(top.index[0]), "tie_share": float(top.iloc[0] / len(v))}


def value_scores(
    profile: pd.DataFrame,
    *,
    margin: pd.DataFrame | None = None,
    breadth: pd.DataFrame | None = None,
    responsiveness: pd.DataFrame | None = None,
    business_weights: dict | None = None,
    client_weights: dict | None = None,
) -> pd.DataFrame:
    """Value to the business and value to the client, each 0-1.

    Each ingredient becomes a 0-1 score: a percentile rank among clients (average ranks for ties),
    except NPS, which is ``nps_last / 10`` on its own scale. A dimension is the weighted mean of
    the ingredients a client has; weights are renormalised over the ingredients present, so a
    source table that is absent simply drops out. A client with no ingredient in a dimension gets
    the dimension's median (0.5 when nobody has one).

    **Rule for spread:** an ingredient whose interquartile range among the clients who have it is
    zero (the middle half of them share one value; :func:`ingredient_spread`) is left out, with the
    reason in ``attrs["left_out"]``: tied clients all get the same mid-rank, and whether that rank
    falls above or below a group threshold is an accident of the tie, not a difference between
    clients.

    Ingredients -- business: ``clv`` (profile ``clv``; ``revenue_ltm`` stands in when clv is all
    null), ``margin`` (``margin`` frame), ``growth`` and ``headroom`` (profile). Client:
    ``engagement`` (``engagement_score``), ``nps`` (``nps_last``), ``breadth`` (``breadth`` frame),
    ``responsiveness`` (highest topic responsiveness of the client).

    Parameters
    ----------
    profile : DataFrame
        SPEC ``client_profile`` (needs ``client_id``; other columns may be missing or all null).
    margin, breadth : DataFrame, optional
        From :func:`client_margin` / :func:`product_breadth`.
    responsiveness : DataFrame, optional
        ``client_id``, ``topic``, ``responsiveness`` (notebook 03).
    business_weights, client_weights : dict, optional
        Ingredient -> weight; defaults :data:`BUSINESS_WEIGHTS`, :data:`CLIENT_WEIGHTS`.

    Returns
    -------
    DataFrame
        ``client_id``, ``value_to_business``, ``value_to_client`` and one ``vb_<ingredient>`` /
        ``vc_<ingredient>`` score column per ingredient used. ``attrs["ingredients"]`` lists the
        ingredients used per dimension (and ``"clv<-revenue_ltm"`` when revenue stood in);
        ``attrs["left_out"]`` gives, per dimension, each ingredient with data that was left out for
        want of spread, with its :func:`ingredient_spread`.

    Examples
    --------
    >>> p = pd.DataFrame({"client_id": ["a", "b"], "clv": [10.0, 20.0], "nps_last": [10.0, 0.0]})
    >>> value_scores(p)[["value_to_business", "value_to_client"]].values.tolist()
    [[0.5, 1.0], [1.0, 0.0]]
    """
    _require(profile, ["client_id"], "client_profile")
    if profile["client_id"].duplicated().any():
        raise ValueError("client_profile column 'client_id' has duplicates")
    bw = _normalise_weights(business_weights if business_weights is not None else BUSINESS_WEIGHTS,
                            BUSINESS_WEIGHTS, "business")
    cw = _normalise_weights(client_weights if client_weights is not None else CLIENT_WEIGHTS,
                            CLIENT_WEIGHTS, "client")
    p = profile.reset_index(drop=True)
    ids = p["client_id"]
    used = {"business": [], "client": []}
    left_out = {"business": {}, "client": {}}

    def _from_frame(frame, col, table, how="first"):
        if frame is None or len(frame) == 0:
            return pd.Series(np.nan, index=p.index)
        _require(frame, ["client_id", col], table)
        vals = pd.to_numeric(frame[col], errors="coerce").groupby(frame["client_id"]).agg(how)
        return ids.map(vals).astype(float)

    raw_b = {}
    clv = _num(p, "clv")
    if clv.notna().any():
        raw_b["clv"] = clv
    elif _num(p, "revenue_ltm").notna().any():
        raw_b["clv"] = _num(p, "revenue_ltm")
        used["business"].append("clv<-revenue_ltm")
    raw_b["margin"] = _from_frame(margin, "margin", "margin")
    raw_b["growth"] = _num(p, "growth")
    raw_b["headroom"] = _num(p, "headroom")
    raw_c = {
        "engagement": _num(p, "engagement_score"),
        "nps": _num(p, "nps_last"),
        "breadth": _from_frame(breadth, "breadth", "breadth"),
        "responsiveness": _from_frame(responsiveness, "responsiveness", "responsiveness", how="max"),
    }
    out = pd.DataFrame({"client_id": ids})
    for dim, raw, weights, prefix, col in (
        ("business", raw_b, bw, "vb_", "value_to_business"),
        ("client", raw_c, cw, "vc_", "value_to_client"),
    ):
        parts = {}
        for name, s in raw.items():
            if name not in weights or weights[name] == 0 or s.notna().sum() == 0:
                continue
            spread = ingredient_spread(s)
            if spread["iqr"] <= 0:  # the middle half of the clients share one value: no spread
                left_out[dim][name] = spread
                if name == "clv" and "clv<-revenue_ltm" in used[dim]:
                    used[dim].remove("clv<-revenue_ltm")
                continue
            parts[name] = (s / 10.0).clip(0, 1) if name == "nps" else _pct_rank(s)
            out[prefix + name] = parts[name]
            used[dim].append(name)
        score = _combine(parts, weights) if parts else pd.Series(np.nan, index=p.index)
        fill = score.median() if score.notna().any() else 0.5
        out[col] = score.fillna(fill).astype(float)
    out = out[["client_id", "value_to_business", "value_to_client"]
              + [c for c in out.columns if c.startswith(("vb_", "vc_"))]]
    out.attrs["ingredients"] = used
    out.attrs["left_out"] = left_out
    return out


def assign_groups(scores: pd.DataFrame, business_threshold: float = 0.5,
                  client_threshold: float = 0.5, measured: dict | None = None) -> pd.DataFrame:
    """Place each client in the 2x2 of two-way value, or on the one side the data measure.

    A client is "high" on a dimension when its score is at or above the threshold. A side that
    nothing in the data measures (no ingredient with spread: every client scores the middle) does
    not split the clients: the groups are then :data:`ONE_WAY_NAMES` of the other side, named for
    it, so no group claims what the data cannot say ("Strategic partners" of a purchase log).

    Parameters
    ----------
    scores : DataFrame
        ``client_id``, ``value_to_business``, ``value_to_client`` (from :func:`value_scores`).
    business_threshold, client_threshold : float
        Cut-offs on the 0-1 scores.
    measured : dict, optional
        ``{"business": bool, "client": bool}``: which sides the data measure. None: from
        ``scores.attrs["ingredients"]`` (a side with no ingredient is not measured; both are when
        the attribute is absent).

    Returns
    -------
    DataFrame
        ``scores`` plus ``group`` (one of :data:`GROUP_NAMES`' values, of :data:`ONE_WAY_NAMES`'
        or :data:`UNMEASURED_GROUP`).

    Examples
    --------
    >>> s = pd.DataFrame({"client_id": ["a", "b"], "value_to_business": [0.9, 0.1],
    ...                   "value_to_client": [0.2, 0.7]})
    >>> assign_groups(s)["group"].tolist()
    ['Value at risk', 'Untapped advocates']
    >>> assign_groups(s, measured={"business": True, "client": False})["group"].tolist()
    ['High value to us', 'Low value to us']
    """
    _require(scores, ["client_id", "value_to_business", "value_to_client"], "scores")
    for name, t in (("business_threshold", business_threshold), ("client_threshold", client_threshold)):
        if not 0 <= float(t) <= 1:
            raise ValueError(f"{name} must be between 0 and 1, got {t}")
    if measured is None:
        used = scores.attrs.get("ingredients")
        measured = {side: bool(used.get(side)) for side in ("business", "client")} if used else {}
    m_b, m_c = bool(measured.get("business", True)), bool(measured.get("client", True))
    out = scores.copy()
    hb = out["value_to_business"].astype(float) >= business_threshold
    hc = out["value_to_client"].astype(float) >= client_threshold
    if m_b and m_c:
        names = [GROUP_NAMES[(bool(b), bool(c))] for b, c in zip(hb, hc)]
    elif m_b:
        names = [ONE_WAY_NAMES[("business", bool(b))] for b in hb]
    elif m_c:
        names = [ONE_WAY_NAMES[("client", bool(c))] for c in hc]
    else:
        names = [UNMEASURED_GROUP] * len(out)
    out["group"] = pd.Series(names, index=out.index, dtype="str")
    return out


def _check_policy(policy: dict) -> None:
    for group, intents in policy.items():
        intents = tuple(intents)
        if not 1 <= len(intents) <= 2:
            raise ValueError(f"policy for group {group!r} must name one or two intents, got {intents}")
        bad = [i for i in intents if i not in INTENTS]
        if bad:
            raise ValueError(f"policy for group {group!r} has unknown intent(s) {bad}; known: {INTENTS}")


def assign_intents(
    plan: pd.DataFrame,
    *,
    policy: dict | None = None,
    p_alive_min: float = 0.5,
    headroom_quantile: float = 0.5,
) -> pd.DataFrame:
    """Intent per client from its group, with at most two intents per group.

    Rules (parameters in brackets):

    * a client is *alive* when ``p_alive >= p_alive_min`` [0.5]; without ``p_alive``, when
      ``revenue_ltm > 0``;
    * a client has *high headroom* when its ``headroom`` is positive and at or above the
      ``headroom_quantile`` [0.5] of clients' headroom; without any headroom data, when
      ``growth >= 0``;
    * each group has (primary, fallback) intents [:data:`DEFAULT_POLICY`]; the primary applies
      when its condition holds -- ``grow``: alive and high headroom; ``maintain``/``re-engineer``:
      alive; ``retire``: always -- otherwise the fallback. A client that is not alive therefore
      never gets ``grow``.

    Parameters
    ----------
    plan : DataFrame
        ``client_id``, ``group`` and any of ``p_alive``, ``revenue_ltm``, ``headroom``, ``growth``.
    policy : dict, optional
        group -> (primary, fallback) or (single,) intents.
    p_alive_min : float
        Alive threshold on ``p_alive``.
    headroom_quantile : float
        Quantile of headroom above which a client counts as high headroom.

    Returns
    -------
    DataFrame
        ``plan`` plus ``alive`` (bool), ``high_headroom`` (bool), ``intent``, ``intent_source``
        (``"rule"``) and ``intent_reason`` (words).

    Examples
    --------
    >>> pl = pd.DataFrame({"client_id": ["a", "b"], "group": ["Strategic partners"] * 2,
    ...                    "p_alive": [0.9, 0.1], "headroom": [500.0, 100.0]})
    >>> assign_intents(pl)["intent"].tolist()
    ['grow', 'maintain']
    """
    _require(plan, ["client_id", "group"], "plan")
    policy = dict(DEFAULT_POLICY if policy is None else policy)
    _check_policy(policy)
    missing = sorted(set(plan["group"].dropna()) - set(policy))
    if missing:
        raise ValueError(f"policy has no intents for group(s) {missing}")
    if not 0 <= headroom_quantile <= 1:
        raise ValueError("headroom_quantile must be between 0 and 1")
    out = plan.copy()
    p_alive = _num(out, "p_alive")
    rev = _num(out, "revenue_ltm")
    alive = (p_alive >= p_alive_min).where(p_alive.notna(), rev > 0).astype(bool)
    headroom = _num(out, "headroom")
    if headroom.notna().any():
        pos = headroom[headroom > 0]
        cut = float(pos.quantile(headroom_quantile)) if len(pos) else np.inf
        high = (headroom > 0) & (headroom >= cut)
        basis = f"headroom at or above {cut:,.0f} (the {headroom_quantile:.0%} quantile)"
    else:
        high = _num(out, "growth") >= 0
        basis = "revenue not falling (no headroom data)"
    high = high.fillna(False).astype(bool)
    intents, reasons = [], []
    for g, a, h in zip(out["group"], alive, high):
        chosen = policy[g]
        primary, fallback = chosen[0], chosen[-1]
        ok = {"grow": a and h, "maintain": a, "re-engineer": a}.get(primary, True)
        if ok:
            intents.append(primary)
            reasons.append(f"{g}: {primary} ({'alive and ' + basis if primary == 'grow' else 'default'})")
        else:
            intents.append(fallback)
            why = "not alive" if not a else "headroom below the bar"
            reasons.append(f"{g}: {fallback} ({why})")
    out["alive"] = alive.to_numpy()
    out["high_headroom"] = high.to_numpy()
    out["intent"] = pd.Series(intents, index=out.index, dtype="str")
    out["intent_source"] = "rule"
    out["intent_reason"] = pd.Series(reasons, index=out.index, dtype="str")
    return out


def apply_overrides(plan: pd.DataFrame, overrides: pd.DataFrame | None) -> pd.DataFrame:
    """Apply an analyst's decisions (a CSV of ``client_id``, ``intent`` and optional ``reason``).

    Parameters
    ----------
    plan : DataFrame
        Output of :func:`assign_intents`.
    overrides : DataFrame or None
        ``client_id``, ``intent`` (one of grow, maintain, re-engineer, retire), optional
        ``reason``. ``None`` or empty returns ``plan`` unchanged (a copy).

    Returns
    -------
    DataFrame
        ``plan`` with the overridden rows' ``intent`` replaced, ``intent_source = "analyst"`` and
        ``intent_reason`` from ``reason`` (or "analyst decision").

    Raises
    ------
    ValueError
        If a column is missing, an intent is unknown, a client is unknown or listed twice.

    Examples
    --------
    >>> pl = pd.DataFrame({"client_id": ["a"], "intent": ["grow"], "intent_source": ["rule"],
    ...                    "intent_reason": ["x"]})
    >>> apply_overrides(pl, pd.DataFrame({"client_id": ["a"], "intent": ["retire"]}))["intent"].tolist()
    ['retire']
    """
    _require(plan, ["client_id", "intent"], "plan")
    out = plan.copy()
    if "intent_source" not in out.columns:
        out["intent_source"] = "rule"
    if "intent_reason" not in out.columns:
        out["intent_reason"] = ""
    if overrides is None or len(overrides) == 0:
        return out
    _require(overrides, ["client_id", "intent"], "overrides")
    ov = overrides.copy()
    ov["client_id"] = ov["client_id"].astype("str")
    ov["intent"] = ov["intent"].astype("str").str.strip().str.lower()
    bad = sorted(set(ov["intent"]) - set(INTENTS))
    if bad:
        raise ValueError(f"overrides column 'intent' has unknown values {bad}; known: {list(INTENTS)}")
    dup = ov["client_id"][ov["client_id"].duplicated()].tolist()
    if dup:
        raise ValueError(f"overrides column 'client_id' lists clients twice: {dup[:5]}")
    unknown = sorted(set(ov["client_id"]) - set(out["client_id"]))
    if unknown:
        raise ValueError(f"overrides column 'client_id' has {len(unknown)} unknown client(s), e.g. {unknown[:5]}")
    reason = ov["reason"].astype("str") if "reason" in ov.columns else pd.Series("", index=ov.index)
    reason = reason.fillna("").where(reason.fillna("").str.len() > 0, "analyst decision")
    m = out["client_id"].isin(ov["client_id"])
    intent_map = ov.set_index("client_id")["intent"]
    reason_map = pd.Series(reason.to_numpy(), index=ov["client_id"])
    out.loc[m, "intent"] = out.loc[m, "client_id"].map(intent_map)
    out.loc[m, "intent_source"] = "analyst"
    out.loc[m, "intent_reason"] = out.loc[m, "client_id"].map(reason_map)
    return out


def assign_service_levels(plan: pd.DataFrame, *, shift: dict | None = None) -> pd.DataFrame:
    """Service level per client: the revenue tier, moved by the intent.

    Default moves: ``grow`` one level up, ``re-engineer`` one level down (lighter channels),
    ``retire`` straight to Bronze, ``maintain`` stays. A client without a tier starts at Bronze.

    Parameters
    ----------
    plan : DataFrame
        ``client_id``, ``intent`` and ``tier``.
    shift : dict, optional
        intent -> number of levels up (positive) or down (negative); ``"bronze"`` forces Bronze.

    Returns
    -------
    DataFrame
        ``plan`` plus ``service_level``.

    Examples
    --------
    >>> pl = pd.DataFrame({"client_id": ["a", "b", "c"], "tier": ["Gold", "Platinum", "Gold"],
    ...                    "intent": ["grow", "retire", "re-engineer"]})
    >>> assign_service_levels(pl)["service_level"].tolist()
    ['Platinum', 'Bronze', 'Silver']
    """
    _require(plan, ["client_id", "intent"], "plan")
    shift = {"grow": 1, "maintain": 0, "re-engineer": -1, "retire": "bronze"} if shift is None else shift
    order = list(TIERS)  # Platinum first
    out = plan.copy()
    tier = out["tier"] if "tier" in out.columns else pd.Series(None, index=out.index, dtype="str")
    levels = []
    for t, intent in zip(tier, out["intent"]):
        pos = order.index(t) if isinstance(t, str) and t in order else len(order) - 1
        s = shift.get(intent, 0)
        pos = len(order) - 1 if s == "bronze" else min(max(pos - int(s), 0), len(order) - 1)
        levels.append(order[pos])
    out["service_level"] = pd.Series(levels, index=out.index, dtype="str")
    return out


def build_plan(
    profile: pd.DataFrame,
    *,
    margin: pd.DataFrame | None = None,
    breadth: pd.DataFrame | None = None,
    responsiveness: pd.DataFrame | None = None,
    business_weights: dict | None = None,
    client_weights: dict | None = None,
    business_threshold: float = 0.5,
    client_threshold: float = 0.5,
    policy: dict | None = None,
    p_alive_min: float = 0.5,
    headroom_quantile: float = 0.5,
    overrides: pd.DataFrame | None = None,
    shift: dict | None = None,
) -> pd.DataFrame:
    """Value scores, groups, intents (with overrides) and service levels in one call.

    Parameters
    ----------
    profile : DataFrame
        SPEC ``client_profile``.
    margin, breadth, responsiveness, business_weights, client_weights
        See :func:`value_scores`.
    business_threshold, client_threshold
        See :func:`assign_groups`.
    policy, p_alive_min, headroom_quantile
        See :func:`assign_intents`.
    overrides
        See :func:`apply_overrides`.
    shift
        See :func:`assign_service_levels`.

    Returns
    -------
    DataFrame
        The profile (one row per client) with ``value_to_business``, ``value_to_client``, score
        columns, ``group``, ``alive``, ``high_headroom``, ``intent``, ``intent_source``,
        ``intent_reason`` and ``service_level`` (replacing any existing ones); SPEC profile columns
        missing from ``profile`` are added as nulls. ``attrs["ingredients"]`` as in
        :func:`value_scores`.

    Examples
    --------
    >>> p = pd.DataFrame({"client_id": ["a", "b"], "clv": [10.0, 20.0], "nps_last": [9.0, 2.0],
    ...                   "p_alive": [0.9, 0.2], "headroom": [50.0, 10.0], "tier": ["Gold", "Silver"]})
    >>> build_plan(p)[["group", "intent"]].values.tolist()
    [['Strategic partners', 'grow'], ['Value at risk', 'retire']]
    """
    scores = value_scores(profile, margin=margin, breadth=breadth, responsiveness=responsiveness,
                          business_weights=business_weights, client_weights=client_weights)
    grouped = assign_groups(scores, business_threshold, client_threshold)
    drop = [c for c in grouped.columns if c != "client_id"] + ["alive", "high_headroom", "intent",
                                                               "intent_source", "intent_reason",
                                                               "service_level"]
    base = profile.drop(columns=[c for c in drop if c in profile.columns]).reset_index(drop=True)
    plan = base.merge(grouped, on="client_id", how="left", validate="one_to_one")
    for col in PROFILE_COLUMNS:  # absent profile columns become null ones, as in the SPEC profile
        if col not in plan.columns:
            plan[col] = pd.Series(None, index=plan.index, dtype="str" if col in _TEXT_COLUMNS else float)
    plan = assign_intents(plan, policy=policy, p_alive_min=p_alive_min, headroom_quantile=headroom_quantile)
    plan = apply_overrides(plan, overrides)
    plan = assign_service_levels(plan, shift=shift)
    plan.attrs["ingredients"] = scores.attrs.get("ingredients", {})
    plan.attrs["left_out"] = scores.attrs.get("left_out", {})
    return plan


def service_coverage(
    plan: pd.DataFrame,
    activities: pd.DataFrame | None,
    as_of: pd.Timestamp,
    *,
    clients: pd.DataFrame | None = None,
    service_model: pd.DataFrame | None = None,
    window_days: int = 91,
    under_served_ratio: float = 0.5,
) -> pd.DataFrame:
    """Each client's touches in the last window against what its service level promises.

    Parameters
    ----------
    plan : DataFrame
        ``client_id``, ``service_level``, ``intent``.
    activities : DataFrame or None
        Canonical ``activities`` (``timestamp``, ``client_id``, optional ``duration_min``,
        ``person_id``); ``None`` counts no touches.
    as_of : Timestamp
        End of the window ``(as_of - window_days, as_of]``.
    clients : DataFrame, optional
        Canonical ``clients`` with ``owner_id`` (adds the owner column).
    service_model : DataFrame, optional
        ``service_level``, ``touches_per_quarter`` (default :data:`SERVICE_MODEL`).
    window_days : int
        Length of the window; the quarterly promise is scaled by ``window_days / 91``.
    under_served_ratio : float
        A client is under-served when it got fewer than this share of its promised touches.

    Returns
    -------
    DataFrame
        ``client_id``, ``owner_id``, ``service_level``, ``intent``, ``touches_required``,
        ``touches_actual``, ``minutes_actual``, ``coverage`` (actual / required),
        ``under_served`` (bool).

    Examples
    --------
    >>> pl = pd.DataFrame({"client_id": ["a"], "service_level": ["Silver"], "intent": ["maintain"]})
    >>> act = pd.DataFrame({"timestamp": pd.to_datetime(["2026-09-01"]), "client_id": ["a"],
    ...                     "activity_type": ["call"]})
    >>> service_coverage(pl, act, pd.Timestamp("2026-09-30"))[["touches_required", "touches_actual"]].values.tolist()
    [[3.0, 1.0]]
    """
    _require(plan, ["client_id", "service_level", "intent"], "plan")
    model = SERVICE_MODEL if service_model is None else service_model
    _require(model, ["service_level", "touches_per_quarter"], "service_model")
    out = plan[["client_id", "service_level", "intent"]].copy()
    per_q = out["service_level"].map(model.set_index("service_level")["touches_per_quarter"]).astype(float)
    out["touches_required"] = per_q * window_days / 91.0
    if activities is not None and len(activities):
        t = features.as_table(activities, "activities")
        features.require(t, ["timestamp", "client_id"], "activities")
        start = as_of - pd.Timedelta(days=window_days)
        # timestamps count through the whole as_of day
        end = as_of.normalize() + pd.Timedelta(days=1)
        ts = features.q("timestamp")
        minutes = (f"SUM(CAST(a.{features.q('duration_min')} AS DOUBLE))" if "duration_min" in t.columns
                   else "CAST(NULL AS DOUBLE)")
        # counted in the engine
        g = features.touch_counts(t, ["client_id"], where=f"{ts} > {features.lit(start)} AND {ts} < {features.lit(end)}",
                                  measures={"touches": "COUNT(*)", "minutes": minutes})
        g = g.loc[g["client_id"].notna()].set_index("client_id")
        out["touches_actual"] = out["client_id"].map(g["touches"]).fillna(0).astype(float)
        out["minutes_actual"] = out["client_id"].map(features.settled(g["minutes"])).fillna(0).astype(float)
    else:
        out["touches_actual"] = 0.0
        out["minutes_actual"] = 0.0
    out["coverage"] = out["touches_actual"] / out["touches_required"].where(out["touches_required"] > 0)
    out["under_served"] = (out["touches_actual"] < under_served_ratio * out["touches_required"]).astype(bool)
    owner = pd.Series("unassigned", index=out.index, dtype="str")
    if clients is not None and "owner_id" in clients.columns:
        _require(clients, ["client_id"], "clients")
        owner = out["client_id"].map(clients.set_index("client_id")["owner_id"]).fillna("unassigned").astype("str")
    out.insert(1, "owner_id", owner)
    return out


def capacity_summary(coverage: pd.DataFrame, by: str = "service_level") -> pd.DataFrame:
    """Promised versus delivered touches, summed by service level, intent or owner.

    Parameters
    ----------
    coverage : DataFrame
        Output of :func:`service_coverage`.
    by : str
        Column to group by (``service_level``, ``intent``, ``owner_id``).

    Returns
    -------
    DataFrame
        ``by``, ``clients``, ``touches_required``, ``touches_actual``, ``coverage`` (actual /
        required), ``under_served_share`` (share of clients under-served), ``touch_share`` (share of
        all delivered touches), ``minutes_share``.

    Examples
    --------
    >>> cov = pd.DataFrame({"intent": ["grow", "retire"], "touches_required": [4.0, 1.0],
    ...                     "touches_actual": [1.0, 3.0], "minutes_actual": [0.0, 0.0],
    ...                     "under_served": [True, False], "client_id": ["a", "b"]})
    >>> capacity_summary(cov, by="intent")["touch_share"].tolist()
    [0.25, 0.75]
    """
    _require(coverage, [by, "client_id", "touches_required", "touches_actual", "minutes_actual",
                        "under_served"], "coverage")
    g = coverage.groupby(by, sort=True)
    out = pd.DataFrame({
        "clients": g["client_id"].nunique(),
        "touches_required": g["touches_required"].sum(),
        "touches_actual": g["touches_actual"].sum(),
        "under_served_share": g["under_served"].mean(),
        "minutes_actual": g["minutes_actual"].sum(),
    })
    out["coverage"] = out["touches_actual"] / out["touches_required"].where(out["touches_required"] > 0)
    tot_t, tot_m = out["touches_actual"].sum(), out["minutes_actual"].sum()
    out["touch_share"] = out["touches_actual"] / tot_t if tot_t > 0 else np.nan
    out["minutes_share"] = out["minutes_actual"] / tot_m if tot_m > 0 else np.nan
    out = out.reset_index()
    if by == "service_level":
        out["_o"] = out[by].map({t: i for i, t in enumerate(TIERS)})
        out = out.sort_values("_o").drop(columns="_o").reset_index(drop=True)
    return out[[by, "clients", "touches_required", "touches_actual", "coverage", "under_served_share",
                "touch_share", "minutes_share"]]


def margin_rates(margin: pd.DataFrame | None, plan: pd.DataFrame) -> tuple[pd.Series, float]:
    """Each client's margin rate over the last twelve months, to put the plan in margin.

    ``margin / revenue_ltm`` for clients with positive revenue and a known margin (clipped to
    0..1); every other client (and a new one) gets the firm's rate, total margin over the revenue
    of the clients with a margin.

    Parameters
    ----------
    margin : DataFrame or None
        ``client_id``, ``margin`` (:func:`client_margin`).
    plan : DataFrame
        ``client_id``, ``revenue_ltm``.

    Returns
    -------
    (Series, float)
        Rate by ``client_id`` (every client of ``plan``) and the firm's rate; ``(None, nan)`` when
        no margin is known.

    Examples
    --------
    >>> m = pd.DataFrame({"client_id": ["a"], "margin": [40.0]})
    >>> rates, firm = margin_rates(m, pd.DataFrame({"client_id": ["a", "b"], "revenue_ltm": [100.0, 50.0]}))
    >>> rates.tolist(), firm
    ([0.4, 0.4], 0.4)
    """
    _require(plan, ["client_id", "revenue_ltm"], "plan")
    if margin is None or len(margin) == 0:
        return None, float("nan")
    _require(margin, ["client_id", "margin"], "margin")
    rev = pd.Series(_num(plan, "revenue_ltm").to_numpy(), index=plan["client_id"].astype("str"))
    m = pd.to_numeric(margin["margin"], errors="coerce")
    m.index = margin["client_id"].astype("str")
    m = m.reindex(rev.index)
    ok = m.notna() & (rev > 0)
    if not ok.any():
        return None, float("nan")
    firm = float(m[ok].sum() / rev[ok].sum())
    rate = (m / rev).where(ok).clip(0, 1).fillna(min(max(firm, 0.0), 1.0))
    return rate.astype(float), firm


def intent_effects(plan: pd.DataFrame, base: pd.Series, assumptions: dict | None = None) -> pd.DataFrame:
    """Each client's intent as a change of its forecast: ``plan = base * mult + add``.

    Grow adds ``headroom_capture_year * headroom`` (or ``grow_uplift * base`` when headroom is
    unknown), at most ``grow_cap * base``; maintain keeps the base; re-engineer multiplies it by
    ``1 + reengineer_change``; retire by ``retire_keep``. The same ``mult`` and ``add`` turn every
    simulated future of the base into a future of the plan (``plan.simulate_plan``).

    Parameters
    ----------
    plan : DataFrame
        ``client_id``, ``intent`` and optional ``headroom``.
    base : Series
        Forecast per row of ``plan`` (same index).
    assumptions : dict, optional
        Overrides of :data:`BUDGET_ASSUMPTIONS`.

    Returns
    -------
    DataFrame
        ``client_id``, ``mult``, ``add`` (same index as ``plan``).

    Examples
    --------
    >>> pl = pd.DataFrame({"client_id": ["a", "b"], "intent": ["grow", "retire"], "headroom": [200.0, 0.0]})
    >>> intent_effects(pl, pd.Series([100.0, 50.0]))[["mult", "add"]].values.tolist()
    [[1.0, 20.0], [0.5, 0.0]]
    """
    _require(plan, ["client_id", "intent"], "plan")
    a = _budget_assumptions(assumptions)
    bad = sorted(set(plan["intent"].dropna()) - set(INTENTS))
    if bad:
        raise ValueError(f"plan column 'intent' has unknown values {bad}")
    base = pd.Series(base, index=plan.index).astype(float).fillna(0.0).clip(lower=0.0)
    headroom = _num(plan, "headroom").clip(lower=0.0)
    intent = plan["intent"].astype("str")
    grow_add = (a["headroom_capture_year"] * headroom).where(headroom.notna(), a["grow_uplift"] * base)
    grow_add = np.minimum(grow_add, a["grow_cap"] * base)
    mult = pd.Series(1.0, index=plan.index)
    mult = mult.where(intent != "re-engineer", 1 + a["reengineer_change"])
    mult = mult.where(intent != "retire", a["retire_keep"])
    add = grow_add.where(intent == "grow", 0.0).fillna(0.0)
    return pd.DataFrame({"client_id": plan["client_id"].astype("str"), "mult": mult.astype(float),
                         "add": add.astype(float)})


def _budget_assumptions(assumptions: dict | None) -> dict:
    a = dict(BUDGET_ASSUMPTIONS)
    if assumptions:
        unknown = set(assumptions) - set(a)
        if unknown:
            raise ValueError(f"unknown budget assumption(s) {sorted(unknown)}; known: {sorted(a)}")
        a.update({k: float(v) for k, v in assumptions.items()})
    return a


def client_budget(plan: pd.DataFrame, assumptions: dict | None = None, *, base: pd.DataFrame | None = None,
                  ltm_cover: float = 1.0, horizon_months: float = 12, client_ranges: pd.DataFrame | None = None,
                  margin_rate: pd.Series | None = None) -> pd.DataFrame:
    """Plan revenue over the horizon per client: the models' forecast, then its intent's effect.

    ``base`` is the client's expected revenue over the horizon from the purchase and spend models
    (``plan.existing_forecast``; its run-rate fallback when the purchase model is refused); a client
    without one (no purchase to forecast from) has base 0. The intent then acts on the base
    (:func:`intent_effects`). Last year's revenue (``revenue_ltm``, planned at zero when negative)
    is the starting point of the bridge and the base of the top-down target: when the data cover
    only part of the last twelve months (``ltm_cover`` < 1) it is annualised (divided by
    ``ltm_cover``), and it is scaled to the horizon (``* horizon_months / 12``), so a ten-month
    base is never set against a twelve-month target. The target is that times ``1 +
    target_growth``.

    Parameters
    ----------
    plan : DataFrame
        ``client_id``, ``intent``, ``revenue_ltm`` and any of ``headroom``, ``group``, ``owner_id``.
    assumptions : dict, optional
        Overrides of :data:`BUDGET_ASSUMPTIONS`.
    base : DataFrame
        ``client_id``, ``base`` (e.g. ``plan.existing_forecast(...).clients``); without it ``plan``
        must hold a ``base`` column.
    ltm_cover : float
        Share of the last twelve months the data cover (``plan.history_cover``), in (0, 1].
    horizon_months : float
        Months the plan covers.
    client_ranges : DataFrame, optional
        ``client_id``, ``low``, ``high`` of each client's plan (``plan.simulate_plan`` with the
        intent effects); clients without a forecast get their plan as both bounds.
    margin_rate : Series, optional
        Margin rate by ``client_id`` (:func:`margin_rates`): adds ``plan_margin``.

    Returns
    -------
    DataFrame
        ``client_id``, ``group``, ``owner_id``, ``intent``, ``revenue_ltm``, ``revenue_last_year``
        (annualised and scaled to the horizon), ``base``, ``mult``, ``add``, ``plan_revenue``,
        ``plan_low``, ``plan_high`` (NaN without ``client_ranges``), ``target_revenue`` and, with
        ``margin_rate``, ``plan_margin``.

    Examples
    --------
    >>> pl = pd.DataFrame({"client_id": ["a", "b"], "intent": ["grow", "retire"],
    ...                    "revenue_ltm": [100.0, 50.0], "headroom": [200.0, 0.0]})
    >>> fc = pd.DataFrame({"client_id": ["a", "b"], "base": [100.0, 40.0]})
    >>> client_budget(pl, base=fc)["plan_revenue"].tolist()
    [120.0, 20.0]
    >>> client_budget(pl, {"headroom_capture_year": 0.5}, base=fc)["plan_revenue"].tolist()  # capped at +25%
    [125.0, 20.0]
    >>> client_budget(pl, base=fc, ltm_cover=0.5)["target_revenue"].tolist()  # six months of data, annualised
    [216.0, 108.0]
    """
    _require(plan, ["client_id", "intent", "revenue_ltm"], "plan")
    a = _budget_assumptions(assumptions)
    if not 0 < float(ltm_cover) <= 1:
        raise ValueError(f"ltm_cover must be in (0, 1], got {ltm_cover}")
    if float(horizon_months) <= 0:
        raise ValueError(f"horizon_months must be positive, got {horizon_months}")
    ids = plan["client_id"].astype("str")
    if base is not None:
        _require(base, ["client_id", "base"], "base")
        fc = pd.Series(pd.to_numeric(base["base"], errors="coerce").to_numpy(float),
                       index=base["client_id"].astype("str"))
        if fc.index.has_duplicates:
            raise ValueError("base column 'client_id' has duplicates")
        b = ids.map(fc)
    elif "base" in plan.columns:
        b = _num(plan, "base")
    else:
        raise ValueError("client_budget needs a base forecast: pass base= (plan.existing_forecast) or a 'base' column")
    known = b.notna()
    b = b.fillna(0.0).clip(lower=0.0)
    eff = intent_effects(plan, b, a)
    plan_rev = b * eff["mult"] + eff["add"]
    rev = _num(plan, "revenue_ltm").fillna(0.0)
    last_year = rev.clip(lower=0.0) / float(ltm_cover) * float(horizon_months) / 12
    low = pd.Series(np.nan, index=plan.index)
    high = pd.Series(np.nan, index=plan.index)
    if client_ranges is not None:
        _require(client_ranges, ["client_id", "low", "high"], "client_ranges")
        r = client_ranges.assign(client_id=client_ranges["client_id"].astype("str")).set_index("client_id")
        low = ids.map(r["low"]).astype(float).where(known, plan_rev)
        high = ids.map(r["high"]).astype(float).where(known, plan_rev)
    out = pd.DataFrame({
        "client_id": ids,
        "group": plan["group"].astype("str") if "group" in plan.columns else "all",
        "owner_id": (plan["owner_id"].fillna("unassigned").astype("str") if "owner_id" in plan.columns
                     else "unassigned"),
        "intent": plan["intent"].astype("str"),
        "revenue_ltm": rev,
        "revenue_last_year": last_year,
        "base": b,
        "mult": eff["mult"],
        "add": eff["add"],
        "plan_revenue": plan_rev,
        "plan_low": low,
        "plan_high": high,
    })
    out["target_revenue"] = out["revenue_last_year"] * (1 + a["target_growth"])
    if margin_rate is not None:
        rate = pd.Series(margin_rate)
        rate.index = rate.index.astype("str")
        out["plan_margin"] = out["plan_revenue"] * ids.map(rate).astype(float).to_numpy()
    return out.reset_index(drop=True)


def budget_table(client_plan: pd.DataFrame, *, ranges: dict | None = None, new: dict | None = None) -> pd.DataFrame:
    """The SPEC ``budget.csv``: client rows, sums by group and by owner, new clients and the total.

    Amounts of group, owner and total rows are sums of the client rows (and, for the total, the
    new clients' line), so every level reconciles: groups plus new clients make the total, and so
    do owners plus new clients. A **range of a sum is never the sum of the clients' ranges**
    (that would assume every client's surprise goes the same way, a band far too wide): it comes
    from ``ranges``, the quantiles of the simulated sums (``plan.simulate_plan``); without them
    ``plan_low`` and ``plan_high`` of group, owner and total rows are left empty.

    Parameters
    ----------
    client_plan : DataFrame
        Output of :func:`client_budget`.
    ranges : dict, optional
        ``"group"``, ``"owner"``: DataFrames with ``key``, ``low``, ``high``; ``"total"``: dict with
        ``low``, ``high`` (existing and new clients together).
    new : dict, optional
        The new-clients line: ``plan_revenue``, ``low``, ``high``, ``clients`` (expected number) and
        optional ``plan_margin``.

    Returns
    -------
    DataFrame
        ``level`` (client, group, owner, new, total), ``key``, ``revenue_ltm``,
        ``revenue_last_year``, ``base``, ``plan_revenue`` (``plan_margin`` when the client plan has
        it), ``plan_low``, ``plan_high``, ``target_revenue``, ``gap`` (plan - target), ``clients``,
        and for client rows ``group``, ``owner_id``, ``intent``.

    Examples
    --------
    >>> cp = pd.DataFrame({"client_id": ["a", "b"], "group": ["G", "G"], "owner_id": ["p1", "p2"],
    ...                    "intent": ["grow", "maintain"], "revenue_ltm": [10.0, 20.0], "base": [10.0, 20.0],
    ...                    "plan_revenue": [12.0, 20.0], "plan_low": [11.0, 18.0], "plan_high": [13.0, 22.0],
    ...                    "target_revenue": [10.8, 21.6]})
    >>> t = budget_table(cp, new={"plan_revenue": 5.0, "low": 3.0, "high": 7.0, "clients": 1.0})
    >>> t.query("level == 'total'")[["plan_revenue", "plan_low"]].values.tolist()  # no simulated range given
    [[37.0, nan]]
    """
    _require(client_plan, ["client_id", "group", "owner_id", "intent", "revenue_ltm", "plan_revenue",
                           "plan_low", "plan_high", "target_revenue"], "client_plan")
    cp = client_plan.copy()
    if "revenue_last_year" not in cp.columns:
        cp["revenue_last_year"] = _num(cp, "revenue_ltm").clip(lower=0.0)
    if "base" not in cp.columns:
        cp["base"] = np.nan
    margin = ["plan_margin"] if "plan_margin" in cp.columns else []
    vals = ["revenue_ltm", "revenue_last_year", "base", "plan_revenue", *margin, "target_revenue"]
    ranges = ranges or {}
    cl = cp.sort_values("client_id")
    rows = [pd.DataFrame({"level": "client", "key": cl["client_id"], **{v: cl[v] for v in vals},
                          "plan_low": cl["plan_low"], "plan_high": cl["plan_high"],
                          "clients": 1, "group": cl["group"], "owner_id": cl["owner_id"],
                          "intent": cl["intent"]})]
    for level, col in (("group", "group"), ("owner", "owner_id")):
        g = cl.groupby(col, sort=True)
        agg = g[vals].sum()
        agg["clients"] = g.size()
        agg = agg.reset_index().rename(columns={col: "key"}).assign(level=level)
        rr = ranges.get(level)
        if rr is not None:
            rr = rr.assign(key=rr["key"].astype("str")).set_index("key")
            agg["plan_low"] = agg["key"].astype("str").map(rr["low"]).astype(float)
            agg["plan_high"] = agg["key"].astype("str").map(rr["high"]).astype(float)
        else:
            agg["plan_low"] = np.nan
            agg["plan_high"] = np.nan
        rows.append(agg)
    new = new or {}
    new_plan = float(new.get("plan_revenue", 0.0) or 0.0)
    if new:
        rows.append(pd.DataFrame({"level": ["new"], "key": ["new clients"], "revenue_ltm": [0.0],
                                  "revenue_last_year": [0.0], "base": [new_plan], "plan_revenue": [new_plan],
                                  "plan_low": [float(new.get("low", np.nan))],
                                  "plan_high": [float(new.get("high", np.nan))], "target_revenue": [0.0],
                                  **({"plan_margin": [float(new.get("plan_margin", np.nan))]} if margin else {}),
                                  "clients": [round(float(new.get("clients", 0.0) or 0.0))]}))
    tot = cl[vals].sum().to_frame().T
    tot["plan_revenue"] += new_plan
    tot["base"] += new_plan
    if margin and np.isfinite(float(new.get("plan_margin", np.nan))):
        tot["plan_margin"] += float(new["plan_margin"])
    tr = ranges.get("total") or {}
    tot["plan_low"] = float(tr.get("low", np.nan))
    tot["plan_high"] = float(tr.get("high", np.nan))
    tot["clients"] = len(cl)
    rows.append(tot.assign(level="total", key="total"))
    out = pd.concat(rows, ignore_index=True)
    out["gap"] = out["plan_revenue"] - out["target_revenue"]
    out["clients"] = out["clients"].astype(int)
    cols = (["level", "key"] + vals[:-1] + ["plan_low", "plan_high", "target_revenue"]
            + ["gap", "clients", "group", "owner_id", "intent"])
    for c in ("group", "owner_id", "intent", "key", "level"):
        out[c] = out[c].astype("str")
    return out[cols]


def gap_bridge(client_plan: pd.DataFrame, new_revenue: float = 0.0, first_label: str = "Last twelve months"
               ) -> pd.DataFrame:
    """Walk from last year's revenue to the plan and on to the target, step by step.

    Steps: ``Last twelve months`` (annualised and scaled to the horizon, ``revenue_last_year``) ->
    ``Expected attrition`` (each client's forecast minus its last-year revenue: what the models
    expect to lose, one-time buyers included) -> ``Growth from grow intents`` -> ``Re-engineer
    change`` -> ``Retire wind-down`` -> ``New clients`` -> ``Bottom-up plan`` -> ``Gap to top-down
    target`` -> ``Top-down target``.

    Parameters
    ----------
    client_plan : DataFrame
        Output of :func:`client_budget`.
    new_revenue : float
        The new-clients line (``plan.new_client_forecast``).
    first_label : str
        Name of the first step (e.g. "Last twelve months (annualised from 6 months)").

    Returns
    -------
    DataFrame
        ``step``, ``amount``, ``kind`` (``total`` or ``move``); the moves add up from the first row
        to the plan, and the gap from the plan to the target.

    Examples
    --------
    >>> cp = pd.DataFrame({"intent": ["grow"], "revenue_ltm": [100.0], "base": [90.0],
    ...                    "plan_revenue": [99.0], "target_revenue": [108.0]})
    >>> gap_bridge(cp, new_revenue=5.0)["amount"].round(1).tolist()
    [100.0, -10.0, 9.0, 0.0, 0.0, 5.0, 104.0, 4.0, 108.0]
    """
    _require(client_plan, ["intent", "revenue_ltm", "base", "plan_revenue", "target_revenue"], "client_plan")
    cp = client_plan
    last = (_num(cp, "revenue_last_year") if "revenue_last_year" in cp.columns
            else _num(cp, "revenue_ltm").clip(lower=0.0))
    delta = cp["plan_revenue"] - cp["base"]
    plan = cp["plan_revenue"].sum() + float(new_revenue)
    target = cp["target_revenue"].sum()
    steps = [
        (first_label, last.sum(), "total"),
        ("Expected attrition", (cp["base"] - last).sum(), "move"),
        ("Growth from grow intents", delta[cp["intent"] == "grow"].sum(), "move"),
        ("Re-engineer change", delta[cp["intent"] == "re-engineer"].sum(), "move"),
        ("Retire wind-down", delta[cp["intent"] == "retire"].sum(), "move"),
        ("New clients", float(new_revenue), "move"),
        ("Bottom-up plan", plan, "total"),
        ("Gap to top-down target", target - plan, "move"),
        ("Top-down target", target, "total"),
    ]
    return pd.DataFrame(steps, columns=["step", "amount", "kind"]).astype(
        {"step": "str", "amount": float, "kind": "str"})


def group_summary(plan: pd.DataFrame) -> pd.DataFrame:
    """Each group's share of the portfolio by clients and revenue, and its intents.

    Parameters
    ----------
    plan : DataFrame
        ``client_id``, ``group``, ``intent``, ``revenue_ltm`` (and optional value scores).

    Returns
    -------
    DataFrame
        ``group``, ``clients``, ``client_share``, ``revenue_ltm``, ``revenue_share``,
        ``value_to_business``, ``value_to_client`` (group means), ``intents`` (e.g.
        "grow 40, maintain 12"), ``description``. This is ``strategy_groups.csv``.

    Examples
    --------
    >>> pl = pd.DataFrame({"client_id": ["a", "b", "c"], "group": ["Transactional", "Transactional",
    ...                    "Strategic partners"], "intent": ["retire", "re-engineer", "grow"],
    ...                    "revenue_ltm": [10.0, 30.0, 60.0]})
    >>> group_summary(pl)[["group", "revenue_share"]].values.tolist()
    [['Strategic partners', 0.6], ['Transactional', 0.4]]
    """
    _require(plan, ["client_id", "group", "intent", "revenue_ltm"], "plan")
    rev = _num(plan, "revenue_ltm").fillna(0.0)
    p = plan.assign(_rev=rev)
    g = p.groupby("group", sort=False)
    out = pd.DataFrame({"clients": g.size(), "revenue_ltm": g["_rev"].sum()})
    out["client_share"] = out["clients"] / out["clients"].sum()
    total = out["revenue_ltm"].sum()
    out["revenue_share"] = out["revenue_ltm"] / total if total else np.nan
    for c in ("value_to_business", "value_to_client"):
        out[c] = g[c].mean() if c in p.columns else np.nan
    out["intents"] = g["intent"].agg(
        lambda s: ", ".join(f"{k} {v}" for k, v in s.value_counts().sort_index().items()))
    out = out.reset_index()
    order = {name: i for i, name in enumerate([*GROUP_NAMES.values(), *ONE_WAY_NAMES.values(), UNMEASURED_GROUP])}
    out["_o"] = out["group"].map(order).fillna(99)
    out = out.sort_values(["_o", "group"]).drop(columns="_o").reset_index(drop=True)
    out["description"] = out["group"].map(GROUP_DESCRIPTIONS).fillna("").astype("str")
    return out[["group", "clients", "client_share", "revenue_ltm", "revenue_share", "value_to_business",
                "value_to_client", "intents", "description"]]


def scorecard(plan: pd.DataFrame, client_plan: pd.DataFrame | None = None) -> pd.DataFrame:
    """A scorecard of several dimensions per group and for all clients (seed 002).

    Dimensions: ``clients``, ``revenue_share``, ``growth`` (revenue-weighted: sum LTM / sum prior
    LTM - 1), ``retention`` (mean ``p_alive``), ``engagement`` (median ``engagement_score``),
    ``nps`` (% promoters - % detractors of ``nps_last``, -100..100), ``share_of_wallet``
    (revenue / wallet over clients with a wallet), ``headroom`` (sum), ``plan_growth`` (plan /
    last year's revenue - 1, when ``client_plan`` is given: its ``revenue_last_year``, annualised
    and scaled to the plan's horizon, where it has one). A dimension without data is NaN.

    Parameters
    ----------
    plan : DataFrame
        ``client_id``, ``group`` and profile columns.
    client_plan : DataFrame, optional
        Output of :func:`client_budget`.

    Returns
    -------
    DataFrame
        One row per group plus ``All clients``.

    Examples
    --------
    >>> pl = pd.DataFrame({"client_id": ["a", "b"], "group": ["G", "G"], "nps_last": [10.0, 3.0],
    ...                    "revenue_ltm": [1.0, 1.0]})
    >>> float(scorecard(pl).loc[0, "nps"])
    0.0
    """
    _require(plan, ["client_id", "group"], "plan")
    p = plan.copy()
    if client_plan is not None:
        _require(client_plan, ["client_id", "plan_revenue"], "client_plan")
        cp = client_plan.set_index("client_id")
        p["_plan"] = p["client_id"].map(cp["plan_revenue"])
        # the plan covers its horizon; set it against last year's revenue on the same footing
        # (annualised when the data hold less than a year, scaled to the horizon), not the raw months
        if "revenue_last_year" in cp.columns:
            p["_plan_base"] = p["client_id"].map(cp["revenue_last_year"])
    total_rev = _num(p, "revenue_ltm").sum()

    def card(d: pd.DataFrame) -> dict:
        rev, prior = _num(d, "revenue_ltm"), _num(d, "revenue_prior_ltm")
        nps = _num(d, "nps_last").dropna()
        wallet = _num(d, "wallet")
        has_w = wallet.notna() & (wallet > 0)
        plan_ = _num(d, "_plan")
        plan_base = _num(d, "_plan_base") if "_plan_base" in d.columns else rev
        return {
            "clients": len(d),
            "revenue_share": rev.sum() / total_rev if total_rev else np.nan,
            "growth": rev.sum() / prior.sum() - 1 if prior.notna().any() and prior.sum() > 0 else np.nan,
            "retention": _num(d, "p_alive").mean(),
            "engagement": _num(d, "engagement_score").median(),
            "nps": 100 * ((nps >= 9).mean() - (nps <= 6).mean()) if len(nps) else np.nan,
            "share_of_wallet": rev[has_w].sum() / wallet[has_w].sum() if has_w.any() else np.nan,
            "headroom": _num(d, "headroom").sum(min_count=1),
            "plan_growth": (plan_.sum() / plan_base.sum() - 1) if plan_.notna().any() and plan_base.sum() > 0 else np.nan,
        }

    rows = [{"group": g, **card(d)} for g, d in p.groupby("group", sort=True)]
    rows.append({"group": "All clients", **card(p)})
    out = pd.DataFrame(rows)
    out["group"] = out["group"].astype("str")
    return out


def _what_if_html(plan: pd.DataFrame, budget: pd.DataFrame) -> str:
    gs = group_summary(plan)
    tot = budget.loc[budget["level"] == "total"].iloc[0]
    rows = "".join(
        f"<tr><td>{_html.escape(str(r.group))}</td><td>{r.clients}</td><td>{_pct(r.client_share)}</td>"
        f"<td>{_pct(r.revenue_share)}</td><td>{_html.escape(str(r.intents))}</td></tr>"
        for r in gs.itertuples()
    )
    rng = (f" (range {tot.plan_low:,.0f} to {tot.plan_high:,.0f})" if np.isfinite(tot.plan_low)
           else " (its simulated range is on the page, for the report's settings; it is not recomputed here)")
    return (
        "<table><tr><th>Group</th><th>Clients</th><th>% clients</th><th>% revenue</th><th>Intents</th></tr>"
        f"{rows}</table><p>Bottom-up plan {tot.plan_revenue:,.0f}{rng} against a top-down target of "
        f"{tot.target_revenue:,.0f}: gap {tot.gap:+,.0f}.</p>"
    )


def what_if_widget(profile: pd.DataFrame, *, clients: pd.DataFrame | None = None, base: pd.DataFrame | None = None,
                   new: dict | None = None, ltm_cover: float = 1.0, horizon_months: float = 12, **defaults):
    """An ipywidgets box whose sliders recompute groups and budget through the pure functions.

    Parameters
    ----------
    profile : DataFrame
        SPEC ``client_profile`` (value scores are recomputed, so any may be null).
    clients : DataFrame, optional
        Canonical ``clients`` with ``owner_id`` for the owner roll-up.
    base : DataFrame
        ``client_id``, ``base``: the models' forecast (``plan.existing_forecast(...).clients``).
    new : dict, optional
        The new-clients line for :func:`budget_table`.
    ltm_cover, horizon_months : float
        As :func:`client_budget`.
    **defaults
        Starting values of the controls: ``business_threshold``, ``client_threshold``,
        ``p_alive_min``, ``headroom_quantile`` (see :func:`build_plan`) and any
        :data:`BUDGET_ASSUMPTIONS` key; other :func:`build_plan` keywords (``margin``, ``breadth``,
        ``responsiveness``, weights, ``policy``, ``overrides``) are passed through unchanged.

    Returns
    -------
    ipywidgets.VBox
        ``children[0]`` holds the sliders (``description`` = parameter name), ``children[1]`` is
        an ``HTML`` widget with the group shares and the budget against its target.

    Examples
    --------
    >>> p = pd.DataFrame({"client_id": ["a", "b"], "clv": [1.0, 2.0], "revenue_ltm": [1.0, 2.0]})
    >>> box = what_if_widget(p, base=pd.DataFrame({"client_id": ["a", "b"], "base": [1.0, 1.5]}),
    ...                      target_growth=0.05)
    >>> box.children[0].children[-1].description
    'target_growth'
    """
    import ipywidgets as w

    plan_keys = ["business_threshold", "client_threshold", "p_alive_min", "headroom_quantile"]
    start = {"business_threshold": 0.5, "client_threshold": 0.5, "p_alive_min": 0.5,
             "headroom_quantile": 0.5, **BUDGET_ASSUMPTIONS}
    passthrough = {k: v for k, v in defaults.items() if k not in start}
    allowed = {"margin", "breadth", "responsiveness", "business_weights", "client_weights", "policy",
               "overrides", "shift"}
    unknown = set(passthrough) - allowed
    if unknown:
        raise ValueError(f"what_if_widget got unknown parameter(s) {sorted(unknown)}")
    if base is None:
        raise ValueError("what_if_widget needs base= (the models' forecast per client, plan.existing_forecast)")
    start.update({k: float(v) for k, v in defaults.items() if k in start})
    owners = None
    if clients is not None and "owner_id" in clients.columns:
        owners = clients[["client_id", "owner_id"]]
    ranges = {"reengineer_change": (-0.5, 0.5), "target_growth": (-0.2, 0.5)}
    sliders = [
        w.FloatSlider(value=start[k], min=ranges.get(k, (0.0, 1.0))[0], max=ranges.get(k, (0.0, 1.0))[1],
                      step=0.01, description=k, continuous_update=False,
                      style={"description_width": "initial"})
        for k in list(start)
    ]
    out = w.HTML()

    def recompute(*_):
        vals = {s.description: float(s.value) for s in sliders}
        plan = build_plan(profile, **{k: vals[k] for k in plan_keys}, **passthrough)
        if owners is not None:
            plan = plan.drop(columns=[c for c in ["owner_id"] if c in plan.columns]).merge(
                owners, on="client_id", how="left")
        cp = client_budget(plan, {k: vals[k] for k in BUDGET_ASSUMPTIONS}, base=base, ltm_cover=ltm_cover,
                           horizon_months=horizon_months)
        out.value = _what_if_html(plan, budget_table(cp, new=new))

    for s in sliders:
        s.observe(recompute, names="value")
    recompute()
    return w.VBox([w.VBox(sliders), out])


_GROUP_COLOURS = {"Strategic partners": "#2e7d32", "Value at risk": "#c62828", "Untapped advocates": "#1565c0",
                  "Transactional": "#9e9e9e", "High value to us": "#2e7d32", "Low value to us": "#9e9e9e",
                  "High value to them": "#1565c0", "Low value to them": "#9e9e9e", UNMEASURED_GROUP: "#9e9e9e"}


def plot_value_map(plan: pd.DataFrame, business_threshold: float = 0.5, client_threshold: float = 0.5):
    """Scatter of value to the client (x) against value to the business (y), coloured by group; where
    one side is not measured (the same score for every client), a histogram of the other by group.

    Parameters
    ----------
    plan : DataFrame
        ``value_to_business``, ``value_to_client``, ``group``.
    business_threshold, client_threshold : float
        Drawn as the lines of the 2x2.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    _require(plan, ["value_to_business", "value_to_client", "group"], "plan")
    flat = {c: plan[c].astype(float).nunique() <= 1 for c in ("value_to_business", "value_to_client")}
    if flat["value_to_business"] != flat["value_to_client"]:
        # one side is not measured (every client in the middle): a scatter would be a line, so the
        # measured side's distribution, by group, with its threshold
        col, thr, side = (("value_to_business", business_threshold, "business") if flat["value_to_client"]
                          else ("value_to_client", client_threshold, "client"))
        other = "client" if side == "business" else "business"
        fig, ax = plt.subplots(figsize=(7.5, 4.5))
        bins = np.linspace(0, 1, 41)
        for g, d in plan.groupby("group", sort=True):
            ax.hist(d[col].astype(float), bins=bins, color=_GROUP_COLOURS.get(g), alpha=0.8, label=f"{g} ({len(d):,})")
        ax.axvline(thr, color="black", lw=0.8, ls="--")
        ax.set_xlim(0, 1.02)
        ax.set_xlabel(f"Value to the {side} (score, 0-1)")
        ax.set_ylabel("Clients")
        ax.set_title(f"Value to the {side}; nothing in the data measures value to the {other}")
        ax.legend(loc="upper left", fontsize=8, frameon=True)
        return fig
    fig, ax = plt.subplots(figsize=(7.5, 6))
    for g, d in plan.groupby("group", sort=True):
        ax.scatter(d["value_to_client"], d["value_to_business"], s=10, alpha=0.6,
                   color=_GROUP_COLOURS.get(g), label=f"{g} ({len(d):,})")
    ax.axhline(business_threshold, color="black", lw=0.8, ls="--")
    ax.axvline(client_threshold, color="black", lw=0.8, ls="--")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("Value to the client (engagement, satisfaction, breadth, responsiveness)")
    ax.set_ylabel("Value to the business (lifetime value, margin, growth, headroom)")
    ax.set_title("Two-way value: where each client sits")
    ax.legend(loc="lower right", fontsize=8, frameon=True)
    return fig


def plot_bridge(bridge: pd.DataFrame):
    """Waterfall from last year's revenue to the bottom-up plan and the top-down target.

    Every bar is labelled with its amount. When every running level stays above half the largest,
    the axis starts just below the lowest level (and says so), so that moves of a few percent show.

    Parameters
    ----------
    bridge : DataFrame
        Output of :func:`gap_bridge` (``step``, ``amount`` and ``kind``: ``total`` bars stand on
        zero, ``move`` bars float from the level before them).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    _require(bridge, ["step", "amount"], "bridge")
    if "kind" in bridge.columns:
        is_total = (bridge["kind"] == "total").tolist()
    else:
        is_total = [s in {"Last twelve months", "Bottom-up plan", "Top-down target"} for s in bridge["step"]]
    fig, ax = plt.subplots(figsize=(10.5, 4.4))
    level, bars = 0.0, []  # (bottom, height, colour) of each bar
    for step, total, amount in zip(bridge["step"], is_total, bridge["amount"]):
        if total:
            bars.append((0.0, amount, "#4c72b0"))
            level = amount
        else:
            gap = str(step).startswith("Gap")  # the gap to the target is neither good nor bad news: orange
            bars.append((level, amount, "#dd8452" if gap else "#55a868" if amount >= 0 else "#c44e52"))
            level += amount
    top = max(max(b, b + h) for b, h, _ in bars)
    low = min(h if b == 0.0 else min(b, b + h) for b, h, _ in bars)
    floor = max(0.0, low - 0.25 * (top - low) - 0.02 * top) if low > 0.5 * top else 0.0
    for i, (bottom, height, colour) in enumerate(bars):
        ax.bar(i, height, bottom=bottom, color=colour)
        ax.annotate(_fmt_money(height), (i, max(bottom + max(height, 0), floor)), xytext=(0, 3),
                    textcoords="offset points", ha="center", fontsize=8)
    ax.set_ylim(bottom=floor, top=top + 0.08 * (top - floor))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _fmt_money(v)))
    ax.set_xticks(range(len(bridge)))
    # wrapped to the bar's width: a long step ("Last year (annualised from 11 months)") must not run into its neighbours
    # "attrition" of a book the models expect to grow reads wrong on a board slide: say what the bar is
    names = ["Today's clients: expected growth" if s == "Expected attrition" and a > 0 else str(s)
             for s, a in zip(bridge["step"], bridge["amount"])]
    ax.set_xticklabels([textwrap.fill(n, 13) for n in names], fontsize=8)
    ax.set_ylabel("Revenue over the plan horizon" + (" (axis does not start at zero)" if floor > 0 else ""))
    ax.set_title("From last year to the plan, and the gap to the target")
    return fig


def _fmt_money(x: float) -> str:
    """1234567 -> '1.23m', 45300 -> '45k', 1200 -> '1.2k': three figures, so a bridge's steps add up by eye."""
    a, sign = abs(float(x)), "-" if x < 0 else ""
    if a >= 1e9:
        return f"{sign}{a / 1e9:.2f}bn" if a < 1e10 else f"{sign}{a / 1e9:.1f}bn"
    if a >= 1e6:
        return f"{sign}{a / 1e6:.2f}m" if a < 1e7 else f"{sign}{a / 1e6:.1f}m"
    if a >= 1e4:
        return f"{sign}{a / 1e3:.0f}k"
    if a >= 1e3:
        return f"{sign}{a / 1e3:.1f}k"
    return f"{sign}{a:.0f}"


def plot_capacity(summary: pd.DataFrame, by: str = "service_level"):
    """Promised versus delivered touches per group of clients.

    Parameters
    ----------
    summary : DataFrame
        Output of :func:`capacity_summary`.
    by : str
        Its grouping column.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    _require(summary, [by, "touches_required", "touches_actual"], "summary")
    fig, ax = plt.subplots(figsize=(8, 3.8))
    x = np.arange(len(summary))
    ax.bar(x - 0.2, summary["touches_required"], width=0.4, label="Promised by the service level", color="#8172b2")
    ax.bar(x + 0.2, summary["touches_actual"], width=0.4, label="Delivered last quarter", color="#55a868")
    ax.set_xticks(x)
    ax.set_xticklabels(summary[by].astype("str"))
    ax.set_ylabel("Touches in the quarter")
    ax.set_title("Service promised against people's actual time")
    ax.legend()
    return fig
