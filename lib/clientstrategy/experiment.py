"""The next-best-action control group: its design and its analysis.

Each quarter notebook 07 holds back a random share of the clients on the next-best-action list;
the next quarter notebook 08 compares them with the clients acted on. This module is that
experiment, one step per function:

Design (at assignment, 07)

* :func:`assign` -- who is held back: seeded, stratified by person x tier, drawn anew each
  quarter (rotation), so the same clients are not held back every quarter;
* :func:`minimum_detectable_effect`, :func:`power_table` -- the smallest uplift next quarter's
  comparison could detect, per action type, from the outcome's variance in the pre-period
  within strata; :func:`share_needed` -- the control share that would detect the promised value;
* :func:`balance` -- treated against control at assignment (standardised differences).

Data (per client, in a window)

* :func:`list_units` -- one row per client of a list: its flag, leading action and promise;
* :func:`window_outcomes` -- revenue, purchase days, buying at all, adopting a category;
  :func:`nps_answers` -- the next (or last) NPS answer; :func:`contacts` -- whether the client
  had the recommended touch (from ``activities``, counted in the engine).

Analysis (08)

* :func:`analysis_strata` -- the assignment strata, collapsed where an arm is too thin;
* :func:`estimate` -- stratified difference in means, adjusted by the pre-period outcome
  (CUPED), revenue winsorised, with a percentile interval from a client bootstrap within strata;
* :func:`by_bins` -- uplift by bins of expected value: does the ranking rank uplift?

:func:`clientstrategy.execution.assign_control` and :func:`clientstrategy.monitoring.measure_uplift`
call these functions.
"""
from __future__ import annotations

import re
import zlib

import numpy as np
import pandas as pd
from scipy import optimize, stats

from . import features
from .frames import numeric as _num
from .frames import require as _require

__all__ = [
    "OUTCOMES",
    "SIGNAL_OUTCOMES",
    "adoption_rate",
    "analysis_strata",
    "assign",
    "balance",
    "by_bins",
    "contacts",
    "estimate",
    "list_units",
    "minimum_detectable_effect",
    "nps_answers",
    "outcomes_for",
    "power_table",
    "share_needed",
    "signal_kind",
    "window_outcomes",
]

#: outcome -> (what it is, in words; its kind: money, count, share or score)
OUTCOMES = {
    "revenue": ("revenue in the window", "money"),
    "purchases": ("purchase days in the window", "count"),
    "retained": ("share of clients buying at least once in the window", "share"),
    "adopted": ("share of clients buying the recommended category in the window", "share"),
    "nps": ("next NPS answer in the window (0-10), among clients who answered", "score"),
}

#: action type (signal, normalised by :func:`signal_kind`) -> the outcomes it is measured on.
#: Retention actions on buying (purchase days, buying at all), detractor follow-ups on the next
#: NPS answer, cross-sell on adopting the category; revenue for every type.
SIGNAL_OUTCOMES = {
    "falling activity": ("revenue", "purchases", "retained"),
    "churn": ("revenue", "purchases", "retained"),
    "detractor": ("revenue", "nps"),
    "cross sell": ("revenue", "adopted"),
}

#: strata of the control group: the first column is dropped first when a cell is too thin
STRATA = ("person_id", "tier")


def _flag(values) -> pd.Series:
    """Booleans from a bool column or its text form (a CSV round trip gives 'True'/'False')."""
    s = pd.Series(values)
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype(bool)
    return s.astype("str").str.strip().str.lower().isin(["true", "1", "yes"])


def _crc(text: str) -> int:
    return zlib.crc32(str(text).encode())


def signal_kind(signal) -> str:
    """A signal's name normalised: lower case, ``_`` and ``-`` as spaces.

    Examples
    --------
    >>> signal_kind("Cross-sell"), signal_kind("falling_activity")
    ('cross sell', 'falling activity')
    """
    return re.sub(r"[\s_-]+", " ", str(signal).strip().lower())


def outcomes_for(signal) -> tuple:
    """The outcomes an action type is measured on (:data:`SIGNAL_OUTCOMES`; revenue for any other).

    Examples
    --------
    >>> outcomes_for("cross-sell"), outcomes_for("headroom")
    (('revenue', 'adopted'), ('revenue',))
    """
    return SIGNAL_OUTCOMES.get(signal_kind(signal), ("revenue",))


# ------------------------------------------------------------------------------------ design

def assign(
    units: pd.DataFrame,
    share: float = 0.1,
    random_state: int = 42,
    strata: tuple = STRATA,
    quarter: str | None = None,
) -> pd.Series:
    """Hold back a seeded, stratified random share of clients; drawn anew each quarter.

    Within each stratum (person x tier by default) of ``n`` clients, ``floor(share * n)`` clients
    plus one more with probability ``share * n - floor(share * n)`` are drawn, so every client is
    held back with probability ``share`` exactly and each stratum's control share is as close to
    ``share`` as whole clients allow. Each stratum has its own generator,
    ``numpy.random.default_rng([random_state, crc32(quarter), crc32(stratum)])`` over its sorted
    client ids: the same inputs give the same assignment whatever the row order, and a
    different quarter gives an independent draw (**rotation**: a client held back this quarter
    is held back next quarter with probability ``share`` only). ``quarter=None`` leaves the
    quarter out of the seed (the same clients every call).

    Parameters
    ----------
    units : DataFrame
        ``client_id`` and the ``strata`` columns; a client's first row counts.
    share : float
        Share of clients held back, 0 to 1.
    random_state : int
        Seed.
    strata : tuple of str
        Stratification columns.
    quarter : str, optional
        The assignment's quarter label (e.g. ``"2026Q3"``).

    Returns
    -------
    Series
        ``True`` for a held-back (control) client, indexed by ``client_id`` (sorted).

    Examples
    --------
    >>> u = pd.DataFrame({"client_id": [f"c{i}" for i in range(10)], "person_id": "p", "tier": "Gold"})
    >>> int(assign(u, share=0.3).sum())
    3
    >>> a, b = assign(u, 0.3, quarter="2026Q2"), assign(u, 0.3, quarter="2026Q3")
    >>> bool(a.equals(assign(u, 0.3, quarter="2026Q2"))), bool(a.equals(b))
    (True, False)
    """
    strata = tuple(strata)
    _require(units, ["client_id", *strata], "actions")
    if not 0 <= share <= 1:
        raise ValueError(f"share must be between 0 and 1, got {share}")
    u = units[["client_id", *strata]].astype("str").drop_duplicates("client_id")
    u = u.sort_values([*strata, "client_id"])
    held = set()
    head = [int(random_state)] + ([_crc(quarter)] if quarter is not None else [])
    for key, g in u.groupby(list(strata), sort=True):
        key = key if isinstance(key, tuple) else (key,)
        ids = sorted(g["client_id"])
        rng = np.random.default_rng(head + [_crc("|".join(map(str, key)))])
        exact = share * len(ids)
        k = int(np.floor(exact)) + int(rng.random() < exact - np.floor(exact))
        held.update(rng.choice(ids, size=k, replace=False).tolist() if k else [])
    ids = pd.Index(sorted(u["client_id"]), name="client_id")
    return pd.Series(ids.isin(held), index=ids, name="control")


def _weights(labels: np.ndarray, control: np.ndarray):
    """Strata with both arms: codes, their weights n_s / N, and the clients outside them."""
    codes, _ = pd.factorize(pd.Series(labels).astype("str"))
    n_s = np.bincount(codes)
    n_c = np.bincount(codes, weights=control.astype(float), minlength=len(n_s))
    both = (n_c > 0) & (n_s - n_c > 0)
    keep = both[codes]
    w = np.where(both, n_s, 0) / max(int(n_s[both].sum()), 1)
    return codes, w, both, keep, n_s, n_c


def _z(alpha: float, power: float) -> float:
    return float(stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power))


def minimum_detectable_effect(
    y,
    control,
    *,
    strata=None,
    covariate=None,
    winsor: float | None = None,
    bounds: tuple | None = None,
    covariate_bounds: tuple | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    binary: bool = False,
) -> float:
    """The smallest uplift the comparison detects with probability ``power`` at level ``alpha``.

    ``y`` is the outcome in the **pre-period** (a window as long as the coming measurement,
    ending at assignment), ``control`` the assignment. The stratified estimate's variance is
    ``sigma^2 * K`` with ``K = sum_s w_s^2 (1/n_treated_s + 1/n_control_s)`` over strata holding
    both arms (``w_s = n_s / N``); ``sigma^2`` is the pooled within-stratum variance of ``y``
    (winsorised at ``winsor`` and ``1 - winsor`` when given), reduced by the pre-period
    ``covariate`` (the window before) as the estimator's CUPED adjustment will reduce it:
    the residual of ``y`` on ``covariate`` with one slope within strata. Then
    ``MDE = (z_{1-alpha/2} + z_power) * sqrt(sigma^2 * K)``. For a 0/1 outcome (``binary``) the
    variance is ``(p0 (1 - p0) + p1 (1 - p1)) / 2`` with ``p0`` the pre-period share and
    ``p1 = p0 + MDE``, solved for the MDE (scipy ``brentq``).

    Parameters
    ----------
    y : array-like
        Pre-period outcome per client.
    control : array-like of bool
        Held back.
    strata : array-like, optional
        Stratum label per client (e.g. :func:`analysis_strata`); default one stratum.
    covariate : array-like, optional
        The outcome in the window before (CUPED).
    winsor : float, optional
        Upper quantile for winsorising (e.g. 0.99), as the estimate will use.
    bounds, covariate_bounds : (float, float), optional
        Explicit clipping bounds instead (as :func:`estimate`).
    alpha, power : float
        Two-sided test level and power.
    binary : bool
        ``y`` is 0/1.

    Returns
    -------
    float
        NaN when either arm is empty or the pre-period outcome does not vary.

    Examples
    --------
    Two arms of 100 clients, sigma about 1: ``(1.96 + 0.84) * sqrt(1.005 * 2 / 100)``

    >>> y = np.tile([-1.0, 1.0], 100)
    >>> c = np.repeat([True, False], 100)
    >>> round(minimum_detectable_effect(y, c), 3)
    0.397
    """
    y = np.asarray(y, dtype=float)
    control = np.asarray(control, dtype=bool)
    labels = np.zeros(len(y), dtype=int) if strata is None else np.asarray(strata)
    ok = np.isfinite(y)
    y, control, labels = y[ok], control[ok], labels[ok]
    x = None if covariate is None else np.asarray(covariate, dtype=float)[ok]
    if len(y) == 0 or control.all() or not control.any():
        return float("nan")
    codes, w, both, keep, n_s, n_c = _weights(labels, control)
    k = float(np.sum(w[both] ** 2 * (1 / (n_s - n_c)[both] + 1 / n_c[both])))
    z = _z(alpha, power)
    y, codes = y[keep], codes[keep]
    if binary:
        p0 = float(np.clip(np.sum(w[codes] / n_s[codes] * y), 0, 1))

        def gap(d):
            p1 = min(p0 + d, 1.0)
            return d - z * np.sqrt(k * (p0 * (1 - p0) + p1 * (1 - p1)) / 2)

        top = 1.0 - p0
        return float(top if top <= 0 or gap(top) < 0 else optimize.brentq(gap, 0.0, top))
    if bounds is None and winsor is not None:
        bounds = tuple(np.quantile(y, [1 - winsor, winsor]))
    if bounds is not None:
        y = np.clip(y, *bounds)
    r = y
    if x is not None:
        x = x[keep]
        x = np.where(np.isfinite(x), x, np.nanmean(x) if np.isfinite(x).any() else 0.0)
        if covariate_bounds is None and winsor is not None:
            covariate_bounds = tuple(np.quantile(x, [1 - winsor, winsor]))
        if covariate_bounds is not None:
            x = np.clip(x, *covariate_bounds)
        xd = x - (np.bincount(codes, weights=x) / n_s)[codes]
        yd = y - (np.bincount(codes, weights=y) / n_s)[codes]
        den = float(np.sum(xd ** 2))
        r = y - (float(np.sum(xd * yd)) / den if den > 0 else 0.0) * x
    rd = r - (np.bincount(codes, weights=r) / n_s)[codes]
    dof = len(r) - int(both.sum())
    sigma2 = float(np.sum(rd ** 2) / dof) if dof > 0 else float("nan")
    # no spread at all in the pre-period (e.g. nobody bought): the data cannot say, rather than "anything"
    return float(z * np.sqrt(sigma2 * k)) if sigma2 > 0 else float("nan")


def share_needed(mde: float, share: float, target: float) -> float:
    """The control share at which the MDE would fall to ``target`` (list sizes unchanged).

    The MDE scales as ``1 / sqrt(share * (1 - share))`` (each stratum split in proportion), so
    the answer solves ``s (1 - s) = share (1 - share) (mde / target)^2``; NaN when even half of the
    list held back could not detect ``target`` (more clients or a longer window are needed).

    Examples
    --------
    >>> round(share_needed(mde=150.0, share=0.1, target=100.0), 3)
    0.282
    >>> bool(np.isnan(share_needed(mde=200.0, share=0.1, target=100.0)))
    True
    """
    if not (np.isfinite(mde) and np.isfinite(target)) or target <= 0 or not 0 < share < 1:
        return float("nan")
    need = share * (1 - share) * (mde / target) ** 2
    if need > 0.25 + 1e-12:
        return float("nan")
    return float((1 - np.sqrt(max(1 - 4 * need, 0.0))) / 2)


def balance(units: pd.DataFrame, covariates, control: str = "control", threshold: float = 0.1) -> pd.DataFrame:
    """Treated against control at assignment: standardised differences of each covariate.

    A numeric covariate's standardised difference is ``(mean_t - mean_c) / sqrt((var_t + var_c) / 2)``
    (Austin 2009; missing values left out); a text covariate gives one row per level with the
    shares in each arm and ``(p_t - p_c) / sqrt((p_t (1 - p_t) + p_c (1 - p_c)) / 2)``. A random
    assignment gives small differences; ``|d| > threshold`` (0.1, the usual rule) is flagged.

    Parameters
    ----------
    units : DataFrame
        One row per client with ``control`` and the covariates.
    covariates : sequence of str
        Columns to compare (absent or all-missing ones are skipped).
    control : str
        The flag column.
    threshold : float
        Flag level for ``|std_diff|``.

    Returns
    -------
    DataFrame
        ``covariate``, ``level`` ("" for numeric), ``treated``, ``control`` (means or shares),
        ``std_diff``, ``imbalanced``.

    Examples
    --------
    >>> u = pd.DataFrame({"control": [True, False, True, False], "revenue": [1.0, 3.0, 2.0, 4.0],
    ...                   "tier": ["Gold", "Gold", "Gold", "Silver"]})
    >>> balance(u, ["revenue", "tier"])[["covariate", "level", "std_diff"]].round(2).values.tolist()
    [['revenue', '', 2.83], ['tier', 'Gold', -1.41], ['tier', 'Silver', 1.41]]
    """
    _require(units, [control], "units")
    c = _flag(units[control]).to_numpy()
    rows = []
    for col in covariates:
        if col not in units.columns or units[col].isna().all():
            continue
        v = units[col]
        if pd.api.types.is_numeric_dtype(v) and not pd.api.types.is_bool_dtype(v):
            v = v.astype(float)
            t, k = v[~c].dropna(), v[c].dropna()
            if len(t) < 2 or len(k) < 2:
                continue
            sd = np.sqrt((t.var() + k.var()) / 2)
            d = (t.mean() - k.mean()) / sd if sd > 0 else 0.0
            rows.append({"covariate": col, "level": "", "treated": t.mean(), "control": k.mean(), "std_diff": d})
        else:
            v = v.astype(object).where(v.notna(), "missing").astype("str")
            if c.all() or not c.any():
                continue
            for level in sorted(v.unique()):
                pt, pc = float((v[~c] == level).mean()), float((v[c] == level).mean())
                sd = np.sqrt((pt * (1 - pt) + pc * (1 - pc)) / 2)
                rows.append({"covariate": col, "level": level, "treated": pt, "control": pc,
                             "std_diff": (pt - pc) / sd if sd > 0 else 0.0})
    out = pd.DataFrame(rows, columns=["covariate", "level", "treated", "control", "std_diff"])
    out["imbalanced"] = out["std_diff"].abs() > threshold
    return out


# -------------------------------------------------------------------------------------- data

def list_units(actions: pd.DataFrame, strata: tuple = STRATA) -> pd.DataFrame:
    """One row per client of a next-best-action list: its flag, leading action and promise.

    A client counts under its **leading** action, the one with the highest ``expected_value``
    (ties: ``rank``, then ``topic``); its other actions come along, and its promise is the sum of
    all its actions' twelve-month expected values.

    Parameters
    ----------
    actions : DataFrame
        ``next_best_actions.csv``: ``client_id``, ``control`` and optionally ``signal``,
        ``action``, ``topic``, ``expected_value``, ``rank`` and the ``strata`` columns.
    strata : tuple of str
        Stratification columns (missing values read "unknown").

    Returns
    -------
    DataFrame
        ``client_id``, ``control`` (bool), ``signal``, ``action``, ``topic``, ``expected_value``
        (the leading action's), ``promised_12m`` (all its actions'), the ``strata`` columns;
        sorted by ``client_id``.

    Examples
    --------
    >>> a = pd.DataFrame({"client_id": ["a", "a", "b"], "control": ["False", "False", "True"],
    ...                   "signal": ["headroom", "detractor", "headroom"], "expected_value": [5.0, 9.0, 4.0]})
    >>> list_units(a, strata=())[["client_id", "control", "signal", "promised_12m"]].values.tolist()
    [['a', False, 'detractor', 14.0], ['b', True, 'headroom', 4.0]]
    """
    _require(actions, ["client_id", "control"], "next_best_actions")
    a = actions.copy()
    a["client_id"] = a["client_id"].astype("str")
    a["control"] = _flag(a["control"]).to_numpy()
    mixed = a.groupby("client_id")["control"].nunique()
    if (mixed > 1).any():
        raise ValueError(f"next_best_actions column 'control' differs between the actions of client "
                         f"{mixed[mixed > 1].index[0]!r}: the client is the unit of the control group")
    a["expected_value"] = _num(a, "expected_value").fillna(0.0)
    for col in ("signal", "action", "topic", *strata):
        a[col] = (a[col].astype(object).where(a[col].notna(), "unknown") if col in a.columns
                  else "unknown")
        a[col] = a[col].astype("str")
    a["_rank"] = _num(a, "rank").fillna(np.inf)
    a = a.sort_values(["client_id", "expected_value", "_rank", "topic"], ascending=[True, False, True, True])
    lead = a.groupby("client_id", sort=True).first()
    lead["promised_12m"] = a.groupby("client_id")["expected_value"].sum()
    cols = ["control", "signal", "action", "topic", "expected_value", "promised_12m", *strata]
    return lead[cols].reset_index()


def _categories(products: pd.DataFrame | None) -> dict:
    if products is None or "category" not in products.columns:
        return {}
    p = products.dropna(subset=["category"])
    return dict(zip(p["product_id"].astype("str"), p["category"].astype("str")))


def window_outcomes(
    revenue: pd.DataFrame,
    clients,
    start: pd.Timestamp,
    end: pd.Timestamp,
    *,
    products: pd.DataFrame | None = None,
    topics: pd.Series | None = None,
) -> pd.DataFrame:
    """Outcomes per client in the window ``(start, end]`` from booked revenue.

    ``revenue`` (net, credits included), ``purchases`` (purchase days: days with a positive net
    amount), ``retained`` (1 when the client bought at least once, else 0) and, with ``topics``,
    ``adopted`` (1 when the client bought a positive line in its topic: a product category
    through ``products``, or a product id; NaN without a topic).

    Parameters
    ----------
    revenue : DataFrame
        Canonical ``revenue`` (``product_id`` for ``adopted``).
    clients : sequence of str
        Client ids (clients without revenue get zeros).
    start, end : Timestamp
        The window, ``(start, end]``.
    products : DataFrame, optional
        ``product_id``, ``category``.
    topics : Series, optional
        Category (or product id) by ``client_id``.

    Returns
    -------
    DataFrame
        Indexed by ``client_id`` in the order given.

    Examples
    --------
    >>> rev = pd.DataFrame({"date": pd.to_datetime(["2026-07-02", "2026-07-02", "2026-08-01", "2026-05-01"]),
    ...                     "client_id": ["a", "a", "a", "b"], "amount": [10.0, -4.0, 5.0, 9.0],
    ...                     "product_id": ["p1", "p1", "p2", "p1"]})
    >>> out = window_outcomes(rev, ["a", "b"], pd.Timestamp("2026-06-30"), pd.Timestamp("2026-09-30"),
    ...                       products=pd.DataFrame({"product_id": ["p1", "p2"], "category": ["FX", "Equities"]}),
    ...                       topics=pd.Series({"a": "Equities", "b": "FX"}))
    >>> out.values.tolist()
    [[11.0, 2.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]]
    """
    _require(revenue, ["date", "client_id", "amount"], "revenue")
    ids = pd.Index(pd.Series(list(clients), dtype="str"), name="client_id")
    r = revenue.loc[(revenue["date"] > start) & (revenue["date"] <= end)]
    r = r.loc[r["client_id"].astype("str").isin(ids)]
    cid = r["client_id"].astype("str")
    out = pd.DataFrame(index=ids)
    out["revenue"] = r.groupby(cid)["amount"].sum().reindex(ids).fillna(0.0).astype(float)
    day = r.groupby([cid, r["date"]])["amount"].sum()
    out["purchases"] = (day > 0).groupby(level=0).sum().reindex(ids).fillna(0).astype(float)
    out["retained"] = (out["purchases"] > 0).astype(float)
    if topics is not None:
        t = pd.Series(topics).astype(object)
        t.index = t.index.astype("str")
        t = t.reindex(ids)
        bought: set = set()
        if "product_id" in r.columns and len(r):
            cat = _categories(products)
            item = r["product_id"].astype("str")
            item = item.map(cat).fillna(item) if cat else item
            by = r.groupby([cid, item])["amount"].sum()
            bought = set(by[by > 0].index)
        out["adopted"] = [float((c, v) in bought) if isinstance(v, str) else np.nan for c, v in zip(ids, t)]
    return out


def nps_answers(surveys: pd.DataFrame, clients, start: pd.Timestamp | None, end: pd.Timestamp,
                which: str = "first") -> pd.Series:
    """Each client's ``first`` (or ``last``) NPS answer in ``(start, end]`` (``start=None``: all before).

    Examples
    --------
    >>> sv = pd.DataFrame({"date": pd.to_datetime(["2026-05-01", "2026-07-10", "2026-08-01"]),
    ...                    "client_id": ["a", "a", "a"], "nps": [3, 6, 9]})
    >>> nps_answers(sv, ["a", "b"], pd.Timestamp("2026-06-30"), pd.Timestamp("2026-09-30")).tolist()
    [6.0, nan]
    >>> nps_answers(sv, ["a"], None, pd.Timestamp("2026-06-30"), which="last").tolist()
    [3.0]
    """
    _require(surveys, ["date", "client_id", "nps"], "surveys")
    if which not in ("first", "last"):
        raise ValueError(f"which must be 'first' or 'last', got {which!r}")
    ids = pd.Index(pd.Series(list(clients), dtype="str"), name="client_id")
    s = surveys.loc[surveys["date"] <= end]
    if start is not None:
        s = s.loc[s["date"] > start]
    s = s.assign(client_id=s["client_id"].astype("str"), nps=_num(s, "nps")).dropna(subset=["nps"])
    s = s.sort_values(["client_id", "date"], kind="stable")
    pick = s.groupby("client_id")["nps"].first() if which == "first" else s.groupby("client_id")["nps"].last()
    return pick.reindex(ids).astype(float)


def adoption_rate(revenue: pd.DataFrame, as_of: pd.Timestamp, window_days: int,
                  products: pd.DataFrame | None = None) -> float:
    """How often a client starts buying a category in a window without any recommendation.

    Among (client, category) pairs of clients who bought in the year before
    ``as_of - window_days`` but not that category, the share who bought it in the last
    ``window_days`` before ``as_of``: the base rate of "adopted" for the power calculation.

    Examples
    --------
    >>> rev = pd.DataFrame({"date": pd.to_datetime(["2026-01-05", "2026-01-05", "2026-08-01"]),
    ...                     "client_id": ["a", "b", "a"], "amount": [1.0, 1.0, 1.0], "product_id": ["x", "y", "y"]})
    >>> adoption_rate(rev, pd.Timestamp("2026-09-30"), 91)
    0.5
    """
    _require(revenue, ["date", "client_id", "amount"], "revenue")
    if "product_id" not in revenue.columns:
        return float("nan")
    start = as_of - pd.Timedelta(days=window_days)
    r = revenue.loc[(revenue["date"] > start - pd.Timedelta(days=365)) & (revenue["date"] <= as_of)
                    & (revenue["amount"] > 0)]
    cat = _categories(products)
    item = r["product_id"].astype("str")
    r = r.assign(item=item.map(cat).fillna(item) if cat else item, cid=r["client_id"].astype("str"))
    before = r.loc[r["date"] <= start]
    held = set(zip(before["cid"], before["item"]))
    buyers = set(before["cid"])
    after = set(zip(r.loc[r["date"] > start, "cid"], r.loc[r["date"] > start, "item"]))
    # pairs counted, not listed: every buyer times every category, less the pairs it already held
    pairs = len(buyers) * r["item"].nunique() - len(held)
    new = sum(1 for c, k in after if c in buyers and (c, k) not in held)
    return float(new / pairs) if pairs > 0 else float("nan")


def contacts(activities, units: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    """Whether each client had the recommended touch in ``(start, end]``.

    A client counts as contacted when ``activities`` holds a touch of it in the window whose
    ``activity_type`` is the recommended ``action`` (call, meeting, email...) and, when the
    window's touches carry a ``topic``, whose topic is the action's topic (case-insensitive).
    Routine touches that happen to match count too, in both arms alike, so the *difference*
    between the arms' contact rates is what the list added. Touches are counted in the engine
    (``features.touch_counts``): the event table never comes into pandas.

    Parameters
    ----------
    activities : DataFrame or features.EngineTable
        Canonical ``activities``.
    units : DataFrame
        ``client_id``, ``action``, optional ``topic`` (e.g. :func:`list_units`).
    start, end : Timestamp
        The window.

    Returns
    -------
    Series
        Bool by ``client_id`` in the order of ``units``.

    Examples
    --------
    >>> acts = pd.DataFrame({"timestamp": pd.to_datetime(["2026-07-05 10:00", "2026-07-06 11:00"]),
    ...                      "client_id": ["a", "b"], "activity_type": ["call", "email"], "topic": ["FX", "FX"]})
    >>> u = pd.DataFrame({"client_id": ["a", "b", "c"], "action": ["call", "call", "call"], "topic": ["FX"] * 3})
    >>> contacts(acts, u, pd.Timestamp("2026-06-30"), pd.Timestamp("2026-09-30")).tolist()
    [True, False, False]
    """
    _require(units, ["client_id", "action"], "units")
    t = features.as_table(activities, "activities")
    features.require(t, ["timestamp", "client_id", "activity_type"])
    by = ["client_id", "activity_type"] + (["topic"] if "topic" in t.columns else [])
    c = features.touch_counts(t, by, where=features.window(end, start))
    ids = units["client_id"].astype("str")
    c = c.loc[c["client_id"].astype("str").isin(set(ids))]

    def norm(s):
        return s.astype(object).where(s.notna(), "").astype("str").str.strip().str.lower()

    u = pd.DataFrame({"client_id": ids.to_numpy(), "activity_type": norm(units["action"]).to_numpy()})
    keys = ["client_id", "activity_type"]
    touched = pd.DataFrame({"client_id": c["client_id"].astype("str").to_numpy(),
                            "activity_type": norm(c["activity_type"]).to_numpy()})
    if "topic" in c.columns and c["topic"].notna().any() and "topic" in units.columns:
        u["topic"] = norm(units["topic"]).to_numpy()
        touched["topic"] = norm(c["topic"]).to_numpy()
        keys.append("topic")
    hit = set(map(tuple, touched[keys].drop_duplicates().to_numpy().tolist()))
    flags = [tuple(r) in hit for r in u[keys].to_numpy().tolist()]
    return pd.Series(flags, index=pd.Index(ids.to_numpy(), name="client_id"), name="contacted", dtype=bool)


# ---------------------------------------------------------------------------------- analysis

def analysis_strata(units: pd.DataFrame, strata: tuple = STRATA, control: str = "control",
                    min_per_arm: int = 5) -> pd.Series:
    """The assignment strata for the analysis, collapsed where an arm is too thin.

    A cell of the full stratification (person x tier) keeps its label when both arms hold at
    least ``min_per_arm`` clients; the others are pooled by the coarser key (the first column
    dropped: tier), and what is still too thin is pooled into one stratum. Every client was
    held back with the same probability, so pooling keeps the comparison fair; it only gives up
    a little of the precision stratifying buys.

    Parameters
    ----------
    units : DataFrame
        One row per client with ``control`` and the ``strata`` columns (absent ones are skipped).
    strata : tuple of str
        Assignment strata, coarsest last.
    control : str
        Flag column.
    min_per_arm : int
        Fewest clients per arm for a stratum of its own (5: the bootstrap within a stratum of
        ``m`` clients shrinks its variance by ``(m - 1) / m``, so tiny cells would make the interval
        too narrow).

    Returns
    -------
    Series
        Stratum label per row of ``units``.

    Examples
    --------
    >>> u = pd.DataFrame({"person_id": ["p"] * 4 + ["q"] * 2, "tier": "Gold",
    ...                   "control": [True, True, False, False, True, False]})
    >>> analysis_strata(u, min_per_arm=2).tolist()
    ['person_id|tier=p|Gold', 'person_id|tier=p|Gold', 'person_id|tier=p|Gold', 'person_id|tier=p|Gold', 'all', 'all']
    """
    _require(units, [control], "units")
    cols = [c for c in strata if c in units.columns]
    c = _flag(units[control]).to_numpy()
    label = np.full(len(units), "all", dtype=object)
    todo = np.ones(len(units), dtype=bool)
    for depth in range(len(cols), 0, -1):
        keys = cols[len(cols) - depth:]
        parts = [units[k].astype(object).where(units[k].notna(), "unknown").astype("str").to_numpy(dtype=object)
                 for k in keys]
        key = np.array(["|".join(p) for p in zip(*parts)], dtype=object) if len(units) else np.array([], dtype=object)
        k_todo, c_todo = key[todo], c[todo]
        n_c = pd.Series(c_todo).groupby(k_todo).sum()
        n_t = pd.Series(~c_todo).groupby(k_todo).sum()
        ok = set(n_c.index[(n_c >= min_per_arm) & (n_t >= min_per_arm)])
        hit = todo & np.array([k in ok for k in key], dtype=bool)
        label[hit] = "|".join(keys) + "=" + key[hit]
        todo &= ~hit
    return pd.Series(label, index=units.index, name="stratum", dtype="str")


def _resampled_sums(values: np.ndarray, n_boot: int, rng) -> np.ndarray:
    """Column sums of ``n_boot`` resamples (with replacement) of the rows of ``values``.

    Each replicate's row counts come from ``rng.integers`` and ``np.bincount`` and the sums
    from a matrix product, in chunks of about a million draws, so memory stays flat.
    """
    m = len(values)
    out = np.empty((n_boot, values.shape[1]))
    chunk = max(1, 1_000_000 // max(m, 1))
    for b0 in range(0, n_boot, chunk):
        nb = min(chunk, n_boot - b0)
        draws = rng.integers(0, m, size=(nb, m)) + (np.arange(nb) * m)[:, None]
        counts = np.bincount(draws.ravel(), minlength=nb * m).reshape(nb, m)
        out[b0:b0 + nb] = counts @ values
    return out


def _combine(sums: dict, w: np.ndarray, both: np.ndarray):
    """Stratified differences and the CUPED slope from per-cell sums (each array: replicates x k)."""
    dy = dx = 0.0
    num = den = 0.0
    for s in np.flatnonzero(both):
        (yt, xt, xxt, xyt, mt), (yc, xc, xxc, xyc, mc) = sums[(s, False)], sums[(s, True)]
        dy = dy + w[s] * (yt / mt - yc / mc)
        dx = dx + w[s] * (xt / mt - xc / mc)
        num = num + (xyt - xt * yt / mt) + (xyc - xc * yc / mc)
        den = den + (xxt - xt ** 2 / mt) + (xxc - xc ** 2 / mc)
    den = np.asarray(den, dtype=float)
    theta = np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den > 1e-12 * (1 + np.abs(num)))
    return dy - theta * dx, dy, theta


def estimate(
    y,
    control,
    *,
    strata=None,
    covariate=None,
    winsor: float | None = None,
    bounds: tuple | None = None,
    covariate_bounds: tuple | None = None,
    per=None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    random_state: int = 0,
) -> dict:
    """Uplift of treated over control clients: stratified, CUPED-adjusted, with a bootstrap interval.

    * **Estimate.** Within each stratum the difference of the arms' means, averaged over strata
      with weights ``n_s / N`` (strata missing an arm are left out and counted in ``dropped``):
      the average effect of being on the list, as assigned (intention to treat).
    * **CUPED.** With a ``covariate`` (the same outcome in the window before assignment), the
      estimate is ``D_y - theta * D_x``, ``D`` the stratified differences and ``theta`` the slope
      of ``y`` on ``x`` within stratum and arm (pooled); random assignment makes ``D_x`` zero on
      average, so the meaning is unchanged while the lasting differences between clients, most
      of revenue's variance, drop out.
    * **Heavy tails.** With ``winsor`` (e.g. 0.99) the outcome and the covariate are clipped to
      their ``1 - winsor`` and ``winsor`` quantiles over all clients of both arms before anything
      else; the cut-offs do not depend on the arms and ``winsor`` is fixed before looking. The
      estimate is then the uplift in clipped revenue: the few largest clients cannot swing it,
      and an uplift made only by them would be understated.
    * **Interval.** ``n_boot`` bootstrap replicates resample clients with replacement within each
      stratum and arm (the design's fixed counts), refitting ``theta`` each time; ``se`` is their
      standard deviation, the interval their percentiles. scipy's ``bootstrap`` does not resample
      within strata, hence the few lines here.
    * **Per contact.** With ``per`` (e.g. a 0/1 "contacted" flag), also the estimate divided by the
      arms' stratified difference in ``per`` (the Wald / Bloom estimator of the effect per extra
      contacted client), with its interval from the same replicates; NaN when that difference's
      interval reaches zero.

    Parameters
    ----------
    y : array-like
        Outcome per client (NaN rows are left out).
    control : array-like of bool
        Held back.
    strata : array-like, optional
        Stratum label per client (:func:`analysis_strata`); default one stratum.
    covariate : array-like, optional
        Pre-period outcome (missing values take the mean).
    winsor : float, optional
        Upper quantile for winsorising.
    bounds, covariate_bounds : (float, float), optional
        Clip the outcome (covariate) to these instead: cut-offs computed once over a larger
        population, e.g. the whole list when estimating per action type.
    per : array-like, optional
        A second outcome to scale by (contact).
    n_boot : int
        Bootstrap replicates.
    confidence : float
        Interval level.
    random_state : int
        Seed of the bootstrap.

    Returns
    -------
    dict
        ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``unadjusted`` (stratified difference
        without CUPED), ``raw`` (plain difference of means, unclipped), ``treated``, ``control``
        (clients), ``treated_mean``, ``control_mean`` (unclipped), ``theta``, ``cap`` (upper clip,
        NaN without winsor), ``dropped``, and with ``per``: ``per_gap``, ``per_estimate``,
        ``per_low``, ``per_high``. NaN estimates when an arm has fewer than two clients.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> size = rng.lognormal(0, 1, 400)
    >>> c = np.arange(400) % 4 == 0
    >>> pre = size * rng.lognormal(0, 0.2, 400)
    >>> post = size * rng.lognormal(0, 0.2, 400) + np.where(c, 0.0, 0.5)
    >>> r = estimate(post, c, covariate=pre, n_boot=500)
    >>> bool(r["ci_low"] < 0.5 < r["ci_high"]), bool(r["se"] < 0.1)
    (True, True)
    """
    y = np.asarray(y, dtype=float)
    control = np.asarray(control, dtype=bool)
    labels = np.zeros(len(y), dtype=int) if strata is None else np.asarray(strata)
    ok = np.isfinite(y)
    y, control, labels = y[ok], control[ok], labels[ok]
    x = np.zeros(len(y)) if covariate is None else np.asarray(covariate, dtype=float)[ok]
    x = np.where(np.isfinite(x), x, np.nanmean(x) if np.isfinite(x).any() else 0.0)
    d = None if per is None else np.asarray(per, dtype=float)[ok]
    nan = float("nan")
    out = {"estimate": nan, "se": nan, "ci_low": nan, "ci_high": nan, "unadjusted": nan, "raw": nan,
           "treated": int((~control).sum()), "control": int(control.sum()),
           "treated_mean": float(y[~control].mean()) if (~control).any() else nan,
           "control_mean": float(y[control].mean()) if control.any() else nan,
           "theta": nan, "cap": nan, "dropped": 0}
    if per is not None:
        out.update({"per_gap": nan, "per_estimate": nan, "per_low": nan, "per_high": nan})
    if out["treated"] < 2 or out["control"] < 2:
        return out
    out["raw"] = out["treated_mean"] - out["control_mean"]
    if bounds is None and winsor is not None:
        bounds = tuple(np.quantile(y, [1 - winsor, winsor]))
    if covariate_bounds is None and winsor is not None:
        covariate_bounds = tuple(np.quantile(x, [1 - winsor, winsor]))
    if bounds is not None:
        y = np.clip(y, *bounds)
        out["cap"] = float(bounds[1])
    if covariate_bounds is not None:
        x = np.clip(x, *covariate_bounds)
    codes, w, both, keep, _, _ = _weights(labels, control)
    out["dropped"] = int((~keep).sum())
    cols = [y, x, x * x, x * y] + ([d] if d is not None else [])
    values = np.column_stack(cols)
    rng = np.random.default_rng(int(random_state))
    point, boot = {}, {}
    for s in np.flatnonzero(both):
        for arm in (False, True):
            v = values[(codes == s) & (control == arm)]
            m = float(len(v))
            point[(s, arm)] = (*v[:, :4].sum(axis=0), m)
            sums = _resampled_sums(v, n_boot, rng)
            boot[(s, arm)] = (*sums[:, :4].T, m)
            if d is not None:
                point[(s, arm, "d")] = v[:, 4].sum()
                boot[(s, arm, "d")] = sums[:, 4]
    est, dy, theta = _combine(point, w, both)
    draws, _, _ = _combine(boot, w, both)
    a = (1 - confidence) / 2
    out.update({"estimate": float(est), "unadjusted": float(dy), "theta": float(theta),
                "se": float(np.std(draws, ddof=1)), "ci_low": float(np.quantile(draws, a)),
                "ci_high": float(np.quantile(draws, 1 - a))})
    if d is not None:
        def gap(src):
            return sum(w[s] * (src[(s, False, "d")] / src[(s, False)][4] - src[(s, True, "d")] / src[(s, True)][4])
                       for s in np.flatnonzero(both))

        g, g_draws = float(gap(point)), np.asarray(gap(boot), dtype=float)
        out["per_gap"] = g
        if np.quantile(g_draws, a) > 0:
            ratio = draws / g_draws
            out.update({"per_estimate": float(est) / g, "per_low": float(np.quantile(ratio, a)),
                        "per_high": float(np.quantile(ratio, 1 - a))})
    return out


def by_bins(
    units: pd.DataFrame,
    outcome: str,
    score: str = "promised_12m",
    *,
    covariate: str | None = None,
    strata: tuple = STRATA,
    bins: int = 10,
    min_per_arm: int = 10,
    winsor: float | None = None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    random_state: int = 0,
) -> tuple[pd.DataFrame, dict]:
    """Uplift by bins of expected value: does the ranking rank uplift?

    Clients are cut into equal-count bins of ``score`` (deciles, or fewer so that every bin
    holds at least ``min_per_arm`` clients of each arm on average); in each bin :func:`estimate`
    gives the uplift with its interval (strata collapsed within the bin). Winsorising uses one
    cut-off over all clients. A ranking that ranks uplift shows the uplift rising with the bins;
    ``trend`` gives the top half's uplift minus the bottom half's with a normal interval.

    Parameters
    ----------
    units : DataFrame
        One row per client: ``control``, ``outcome``, ``score``, optional ``covariate`` and strata.
    outcome, score : str
        Columns.
    covariate : str, optional
        Pre-period column for CUPED.
    strata : tuple of str
        Assignment strata.
    bins : int
        Most bins.
    min_per_arm : int
        Fewest clients of each arm per bin, on average.
    winsor : float, optional
        Upper quantile for winsorising the outcome (and covariate).
    n_boot, confidence, random_state
        As in :func:`estimate`.

    Returns
    -------
    (DataFrame, dict)
        Per bin ``bin`` (1 = lowest score), ``score_low``, ``score_high``, ``treated``,
        ``control``, ``promised_mean`` (mean score), ``estimate``, ``se``, ``ci_low``, ``ci_high``;
        and ``{"bins", "difference", "ci_low", "ci_high"}`` (top half minus bottom half; empty
        table and ``bins = 0`` when counts do not allow two bins).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> u = pd.DataFrame({"control": np.arange(600) % 3 == 0, "promised_12m": rng.uniform(0, 10, 600)})
    >>> u["y"] = rng.normal(0, 1, 600) + np.where(u["control"], 0.0, u["promised_12m"] / 5)
    >>> table, trend = by_bins(u, "y", bins=4, n_boot=200)
    >>> len(table), bool(trend["ci_low"] > 0)
    (4, True)
    """
    _require(units, ["control", outcome, score], "units")
    u = units.loc[_num(units, outcome).notna() & _num(units, score).notna()].copy()
    c = _flag(u["control"]).to_numpy()
    k = int(min(bins, c.sum() // max(min_per_arm, 1), (~c).sum() // max(min_per_arm, 1)))
    cols = ["bin", "score_low", "score_high", "treated", "control", "promised_mean", "estimate", "se",
            "ci_low", "ci_high"]
    nan = float("nan")
    if k < 2:
        return pd.DataFrame(columns=cols), {"bins": 0, "difference": nan, "ci_low": nan, "ci_high": nan}
    yv = _num(u, outcome).to_numpy()
    xv = _num(u, covariate).to_numpy() if covariate else None
    if winsor is not None:
        yv = np.clip(yv, *np.quantile(yv, [1 - winsor, winsor]))
        if xv is not None:
            fx = np.where(np.isfinite(xv), xv, np.nanmean(xv))
            xv = np.clip(fx, *np.quantile(fx, [1 - winsor, winsor]))
    u = u.assign(_y=yv, _x=xv if xv is not None else np.nan)
    sc = _num(u, score)
    u["bin"] = pd.qcut(sc.rank(method="first"), k, labels=False).astype(int) + 1
    rows = []
    for b, g in u.groupby("bin", sort=True):
        lab = analysis_strata(g, strata, "control")
        r = estimate(g["_y"], _flag(g["control"]), strata=lab, covariate=g["_x"] if covariate else None,
                     n_boot=n_boot, confidence=confidence, random_state=random_state + int(b))
        rows.append({"bin": int(b), "score_low": float(_num(g, score).min()), "score_high": float(_num(g, score).max()),
                     "treated": r["treated"], "control": r["control"], "promised_mean": float(_num(g, score).mean()),
                     "estimate": r["estimate"], "se": r["se"], "ci_low": r["ci_low"], "ci_high": r["ci_high"]})
    table = pd.DataFrame(rows, columns=cols)
    halves = []
    for part in (u.loc[u["bin"] > k / 2], u.loc[u["bin"] <= k / 2]):
        lab = analysis_strata(part, strata, "control")
        halves.append(estimate(part["_y"], _flag(part["control"]), strata=lab,
                               covariate=part["_x"] if covariate else None, n_boot=n_boot,
                               confidence=confidence, random_state=random_state))
    diff = halves[0]["estimate"] - halves[1]["estimate"]
    se = float(np.hypot(halves[0]["se"], halves[1]["se"]))
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    return table, {"bins": k, "difference": diff, "ci_low": diff - z * se, "ci_high": diff + z * se}


def power_table(
    units: pd.DataFrame,
    revenue: pd.DataFrame,
    as_of: pd.Timestamp,
    window_days: int,
    *,
    surveys: pd.DataFrame | None = None,
    products: pd.DataFrame | None = None,
    strata: tuple = STRATA,
    winsor: float | None = 0.99,
    covariate_days: int = 365,
    alpha: float = 0.05,
    power: float = 0.8,
) -> pd.DataFrame:
    """Per action type and outcome: the smallest uplift the coming comparison could detect.

    For the clients of each action type (and all together for revenue), with the control group
    as assigned: :func:`minimum_detectable_effect` of the outcome in the ``window_days`` before
    ``as_of`` (the pre-period, a window as long as the coming measurement), CUPED-reduced by the
    window before that, within the analysis strata; 0/1 outcomes from their pre-period share
    (``retained``) or the portfolio's base rate of adopting a category (``adopted``,
    :func:`adoption_rate`). NPS answers come from clients who answer: its MDE uses the spread of
    all answers in the last year and, as the number of answers to expect, each arm's clients
    times the share of the type's clients who answered in the window before the pre-period.
    For revenue, ``promised`` is the treated clients' mean twelve-month promise
    (``promised_12m``) scaled to the window (``window_days / 365.25``: spread evenly over the
    year), ``detectable`` says whether the MDE is at most that, and ``share_needed`` gives the
    control share that would make it so (:func:`share_needed`).

    Parameters
    ----------
    units : DataFrame
        :func:`list_units` output (with ``control``).
    revenue : DataFrame
        Canonical ``revenue``.
    as_of : Timestamp
        Assignment date (end of the pre-period).
    window_days : int
        Length of the coming measurement window.
    surveys, products : DataFrame, optional
        For ``nps`` and ``adopted``.
    strata : tuple of str
        Assignment strata.
    winsor : float, optional
        Revenue winsorising quantile, as the measurement will use it.
    alpha, power : float
        Test level and power.

    Returns
    -------
    DataFrame
        ``signal`` ("all" for every client together), ``outcome``, ``clients``, ``treated``,
        ``control``, ``window_days``, ``promised``, ``mde``, ``detectable``, ``share_needed``.
    """
    _require(units, ["client_id", "control", "signal", "promised_12m"], "units")
    w = pd.Timedelta(days=int(window_days))
    topics = units.set_index("client_id")["topic"] if "topic" in units.columns else None
    ids = units["client_id"].tolist()
    pre = window_outcomes(revenue, ids, as_of - w, as_of, products=products, topics=topics)
    before = window_outcomes(revenue, ids, as_of - w - pd.Timedelta(days=int(covariate_days)), as_of - w,
                             products=products, topics=topics)
    bounds = x_bounds = None
    if winsor is not None and len(pre):
        bounds = tuple(np.quantile(pre["revenue"], [1 - winsor, winsor]))
        x_bounds = tuple(np.quantile(before["revenue"], [1 - winsor, winsor]))
    wanted = {o for sig in units["signal"].unique() for o in outcomes_for(sig)}
    base_adopt = (adoption_rate(revenue, as_of, int(window_days), products)
                  if "adopted" in wanted and "adopted" in pre.columns else np.nan)
    nps_sd = answered = None
    if surveys is not None and len(surveys):
        _require(surveys, ["date", "client_id", "nps"], "surveys")
        year = surveys.loc[(surveys["date"] > as_of - pd.Timedelta(days=365)) & (surveys["date"] <= as_of)]
        nps_sd = float(_num(year, "nps").std()) if len(year) > 1 else None
        answered = nps_answers(surveys, ids, as_of - 2 * w, as_of - w).notna()
    groups = [("all", units)] + [(s, g) for s, g in units.groupby("signal", sort=True)]
    rows = []
    for sig, g in groups:
        c = _flag(g["control"]).to_numpy()
        lab = analysis_strata(g, strata).to_numpy()
        ids_g = g["client_id"].to_numpy()
        for outcome in (("revenue",) if sig == "all" else outcomes_for(sig)):
            row = {"signal": sig, "outcome": outcome, "clients": len(g), "treated": int((~c).sum()),
                   "control": int(c.sum()), "window_days": int(window_days), "promised": np.nan, "mde": np.nan,
                   "detectable": None, "share_needed": np.nan}
            if outcome in ("revenue", "purchases"):
                cut = outcome == "revenue" and winsor is not None
                row["mde"] = minimum_detectable_effect(
                    pre.loc[ids_g, outcome], c, strata=lab, covariate=before.loc[ids_g, outcome],
                    bounds=bounds if cut else None, covariate_bounds=x_bounds if cut else None,
                    alpha=alpha, power=power)
            elif outcome == "retained":
                row["mde"] = minimum_detectable_effect(pre.loc[ids_g, outcome], c, strata=lab, alpha=alpha,
                                                       power=power, binary=True)
            elif outcome == "adopted" and np.isfinite(base_adopt):
                row["mde"] = minimum_detectable_effect(np.full(len(g), base_adopt), c, strata=lab, alpha=alpha,
                                                       power=power, binary=True)
            elif outcome == "nps" and nps_sd is not None:
                r = float(answered.loc[ids_g].mean())
                nt, nc = (~c).sum() * r, c.sum() * r
                if nt > 0 and nc > 0:
                    row["mde"] = _z(alpha, power) * nps_sd * float(np.sqrt(1 / nt + 1 / nc))
            if outcome == "revenue":
                t = g.loc[~c, "promised_12m"].astype(float)
                row["promised"] = float(t.mean()) * window_days / 365.25 if len(t) else np.nan
                if np.isfinite(row["mde"]) and np.isfinite(row["promised"]):
                    row["detectable"] = bool(row["mde"] <= row["promised"])
                    row["share_needed"] = share_needed(row["mde"], float(c.mean()), row["promised"])
            rows.append(row)
    return pd.DataFrame(rows, columns=["signal", "outcome", "clients", "treated", "control", "window_days",
                                       "promised", "mde", "detectable", "share_needed"])
