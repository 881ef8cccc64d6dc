"""The bottom-up plan's numbers: a base forecast from the models, new clients, simulated ranges, a back-test.

Seed 000's thesis is that a plan built from "which clients will grow, and how" is more realistic
than top-down arithmetic. This module gives the plan the numbers that claim rests on, and measures
the claim:

* :func:`existing_forecast` -- each current client's expected revenue over the plan horizon:
  expected purchases from the purchase model times expected spend per purchase from the spend
  model (any model with the interface of ``clv.MODELS``). When the purchase model is refused
  (``clv.fit_readiness``: too few repeat buyers) the fallback is a *run-rate shrunk toward the
  population* (:func:`run_rate_fit`): next period's revenue regressed on this period's across the
  clients of the previous period, ``next = a + b * last``, the linear credibility forecast; it is
  measured on the data, needs no repeat buyers and is back-tested like the models.
* :func:`new_client_forecast` -- clients not yet acquired: an acquisition rate from the recent
  window (a cohort whose acquisitions stopped gets none, with the reason) and their revenue from
  their first purchase on.
* :func:`simulate_plan` -- ranges of totals by simulation: the clients' futures drawn jointly
  (``draw_purchases`` then ``draw_revenue``), each draw under one bootstrap refit of the models so
  that parameter uncertainty is in the range, summed per draw for every group, owner, tier and the
  firm; the range of a total is the quantiles of those sums, never a sum of quantiles.
* :func:`top_down_baselines` and :func:`plan_backtest` -- the forecast made ``months`` before
  ``AS_OF`` against what happened, beside the forecasts a finance team would make top-down
  (``metrics.json`` ``plan_backtest``, SPEC section 3); :func:`plot_plan_backtest` draws it.
* :func:`history_cover` -- the share of a window the data cover, to annualise a short history and
  say so; :func:`assumption_table` -- the named assumptions a page rests on, with their source.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import clv
from .frames import require as _require
from .outcomes import assign_tiers
from .words import pct, plural

__all__ = [
    "BASELINE_NAMES",
    "BASELINE_RULES",
    "ExistingForecast",
    "NewClientForecast",
    "PlanSimulation",
    "assumption_table",
    "backtest_months",
    "backtest_sentences",
    "existing_forecast",
    "history_cover",
    "models_from_artifact",
    "new_client_forecast",
    "plan_backtest",
    "plot_plan_backtest",
    "run_rate_fit",
    "simulate_plan",
    "top_down_baselines",
]

#: Days in an average month (365.2425 / 12).
DAYS_PER_MONTH = 365.2425 / 12
_WEEKS_PER_MONTH = clv.WEEKS_PER_YEAR / 12
_CHUNK_PAIRS = 2_000_000  # client x draw values held at once by simulate_plan (bounds memory)
_START_SLACK_DAYS = 7  # data starting this many days into a window still cover it (a first weekday, a holiday)
#: Fewest months of history before a forecast date for a plan (and its back-test) to be made.
MIN_HISTORY_MONTHS = 3.0

#: The top-down forecasts the plan back-test compares with, in words.
#: The top-down rules' names as the pages print them.
BASELINE_NAMES = {"last_year_flat": "Last year flat", "last_year_trend": "Last year + its growth",
                  "last_quarter_x4": "Last quarter x4", "ltm_times_p_alive": "Last year x chance active"}
BASELINE_RULES = {
    "last_year_flat": "the last twelve months of revenue again",
    "last_year_trend": "the last twelve months of revenue times one plus the growth of the last year",
    "last_quarter_x4": "the revenue of the last quarter times four",
    "ltm_times_p_alive": ("each client: its last twelve months of revenue times its chance of still being active "
                          "(the old plan rule)"),
}


# --------------------------------------------------------------------------------------------
# checks and windows
# --------------------------------------------------------------------------------------------


def _revenue(revenue: pd.DataFrame) -> pd.DataFrame:
    _require(revenue, ["date", "client_id", "amount"], "revenue")
    if not pd.api.types.is_datetime64_any_dtype(revenue["date"]):
        raise ValueError("revenue column 'date' must be datetime64")
    amount = pd.to_numeric(revenue["amount"], errors="coerce")
    if amount.isna().any():
        raise ValueError("revenue column 'amount' has missing or non-numeric values")
    return pd.DataFrame({"date": revenue["date"].dt.normalize(), "client_id": revenue["client_id"].astype(str),
                         "amount": amount.astype(float)})


def _months_before(as_of: pd.Timestamp, months: float) -> pd.Timestamp:
    """``as_of`` minus ``months``; a month end stays a month end (30 June - 6 months = 31 December)."""
    months = float(months)
    if months != int(months):
        return (as_of - pd.Timedelta(days=months * DAYS_PER_MONTH)).normalize()
    if as_of.is_month_end and months > 0:
        return (as_of - pd.offsets.MonthEnd(int(months))).normalize()
    return (as_of - pd.DateOffset(months=int(months))).normalize()


def _window_sum(rev: pd.DataFrame, start, end) -> pd.Series:
    """Net amount per client of rows with ``start < date <= end``."""
    r = rev.loc[(rev["date"] > start) & (rev["date"] <= end)]
    return r.groupby("client_id")["amount"].sum()


def history_cover(revenue: pd.DataFrame, as_of, months: float = 12) -> float:
    """Share of the ``months`` before ``as_of`` that the revenue data cover (0 to 1).

    The data cover the window from their first date on: data starting on 1 January 1997 cover
    181 of the 365 days of the twelve months to 30 June 1997 (0.496). A figure summed over a
    window the data only partly cover is annualised by dividing it by this share.

    Parameters
    ----------
    revenue : DataFrame
        Canonical ``revenue`` (``date``, ``client_id``, ``amount``).
    as_of : Timestamp
        End of the window.
    months : float
        Length of the window.

    Returns
    -------
    float
        Days of the window on or after the first revenue date, over the window's days (1 when the
        data start within a week of the window's start: a weekend or a holiday is not a gap); 0
        when no revenue is dated on or before ``as_of``.

    Examples
    --------
    >>> rev = pd.DataFrame({"date": pd.to_datetime(["1997-01-01"]), "client_id": ["a"], "amount": [1.0]})
    >>> round(history_cover(rev, pd.Timestamp("1997-06-30")), 3)
    0.496
    """
    rev = _revenue(revenue)
    as_of = pd.Timestamp(as_of).normalize()
    dates = rev.loc[rev["date"] <= as_of, "date"]
    if dates.empty:
        return 0.0
    start = _months_before(as_of, months)
    window = (as_of - start).days
    covered = (as_of - max(dates.min(), start + pd.Timedelta(days=1))).days + 1
    if window - covered <= _START_SLACK_DAYS:  # data from the first weekday of the window cover it
        return 1.0
    return float(min(1.0, max(0.0, covered / window)))


def _history_months(rev: pd.DataFrame, as_of: pd.Timestamp) -> float:
    """Months of data up to ``as_of`` (days from the first revenue date, as months)."""
    dates = rev.loc[rev["date"] <= as_of, "date"]
    if dates.empty:
        return 0.0
    return ((as_of - dates.min()).days + 1) / DAYS_PER_MONTH


def _whole_months(rev: pd.DataFrame, as_of: pd.Timestamp) -> int:
    """Whole months before ``as_of`` the data cover (data from 1 January to 30 June: 6; a first date up to a
    week late still counts)."""
    dates = rev.loc[rev["date"] <= as_of, "date"]
    if dates.empty:
        return 0
    first = dates.min()
    m = int(_history_months(rev, as_of)) + 1
    while m > 0 and _months_before(as_of, m) + pd.Timedelta(days=1 + _START_SLACK_DAYS) < first:
        m -= 1
    return m


def _quantiles(draws: np.ndarray, level: float, axis: int = -1):
    lo, hi = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2], axis=axis)
    return lo, hi


def _money(x) -> str:
    """An amount in business words, as the pages write it: 1234567 -> '1.2m', 45300 -> '45k'."""
    if x is None or not np.isfinite(x):
        return "n/a"
    a, sign = abs(float(x)), "-" if x < 0 else ""
    if a >= 1e9:
        return f"{sign}{a / 1e9:.1f}bn"
    if a >= 1e6:
        return f"{sign}{a / 1e6:.1f}m"
    if a >= 1e4:
        return f"{sign}{a / 1e3:.0f}k"
    if a >= 1e3:
        return f"{sign}{a / 1e3:.1f}k"
    return f"{sign}{a:.0f}"


def _pct(x) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{100 * float(x):.0f}%"


def _check_level(level: float) -> float:
    level = float(level)
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    return level


# --------------------------------------------------------------------------------------------
# the fallback: run-rate shrunk toward the population
# --------------------------------------------------------------------------------------------
@dataclass
class _RunRate:
    """``next = a + b * last`` over windows of ``window_months``, with the fit's residuals by ``last``."""

    a: float
    b: float
    window_months: float
    x: np.ndarray  # training clients' last-window revenue, sorted
    resid: np.ndarray  # their residuals, in the same order

    def predict(self, x) -> np.ndarray:
        return np.maximum(self.a + self.b * np.asarray(x, float), 0.0)

    def draw_resid(self, x, k: int, rng: np.random.Generator, neighbours: int = 25) -> np.ndarray:
        """Residuals of training clients with a similar last-window revenue (local bootstrap).

        Residuals grow with a client's size, so a client's draw comes from the ``neighbours``
        training clients either side of its revenue rank (ties included): a 50k client never
        borrows the spread of a 500 one.
        """
        x = np.asarray(x, float)
        n = len(self.x)
        lo = np.clip(np.searchsorted(self.x, x, "left") - neighbours, 0, max(n - 1, 0))
        hi = np.clip(np.searchsorted(self.x, x, "right") + neighbours, 1, n)
        idx = lo[:, None] + np.floor(rng.random((len(x), k)) * (hi - lo)[:, None]).astype(np.int64)
        return self.resid[np.minimum(idx, n - 1)]


def run_rate_fit(revenue: pd.DataFrame, as_of, window_months: float = 12, weights=None) -> _RunRate:
    """Fit the run-rate forecast ``next = a + b * last`` on the previous pair of windows.

    The clients are those with revenue on or before ``as_of - window``; ``last`` is their revenue in
    the window before that, ``next`` their revenue in the window to ``as_of`` (zero when they bought
    nothing: lost clients count). Least squares with an intercept is the linear credibility
    (Buehlmann) forecast: ``b`` below 1 shrinks each client's run-rate toward the population and
    ``a`` is what a client with nothing last period still brings; summed over the clients it was
    fitted on, it reproduces their total exactly. Forecasts below zero are planned at zero.

    Parameters
    ----------
    revenue : DataFrame
        Canonical ``revenue``.
    as_of : Timestamp
        End of the ``next`` window.
    window_months : float
        Length of each window.
    weights : array-like, optional
        A weight per training client (in ``client_id`` order), e.g. bootstrap counts.

    Returns
    -------
    object
        With ``a``, ``b``, ``window_months`` and ``predict(last)``.

    Examples
    --------
    >>> rev = pd.DataFrame({"date": pd.to_datetime(["2025-03-01", "2025-09-01", "2025-03-01"]),
    ...                     "client_id": ["a", "a", "b"], "amount": [100.0, 50.0, 40.0]})
    >>> fit = run_rate_fit(rev, pd.Timestamp("2025-12-31"), window_months=6)
    >>> round(fit.b, 3), round(fit.a, 3)
    (0.833, -33.333)
    """
    rev = _revenue(revenue)
    as_of = pd.Timestamp(as_of).normalize()
    t1 = _months_before(as_of, window_months)
    t0 = _months_before(t1, window_months)
    ids = np.sort(rev.loc[rev["date"] <= t1, "client_id"].unique())
    if len(ids) < 2:
        raise ValueError(f"fewer than two clients bought by {t1:%Y-%m-%d}: no run-rate can be fitted")
    x = _window_sum(rev, t0, t1).reindex(ids).fillna(0.0).to_numpy(float)
    y = _window_sum(rev, t1, as_of).reindex(ids).fillna(0.0).to_numpy(float)
    w = np.ones(len(ids)) if weights is None else np.asarray(weights, float)
    if len(w) != len(ids):
        raise ValueError(f"weights has {len(w)} values for {len(ids)} training clients")
    sw = w.sum()
    mx, my = (w * x).sum() / sw, (w * y).sum() / sw
    sxx = (w * (x - mx) ** 2).sum()
    b = float((w * (x - mx) * (y - my)).sum() / sxx) if sxx > 0 else 0.0
    a = float(my - b * mx)
    keep = w > 0
    order = np.argsort(x[keep], kind="mergesort")
    resid = (y - (a + b * x))[keep][order]
    return _RunRate(a=a, b=b, window_months=float(window_months), x=x[keep][order], resid=resid)


def _run_rate_training_size(revenue: pd.DataFrame, as_of, window_months: float) -> int:
    rev = _revenue(revenue)
    t1 = _months_before(pd.Timestamp(as_of).normalize(), window_months)
    return int(rev.loc[rev["date"] <= t1, "client_id"].nunique())


# --------------------------------------------------------------------------------------------
# existing clients
# --------------------------------------------------------------------------------------------
@dataclass
class ExistingForecast:
    """Expected revenue of today's clients over the horizon, and how to draw their futures.

    Attributes
    ----------
    clients : DataFrame
        One row per client with revenue on or before ``as_of``, sorted by ``client_id``:
        ``client_id``, ``base`` (expected revenue over the horizon), ``expected_purchases``,
        ``expected_spend``, ``p_alive`` and ``repeat_purchases`` (purchase days after the first;
        NaN under the fallback), ``method`` (``models``,
        ``run_rate`` or ``no purchase`` for clients whose lines are all credits).
    method : str
        ``models`` or ``run_rate``.
    as_of : Timestamp
    horizon_months : float
    basis : str
        What the forecast rests on, in words.
    notes : list of str
        Caveats for the page (e.g. no parameter uncertainty, a short window annualised).
    n_fits : int
        Number of refits the simulation cycles through (parameter uncertainty).
    purchase_model, spend_model : fitted models or None
        The point fit (models only).
    """

    clients: pd.DataFrame
    method: str
    as_of: pd.Timestamp
    horizon_months: float
    basis: str
    notes: list = field(default_factory=list)
    n_fits: int = 1
    purchase_model: object = None
    spend_model: object = None
    _summary: pd.DataFrame | None = None
    _srow: np.ndarray | None = None
    _fits: list = field(default_factory=list)
    _last: np.ndarray | None = None

    # -- draws of existing clients ----------------------------------------------------------
    def draw(self, rows: slice, k: int, fit: int, rng: np.random.Generator) -> np.ndarray:
        """Revenue over the horizon of clients ``rows`` (of :attr:`clients`), ``k`` draws under refit ``fit``."""
        n = len(range(*rows.indices(len(self.clients))))
        out = np.zeros((n, int(k)))
        if self.method == "models":
            sub = self._srow[rows]
            ok = sub >= 0
            if ok.any():
                s = self._summary.iloc[sub[ok]]
                pm, sm = self._fits[fit]
                counts = pm.draw_purchases(self.horizon_months * _WEEKS_PER_MONTH, s, int(k), rng)
                out[ok] = sm.draw_revenue(counts, s, rng)
            return out
        rr = self._fits[fit]
        last = self._last[rows]
        scale = self.horizon_months / rr.window_months
        return (rr.predict(last)[:, None] + rr.draw_resid(last, int(k), rng)) * scale

    # -- a client acquired later ------------------------------------------------------------
    def new_client_expected(self, months: float, first_amount: float) -> float:
        """Expected revenue after its first purchase, over ``months``, of a client acquired now."""
        if months <= 0:
            return 0.0
        if self.method == "models":
            zero = _zero_summary(1)
            spend = float(self.spend_model.expected_spend(zero)[0])
            if not np.isfinite(spend):
                spend = float(first_amount)
            return _expected_population(self.purchase_model, months * _WEEKS_PER_MONTH) * spend
        rr = self._fits[0]
        return float(rr.predict([first_amount])[0]) * months / rr.window_months

    def draw_new(self, months: float, first_amounts: np.ndarray, fit: int, rng: np.random.Generator) -> np.ndarray:
        """Revenue after the first purchase, over ``months``, of new clients (one draw each) under refit ``fit``."""
        m = len(first_amounts)
        if m == 0 or months <= 0:
            return np.zeros(m)
        if self.method == "models":
            zero = _zero_summary(m)
            pm, sm = self._fits[fit]
            counts = pm.draw_purchases(months * _WEEKS_PER_MONTH, zero, 1, rng)
            return sm.draw_revenue(counts, zero, rng)[:, 0]
        rr = self._fits[fit]
        f = np.asarray(first_amounts, float)
        return (rr.predict(f) + rr.draw_resid(f, 1, rng)[:, 0]) * months / rr.window_months


def _expected_purchases(pm, weeks: float, summary: pd.DataFrame, random_state: int = 0) -> tuple[np.ndarray, int]:
    """The model's closed-form expectation; where it fails numerically, the mean of 2,000 draws.

    At a boundary of the likelihood (a and b of BG/NBD in the tens of thousands) the hypergeometric
    closed form overflows while the model's own simulation still works. Returns the expectations
    and how many came from draws.
    """
    with np.errstate(all="ignore"):
        e = np.asarray(pm.expected_purchases(weeks, summary), float).copy()
    bad = ~np.isfinite(e)
    if bad.any():
        e[bad] = pm.draw_purchases(weeks, summary.iloc[np.flatnonzero(bad)], 2000, random_state).mean(axis=1)
    return e, int(bad.sum())


def _expected_population(pm, weeks: float) -> float:
    """Expected purchases of a new client in its first ``weeks``; the mean of draws where the closed form fails."""
    if weeks <= 0:
        return 0.0
    with np.errstate(all="ignore"):
        v = float(np.asarray(pm.expected_population(weeks)).ravel()[0])
    if not np.isfinite(v):
        v = float(pm.draw_purchases(weeks, _zero_summary(1), 20000, 0).mean())
    return v


def _zero_summary(m: int) -> pd.DataFrame:
    """Summary rows of clients just acquired: no repeat purchase yet, observed for no time."""
    return pd.DataFrame({"x": np.zeros(m, dtype=np.int64), "t_x": np.zeros(m), "T": np.zeros(m),
                         "monetary": np.zeros(m)})


def models_from_artifact(models: dict | None, as_of) -> tuple:
    """The fitted models notebook 01 handed on in ``artifacts/models.json``, if they fit this run.

    Parameters
    ----------
    models : dict or None
        The artifact: ``purchase_model``, ``spend_model`` (``clv.model_to_dict``), ``bootstrap``
        (list of such pairs) and ``as_of``.
    as_of : Timestamp
        The run's as-of date; models fitted at another date are not used.

    Returns
    -------
    (purchase model, spend model, list of pairs or None, reason)
        ``(None, None, None, reason)`` when the artifact is absent or does not apply.

    Examples
    --------
    >>> models_from_artifact(None, pd.Timestamp("2026-09-30"))[3]
    'no artifacts/models.json from 01'
    """
    if not models:
        return None, None, None, "no artifacts/models.json from 01"
    try:
        when = pd.Timestamp(models.get("as_of")).normalize()
    except (TypeError, ValueError):
        when = None
    if when is None or when != pd.Timestamp(as_of).normalize():
        return None, None, None, (f"the models.json of 01 was fitted as of {models.get('as_of')}, not at the as-of "
                                  "date of this run")
    if not models.get("purchase_model") or not models.get("spend_model"):
        return None, None, None, "the models.json of 01 holds no fitted purchase and spend model"
    try:
        pm = clv.model_from_dict(models["purchase_model"])
        sm = clv.model_from_dict(models["spend_model"])
        boot = [(clv.model_from_dict(b["purchase_model"]), clv.model_from_dict(b["spend_model"]))
                for b in (models.get("bootstrap") or [])]
    except (ValueError, KeyError, TypeError) as exc:
        return None, None, None, f"the models.json of 01 cannot be read ({exc})"
    return pm, sm, (boot or None), ""


def _one_blas_thread():
    """Limit BLAS to one thread while models are fitted and drawn.

    The fits are four-parameter L-BFGS-B problems: on a machine whose cores are busy, L-BFGS-B's
    BLAS calls stall on their thread pool for far longer than the arithmetic takes (a bootstrap of
    20 refits took 1.9 s with two threads and 0.4 s with one). ``threadpoolctl`` ships with
    scikit-learn.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def existing_forecast(revenue: pd.DataFrame, as_of, horizon_months: float = 12, *, purchase_model=None,
                      spend_model=None, bootstrap: list | None = None, model_class=clv.BetaGeoModel,
                      spend_class=clv.GammaGammaModel, n_boot: int = 100, random_state: int = 0,
                      min_repeat_buyers: int = clv.MIN_REPEAT_BUYERS) -> ExistingForecast:
    """Each current client's expected revenue over the horizon: the base of the bottom-up plan.

    With the purchase model: ``expected_purchases(horizon) * expected_spend`` of each client with a
    purchase day (``clv.rfm_summary``); a client whose spend the spend model cannot value (its
    population mean does not exist, q <= 1) is valued at its own mean purchase. Parameter
    uncertainty comes from ``bootstrap`` (refits on clients resampled with replacement;
    ``clv.bootstrap`` with ``n_boot`` refits when not given; none when ``n_boot`` is 0).

    When ``clv.fit_readiness`` refuses the purchase model (too few repeat buyers), the fallback
    is :func:`run_rate_fit` over windows of twelve months (half the history when it holds less
    than two years, at least three months), scaled to the horizon, with its parameter uncertainty
    from refits on resampled training clients and its outcome spread from the residuals of
    similar-sized clients. Clients whose lines are all credits are planned at zero.

    Parameters
    ----------
    revenue : DataFrame
        Canonical ``revenue``; rows after ``as_of`` are ignored.
    as_of : Timestamp
        Date the forecast is made.
    horizon_months : float
        Months ahead.
    purchase_model, spend_model : fitted models, optional
        Use these (e.g. notebook 01's) instead of fitting ``model_class`` / ``spend_class``.
    bootstrap : list of (purchase model, spend model), optional
        Refits for parameter uncertainty.
    model_class, spend_class : class
        Model classes fitted when no fitted model is given (``clv.MODELS``).
    n_boot : int
        Refits made when ``bootstrap`` is not given.
    random_state : int
        Seed of the refits.
    min_repeat_buyers : int
        Passed to ``clv.fit_readiness``.

    Returns
    -------
    ExistingForecast

    Raises
    ------
    ValueError
        When neither the models nor the fallback can be fitted (no history before ``as_of``), with
        the reason.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> days = pd.to_datetime("2024-01-01") + pd.to_timedelta(rng.integers(0, 700, 400), "D")
    >>> rev = pd.DataFrame({"date": days, "client_id": [f"c{i % 60}" for i in range(400)],
    ...                     "amount": rng.gamma(2.0, 50.0, 400)})
    >>> fc = existing_forecast(rev, pd.Timestamp("2025-12-31"), n_boot=0)
    >>> fc.method, len(fc.clients)
    ('models', 60)
    """
    with _one_blas_thread():
        return _existing_forecast(revenue, as_of, horizon_months, purchase_model=purchase_model,
                                  spend_model=spend_model, bootstrap=bootstrap, model_class=model_class,
                                  spend_class=spend_class, n_boot=n_boot, random_state=random_state,
                                  min_repeat_buyers=min_repeat_buyers)


def _existing_forecast(revenue, as_of, horizon_months, *, purchase_model, spend_model, bootstrap, model_class,
                       spend_class, n_boot, random_state, min_repeat_buyers) -> ExistingForecast:
    rev = _revenue(revenue)
    as_of = pd.Timestamp(as_of).normalize()
    horizon_months = float(horizon_months)
    if horizon_months <= 0:
        raise ValueError(f"horizon_months must be positive, got {horizon_months}")
    past = rev.loc[rev["date"] <= as_of]
    if past.empty:
        raise ValueError(f"revenue has no rows on or before {as_of:%Y-%m-%d}: nothing to forecast from")
    ids = np.sort(past["client_id"].unique())
    summary = clv.rfm_summary(past, as_of)
    ok, why = clv.fit_readiness(summary, min_repeat_buyers) if len(summary) else (False, "no purchase day")
    notes: list[str] = []
    hw = horizon_months * _WEEKS_PER_MONTH
    if ok or purchase_model is not None:
        pm = purchase_model if purchase_model is not None else model_class().fit(summary)
        sm = spend_model if spend_model is not None else spend_class().fit(summary)
        if bootstrap:
            fits = list(bootstrap)
        elif int(n_boot) > 0:
            fits = clv.bootstrap(summary, n_boot=int(n_boot), random_state=random_state,
                                 purchase_model=type(pm), spend_model=type(sm))
        else:
            fits = [(pm, sm)]
            notes.append("the range leaves out the uncertainty of the parameters of the models (no refits)")
        e, n_drawn = _expected_purchases(pm, hw, summary, random_state)
        if n_drawn:
            notes.append(f"{n_drawn:,} clients' expected purchases are the mean of 2,000 draws of the model (its "
                         "closed form fails numerically at these parameters)")
        spend = sm.expected_spend(summary)
        own = (summary["revenue_total"] / summary["purchase_days"]).to_numpy(float)
        if (~np.isfinite(spend)).any():
            notes.append(f"the spend of {int((~np.isfinite(spend)).sum()):,} clients is valued at their own mean "
                         "purchase (the spend model has no population mean: q <= 1)")
            spend = np.where(np.isfinite(spend), spend, own)
        srow = pd.Series(np.arange(len(summary)), index=summary["client_id"].astype(str)).reindex(ids)
        srow = srow.fillna(-1).astype(np.int64).to_numpy()
        has = srow >= 0
        clients = pd.DataFrame({"client_id": ids})
        clients["expected_purchases"] = np.where(has, e[np.maximum(srow, 0)], 0.0)
        clients["expected_spend"] = np.where(has, spend[np.maximum(srow, 0)], np.nan)
        clients["base"] = clients["expected_purchases"] * clients["expected_spend"].fillna(0.0)
        with np.errstate(all="ignore"):
            clients["p_alive"] = np.where(has, pm.p_alive(summary)[np.maximum(srow, 0)], np.nan)
        clients["repeat_purchases"] = np.where(has, summary["x"].to_numpy(float)[np.maximum(srow, 0)], np.nan)
        clients["method"] = np.where(has, "models", "no purchase")
        basis = (f"the purchase model ({getattr(pm, 'name', type(pm).__name__)}) times the spend model "
                 f"({getattr(sm, 'name', type(sm).__name__)}), fitted on the purchases of {len(summary):,} clients "
                 f"to {as_of:%d %B %Y}")
        return ExistingForecast(clients=clients, method="models", as_of=as_of, horizon_months=horizon_months,
                                basis=basis, notes=notes, n_fits=len(fits), purchase_model=pm, spend_model=sm,
                                _summary=summary, _srow=srow, _fits=fits)
    # fallback: run-rate shrunk toward the population
    hist = _whole_months(rev, as_of)
    window = 12.0 if hist >= 24 else float(hist // 2)
    if window < MIN_HISTORY_MONTHS:
        raise ValueError(f"the purchase model is refused ({why}) and {hist:.0f} months of history are too few "
                         f"for the run-rate fallback (it needs two windows of at least {MIN_HISTORY_MONTHS:.0f} "
                         "months)")
    point = run_rate_fit(rev, as_of, window)
    n_train = _run_rate_training_size(rev, as_of, window)
    if int(n_boot) > 0:
        rng = np.random.default_rng(random_state)
        fits = [run_rate_fit(rev, as_of, window, weights=rng.multinomial(n_train, np.full(n_train, 1 / n_train)))
                for _ in range(int(n_boot))]
    else:
        fits = [point]
        notes.append("the range leaves out the uncertainty of the fit of the run-rate (no refits)")
    last = _window_sum(rev, _months_before(as_of, window), as_of).reindex(ids).fillna(0.0).to_numpy(float)
    clients = pd.DataFrame({"client_id": ids, "expected_purchases": np.nan, "expected_spend": np.nan,
                            "base": point.predict(last) * horizon_months / window, "p_alive": np.nan,
                            "repeat_purchases": np.nan, "method": "run_rate"})
    if window != horizon_months:
        notes.append(f"the run-rate is measured over {window:.0f}-month windows and scaled to the "
                     f"{horizon_months:.0f}-month horizon")
    basis = (f"the run-rate fallback (the purchase model is refused: {why}): each client's revenue of the "
             f"last {window:.0f} months shrunk toward the population, next = {point.a:,.2f} + {point.b:.3f} x last, "
             f"fitted on the {n_train:,} clients of the {window:.0f} months before")
    return ExistingForecast(clients=clients, method="run_rate", as_of=as_of, horizon_months=horizon_months,
                            basis=basis, notes=notes, n_fits=len(fits), _fits=fits, _last=last)


# --------------------------------------------------------------------------------------------
# new clients
# --------------------------------------------------------------------------------------------
@dataclass
class NewClientForecast:
    """Clients not yet acquired: how many, and what they bring within the horizon.

    Attributes
    ----------
    rate : float
        New clients a month assumed for the horizon (0 when none are planned).
    expected_clients, expected_revenue : float
        Expected new clients within the horizon and their revenue within it.
    revenue_per_client_year : float
        Expected revenue of one new client in its first twelve months (first purchase included).
    acquired, window_start, window_end, window_months, last_acquisition
        The evidence: first purchases in ``(window_start, window_end]`` and the latest one.
    stopped : bool
        True when acquisitions are judged to have stopped (a closed cohort).
    reason : str
        The rule's verdict in words (why this rate).
    monthly : DataFrame
        ``month``, ``new_clients`` over the whole history (first purchases by month).
    """

    rate: float
    expected_clients: float
    expected_revenue: float
    revenue_per_client_year: float
    acquired: int
    window_start: pd.Timestamp | None
    window_end: pd.Timestamp
    window_months: float
    last_acquisition: pd.Timestamp | None
    stopped: bool
    reason: str
    horizon_months: float
    monthly: pd.DataFrame
    first_amounts: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def draw(self, n_draws: int, fit_of_draw: np.ndarray, existing: ExistingForecast,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Total revenue and number of new clients within the horizon, per draw.

        Per draw: the monthly rate ~ Gamma(acquired + 1/2, window months) (its Jeffreys posterior),
        new clients per span of up to three months ~ Poisson(rate x months), each acquired in the
        span's middle (:func:`_acquisition_spans`); its first purchase is one of
        the window's first purchases drawn at random, its later purchases and spend are drawn from
        the models under the draw's refit (``existing.draw_new``).
        """
        rev = np.zeros(int(n_draws))
        cnt = np.zeros(int(n_draws), dtype=np.int64)
        if self.rate <= 0 or self.acquired == 0:
            return rev, cnt
        spans = _acquisition_spans(self.horizon_months)
        lam = rng.gamma(self.acquired + 0.5, 1.0 / self.window_months, size=int(n_draws))
        per = rng.poisson(lam[:, None] * np.array([s for s, _ in spans])[None, :])  # draws x spans
        cnt = per.sum(axis=1)
        blocks = [(int(b), np.flatnonzero(fit_of_draw == b)) for b in np.unique(fit_of_draw)]
        for j, (_, remaining) in enumerate(spans):
            for b, d in blocks:
                m = per[d, j]
                total = int(m.sum())
                if total == 0:
                    continue
                first = self.first_amounts[rng.integers(0, len(self.first_amounts), total)]
                after = existing.draw_new(remaining, first, b, rng)
                rev[d] += np.bincount(np.repeat(np.arange(len(d)), m), weights=first + after, minlength=len(d))
        return rev, cnt


def _acquisition_spans(horizon_months: float) -> list[tuple[float, float]]:
    """The horizon cut into spans of at most three months: (months in the span, months left after its middle).

    New clients are drawn span by span, each acquired at its span's middle: the models are asked
    once per span and refit instead of once per month (a quarter's clients arrive on average at its
    middle; the expected revenue is nearly linear in the months left, so little is lost).
    """
    edges = [*np.arange(0.0, float(horizon_months), 3.0).tolist(), float(horizon_months)]
    return [(b - a, float(horizon_months) - (a + b) / 2) for a, b in itertools.pairwise(edges) if b > a]


def new_client_forecast(revenue: pd.DataFrame, as_of, existing: ExistingForecast, *, window_months: float = 12,
                        lead_in_months: float = 3, stop_alpha: float = 0.01,
                        stop_gap_months: float = 3) -> NewClientForecast:
    """New clients per month and their revenue within the horizon, from the acquisition history.

    A client is acquired on the day of its first revenue line (as the back-test counts existing and
    new clients). The rule:

    1. **Window.** The rate is measured on first purchases in the last ``window_months`` before
       ``as_of``, but not in the data's first ``lead_in_months``: at the start of any extract,
       clients who were already clients show up for the first time, and cannot be told from new
       ones. A window shorter than a month after that gives no rate ("history too short").
    2. **Stopped.** If no client has joined for at least ``stop_gap_months`` (a quarter: a quiet
       month is not a stop), and at the window's rate a gap that long would happen less than
       ``stop_alpha`` of the time (``exp(-rate * gap) < stop_alpha``), acquisitions have stopped:
       the plan adds no clients. A closed cohort (CDNOW: every client's first purchase in Q1 1997)
       gets none this way, or because its window holds no first purchase at all.
    3. **Revenue.** Each new client brings its first purchase (the mean of the window's first
       purchases) and then what the models expect of a new client (``expected_population`` times
       the population's spend; the run-rate fallback's forecast for a client of that size) over
       the months left in the horizon, acquired evenly across it (in the middle of each span of up
       to three months).

    Parameters
    ----------
    revenue : DataFrame
        Canonical ``revenue``.
    as_of : Timestamp
        Date the forecast is made.
    existing : ExistingForecast
        The forecast of current clients (its models value the new clients' later purchases).
    window_months, lead_in_months : float
        As above.
    stop_alpha, stop_gap_months : float
        Thresholds of the stop test.

    Returns
    -------
    NewClientForecast

    Examples
    --------
    A closed cohort: three clients joined in January 2024, nobody since.

    >>> days = pd.to_datetime(["2024-01-05", "2024-01-20", "2024-01-23", "2025-06-01"])
    >>> rev = pd.DataFrame({"date": days, "client_id": ["a", "b", "c", "a"], "amount": [10.0] * 4})
    >>> fc = existing_forecast(rev, pd.Timestamp("2025-12-31"), n_boot=0)
    >>> fc.method
    'run_rate'
    >>> nc = new_client_forecast(rev, pd.Timestamp("2025-12-31"), fc, lead_in_months=0)
    >>> nc.stopped, nc.rate
    (True, 0.0)
    """
    rev = _revenue(revenue)
    as_of = pd.Timestamp(as_of).normalize()
    h = float(existing.horizon_months)
    past = rev.loc[rev["date"] <= as_of]
    # a client is acquired on the day of its first revenue line (any amount: CDNOW has clients whose first
    # order was free), as the back-test tells existing from new clients; its first day's net amount is
    # what a new client brings on arrival
    daily = past.groupby(["client_id", "date"], as_index=False)["amount"].sum().sort_values(["client_id", "date"])
    first = daily.groupby("client_id", as_index=False).first()
    months = first["date"].dt.to_period("M")
    monthly = (first.groupby(months).size().rename("new_clients").reset_index()
               .rename(columns={"date": "month"}))
    start_data = past["date"].min() if len(past) else as_of
    w_start = max(_months_before(as_of, window_months), _months_before(start_data, -lead_in_months))
    w_months = max((as_of - w_start).days / DAYS_PER_MONTH, 0.0)
    in_w = first.loc[(first["date"] > w_start) & (first["date"] <= as_of)]
    n = len(in_w)
    last = in_w["date"].max() if n else (first["date"].max() if len(first) else None)
    amounts = in_w["amount"].to_numpy(float)
    base = {"window_start": w_start, "window_end": as_of, "window_months": w_months, "last_acquisition": last,
                "horizon_months": h, "monthly": monthly, "acquired": n, "first_amounts": amounts}
    if w_months < 1:
        return NewClientForecast(rate=0.0, expected_clients=0.0, expected_revenue=0.0, revenue_per_client_year=np.nan,
                                 stopped=False, reason=(f"the history is too short to tell new clients from existing "
                                                        f"ones (the data start on {start_data:%d %B %Y}; the first "
                                                        f"{lead_in_months:g} months are set aside), so no new clients "
                                                        "are planned"), **base)
    if n == 0:
        when = f" (the latest joined on {last:%d %B %Y})" if last is not None else ""
        return NewClientForecast(rate=0.0, expected_clients=0.0, expected_revenue=0.0, revenue_per_client_year=np.nan,
                                 stopped=True, reason=(f"no client made a first purchase in the {w_months:.0f} months to "
                                                       f"{as_of:%d %B %Y}{when}: acquisitions have stopped, so the "
                                                       "plan adds no new clients"), **base)
    rate = n / w_months
    gap = (as_of - last).days / DAYS_PER_MONTH
    p_gap = float(np.exp(-rate * gap))
    if gap >= stop_gap_months and p_gap < stop_alpha:
        return NewClientForecast(rate=0.0, expected_clients=0.0, expected_revenue=0.0, revenue_per_client_year=np.nan,
                                 stopped=True, reason=(f"{plural(n, 'client')} joined in the {w_months:.0f} months to "
                                                       f"{as_of:%d %B %Y} but none since {last:%d %B %Y}; at "
                                                       f"{rate:,.1f} a month a gap of {gap:.1f} months would happen "
                                                       f"{'less than 0.1%' if p_gap < 0.001 else f'{p_gap:.1%}'} of the "
                                                       "time: acquisitions have stopped, so the plan adds no new "
                                                       "clients"), **base)
    f_mean = float(amounts.mean())
    expected = sum(rate * span * (f_mean + existing.new_client_expected(remaining, f_mean))
                   for span, remaining in _acquisition_spans(h))
    per_year = f_mean + existing.new_client_expected(12.0, f_mean)
    reason = (f"{plural(n, 'client')} made their first purchase in the {w_months:.0f} months to {as_of:%d %B %Y} "
              f"({rate:,.1f} a month, the latest on {last:%d %B %Y}); the plan assumes that rate continues")
    return NewClientForecast(rate=rate, expected_clients=rate * h, expected_revenue=expected,
                             revenue_per_client_year=per_year, stopped=False, reason=reason, **base)


# --------------------------------------------------------------------------------------------
# simulation of totals
# --------------------------------------------------------------------------------------------
@dataclass
class PlanSimulation:
    """Simulated plan: client ranges and the ranges of every total (quantiles of per-draw sums).

    Attributes
    ----------
    clients : DataFrame
        ``client_id``, ``mean`` (of the draws), ``low``, ``high``.
    levels : dict of DataFrame
        grouping name -> ``key``, ``clients``, ``mean``, ``low``, ``high`` of the group's sum.
    totals : dict
        ``existing``, ``new``, ``total`` -> ``{"mean", "low", "high"}``; ``new_clients`` ->
        ``{"mean", "low", "high"}`` (count).
    draws : dict of ndarray
        ``existing``, ``new``, ``total``: the per-draw sums (for figures and tests).
    level : float
        Central probability of the ranges.
    n_draws, n_fits : int
    """

    clients: pd.DataFrame
    levels: dict
    totals: dict
    draws: dict
    level: float
    n_draws: int
    n_fits: int


def simulate_plan(existing: ExistingForecast, new: NewClientForecast | None = None, *, n_draws: int = 1000,
                  level: float = 0.8, random_state: int = 0, groupings: dict | None = None,
                  mult: pd.Series | None = None, add: pd.Series | None = None) -> PlanSimulation:
    """Ranges of the plan's totals by joint simulation of the clients' futures.

    Draw ``d`` is one future of the whole book: every client's revenue over the horizon drawn
    under refit ``d * n_fits // n_draws`` of the models (so the draws cycle evenly through the
    refits and carry the parameters' uncertainty), transformed by the intent effects
    (``plan = revenue * mult + add``), and the new clients' revenue under the same refit. Sums per
    draw of every group of every grouping, of the existing clients and of the firm are kept; a
    range is the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of those sums. The range of
    a total is therefore never the sum of its parts' ranges (which would assume every client's
    surprise goes the same way). Clients are processed in chunks, so memory is bounded by about
    two million client-draws whatever the book's size.

    Parameters
    ----------
    existing : ExistingForecast
        Today's clients.
    new : NewClientForecast, optional
        Clients not yet acquired (added to the firm's total only).
    n_draws : int
        Joint futures drawn.
    level : float
        Central probability of the ranges.
    random_state : int
        Seed.
    groupings : dict, optional
        name -> Series mapping ``client_id`` to a key (e.g. ``{"group": ..., "owner": ..., "tier":
        ...}``); clients missing from a mapping fall under ``"unassigned"``.
    mult, add : Series, optional
        Intent effects per ``client_id`` (defaults 1 and 0: the base forecast).

    Returns
    -------
    PlanSimulation

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> days = pd.to_datetime("2024-01-01") + pd.to_timedelta(rng.integers(0, 700, 400), "D")
    >>> rev = pd.DataFrame({"date": days, "client_id": [f"c{i % 60}" for i in range(400)],
    ...                     "amount": rng.gamma(2.0, 50.0, 400)})
    >>> fc = existing_forecast(rev, pd.Timestamp("2025-12-31"), n_boot=0)
    >>> sim = simulate_plan(fc, n_draws=200)
    >>> bool(sim.totals["total"]["low"] < sim.totals["total"]["high"])
    True
    """
    level = _check_level(level)
    n_draws = int(n_draws)
    if n_draws < 1:
        raise ValueError("n_draws must be at least 1")
    rng = np.random.default_rng(random_state)
    cl = existing.clients
    ids = cl["client_id"].astype(str)
    n = len(cl)
    m = np.ones(n) if mult is None else pd.Series(mult).reindex(ids).fillna(1.0).to_numpy(float)
    a = np.zeros(n) if add is None else pd.Series(add).reindex(ids).fillna(0.0).to_numpy(float)
    n_fits = max(int(existing.n_fits), 1)
    fit_of_draw = (np.arange(n_draws) * n_fits) // n_draws
    blocks = [(int(b), np.flatnonzero(fit_of_draw == b)) for b in np.unique(fit_of_draw)]
    groupings = groupings or {}
    codes, keys = {}, {}
    for name, mapping in groupings.items():
        lab = pd.Series(mapping)
        lab.index = lab.index.astype(str)
        lab = ids.map(lab).astype(object).where(lambda s: s.notna(), "unassigned").astype(str)
        cat = pd.Categorical(lab)
        codes[name] = cat.codes.astype(np.int64)
        keys[name] = list(cat.categories)
    sums = {name: np.zeros((len(keys[name]), n_draws)) for name in groupings}
    total_existing = np.zeros(n_draws)
    c_mean, c_low, c_high = np.zeros(n), np.zeros(n), np.zeros(n)
    step = max(1, _CHUNK_PAIRS // n_draws)
    for lo in range(0, n, step):
        sl = slice(lo, min(lo + step, n))
        vals = np.empty((sl.stop - sl.start, n_draws))
        for b, cols in blocks:
            vals[:, cols] = existing.draw(sl, len(cols), b, rng)
        vals = vals * m[sl, None] + a[sl, None]
        c_mean[sl] = vals.mean(axis=1)
        c_low[sl], c_high[sl] = _quantiles(vals, level, axis=1)
        total_existing += vals.sum(axis=0)
        for name in groupings:
            # sum per key and draw: add each chunk's rows into their key's row
            np.add.at(sums[name], codes[name][sl], vals)
    if new is not None:
        new_rev, new_cnt = new.draw(n_draws, fit_of_draw, existing, rng)
    else:
        new_rev, new_cnt = np.zeros(n_draws), np.zeros(n_draws, dtype=np.int64)
    total = total_existing + new_rev

    def _rng3(x):
        lo_, hi_ = _quantiles(x, level)
        return {"mean": float(np.mean(x)), "low": float(lo_), "high": float(hi_)}

    levels = {}
    for name in groupings:
        lo_, hi_ = _quantiles(sums[name], level, axis=1)
        levels[name] = pd.DataFrame({"key": pd.Series(keys[name], dtype="str"),
                                     "clients": np.bincount(codes[name], minlength=len(keys[name])),
                                     "mean": sums[name].mean(axis=1), "low": lo_, "high": hi_})
    clients = pd.DataFrame({"client_id": ids.to_numpy(), "mean": c_mean, "low": c_low, "high": c_high})
    return PlanSimulation(clients=clients, levels=levels,
                          totals={"existing": _rng3(total_existing), "new": _rng3(new_rev), "total": _rng3(total),
                                  "new_clients": _rng3(new_cnt.astype(float))},
                          draws={"existing": total_existing, "new": new_rev, "total": total},
                          level=level, n_draws=n_draws, n_fits=n_fits)


# --------------------------------------------------------------------------------------------
# top-down baselines and the plan back-test
# --------------------------------------------------------------------------------------------
def _err(forecast, actual):
    if forecast is None or actual is None or not np.isfinite(forecast) or actual == 0:
        return None
    return float(round(100 * (forecast / actual - 1), 4))


def _r(v, digits: int = 2):
    return None if v is None or not np.isfinite(v) else float(round(float(v), digits))


def top_down_baselines(revenue: pd.DataFrame, as_of, horizon_months: float = 12, *,
                       clients: pd.Index | None = None, p_alive: pd.Series | None = None) -> dict:
    """Forecasts of the next ``horizon_months`` a finance team would make top-down.

    * ``last_year_flat``: the last twelve months' revenue again;
    * ``last_year_trend``: that times one plus last year's growth (last twelve months over the
      twelve before);
    * ``last_quarter_x4``: the last three months' revenue, four times;
    * ``ltm_times_p_alive``: each client's last twelve months times its chance of still being
      active (the plan's old rule; clients without a chance count whole).

    Each is scaled to the horizon (``horizon_months / 12``; ``/ 3`` for the quarter). **Short
    history**: when the data cover only part of the last twelve months, that revenue is annualised
    (divided by the share covered, :func:`history_cover`) and said in ``rule``; without two full
    years, growth is measured between the two latest windows of half the history and compounded
    to a year, ``(1 + g) ** (12 / window) - 1``; with less than a quarter, ``last_quarter_x4`` is
    None.

    Parameters
    ----------
    revenue : DataFrame
        Canonical ``revenue``.
    as_of : Timestamp
        Date the forecasts are made.
    horizon_months : float
        Months ahead.
    clients : Index, optional
        Restrict to these clients (e.g. a tier); growth is then theirs.
    p_alive : Series, optional
        Chance of still being active by ``client_id``; without it ``ltm_times_p_alive`` is None.

    Returns
    -------
    dict
        name -> ``{"forecast", "rule"}``.

    Examples
    --------
    >>> rev = pd.DataFrame({"date": pd.to_datetime(["2024-06-15", "2024-12-15", "2025-08-15"]),
    ...                     "client_id": ["a", "a", "a"], "amount": [80.0, 100.0, 150.0]})
    >>> b = top_down_baselines(rev, pd.Timestamp("2025-09-30"))
    >>> b["last_year_flat"]["forecast"], b["last_quarter_x4"]["forecast"]
    (250.0, 600.0)
    """
    rev = _revenue(revenue)
    as_of = pd.Timestamp(as_of).normalize()
    h = float(horizon_months)
    if clients is not None:
        rev = rev.loc[rev["client_id"].isin(pd.Index(clients).astype(str))]
    full = _revenue(revenue)
    cover = history_cover(full, as_of, 12)
    hist = _whole_months(full, as_of)
    ann = "" if cover >= 1 else f" (annualised from {hist:.0f} months of data)"
    ltm_c = _window_sum(rev, _months_before(as_of, 12), as_of)
    ltm = float(ltm_c.sum()) / cover if cover > 0 else np.nan
    out = {"last_year_flat": {"forecast": ltm * h / 12, "rule": BASELINE_RULES["last_year_flat"] + ann}}
    if hist >= 24:
        prior = float(_window_sum(rev, _months_before(as_of, 24), _months_before(as_of, 12)).sum())
        g = ltm / prior - 1 if prior > 0 else np.nan
        g_rule = ""
    else:
        w = float(hist // 2)
        if w >= 1:
            last_w = float(_window_sum(rev, _months_before(as_of, w), as_of).sum())
            prev_w = float(_window_sum(rev, _months_before(as_of, 2 * w), _months_before(as_of, w)).sum())
            g = (last_w / prev_w) ** (12 / w) - 1 if prev_w > 0 and last_w >= 0 else np.nan
            g_rule = f" (growth between the last two {w:.0f}-month windows, compounded to a year)"
        else:
            g, g_rule = np.nan, " (no growth can be measured)"
    out["last_year_trend"] = {"forecast": ltm * (1 + g) * h / 12 if np.isfinite(g) else None,
                              "rule": BASELINE_RULES["last_year_trend"] + ann + g_rule}
    if hist >= 3:
        q = float(_window_sum(rev, _months_before(as_of, 3), as_of).sum())
        out["last_quarter_x4"] = {"forecast": q * h / 3, "rule": BASELINE_RULES["last_quarter_x4"]}
    else:
        out["last_quarter_x4"] = {"forecast": None, "rule": BASELINE_RULES["last_quarter_x4"] + " (no full quarter)"}
    if p_alive is not None:
        pa = pd.Series(p_alive)
        pa.index = pa.index.astype(str)
        pa = pa.reindex(ltm_c.index).fillna(1.0).clip(0, 1)
        v = float((ltm_c * pa).sum()) / cover * h / 12 if cover > 0 else None
        out["ltm_times_p_alive"] = {"forecast": v, "rule": BASELINE_RULES["ltm_times_p_alive"] + ann}
    else:
        out["ltm_times_p_alive"] = {"forecast": None,
                                    "rule": BASELINE_RULES["ltm_times_p_alive"] + " (no purchase model: not available)"}
    return out


def backtest_months(revenue: pd.DataFrame, as_of, months: float = 12, lead_in_months: float = 3) -> int:
    """How far back the plan back-test can go: ``months``, or fewer when the data are too short.

    A back-test made ``m`` months before ``as_of`` needs, before that date, the minimum history of a
    forecast (:data:`MIN_HISTORY_MONTHS`) after the lead-in whose first purchases are not counted
    as new clients (``lead_in_months``), so the new-client rate has months to be measured on. The
    answer is the largest whole ``m <= months`` that leaves that much, or 0 when none does (then
    the page says why there is no back-test). On ten months of data (Online Retail to September
    2011) a twelve-month back-test cannot be made; a four-month one can, and it is measured.

    Parameters
    ----------
    revenue : DataFrame
        Canonical ``revenue``.
    as_of : Timestamp
        The run's as-of date.
    months : float, default 12
        The back-test wanted (``plan_backtest_months``).
    lead_in_months : float, default 3
        As :func:`new_client_forecast`.

    Returns
    -------
    int

    Examples
    --------
    >>> rev = pd.DataFrame({"date": pd.to_datetime(["2010-12-01", "2011-09-30"]), "client_id": ["a", "a"],
    ...                     "amount": [1.0, 1.0]})
    >>> backtest_months(rev, pd.Timestamp("2011-09-30")), backtest_months(rev, pd.Timestamp("2011-09-30"), 2)
    (4, 2)
    >>> backtest_months(rev, pd.Timestamp("2011-03-31"))
    0
    """
    rev = _revenue(revenue)
    as_of = pd.Timestamp(as_of).normalize()
    need = MIN_HISTORY_MONTHS + max(float(lead_in_months), 0.0)
    for m in range(int(np.floor(float(months))), 0, -1):
        # a first date up to a week into the month still covers it (as _whole_months)
        if _history_months(rev, _months_before(as_of, m)) >= need - _START_SLACK_DAYS / DAYS_PER_MONTH:
            return m
    return 0


def plan_backtest(revenue: pd.DataFrame, as_of, months: float = 12, *, model_class=clv.BetaGeoModel,
                  spend_class=clv.GammaGammaModel, n_boot: int = 100, n_draws: int = 1000, level: float = 0.8,
                  window_months: float = 12, lead_in_months: float = 3, tier_shares=None,
                  random_state: int = 0) -> tuple[dict | None, str]:
    """The plan's base forecast made ``months`` before ``as_of``, against what happened.

    As of ``as_of - months`` the models are refitted (``model_class``, ``spend_class``; the run-rate
    fallback when the purchase model is refused) with ``n_boot`` bootstrap refits; existing
    clients (revenue on or before that date) and new clients are forecast over ``months`` with no
    intent effects, and simulated for the range. The actual is the revenue booked in
    ``(as_of - months, as_of]``: existing clients' and the others' (new). Each top-down baseline
    (:func:`top_down_baselines`) is made at the same date. By tier: clients placed in tiers by
    their last twelve months' revenue at the back-test's date (existing clients only).

    Parameters
    ----------
    revenue : DataFrame
        Canonical ``revenue``; rows after ``as_of`` are ignored.
    as_of : Timestamp
        The run's as-of date (end of the back-test's horizon).
    months : float
        How far back the forecast is made, and its horizon.
    model_class, spend_class : class
        Models refitted at the earlier date.
    n_boot, n_draws, level, random_state
        As :func:`existing_forecast` and :func:`simulate_plan`.
    window_months, lead_in_months : float
        As :func:`new_client_forecast`.
    tier_shares : sequence of 4 floats, optional
        Tier shares (``outcomes.assign_tiers``); default the workbook's.

    Returns
    -------
    (dict or None, str)
        The SPEC ``plan_backtest`` dict (``as_of``, ``horizon_months``, ``forecast``, ``actual``,
        ``error_pct``, ``covered``, ``baselines``, ``by_tier``, plus ``level``, ``method``,
        ``basis``, ``new_clients_rule``, ``history_months``), and ``""``; or ``(None, reason)``
        when the history is too short.

    Examples
    --------
    >>> rev = pd.DataFrame({"date": pd.to_datetime(["2026-01-05"]), "client_id": ["a"], "amount": [1.0]})
    >>> plan_backtest(rev, pd.Timestamp("2026-06-30"))[1][:40]
    'the data start on 05 January 2026, 12 mo'
    """
    rev = _revenue(revenue)
    as_of = pd.Timestamp(as_of).normalize()
    level = _check_level(level)
    months = float(months)
    if months <= 0:
        return None, "the plan back-test is switched off (plan_backtest_months is 0)"
    rev = rev.loc[rev["date"] <= as_of]
    bt = _months_before(as_of, months)
    hist = _history_months(rev, bt)
    if hist < MIN_HISTORY_MONTHS:
        start = rev["date"].min()
        return None, (f"the data start on {start:%d %B %Y}, {months:g} months before {as_of:%d %B %Y} leaves "
                      f"{max(hist, 0):.1f} months of history to forecast from (at least {MIN_HISTORY_MONTHS:g} "
                      "are needed)")
    try:
        ex = existing_forecast(rev, bt, months, model_class=model_class, spend_class=spend_class, n_boot=n_boot,
                               random_state=random_state)
    except ValueError as exc:
        return None, f"no forecast could be made as of {bt:%d %B %Y}: {exc}"
    nc = new_client_forecast(rev, bt, ex, window_months=window_months, lead_in_months=lead_in_months)
    ltm_bt = _window_sum(rev, _months_before(bt, 12), bt).reindex(ex.clients["client_id"]).fillna(0.0)
    tiers = assign_tiers(ltm_bt) if tier_shares is None else assign_tiers(ltm_bt, shares=tuple(tier_shares))
    sim = simulate_plan(ex, nc, n_draws=n_draws, level=level, random_state=random_state + 1,
                        groupings={"tier": tiers})
    after = _window_sum(rev, bt, as_of)
    existing_ids = pd.Index(ex.clients["client_id"])
    act_ex = float(after.reindex(existing_ids).fillna(0.0).sum())
    act_total = float(after.sum())
    fc_ex = float(ex.clients["base"].sum())
    fc_total = fc_ex + nc.expected_revenue
    p_alive = ex.clients.set_index("client_id")["p_alive"] if ex.method == "models" else None
    tot = sim.totals["total"]

    def _baselines(ids=None, actual=act_total):
        pa = p_alive if ids is None or p_alive is None else p_alive.reindex(ids)
        b = top_down_baselines(rev, bt, months, clients=ids, p_alive=pa)
        return {k: {"forecast": _r(v["forecast"]), "error_pct": _err(v["forecast"], actual), "rule": v["rule"]}
                for k, v in b.items()}

    by_tier = {}
    tier_sim = sim.levels["tier"].set_index("key")
    base_by = ex.clients.set_index("client_id")["base"]
    for t in [t for t in ("Platinum", "Gold", "Silver", "Bronze") if t in tier_sim.index]:
        ids = tiers.index[tiers == t]
        f = float(base_by.reindex(ids).sum())
        a_ = float(after.reindex(ids).fillna(0.0).sum())
        lo, hi = float(tier_sim.loc[t, "low"]), float(tier_sim.loc[t, "high"])
        by_tier[t] = {"clients": len(ids), "forecast": {"existing": _r(f), "low": _r(lo), "high": _r(hi)},
                      "actual": {"existing": _r(a_)}, "error_pct": _err(f, a_), "covered": bool(lo <= a_ <= hi),
                      "baselines": _baselines(ids, a_)}
    out = {
        "as_of": bt.strftime("%Y-%m-%d"),
        "horizon_months": int(months) if months == int(months) else months,
        "forecast": {"existing": _r(fc_ex), "new": _r(nc.expected_revenue), "total": _r(fc_total),
                     "low": _r(tot["low"]), "high": _r(tot["high"])},
        "actual": {"existing": _r(act_ex), "new": _r(act_total - act_ex), "total": _r(act_total)},
        "error_pct": _err(fc_total, act_total),
        "covered": bool(tot["low"] <= act_total <= tot["high"]),
        "baselines": _baselines(),
        "by_tier": by_tier,
        "level": level,
        "method": ex.method,
        "basis": ex.basis,
        "notes": list(ex.notes),
        "new_clients_rule": nc.reason,
        "new_clients": {"forecast": _r(nc.expected_clients, 1),
                        "actual": len(set(after.index) - set(existing_ids))},
        "history_months": _r(hist, 1),
        "n_draws": sim.n_draws, "n_refits": sim.n_fits,
    }
    return out, ""


def offsetting_parts(bt: dict) -> dict | None:
    """The back-test's errors on today's clients and on new clients, when they offset in the total.

    A total can land close because its two parts missed in opposite directions (Online Retail's
    four-month back-test: the total 1.2% low, today's clients 19% low and new clients 75% high).
    Reported when the parts' errors have opposite signs and the larger is over 10% and over twice the
    total's.

    Parameters
    ----------
    bt : dict
        From :func:`plan_backtest` (``forecast`` and ``actual`` with ``existing`` and ``new``,
        ``error_pct``).

    Returns
    -------
    dict or None
        ``existing`` and ``new``: forecast / actual - 1 of each part; None when they do not offset.

    Examples
    --------
    >>> bt = {"forecast": {"existing": 80.0, "new": 35.0}, "actual": {"existing": 100.0, "new": 20.0},
    ...       "error_pct": -4.2}
    >>> offsetting_parts(bt)
    {'existing': -0.2, 'new': 0.75}
    """
    f, a = bt.get("forecast") or {}, bt.get("actual") or {}
    parts = {k: round(f[k] / a[k] - 1, 6) for k in ("existing", "new")
             if f.get(k) is not None and a.get(k) is not None and a[k] > 0}
    total = abs(bt.get("error_pct") or 0.0) / 100
    if (len(parts) == 2 and parts["existing"] * parts["new"] < 0
            and max(abs(v) for v in parts.values()) > max(0.10, 2 * total)):
        return parts
    return None


def backtest_sentences(bt: dict) -> list[str]:
    """The plan back-test in plain words: the forecast, what happened, and which forecast came closest.

    Parameters
    ----------
    bt : dict
        From :func:`plan_backtest`.

    Returns
    -------
    list of str
        Markdown sentences; the last says which forecast came closest and, when a top-down rule
        beat the models, says so plainly.

    Examples
    --------
    >>> bt = {"as_of": "2025-09-30", "horizon_months": 12, "level": 0.8, "method": "models",
    ...       "forecast": {"existing": 90.0, "new": 10.0, "total": 100.0, "low": 90.0, "high": 110.0},
    ...       "actual": {"existing": 95.0, "new": 10.0, "total": 105.0}, "error_pct": -4.76, "covered": True,
    ...       "baselines": {"last_year_flat": {"forecast": 120.0, "error_pct": 14.29}}}
    >>> backtest_sentences(bt)[-1].startswith("**The models came closest** (4.8% off)")
    True
    """
    f, a = bt["forecast"], bt["actual"]
    who = "the models" if bt.get("method") == "models" else "the run-rate fallback"
    s = [(f"**Made as of {pd.Timestamp(bt['as_of']):%d %B %Y}**, {who} forecast **{_money(f['total'])}** for the "
          f"next {bt['horizon_months']} months ({_money(f['existing'])} from the clients of that day, "
          f"{_money(f['new'])} from new clients), with its {_pct(bt['level'])} range of {_money(f['low'])} to "
          f"{_money(f['high'])}. **{_money(a['total'])} happened** ({_money(a['existing'])} and "
          f"{_money(a['new'])}): the forecast was {abs(bt['error_pct']):.1f}% "
          f"{'above' if bt['error_pct'] > 0 else 'below'} it, and the outcome fell "
          f"{'inside' if bt['covered'] else 'outside'} the range.")]
    parts = offsetting_parts(bt)
    if parts:
        s.append(f"**Its parts missed more than the total:** the forecast of the clients of that day was "
                 f"{pct(parts['existing'], sign=True)} off, of new clients {pct(parts['new'], sign=True)}. The two "
                 "errors offset; read each line of this plan with its own error in mind, not the total's.")
    if not bt["covered"]:
        s.append("The range carries the models' own uncertainty (their parameters and the chance in each client's "
                 "buying); an outcome outside it says the models missed a change in how clients behaved, which no "
                 "range of theirs covers.")
    errs = {k: v["error_pct"] for k, v in bt["baselines"].items() if v.get("error_pct") is not None}
    model_err = abs(bt["error_pct"]) if bt.get("error_pct") is not None else np.inf
    if errs:
        best = min(errs, key=lambda k: abs(errs[k]))
        words = BASELINE_RULES.get(best, best)
        if abs(errs[best]) < model_err:
            s.append(f"**A top-down rule beat the models:** {words} was {abs(errs[best]):.1f}% off against the "
                     f"models' {model_err:.1f}%. On this history the bottom-up forecast did not earn its keep on the "
                     "total; read the plan's base with that in mind.")
        else:
            s.append(f"**The models came closest** ({model_err:.1f}% off); the nearest top-down rule, {words}, was "
                     f"{abs(errs[best]):.1f}% off.")
    return s


def plot_plan_backtest(bt: dict):
    """Forecasts made at the back-test's date against what happened: the models with their range, each baseline.

    A dot per forecast (the models' with its range as a bar), the actual as a red line and each
    forecast's error beside it; the axis spans the forecasts, not zero, so that differences of a
    few percent show.

    Parameters
    ----------
    bt : dict
        From :func:`plan_backtest`.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> bt = {"as_of": "2025-09-30", "horizon_months": 12, "level": 0.8,
    ...       "forecast": {"existing": 90.0, "new": 10.0, "total": 100.0, "low": 90.0, "high": 110.0},
    ...       "actual": {"total": 105.0}, "error_pct": -4.76,
    ...       "baselines": {"last_year_flat": {"forecast": 120.0, "error_pct": 14.29}}}
    >>> type(plot_plan_backtest(bt)).__name__
    'Figure'
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    names = BASELINE_NAMES
    f = bt["forecast"]
    rows = [("Bottom-up: the models", f["total"], bt.get("error_pct"))]
    rows += [(names.get(k, k), v["forecast"], v.get("error_pct")) for k, v in bt["baselines"].items()
             if v.get("forecast") is not None]
    actual = bt["actual"]["total"]
    vals = [r[1] for r in rows] + [f["low"], f["high"], actual]
    lo, hi = min(vals), max(vals)
    pad = (hi - lo) * 0.08 or abs(hi) * 0.05 or 1.0
    fig = Figure(figsize=(8.5, 0.5 * len(rows) + 2.0), layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(len(rows))[::-1]
    ax.hlines(y[0], f["low"], f["high"], color="#4c72b0", lw=7, alpha=0.35,
              label=f"{bt.get('level', 0.8):.0%} range of the models")
    ax.scatter([r[1] for r in rows], y, s=60, zorder=3, color=["#4c72b0"] + ["#777777"] * (len(rows) - 1))
    ax.axvline(actual, color="#c44e52", lw=2, label=f"What happened: {actual:,.0f}")
    for yi, (_, v, e) in zip(y, rows):
        if e is not None:
            ax.annotate(f"{_money(v)} ({e:+.1f}%)", (v, yi), xytext=(0, 9), textcoords="offset points",
                        ha="center", fontsize=8)
    ax.set_yticks(y, [r[0] for r in rows])
    ax.set_ylim(-0.7, len(rows) - 0.3)
    left = max(lo - pad, 0.0) if lo >= 0 else lo - pad
    ax.set_xlim(left, hi + pad)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _money(v)))
    ax.set_xlabel(f"Revenue over the {bt['horizon_months']} months after {pd.Timestamp(bt['as_of']):%d %b %Y}"
                  + (" (axis does not start at zero)" if left > 0 else ""))
    ax.set_title("The plan back-tested: forecasts made then, against what happened")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, fontsize=8, frameon=False)
    return fig


# --------------------------------------------------------------------------------------------
# assumptions in the open
# --------------------------------------------------------------------------------------------
def assumption_table(values: dict, defaults: dict, meanings: dict, measured: dict | None = None) -> pd.DataFrame:
    """The named assumptions a page rests on: value, source and meaning.

    Parameters
    ----------
    values : dict
        name -> value used in this run.
    defaults : dict
        name -> the package default.
    meanings : dict
        name -> what the assumption means, in words.
    measured : dict, optional
        name -> words on the measurement behind a measured value; its source is then
        ``measured``.

    Returns
    -------
    DataFrame
        ``assumption``, ``value``, ``source`` (``default``, ``set for this run`` or
        ``measured``), ``meaning``.

    Examples
    --------
    >>> assumption_table({"a": 0.1, "b": 0.3}, {"a": 0.1, "b": 0.2}, {"a": "x", "b": "y"})["source"].tolist()
    ['default', 'set for this run']
    """
    measured = measured or {}
    rows = []
    for name, v in values.items():
        if name in measured:
            src = "measured"
            meaning = ". ".join(s for s in (meanings.get(name, "").rstrip("."), measured[name]) if s)
        else:
            d = defaults.get(name)
            same = d is not None and (v == d or (isinstance(v, (int, float)) and isinstance(d, (int, float))
                                                 and np.isclose(float(v), float(d))))
            src = "default" if same else "set for this run"
            meaning = meanings.get(name, "")
        rows.append({"assumption": name, "value": v, "source": src, "meaning": meaning})
    return pd.DataFrame(rows, columns=["assumption", "value", "source", "meaning"]).astype(
        {"assumption": "str", "source": "str", "meaning": "str"})
