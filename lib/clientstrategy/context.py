"""Step 3: the market and the person.

Market context: which clients buy a topic in the weeks after market events on it, beyond their own
baseline (a responsiveness score per client and topic, and a call list for the next event); a
continuous indicator series (e.g. Euribor) is turned into events by thresholded changes.
Personas: behavioural clusters from digital and response behaviour, named from their centroids, and
the fit between a salesperson's style (or role) and the client's persona as outcome per touch.

Every function is pure: DataFrames in, new DataFrames out; rows after ``as_of`` are ignored.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

from . import activities as _act
from . import features
from .words import pct as _pct

__all__ = [
    "PersonaFit",
    "call_list",
    "events_from_series",
    "fit_personas",
    "market_responsiveness",
    "persona_features",
    "persona_fit",
    "persona_identities",
    "persona_problem",
    "persona_space",
    "plot_persona_fit",
    "plot_personas",
    "plot_responsiveness",
    "with_identities",
]

_check = _act._check
_as_of = _act._as_of


# -- market context -------------------------------------------------------------------------------
def events_from_series(series, topic: str, threshold: float = 2.0, periods: int = 1,
                       window: int | None = None, date_col: str = "date", value_col: str = "value") -> pd.DataFrame:
    """Market events from a continuous indicator: dates where its change is unusually large.

    The change over ``periods`` observations is standardised (z-score); an observation whose
    |z| reaches ``threshold`` is an event. With ``window``, the mean and spread come from the
    previous ``window`` changes only (no look-ahead); otherwise from the whole series.

    Parameters
    ----------
    series : Series or DataFrame
        A Series indexed by date, or a DataFrame with ``date_col`` and ``value_col``; several
        values on one date keep the last.
    topic : str
        Topic the events bear on (a product category or product id).
    threshold : float
        |z| at or above which a change is an event.
    periods : int
        Observations over which the change is taken.
    window : int, optional
        Trailing window of changes for the z-score.
    date_col, value_col : str
        Column names when ``series`` is a DataFrame.

    Returns
    -------
    DataFrame
        Canonical ``market_events`` columns: ``date``, ``topic``, ``event_id``, ``magnitude`` (the
        z-score), ``headline``, plus ``change``.

    Examples
    --------
    >>> s = pd.Series([1.0, 1.1, 1.0, 1.1, 1.0, 3.0, 3.1], index=pd.date_range("2026-01-01", periods=7, freq="MS"))
    >>> events_from_series(s, "Fixed Income", threshold=2.0)[["date", "topic", "change"]]
            date         topic  change
    0 2026-06-01  Fixed Income     2.0
    """
    if isinstance(series, pd.DataFrame):
        _check(series, [date_col, value_col], "indicator series")
        s = series[[date_col, value_col]].dropna()
        s = s.assign(**{date_col: pd.to_datetime(s[date_col])}).groupby(date_col)[value_col].last()
    else:
        s = pd.Series(series).dropna()
        s.index = pd.to_datetime(s.index)
        s = s.groupby(level=0).last()
    if threshold <= 0:
        raise ValueError("threshold must be positive")
    s = s.sort_index().astype("float64")
    change = s.diff(periods)
    if window:
        mu = change.shift(1).rolling(window, min_periods=max(3, window // 2)).mean()
        sd = change.shift(1).rolling(window, min_periods=max(3, window // 2)).std()
    else:
        mu, sd = change.mean(), change.std()
    z = (change - mu) / sd
    hit = z.abs() >= threshold
    ev = pd.DataFrame({"date": s.index[hit.to_numpy()], "change": change[hit].to_numpy(),
                       "magnitude": z[hit].to_numpy()})
    ev.insert(1, "topic", str(topic))
    ev["event_id"] = [f"{topic}-{d:%Y%m%d}" for d in ev["date"]]
    ev["headline"] = [f"{topic}: indicator {'rose' if c > 0 else 'fell'} by {abs(c):.3g} (z = {m:+.1f})"
                      for c, m in zip(ev["change"], ev["magnitude"])]
    ev["topic"] = ev["topic"].astype("str")
    return ev[["date", "topic", "event_id", "magnitude", "headline", "change"]].reset_index(drop=True)


def market_responsiveness(revenue: pd.DataFrame, market_events: pd.DataFrame, as_of,
                          products: pd.DataFrame | None = None, window_days: int = 21,
                          prior_strength: float = 2.0, fdr: float = 0.1, clients=None) -> pd.DataFrame:
    """Per client and topic: how much more often the client buys the topic right after events on it.

    For each topic with events, an event "gets a response" from a client when the client buys the
    topic (a product with that ``product_id`` or ``category``) within ``window_days`` after it. A
    client is scored only on the events of its active span (its first to its last purchase of
    anything), so a lapsed or new client is not counted as ignoring events it could not respond to;
    an event on a product also counts for the product's category when ``products`` is given.

    **Baseline (empirical Bayes).** The client's chance of buying the topic on a day away from
    events is shrunk towards the topic's population rate: across the clients scored, each client's
    purchase days of the topic outside event windows over its free days are modelled as
    beta-binomial, the beta prior fitted by maximum likelihood per topic; the client's baseline is
    its posterior predictive chance of at least one purchase in ``window_days`` days. A client with
    a single purchase of the topic (which fell after an event) keeps a baseline near the
    population's instead of one estimated from nothing.

    **Responsiveness** is the response rate shrunk towards the baseline (``prior_strength``
    pseudo-events at the baseline rate) minus the baseline: the extra chance of a purchase after an
    event, near zero when a client has seen few events.

    **Evidence and the false discovery rate.** Whether a client's buying really follows the events
    is tested on its own purchases, exactly: if its purchases of the topic were spread over its
    active span regardless of events, each purchase day would fall in an event window with
    probability ``window_share`` (the share of its active days in windows). The statistic is the
    topic revenue in windows, conditioned on the client's purchase days and their amounts, so one
    lifetime purchase that happened to follow an event is as likely as ``window_share``. Its
    one-sided p-value is computed exactly (all subsets) for up to 12 purchase days and by the
    Lugannani-Rice saddlepoint approximation beyond (written out: no library gives the tail of a
    weighted sum of Bernoulli variables). The p-values of each topic's clients are a family (a
    topic's call list): the Benjamini-Hochberg procedure gives ``q_value``, and ``responder`` marks
    the clients with ``q_value <= fdr`` (among them, at most a share ``fdr`` are expected to be
    chance buyers). Clients with no purchase of the topic, or no event in their span, are not
    tested (p-value 1, not counted in the family).

    Parameters
    ----------
    revenue : DataFrame
        Canonical ``revenue`` with ``product_id``.
    market_events : DataFrame
        Canonical ``market_events`` (``date``, ``topic``).
    as_of : Timestamp
        Events whose window ends after ``as_of`` are not scored; later rows are ignored.
    products : DataFrame, optional
        ``product_id``, ``category`` to match category topics.
    window_days : int
        Days after an event in which a purchase counts as a response.
    prior_strength : float
        Pseudo-events of shrinkage of the response rate.
    fdr : float
        False discovery rate of ``responder`` (per topic).
    clients : iterable of str, optional
        Clients to score; default every client with revenue up to ``as_of``.

    Returns
    -------
    DataFrame
        ``client_id``, ``topic``, ``responsiveness``, ``events`` (in the client's active span),
        ``responses``, ``baseline_rate`` (empirical Bayes), ``response_rate``, ``purchase_days`` (days
        the client bought the topic), ``window_share`` (share of the client's active days inside
        event windows), ``window_revenue_share`` (share
        of its topic revenue bought inside them), ``p_value``, ``q_value`` (Benjamini-Hochberg
        within the topic), ``evidence`` (the p-value as a one-sided z-score, 0 when there is none),
        ``responder`` (``q_value <= fdr``), sorted by topic then responsiveness (descending).

    Examples
    --------
    Five events on ``p1``, 7-day windows. Client ``a`` bought ``p1`` once, two days after the first
    event: a chance buyer (35 of its 182 active days lie in windows, so a purchase falls after an
    event about one time in five by chance, its p-value). Client ``b`` buys ``p1`` every three weeks
    and, in addition, after every event:

    >>> days = pd.to_datetime(["2026-01-05", "2026-02-02", "2026-03-02", "2026-03-30", "2026-04-27"])
    >>> ev = pd.DataFrame({"date": days, "topic": "p1"})
    >>> b = list(pd.date_range("2025-12-01", "2026-05-31", freq="21D")) + list(days + pd.Timedelta(days=2))
    >>> rev = pd.DataFrame({"date": [pd.Timestamp("2026-01-07"), pd.Timestamp("2025-12-01"),
    ...                              pd.Timestamp("2026-05-31")] + b,
    ...                     "client_id": ["a", "a", "a"] + ["b"] * len(b), "amount": 1.0,
    ...                     "product_id": ["p1", "p9", "p9"] + ["p1"] * len(b)})
    >>> r = market_responsiveness(rev, ev, pd.Timestamp("2026-06-30"), window_days=7)
    >>> r[["client_id", "responses", "events", "window_share", "p_value", "responder"]].round(3)
      client_id  responses  events  window_share  p_value  responder
    0         b          5       5         0.207    0.007       True
    1         a          1       5         0.192    0.192      False
    """
    from scipy import stats

    rev = features.as_table(revenue, "revenue")
    features.require(rev, ["date", "client_id", "amount"], "revenue")
    _check(market_events, ["date", "topic"], "market_events")
    as_of = _as_of(as_of)
    if window_days < 1:
        raise ValueError("window_days must be at least 1")
    if not 0 < fdr < 1:
        raise ValueError(f"fdr must be between 0 and 1, got {fdr}")
    if "product_id" not in rev.columns:
        raise ValueError("column 'product_id' is missing from table 'revenue': purchases cannot be tied to "
                         "market event topics")
    # the revenue lines are reduced in the engine: each client's span, and the purchases of event topics
    start, spans = features.revenue_spans(rev, as_of)
    start = start.normalize()
    ids = spans["client_id"].tolist() if clients is None else sorted(set(map(str, clients)))
    ev = market_events.dropna(subset=["date", "topic"])
    ev = ev.assign(day=ev["date"].dt.normalize(), topic=ev["topic"].astype("str"))
    if products is not None and "category" in products.columns:
        # news on a product also bears on its category
        cat = products.drop_duplicates("product_id").set_index("product_id")["category"]
        on_product = ev["topic"].isin(cat.index.astype(str))
        ev = pd.concat([ev, ev.loc[on_product].assign(topic=ev.loc[on_product, "topic"].map(cat).astype("str"))],
                       ignore_index=True)
    ev = ev.loc[(ev["day"] >= start) & (ev["day"] + pd.Timedelta(days=window_days) <= as_of)]
    ev = ev.drop_duplicates(["topic", "day"])
    has_cat = products is not None and "category" in products.columns
    buys = features.topic_purchases(rev, as_of, ev["topic"].unique(), products if has_cat else None)
    cols = ["client_id", "topic", "responsiveness", "events", "responses", "baseline_rate", "response_rate",
            "purchase_days", "window_share", "window_revenue_share", "p_value", "q_value", "evidence", "responder"]
    out = []
    n_days = int((as_of - start).days) + 1
    # each client is scored on the events of its active span (first to last purchase of anything)
    span = spans.set_index("client_id").reindex(ids)
    first = ((span["first"] - start).dt.days).fillna(n_days + 1).to_numpy()
    last = ((span["last"] - start).dt.days).fillna(-1).to_numpy()
    lo_ = np.clip(first, 0, n_days).astype(int)
    hi_ = np.maximum(np.clip(last + 1, 0, n_days).astype(int), lo_)
    for topic, evt in ev.groupby("topic", sort=True):
        days = np.sort(evt["day"].unique())
        b = buys.loc[buys["topic"] == topic]
        offs = ((b["day"] - start).dt.days).to_numpy()
        amount = b["amount"].to_numpy(dtype="float64")
        ev_off = ((pd.DatetimeIndex(days) - start).days).to_numpy()
        in_window = np.zeros(n_days, bool)  # days covered by some event's response window
        for e in ev_off:
            in_window[e + 1: e + window_days + 1] = True
        cidx = pd.Index(ids).get_indexer(b["client_id"])
        ok = cidx >= 0
        cidx, offs, amount = cidx[ok], offs[ok], amount[ok]
        eligible = (first[:, None] <= ev_off[None, :]) & (ev_off[None, :] <= last[:, None])
        responses = np.zeros(len(ids))
        for j, e in enumerate(ev_off):  # one pass per event; events are few
            hit = np.zeros(len(ids), bool)
            hit[cidx[(offs > e) & (offs <= e + window_days)]] = True
            responses += hit & eligible[:, j]
        inside = in_window[offs]
        free_cum = np.concatenate([[0], np.cumsum(~in_window)])
        win_cum = np.concatenate([[0], np.cumsum(in_window)])
        free = (free_cum[hi_] - free_cum[lo_]).astype("float64")
        win = (win_cum[hi_] - win_cum[lo_]).astype("float64")
        x_out = np.bincount(cidx[~inside], minlength=len(ids)).astype("float64")
        n_buy = np.bincount(cidx, minlength=len(ids))
        # empirical Bayes baseline: beta-binomial prior of the daily purchase chance, fitted per topic
        fit = free > 0
        a, b_ = _beta_binomial_prior(x_out[fit], free[fit]) if fit.any() else (1.0, 1.0)
        a_i, b_i = a + x_out, b_ + np.maximum(free - x_out, 0.0)
        baseline = -np.expm1(special.betaln(a_i, b_i + window_days) - special.betaln(a_i, b_i))
        k = eligible.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.where(k > 0, responses / np.maximum(k, 1), np.nan)
            share = np.where(win + free > 0, win / (win + free), np.nan)
        shrunk = (responses + prior_strength * baseline) / (k + prior_strength)
        # the exact test: topic revenue in windows given the client's purchase days and amounts
        total = np.bincount(cidx, weights=amount, minlength=len(ids))
        in_rev = np.bincount(cidx[inside], weights=amount[inside], minlength=len(ids))
        tested = (k > 0) & (n_buy > 0) & (share > 0) & (share < 1)
        p = np.ones(len(ids))
        if tested.any():
            rows = np.flatnonzero(tested)
            pos = pd.Series(np.arange(len(rows)), index=rows)
            sel = tested[cidx]
            r_of = pos.reindex(cidx[sel]).to_numpy()
            j_of = pd.Series(r_of).groupby(r_of).cumcount().to_numpy()
            A = np.zeros((len(rows), int(n_buy[rows].max())))
            A[r_of, j_of] = amount[sel]
            p[rows] = _window_sum_sf(A, share[rows], in_rev[rows])
        q = np.ones(len(ids))
        if tested.any():
            q[tested] = stats.false_discovery_control(p[tested], method="bh")
        with np.errstate(invalid="ignore", divide="ignore"):
            rev_share = np.where(total > 0, in_rev / total, np.nan)
        out.append(pd.DataFrame({"client_id": pd.Series(ids, dtype="str"), "topic": topic,
                                 "responsiveness": shrunk - baseline, "events": k.astype("int64"),
                                 "responses": responses.astype("int64"), "baseline_rate": baseline,
                                 "response_rate": rate, "purchase_days": n_buy.astype("int64"), "window_share": share,
                                 "window_revenue_share": rev_share,
                                 "p_value": p, "q_value": q,
                                 "evidence": np.maximum(stats.norm.isf(np.clip(p, 1e-300, 1.0)), 0.0),
                                 "responder": (q <= fdr) & (shrunk > baseline)}))
    if not out:
        return pd.DataFrame(columns=cols)
    res = pd.concat(out, ignore_index=True)
    res["topic"] = res["topic"].astype("str")
    res = res.sort_values(["topic", "responsiveness", "client_id"], ascending=[True, False, True], kind="mergesort")
    return res.reset_index(drop=True)[cols]


def _beta_binomial_prior(successes: np.ndarray, trials: np.ndarray) -> tuple[float, float]:
    """Maximum-likelihood beta prior ``(a, b)`` of a beta-binomial with a different number of trials per unit.

    Written out because scipy fits a beta-binomial only with one common number of trials; the
    likelihood is maximised over the prior mean (logit) and concentration (log) by L-BFGS-B, the
    mean kept within (1e-9, 0.5) and the concentration within (0.01, 1e7).

    Examples
    --------
    >>> a, b = _beta_binomial_prior(np.array([0.0, 2.0, 10.0, 1.0]), np.array([100.0, 100.0, 100.0, 50.0]))
    >>> round(a / (a + b), 3)
    0.035
    """
    from scipy import optimize

    x, n = np.asarray(successes, "float64"), np.asarray(trials, "float64")
    m = float(np.clip(x.sum() / max(n.sum(), 1.0), 1e-6, 0.4))

    def nll(theta):
        mu, phi = special.expit(theta[0]), np.exp(theta[1])
        a, b = mu * phi, (1.0 - mu) * phi
        return -float((special.betaln(x + a, n - x + b) - special.betaln(a, b)).sum())

    res = optimize.minimize(nll, [special.logit(m), np.log(10.0)], method="L-BFGS-B",
                            bounds=[(special.logit(1e-9), 0.0), (np.log(1e-2), np.log(1e7))])
    mu, phi = special.expit(res.x[0]), np.exp(res.x[1])
    return float(mu * phi), float((1.0 - mu) * phi)


def _window_sum_sf(A: np.ndarray, p: np.ndarray, x: np.ndarray, exact_max: int = 12) -> np.ndarray:
    """P(sum_j A_ij B_ij >= x_i) for independent B_ij ~ Bernoulli(p_i), per row of ``A`` (zero-padded).

    Exact (every subset of the row's positive amounts) for up to ``exact_max`` amounts; beyond, the
    Lugannani-Rice saddlepoint approximation of the upper tail (the normal approximation below the
    mean, where the p-value is above one half anyway). Every amount in the sum gives ``p ** N``.

    Examples
    --------
    >>> _window_sum_sf(np.array([[1.0, 0.0], [1.0, 3.0]]), np.array([0.2, 0.5]), np.array([1.0, 3.0])).round(3).tolist()
    [0.2, 0.5]
    """
    from itertools import product

    from scipy import stats

    A, p, x = np.asarray(A, "float64"), np.asarray(p, "float64"), np.asarray(x, "float64")
    out = np.ones(len(A))
    n_pos = (A > 0).sum(axis=1)
    top = np.where(A.max(axis=1, initial=0.0) > 0, A.max(axis=1, initial=0.0), 1.0)
    A, x = A / top[:, None], x / top  # amounts in units of the row's largest
    total = A.sum(axis=1)
    eps = 1e-9
    every = (x >= total - eps) & (n_pos > 0)
    out[every] = p[every] ** n_pos[every]
    todo = ~every & (x > eps)
    for k in range(1, exact_max + 1):
        rows = np.flatnonzero(todo & (n_pos == k))
        if not len(rows):
            continue
        a = -np.sort(-A[rows], axis=1)[:, :k]
        subsets = np.array(list(product((0.0, 1.0), repeat=k)))  # (2^k, k)
        inside = subsets.sum(axis=1)
        prob = p[rows, None] ** inside[None, :] * (1.0 - p[rows, None]) ** (k - inside[None, :])
        out[rows] = (prob * (a @ subsets.T >= x[rows, None] - eps)).sum(axis=1)
        todo[rows] = False
    rows = np.flatnonzero(todo)
    if len(rows):
        pp, xx = p[rows, None], x[rows]
        mean, var = (A[rows] * pp).sum(axis=1), (A[rows] ** 2 * pp * (1.0 - pp)).sum(axis=1)
        out[rows] = stats.norm.sf((xx - mean) / np.sqrt(var))
        # the upper tail of a sum of right-skewed amounts is heavier than the normal's, so rows the
        # normal puts above 0.2 are above it too: only the others need the saddlepoint
        rows = rows[out[rows] < 0.2]
    if len(rows):
        a, pp, xx = A[rows], p[rows, None], x[rows]
        s = np.zeros(len(rows))
        for _ in range(100):  # Newton on K'(s) = x; K' is increasing, so the iterates climb monotonically
            e = pp * np.exp(np.minimum(s[:, None] * a, 700.0))
            pi = e / (1.0 - pp + e)
            step = ((a * pi).sum(axis=1) - xx) / np.maximum((a ** 2 * pi * (1.0 - pi)).sum(axis=1), 1e-300)
            s = np.maximum(s - step, s / 2.0)
            if np.abs(step).max() < 1e-10:
                break
        sa = np.minimum(s[:, None] * a, 700.0)
        K = np.log1p(pp * np.expm1(sa)).sum(axis=1)
        e = pp * np.exp(sa)
        pi = e / (1.0 - pp + e)
        k2 = (a ** 2 * pi * (1.0 - pi)).sum(axis=1)
        w = np.sign(s) * np.sqrt(np.maximum(2.0 * (s * xx - K), 0.0))
        u = s * np.sqrt(k2)
        with np.errstate(divide="ignore", invalid="ignore"):
            lr = stats.norm.sf(w) + stats.norm.pdf(w) * (1.0 / u - 1.0 / w)
        out[rows] = np.clip(np.where(np.isfinite(lr) & (w > 1e-6), lr, out[rows]), 0.0, 1.0)
    return out


def call_list(responsiveness: pd.DataFrame, topic: str | None = None, values: pd.DataFrame | None = None,
              value_col: str = "revenue_ltm", top: int = 20, min_responsiveness: float = 0.05,
              min_evidence: float = 2.0, fdr: float = 0.1) -> pd.DataFrame:
    """Clients to call after a new event on a topic: ranked by responsiveness x value.

    Only clients whose buying after events is beyond chance are listed: with a ``q_value`` column
    (:func:`market_responsiveness`), those at or below the false discovery rate ``fdr``, so that
    at most a share ``fdr`` of a topic's list is expected to be chance buyers.

    Parameters
    ----------
    responsiveness : DataFrame
        Output of :func:`market_responsiveness`.
    topic : str, optional
        The new event's topic; ``None`` = a list for every topic.
    values : DataFrame, optional
        ``client_id`` and ``value_col`` (e.g. the profile's ``revenue_ltm`` or ``clv``); without it
        clients are ranked by responsiveness alone.
    value_col : str
        Column of ``values`` used as the client's value.
    top : int
        Clients per topic.
    min_responsiveness : float
        Clients at or below this extra chance of buying are not listed.
    min_evidence : float
        Clients whose ``evidence`` (z-score) is below this are not listed: a large client with a
        high baseline can show a big excess by luck over a few events.
    fdr : float
        Clients whose ``q_value`` is above this are not listed (when the column is there).

    Returns
    -------
    DataFrame
        ``topic``, ``rank``, ``client_id``, ``responsiveness``, ``responses``, ``events``,
        ``value``, ``score`` (responsiveness x value, or responsiveness), ``reason`` (plain words).

    Examples
    --------
    >>> r = pd.DataFrame({"client_id": ["a", "b", "c"], "topic": "FX", "responsiveness": [0.5, 0.3, 0.0],
    ...                   "events": 4, "responses": [3, 2, 0], "baseline_rate": 0.1, "response_rate": [.75, .5, 0]})
    >>> v = pd.DataFrame({"client_id": ["a", "b", "c"], "revenue_ltm": [100.0, 1000.0, 5000.0]})
    >>> call_list(r, "FX", v)["client_id"].tolist()
    ['b', 'a']
    """
    _check(responsiveness, ["client_id", "topic", "responsiveness", "events", "responses", "baseline_rate"],
           "responsiveness")
    r = responsiveness
    if topic is not None:
        r = r.loc[r["topic"] == str(topic)]
    r = r.loc[r["responsiveness"] > min_responsiveness]
    if "evidence" in r.columns:
        r = r.loc[r["evidence"] >= min_evidence]
    if "q_value" in r.columns:
        r = r.loc[r["q_value"] <= fdr]
    r = r.copy()
    if values is not None:
        _check(values, ["client_id", value_col], "values")
        v = values.drop_duplicates("client_id").set_index("client_id")[value_col].astype("float64")
        r["value"] = r["client_id"].map(v).astype("float64")
        r["score"] = r["responsiveness"] * r["value"].clip(lower=0).fillna(0.0)
    else:
        r["value"] = np.nan
        r["score"] = r["responsiveness"]
    r = r.sort_values(["topic", "score", "responsiveness", "client_id"], ascending=[True, False, False, True],
                      kind="mergesort")
    r = r.groupby("topic", sort=True).head(top).copy()
    r["rank"] = r.groupby("topic").cumcount() + 1
    r["reason"] = [f"bought {t} within weeks of {int(n)} of {int(k)} market events on it "
                   f"(usually {_pct(b)} of any such window)"
                   for t, n, k, b in zip(r["topic"], r["responses"], r["events"], r["baseline_rate"])]
    return r.reset_index(drop=True)[["topic", "rank", "client_id", "responsiveness", "responses", "events",
                                     "value", "score", "reason"]]


# -- personas -------------------------------------------------------------------------------------
_POSITIVE = ("answered", "opened", "replied", "attended", "downloaded")
FEATURES = ("logins", "page_views", "searches", "downloads", "minutes_per_session", "download_share",
            "search_share", "event_burst", "touch_response", "sessions", "pages_per_session", "searches_per_session",
            "downloads_per_session")


def persona_features(digital: pd.DataFrame, as_of, activities: pd.DataFrame | None = None,
                     market_events: pd.DataFrame | None = None, window_days: int = 365, burst_days: int = 14,
                     burst_prior: float = 10.0, session_prior: float = 2.0, clients=None) -> pd.DataFrame:
    """Behavioural features per client for persona clustering.

    Parameters
    ----------
    digital : DataFrame
        Canonical ``digital``.
    as_of : Timestamp
        End of the window.
    activities : DataFrame, optional
        Canonical ``activities``; adds ``touch_response`` (share of touches answered, opened,
        replied or attended). Without it the column is absent.
    market_events : DataFrame, optional
        Gives ``event_burst``: the share of the client's digital events falling within
        ``burst_days`` after a market event, divided by the share of days that are (1 = no burst),
        shrunk towards 1 by ``burst_prior``. Without it the feature is 1.
    window_days : int
        Window length.
    burst_days : int
        Days after an event counted as its burst.
    burst_prior : float
        Pseudo-events at the normal rate added to each client's burst share (shrinkage; 0 = none).
    session_prior : float
        Pseudo-sessions at the population's mix added to each client's per-session rates
        (shrinkage: a client seen in one or two sessions has no mix of its own yet; 0 = none).
    clients : iterable of str, optional
        Clients to describe (zeros when they have no digital activity).

    Returns
    -------
    DataFrame
        ``client_id``, ``logins``, ``page_views``, ``searches``, ``downloads`` (per month),
        ``minutes_per_session``, ``download_share``, ``search_share`` (of all digital events),
        ``event_burst``, ``sessions`` (per month), ``pages_per_session``, ``searches_per_session``,
        ``downloads_per_session`` (shrunk towards the population's per-session rates by
        ``session_prior``), and ``touch_response`` when ``activities`` is given.

    Examples
    --------
    >>> d = pd.DataFrame({"timestamp": pd.to_datetime(["2026-06-01", "2026-06-02"]), "client_id": ["a", "a"],
    ...                   "event_type": ["login", "download"]})
    >>> persona_features(d, pd.Timestamp("2026-06-30"), window_days=30)[["logins", "download_share"]].round(2)
       logins  download_share
    0    1.01             0.5
    """
    t = features.as_table(digital, "digital")
    features.require(t, ["timestamp", "client_id", "event_type"])
    as_of = _as_of(as_of)
    start = as_of - pd.Timedelta(days=window_days)
    eng = _act.digital_engagement(t, as_of, window_days=window_days, clients=clients)
    months = window_days / (365.25 / 12)
    f = pd.DataFrame({"client_id": eng["client_id"]})
    for c in ("logins", "page_views", "searches", "downloads"):
        f[c] = eng[c] / months
    f["minutes_per_session"] = (eng["minutes"] / eng["sessions"].where(eng["sessions"] > 0)).fillna(0.0)
    # what a client does in a session, whatever its number of sessions (a large client has more
    # users, so more of everything): per-session rates, shrunk towards the population's mix
    n_sess = eng["sessions"].to_numpy(dtype="float64")
    f["sessions"] = n_sess / months
    for c, name in (("page_views", "pages_per_session"), ("searches", "searches_per_session"),
                    ("downloads", "downloads_per_session")):
        counts = eng[c].to_numpy(dtype="float64")
        mix = counts.sum() / n_sess.sum() if n_sess.sum() > 0 else 0.0
        f[name] = np.where(n_sess + session_prior > 0,
                           (counts + session_prior * mix) / np.maximum(n_sess + session_prior, 1e-12), 0.0)
    days = pd.date_range(start + pd.Timedelta(days=1), as_of, freq="D")
    covered = np.zeros(len(days), bool)
    if market_events is not None and len(market_events):
        _check(market_events, ["date", "topic"], "market_events")
        for e in market_events["date"].dt.normalize().unique():
            i = (e - days[0]).days
            covered[max(i + 1, 0): max(min(i + burst_days + 1, len(days)), 0)] = True
    # events and events on burst days per client, counted in the engine
    win = features.digital_windows(t, as_of, window_days, days[covered]).set_index("client_id")
    total = win["events"].reindex(f["client_id"]).fillna(0).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        f["download_share"] = np.where(total > 0, eng["downloads"].to_numpy() / total, 0.0)
        f["search_share"] = np.where(total > 0, eng["searches"].to_numpy() / total, 0.0)
    f["event_burst"] = 1.0
    share_days = covered.mean() if len(days) else 0.0
    if market_events is not None and len(market_events) and len(win) and 0 < share_days < 1:
        hits = win["hits"].reindex(f["client_id"]).fillna(0.0).to_numpy(dtype=float)
        n = total.astype(float)
        # shrunk towards "no burst" with burst_prior pseudo-events, so that a client with two
        # events is not read as a trader (or as event-averse) by luck
        denom = n + burst_prior
        with np.errstate(invalid="ignore", divide="ignore"):
            f["event_burst"] = np.where(denom > 0, (hits + burst_prior * share_days) / np.maximum(denom, 1e-12)
                                        / share_days, 1.0)
    if activities is not None and len(activities):
        t = _act._table(activities, ["timestamp", "client_id", "activity_type"])
        kinds = _act.touch_kinds(t)
        kinds["positive"] = kinds["outcome"].isin(_POSITIVE).astype("int64")
        g = features.touch_counts(t, ["client_id"], where=features.window(as_of, start), kinds=kinds,
                                  measures={"touches": "COUNT(*)", "positive": "SUM(k.positive)"})
        g = g.loc[g["client_id"].notna()]
        pos = pd.Series(g["positive"].to_numpy(float) / g["touches"].to_numpy(float), index=g["client_id"])
        f["touch_response"] = pos.reindex(f["client_id"]).fillna(0.0).to_numpy()
    return f.reset_index(drop=True)


@dataclass(frozen=True)
class PersonaFit:
    """Result of :func:`fit_personas`.

    Attributes
    ----------
    assignments : DataFrame
        ``client_id``, ``cluster``, ``persona``.
    centroids : DataFrame
        One row per persona: ``persona``, ``clients``, ``share``, feature means, ``description``.
    scores : DataFrame
        ``k``, ``silhouette``, ``stability`` (mean adjusted Rand index of subsample fits against the
        full fit), ``stable``, ``chosen`` for every k tried.
    k : int
        The number of personas.
    """

    assignments: pd.DataFrame
    centroids: pd.DataFrame
    scores: pd.DataFrame
    k: int


_LOG_FEATURES = ("logins", "page_views", "searches", "downloads", "minutes_per_session", "event_burst", "sessions",
                 "pages_per_session", "searches_per_session", "downloads_per_session")
_LABELS = {"logins": "logins a month", "page_views": "page views a month", "searches": "searches a month",
           "downloads": "downloads a month", "minutes_per_session": "minutes per session",
           "download_share": "share of activity that is downloads", "search_share": "share that is searches",
           "event_burst": "activity after market events (x normal)", "touch_response": "share of our touches answered",
           "sessions": "sessions a month", "pages_per_session": "pages per session",
           "searches_per_session": "searches per session", "downloads_per_session": "downloads per session"}
#: the clustering space when the per-session features are there (from :func:`persona_features`)
_SPACE = ("sessions", "pages_per_session", "searches_per_session", "downloads_per_session", "minutes_per_session",
          "event_burst", "touch_response")


def _name(z: pd.Series) -> str:
    """Archetype of a centroid (robustly standardised features), in the words of the seed article."""
    how_much = [c for c in ("sessions", "pages_per_session", "logins", "page_views", "minutes_per_session")
                if c in z.index]
    intensity = z.reindex(how_much).mean() if how_much else np.nan
    intensity = 0.0 if pd.isna(intensity) else float(intensity)
    downloads = z.get("downloads_per_session", z.get("download_share", 0))
    pages = z.get("pages_per_session", z.get("page_views", 0))
    if z.get("event_burst", 0) > 0.75:
        return "Event-driven trader"
    if intensity > 0.5:
        return "Self-directed researcher"
    if downloads > 0.5 and pages < 0.5:
        return "Passive consumer"
    if intensity < -0.3:
        return "Relationship-led"
    return "Mixed"


def persona_space(features: pd.DataFrame) -> pd.DataFrame:
    """The space personas are clustered in: behaviour per session, on log scales, standardised.

    With the columns of :func:`persona_features`, a client is described by how much it uses our
    channels (``sessions`` a month) and by what it does when it does (pages, searches and
    downloads per session, minutes per session, its activity after market events, its answers to
    our touches), so that a large client (many users, many sessions) and a small one with the same
    habits land together; counts a month, which mostly measure size, are left out. Rates and counts
    are log-scaled (log1p; they are skewed), minutes per session of a client without a session
    take the median, each column is winsorised at its 0.5% and 99.5% quantiles (a few extreme
    clients do not set the scale) and standardised (mean 0, standard deviation 1). Columns that do
    not vary are dropped. Frames without ``sessions`` (other features) keep all their columns,
    log-scaled where they are counts.

    Parameters
    ----------
    features : DataFrame
        ``client_id`` + numeric features.

    Returns
    -------
    DataFrame
        ``client_id`` + the standardised columns used.

    Examples
    --------
    >>> f = pd.DataFrame({"client_id": list("abcd"), "sessions": [1.0, 10.0, 2.0, 20.0],
    ...                   "pages_per_session": [2.0, 2.0, 8.0, 8.0], "event_burst": 1.0})
    >>> persona_space(f).round(2).values.tolist()
    [['a', -1.17, -1.0], ['b', 0.62, -1.0], ['c', -0.75, 1.0], ['d', 1.3, 1.0]]
    """
    _check(features, ["client_id"], "persona features")
    cols = [c for c in features.columns if c != "client_id"]
    if "sessions" in cols:
        cols = [c for c in _SPACE if c in cols]
    X = features[cols].astype("float64").copy()
    if "sessions" in X.columns and "minutes_per_session" in X.columns:
        active = X["sessions"] > 0
        if active.any():
            X.loc[~active, "minutes_per_session"] = float(X.loc[active, "minutes_per_session"].median())
    for c in cols:
        if c in _LOG_FEATURES:
            X[c] = np.log1p(X[c].clip(lower=0))
    X = X.fillna(0.0)
    X = X.clip(X.quantile(0.005), X.quantile(0.995), axis=1)
    sd = X.std(ddof=0)
    keep = [c for c in cols if sd[c] > 1e-12]
    Z = (X[keep] - X[keep].mean()) / sd[keep]
    Z.insert(0, "client_id", features["client_id"].astype("str").to_numpy())
    return Z.reset_index(drop=True)


def persona_problem(features: pd.DataFrame) -> str | None:
    """Why no personas can be formed from ``features``, in plain words; None when they can.

    Real digital data can be too thin to cluster: the Olist marketing funnel holds one landing-page
    visit per lead, so within the window every client is either "one page view" or "nothing".
    Personas need at least three clients and at least three different feature profiles: with one,
    k-means returns a single group and the silhouette that picks k is undefined; with two, the
    "personas" are just the two profiles (silhouette 1), a single fact rather than a behaviour.

    Examples
    --------
    >>> f = pd.DataFrame({"client_id": ["a", "b", "c", "d"], "logins": [0.0, 0.0, 0.0, 0.0]})
    >>> persona_problem(f)
    'every client has the same digital profile over the window (4 clients), so there is nothing to tell personas apart by'
    >>> persona_problem(f.assign(logins=[0.0, 1.0, 0.0, 1.0]))
    'the 4 clients show only 2 different digital profiles over the window, a single fact (e.g. visited or not) rather than behaviours to group'
    >>> persona_problem(f.assign(logins=[0.0, 1.0, 2.0, 1.0])) is None
    True
    """
    _check(features, ["client_id"], "persona features")
    cols = [c for c in features.columns if c != "client_id"]
    if len(features) < 3:
        return f"only {len(features)} client(s) have digital features; personas need at least 3"
    profiles = len(features[cols].astype("float64").fillna(0.0).round(12).drop_duplicates()) if cols else 1
    if profiles < 2:
        return (f"every client has the same digital profile over the window ({len(features):,} clients), "
                "so there is nothing to tell personas apart by")
    if profiles < 3:
        return (f"the {len(features):,} clients show only 2 different digital profiles over the window, a single fact "
                "(e.g. visited or not) rather than behaviours to group")
    return None


def fit_personas(features: pd.DataFrame, k: int | None = None, k_values=range(2, 8), random_state: int = 0,
                 n_init: int = 10, n_resamples: int = 10, min_stability: float = 0.8,
                 silhouette_tolerance: float = 0.05) -> PersonaFit:
    """Behavioural personas: k-means in :func:`persona_space`, k chosen by stability and silhouette.

    For each k in ``k_values``, k-means is fit on all clients and on ``n_resamples`` random
    subsamples of 80% of them (at most 4,000 clients). A k is *stable* when the subsample fits group
    the clients as the full fit does (mean adjusted Rand index at least ``min_stability``: a persona
    that appears or dissolves with the sample drawn is not a persona). Among the stable k, the
    silhouette (how much closer clients are to their own persona than to the next) decides: the
    largest stable k whose silhouette is within ``silhouette_tolerance`` (relative) of the best
    stable silhouette is kept. A finer split that is as reproducible and nearly as clean is a
    finding, not noise; the silhouette alone tends to merge two small, close groups (or to split
    off one far group and stop). When no k is stable, the most stable is kept. ``k`` fixes the
    number instead. Clients without a single session in the window show no behaviour: personas are
    formed from the others and they join the nearest (in practice the least active one). Each
    persona is named by an archetype rule on its standardised centroid and described in words.

    Parameters
    ----------
    features : DataFrame
        Output of :func:`persona_features` (``client_id`` + numeric features).
    k : int, optional
        Fixed number of personas.
    k_values : iterable of int
        Candidates for k.
    random_state : int
        Seed of k-means, of the subsamples and of the silhouette samples.
    n_init : int
        k-means restarts of the full fit (a third of them for each subsample fit).
    n_resamples : int
        Subsamples behind the stability and the silhouette of each k.
    min_stability : float
        Mean adjusted Rand index between the subsample fits and the full fit for k to be stable.
    silhouette_tolerance : float
        How far (share of the best) a stable k's silhouette may fall short of the best and still be
        preferred for being finer.

    Returns
    -------
    PersonaFit

    Examples
    --------
    >>> fit = fit_personas(feats, random_state=0)  # doctest: +SKIP
    >>> fit.centroids[["persona", "share", "description"]]  # doctest: +SKIP
    """
    import sklearn.cluster  # noqa: F401  (loads the OpenMP runtime, so that the limit below reaches it)
    from threadpoolctl import threadpool_limits

    # k-means here solves some seventy small problems; on a shared 2-core machine their OpenMP
    # threads wait on each other far more than they help (a subsample fit ran 30x slower with them
    # under load), and one thread gives the same groups
    with threadpool_limits(limits=1):
        return _fit_personas(features, k, k_values, random_state, n_init, n_resamples, min_stability,
                             silhouette_tolerance)


def _fit_personas(features, k, k_values, random_state, n_init, n_resamples, min_stability,
                  silhouette_tolerance) -> PersonaFit:
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score, silhouette_score

    _check(features, ["client_id"], "persona features")
    cols = [c for c in features.columns if c != "client_id"]
    if not cols:
        raise ValueError("column 'client_id' is the only column of the persona features")
    problem = persona_problem(features)
    if problem:
        raise ValueError(f"no personas: {problem} (see persona_problem)")
    space = persona_space(features)
    keep = [c for c in space.columns if c != "client_id"]
    Z_all = space[keep].to_numpy()
    # a client without a single session in the window shows no behaviour to group: personas are
    # formed from the others, and it joins the nearest one (in practice the least active)
    seen = (features["sessions"].to_numpy(dtype="float64") > 0) if "sessions" in features.columns else \
        np.ones(len(features), bool)
    if len(np.unique(Z_all[seen].round(12), axis=0)) < 3:
        seen = np.ones(len(features), bool)
    Z = Z_all[seen]
    # k-means cannot make more groups than there are distinct profiles (nor n - 1 for the silhouette)
    profiles = len(np.unique(Z.round(12), axis=0))
    candidates = [k] if k else [kk for kk in k_values if 2 <= kk < len(Z) and kk <= profiles]
    if not candidates:
        raise ValueError(f"column 'client_id': too few clients or distinct profiles ({profiles}) to form personas")
    rows, models = [], {}
    sample = min(len(Z), 3000)
    rng = np.random.default_rng(random_state)
    # the same subsamples for every k
    n_sub = int(0.8 * min(len(Z), 5000))
    subs = [np.sort(rng.choice(len(Z), n_sub, replace=False)) for _ in range(n_resamples if not k else 0)]
    for kk in candidates:
        km = KMeans(n_clusters=kk, n_init=n_init, random_state=random_state).fit(Z)
        models[kk] = km
        row = {"k": kk, "silhouette": float(silhouette_score(Z, km.labels_, sample_size=sample,
                                                              random_state=random_state))}
        stab = [adjusted_rand_score(km.labels_[idx], KMeans(n_clusters=kk, n_init=max(1, n_init // 3),
                                                             random_state=random_state + 1 + j).fit(Z[idx]).labels_)
                for j, idx in enumerate(subs)]
        row["stability"] = float(np.mean(stab)) if stab else np.nan
        rows.append(row)
    scores = pd.DataFrame(rows)
    if k:
        best = int(k)
    else:
        stable = scores.loc[scores["stability"] >= min_stability]
        if len(stable):
            top = float(stable["silhouette"].max())
            best = int(stable.loc[stable["silhouette"] >= top * (1 - silhouette_tolerance), "k"].max())
        else:
            best = int(scores.sort_values(["stability", "k"], ascending=[False, True]).iloc[0]["k"])
    scores["stable"] = scores["stability"] >= min_stability
    scores["chosen"] = scores["k"] == best
    km = models[best]
    found = km.labels_.copy() if seen.all() else km.predict(Z_all)
    # order clusters by size (largest first) so labels do not depend on k-means' arbitrary numbering
    sizes = np.bincount(found, minlength=best)
    order = np.lexsort((np.arange(best), -sizes))
    relabel = np.empty(best, int)
    relabel[order] = np.arange(best)
    labels = relabel[found]
    zc = pd.DataFrame(km.cluster_centers_[order], columns=keep)
    names, seen = [], {}
    for i in range(best):
        n = _name(zc.iloc[i])
        seen[n] = seen.get(n, 0) + 1
        names.append(n if seen[n] == 1 else f"{n} {seen[n]}")
    raw = features[cols].astype("float64").groupby(labels).mean()
    overall = features[cols].astype("float64").mean()
    cent = raw.reset_index(drop=True)
    cent.insert(0, "persona", names)
    cent.insert(1, "clients", np.bincount(labels, minlength=best))
    cent.insert(2, "share", cent["clients"] / len(labels))
    desc = []
    for i in range(best):
        z = zc.iloc[i]
        top = z.reindex(keep).abs().sort_values(ascending=False).index[:3]
        parts = [f"{'high' if z[c] > 0 else 'low'} {_LABELS.get(c, c)} ({raw.iloc[i][c]:.2g} vs {overall[c]:.2g})"
                 for c in top]
        desc.append("; ".join(parts))
    cent["description"] = desc
    assign = pd.DataFrame({"client_id": features["client_id"].astype("str").to_numpy(), "cluster": labels,
                           "persona": pd.Series(np.asarray(names, dtype=object)[labels], dtype="str")})
    return PersonaFit(assignments=assign, centroids=cent, scores=scores, k=best)


def persona_identities(fit: PersonaFit, previous_model: dict | None = None, previous_ids: pd.Series | None = None,
                       quarter: str = "", as_of=None, min_overlap: float | None = None):
    """Stable ids (``P1``, ``P2``...) and names of the personas, matched to the previous run's by members.

    The personas are refitted each run and k-means numbers them arbitrarily; each is matched to the
    previous run's persona with which it shares the most clients (Jaccard overlap, Hungarian
    algorithm: :func:`clientstrategy.identity.match`). A matched persona keeps its id and first
    name (a change of its archetype or size is reported as a change of the persona); an
    unmatched one is new; a previous one left unmatched has vanished.

    Parameters
    ----------
    fit : PersonaFit
        Output of :func:`fit_personas`.
    previous_model : dict, optional
        The previous run's ``persona_model.json`` (None: the first run).
    previous_ids : Series, optional
        The previous run's ``persona_id`` per client (index ``client_id``).
    quarter : str
        This run's quarter.
    as_of : Timestamp, optional
        This run's ``AS_OF``.
    min_overlap : float, optional
        Smallest Jaccard overlap of a match (default :data:`clientstrategy.identity.MIN_OVERLAP`).

    Returns
    -------
    clientstrategy.identity.Identities
        Write ``model`` as ``persona_model.json``; ``names`` replace the fitted persona names.

    Examples
    --------
    >>> fit = PersonaFit(assignments=pd.DataFrame({"client_id": list("abc"), "cluster": [0, 0, 1],
    ...                                            "persona": ["Mixed", "Mixed", "Relationship-led"]}),
    ...                  centroids=pd.DataFrame({"persona": ["Mixed", "Relationship-led"], "clients": [2, 1],
    ...                                          "share": [2 / 3, 1 / 3], "description": ["x", "y"]}),
    ...                  scores=pd.DataFrame(), k=2)
    >>> persona_identities(fit, quarter="2026Q2").ids.tolist()
    ['P1', 'P1', 'P2']
    """
    from . import identity

    if not isinstance(fit, PersonaFit):
        raise TypeError("fit must be a PersonaFit from fit_personas")
    labels = fit.assignments.set_index(fit.assignments["client_id"].astype("str"))["persona"]
    facts = fit.centroids.set_index("persona")
    facts = pd.DataFrame({"clients": facts["clients"].astype(int), "share": facts["share"].astype(float),
                          "archetype": [str(p).rstrip(" 0123456789") for p in facts.index]}, index=facts.index)
    return identity.keep_identities(labels, facts, previous_model, previous_ids, quarter=quarter, as_of=as_of,
                                    prefix="P", kind="persona",
                                    min_overlap=identity.MIN_OVERLAP if min_overlap is None else min_overlap,
                                    extra={"k": int(fit.k)})


def with_identities(fit: PersonaFit, identities) -> PersonaFit:
    """The fit with its personas under their stable names (and ``persona_id``) from :func:`persona_identities`.

    Parameters
    ----------
    fit : PersonaFit
        Output of :func:`fit_personas`.
    identities : clientstrategy.identity.Identities
        Output of :func:`persona_identities` for ``fit``.

    Returns
    -------
    PersonaFit
        ``assignments`` and ``centroids`` with ``persona`` the stable name, ``persona_id`` beside it
        and ``fitted_as`` the name this run's fit gave (centroids only).

    Examples
    --------
    >>> fit = PersonaFit(assignments=pd.DataFrame({"client_id": ["a"], "cluster": [0], "persona": ["Mixed"]}),
    ...                  centroids=pd.DataFrame({"persona": ["Mixed"], "clients": [1], "share": [1.0],
    ...                                          "description": ["x"]}), scores=pd.DataFrame(), k=1)
    >>> with_identities(fit, persona_identities(fit)).centroids[["persona", "persona_id"]].values.tolist()
    [['Mixed', 'P1']]
    """
    t = identities.table.loc[identities.table["status"] != "vanished"].set_index("label")
    ids = fit.assignments["client_id"].astype("str")
    assign = fit.assignments.assign(persona=ids.map(identities.names).to_numpy(),
                                    persona_id=ids.map(identities.ids).to_numpy())
    cent = fit.centroids.assign(fitted_as=fit.centroids["persona"], persona_id=fit.centroids["persona"].map(t["id"]),
                                persona=fit.centroids["persona"].map(t["name"]))
    return dataclasses.replace(fit, assignments=assign, centroids=cent)


def persona_fit(activities: pd.DataFrame, revenue: pd.DataFrame, people: pd.DataFrame, personas: pd.DataFrame,
                as_of, by: str = "style", weights: dict | None = None, freq: str = "Q", n_boot: int = 200,
                alpha: float = 0.05, min_touches: int = 30, after_last_purchase="auto",
                random_state: int = 0) -> pd.DataFrame:
    """Outcome per touch for each pairing of salesperson style (or role) and client persona.

    Within each persona, the within-client design of :func:`clientstrategy.activities.touch_effects`
    is run with one regressor per style: quality-weighted touches by people of that style in the
    quarter, outcome the client's next-quarter revenue as a share of its typical quarter. A pairing
    whose outcome per touch is near zero is effort that does not land ("your most aggressive
    salesperson will fail with a passive user").

    Parameters
    ----------
    activities, revenue : DataFrame
        Canonical tables; ``activities`` needs ``person_id``.
    people : DataFrame
        Canonical ``people`` with column ``by``.
    personas : DataFrame
        ``client_id``, ``persona``.
    as_of : Timestamp
        End of the history.
    by : str
        People column describing the person (``style``, ``role``).
    weights : dict, optional
        Quality weights (see :func:`clientstrategy.activities.touch_weights`).
    freq, n_boot, alpha, min_touches, after_last_purchase, random_state
        As in :func:`clientstrategy.activities.touch_effects` (``"auto"``: decided once by
        :func:`clientstrategy.activities.leaving_check` on every touch).

    Returns
    -------
    DataFrame
        ``by`` (e.g. ``style``), ``persona``, ``touches`` (raw count), ``outcome_per_touch`` (share
        of a typical quarter's revenue per weighted touch), ``ci_low``, ``ci_high``, ``clients``.

    Examples
    --------
    >>> persona_fit(acts, rev, people, personas, pd.Timestamp("2026-09-30"))  # doctest: +SKIP
    """
    a = _act._table(activities, ["timestamp", "client_id", "activity_type", "person_id"])
    _check(people, ["person_id", by], "people")
    _check(personas, ["client_id", "persona"], "personas")
    as_of = _as_of(as_of)
    # the person's style joins the touches in the engine (people is small; touches are not)
    style = people[["person_id", by]].drop_duplicates("person_id")
    style = style.assign(**{by: style[by].astype("str").fillna("unknown")})
    if after_last_purchase == "auto":
        after_last_purchase = _act.leaving_check(a, revenue, as_of, freq=freq, alpha=alpha)["after_last_purchase"]
    rng = np.random.default_rng(random_state)
    out = []
    for persona, grp in personas.groupby("persona", sort=True):
        try:
            p = _act._build_panel(a, revenue, as_of, key=by, weights=weights, weighted=True, freq=freq,
                                  clients=grp["client_id"], min_touches=min_touches, join=(style, "person_id"),
                                  after_last_purchase=bool(after_last_purchase))
        except ValueError:
            continue
        if not p.keys or len(p.clients) < 10:
            continue
        beta, lo, hi, _ = _act._fe_fit(p.X, p.y, p.mask, n_boot, rng, alpha)
        out.append(pd.DataFrame({by: p.keys, "persona": persona, "touches": p.touches,
                                 "outcome_per_touch": beta, "ci_low": lo, "ci_high": hi,
                                 "clients": len(p.clients)}))
    cols = [by, "persona", "touches", "outcome_per_touch", "ci_low", "ci_high", "clients"]
    if not out:
        return pd.DataFrame(columns=cols)
    return pd.concat(out, ignore_index=True).sort_values([by, "persona"], kind="mergesort").reset_index(drop=True)[cols]


# -- figures --------------------------------------------------------------------------------------
def plot_responsiveness(responsiveness: pd.DataFrame, top: int = 12):
    """Response rate after events against baseline for each topic's most responsive clients.

    Parameters
    ----------
    responsiveness : DataFrame
        Output of :func:`market_responsiveness`.
    top : int
        Clients per topic shown as highlighted points.

    Returns
    -------
    Figure
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    r = responsiveness
    ax.scatter(r["baseline_rate"], r["response_rate"], s=5, color="#adb5bd", alpha=0.4, label="all client-topics")
    hi = r.sort_values("responsiveness", ascending=False, kind="mergesort").groupby("topic").head(top)
    ax.scatter(hi["baseline_rate"], hi["response_rate"], s=14, color="#e76f51",
               label=f"top {top} per topic")
    ax.plot([0, 1], [0, 1], color="black", lw=0.8, ls="--", label="no response to events")
    ax.set_xlim(0, max(0.05, float(r["baseline_rate"].max()) * 1.05))
    ax.set_xlabel("chance of buying the topic in any 3-week window (baseline)")
    ax.set_ylabel("share of events followed by a purchase")
    ax.set_title("Who buys after market events, beyond their habit")
    ax.legend(loc="lower right", fontsize=8)
    return fig


def plot_personas(fit: PersonaFit):
    """Persona centroids as a heat map of standardised features.

    Parameters
    ----------
    fit : PersonaFit
        Output of :func:`fit_personas`.

    Returns
    -------
    Figure
    """
    import matplotlib.pyplot as plt

    c = fit.centroids
    feats = [f for f in FEATURES if f in c.columns]
    vals = c[feats].astype("float64")
    z = (vals - vals.mean()) / vals.std(ddof=0).replace(0, 1)
    fig, ax = plt.subplots(figsize=(9, 0.6 * len(c) + 2))
    im = ax.imshow(z.to_numpy(), cmap="RdBu_r", vmin=-2, vmax=2, aspect="auto")
    ax.grid(False)
    ax.set_yticks(range(len(c)), [f"{p} ({_pct(s)})" for p, s in zip(c["persona"], c["share"])])
    ax.set_xticks(range(len(feats)), [_LABELS.get(f, f) for f in feats], rotation=35, ha="right", fontsize=8)
    fig.colorbar(im, ax=ax, label="above / below other personas")
    ax.set_title("What each persona does")
    return fig


def plot_persona_fit(fit_table: pd.DataFrame, by: str = "style"):
    """Outcome per touch by persona and salesperson style, with intervals.

    Parameters
    ----------
    fit_table : DataFrame
        Output of :func:`persona_fit`.
    by : str
        The people column used.

    Returns
    -------
    Figure
    """
    import matplotlib.pyplot as plt

    personas = sorted(fit_table["persona"].unique())
    styles = sorted(fit_table[by].unique())
    fig, ax = plt.subplots(figsize=(9, 4.2))
    width = 0.8 / max(len(styles), 1)
    for j, s in enumerate(styles):
        t = fit_table.loc[fit_table[by] == s].set_index("persona").reindex(personas)
        x = np.arange(len(personas)) + (j - (len(styles) - 1) / 2) * width
        ax.bar(x, t["outcome_per_touch"], width, label=s)
        ax.errorbar(x, t["outcome_per_touch"], yerr=[t["outcome_per_touch"] - t["ci_low"],
                                                      t["ci_high"] - t["outcome_per_touch"]],
                    fmt="none", ecolor="black", lw=0.8, capsize=2)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(range(len(personas)), personas, rotation=15)
    ax.set_ylabel("next quarter's revenue per weighted touch\n(share of a typical quarter)")
    ax.set_title(f"Which {by} works with which persona")
    ax.legend(title=by)
    return fig
