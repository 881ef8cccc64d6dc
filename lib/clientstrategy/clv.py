"""Purchase and spend models: BG/NBD with Gamma-Gamma, customer value and the back-test.

The purchase model is the BG/NBD of Fader, Hardie & Lee (2005), "Counting your customers the
easy way: an alternative to the Pareto/NBD model", *Marketing Science* 24(2); the spend model is
the Gamma-Gamma of Fader, Hardie & Lee (2005), "RFM and CLV: using iso-value curves for customer
base analysis", *Journal of Marketing Research* 42(4). Both are written here on numpy/scipy:

* the ``lifetimes`` package implements them but is unmaintained;
* ``pymc-marketing`` implements them on PyMC, which is a heavy install and fits by MCMC in
  minutes, too slow and heavy for a quarterly notebook run; maximum likelihood with
  ``scipy.optimize`` (analytic gradients) takes well under a second on CDNOW's 23,570 customers.

Counting (as the paper counts CDNOW): a purchase is a distinct client-day with a positive net
amount; ``x`` = purchase days - 1 (repeat purchases); ``t_x`` (last - first purchase day) and
``T`` (end of period - first purchase day) are in weeks = days / 7. The models therefore work in
weeks and ``alpha`` is in weeks; twelve months are 52.1775 weeks. Two CDNOW findings:

* 8 of the 2,357 sample customers only ever placed a $0 order. The positive-amount rule drops
  them (2,349 clients; the parameters stay within 0.4% of the paper's); the paper keeps them
  (``rfm_summary(..., zero_amount_purchases=True)`` reproduces its log-likelihood -9582.4).
* Gamma-Gamma's ``monetary`` must be the mean net amount per repeat purchase DAY (lines of one
  day summed): that reproduces p, q, v = 6.25, 3.74, 15.44 and equals the published ``zbar``;
  the mean per transaction line (146 days hold several lines) gives p = 6.05, q = 3.89, v = 16.4.

Prediction intervals come from the models' own predictive distribution by simulation (given the
client's history: alive ~ Bernoulli(P(alive)); if alive, lambda ~ Gamma(r + x, rate alpha + T),
p ~ Beta(a, b + x); purchases are the Poisson arrivals up to the first drop-out, drop-out having
probability p after each purchase; spend per purchase z ~ Gamma(p, rate nu) with
nu ~ Gamma(p x + q, rate v + x m_x)). Intervals are inclusive and discrete, so they cover at
least their level.
"""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

__all__ = [
    "MIN_REPEAT_BUYERS",
    "MODELS",
    "WEEKS_PER_YEAR",
    "BetaGeoModel",
    "GammaGammaModel",
    "backtest",
    "bootstrap",
    "calibration_by_frequency",
    "cumulative_purchases",
    "customer_value",
    "fit_readiness",
    "model_from_dict",
    "model_to_dict",
    "plot_conditional",
    "plot_reliability",
    "plot_tracking",
    "rfm_summary",
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
def _require(df: pd.DataFrame, columns, table: str) -> None:
    """Raise ValueError naming the first missing column of ``table``."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{table} must be a pandas DataFrame, got {type(df).__name__}")
    for c in columns:
        if c not in df.columns:
            raise ValueError(f"{table} table lacks required column {c!r}")


def _summary_arrays(summary: pd.DataFrame, need=("x", "t_x", "T")):
    """x, t_x, T as float arrays after checking the columns and their values."""
    _require(summary, need, "summary")
    out = []
    for c in need:
        v = pd.to_numeric(summary[c], errors="coerce").to_numpy(float)
        if np.isnan(v).any():
            raise ValueError(f"summary column {c!r} has missing or non-numeric values")
        if (v < 0).any():
            raise ValueError(f"summary column {c!r} has negative values")
        out.append(v)
    if "t_x" in need and "T" in need:
        i, j = need.index("t_x"), need.index("T")
        if (out[i] > out[j] + 1e-9).any():
            raise ValueError("summary column 't_x' exceeds 'T' for some clients")
    return out


def _timestamp(value, name: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} is not a date: {value!r}") from exc
    if pd.isna(ts):
        raise ValueError(f"{name} is missing")
    return ts


def _row_weights(weights, n: int) -> np.ndarray:
    """Row weights of a fit as a float array (1 each when ``weights`` is None), checked."""
    if weights is None:
        return np.ones(n)
    w = np.asarray(weights, float).ravel()
    if len(w) != n:
        raise ValueError(f"weights has {len(w)} values for {n} summary rows")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("weights must be finite and non-negative")
    if not (w > 0).any():
        raise ValueError("weights are zero for every row: nothing to fit")
    return w


def _check_level(level: float) -> float:
    level = float(level)
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    return level


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
# BG/NBD
# --------------------------------------------------------------------------------------------
def _bgnbd_loglik(log_params, x, t_x, T, w, xs, inv):
    """Weighted BG/NBD log-likelihood (FHL 2005 eq. (6)) and its gradient in the log-parameters.

    ``xs``/``inv`` are the distinct values of ``x`` and the index of each row's value
    (``xs[inv] == x``): the gamma-function terms depend on x only and are computed once per
    distinct x. Written in logs (logaddexp of the "alive" and "dropped out after the last
    purchase" terms) so that heavy buyers do not overflow; the gradient is analytic (digammas) so
    that L-BFGS-B converges in a few dozen evaluations on tens of thousands of clients.
    """
    r, alpha, a, b = np.exp(log_params)
    # per distinct x: ln Gamma(r+x) - ln Gamma(r) + ln B(a, b+x) - ln B(a, b), and derivatives
    g_rx = special.gammaln(r + xs) - special.gammaln(r)
    g_beta = (special.gammaln(b + xs) - special.gammaln(a + b + xs)
              - special.gammaln(b) + special.gammaln(a + b))
    d_r = special.digamma(r + xs) - special.digamma(r)
    d_abx = special.digamma(a + b + xs)
    d_ab = special.digamma(a + b)
    d_a = d_ab - d_abx
    d_b = special.digamma(b + xs) - d_abx - special.digamma(b) + d_ab
    base = (g_rx + g_beta)[inv] + r * np.log(alpha)
    l_alive_T = np.log(alpha + T)
    l_alive_tx = np.log(alpha + t_x)
    bx1 = np.maximum(b + x - 1, 1e-300)
    term_alive = -(r + x) * l_alive_T
    with np.errstate(divide="ignore", invalid="ignore"):
        term_drop = np.where(x > 0, np.log(a) - np.log(bx1) - (r + x) * l_alive_tx, -np.inf)
    top = np.logaddexp(term_alive, term_drop)
    ll = base + top
    w_drop = np.exp(term_drop - top)  # share of the drop-out term, 0 when x == 0
    w_alive = 1 - w_drop
    g_r = d_r[inv] + np.log(alpha) - w_alive * l_alive_T - w_drop * l_alive_tx
    g_alpha = r / alpha - (r + x) * (w_alive / (alpha + T) + w_drop / (alpha + t_x))
    g_a = d_a[inv] + w_drop / a
    g_b = d_b[inv] - w_drop / bx1
    # weighted sums by multiply-and-sum, not ``@``: a BLAS dot on a crowded machine can stall on
    # its thread pool for far longer than the arithmetic takes
    grad = np.array([(w * g_r).sum() * r, (w * g_alpha).sum() * alpha, (w * g_a).sum() * a,
                     (w * g_b).sum() * b])
    return float((w * ll).sum()), grad


class BetaGeoModel:
    """BG/NBD purchase model (Fader, Hardie & Lee 2005) fitted by maximum likelihood.

    Time is in weeks (``alpha`` in weeks). The model keeps only its parameters, never the data.

    Attributes
    ----------
    params_ : dict
        ``r``, ``alpha`` (weeks), ``a``, ``b``.
    loglik_ : float
        Maximised log-likelihood.
    n_ : int
        Number of clients fitted.

    Examples
    --------
    >>> s = pd.DataFrame({"x": [0, 2, 5, 1], "t_x": [0.0, 20.0, 30.0, 3.0], "T": [39.0] * 4})
    >>> m = BetaGeoModel().fit(s)
    >>> sorted(m.params_)
    ['a', 'alpha', 'b', 'r']
    """

    #: Registry name (``MODELS``, ``model_to_dict``).
    name = "bgnbd"

    def __init__(self):
        self.params_ = None
        self.loglik_ = None
        self.n_ = None

    # -- fitting ------------------------------------------------------------------------------
    def fit(self, summary: pd.DataFrame, weights=None) -> BetaGeoModel:
        """Fit r, alpha, a, b by maximum likelihood.

        Parameters
        ----------
        summary : DataFrame
            Columns ``x``, ``t_x``, ``T`` (weeks), as from :func:`rfm_summary`.
        weights : array-like, optional
            Non-negative weight of each row (how many times the client counts): a bootstrap
            resample is a fit with multinomial counts as weights (:func:`bootstrap`). None: 1 each.

        Returns
        -------
        BetaGeoModel
            ``self``, with ``params_``, ``loglik_`` and ``n_`` set.

        Examples
        --------
        >>> s = pd.DataFrame({"x": [0, 2, 5, 1], "t_x": [0.0, 20.0, 30.0, 3.0], "T": [39.0] * 4})
        >>> BetaGeoModel().fit(s).n_
        4
        """
        x, t_x, T = _summary_arrays(summary)
        if len(x) == 0:
            raise ValueError("summary has no clients to fit")
        if (T <= 0).all():
            raise ValueError("summary column 'T' is zero for every client: nothing to fit")
        rw = _row_weights(weights, len(x))
        keep = rw > 0
        # Identical (x, t_x, T) rows share one likelihood term: weight unique rows (exact, faster).
        uniq, inv_rows = np.unique(np.column_stack([x, t_x, T])[keep], axis=0, return_inverse=True)
        ux, ut, uT = uniq.T
        w = np.bincount(inv_rows.ravel(), weights=rw[keep], minlength=len(uniq)).astype(float)

        total = w.sum()
        xs, inv = np.unique(ux, return_inverse=True)

        def nll(logp):
            ll, grad = _bgnbd_loglik(logp, ux, ut, uT, w, xs, inv)
            return -ll / total, -grad / total

        # deterministic start: r = 1, alpha = mean T (the rate's scale), a = b = 1
        start = np.log([1.0, max(float(np.mean(T)), 1e-3), 1.0, 1.0])
        res = optimize.minimize(nll, start, jac=True, method="L-BFGS-B", bounds=[(-12, 12)] * 4,
                                options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 2000})
        if not np.isfinite(res.fun):
            raise ValueError("BG/NBD likelihood is not finite; check the summary's x, t_x, T")
        r, alpha, a, b = np.exp(res.x)
        self.params_ = {"r": float(r), "alpha": float(alpha), "a": float(a), "b": float(b)}
        self.loglik_ = float(-res.fun * total)
        self.n_ = round(float(rw.sum()))
        return self

    def _p(self):
        if self.params_ is None:
            raise ValueError("the model is not fitted: call fit(summary) first")
        return self.params_["r"], self.params_["alpha"], self.params_["a"], self.params_["b"]

    # -- predictions --------------------------------------------------------------------------
    def p_alive(self, summary: pd.DataFrame) -> np.ndarray:
        """Probability each client is still active at ``T`` (FHL 2005 eq. (13)).

        Parameters
        ----------
        summary : DataFrame
            Columns ``x``, ``t_x``, ``T``.

        Returns
        -------
        ndarray
            P(alive) per row of ``summary``; 1 for clients without repeat purchases.

        Examples
        --------
        >>> m = BetaGeoModel(); m.params_ = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
        >>> float(m.p_alive(pd.DataFrame({"x": [0], "t_x": [0.0], "T": [30.0]}))[0])
        1.0
        """
        r, alpha, a, b = self._p()
        x, t_x, T = _summary_arrays(summary)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            log_odds = (np.log(a) - np.log(np.maximum(b + x - 1, 1e-300))
                        + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x)))
            p = special.expit(-log_odds)
        return np.where(x > 0, p, 1.0)

    def expected_purchases(self, t, summary: pd.DataFrame) -> np.ndarray:
        """Conditional expected number of purchases in ``(T, T + t]`` (FHL 2005 eq. (10)).

        Parameters
        ----------
        t : float
            Horizon in weeks.
        summary : DataFrame
            Columns ``x``, ``t_x``, ``T``.

        Returns
        -------
        ndarray
            E[X(T, T + t) | x, t_x, T] per row.

        Examples
        --------
        >>> m = BetaGeoModel(); m.params_ = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
        >>> s = pd.DataFrame({"x": [2], "t_x": [30.43], "T": [38.86]})
        >>> round(float(m.expected_purchases(39, s)[0]), 3)
        1.226
        """
        r, alpha, a, b = self._p()
        x, _, T = _summary_arrays(summary)
        t = float(t)
        if t < 0:
            raise ValueError(f"t must be non-negative, got {t}")
        # eq. (10) is C (1 - ((alpha+T)/(alpha+T+t))**(r+x) 2F1(r+x, b+x; a+b+x-1; z)) / den with
        # den = 1 / P(alive). Euler's transformation turns the power times 2F1 into
        # (1-z)**(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z): same value, but nothing overflows for heavy
        # buyers (x in the thousands), where the paper's form gives 0 * inf.
        z = t / (alpha + T + t)
        tail = (1 - z) ** (a - 1) * special.hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z)
        num = (a + b + x - 1) / (a - 1) * (1 - tail)
        return num * self.p_alive(summary)

    def p_any_purchase(self, t, summary: pd.DataFrame) -> np.ndarray:
        """Probability of at least one purchase in ``(T, T + t]``.

        Alive (P(alive)) and at least one Poisson arrival: P(alive) * (1 - ((alpha + T) /
        (alpha + T + t)) ** (r + x)).

        Parameters
        ----------
        t : float
            Horizon in weeks.
        summary : DataFrame
            Columns ``x``, ``t_x``, ``T``.

        Returns
        -------
        ndarray
            Probability per row.

        Examples
        --------
        >>> m = BetaGeoModel(); m.params_ = {"r": 1.0, "alpha": 1.0, "a": 1.0, "b": 1.0}
        >>> round(float(m.p_any_purchase(1.0, pd.DataFrame({"x": [0], "t_x": [0.0], "T": [1.0]}))[0]), 6)
        0.333333
        """
        r, alpha = self._p()[:2]
        x, _, T = _summary_arrays(summary)
        return self.p_alive(summary) * (1 - ((alpha + T) / (alpha + T + float(t))) ** (r + x))

    def expected_population(self, t) -> np.ndarray:
        """Unconditional expected purchases E[X(t)] of a new client in ``(0, t]`` (FHL eq. (9)).

        Parameters
        ----------
        t : float or array-like
            Weeks since the first purchase (negative values count as 0).

        Returns
        -------
        ndarray
            E[X(t)] for each ``t``.

        Examples
        --------
        >>> m = BetaGeoModel(); m.params_ = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
        >>> round(float(m.expected_population(52.1775)), 3)
        1.449
        """
        r, alpha, a, b = self._p()
        t = np.maximum(np.asarray(t, float), 0.0)
        z = t / (alpha + t)
        # eq. (9); (1-z)**r 2F1(r, b; a+b-1; z) by Euler's transformation, as in expected_purchases
        tail = (1 - z) ** (a - 1) * special.hyp2f1(a + b - 1 - r, a - 1, a + b - 1, z)
        return (a + b - 1) / (a - 1) * (1 - tail)

    def _simulate_counts(self, summary, n_draws, weeks, rng):
        """Yield (rows, counts, arrivals), each of shape (n_rows, n_draws), for ``weeks`` after T.

        Per draw: alive ~ Bernoulli(P(alive)); if alive lambda ~ Gamma(r + x, rate alpha + T),
        N ~ Poisson(lambda weeks) arrivals, p ~ Beta(a, b + x) and J ~ Geometric(p) (purchases up
        to and including the one after which the client drops out); the count is min(N, J). p and
        J only matter when N >= 2 (J >= 1 always), so they are drawn for those draws only: the same
        distribution at a fraction of the cost. Processed in chunks of clients to bound memory.
        """
        r, alpha, a, b = self._p()
        x, _, T = _summary_arrays(summary)
        pa = self.p_alive(summary)
        step = max(1, _CHUNK_PAIRS // max(n_draws, 1))
        for lo in range(0, len(x), step):
            sl = slice(lo, min(lo + step, len(x)))
            n = sl.stop - sl.start
            alive = rng.random((n, n_draws)) < pa[sl, None]
            rows = np.broadcast_to(np.arange(n)[:, None], (n, n_draws))[alive]
            counts = np.zeros((n, n_draws), dtype=np.int64)
            arrivals = np.zeros((n, n_draws), dtype=np.int64)
            lam = rng.gamma((r + x[sl])[rows]) / (alpha + T[sl])[rows]
            n_arr = rng.poisson(lam * weeks)
            k = n_arr.copy()
            multi = n_arr >= 2
            drop = np.clip(rng.beta(a, (b + x[sl])[rows[multi]]), 1e-12, 1.0)
            k[multi] = np.minimum(n_arr[multi], rng.geometric(drop))
            counts[alive] = k
            arrivals[alive] = n_arr
            yield sl, counts, arrivals

    def purchase_interval(self, t, summary: pd.DataFrame, level: float = 0.8, n_draws: int = 2000,
                          random_state: int = 0) -> pd.DataFrame:
        """Predictive interval of the purchases in ``(T, T + t]`` by simulation from the model.

        Each draw: alive ~ Bernoulli(P(alive)); if alive lambda ~ Gamma(r + x, rate alpha + T) and
        p ~ Beta(a, b + x); the purchases are min(N, J) with N ~ Poisson(lambda t) and J ~
        Geometric(p) the number of purchases up to and including the one after which the client
        drops out (the exact BG/NBD process, memoryless in both parts).

        Parameters
        ----------
        t : float
            Horizon in weeks.
        summary : DataFrame
            Columns ``x``, ``t_x``, ``T``.
        level : float
            Central probability of the interval (0.8 = 10th to 90th percentile).
        n_draws : int
            Simulated futures per client.
        random_state : int
            Seed for ``numpy.random.default_rng``.

        Returns
        -------
        DataFrame
            Same index as ``summary``; ``low`` and ``high`` (inclusive integer bounds: P(X < low)
            and P(X > high) are each at most (1 - level) / 2 under the simulation) and ``mean``
            (mean of the draws).

        Examples
        --------
        >>> m = BetaGeoModel(); m.params_ = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
        >>> s = pd.DataFrame({"x": [0, 6], "t_x": [0.0, 35.0], "T": [38.0, 38.0]})
        >>> m.purchase_interval(39, s, n_draws=500).columns.tolist()
        ['low', 'high', 'mean']
        """
        level = _check_level(level)
        t = float(t)
        if int(n_draws) < 1:
            raise ValueError("n_draws must be at least 1")
        rng = np.random.default_rng(random_state)
        n = len(summary)
        low, high, mean = np.zeros(n), np.zeros(n), np.zeros(n)
        for sl, k, _ in self._simulate_counts(summary, int(n_draws), t, rng):
            low[sl], high[sl] = _discrete_bounds(k, level)
            mean[sl] = k.mean(axis=1)
        return pd.DataFrame({"low": low, "high": high, "mean": mean}, index=summary.index)

    def draw_purchases(self, t, summary: pd.DataFrame, n_draws: int = 1000,
                       random_state: int | np.random.Generator = 0) -> np.ndarray:
        """Purchases in ``(T, T + t]`` drawn from the model's predictive distribution.

        The same process as :meth:`purchase_interval` (alive ~ Bernoulli(P(alive)); lambda and p
        from their posteriors given the client's history; purchases min(N, J)), returned whole so
        that draws can be summed across clients: draw ``d`` of every client is one joint future of
        the book (clients are independent given the parameters).

        Parameters
        ----------
        t : float
            Horizon in weeks.
        summary : DataFrame
            Columns ``x``, ``t_x``, ``T``.
        n_draws : int
            Draws per client.
        random_state : int or numpy Generator
            Seed (or generator) of the draws.

        Returns
        -------
        ndarray
            Integer array of shape ``(len(summary), n_draws)``.

        Examples
        --------
        >>> m = BetaGeoModel(); m.params_ = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
        >>> s = pd.DataFrame({"x": [0, 6], "t_x": [0.0, 35.0], "T": [38.0, 38.0]})
        >>> m.draw_purchases(39, s, n_draws=50).shape
        (2, 50)
        """
        t = float(t)
        if t < 0:
            raise ValueError(f"t must be non-negative, got {t}")
        if int(n_draws) < 1:
            raise ValueError("n_draws must be at least 1")
        rng = (random_state if isinstance(random_state, np.random.Generator)
               else np.random.default_rng(random_state))
        out = np.zeros((len(summary), int(n_draws)), dtype=np.int64)
        for sl, k, _ in self._simulate_counts(summary, int(n_draws), t, rng):
            out[sl] = k
        return out


def _discrete_bounds(draws, level):
    """Inclusive bounds per row: smallest v with F(v) >= (1-level)/2 and with F(v) >= (1+level)/2."""
    q = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2], axis=1, method="inverted_cdf")
    return q[0].astype(float), q[1].astype(float)


# --------------------------------------------------------------------------------------------
# Gamma-Gamma
# --------------------------------------------------------------------------------------------
class GammaGammaModel:
    """Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV").

    Fitted on clients with repeat purchases (``x > 0`` and ``monetary > 0``), ``monetary`` being
    the mean amount of their repeat purchase days.

    Attributes
    ----------
    params_ : dict
        ``p``, ``q``, ``v``.
    loglik_ : float
        Maximised log-likelihood.
    n_ : int
        Number of clients fitted.

    Examples
    --------
    >>> s = pd.DataFrame({"x": [1, 2, 3, 1, 4], "monetary": [10.0, 20.0, 15.0, 40.0, 12.0]})
    >>> sorted(GammaGammaModel().fit(s).params_)
    ['p', 'q', 'v']
    """

    #: Registry name (``MODELS``, ``model_to_dict``).
    name = "gamma_gamma"

    def __init__(self):
        self.params_ = None
        self.loglik_ = None
        self.n_ = None

    def fit(self, summary: pd.DataFrame, weights=None) -> GammaGammaModel:
        """Fit p, q, v by maximum likelihood on the clients with x > 0.

        Parameters
        ----------
        summary : DataFrame
            Columns ``x`` and ``monetary``.
        weights : array-like, optional
            Non-negative weight of each row (a bootstrap resample's multinomial counts). None: 1 each.

        Returns
        -------
        GammaGammaModel
            ``self`` with ``params_``, ``loglik_``, ``n_``.

        Examples
        --------
        >>> s = pd.DataFrame({"x": [1, 2, 3, 1, 4], "monetary": [10.0, 20.0, 15.0, 40.0, 12.0]})
        >>> GammaGammaModel().fit(s).n_
        5
        """
        x, m = _summary_arrays(summary, ("x", "monetary"))
        rw = _row_weights(weights, len(x))
        keep = (x > 0) & (m > 0) & (rw > 0)
        x, m, rw = x[keep], m[keep], rw[keep]
        if len(x) < 2:
            raise ValueError("summary has fewer than two clients with x > 0 and 'monetary' > 0")
        total = rw.sum()

        lm, lx = np.log(m), np.log(x)

        def nll(logp):
            # Gamma-Gamma likelihood of the mean spend m_x of x purchases (FHL 2005, RFM and CLV),
            # with its analytic gradient in the log-parameters
            p, q, v = np.exp(logp)
            px = p * x
            lvxm = np.log(v + x * m)
            ll = (special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q) + q * np.log(v)
                  + (px - 1) * lm + px * lx - (px + q) * lvxm)
            dig = special.digamma(px + q)
            g_p = x * (dig - special.digamma(px) + lm + lx - lvxm)
            g_q = dig - special.digamma(q) + np.log(v) - lvxm
            g_v = q / v - (px + q) / (v + x * m)
            grad = np.array([(rw * g_p).sum() * p, (rw * g_q).sum() * q, (rw * g_v).sum() * v]) / total
            return -(rw * ll).sum() / total, -grad

        # deterministic start: p = q = 2 (finite mean), v = mean spend (the scale)
        start = np.log([2.0, 2.0, float(np.mean(m))])
        res = optimize.minimize(nll, start, jac=True, method="L-BFGS-B", bounds=[(-12, 15)] * 3,
                                options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 2000})
        if not np.isfinite(res.fun):
            raise ValueError("Gamma-Gamma likelihood is not finite; check 'monetary'")
        p, q, v = np.exp(res.x)
        self.params_ = {"p": float(p), "q": float(q), "v": float(v)}
        self.loglik_ = float(-res.fun * total)
        self.n_ = round(float(total))
        return self

    def _p(self):
        if self.params_ is None:
            raise ValueError("the model is not fitted: call fit(summary) first")
        return self.params_["p"], self.params_["q"], self.params_["v"]

    def expected_spend(self, summary: pd.DataFrame) -> np.ndarray:
        """Conditional expected spend per purchase, E[Z | x, m_x] = p (v + x m_x) / (p x + q - 1).

        Parameters
        ----------
        summary : DataFrame
            Columns ``x`` and ``monetary``.

        Returns
        -------
        ndarray
            Expected spend per row; clients with x == 0 get the population mean p v / (q - 1)
            (NaN if q <= 1, when the population mean does not exist).

        Examples
        --------
        >>> g = GammaGammaModel(); g.params_ = {"p": 6.25, "q": 3.74, "v": 15.44}
        >>> round(float(g.expected_spend(pd.DataFrame({"x": [0], "monetary": [0.0]}))[0]), 4)
        35.219
        """
        p, q, v = self._p()
        x, m = _summary_arrays(summary, ("x", "monetary"))
        m = np.where(x > 0, m, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = p * (v + x * m) / (p * x + q - 1)
        return np.where((p * x + q - 1) > 0, out, np.nan)

    def draw_revenue(self, counts, summary: pd.DataFrame,
                     random_state: int | np.random.Generator = 0) -> np.ndarray:
        """Revenue of drawn purchase counts, spend drawn from the model given each client's history.

        Per client and draw: nu ~ Gamma(p x + q, rate v + x m_x) (the posterior of the client's
        spend rate), then the revenue of K purchases is Gamma(p K, rate nu), the exact sum of K
        spends Gamma(p, rate nu).

        Parameters
        ----------
        counts : array-like of int
            Purchases per client (rows of ``summary``) and draw, shape ``(len(summary), n_draws)``,
            e.g. from :meth:`BetaGeoModel.draw_purchases`.
        summary : DataFrame
            Columns ``x`` and ``monetary``.
        random_state : int or numpy Generator
            Seed (or generator) of the draws.

        Returns
        -------
        ndarray
            Float array of the same shape as ``counts``; 0 where the count is 0.

        Examples
        --------
        >>> g = GammaGammaModel(); g.params_ = {"p": 6.25, "q": 3.74, "v": 15.44}
        >>> s = pd.DataFrame({"x": [0, 3], "monetary": [0.0, 40.0]})
        >>> g.draw_revenue(np.array([[0, 2], [1, 0]]), s).shape
        (2, 2)
        """
        p, q, v = self._p()
        x, m = _summary_arrays(summary, ("x", "monetary"))
        m = np.where(x > 0, m, 0.0)
        k = np.asarray(counts)
        if k.ndim != 2 or k.shape[0] != len(x):
            raise ValueError(f"counts must have shape (len(summary), n_draws) = ({len(x)}, n), got {k.shape}")
        if (k < 0).any():
            raise ValueError("counts must be non-negative")
        rng = (random_state if isinstance(random_state, np.random.Generator)
               else np.random.default_rng(random_state))
        out = np.zeros(k.shape)
        buy = k > 0
        rows = np.broadcast_to(np.arange(len(x))[:, None], k.shape)[buy]
        nu = rng.gamma(p * x[rows] + q) / (v + x[rows] * m[rows])
        out[buy] = rng.gamma(p * k[buy]) / nu
        return out


# --------------------------------------------------------------------------------------------
# a fitted model as data (notebooks hand fitted models to each other as artifacts/models.json)
# --------------------------------------------------------------------------------------------
#: Model classes by registry name.
MODELS = {"bgnbd": BetaGeoModel, "gamma_gamma": GammaGammaModel}


def model_to_dict(model) -> dict:
    """A fitted model as a JSON-ready dict: ``name``, ``params``, ``loglik``, ``n``.

    Examples
    --------
    >>> m = BetaGeoModel(); m.params_ = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    >>> model_to_dict(m)["name"]
    'bgnbd'
    """
    if getattr(model, "params_", None) is None:
        raise ValueError("the model is not fitted: call fit(summary) first")
    return {"name": model.name, "params": {k: float(v) for k, v in model.params_.items()},
            "loglik": None if model.loglik_ is None else float(model.loglik_),
            "n": None if model.n_ is None else int(model.n_)}


def model_from_dict(d: dict):
    """The fitted model a :func:`model_to_dict` dict describes (predictions need only the parameters).

    Examples
    --------
    >>> model_from_dict({"name": "gamma_gamma", "params": {"p": 6.25, "q": 3.74, "v": 15.44}}).params_["q"]
    3.74
    """
    if not isinstance(d, dict) or "name" not in d or "params" not in d:
        raise ValueError("a model dict needs 'name' and 'params'")
    if d["name"] not in MODELS:
        raise ValueError(f"unknown model {d['name']!r}; known: {sorted(MODELS)}")
    m = MODELS[d["name"]]()
    m.params_ = {k: float(v) for k, v in d["params"].items()}
    m.loglik_ = d.get("loglik")
    m.n_ = d.get("n")
    return m


# --------------------------------------------------------------------------------------------
# parameter uncertainty
# --------------------------------------------------------------------------------------------
def bootstrap(summary: pd.DataFrame, n_boot: int = 200, random_state: int = 0,
              purchase_model=BetaGeoModel, spend_model=GammaGammaModel) -> list:
    """Refit the purchase and spend models on clients resampled with replacement.

    A resample of the n clients is a fit with multinomial(n, 1/n) counts as row weights, so no
    table is copied. The spread of the refitted parameters is their sampling uncertainty: feed each
    refit's draws into an interval and the interval carries it (a fit on 20 repeat buyers gives
    wider ranges than one on 20,000).

    Parameters
    ----------
    summary : DataFrame
        From :func:`rfm_summary` (``x``, ``t_x``, ``T``, ``monetary``).
    n_boot : int
        Number of refits.
    random_state : int
        Seed of the resampling.
    purchase_model, spend_model : class
        Model classes with ``fit(summary, weights=...)``.

    Returns
    -------
    list of (purchase model, spend model)
        Fitted pairs, one per resample (in resample order; deterministic for a seed).

    Examples
    --------
    >>> s = pd.DataFrame({"x": [0, 2, 5, 1, 3, 0] * 5, "t_x": [0.0, 20.0, 30.0, 3.0, 25.0, 0.0] * 5,
    ...                   "T": [39.0] * 30, "monetary": [0.0, 10.0, 12.0, 30.0, 8.0, 0.0] * 5})
    >>> len(bootstrap(s, n_boot=3))
    3
    """
    _require(summary, ["x", "t_x", "T", "monetary"], "summary")
    n_boot = int(n_boot)
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}")
    n = len(summary)
    if n == 0:
        raise ValueError("summary has no clients to resample")
    rng = np.random.default_rng(random_state)
    fits = []
    for _ in range(n_boot):
        w = rng.multinomial(n, np.full(n, 1.0 / n)).astype(float)
        fits.append((purchase_model().fit(summary, weights=w), spend_model().fit(summary, weights=w)))
    return fits


# --------------------------------------------------------------------------------------------
# customer value
# --------------------------------------------------------------------------------------------
def _simulated_value(budget, arrivals, row0, x, mon, spend_params, disc, horizon_months, level, rng):
    """Interval bounds of first-year purchases and of discounted value for a block of clients.

    ``budget`` and ``arrivals`` are (clients, draws) purchase and arrival counts of the block whose
    first client is row ``row0`` of the summary. Purchases K = min(N, J) over the horizon are the
    first K of the N Poisson arrivals. Given N, the arrival times are N sorted uniforms on the
    horizon, and the first K of them are S_j / S_{N+1} (j <= K) with S_j sums of standard
    exponentials (Renyi's representation): S_{N+1} = S_K + Gamma(N + 1 - K). Vectorised over all
    purchases of all draws of the block at once.
    """
    pp, qq, vv = spend_params
    n_draws = budget.shape[1]
    shape = budget.shape
    flat = budget.ravel()
    buy = np.flatnonzero(flat > 0)
    kk = flat[buy]
    nn = arrivals.ravel()[buy]
    owner = np.repeat(np.arange(buy.size), kk)  # purchase -> buying draw
    ends = np.cumsum(kk)
    cs = np.cumsum(rng.standard_exponential(int(ends[-1]) if buy.size else 0))
    base = np.concatenate([[0.0], cs[ends[:-1] - 1]]) if buy.size else np.zeros(0)
    s_j = cs - base[owner]
    s_total = (cs[ends - 1] - base) + rng.gamma((nn - kk + 1).astype(float)) if buy.size else base
    month = np.minimum((s_j / s_total[owner] * horizon_months).astype(np.int64), horizon_months - 1)
    # spend: nu ~ Gamma(p x + q, rate v + x m_x) per buying draw, z ~ Gamma(p, rate nu) per purchase
    row = buy // n_draws + row0
    nu = rng.gamma(pp * x[row] + qq) / (vv + x[row] * mon[row])
    z = rng.gamma(pp, size=owner.size) / nu[owner]
    value = np.zeros(flat.size)
    value[buy] = np.bincount(owner, weights=z * disc[month], minlength=buy.size)
    first_year = np.zeros(flat.size, dtype=np.int64)
    first_year[buy] = np.bincount(owner, weights=(month < 12), minlength=buy.size).astype(np.int64)
    value = value.reshape(shape)
    first_year = first_year.reshape(shape)
    lo12, hi12 = _discrete_bounds(first_year, level)
    qv = np.quantile(value, [(1 - level) / 2, (1 + level) / 2], axis=1)
    return lo12, hi12, qv[0], qv[1]


def customer_value(bgf: BetaGeoModel, ggf: GammaGammaModel, summary: pd.DataFrame,
                   horizon_months: int = 36, annual_discount: float = 0.10, level: float = 0.8,
                   n_draws: int = 2000, random_state: int = 0,
                   draw_budget: int | None = VALUE_DRAW_BUDGET) -> pd.DataFrame:
    """Expected purchases over twelve months and discounted customer value, with intervals.

    Parameters
    ----------
    bgf : BetaGeoModel
        Fitted purchase model.
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

    Returns
    -------
    DataFrame
        ``client_id``, ``expected_purchases_12m`` (conditional expectation at t = 52.1775 weeks),
        ``expected_purchases_12m_low``/``_high`` (inclusive simulated bounds), ``clv`` (expected
        discounted revenue: sum over months of the expected purchases in the month times the
        expected spend times the discount), ``clv_low``/``clv_high`` (simulated quantiles with
        spend drawn from the Gamma-Gamma posterior), ``p_alive``, ``expected_spend``.

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
    x = _summary_arrays(summary)[0]
    spend = ggf.expected_spend(summary)
    months = np.arange(1, horizon_months + 1)
    disc = (1 + annual_discount) ** (-months / 12)
    # expected purchases in month m = E[X(m months)] - E[X((m-1) months)], conditional on history
    cum = np.column_stack([np.zeros(len(x))] + [bgf.expected_purchases(m * _WEEKS_PER_MONTH, summary)
                                               for m in months])
    clv = (np.diff(cum, axis=1) * disc).sum(axis=1) * spend
    e12 = bgf.expected_purchases(WEEKS_PER_YEAR, summary)

    # simulation, per client and draw: alive, lambda, p from the posterior; N ~ Poisson(lambda H)
    # arrivals over the horizon H, J ~ Geometric(p) purchases until drop-out
    pp, qq, vv = ggf._p()
    rng = np.random.default_rng(random_state)
    n = len(x)
    n_draws = int(n_draws)
    if draw_budget is not None and n and n * n_draws > draw_budget:
        n_draws = max(min(MIN_VALUE_DRAWS, n_draws), int(draw_budget) // n)
    lo12, hi12, clv_lo, clv_hi = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    mon = np.where(x > 0, pd.to_numeric(summary["monetary"]).to_numpy(float), 0.0)
    horizon = horizon_months * _WEEKS_PER_MONTH
    for sl, budget, arrivals in bgf._simulate_counts(summary, n_draws, horizon, rng):
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
                budget[b0:b1], arrivals[b0:b1], rows_sl.start, x, mon, (pp, qq, vv), disc, horizon_months,
                level, rng)
    out = pd.DataFrame({
        "client_id": summary["client_id"].astype(str).to_numpy(),
        "expected_purchases_12m": e12,
        "expected_purchases_12m_low": lo12,
        "expected_purchases_12m_high": hi12,
        "clv": clv,
        "clv_low": clv_lo,
        "clv_high": clv_hi,
        "p_alive": bgf.p_alive(summary),
        "expected_spend": spend,
    })
    out.attrs["n_draws"] = n_draws
    return out


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


def backtest(revenue: pd.DataFrame, as_of, holdout_weeks: float = 26, level: float = 0.8,
             random_state: int = 0):
    """Refit both models without the last ``holdout_weeks`` and check them against the holdout.

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
        Seed for the interval simulation.

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
        JSON-ready: ``calibration_end``, ``holdout_weeks``, ``interval_level``, ``n_clients``,
        ``purchase_model`` (r, alpha, a, b), ``spend_model`` (p, q, v), ``totals``, ``model``
        (mae, rmse, spearman, coverage, auc, brier, calibration_error) and ``baselines``:
        ``same_rate`` (x / T * holdout weeks; P(any) = 1 - exp(-that) as for a Poisson buyer),
        ``nothing_happens`` (0 purchases, P(any) = 0; spearman undefined, AUC 0.5) and
        ``recency_rank`` (P(any) = percentile rank of the recency t_x / T; AUC only).
        ``calibration_error`` is the expected calibration error over 10 equal-width bins of the
        predicted probability. Floats are rounded to 6 decimals.

    Examples
    --------
    >>> days = pd.to_datetime(["2024-01-01", "2024-03-01", "2024-06-01", "2024-02-01",
    ...                        "2024-05-01", "2024-01-15", "2024-04-01", "2024-06-20"])
    >>> rev = pd.DataFrame({"date": days, "client_id": list("AAABBCCC"), "amount": [10.0] * 8})
    >>> clients, metrics = backtest(rev, pd.Timestamp("2024-06-30"), holdout_weeks=8)
    >>> clients["actual_purchases"].tolist()
    [1, 0, 1]
    """
    _require(revenue, ["date", "client_id", "amount"], "revenue")
    as_of = _timestamp(as_of, "as_of").normalize()
    level = _check_level(level)
    if not holdout_weeks > 0:
        raise ValueError(f"holdout_weeks must be positive, got {holdout_weeks}")
    cal_end = (as_of - pd.Timedelta(weeks=float(holdout_weeks))).normalize()
    h = float(holdout_weeks)
    cal = rfm_summary(revenue, cal_end)
    bgf = BetaGeoModel().fit(cal)
    ggf = GammaGammaModel().fit(cal)
    hold = rfm_summary(revenue, as_of, start=cal_end).set_index("client_id")
    # net holdout revenue also for clients whose holdout days are all credits
    rev = revenue[(revenue["date"] > cal_end) & (revenue["date"] <= as_of)]
    net = rev.assign(client_id=rev["client_id"].astype(str)).groupby("client_id")["amount"].sum()
    actual = hold["purchase_days"].reindex(cal["client_id"]).fillna(0).astype("int64").to_numpy()
    actual_rev = net.reindex(cal["client_id"]).fillna(0.0).to_numpy(float)
    pred = bgf.expected_purchases(h, cal)
    itv = bgf.purchase_interval(h, cal, level=level, random_state=random_state)
    p_any = bgf.p_any_purchase(h, cal)
    spend = ggf.expected_spend(cal)
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
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(T > 0, x / T, 0.0)
    same = _point_measures(rate * h, actual)
    same.update(_prob_measures(1 - np.exp(-rate * h), bought))
    nothing = _point_measures(np.zeros(len(actual)), actual)
    nothing.update(_prob_measures(np.zeros(len(actual)), bought))
    recency = np.where(T > 0, t_x / T, 0.0)
    rec_score = stats.rankdata(recency) / len(recency)
    rec = {k: v for k, v in _prob_measures(rec_score, bought).items() if k == "auc"}
    metrics = {
        "calibration_end": cal_end.strftime("%Y-%m-%d"),
        "holdout_weeks": float(h) if h != int(h) else int(h),
        "interval_level": _r6(level),
        "n_clients": len(clients),
        "purchase_model": {k: _r6(v) for k, v in bgf.params_.items()},
        "spend_model": {k: _r6(v) for k, v in ggf.params_.items()},
        "totals": {"actual_purchases": int(actual.sum()), "predicted_purchases": _r6(pred.sum()),
                   "actual_revenue": _r6(actual_rev.sum()),
                   "predicted_revenue": _r6(np.nansum(pred * spend))},
        "model": model,
        "baselines": {"same_rate": same, "nothing_happens": nothing, "recency_rank": rec},
    }
    return clients, metrics


# --------------------------------------------------------------------------------------------
# figure tables
# --------------------------------------------------------------------------------------------
def cumulative_purchases(revenue: pd.DataFrame, model: BetaGeoModel, summary: pd.DataFrame,
                         calibration_end, as_of, freq: str = "W") -> pd.DataFrame:
    """Cumulative repeat purchases of the cohort, actual beside the model, period by period.

    Parameters
    ----------
    revenue : DataFrame
        Canonical revenue table (``date``, ``client_id``, ``amount``).
    model : BetaGeoModel
        Purchase model fitted on the calibration period.
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
        since their first purchase), ``period`` (``calibration`` or ``holdout``).

    Examples
    --------
    >>> rev = pd.DataFrame({"date": pd.to_datetime(["2024-01-01", "2024-01-10", "2024-01-20"]),
    ...                     "client_id": ["A", "A", "A"], "amount": [1.0, 1.0, 1.0]})
    >>> s = rfm_summary(rev, pd.Timestamp("2024-01-14"))
    >>> m = BetaGeoModel(); m.params_ = {"r": 1.0, "alpha": 2.0, "a": 0.8, "b": 2.0}
    >>> cumulative_purchases(rev, m, s, "2024-01-14", "2024-01-21")["actual"].tolist()
    [0, 1, 2]
    """
    _require(revenue, ["date", "client_id", "amount"], "revenue")
    _require(summary, ["client_id", "first_purchase"], "summary")
    cal_end = _timestamp(calibration_end, "calibration_end").normalize()
    as_of = _timestamp(as_of, "as_of").normalize()
    if as_of < cal_end:
        raise ValueError("as_of is before calibration_end")
    first = pd.to_datetime(summary["first_purchase"]).dt.normalize()
    start = first.min()
    ends = pd.date_range(start, as_of, freq=freq)
    # the calibration end and as_of are always period ends, so the figure can mark the split exactly
    ends = ends.append(pd.DatetimeIndex([cal_end, as_of])).unique().sort_values()
    ends = ends[ends >= start]
    # counting as in rfm_summary: a purchase is a client-day with a positive net amount, or a
    # free order (every line exactly zero)
    keep = revenue["client_id"].astype(str).isin(set(summary["client_id"].astype(str)))
    rev = revenue[keep & (revenue["date"] <= as_of)]
    daily = (rev.assign(client_id=rev["client_id"].astype(str), day=rev["date"].dt.normalize(),
                        size=rev["amount"].abs())
             .groupby(["client_id", "day"], as_index=False).agg(amount=("amount", "sum"), size=("size", "max")))
    daily = daily[(daily["amount"] > 0) | (daily["size"] == 0)]
    first_by = dict(zip(summary["client_id"].astype(str), first))
    repeat_days = np.sort(daily.loc[daily["day"] > daily["client_id"].map(first_by), "day"].to_numpy())
    actual = np.searchsorted(repeat_days, ends.to_numpy(), side="right")
    # clients sharing a first-purchase day share the expectation: weight by their count
    cohorts = first.value_counts()
    weeks = ((ends.to_numpy()[:, None] - cohorts.index.to_numpy()[None, :]) / np.timedelta64(1, "D")) / 7.0
    expected = (model.expected_population(weeks) * cohorts.to_numpy(float)).sum(axis=1)
    return pd.DataFrame({"week": ends, "actual": actual.astype("int64"), "expected": expected,
                         "period": np.where(ends <= cal_end, "calibration", "holdout")})


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
