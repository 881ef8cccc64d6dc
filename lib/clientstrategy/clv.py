"""The purchase and spend models as the notebooks use them: summary, value, back-test, figures.

This module is the stable front of :mod:`clientstrategy.models` (where each model family lives in
its own module: BG/NBD, MBG/NBD, Pareto/NBD, Gamma-Gamma, their bootstrap, the model choice and the
diagnostics) and re-exports them, so ``clv.BetaGeoModel``, ``clv.MODELS``, ``clv.bootstrap``,
``clv.model_to_dict`` keep working. Here: the RFM summary the models read (:func:`rfm_summary`),
lifetime value with intervals (:func:`customer_value`), the back-test with the model choice
(:func:`backtest`), and the figure tables and plots.

Counting (as Fader, Hardie & Lee count CDNOW): a purchase is a distinct client-day with a positive
net amount (or a free order); ``x`` = purchase days - 1 (repeat purchases); ``t_x`` (last - first
purchase day) and ``T`` (end of period - first purchase day) are in weeks = days / 7. The models
therefore work in weeks and ``alpha`` is in weeks; twelve months are 52.1775 weeks. Two CDNOW
findings:

* 8 of the 2,357 sample customers only ever placed a $0 order. The positive-amount rule drops
  them (2,349 clients; the parameters stay within 0.4% of the paper's); the paper keeps them
  (``rfm_summary(..., zero_amount_purchases=True)`` reproduces its log-likelihood -9582.4).
* Gamma-Gamma's ``monetary`` must be the mean net amount per repeat purchase DAY (lines of one
  day summed): that reproduces p, q, v = 6.25, 3.74, 15.44 and equals the published ``zbar``;
  the mean per transaction line (146 days hold several lines) gives p = 6.05, q = 3.89, v = 16.4.

Prediction intervals come from the models' own predictive distribution by simulation (given the
client's history: alive ~ Bernoulli(P(alive)); if alive, the purchase rate and the drop-out from
their posteriors; spend per purchase z ~ Gamma(p, rate nu) with nu ~ Gamma(p x + q, rate v + x m_x)),
and, given bootstrap refits, each draw uses one refit's parameters, so the intervals carry the
parameters' uncertainty too. Intervals are inclusive and discrete, so they cover at least their level.
"""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy import stats

from .models import (
    MODELS,
    PURCHASE_MODELS,
    BetaGeoModel,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
    SpendUndefinedError,
    bootstrap,
    model_from_dict,
    model_to_dict,
    spend_frequency_correlation,
)
from .models.base import check_level, discrete_bounds, require, row_weights, summary_arrays
from .models.diagnostics import gains, plot_gains, plot_repeat_histogram, plot_weekly, repeat_histogram

__all__ = [
    "MIN_REPEAT_BUYERS",
    "MODELS",
    "PURCHASE_MODELS",
    "WEEKS_PER_YEAR",
    "BetaGeoModel",
    "GammaGammaModel",
    "ModifiedBetaGeoModel",
    "ParetoNBDModel",
    "SpendUndefinedError",
    "backtest",
    "bootstrap",
    "calibration_by_frequency",
    "cumulative_purchases",
    "customer_value",
    "fit_candidates",
    "fit_readiness",
    "gains",
    "margin_rates",
    "model_from_dict",
    "model_to_dict",
    "plot_conditional",
    "plot_gains",
    "plot_reliability",
    "plot_repeat_histogram",
    "plot_tracking",
    "plot_weekly",
    "repeat_histogram",
    "rfm_summary",
    "spend_frequency_correlation",
]

#: Weeks in a year (365.2425 / 7); twelve months of the purchase model.
WEEKS_PER_YEAR = 52.1775
_WEEKS_PER_MONTH = WEEKS_PER_YEAR / 12
_SUMMARY_COLUMNS = ["client_id", "x", "t_x", "T", "monetary", "first_purchase", "last_purchase",
                    "purchase_days", "revenue_total"]
_CHUNK_PAIRS = 2_000_000  # client x draw pairs simulated at once (bounds memory)
_CHUNK_PURCHASES = 5_000_000  # simulated purchases valued at once in customer_value (bounds memory)
#: Simulated client futures (clients x draws) customer_value spends on its intervals at most: a book
#: of up to 10,000 clients gets every draw asked for (2,000 by default); a larger one fewer per client,
#: never fewer than MIN_VALUE_DRAWS. Time grows with clients x draws x purchases, so without a budget
#: the intervals of 100,000 clients took 13 minutes; the expectations themselves are exact.
VALUE_DRAW_BUDGET = 20_000_000
MIN_VALUE_DRAWS = 200


# --------------------------------------------------------------------------------------------
# checks
# --------------------------------------------------------------------------------------------
_require = require
_summary_arrays = summary_arrays
_row_weights = row_weights
_discrete_bounds = discrete_bounds
_check_level = check_level


def _timestamp(value, name: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} is not a date: {value!r}") from exc
    if pd.isna(ts):
        raise ValueError(f"{name} is missing")
    return ts


# --------------------------------------------------------------------------------------------
# RFM summary
# --------------------------------------------------------------------------------------------
#: Fewest clients with a repeat purchase for the purchase and spend models to be fitted at all.
#: Below it the likelihood is nearly flat in (a, b) and Gamma-Gamma has nothing to learn from; the
#: workbook then says so instead of publishing parameters no data supports.
MIN_REPEAT_BUYERS = 20


def fit_readiness(summary: pd.DataFrame, min_repeat_buyers: int = MIN_REPEAT_BUYERS) -> tuple[bool, str]:
    """Whether ``summary`` can support the BG/NBD and Gamma-Gamma fits, and why not.

    Parameters
    ----------
    summary : DataFrame
        Output of :func:`rfm_summary` (``x``, ``monetary``).
    min_repeat_buyers : int
        Fewest clients with ``x > 0`` and positive ``monetary`` required.

    Returns
    -------
    (bool, str)
        ``(True, "")`` when the models can be fitted, else ``(False, reason in plain words)``.

    Examples
    --------
    >>> fit_readiness(pd.DataFrame({"x": [0, 0, 1], "monetary": [0.0, 0.0, 5.0]}))[0]
    False
    """
    _require(summary, ("x", "monetary"), "summary")
    repeat = int(((summary["x"] > 0) & (summary["monetary"] > 0)).sum())
    if repeat < min_repeat_buyers:
        return False, (f"only {repeat:,} of {len(summary):,} clients bought more than once; the purchase and "
                       f"spend models need at least {min_repeat_buyers} repeat buyers to learn anything")
    return True, ""


def rfm_summary(revenue: pd.DataFrame, as_of, start=None, *,
                zero_amount_purchases: bool = True) -> pd.DataFrame:
    """Per-client recency, frequency and monetary value in the purchase model's counting.

    Parameters
    ----------
    revenue : DataFrame
        Canonical revenue table with ``date`` (datetime64), ``client_id`` (str) and ``amount``
        (float). Rows with ``start < date <= as_of`` are used.
    as_of : Timestamp
        End of the period (inclusive); ``T`` is measured from the first purchase day to it.
    start : Timestamp, optional
        Exclusive start of the period; None uses all rows up to ``as_of``.
    zero_amount_purchases : bool, default True
        Also count a client-day whose lines are all exactly zero (a free order) as a purchase
        day. Fader, Hardie & Lee count CDNOW this way: 8 of the 2,357 sample customers' only
        order was $0, and the paper's fit (log-likelihood -9582.4) includes them. A free order is
        an order; a day on which credits merely offset sales (net zero, lines not all zero) is
        not. False gives the strict rule "positive net amount only".

    Returns
    -------
    DataFrame
        One row per client with at least one purchase day, sorted by ``client_id``, with a plain
        RangeIndex and columns ``client_id``, ``x`` (repeat purchase days = purchase days - 1),
        ``t_x`` (weeks from first to last purchase day), ``T`` (weeks from first purchase day to
        ``as_of``), ``monetary`` (mean net amount of the repeat purchase days, 0 when x == 0: the
        Gamma-Gamma input), ``first_purchase``, ``last_purchase``, ``purchase_days`` and
        ``revenue_total`` (net amount of all the client's rows in the period, credits included).
        A purchase day is a client-day whose net amount is positive; clients without one (only
        credits, or nothing in the period) are dropped.

    Examples
    --------
    >>> rev = pd.DataFrame({"date": pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-08",
    ...                                             "2024-01-15"]),
    ...                     "client_id": ["A", "A", "A", "B"], "amount": [10.0, 5.0, 1.0, -3.0]})
    >>> s = rfm_summary(rev, pd.Timestamp("2024-01-15"))
    >>> s[["client_id", "x", "t_x", "T", "monetary"]].to_dict("records")
    [{'client_id': 'A', 'x': 1, 't_x': 1.0, 'T': 2.0, 'monetary': 6.0}]
    """
    _require(revenue, ["date", "client_id", "amount"], "revenue")
    as_of = _timestamp(as_of, "as_of").normalize()
    if not pd.api.types.is_datetime64_any_dtype(revenue["date"]):
        raise ValueError("revenue column 'date' must be datetime64")
    amount = pd.to_numeric(revenue["amount"], errors="coerce")
    if amount.isna().any():
        raise ValueError("revenue column 'amount' has missing or non-numeric values")
    day = revenue["date"].dt.normalize()
    keep = day <= as_of
    if start is not None:
        keep &= day > _timestamp(start, "start").normalize()
    frame = pd.DataFrame({"client_id": revenue["client_id"].astype(str), "day": day,
                          "amount": amount.astype(float)})[keep.to_numpy()]
    frame = frame.assign(size=frame["amount"].abs())
    daily = frame.groupby(["client_id", "day"], as_index=False, sort=True).agg(
        amount=("amount", "sum"), size=("size", "max"))
    total = daily.groupby("client_id", sort=True)["amount"].sum()
    purchase = daily["amount"] > 0
    if zero_amount_purchases:
        purchase |= daily["size"] == 0
    buys = daily[purchase]
    if buys.empty:
        out = pd.DataFrame({c: pd.Series(dtype="float64") for c in _SUMMARY_COLUMNS})
        out["client_id"] = out["client_id"].astype(str)
        out["x"] = out["x"].astype("int64")
        out["purchase_days"] = out["purchase_days"].astype("int64")
        out["first_purchase"] = pd.Series(dtype="datetime64[ns]")
        out["last_purchase"] = pd.Series(dtype="datetime64[ns]")
        return out
    g = buys.groupby("client_id", sort=True)
    first = g["day"].min()
    last = g["day"].max()
    n = g["day"].size()
    amount_all = g["amount"].sum()
    # the first purchase day's amount (days are sorted within client by the groupby above)
    amount_first = g["amount"].first()
    x = (n - 1).astype("int64")
    repeat_total = (amount_all - amount_first).to_numpy(float)
    monetary = np.divide(repeat_total, x.to_numpy(float), out=np.zeros(len(x)), where=x.to_numpy() > 0)
    one_day = pd.Timedelta(days=1)
    out = pd.DataFrame({
        "client_id": first.index.astype(str),
        "x": x.to_numpy(),
        "t_x": ((last - first) / one_day).to_numpy(float) / 7.0,
        "T": ((as_of - first) / one_day).to_numpy(float) / 7.0,
        "monetary": monetary,
        "first_purchase": first.to_numpy(),
        "last_purchase": last.to_numpy(),
        "purchase_days": n.to_numpy().astype("int64"),
        "revenue_total": total.reindex(first.index).to_numpy(float),
    })
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# customer value
# --------------------------------------------------------------------------------------------
def _simulated_value(budget, arrivals, span, row0, x, mon, spend_par, disc, horizon_months, level, rng):
    """Interval bounds of first-year purchases and of discounted value for a block of clients.

    ``budget``, ``arrivals`` and ``span`` are (clients, draws) purchase counts, arrival counts and
    the share of the horizon the arrivals are spread over, of the block whose first client is row
    ``row0`` of the summary; ``spend_par`` is (draws, 3) spend parameters (p, q, v) per draw.
    Purchases K are the first K of the N Poisson arrivals. Given N, the arrival times are N sorted
    uniforms on the span, and the first K of them are S_j / S_{N+1} (j <= K) with S_j sums of
    standard exponentials (Renyi's representation): S_{N+1} = S_K + Gamma(N + 1 - K). Vectorised
    over all purchases of all draws of the block at once.
    """
    n_draws = budget.shape[1]
    shape = budget.shape
    flat = budget.ravel()
    buy = np.flatnonzero(flat > 0)
    kk = flat[buy]
    nn = arrivals.ravel()[buy]
    sp = span.ravel()[buy]
    owner = np.repeat(np.arange(buy.size), kk)  # purchase -> buying draw
    ends = np.cumsum(kk)
    cs = np.cumsum(rng.standard_exponential(int(ends[-1]) if buy.size else 0))
    base = np.concatenate([[0.0], cs[ends[:-1] - 1]]) if buy.size else np.zeros(0)
    s_j = cs - base[owner]
    s_total = (cs[ends - 1] - base) + rng.gamma((nn - kk + 1).astype(float)) if buy.size else base
    month = np.minimum((s_j / s_total[owner] * sp[owner] * horizon_months).astype(np.int64), horizon_months - 1)
    # spend: nu ~ Gamma(p x + q, rate v + x m_x) per buying draw, z ~ Gamma(p, rate nu) per purchase
    row = buy // n_draws + row0
    col = buy % n_draws
    pp, qq, vv = spend_par[col, 0], spend_par[col, 1], spend_par[col, 2]
    nu = rng.gamma(pp * x[row] + qq) / (vv + x[row] * mon[row])
    # z ~ Gamma(p) per purchase: with one spend model p is one number (a scalar shape is faster to
    # draw than an array of shapes)
    shapes = np.unique(spend_par[:, 0])
    z = rng.gamma(shapes[0], size=owner.size) if len(shapes) == 1 else rng.gamma(pp[owner])
    z = z / nu[owner]
    value = np.zeros(flat.size)
    value[buy] = np.bincount(owner, weights=z * disc[month], minlength=buy.size)
    first_year = np.zeros(flat.size, dtype=np.int64)
    first_year[buy] = np.bincount(owner, weights=(month < 12), minlength=buy.size).astype(np.int64)
    value = value.reshape(shape)
    first_year = first_year.reshape(shape)
    lo12, hi12 = _discrete_bounds(first_year, level)
    qv = np.quantile(value, [(1 - level) / 2, (1 + level) / 2], axis=1)
    return lo12, hi12, qv[0], qv[1]


def customer_value(bgf, ggf: GammaGammaModel, summary: pd.DataFrame,
                   horizon_months: int = 36, annual_discount: float = 0.10, level: float = 0.8,
                   n_draws: int = 2000, random_state: int = 0,
                   draw_budget: int | None = VALUE_DRAW_BUDGET, fits: list | None = None,
                   margin_rate=None) -> pd.DataFrame:
    """Expected purchases over twelve months and discounted customer value, with intervals.

    Parameters
    ----------
    bgf : purchase model
        Fitted purchase model (any of :data:`PURCHASE_MODELS`).
    ggf : GammaGammaModel
        Fitted spend model.
    summary : DataFrame
        From :func:`rfm_summary` (``client_id``, ``x``, ``t_x``, ``T``, ``monetary``).
    horizon_months : int
        CLV horizon in months (month = 52.1775 / 12 weeks).
    annual_discount : float
        Yearly discount rate d; month m's revenue is divided by (1 + d) ** (m / 12).
    level : float
        Central probability of the intervals.
    n_draws : int
        Simulated futures per client for the intervals.
    random_state : int
        Seed for ``numpy.random.default_rng``.
    draw_budget : int or None
        Most clients x draws simulated: past it, each client gets ``draw_budget // clients`` draws
        (at least :data:`MIN_VALUE_DRAWS`; the 10% and 90% quantiles of 200 draws are within about
        two percentile points). ``None``: always ``n_draws``. The draws used are in
        ``result.attrs["n_draws"]``.
    fits : list of (purchase model, spend model), optional
        Bootstrap refits (:func:`bootstrap`): draw d of every client uses refit ``d % len(fits)``,
        so the intervals of purchases and value carry the parameters' uncertainty (wider for a fit
        on few clients) as well as the process's; ``p_alive_low``/``_high`` are the refits'
        quantiles of P(alive). None: the point fit's draws, and P(alive) without a range.
    margin_rate : array-like, optional
        Each client's margin per unit of revenue (rows of ``summary``): ``clv`` and its bounds are
        then margin, not revenue (``result.attrs["value_basis"]`` says which).

    Returns
    -------
    DataFrame
        ``client_id``, ``expected_purchases_12m`` (conditional expectation at t = 52.1775 weeks),
        ``expected_purchases_12m_low``/``_high`` (inclusive simulated bounds), ``clv`` (expected
        discounted revenue, or margin: sum over months of the expected purchases in the month times
        the expected spend times the discount), ``clv_low``/``clv_high`` (simulated quantiles with
        spend drawn from the Gamma-Gamma posterior), ``p_alive``, ``expected_spend``, and with
        ``fits`` ``p_alive_low``/``p_alive_high``.

    Raises
    ------
    SpendUndefinedError
        When the spend model's q <= 1 leaves some clients without an expected spend.

    Examples
    --------
    >>> bg = BetaGeoModel(); bg.params_ = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    >>> gg = GammaGammaModel(); gg.params_ = {"p": 6.25, "q": 3.74, "v": 15.44}
    >>> s = pd.DataFrame({"client_id": ["A"], "x": [2], "t_x": [30.0], "T": [38.0],
    ...                   "monetary": [20.0]})
    >>> customer_value(bg, gg, s, n_draws=200).columns[:3].tolist()
    ['client_id', 'expected_purchases_12m', 'expected_purchases_12m_low']
    """
    _require(summary, ["client_id", "x", "t_x", "T", "monetary"], "summary")
    level = _check_level(level)
    horizon_months = int(horizon_months)
    if horizon_months < 1:
        raise ValueError("horizon_months must be at least 1")
    if annual_discount <= -1:
        raise ValueError("annual_discount must be greater than -1")
    x, t_x, T = _summary_arrays(summary)
    spend = ggf.expected_spend(summary)
    months = np.arange(1, horizon_months + 1)
    disc = (1 + annual_discount) ** (-months / 12)
    # expected purchases in month m = E[X(m months)] - E[X((m-1) months)], conditional on history
    pa = bgf.p_alive(summary)
    cum = np.column_stack([np.zeros(len(x))] + [pa * bgf._expected_alive(m * _WEEKS_PER_MONTH, x, T)
                                               for m in months])
    clv = (np.diff(cum, axis=1) * disc).sum(axis=1) * spend
    e12 = bgf.expected_purchases(WEEKS_PER_YEAR, summary)
    rate = None
    if margin_rate is not None:
        rate = np.asarray(margin_rate, float).ravel()
        if len(rate) != len(x) or not np.isfinite(rate).all():
            raise ValueError("margin_rate needs one finite value per summary row")
        clv = clv * rate

    # simulation, per client and draw: alive, lambda, p (or mu) from the posterior; purchases over
    # the horizon; spend from the spend model's posterior
    rng = np.random.default_rng(random_state)
    n = len(x)
    n_draws = int(n_draws)
    if draw_budget is not None and n and n * n_draws > draw_budget:
        n_draws = max(min(MIN_VALUE_DRAWS, n_draws), int(draw_budget) // n)
    pfits = [f[0] for f in fits] if fits else None
    smodels = [f[1] for f in fits] if fits else [ggf]
    spend_par = np.array([m._p() for m in smodels])[np.arange(n_draws) % len(smodels)]
    lo12, hi12, clv_lo, clv_hi = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    mon = np.where(x > 0, pd.to_numeric(summary["monetary"]).to_numpy(float), 0.0)
    horizon = horizon_months * _WEEKS_PER_MONTH
    for sl, budget, arrivals, span in bgf._simulate(summary, n_draws, horizon, rng, pfits):
        # Frequent buyers make hundreds of purchases per draw over a multi-year horizon, so the
        # per-purchase arrays below are processed in blocks of clients holding at most
        # _CHUNK_PURCHASES purchases (memory stays bounded whatever the buying rate).
        per_client = budget.sum(axis=1)
        edges = [0]
        acc = 0
        for i, c in enumerate(per_client):
            if acc and acc + c > _CHUNK_PURCHASES:
                edges.append(i)
                acc = 0
            acc += int(c)
        edges.append(len(per_client))
        for b0, b1 in itertools.pairwise(edges):
            rows_sl = slice(sl.start + b0, sl.start + b1)
            lo12[rows_sl], hi12[rows_sl], clv_lo[rows_sl], clv_hi[rows_sl] = _simulated_value(
                budget[b0:b1], arrivals[b0:b1], span[b0:b1], rows_sl.start, x, mon, spend_par, disc,
                horizon_months, level, rng)
    if rate is not None:
        clv_lo, clv_hi = clv_lo * rate, clv_hi * rate
    out = pd.DataFrame({
        "client_id": summary["client_id"].astype(str).to_numpy(),
        "expected_purchases_12m": e12,
        "expected_purchases_12m_low": lo12,
        "expected_purchases_12m_high": hi12,
        "clv": clv,
        "clv_low": clv_lo,
        "clv_high": clv_hi,
        "p_alive": pa,
        "expected_spend": spend,
    })
    if fits:
        alive = np.column_stack([f[0]._p_alive(x, t_x, T) for f in fits])
        out["p_alive_low"], out["p_alive_high"] = np.quantile(alive, [(1 - level) / 2, (1 + level) / 2], axis=1)
    out.attrs["n_draws"] = n_draws
    out.attrs["value_basis"] = "margin" if rate is not None else "revenue"
    return out


def margin_rates(revenue: pd.DataFrame, products: pd.DataFrame | None, as_of, client_ids) -> np.ndarray | None:
    """Each client's margin per unit of revenue up to ``as_of``, from ``products.margin_rate``.

    The revenue-weighted mean of the margin rates of the products a client bought (lines whose
    product has no margin rate are left out of both sums); a client without such lines gets the
    book's rate. None when there is no ``margin_rate`` to use (no ``products``, no ``product_id``).

    Examples
    --------
    >>> rev = pd.DataFrame({"date": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]),
    ...                     "client_id": ["A", "A", "B"], "amount": [100.0, 100.0, 50.0],
    ...                     "product_id": ["p", "q", "z"]})
    >>> prod = pd.DataFrame({"product_id": ["p", "q"], "margin_rate": [0.5, 0.3]})
    >>> margin_rates(rev, prod, "2024-01-31", ["A", "B"]).round(3).tolist()
    [0.4, 0.4]
    """
    if (products is None or "margin_rate" not in getattr(products, "columns", ())
            or "product_id" not in revenue.columns):
        return None
    as_of = _timestamp(as_of, "as_of")
    rates = products.drop_duplicates("product_id").set_index("product_id")["margin_rate"].astype(float)
    r = revenue[revenue["date"] <= as_of]
    rate = r["product_id"].map(rates)
    known = rate.notna() & (r["amount"] > 0)
    if not known.any():
        return None
    amount = r["amount"].where(known, 0.0)
    g = pd.DataFrame({"client_id": r["client_id"].astype(str), "m": (amount * rate.fillna(0.0)), "a": amount})
    g = g.groupby("client_id")[["m", "a"]].sum()
    book = g["m"].sum() / g["a"].sum()
    per = (g["m"] / g["a"].where(g["a"] > 0)).reindex(pd.Index(client_ids, dtype=str).astype(str))
    return per.fillna(book).to_numpy(float)


# --------------------------------------------------------------------------------------------
# back-test
# --------------------------------------------------------------------------------------------
def _ece(prob, outcome, bins=10):
    """Expected calibration error: share-weighted |mean prob - observed share| over equal-width bins.

    Hand-written (a few lines): scikit-learn's calibration_curve returns the bin means but not
    the bin weights this needs.
    """
    prob = np.asarray(prob, float)
    outcome = np.asarray(outcome, float)
    idx = np.clip(np.floor(prob * bins).astype(int), 0, bins - 1)
    err = 0.0
    for k in range(bins):
        sel = idx == k
        if sel.any():
            err += sel.mean() * abs(prob[sel].mean() - outcome[sel].mean())
    return float(err)


def _r6(v):
    return float(round(float(v), 6))


def _point_measures(pred, actual):
    from sklearn.metrics import mean_absolute_error, mean_squared_error

    out = {"mae": _r6(mean_absolute_error(actual, pred)),
           "rmse": _r6(np.sqrt(mean_squared_error(actual, pred)))}
    if np.ptp(pred) > 0 and np.ptp(actual) > 0:
        out["spearman"] = _r6(stats.spearmanr(pred, actual).statistic)
    return out


def _prob_measures(prob, bought):
    from sklearn.metrics import brier_score_loss, roc_auc_score

    out = {}
    if 0 < bought.sum() < len(bought):
        out["auc"] = _r6(roc_auc_score(bought, prob))
    out["brier"] = _r6(brier_score_loss(bought, prob))
    out["calibration_error"] = _r6(_ece(prob, bought))
    return out


def _model_class(name_or_cls):
    if isinstance(name_or_cls, str):
        if name_or_cls not in PURCHASE_MODELS:
            raise ValueError(f"unknown purchase model {name_or_cls!r}; known: auto, {', '.join(PURCHASE_MODELS)}")
        return PURCHASE_MODELS[name_or_cls]
    return name_or_cls


def fit_candidates(summary: pd.DataFrame, names=None) -> dict:
    """Fit each purchase model of ``names`` (default: all, registry order) on ``summary``.

    Returns
    -------
    dict
        Registry name -> fitted model, or the ``ValueError`` that stopped its fit.
    """
    out = {}
    for name in names or list(PURCHASE_MODELS):
        try:
            out[name] = PURCHASE_MODELS[name]().fit(summary)
        except ValueError as exc:
            out[name] = exc
    return out


def backtest(revenue: pd.DataFrame, as_of, holdout_weeks: float = 26, level: float = 0.8,
             random_state: int = 0, purchase_model="bgnbd", engine=None, return_models: bool = False):
    """Refit the models without the last ``holdout_weeks`` and check them against the holdout.

    Parameters
    ----------
    revenue : DataFrame
        Canonical revenue table (``date``, ``client_id``, ``amount``); rows after ``as_of``
        are ignored.
    as_of : Timestamp
        End of the holdout (inclusive).
    holdout_weeks : float
        Holdout length; calibration ends ``holdout_weeks`` weeks before ``as_of``.
    level : float
        Central probability of the purchase intervals.
    random_state : int
        Seed for the interval simulation and the paired bootstrap.
    purchase_model : str or class
        ``"auto"`` (every model of :data:`PURCHASE_MODELS` is fitted and scored on the holdout and
        one is chosen by ``models.selection.choose``: BG/NBD unless another's holdout error is lower
        beyond its sampling noise), a registry name (``bgnbd``, ``mbgnbd``, ``pareto_nbd``) or a class.
    engine : features.EngineTable, optional
        The same revenue held in the engine: the holdout's purchases and revenue per client are
        grouped there (default: ``revenue`` registered with a private DuckDB).
    return_models : bool
        Also return the calibration fits: a dict ``purchase``, ``spend``, ``candidates`` (every
        model fitted, by name) and ``calibration`` (the calibration summary).

    Returns
    -------
    clients : DataFrame
        One row per client with a purchase by the calibration end: ``client_id``,
        ``calibration_purchases`` (x), ``actual_purchases`` (purchase days in the holdout, all
        repeat purchases), ``predicted_purchases`` (conditional expectation at t =
        ``holdout_weeks``), ``purchases_low``, ``purchases_high`` (inclusive interval at
        ``level``), ``p_any_purchase``, ``actual_revenue`` (net amount in the holdout),
        ``predicted_revenue`` (predicted purchases times expected spend).
    metrics : dict
        JSON-ready, in this order: ``calibration_end``, ``holdout_weeks``, ``calibration_weeks``
        (from the first purchase in the data to the calibration end), ``interval_level``,
        ``n_clients``, ``purchase_model`` (the chosen model's parameters), ``purchase_model_name``,
        ``spend_model`` (p, q, v), ``totals``, ``model`` (mae, rmse, spearman, coverage, auc, brier,
        calibration_error, and the ranking measures of predicted revenue: gini_normalised,
        decile_mae, top_decile_share), ``baselines``: ``same_rate`` (x / T * holdout weeks; P(any) =
        1 - exp(-that) as for a Poisson buyer), ``nothing_happens`` (0 purchases, P(any) = 0;
        spearman undefined, AUC 0.5) and ``recency_rank`` (P(any) = percentile rank of the recency
        t_x / T; AUC only); and with ``"auto"`` ``model_choice`` (``rule``, ``chosen``, ``reason``,
        ``table``: every model's log-likelihood, BIC and holdout figures). ``calibration_error`` is
        the expected calibration error over 10 equal-width bins of the predicted probability.
        Floats are rounded to 6 decimals.

    Examples
    --------
    >>> days = pd.to_datetime(["2024-01-01", "2024-03-01", "2024-06-01", "2024-02-01",
    ...                        "2024-05-01", "2024-01-15", "2024-04-01", "2024-06-20"])
    >>> rev = pd.DataFrame({"date": days, "client_id": list("AAABBCCC"), "amount": [10.0] * 8})
    >>> clients, metrics = backtest(rev, pd.Timestamp("2024-06-30"), holdout_weeks=8)
    >>> clients["actual_purchases"].tolist()
    [1, 0, 1]
    """
    from . import features
    from .models import selection

    _require(revenue, ["date", "client_id", "amount"], "revenue")
    as_of = _timestamp(as_of, "as_of").normalize()
    level = _check_level(level)
    if not holdout_weeks > 0:
        raise ValueError(f"holdout_weeks must be positive, got {holdout_weeks}")
    cal_end = (as_of - pd.Timedelta(weeks=float(holdout_weeks))).normalize()
    h = float(holdout_weeks)
    cal = rfm_summary(revenue, cal_end)
    auto = isinstance(purchase_model, str) and purchase_model == "auto"
    if auto:
        fits = fit_candidates(cal)
    else:
        cls = _model_class(purchase_model)
        fits = {cls.name: cls().fit(cal)}
    ggf = GammaGammaModel().fit(cal)
    # holdout purchases and net revenue per client, grouped in the engine
    hold = features.purchase_days(engine if engine is not None else revenue, as_of, start=cal_end).set_index("client_id")
    actual = hold["purchase_days"].reindex(cal["client_id"]).fillna(0).astype("int64").to_numpy()
    actual_rev = hold["net"].reindex(cal["client_id"]).fillna(0.0).to_numpy(float)
    choice = None
    if auto:
        table = selection.compare(fits, cal, actual, h, random_state=random_state)
        first_seen = pd.to_datetime(cal["first_purchase"]).min() if len(cal) else cal_end
        cal_weeks = (cal_end - first_seen) / pd.Timedelta(weeks=1)
        if cal_weeks < h - 1:
            # a model that learned from fewer weeks than it is asked to predict is judged on its
            # extrapolation: the holdout errors are shown, but no switch rests on them
            chosen, reason = selection.choose_without_holdout(fits)
            reason = (f"The calibration ({cal_weeks:.0f} weeks) is shorter than the holdout ({h:g} weeks), so no switch "
                      f"of model rests on the holdout errors. {reason}")
        else:
            chosen, reason = selection.choose(table)
        choice = {"rule": ("BG/NBD is kept unless the mean squared error of holdout purchases per client of another model "
                           "is lower beyond sampling noise: paired bootstrap over clients, one-sided, "
                           f"{table.attrs['level']:.1%} (95% with a Bonferroni correction); when the calibration is "
                           "shorter than the holdout, the simplest model that fits unless another has a BIC lower by "
                           "more than 10"),
                  "chosen": chosen, "reason": reason,
                  "table": [{k: (_r6(v) if isinstance(v, (float, np.floating)) and np.isfinite(v) else
                                 (None if isinstance(v, (float, np.floating)) else v))
                             for k, v in row.items()} for row in table.to_dict("records")]}
        for row, name in zip(choice["table"], table["model"]):
            m = fits[name]
            if not isinstance(m, Exception):
                row["params"] = {k: _r6(v) for k, v in m.params_.items()}
    else:
        chosen = next(iter(fits))
    bgf = fits[chosen]
    pred = bgf.expected_purchases(h, cal)
    itv = bgf.purchase_interval(h, cal, level=level, random_state=random_state)
    p_any = bgf.p_any_purchase(h, cal)
    try:
        spend = ggf.expected_spend(cal)
    except SpendUndefinedError:
        spend = np.full(len(cal), np.nan)
    clients = pd.DataFrame({
        "client_id": cal["client_id"].to_numpy(),
        "calibration_purchases": cal["x"].to_numpy().astype("int64"),
        "actual_purchases": actual,
        "predicted_purchases": pred,
        "purchases_low": itv["low"].to_numpy().astype("int64"),
        "purchases_high": itv["high"].to_numpy().astype("int64"),
        "p_any_purchase": p_any,
        "actual_revenue": actual_rev,
        "predicted_revenue": pred * spend,
    })
    bought = (actual > 0).astype(int)
    x, t_x, T = _summary_arrays(cal)
    model = _point_measures(pred, actual)
    model["coverage"] = _r6(((actual >= clients["purchases_low"]) & (actual <= clients["purchases_high"])).mean())
    model.update(_prob_measures(p_any, bought))
    if np.isfinite(clients["predicted_revenue"]).all():
        from .models.diagnostics import gains

        model.update(gains(clients["predicted_revenue"], actual_rev)[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(T > 0, x / T, 0.0)
    same = _point_measures(rate * h, actual)
    same.update(_prob_measures(1 - np.exp(-rate * h), bought))
    nothing = _point_measures(np.zeros(len(actual)), actual)
    nothing.update(_prob_measures(np.zeros(len(actual)), bought))
    recency = np.where(T > 0, t_x / T, 0.0)
    rec_score = stats.rankdata(recency) / len(recency)
    rec = {k: v for k, v in _prob_measures(rec_score, bought).items() if k == "auc"}
    first_day = pd.to_datetime(cal["first_purchase"]).min() if len(cal) else cal_end
    metrics = {
        "calibration_end": cal_end.strftime("%Y-%m-%d"),
        "holdout_weeks": float(h) if h != int(h) else int(h),
        "calibration_weeks": _r6((cal_end - first_day) / pd.Timedelta(weeks=1)),
        "interval_level": _r6(level),
        "n_clients": len(clients),
        "purchase_model": {k: _r6(v) for k, v in bgf.params_.items()},
        "purchase_model_name": bgf.name,
        "spend_model": {k: _r6(v) for k, v in ggf.params_.items()},
        "totals": {"actual_purchases": int(actual.sum()), "predicted_purchases": _r6(pred.sum()),
                   "actual_revenue": _r6(actual_rev.sum()),
                   "predicted_revenue": _r6(np.nansum(pred * spend))},
        "model": model,
        "baselines": {"same_rate": same, "nothing_happens": nothing, "recency_rank": rec},
    }
    if choice is not None:
        metrics["model_choice"] = choice
    if return_models:
        return clients, metrics, {"purchase": bgf, "spend": ggf, "candidates": fits, "calibration": cal}
    return clients, metrics


# --------------------------------------------------------------------------------------------
# figure tables
# --------------------------------------------------------------------------------------------
def cumulative_purchases(revenue, model, summary: pd.DataFrame,
                         calibration_end, as_of, freq: str = "W") -> pd.DataFrame:
    """Cumulative repeat purchases of the cohort, actual beside the model, period by period.

    The actual purchases are counted per day in the engine (``features.repeat_purchases_by_day``);
    the table is :func:`~clientstrategy.models.diagnostics.weekly_purchases` (which also gives the
    purchases in each period, FHL 2005 figure 2).

    Parameters
    ----------
    revenue : DataFrame or features.EngineTable
        Canonical revenue table (``date``, ``client_id``, ``amount``).
    model : purchase model
        Fitted on the calibration period.
    summary : DataFrame
        Calibration summary (``client_id``, ``first_purchase``): the cohort followed.
    calibration_end, as_of : Timestamp
        End of calibration and of the holdout.
    freq : str
        pandas frequency of the periods (``"W"``: weeks ending Sunday); ``calibration_end`` and
        ``as_of`` are added as period ends.

    Returns
    -------
    DataFrame
        ``week`` (period end), ``actual`` (cumulative repeat purchase days of the cohort up to
        it), ``expected`` (sum over clients of the model's unconditional E[X(t)] with t the weeks
        since their first purchase), ``actual_period``, ``expected_period`` and ``period``
        (``calibration`` or ``holdout``).

    Examples
    --------
    >>> rev = pd.DataFrame({"date": pd.to_datetime(["2024-01-01", "2024-01-10", "2024-01-20"]),
    ...                     "client_id": ["A", "A", "A"], "amount": [1.0, 1.0, 1.0]})
    >>> s = rfm_summary(rev, pd.Timestamp("2024-01-14"))
    >>> m = BetaGeoModel(); m.params_ = {"r": 1.0, "alpha": 2.0, "a": 0.8, "b": 2.0}
    >>> cumulative_purchases(rev, m, s, "2024-01-14", "2024-01-21")["actual"].tolist()
    [0, 1, 2]
    """
    from . import features
    from .models.diagnostics import weekly_purchases

    _require(summary, ["client_id", "first_purchase"], "summary")
    cal_end = _timestamp(calibration_end, "calibration_end").normalize()
    as_of = _timestamp(as_of, "as_of").normalize()
    if as_of < cal_end:
        raise ValueError("as_of is before calibration_end")
    daily = features.repeat_purchases_by_day(revenue, summary, as_of)
    return weekly_purchases(model, daily, summary, cal_end, as_of, freq=freq)


def calibration_by_frequency(clients: pd.DataFrame) -> pd.DataFrame:
    """Mean actual and predicted holdout purchases by calibration purchases (0, 1, ..., 7+).

    Parameters
    ----------
    clients : DataFrame
        From :func:`backtest`: ``calibration_purchases``, ``actual_purchases``,
        ``predicted_purchases``.

    Returns
    -------
    DataFrame
        ``calibration_purchases`` (labels ``"0"`` .. ``"6"``, ``"7+"``), ``clients``,
        ``mean_actual``, ``mean_predicted``; bins without clients are left out.

    Examples
    --------
    >>> c = pd.DataFrame({"calibration_purchases": [0, 0, 9], "actual_purchases": [0, 2, 5],
    ...                   "predicted_purchases": [0.5, 0.5, 4.0]})
    >>> calibration_by_frequency(c)["mean_actual"].tolist()
    [1.0, 5.0]
    """
    _require(clients, ["calibration_purchases", "actual_purchases", "predicted_purchases"], "clients")
    x = pd.to_numeric(clients["calibration_purchases"]).to_numpy()
    labels = np.array([str(i) for i in range(7)] + ["7+"])
    key = np.minimum(x, 7).astype(int)
    frame = pd.DataFrame({"key": key, "actual": pd.to_numeric(clients["actual_purchases"]).to_numpy(float),
                          "pred": pd.to_numeric(clients["predicted_purchases"]).to_numpy(float)})
    g = frame.groupby("key", sort=True).agg(clients=("actual", "size"), mean_actual=("actual", "mean"),
                                            mean_predicted=("pred", "mean"))
    return pd.DataFrame({"calibration_purchases": labels[g.index.to_numpy()],
                         "clients": g["clients"].to_numpy().astype("int64"),
                         "mean_actual": g["mean_actual"].to_numpy(),
                         "mean_predicted": g["mean_predicted"].to_numpy()})


# --------------------------------------------------------------------------------------------
# plots (matplotlib Figure objects, no pyplot state: display(fig) in a notebook)
# --------------------------------------------------------------------------------------------
def _figure(size=(8, 4.5)):
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.add_subplot()


def plot_tracking(cum: pd.DataFrame):
    """Line chart of cumulative repeat purchases, actual against the model, by week.

    Parameters
    ----------
    cum : DataFrame
        From :func:`cumulative_purchases` (``week``, ``actual``, ``expected``, ``period``).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> cum = pd.DataFrame({"week": pd.date_range("2024-01-07", periods=3, freq="W"),
    ...                     "actual": [0, 2, 5], "expected": [0.5, 2.5, 4.0],
    ...                     "period": ["calibration", "calibration", "holdout"]})
    >>> type(plot_tracking(cum)).__name__
    'Figure'
    """
    _require(cum, ["week", "actual", "expected"], "cum")
    fig, ax = _figure()
    ax.plot(cum["week"], cum["actual"], color="black", label="Actual repeat purchases")
    ax.plot(cum["week"], cum["expected"], color="tab:blue", linestyle="--", label="Purchase model")
    if "period" in cum and (cum["period"] == "holdout").any() and (cum["period"] == "calibration").any():
        edge = cum.loc[cum["period"] == "calibration", "week"].max()
        ax.axvline(edge, color="grey", linestyle=":", label="End of calibration")
    ax.set_xlabel("Week")
    ax.set_ylabel("Cumulative repeat purchases")
    ax.set_title("Repeat purchases: model against actual")
    ax.legend(frameon=False)
    return fig


def plot_conditional(calib_table: pd.DataFrame):
    """Mean holdout purchases by number of purchases in the calibration period, actual vs model.

    Parameters
    ----------
    calib_table : DataFrame
        From :func:`calibration_by_frequency`.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> t = pd.DataFrame({"calibration_purchases": ["0", "1"], "clients": [5, 3],
    ...                   "mean_actual": [0.2, 0.9], "mean_predicted": [0.25, 0.8]})
    >>> type(plot_conditional(t)).__name__
    'Figure'
    """
    _require(calib_table, ["calibration_purchases", "mean_actual", "mean_predicted"], "calib_table")
    fig, ax = _figure()
    pos = np.arange(len(calib_table))
    ax.plot(pos, calib_table["mean_actual"], marker="o", color="black", label="Actual")
    ax.plot(pos, calib_table["mean_predicted"], marker="s", linestyle="--", color="tab:blue",
            label="Purchase model")
    ax.set_xticks(pos, calib_table["calibration_purchases"].astype(str))
    ax.set_xlabel("Repeat purchases in the calibration period")
    ax.set_ylabel("Average purchases in the holdout period")
    ax.set_title("Future purchases by past purchase frequency")
    ax.legend(frameon=False)
    return fig


def plot_reliability(clients: pd.DataFrame):
    """Reliability chart: predicted chance of buying against the observed share, 10 bins.

    Parameters
    ----------
    clients : DataFrame
        From :func:`backtest` (``p_any_purchase``, ``actual_purchases``).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> c = pd.DataFrame({"p_any_purchase": [0.1, 0.15, 0.8, 0.9], "actual_purchases": [0, 0, 1, 2]})
    >>> type(plot_reliability(c)).__name__
    'Figure'
    """
    _require(clients, ["p_any_purchase", "actual_purchases"], "clients")
    prob = pd.to_numeric(clients["p_any_purchase"]).to_numpy(float)
    bought = (pd.to_numeric(clients["actual_purchases"]).to_numpy(float) > 0).astype(float)
    idx = np.clip(np.floor(prob * 10).astype(int), 0, 9)
    frame = pd.DataFrame({"bin": idx, "p": prob, "y": bought}).groupby("bin").agg(
        p=("p", "mean"), y=("y", "mean"), n=("y", "size"))
    fig, ax = _figure((5.5, 5.5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="Perfectly calibrated")
    ax.scatter(frame["p"], frame["y"], s=20 + 200 * frame["n"] / frame["n"].max(), color="tab:blue",
               label="Clients (size = number)")
    ax.plot(frame["p"], frame["y"], color="tab:blue")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("Predicted chance of buying in the holdout")
    ax.set_ylabel("Share of clients who bought")
    ax.set_title("Does the predicted chance of buying come true?")
    ax.legend(frameon=False, loc="upper left")
    return fig
