"""BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way: an alternative to the
Pareto/NBD model", *Marketing Science* 24(2)).

A client buys at a Poisson rate lambda ~ Gamma(r, alpha) while active and, after each repeat
purchase, drops out with probability p ~ Beta(a, b). Time is in weeks (``alpha`` in weeks).

Written here on numpy/scipy: the ``lifetimes`` package implements it but is unmaintained, and
``pymc-marketing`` fits it on PyMC, a heavy install that is far slower than maximum likelihood
(``make bench`` times both on CDNOW).

The closed forms hold on the whole parameter space, limits included:

* the likelihood (eq. 6) is in logs (log-sum of the "alive" and "dropped after the last purchase"
  terms), with its analytic gradient;
* the expectations (eqs. 9 and 10) use the paper's 2F1 form (Euler-transformed, so heavy buyers do
  not overflow) where it is well conditioned, and otherwise the same expectation as an integral
  over the drop-out probability, E[(1 - E[exp(-lambda p t)]) / p] with p ~ Beta(a, b + x),
  by Gauss-Jacobi quadrature (:func:`~clientstrategy.models.base.beta_rule`): at a = 1 (where the
  closed form is 0/0), a + b + x <= 1 (where its 2F1 is undefined) and a + b > 60 (where its 2F1
  overflows). Both limits of the model come out exactly: no drop-out (a -> 0 or b -> infinity) is
  the NBD, a and b large with a/(a + b) fixed is a constant drop-out chance.
"""
from __future__ import annotations

import numpy as np
from scipy import special

from .base import LOG_BOUND, PurchaseModel, beta_rule

__all__ = ["BetaGeoModel"]

#: Above this a + b the closed form's 2F1 overflows and the Beta(a, b) of the drop-out chance is
#: narrow: quadrature is exact there to machine precision.
_AB_QUADRATURE = 60.0


def _alive_expectation(t, c, rate, a, bx, closed_c):
    """E[(1 - (rate / (rate + p t)) ** c) / p] with p ~ Beta(a, bx), per row.

    ``c`` = r + x, ``rate`` = alpha + T, ``bx`` = b + x (BG/NBD) or b + x + 1 (MBG/NBD); ``closed_c``
    is the closed form's third 2F1 argument a + bx - 1. Closed form where it is well conditioned,
    Gauss-Jacobi quadrature (one rule per distinct bx) elsewhere.
    """
    t, c, rate, bx = np.broadcast_arrays(np.asarray(t, float), np.asarray(c, float), np.asarray(rate, float),
                                         np.asarray(bx, float))
    out = np.where(t > 0, np.nan, 0.0)
    z = t / (rate + t)
    use_closed = (abs(a - 1) > 1e-2) & (a + bx < _AB_QUADRATURE) & (closed_c > 0.5) & (t > 0)
    if np.any(use_closed):
        with np.errstate(all="ignore"):
            cc = np.broadcast_to(closed_c, c.shape)[use_closed]
            zc = z[use_closed]
            tail = (1 - zc) ** (a - 1) * special.hyp2f1(cc - c[use_closed], a - 1, cc, zc)
            val = cc / (a - 1) * (1 - tail)
        # NBD bound: the expectation lies in [0, c t / rate]
        ok = (np.isfinite(val) & (val >= -1e-12)
              & (val <= c[use_closed] * t[use_closed] / rate[use_closed] * (1 + 1e-9)))
        idx = np.flatnonzero(use_closed)
        out[idx[ok]] = np.maximum(val[ok], 0.0)
    todo = np.isnan(out)
    if np.any(todo):
        k = (t / rate)[todo]
        cv, bv = c[todo], bx[todo]
        res = np.empty(len(cv))
        for b_val in np.unique(bv):
            sel = bv == b_val
            p, w = beta_rule(a, float(b_val))
            pk = p[None, :] * k[sel, None]
            # (1 - (1 + p k) ** -c) / p, and its limit c k at p = 0
            g = -np.expm1(-cv[sel, None] * np.log1p(pk)) / np.where(p > 0, p, 1.0)[None, :]
            g = np.where(p[None, :] > 0, g, cv[sel, None] * k[sel, None])
            res[sel] = (g * w[None, :]).sum(axis=1)
        out[todo] = res
    return out


def _nb_log_pmf(k, r, alpha, t):
    """log P(N(t) = k) of the NBD (Poisson rate ~ Gamma(r, alpha)), rows t x columns k."""
    t = np.asarray(t, float)[:, None]
    k = np.asarray(k, float)[None, :]
    with np.errstate(divide="ignore"):
        return (special.gammaln(r + k) - special.gammaln(r) - special.gammaln(k + 1)
                - r * np.log1p(t / alpha) + k * (np.log(t) - np.log(alpha + t)))


def _nb_cdf_below(k, r, alpha, t):
    """P(N(t) < k) for k = 0, 1, ... (columns), rows t."""
    lp = _nb_log_pmf(np.arange(max(int(np.max(k)), 1)), r, alpha, t)
    cum = np.cumsum(np.exp(lp), axis=1)
    return np.hstack([np.zeros((len(np.atleast_1d(t)), 1)), cum])[:, np.asarray(k, int)]


class BetaGeoModel(PurchaseModel):
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
    fit_ : dict
        The fit report (see :class:`~clientstrategy.models.base.Model`); ``regime`` is
        ``no_dropout`` (a at its lower bound or b at its upper bound, or a mean drop-out chance
        a / (a + b) below 0.1%: the fit is the NBD), ``constant_dropout`` (a + b above 200: every
        client has the same drop-out chance) or ``interior``.

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"x": [0, 2, 5, 1], "t_x": [0.0, 20.0, 30.0, 3.0], "T": [39.0] * 4})
    >>> m = BetaGeoModel().fit(s)
    >>> sorted(m.params_)
    ['a', 'alpha', 'b', 'r']
    """

    #: Registry name (``MODELS``, ``model_to_dict``).
    name = "bgnbd"
    #: Label for pages.
    label = "BG/NBD"
    param_names = ("r", "alpha", "a", "b")
    #: Shift of the drop-out count: drop-out is possible after repeat purchases only (0), or also
    #: right after the first purchase (1, MBG/NBD).
    _shift = 0

    def _start(self, data):
        # deterministic start: r = 1, alpha = mean T (the rate's scale), a = b = 1
        return np.log([1.0, max(data["mean_T"], 1e-3), 1.0, 1.0])

    def _loglik(self, logp, data):
        """Per-row log-likelihood (FHL 2005 eq. (6); MBG/NBD with the shift) and its gradient.

        The gamma-function terms depend on x only and are computed once per distinct x. Written in
        logs (logaddexp of the "alive" and "dropped out after the last purchase" terms) so heavy
        buyers do not overflow; analytic gradient (digammas).
        """
        r, alpha, a, b = np.exp(logp)
        x, t_x, T, xs, inv = data["x"], data["t_x"], data["T"], data["xs"], data["xinv"]
        sh = self._shift
        g_rx = special.gammaln(r + xs) - special.gammaln(r)
        g_beta = (special.gammaln(b + xs + sh) - special.gammaln(a + b + xs + sh)
                  - special.gammaln(b) + special.gammaln(a + b))
        d_r = special.digamma(r + xs) - special.digamma(r)
        d_abx = special.digamma(a + b + xs + sh)
        d_ab = special.digamma(a + b)
        d_a = d_ab - d_abx
        d_b = special.digamma(b + xs + sh) - d_abx - special.digamma(b) + d_ab
        log_alpha = np.log(alpha)
        l_T = np.log(alpha + T)
        l_tx = np.log(alpha + t_x)
        bx1 = np.maximum(b + x - 1 + sh, 1e-300)
        term_alive = -(r + x) * l_T
        with np.errstate(divide="ignore", invalid="ignore"):
            can_drop = (x > 0) if sh == 0 else np.ones(len(x), bool)
            term_drop = np.where(can_drop, np.log(a) - np.log(bx1) - (r + x) * l_tx, -np.inf)
        top = np.logaddexp(term_alive, term_drop)
        ll = (g_rx + g_beta)[inv] + r * log_alpha + top
        w_drop = np.exp(term_drop - top)
        w_alive = 1 - w_drop
        g_r = d_r[inv] + log_alpha - w_alive * l_T - w_drop * l_tx
        g_alpha = r / alpha - (r + x) * (w_alive / (alpha + T) + w_drop / (alpha + t_x))
        g_a = d_a[inv] + w_drop / a
        g_b = d_b[inv] - w_drop / bx1
        return ll, np.vstack([g_r * r, g_alpha * alpha, g_a * a, g_b * b])

    def _regime(self) -> str:
        a, b = self.params_["a"], self.params_["b"]
        lo, hi = np.exp(-LOG_BOUND + 1e-3), np.exp(LOG_BOUND - 1e-3)
        if a <= lo or b >= hi or a / (a + b) < 1e-3:
            return "no_dropout"
        if a + b > 200:
            return "constant_dropout"
        return "interior"

    # closed forms on arrays --------------------------------------------------------------------
    def _p_alive(self, x, t_x, T):
        """P(alive) (FHL 2005 eq. (13)); 1 for clients without repeat purchases."""
        r, alpha, a, b = self._p()
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            log_odds = (np.log(a) - np.log(np.maximum(b + x - 1, 1e-300))
                        + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x)))
            p = special.expit(-log_odds)
        return np.where(x > 0, p, 1.0)

    def _expected_alive(self, t, x, T):
        r, alpha, a, b = self._p()
        return _alive_expectation(t, r + x, alpha + T, a, b + x, a + b + x - 1)

    def _p_none_alive(self, t, x, T):
        r, alpha = self._p()[:2]
        return (1 + t / (alpha + T)) ** (-(r + x))

    def _population(self, t):
        r, alpha, a, b = self._p()
        flat = np.ravel(t)
        out = _alive_expectation(flat, r, alpha, a, b, a + b - 1)
        return out.reshape(np.shape(t))

    def _pmf(self, k, t):
        """P(X(t) = k) of a new client (FHL 2005 eq. (8)), rows t, columns k."""
        r, alpha, a, b = self._p()
        k = np.asarray(k, float)
        lb = special.betaln(a, b)
        lp = _nb_log_pmf(k, r, alpha, t)
        first = np.exp(special.betaln(a, b + k) - lb)[None, :] * np.exp(lp)
        drop = np.where(k > 0, np.exp(special.betaln(a + 1, b + np.maximum(k, 1) - 1) - lb), 0.0)
        return first + drop[None, :] * (1 - _nb_cdf_below(k, r, alpha, t))

    def _draw(self, rows, cols, x, T, pars, weeks, rng):
        """Alive draws: lambda ~ Gamma(r + x, alpha + T), N ~ Poisson(lambda weeks), p ~ Beta(a,
        b + x), J ~ Geometric(p) purchases until drop-out; the count is min(N, J). p and J only
        matter when N >= 2 (J >= 1 always), so they are drawn for those only."""
        r, alpha, a, b = (pars[k][cols] for k in self.param_names)
        xr = x[rows]
        lam = rng.gamma(r + xr) / (alpha + T[rows])
        n_arr = rng.poisson(lam * weeks)
        k = n_arr.copy()
        multi = n_arr >= 2
        drop = np.clip(rng.beta(a[multi], b[multi] + xr[multi] + self._shift), 1e-12, 1.0)
        k[multi] = np.minimum(n_arr[multi], rng.geometric(drop))
        return k, n_arr, None

