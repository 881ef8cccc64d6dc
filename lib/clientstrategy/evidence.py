"""Model evidence in words: what the purchase model and its back-test say, for leadership.

Sentences are computed from the figures (no figure is typed in) and say plainly where the model
loses to a simple rule: a reader who is told only the wins will over-trust the model.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .words import pct as _pct

__all__ = [
    "MEASURES",
    "backtest_headline",
    "backtest_sentences",
    "choice_table",
    "coverage_sentence",
    "fit_sentences",
    "migration_sentences",
    "parameter_table",
    "plot_p_alive",
    "share",
    "spend_sentences",
    "value_sentences",
]

#: What each purchase-model parameter means, for the parameter table.
PARAMETER_WORDS = {
    "r": "shape of the spread of buying rates",
    "alpha": "scale of the buying rates (weeks)",
    "a": "drop-out chance after a purchase: first shape",
    "b": "drop-out chance after a purchase: second shape",
    "s": "shape of the spread of drop-out rates",
    "beta": "scale of the drop-out rates (weeks)",
    "p": "shape of spend per purchase",
    "q": "shape of the spread of clients' spend",
    "v": "scale of the spread of clients' spend",
}

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


def share(part, whole) -> str:
    """A share in words that never rounds a part to all or none: 0 -> 'none', all -> 'all',
    else a percentage kept strictly between 0% and 100% ('under 1%', 'over 99%').

    Examples
    --------
    >>> share(3530, 3531), share(1, 3531), share(0, 10), share(10, 10), share(1, 4)
    ('over 99%', 'under 1%', 'none', 'all', '25%')
    """
    part, whole = float(part), float(whole)
    if whole <= 0:
        return "n/a"
    if part <= 0:
        return "none"
    if part >= whole:
        return "all"
    p = part / whole
    if p < 0.005:
        return "under 1%"
    if p > 0.995:
        return "over 99%"
    return f"{p:.0%}"


def _clients(n: int) -> str:
    return f"{n:,} client" + ("" if n == 1 else "s")


def value_sentences(value: pd.DataFrame, client_rev: pd.DataFrame, level: float = 0.8,
                    regime: str = "interior", value_basis: str = "revenue") -> list[str]:
    """Sentences on activity and lifetime value from ``clv.customer_value`` output.

    ``regime`` is the purchase model's fit regime (``fit_["regime"]``): with ``no_dropout`` the
    model cannot tell an inactive client from a quiet one, and the sentences say so instead of
    counting "active" clients. Shares never round a part to all or none (:func:`share`).
    """
    for col in ("client_id", "p_alive", "clv"):
        if col not in value.columns:
            raise ValueError(f"value: column {col!r} is missing")
    out = []
    n = len(value)
    alive = value["p_alive"]
    if regime == "no_dropout":
        out.append(f"The model found almost no drop-out, so it counts every one of the {n:,} clients as still a "
                   "client and cannot call any of them inactive: a quiet client is read as a slow buyer, not a lost one.")
    else:
        active, gone = int((alive >= 0.5).sum()), int((alive < 0.2).sum())
        out.append(f"The model judges {share(active, n)} of the {n:,} clients who have bought still active "
                   f"(probability above 50%, {_clients(active)}); {share(gone, n)} ({_clients(gone)}) are very likely gone.")
    total = value["clv"].sum()
    what = "margin" if value_basis == "margin" else "revenue"
    if {"clv_low", "clv_high"} <= set(value.columns):
        out.append(f"Their combined lifetime value is {_money(total)} of {what}; for any one client the range at "
                   f"{level:.0%} is wide, so read client values as orders of magnitude, not points.")
    ltm = pd.to_numeric(client_rev.get("revenue_ltm", pd.Series(dtype=float)), errors="coerce").sum()
    if regime == "no_dropout" and ltm > 0:
        out.append(f"Because the model sees nobody leave, this lifetime value ({_money(total)}, "
                   f"{total / ltm:.1f} times the last year's revenue) is an **upper bound**: it assumes every client "
                   "keeps buying at its own rate for the whole horizon.")
    top = value.sort_values("clv", ascending=False)
    top_share = top["clv"].head(max(1, len(top) // 10)).sum() / total if total > 0 else np.nan
    if pd.notna(top_share):
        out.append(f"The top tenth of clients by lifetime value hold {share(top_share * 1e6, 1e6)} of it.")
    return out


def fit_sentences(model, n_clients: int) -> list[str]:
    """The purchase model's fit explained for leadership: its regime and what rests on it.

    Parameters
    ----------
    model : purchase model
        Fitted, with ``fit_`` (``regime``, ``converged``, ``at_bound``, ``near_bound``).
    n_clients : int
        Clients the model was fitted on.

    Returns
    -------
    list of str
        Plain sentences: what the fit found and, at a boundary, its consequence for every figure
        that rests on it (activity, "inactive" signals, lifetime value, the chart of P(still active)).
    """
    rep = getattr(model, "fit_", None) or {}
    label = getattr(model, "label", model.name)
    p = model.params_
    out = []
    regime = rep.get("regime", "interior")
    if "a" in p and "b" in p:
        drop = p["a"] / (p["a"] + p["b"])
        drop_words = f"an average chance of {_pct(drop, 1)} of leaving after each purchase"
    elif "s" in p and "beta" in p:
        drop = p["s"] / p["beta"]
        drop_words = (f"an average drop-out rate of {_pct(drop, 2)} per week (a typical client stays about "
                      f"{1 / drop / 52.1775:.1f} years)" if drop > 0 else "no drop-out")
    else:
        drop_words = ""
    rate = p["r"] / p["alpha"]
    out.append(f"The {label} model was fitted on {n_clients:,} clients by maximum likelihood: clients buy again "
               f"{rate * 52.1775:.1f} times a year on average while active, with {drop_words}.")
    if not rep.get("converged", True):
        out.append("**The fit did not converge**: its parameters are the optimiser's last step, not a maximum; treat "
                   "every figure below with care.")
    if regime == "no_dropout":
        bound = ", ".join(rep.get("at_bound") or rep.get("near_bound") or [])
        out.append("**The fit sits at a boundary: almost no drop-out.** The data show almost no client leaving"
                   + (f" (parameter {bound} at the edge of its range)" if bound else "")
                   + ", so the model is in effect the NBD, a model without drop-out. Consequences: every client's "
                   "chance of still being active is close to 100%, so no client can be called inactive and no "
                   "\"at risk\" signal rests on it; lifetime value assumes nobody leaves and is an **upper bound**; "
                   "the chart of the chance of being active would be a single bar, so the chart below shows expected "
                   "purchases instead. A short history (less than a year or two) often looks like this: clients have "
                   "not had time to lapse.")
    elif regime == "constant_dropout":
        out.append("The fit finds every client with about the same drop-out chance (no spread between clients): "
                   "P(still active) then depends on recency and frequency alone, and ranges are narrower than a "
                   "model with spread would give.")
    elif rep.get("near_bound"):
        out.append(f"Parameter(s) {', '.join(rep['near_bound'])} lie near the edge of their range: the data say "
                   "little about them, and their intervals below are wide.")
    cond = rep.get("hessian_condition")
    if cond is None and rep:
        out.append("The data do not pin down every parameter (the likelihood is flat in some direction): parameter "
                   "intervals are not available; the bootstrap ranges still carry the uncertainty.")
    return out


def parameter_table(model, fits=None, level: float = 0.95) -> pd.DataFrame:
    """Each parameter with its meaning, estimate, standard error and intervals.

    The interval from the Hessian (Wald, on the log scale) and, with ``fits`` (bootstrap refits of
    the same model class), the bootstrap percentile interval at ``level``.
    """
    rep = getattr(model, "fit_", None) or {}
    rows = []
    for k, v in model.params_.items():
        row = {"parameter": k, "meaning": PARAMETER_WORDS.get(k, ""), "estimate": v,
               "standard_error": (rep.get("se") or {}).get(k)}
        ci = (rep.get("ci95") or {}).get(k)
        row["interval_hessian"] = f"{ci[0]:.3g} to {ci[1]:.3g}" if ci else "not identified"
        if fits:
            vals = np.array([f.params_[k] for f in fits if k in f.params_])
            lo, hi = np.quantile(vals, [(1 - level) / 2, (1 + level) / 2])
            row["interval_bootstrap"] = f"{lo:.3g} to {hi:.3g}"
        rows.append(row)
    out = pd.DataFrame(rows)
    out["estimate"] = out["estimate"].map(lambda v: f"{v:.4g}")
    out["standard_error"] = out["standard_error"].map(lambda v: "n/a" if v is None or pd.isna(v) else f"{v:.3g}")
    return out.rename(columns={"parameter": "Parameter", "meaning": "Meaning", "estimate": "Estimate",
                               "standard_error": "Standard error", "interval_hessian": "95% interval (Hessian)",
                               "interval_bootstrap": f"{level:.0%} interval (bootstrap)"})


def choice_table(choice: dict) -> pd.DataFrame:
    """The back-test's model comparison (``metrics['backtest']['model_choice']``) for a page."""
    rows = []
    for r in choice.get("table", []):
        rows.append({"Model": r.get("label", r.get("model")),
                     "Log-likelihood": r.get("loglik"), "BIC": r.get("bic"),
                     "Holdout purchases predicted": r.get("predicted"), "Actual": r.get("actual"),
                     "Mean squared error": r.get("mse"), "Mean absolute error": r.get("mae"),
                     "Error difference vs BG/NBD": r.get("mse_diff"),
                     "Upper bound of the difference": r.get("mse_diff_upper"),
                     "Chosen": "yes" if r.get("model") == choice.get("chosen") else ""})
    return pd.DataFrame(rows)


def spend_sentences(corr: dict, value_basis: str, spend_fit: dict | None = None) -> list[str]:
    """The spend model's assumption check and what lifetime value is counted in."""
    out = []
    if corr.get("pearson") is not None:
        words = (f"Spend per purchase and number of purchases among the {corr['n']:,} repeat buyers correlate at "
                 f"{corr['pearson']:.2f} (rank correlation {corr['spearman']:.2f}).")
        if corr.get("warn"):
            words += (f" **That is past {corr['threshold']:.1f}: the spend model assumes the two are independent, so "
                      "its expected spend is biased** (towards the average for frequent buyers); read lifetime values "
                      "of the most and least frequent buyers with care.")
        else:
            words += f" That is within {corr['threshold']:.1f}, so the spend model's assumption of independence holds well enough."
        out.append(words)
    if value_basis == "margin":
        out.append("Lifetime value is in **margin** (revenue times each client's margin rate from the products "
                   "they bought, `products.margin_rate`).")
    else:
        out.append("Lifetime value is in **revenue** (no product margin rates in the data).")
    return out


def plot_p_alive(value: pd.DataFrame):
    """Histogram of the probability that each client is still active; returns the Figure.

    When the probabilities have (almost) no spread (a fit without drop-out puts every client near
    100%), a single bar says nothing: the histogram of expected purchases over the next twelve months
    is drawn instead, and its title says why.
    """
    import matplotlib.pyplot as plt

    if "p_alive" not in value.columns:
        raise ValueError("value: column 'p_alive' is missing")
    p = value["p_alive"].dropna()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    if len(p) and np.ptp(p) < 0.05 and "expected_purchases_12m" in value.columns:
        e = value["expected_purchases_12m"].dropna()
        ax.hist(e, bins=30, color="#1d4e89")
        ax.set_xlabel("Expected purchases over the next twelve months")
        ax.set_ylabel("Clients")
        ax.set_title(f"Every client's chance of still being active is about {p.mean():.0%}: expected purchases instead")
        return fig
    ax.hist(p, bins=20, range=(0, 1), color="#1d4e89")
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
    cw, hw = bt.get("calibration_weeks"), bt.get("holdout_weeks")
    if cw is not None and hw:
        out.append(f"The model was refitted on the {cw:.0f} weeks of history to {bt.get('calibration_end')} (calibration) "
                   f"and asked to predict the next {hw} weeks (holdout).")
        if cw < hw - 1:  # shorter by more than a week (CDNOW: 38.9 weeks against 39 is the same length)
            out.append(f"**The calibration ({cw:.0f} weeks) is shorter than the holdout ({hw} weeks)**: the model "
                       "predicts further ahead than the history it learned from, so this back-test is a weak guide; "
                       "a longer history or a shorter holdout (`HOLDOUT_WEEKS`) would test it better.")
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
        out.append(coverage_sentence(cov, lvl))
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


def coverage_sentence(coverage: float, level: float) -> str:
    """How the prediction intervals held, by how much they missed their level.

    Examples
    --------
    >>> coverage_sentence(0.94, 0.8)
    "The 80% prediction intervals held 94% of clients' actual purchases: 14 points more than their level, so they are too wide (whole-number purchases with both ends included cover more than the level, but not this much)."
    """
    gap = coverage - level
    s = f"The {level:.0%} prediction intervals held {_pct(coverage)} of clients' actual purchases"
    if abs(gap) <= 0.03:
        return s + ": close to their level, as intended."
    if gap > 0:
        extra = (" (whole-number purchases with both ends included cover more than the level, but not this much)"
                 if gap > 0.05 else " (whole-number purchases with both ends included cover a bit more than the level)")
        return s + f": {gap * 100:.0f} points more than their level, so they are too wide{extra}."
    return s + f": {-gap * 100:.0f} points less than their level, so they are too narrow: real outcomes vary more than the model says."
