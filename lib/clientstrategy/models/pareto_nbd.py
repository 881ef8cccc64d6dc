"""Pareto/NBD (Schmittlein, Morrison & Colombo 1987, "Counting your customers: who are they and what
will they do next?", *Management Science* 33(1)), fitted by maximum likelihood as in Fader & Hardie
(2005), "A note on deriving the Pareto/NBD model and related expressions".

While active a client buys at a Poisson rate lambda ~ Gamma(r, alpha); its lifetime is exponential
with rate mu ~ Gamma(s, beta), independent of lambda: drop-out can happen at any time, not only at
a purchase. Time is in weeks.

The likelihood of (x, t_x, T) is

    Gamma(r + x) alpha^r beta^s / Gamma(r) * [ (alpha + T)^-(r + x) (beta + T)^-s
                                              + s * integral_{t_x}^{T} (alpha + y)^-(r + x) (beta + y)^-(s + 1) dy ]

(the second term: the client died at y between its last purchase and T). The literature writes the
integral with two Gaussian hypergeometric functions (Fader & Hardie's A_0, whose 2F1 arguments
depend on whether alpha >= beta) and takes their difference; that overflows for heavy buyers and
cancels when t_x is close to T. Here the integral itself is evaluated, in logs, by the Gauss-Legendre
rule of :func:`~clientstrategy.models.base.log_power_integral` (the integral form), and the two
terms are added in log space (log-sum-exp): finite for every client and every parameter in the fit's
box, and its analytic gradient comes from the same nodes. P(alive) is the share of the first term;
P(any purchase in the next t) needs one more integral of the same form.

No maintained Python library fits it by maximum likelihood (``lifetimes`` is unmaintained;
``pymc-marketing`` fits it by MCMC), so it is written here.
"""
from __future__ import annotations

import numpy as np
from scipy import special

from .base import LOG_BOUND, PurchaseModel, lifetime_window, log_power_integral

__all__ = ["ParetoNBDModel"]

_GL_X, _GL_W = np.polynomial.legendre.leggauss(48)


class ParetoNBDModel(PurchaseModel):
    """Pareto/NBD purchase model fitted by maximum likelihood.

    Attributes
    ----------
    params_ : dict
        ``r``, ``alpha`` (weeks), ``s``, ``beta`` (weeks).
    loglik_, n_, fit_
        As for :class:`~clientstrategy.models.bgnbd.BetaGeoModel`; ``regime`` is ``no_dropout``
        (s at its lower bound, beta at its upper bound, or a mean drop-out rate s/beta below 1e-4
        per week), ``constant_dropout`` (s above 200: every client has the same drop-out rate) or
        ``interior``.

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"x": [0, 2, 5, 1, 0], "t_x": [0.0, 20.0, 30.0, 3.0, 0.0], "T": [39.0] * 5})
    >>> sorted(ParetoNBDModel().fit(s).params_)
    ['alpha', 'beta', 'r', 's']
    """

    name = "pareto_nbd"
    label = "Pareto/NBD"
    param_names = ("r", "alpha", "s", "beta")

    def _start(self, data):
        return np.log([1.0, max(data["mean_T"], 1e-3), 1.0, max(data["mean_T"], 1e-3)])

    def _loglik(self, logp, data):
        r, alpha, s, beta = np.exp(logp)
        x, t_x, T, xs, inv = data["x"], data["t_x"], data["T"], data["xs"], data["xinv"]
        g_rx = special.gammaln(r + xs) - special.gammaln(r)
        d_r = special.digamma(r + xs) - special.digamma(r)
        lpa_T, lpb_T = np.log1p(T / alpha), np.log1p(T / beta)
        # log of the "alive at T" term and of the "died in (t_x, T)" term, both without -x log alpha
        A = -(r + x) * lpa_T - s * lpb_T
        lg, dg = log_power_integral(t_x, T, alpha, r + x, beta, s + 1, grad=True)
        B = np.log(s) - np.log(beta) + lg
        top = np.logaddexp(A, B)
        ll = g_rx[inv] - x * np.log(alpha) + top
        wa = np.exp(A - top)
        wb = 1 - wa
        g_r = d_r[inv] + wa * (-lpa_T) + wb * dg["c1"]
        g_alpha = -x / alpha + wa * (r + x) * T / (alpha * (alpha + T)) + wb * dg["a1"]
        g_s = wa * (-lpb_T) + wb * (1 / s + dg["c2"])
        g_beta = wa * s * T / (beta * (beta + T)) + wb * (-1 / beta + dg["a2"])
        return ll, np.vstack([g_r * r, g_alpha * alpha, g_s * s, g_beta * beta])

    def _regime(self) -> str:
        s, beta = self.params_["s"], self.params_["beta"]
        lo, hi = np.exp(-LOG_BOUND + 1e-3), np.exp(LOG_BOUND - 1e-3)
        if s > 200:  # beta at its bound too: the limit s, beta -> infinity with s / beta fixed
            return "constant_dropout"
        if s <= lo or beta >= hi or s / beta < 1e-4:
            return "no_dropout"
        return "interior"

    # closed forms ------------------------------------------------------------------------------
    def _p_alive(self, x, t_x, T):
        r, alpha, s, beta = self._p()
        A = -(r + x) * np.log1p(T / alpha) - s * np.log1p(T / beta)
        B = np.log(s) - np.log(beta) + log_power_integral(t_x, T, alpha, r + x, beta, s + 1)
        return np.exp(A - np.logaddexp(A, B))

    def _expected_alive(self, t, x, T):
        """(r + x) / (alpha + T) * E[time alive in the next t weeks], mu ~ Gamma(s, beta + T)."""
        r, alpha, s, beta = self._p()
        return (r + x) / (alpha + T) * lifetime_window(s - 1, beta + T, t)

    def _p_none_alive(self, t, x, T):
        """P(no purchase in (T, T + t] | alive): dies first or outlives t without a purchase."""
        r, alpha, s, beta = self._p()
        if t <= 0:
            return np.ones(len(x))
        x = np.asarray(x, float)
        T = np.broadcast_to(np.asarray(T, float), x.shape)
        both = -(r + x) * np.log1p(t / (alpha + T)) - s * np.log1p(t / (beta + T))
        dies = (np.log(s) - np.log(beta + T)
                + log_power_integral(0.0, t, alpha + T, r + x, beta + T, s + 1))
        return np.exp(np.logaddexp(both, dies))

    def _population(self, t):
        r, alpha, s, beta = self._p()
        return r / alpha * lifetime_window(s - 1, beta, t)

    def _pmf(self, k, t):
        """P(X(t) = k) = (beta/(beta+t))^s NB(k; t) + int_0^t s beta^s (beta+y)^-(s+1) NB(k; y) dy.

        The integral by 48-point Gauss-Legendre in u = log(beta + y) (smooth there): a figure's
        accuracy (better than 1e-6), not a fit's.
        """
        r, alpha, s, beta = self._p()
        t = np.asarray(t, float)
        k = np.asarray(k, float)
        nb = _nb_pmf(k, r, alpha, t)
        out = np.exp(-s * np.log1p(t / beta))[:, None] * nb
        u0, u1 = np.log(beta), np.log(beta + t)
        uu = u0 + (u1 - u0)[:, None] * (_GL_X[None, :] + 1) / 2
        y = np.exp(uu) - beta  # (len t, nodes)
        w = (u1 - u0)[:, None] / 2 * _GL_W[None, :]
        dens = s * np.exp(-s * np.log1p(y / beta))  # s beta^s (beta + y)^-(s+1) times (beta + y) (Jacobian)
        nby = _nb_pmf(k, r, alpha, y.ravel()).reshape(len(t), -1, len(k))
        out = out + (w[..., None] * dens[..., None] * nby).sum(axis=1)
        return out

    def _draw(self, rows, cols, x, T, pars, weeks, rng):
        """Alive draws: lambda ~ Gamma(r + x, alpha + T), mu ~ Gamma(s, beta + T), remaining
        lifetime ~ Exponential(mu); the purchases are Poisson(lambda min(lifetime, weeks)), spread
        over the share min(lifetime, weeks) / weeks of the horizon."""
        r, alpha, s, beta = (pars[k][cols] for k in self.param_names)
        xr, Tr = x[rows], T[rows]
        lam = rng.gamma(r + xr) / (alpha + Tr)
        mu = rng.gamma(s) / (beta + Tr)
        with np.errstate(divide="ignore"):
            life = rng.standard_exponential(len(rows)) / mu
        window = np.minimum(life, weeks)
        n_arr = rng.poisson(lam * window)
        span = window / weeks if weeks > 0 else np.ones(len(rows))
        return n_arr, n_arr, span


def _nb_pmf(k, r, alpha, t):
    """P(N(t) = k) of the NBD, rows t (any shape flattened), columns k."""
    t = np.ravel(np.asarray(t, float))[:, None]
    k = np.asarray(k, float)[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        lp = (special.gammaln(r + k) - special.gammaln(r) - special.gammaln(k + 1)
              - r * np.log1p(t / alpha) + k * (np.log(t) - np.log(alpha + t)))
    return np.where((t == 0) & (k > 0), 0.0, np.exp(lp))
