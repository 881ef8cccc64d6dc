"""Data health in words and figures for notebook ``00``: completeness, suspicious items, biases.

The checks themselves live in :mod:`clientstrategy.validate` (``health_checks``, ``completeness``);
this module turns them into sentences and a figure, and measures the biases the method warns of
(touches that follow client size, surveys answered by the larger clients, touches without outcome).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import features
from .words import pct as _pct

__all__ = ["bias_cautions", "plot_completeness", "sentences"]


def plot_completeness(completeness: pd.DataFrame, max_columns: int = 40):
    """Horizontal bars of the share of non-null values per table column; returns the Figure.

    Parameters
    ----------
    completeness : DataFrame
        Columns ``table``, ``column``, ``non_null_share`` (``validate.completeness``).
    """
    import matplotlib.pyplot as plt

    for col in ("table", "column", "non_null_share"):
        if col not in completeness.columns:
            raise ValueError(f"completeness: column {col!r} is missing")
    d = completeness.sort_values("non_null_share").head(max_columns)
    labels = d["table"].astype(str) + " · " + d["column"].astype(str)
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.26 * len(d) + 1)))
    colors = np.where(d["non_null_share"] < 0.95, "#d9822b", "#1d4e89")
    ax.barh(labels, d["non_null_share"] * 100, color=colors)
    ax.set_xlim(0, 100)
    ax.set_xlabel("Share of rows filled (%)")
    ax.set_title("Completeness of each column (least complete first)")
    return fig


def sentences(findings: pd.DataFrame) -> list[str]:
    """One plain sentence per health finding (``table``, ``check``, ``count``, ``detail``)."""
    out = []
    for r in findings.itertuples(index=False):
        detail = f" ({r.detail})" if isinstance(getattr(r, "detail", None), str) and r.detail else ""
        out.append(f"`{r.table}`: {r.check.replace('_', ' ')}: {int(r.count):,}{detail}.")
    return out


def _ltm_revenue(revenue, as_of: pd.Timestamp) -> pd.Series:
    """Revenue per client over the twelve months to ``as_of`` (summed in the engine)."""
    start = as_of - pd.DateOffset(months=12)
    d, a, c = features.q("date"), features.q("amount"), features.q("client_id")
    r = revenue.sql(f"SELECT {c} AS client_id, SUM({a}) AS amount FROM {{t}} WHERE {d} > {features.lit(start)} "
                    f"AND {d} <= {features.lit(as_of)} AND {c} IS NOT NULL GROUP BY {c}")
    return pd.Series(features.settled(r["amount"]).to_numpy(), index=r["client_id"].astype("str"),
                     name="amount").sort_index()


def bias_cautions(tables: dict, as_of: pd.Timestamp) -> list[str]:
    """Sentences that measure the method's warnings on this data.

    Returns an empty list where a table needed for a caution is absent.
    """
    out: list[str] = []
    rev = tables.get("revenue")
    if rev is None or not len(rev):
        return out
    rev = features.as_table(rev, "revenue")
    ltm = _ltm_revenue(rev, as_of)
    a = features.q("amount")
    sums = rev.sql(f"SELECT SUM(CASE WHEN {a} < 0 THEN {a} ELSE 0 END) AS credits, "
                   f"SUM(CASE WHEN {a} > 0 THEN {a} ELSE 0 END) AS gross FROM {{t}} "
                   f"WHERE {features.q('date')} <= {features.lit(as_of)}").iloc[0]
    credits, gross = float(sums["credits"] or 0.0), float(sums["gross"] or 0.0)
    if gross > 0 and credits < 0:
        out.append(f"Credits and returns offset {_pct(abs(credits) / gross, 1)} of gross revenue; all revenue "
                   "figures are net of them.")
    act = tables.get("activities")
    if act is not None and len(act):
        t = features.as_table(act, "activities")  # counted in the engine: touches never reach pandas
        upto = f"{features.q('timestamp')} <= {features.lit(as_of + pd.Timedelta(days=1))}"
        if "outcome" in t.columns:
            m = features.touch_counts(t, [], where=upto, measures={
                "n": "COUNT(*)", "missing": f"SUM(CASE WHEN a.{features.q('outcome')} IS NULL THEN 1 ELSE 0 END)"})
            missing = float(m["missing"].iloc[0]) / float(m["n"].iloc[0]) if int(m["n"].iloc[0]) else float("nan")
            out.append(f"{_pct(missing)} of touches carry no outcome (answered, opened, attended...); they are "
                       "weighted as the least useful kind rather than trusted.")
        g = features.touch_counts(t, ["client_id"], where=upto)
        touches = g.loc[g["client_id"].notna()].set_index("client_id")["touches"].astype("int64")
        both = pd.concat([touches.rename("touches"), ltm.rename("revenue")], axis=1).fillna(0)
        both = both[both["revenue"] > 0]
        if len(both) > 10:
            rho = both["touches"].rank().corr(both["revenue"].rank())
            if pd.notna(rho):
                out.append(f"Touches follow client size: the rank correlation between a client's touches and its "
                           f"revenue is {rho:.2f}. A naive comparison would credit touches with what size explains; "
                           "step 02 estimates effects within each client instead.")
            else:  # touches or revenue the same for every client (Bank Marketing: one call and one deposit each)
                what = "touches" if both["touches"].nunique() <= 1 else "revenue"
                out.append(f"Every client with revenue has the same {what} ({both[what].iloc[0]:g}), so whether touches "
                           "follow client size cannot be read from this data.")
    inv, srv = tables.get("survey_invites"), tables.get("surveys")
    if inv is not None and srv is not None and len(inv) and len(srv):
        rate = srv["client_id"].nunique() / max(inv["client_id"].nunique(), 1)
        big = ltm[ltm >= ltm.quantile(0.75)].index if len(ltm) else []
        inv_big = inv[inv["client_id"].isin(big)]["client_id"].nunique()
        inv_small = inv[~inv["client_id"].isin(big)]["client_id"].nunique()
        srv_big = srv[srv["client_id"].isin(big)]["client_id"].nunique()
        srv_small = srv[~srv["client_id"].isin(big)]["client_id"].nunique()
        if inv_big and inv_small:
            out.append(f"Survey answers are not a random sample: {_pct(rate)} of invited clients ever answered; "
                       f"{_pct(srv_big / inv_big)} of the largest quarter of clients against {_pct(srv_small / inv_small)} "
                       "of the rest. Step 04 weights the answers back to the invited population.")
    return out
