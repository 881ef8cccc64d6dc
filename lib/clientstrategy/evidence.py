"""Model evidence in words: what the purchase model and its back-test say, for leadership.

Sentences are computed from the figures (no figure is typed in) and say plainly where the model
loses to a simple rule: a reader who is told only the wins will over-trust the model.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "MEASURES",
    "backtest_headline",
    "backtest_sentences",
    "migration_sentences",
    "plot_p_alive",
    "value_sentences",
]

#: Back-test measures: name -> (plain words, True when higher is better).
MEASURES = {
    "mae": ("mean absolute error of purchases per client", False),
    "rmse": ("root mean squared error of purchases per client", False),
    "spearman": ("rank correlation of predicted and actual purchases", True),
    "auc": ("AUC of who buys at all", True),
    "brier": ("Brier score of who buys at all", False),
    "calibration_error": ("calibration error of who buys at all", False),
}

_TIER_ORDER = ["New", "Platinum", "Gold", "Silver", "Bronze", "Lost"]


def migration_sentences(migration: pd.DataFrame, window=None) -> list[str]:
    """Plain sentences about tier migration (``from_tier``, ``to_tier``, ``clients``, ``revenue``).

    Parameters
    ----------
    migration : DataFrame
        ``outcomes.segment_migration`` output.
    window : outcomes.HistoryWindow, optional
        The run's window: without a year before (``window.has_prior`` false) migration and first
        purchases cannot be measured, and one sentence says so instead of "0 moved up, 0 down" and
        "every client bought for the first time".

    Examples
    --------
    >>> m = pd.DataFrame({"from_tier": ["Gold", "New"], "to_tier": ["Platinum", "Bronze"], "clients": [1, 2]})
    >>> migration_sentences(m)
    ['Over the year, 1 client moved up a tier or more, 0 moved down and 0 stayed where they were.', '2 clients bought for the first time in the last twelve months and 0 who bought in the twelve months before did not buy at all.']
    """
    from .words import plural

    for col in ("from_tier", "to_tier", "clients"):
        if col not in migration.columns:
            raise ValueError(f"migration: column {col!r} is missing")
    if window is not None and not window.has_prior:
        return [window.refusal("Tier migration (who moved up or down, who bought for the first time)")]
    rank = {t: i for i, t in enumerate(_TIER_ORDER)}
    m = migration.copy()
    known = m["from_tier"].isin(rank) & m["to_tier"].isin(rank)
    m = m[known]
    core = m[~m["from_tier"].isin(["New"]) & ~m["to_tier"].isin(["Lost"])]
    up = core[core["to_tier"].map(rank) < core["from_tier"].map(rank)]["clients"].sum()
    down = core[core["to_tier"].map(rank) > core["from_tier"].map(rank)]["clients"].sum()
    stay = core[core["to_tier"] == core["from_tier"]]["clients"].sum()
    new = m[m["from_tier"] == "New"]["clients"].sum()
    lost = m[m["to_tier"] == "Lost"]["clients"].sum()
    phrase = window.phrase if window is not None else "the last twelve months"
    before = window.prior_phrase if window is not None else "the twelve months before"
    year = "the year" if window is None or window.full_prior else "the two periods"
    out = [(f"Over {year}, {plural(int(up), 'client')} moved up a tier or more, {int(down):,} moved down and "
            f"{int(stay):,} stayed where they were.")]
    if new or lost:
        out.append(f"{plural(int(new), 'client')} bought for the first time in {phrase} and "
                   f"{int(lost):,} who bought in {before} did not buy at all.")
    return out


def value_sentences(value: pd.DataFrame, client_rev: pd.DataFrame, level: float = 0.8) -> list[str]:
    """Sentences on activity and lifetime value from ``clv.customer_value`` output."""
    for col in ("client_id", "p_alive", "clv"):
        if col not in value.columns:
            raise ValueError(f"value: column {col!r} is missing")
    out = []
    alive = value["p_alive"]
    out.append(f"The model judges {(alive >= 0.5).mean():.0%} of the {len(value):,} clients who have bought "
               f"still active (probability above 50%); {(alive < 0.2).mean():.0%} are very likely gone.")
    total = value["clv"].sum()
    if {"clv_low", "clv_high"} <= set(value.columns):
        out.append(f"Their combined lifetime value is {_money(total)}; for any one client the range at "
                   f"{level:.0%} is wide, so read client values as orders of magnitude, not points.")
    top = value.sort_values("clv", ascending=False)
    share = top["clv"].head(max(1, len(top) // 10)).sum() / total if total > 0 else np.nan
    if pd.notna(share):
        out.append(f"The top tenth of clients by lifetime value hold {share:.0%} of it.")
    return out


def plot_p_alive(value: pd.DataFrame):
    """Histogram of the probability that each client is still active; returns the Figure."""
    import matplotlib.pyplot as plt

    if "p_alive" not in value.columns:
        raise ValueError("value: column 'p_alive' is missing")
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.hist(value["p_alive"].dropna(), bins=20, range=(0, 1), color="#1d4e89")
    ax.set_xlabel("Probability the client is still active")
    ax.set_ylabel("Clients")
    ax.set_title("How many clients the purchase model still counts as active")
    return fig


def _money(x: float) -> str:
    a = abs(x)
    s = f"{a / 1e6:.1f}m" if a >= 1e6 else f"{a / 1e3:.0f}k" if a >= 1e4 else f"{a:,.0f}"
    return ("-" if x < 0 else "") + s


def _compare(model: dict, baselines: dict) -> tuple[list, list, list]:
    """Measures where the model beats every baseline that reports it, where some baseline wins, and
    where the best baseline only ties it (e.g. Maven CRM: every account buys in the held-out weeks,
    so the model and 'same rate as before' both score a Brier of 0; a tie is not a win)."""
    wins, losses, ties = [], [], []
    for key, (words, higher) in MEASURES.items():
        m = model.get(key)
        if m is None:
            continue
        rivals = {name: b.get(key) for name, b in baselines.items() if isinstance(b, dict) and b.get(key) is not None}
        if not rivals:
            continue
        better = [n for n, v in rivals.items() if (v > m if higher else v < m) and not np.isclose(v, m, rtol=1e-6, atol=1e-9)]
        level = [n for n, v in rivals.items() if np.isclose(v, m, rtol=1e-6, atol=1e-9)]
        (losses if better else ties if level else wins).append((words, m, rivals, better or level))
    return wins, losses, ties


def backtest_sentences(bt: dict) -> list[str]:
    """The honest paragraph of the back-test: totals, wins and losses against the baselines."""
    out = []
    tot = bt.get("totals", {})
    ap, pp = tot.get("actual_purchases"), tot.get("predicted_purchases")
    if ap is not None and pp is not None and ap > 0:
        out.append(f"Over the {bt.get('holdout_weeks')} held-out weeks the model predicted {pp:,.0f} repeat "
                   f"purchases against {ap:,.0f} that happened ({pp / ap - 1:+.0%}).")
    ar, pr = tot.get("actual_revenue"), tot.get("predicted_revenue")
    if ar is not None and pr is not None and ar > 0:
        out.append(f"Revenue from those clients: {_money(pr)} predicted against {_money(ar)} actual ({pr / ar - 1:+.0%}).")
    model = bt.get("model", {})
    cov, lvl = model.get("coverage"), bt.get("interval_level")
    if cov is not None and lvl is not None:
        out.append(f"The {lvl:.0%} prediction intervals held {cov:.0%} of clients' actual purchases"
                   + (" (purchases are whole numbers, so intervals include their end points and cover a little more)."
                      if cov > lvl else "."))
    wins, losses, ties = _compare(model, bt.get("baselines", {}))
    names = {"same_rate": "'same rate as before'", "nothing_happens": "'nothing happens'", "recency_rank": "'recency rank'"}
    if wins:
        out.append("The model beat every simple rule on " + "; ".join(f"{w} ({m:.3g})" for w, m, _, _ in wins) + ".")
    if ties:
        out.append("It only tied a simple rule on " + "; ".join(
            f"{w} ({m:.3g}, as does {', '.join(names.get(b, b) for b in level)})" for w, m, _, level in ties)
            + ": on these the held-out weeks cannot tell the model from the rule.")
    for words, m, rivals, better in losses:
        who = ", ".join(f"{names.get(b, b)} ({rivals[b]:.3g})" for b in better)
        out.append(f"It did **not** win on {words}: the model scored {m:.3g}, beaten by {who}. "
                   + _loss_meaning(words))
    return out


def _loss_meaning(words: str) -> str:
    if "absolute error" in words:
        return ("Most clients buy nothing in a short window, so predicting zero for everyone is hard to beat on "
                "average error; the model's value is in ranking and in totals, not in per-client counts.")
    if "rank" in words or "AUC" in words:
        return "For ordering clients, the simple rule is as good; use the model's totals and intervals, not its ranks."
    return "Treat the model's figures on this measure with care."


def backtest_headline(bt: dict) -> str:
    """One sentence for the executive summary."""
    tot = bt.get("totals", {})
    ap, pp = tot.get("actual_purchases"), tot.get("predicted_purchases")
    wins, losses, ties = _compare(bt.get("model", {}), bt.get("baselines", {}))
    s = f"Back-test over {bt.get('holdout_weeks')} weeks: "
    if ap and pp is not None:
        s += f"predicted {pp:,.0f} purchases against {ap:,.0f} actual ({pp / ap - 1:+.0%}); "
    s += f"the model beat the simple rules on {len(wins)} of {len(wins) + len(losses) + len(ties)} measures"
    if losses:
        s += " (not on " + ", ".join(w for w, *_ in losses) + ")"
    if ties:
        s += ("; it tied them on " if losses else " (it tied them on ") + ", ".join(w for w, *_ in ties) + ("" if losses else ")")
    return s + "."
