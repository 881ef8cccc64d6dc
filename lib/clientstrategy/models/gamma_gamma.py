"""Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value curves for
customer base analysis", *Journal of Marketing Research* 42(4)).

A client's spend per purchase is Gamma(p, nu) with nu ~ Gamma(q, v) across clients, independent of
how often it buys. Fitted on the mean spend ``monetary`` of the clients' ``x > 0`` repeat purchases.
Written on numpy/scipy (maximum likelihood with an analytic gradient).

Two checks the page reports: the model assumes spend independent of frequency
(:func:`spend_frequency_correlation`, warned past :data:`CORRELATION_WARNING`), and its population
mean spend p v / (q - 1) exists only for q > 1: with q <= 1 the expected spend of a client without a
repeat purchase is undefined and :meth:`GammaGammaModel.expected_spend` says so instead of returning
NaN.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special, stats

from .base import SpendModel, rng_of, row_weights, summary_arrays

__all__ = ["CORRELATION_WARNING", "GammaGammaModel", "SpendUndefinedError", "spend_frequency_correlation"]

#: The page warns when the correlation of spend and frequency among repeat buyers is larger than
#: this in size (Fader, Hardie & Lee report 0.11 on CDNOW and treat it as independence).
CORRELATION_WARNING = 0.3


class SpendUndefinedError(ValueError):
    """The spend model's mean does not exist for some clients (q <= 1)."""


def spend_frequency_correlation(summary: pd.DataFrame) -> dict:
    """Correlation of mean spend and number of repeat purchases among repeat buyers.

    Parameters
    ----------
    summary : DataFrame
        ``x`` and ``monetary``.

    Returns
    -------
    dict
        ``pearson`` (of x and monetary), ``spearman``, ``n`` (repeat buyers), ``threshold``
        (:data:`CORRELATION_WARNING`) and ``warn`` (True when either is past the threshold in size);
        correlations None with fewer than three repeat buyers or no spread.

    Examples
    --------
    >>> s = pd.DataFrame({"x": [1, 2, 3, 4, 0], "monetary": [10.0, 20.0, 30.0, 40.0, 0.0]})
    >>> spend_frequency_correlation(s)["warn"]
    True
    """
    x, m = summary_arrays(summary, ("x", "monetary"))
    keep = (x > 0) & (m > 0)
    x, m = x[keep], m[keep]
    out = {"pearson": None, "spearman": None, "n": int(keep.sum()), "threshold": CORRELATION_WARNING, "warn": False}
    if len(x) >= 3 and np.ptp(x) > 0 and np.ptp(m) > 0:
        out["pearson"] = float(round(np.corrcoef(x, m)[0, 1], 6))
        out["spearman"] = float(round(stats.spearmanr(x, m).statistic, 6))
        out["warn"] = bool(max(abs(out["pearson"]), abs(out["spearman"])) > CORRELATION_WARNING)
    return out


class GammaGammaModel(SpendModel):
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
    fit_ : dict
        Fit report (see :class:`~clientstrategy.models.base.Model`), plus ``mean_exists`` (q > 1).

    Examples
    --------
    >>> s = pd.DataFrame({"x": [1, 2, 3, 1, 4], "monetary": [10.0, 20.0, 15.0, 40.0, 12.0]})
    >>> sorted(GammaGammaModel().fit(s).params_)
    ['p', 'q', 'v']
    """

    #: Registry name (``MODELS``, ``model_to_dict``).
    name = "gamma_gamma"
    label = "Gamma-Gamma"
    param_names = ("p", "q", "v")

    def _prepare(self, summary, weights):
        x, m = summary_arrays(summary, ("x", "monetary"))
        rw = row_weights(weights, len(x))
        keep = (x > 0) & (m > 0) & (rw > 0)
        if keep.sum() < 2:
            raise ValueError("summary has fewer than two clients with x > 0 and 'monetary' > 0")
        inv = np.full(len(x), -1)
        inv[keep] = np.arange(keep.sum())
        x, m, w = x[keep], m[keep], rw[keep]
        xs, xinv = np.unique(x, return_inverse=True)
        return {"x": x, "m": m, "w": w, "inv": inv, "lm": np.log(m), "lx": np.log(x), "xs": xs,
                "xinv": xinv.ravel()}

    def _start(self, data):
        # deterministic start: p = q = 2 (finite mean), v = mean spend (the scale)
        return np.log([2.0, 2.0, float(np.mean(data["m"]))])

    def _loglik(self, logp, data):
        """Gamma-Gamma likelihood of the mean spend m_x of x purchases, and its gradient.

        The gamma-function terms depend on x only and are computed once per distinct x (a few dozen
        values), not once per client: the bootstrap evaluates this some 1,400 times.
        """
        p, q, v = np.exp(logp)
        x, m, lm, lx, xs, inv = data["x"], data["m"], data["lm"], data["lx"], data["xs"], data["xinv"]
        pxs = p * xs
        dig = special.digamma(pxs + q)
        g_x = (special.gammaln(pxs + q) - special.gammaln(pxs) - special.gammaln(q) + q * np.log(v))[inv]
        d_p = (dig - special.digamma(pxs))[inv]
        d_q = (dig - special.digamma(q) + np.log(v))[inv]
        px = p * x
        xm = v + x * m
        lvxm = np.log(xm)
        ll = g_x + (px - 1) * lm + px * lx - (px + q) * lvxm
        g_p = x * (d_p + lm + lx - lvxm)
        g_q = d_q - lvxm
        g_v = q / v - (px + q) / xm
        return ll, np.vstack([g_p * p, g_q * q, g_v * v])

    def fit(self, summary: pd.DataFrame, weights=None, start: dict | None = None) -> GammaGammaModel:
        """Fit p, q, v by maximum likelihood on the clients with x > 0 (see :meth:`Model.fit`).

        Examples
        --------
        >>> s = pd.DataFrame({"x": [1, 2, 3, 1, 4], "monetary": [10.0, 20.0, 15.0, 40.0, 12.0]})
        >>> GammaGammaModel().fit(s).n_
        5
        """
        super().fit(summary, weights=weights, start=start)
        self.fit_["mean_exists"] = bool(self.params_["q"] > 1)
        return self

    def log_likelihood(self, summary: pd.DataFrame) -> np.ndarray:
        """Log-likelihood of each repeat buyer's mean spend (NaN for rows the model does not fit)."""
        self._p()
        data = self._prepare(summary, None)
        ll, _ = self._loglik(np.log([self.params_[k] for k in self.param_names]), data)
        out = np.full(len(data["inv"]), np.nan)
        out[data["inv"] >= 0] = ll[data["inv"][data["inv"] >= 0]]
        return out

    def expected_spend(self, summary: pd.DataFrame) -> np.ndarray:
        """Conditional expected spend per purchase, E[Z | x, m_x] = p (v + x m_x) / (p x + q - 1).

        Parameters
        ----------
        summary : DataFrame
            Columns ``x`` and ``monetary``.

        Returns
        -------
        ndarray
            Expected spend per row; clients with x == 0 get the population mean p v / (q - 1).

        Raises
        ------
        SpendUndefinedError
            When q <= 1 makes the mean undefined for some rows (p x + q <= 1: the population mean
            for clients without a repeat purchase), with the reason in words.

        Examples
        --------
        >>> g = GammaGammaModel(); g.params_ = {"p": 6.25, "q": 3.74, "v": 15.44}
        >>> round(float(g.expected_spend(pd.DataFrame({"x": [0], "monetary": [0.0]}))[0]), 4)
        35.219
        """
        p, q, v = self._p()
        x, m = summary_arrays(summary, ("x", "monetary"))
        m = np.where(x > 0, m, 0.0)
        den = p * x + q - 1
        if (den <= 0).any():
            raise SpendUndefinedError(
                f"the spend model's q is {q:.3g}, at or below 1: spend per purchase is so heavy-tailed that its "
                f"mean does not exist, so {int((den <= 0).sum()):,} clients (those without enough repeat "
                "purchases of their own) have no expected spend; lifetime value in money cannot be computed for them")
        return p * (v + x * m) / den

    def draw_revenue(self, counts, summary: pd.DataFrame,
                     random_state: int | np.random.Generator = 0, fits=None) -> np.ndarray:
        """Revenue of drawn purchase counts, spend drawn from the model given each client's history.

        Per client and draw: nu ~ Gamma(p x + q, rate v + x m_x) (the posterior of the client's
        spend rate), then the revenue of K purchases is Gamma(p K, rate nu), the exact sum of K
        spends Gamma(p, rate nu).

        Parameters
        ----------
        counts : array-like of int
            Purchases per client (rows of ``summary``) and draw, shape ``(len(summary), n_draws)``,
            e.g. from :meth:`PurchaseModel.draw_purchases`.
        summary : DataFrame
            Columns ``x`` and ``monetary``.
        random_state : int or numpy Generator
            Seed (or generator) of the draws.
        fits : list of GammaGammaModel, optional
            Bootstrap refits: draw d uses ``fits[d % len(fits)]``.

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
        x, m = summary_arrays(summary, ("x", "monetary"))
        m = np.where(x > 0, m, 0.0)
        k = np.asarray(counts)
        if k.ndim != 2 or k.shape[0] != len(x):
            raise ValueError(f"counts must have shape (len(summary), n_draws) = ({len(x)}, n), got {k.shape}")
        if (k < 0).any():
            raise ValueError("counts must be non-negative")
        rng = rng_of(random_state)
        models = [self] if not fits else list(fits)
        par = np.array([mm._p() for mm in models])[np.arange(k.shape[1]) % len(models)]  # (draws, 3)
        out = np.zeros(k.shape)
        buy = k > 0
        rows, cols = np.nonzero(buy)
        pp, qq, vv = par[cols, 0], par[cols, 1], par[cols, 2]
        nu = rng.gamma(pp * x[rows] + qq) / (vv + x[rows] * m[rows])
        out[rows, cols] = rng.gamma(pp * k[rows, cols]) / nu
        return out
