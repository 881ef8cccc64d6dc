"""The literature's diagnostics of a purchase model, from pre-aggregated tables.

Fader, Hardie & Lee (2005) judge BG/NBD by four figures, reproduced here for any purchase model:

1. clients by number of repeat purchases in calibration (0, 1, ... 7+), actual against the model
   (:func:`repeat_histogram`; the model's count is the sum over clients of P(X(T_i) = k));
2. and 3. weekly repeat purchases of the cohort, incremental and cumulative, across calibration and
   holdout (:func:`weekly_purchases`; the model's are the sums over clients of E[X(t)] since their
   first purchase);
4. mean holdout purchases by calibration purchases (``clv.calibration_by_frequency``).

and the ranking measures users ask for (:func:`gains`): cumulative gain by decile of predicted
value, the normalised Gini, and the decile error. The actual purchases come from per-day and
per-client tables grouped in the engine (``features.repeat_purchases_by_day``,
``features.purchase_days``), never from the revenue lines in pandas.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .base import require

__all__ = ["gains", "plot_gains", "plot_repeat_histogram", "plot_weekly", "repeat_histogram", "weekly_purchases"]


def repeat_histogram(model, summary: pd.DataFrame, k_max: int = 7) -> pd.DataFrame:
    """Clients by repeat purchases in calibration, actual against the model (FHL 2005 figure 1).

    Parameters
    ----------
    model : purchase model
        Fitted on ``summary``.
    summary : DataFrame
        ``x`` and ``T`` (weeks since the first purchase).
    k_max : int
        Counts shown one by one; the last bin is ``k_max+``.

    Returns
    -------
    DataFrame
        ``repeat_purchases`` (``"0"`` .. ``"k_max-1"``, ``"k_max+"``), ``actual`` (clients),
        ``expected`` (sum over clients of P(X(T_i) = k)).

    Examples
    --------
    >>> from clientstrategy.models import BetaGeoModel
    >>> m = BetaGeoModel(); m.params_ = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    >>> s = pd.DataFrame({"x": [0, 1, 9], "T": [30.0, 30.0, 38.0]})
    >>> repeat_histogram(m, s)["actual"].tolist()
    [1, 1, 0, 0, 0, 0, 0, 1]
    """
    require(summary, ["x", "T"], "summary")
    x = pd.to_numeric(summary["x"]).to_numpy()
    T = pd.to_numeric(summary["T"]).to_numpy(float)
    ts, counts = np.unique(np.round(T, 6), return_counts=True)
    expected = (model.pmf(k_max, ts) * counts[:, None]).sum(axis=0)
    actual = np.bincount(np.minimum(x, k_max).astype(int), minlength=k_max + 1)
    labels = [str(i) for i in range(k_max)] + [f"{k_max}+"]
    return pd.DataFrame({"repeat_purchases": labels, "actual": actual.astype("int64"), "expected": expected})


def weekly_purchases(model, daily: pd.DataFrame, summary: pd.DataFrame, calibration_end, as_of,
                     freq: str = "W") -> pd.DataFrame:
    """Repeat purchases of the cohort period by period, actual against the model (FHL figures 2, 3).

    Parameters
    ----------
    model : purchase model
        Fitted on the calibration period.
    daily : DataFrame
        ``day``, ``purchases``: the cohort's repeat purchase days per day
        (``features.repeat_purchases_by_day``).
    summary : DataFrame
        The cohort: ``first_purchase`` per client.
    calibration_end, as_of : Timestamp
        End of calibration and of the holdout (equal when there is no holdout).
    freq : str
        pandas frequency of the periods (``"W"``: weeks ending Sunday); ``calibration_end`` and
        ``as_of`` are added as period ends.

    Returns
    -------
    DataFrame
        ``week`` (period end), ``actual`` and ``expected`` (cumulative), ``actual_period`` and
        ``expected_period`` (in the period), ``period`` (``calibration`` or ``holdout``).
    """
    require(daily, ["day", "purchases"], "daily")
    require(summary, ["first_purchase"], "summary")
    cal_end = pd.Timestamp(calibration_end).normalize()
    as_of = pd.Timestamp(as_of).normalize()
    if as_of < cal_end:
        raise ValueError("as_of is before calibration_end")
    first = pd.to_datetime(summary["first_purchase"]).dt.normalize()
    start = first.min()
    ends = pd.date_range(start, as_of, freq=freq)
    ends = ends.append(pd.DatetimeIndex([cal_end, as_of])).unique().sort_values()
    ends = ends[ends >= start]
    days = pd.to_datetime(daily["day"]).to_numpy()
    order = np.argsort(days, kind="stable")
    cum_by_day = np.cumsum(pd.to_numeric(daily["purchases"]).to_numpy()[order])
    pos = np.searchsorted(days[order], ends.to_numpy(), side="right")
    actual = np.where(pos > 0, cum_by_day[np.maximum(pos - 1, 0)], 0)
    cohorts = first.value_counts()
    weeks = ((ends.to_numpy()[:, None] - cohorts.index.to_numpy()[None, :]) / np.timedelta64(1, "D")) / 7.0
    expected = (model.expected_population(weeks) * cohorts.to_numpy(float)).sum(axis=1)
    return pd.DataFrame({"week": ends, "actual": actual.astype("int64"), "expected": expected,
                         "actual_period": np.diff(actual, prepend=0).astype("int64"),
                         "expected_period": np.diff(expected, prepend=0.0),
                         "period": np.where(ends <= cal_end, "calibration", "holdout")})


def gains(predicted, actual, n_bins: int = 10) -> tuple[pd.DataFrame, dict]:
    """Cumulative gain by decile of predicted value, normalised Gini and decile error.

    Parameters
    ----------
    predicted, actual : array-like
        Per client: the model's prediction (e.g. holdout revenue) and what happened.
    n_bins : int
        Groups of clients by predicted value (10: deciles), highest first.

    Returns
    -------
    table : DataFrame
        ``decile`` (1 = highest predicted), ``clients``, ``predicted``, ``actual`` (sums),
        ``actual_share`` (of all actual), ``cumulative_gain`` (share of all actual in this and the
        higher deciles), ``decile_error`` (predicted / actual - 1; NaN where actual is 0).
    measures : dict
        ``gini_normalised`` (Gini of the actual values ordered by prediction over the Gini of the
        best possible order: 1 = perfect ranking, 0 = random), ``decile_mae`` (mean absolute
        decile error, deciles with actual > 0), ``top_decile_share``.

    Examples
    --------
    >>> t, m = gains([5, 4, 3, 2, 1, 0, 0, 0, 0, 0], [5, 4, 3, 2, 1, 0, 0, 0, 0, 0])
    >>> m["gini_normalised"]
    1.0
    """
    p = np.asarray(predicted, float)
    a = np.asarray(actual, float)
    n = len(p)
    if n == 0:
        raise ValueError("gains needs at least one client")
    order = np.lexsort((np.arange(n), -p))  # highest prediction first, ties in input order
    dec = np.minimum((np.arange(n) * n_bins) // n, n_bins - 1) + 1
    frame = pd.DataFrame({"decile": dec, "p": p[order], "a": a[order]})
    g = frame.groupby("decile").agg(clients=("p", "size"), predicted=("p", "sum"), actual=("a", "sum")).reset_index()
    total = a.sum()
    g["actual_share"] = g["actual"] / total if total else np.nan
    g["cumulative_gain"] = g["actual"].cumsum() / total if total else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        g["decile_error"] = np.where(g["actual"] > 0, g["predicted"] / g["actual"] - 1, np.nan)

    def gini(values):
        c = np.cumsum(values) / values.sum()
        return float((c - (np.arange(1, n + 1) / n)).sum() / n)

    measures = {"gini_normalised": None, "decile_mae": None, "top_decile_share": None}
    if total > 0:
        best = gini(np.sort(a)[::-1])
        measures["gini_normalised"] = round(gini(a[order]) / best, 6) if best > 0 else None
        measures["top_decile_share"] = round(float(g["actual_share"].iloc[0]), 6)
        errs = g["decile_error"].dropna()
        measures["decile_mae"] = round(float(errs.abs().mean()), 6) if len(errs) else None
    return g, measures


def _figure(size=(8, 4.5)):
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.add_subplot()


def plot_repeat_histogram(table: pd.DataFrame, label: str = "Purchase model"):
    """Bars of clients by repeat purchases in calibration, actual beside the model (figure 1)."""
    require(table, ["repeat_purchases", "actual", "expected"], "table")
    fig, ax = _figure()
    pos = np.arange(len(table))
    ax.bar(pos - 0.2, table["actual"], width=0.4, color="black", label="Actual")
    ax.bar(pos + 0.2, table["expected"], width=0.4, color="tab:blue", label=label)
    ax.set_xticks(pos, table["repeat_purchases"].astype(str))
    ax.set_xlabel("Repeat purchases in the period")
    ax.set_ylabel("Clients")
    ax.set_title("How many clients bought again how often: model against actual")
    ax.legend(frameon=False)
    return fig


def plot_weekly(table: pd.DataFrame, label: str = "Purchase model"):
    """Weekly repeat purchases, actual against the model, with the end of calibration (figure 2)."""
    require(table, ["week", "actual_period", "expected_period"], "table")
    fig, ax = _figure()
    ax.plot(table["week"], table["actual_period"], color="black", label="Actual repeat purchases")
    ax.plot(table["week"], table["expected_period"], color="tab:blue", linestyle="--", label=label)
    if "period" in table and (table["period"] == "holdout").any() and (table["period"] == "calibration").any():
        ax.axvline(table.loc[table["period"] == "calibration", "week"].max(), color="grey", linestyle=":",
                   label="End of calibration")
    ax.set_xlabel("Week")
    ax.set_ylabel("Repeat purchases in the week")
    ax.set_title("Repeat purchases week by week: model against actual")
    ax.legend(frameon=False)
    return fig


def plot_gains(table: pd.DataFrame):
    """Cumulative gain by decile of predicted value against the diagonal of a random order."""
    require(table, ["decile", "cumulative_gain"], "table")
    fig, ax = _figure((6, 5))
    n = len(table)
    share = np.concatenate([[0], table["clients"].cumsum() / table["clients"].sum()]) if "clients" in table else \
        np.linspace(0, 1, n + 1)
    ax.plot(share, np.concatenate([[0], table["cumulative_gain"]]), marker="o", color="tab:blue",
            label="Clients ranked by the model")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="Random order")
    ax.set_xlabel("Share of clients, highest predicted value first")
    ax.set_ylabel("Share of actual holdout revenue")
    ax.set_title("Cumulative gain: does the model find the valuable clients?")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.legend(frameon=False, loc="lower right")
    return fig
