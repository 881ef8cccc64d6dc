"""Choosing among the purchase models: by their back-test, honestly.

:func:`compare` fits every candidate on the calibration period and scores its predictions of each
client's holdout purchases. :func:`choose` keeps BG/NBD, the reference model, unless another model's
mean squared error on the holdout is lower **beyond its sampling noise**: a paired bootstrap over
clients (the same resampled clients for both models) of the difference in mean squared error, and a
switch only when the upper end of its one-sided interval is below zero, at 95% with a Bonferroni
correction for the number of alternatives (97.5% for two); and only when the calibration is at least
as long as the holdout (``clv.backtest``: a model that learned from fewer weeks than it predicts is
judged on its extrapolation, so the rule without a holdout applies). Squared error, because the models predict
conditional means and the mean is what minimises it (absolute error rewards predicting the median,
which for most clients in a short holdout is zero). Without a holdout, :func:`choose_without_holdout`
keeps the simplest model that fits (registry order: BG/NBD, MBG/NBD, Pareto/NBD) unless another
model's BIC is lower by more than 10 ("very strong" evidence, Kass & Raftery 1995).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["BIC_MARGIN", "CONFIDENCE", "choose", "choose_without_holdout", "compare", "paired_bootstrap"]

#: Confidence of the paired bootstrap before the choice leaves the reference model (family-wise).
CONFIDENCE = 0.95
#: BIC margin past which a model is preferred without a holdout.
BIC_MARGIN = 10.0
REFERENCE = "bgnbd"


def paired_bootstrap(err_ref, err_alt, n_boot: int = 2000, random_state: int = 0, level: float = 0.95) -> dict:
    """Mean difference of per-client losses (alternative minus reference) with a one-sided bound.

    Parameters
    ----------
    err_ref, err_alt : array-like
        Per-client losses of the two models on the same clients.
    n_boot : int
        Resamples of the clients.
    random_state : int
        Seed.
    level : float
        One-sided level of the upper bound.

    Returns
    -------
    dict
        ``diff`` (mean difference), ``upper`` (its one-sided ``level`` bootstrap upper bound: the
        alternative is better beyond noise when it is below 0), ``se``.

    Examples
    --------
    >>> d = paired_bootstrap([1.0, 2.0, 3.0, 4.0] * 50, [0.0, 1.0, 2.0, 3.0] * 50)
    >>> d["diff"], d["upper"] < 0
    (-1.0, True)
    """
    a = np.asarray(err_ref, float)
    b = np.asarray(err_alt, float)
    d = b - a
    n = len(d)
    rng = np.random.default_rng(random_state)
    idx = rng.integers(0, n, size=(n_boot, n)) if n * n_boot <= 20_000_000 else None
    if idx is not None:
        means = d[idx].mean(axis=1)
    else:  # large books: the mean of a resample by multinomial counts
        means = np.array([(rng.multinomial(n, np.full(n, 1 / n)) * d).sum() / n for _ in range(n_boot)])
    return {"diff": float(d.mean()), "upper": float(np.quantile(means, level)), "se": float(means.std(ddof=1))}


def compare(fits: dict, calibration: pd.DataFrame, actual, holdout_weeks: float, n_boot: int = 2000,
            random_state: int = 0) -> pd.DataFrame:
    """Every fitted candidate's likelihood, BIC and holdout errors, beside the reference model's.

    Parameters
    ----------
    fits : dict
        Registry name -> purchase model fitted on ``calibration`` (or an Exception if it failed).
    calibration : DataFrame
        The calibration summary (``x``, ``t_x``, ``T``).
    actual : array-like
        Each calibration client's purchases in the holdout.
    holdout_weeks : float
        Holdout length.
    n_boot : int
        Resamples of the paired bootstrap.
    random_state : int
        Seed.

    Returns
    -------
    DataFrame
        One row per candidate: ``model``, ``label``, ``fitted`` (bool), ``loglik``, ``bic``,
        ``regime``, ``predicted``, ``actual`` (holdout totals), ``mse``, ``mae``, ``mse_diff`` and
        ``mse_diff_upper`` (against the reference, paired bootstrap) and ``note`` (why a model was
        not fitted).
    """
    actual = np.asarray(actual, float)
    rows, errs = [], {}
    for name, m in fits.items():
        if isinstance(m, Exception) or m is None:
            rows.append({"model": name, "label": name, "fitted": False, "note": str(m)})
            continue
        pred = m.expected_purchases(holdout_weeks, calibration)
        ok = bool(np.isfinite(pred).all() and m.fit_.get("converged", True))
        errs[name] = (pred - actual) ** 2
        rows.append({"model": name, "label": getattr(m, "label", name), "fitted": ok, "loglik": m.loglik_,
                     "bic": m.bic(), "regime": m.fit_.get("regime") if m.fit_ else None,
                     "predicted": float(pred.sum()), "actual": float(actual.sum()),
                     "mse": float(errs[name].mean()), "mae": float(np.abs(pred - actual).mean()),
                     "note": "" if ok else "did not converge"})
    table = pd.DataFrame(rows)
    table["mse_diff"] = np.nan
    table["mse_diff_upper"] = np.nan
    alts = [n for n in errs if n != REFERENCE]
    level = 1 - (1 - CONFIDENCE) / max(len(alts), 1)
    if REFERENCE in errs:
        for n in alts:
            pb = paired_bootstrap(errs[REFERENCE], errs[n], n_boot=n_boot, random_state=random_state, level=level)
            table.loc[table["model"] == n, ["mse_diff", "mse_diff_upper"]] = [pb["diff"], pb["upper"]]
    table.attrs["level"] = level
    return table


def choose(table: pd.DataFrame) -> tuple[str, str]:
    """The model :func:`compare`'s table picks, and why, in words.

    Returns
    -------
    (str, str)
        Registry name and a sentence for the page.
    """
    ok = table[table["fitted"].astype(bool)]
    if ok.empty:
        raise ValueError("no purchase model could be fitted")
    level = table.attrs.get("level", CONFIDENCE)
    if REFERENCE not in set(ok["model"]):
        best = ok.sort_values("mse").iloc[0]
        return best["model"], (f"BG/NBD could not be fitted; {best['label']} has the lowest holdout error of the "
                               "models that could.")
    better = ok[(ok["model"] != REFERENCE) & (ok["mse_diff_upper"] < 0)]
    if better.empty:
        ref = ok[ok["model"] == REFERENCE].iloc[0]
        lower = ok[(ok["model"] != REFERENCE) & (ok["mse"] < ref["mse"])]
        if len(lower):
            return REFERENCE, (f"BG/NBD is kept: {', '.join(lower['label'])} had a lower holdout error, but not by more "
                               f"than its sampling noise (paired bootstrap over clients at {level:.1%}).")
        return REFERENCE, "BG/NBD is kept: no other model had a lower holdout error."
    best = better.sort_values("mse").iloc[0]
    return best["model"], (f"{best['label']} is chosen: its holdout error is lower than BG/NBD's beyond its sampling "
                           f"noise (mean squared error {best['mse']:.3g} against "
                           f"{float(ok.loc[ok['model'] == REFERENCE, 'mse'].iloc[0]):.3g}; paired bootstrap over "
                           f"clients at {level:.1%}).")


def choose_without_holdout(fits: dict) -> tuple[str, str]:
    """Without a back-test: the simplest model that fits, unless another's BIC is lower by more than
    :data:`BIC_MARGIN`.

    Parameters
    ----------
    fits : dict
        Registry name -> fitted model (or an Exception), in registry order (simplest first).

    Returns
    -------
    (str, str)
        Registry name and a sentence for the page.
    """
    ok = {n: m for n, m in fits.items() if not isinstance(m, Exception) and m is not None
          and m.fit_.get("converged", True) and np.isfinite(m.loglik_)}
    if not ok:
        raise ValueError("no purchase model could be fitted")
    simplest = next(iter(ok))
    bics = {n: m.bic() for n, m in ok.items()}
    best = min(bics, key=bics.get)
    if bics[simplest] - bics[best] > BIC_MARGIN:
        return best, (f"Without a back-test the choice rests on fit alone: {ok[best].label}'s BIC is lower than "
                      f"{ok[simplest].label}'s by {bics[simplest] - bics[best]:.0f} (more than {BIC_MARGIN:.0f}).")
    return simplest, (f"Without a back-test the simplest model that fits is kept: {ok[simplest].label} (no model's BIC is "
                      f"lower by more than {BIC_MARGIN:.0f}).")
