"""MBG/NBD (Batislam, Denizel & Filiztekin 2007, "Empirical validation and comparison of models for
customer base analysis", *International Journal of Research in Marketing* 24(3)).

BG/NBD with one change: a client may also drop out right after the first purchase, so a client
without repeat purchases is not certain to be active. After the first purchase and after each
repeat purchase the client drops out with probability p ~ Beta(a, b); while active it buys at a
Poisson rate lambda ~ Gamma(r, alpha). Given it is active, p ~ Beta(a, b + x + 1).

Likelihood: B(a, b + x + 1) / B(a, b) * Gamma(r + x) alpha^r / Gamma(r) * [(alpha + T)^-(r + x)
+ a / (b + x) * (alpha + t_x)^-(r + x)] (every x, 0 included). P(alive) = 1 / (1 + a / (b + x)
((alpha + T) / (alpha + t_x))^(r + x)). The expectations are those of BG/NBD with b + x + 1 in
place of b + x (evaluated the same robust way); E[X(t)] of a new client is b / (a + b) times the
expectation of an active client with p ~ Beta(a, b + 1).

Written here (no maintained library fits it by maximum likelihood; ``lifetimes``, unmaintained,
did).
"""
from __future__ import annotations

import numpy as np
from scipy import special

from .bgnbd import BetaGeoModel, _alive_expectation, _nb_cdf_below, _nb_log_pmf

__all__ = ["ModifiedBetaGeoModel"]


class ModifiedBetaGeoModel(BetaGeoModel):
    """MBG/NBD purchase model (Batislam et al. 2007) fitted by maximum likelihood.

    Parameters, attributes and methods as :class:`~clientstrategy.models.bgnbd.BetaGeoModel`.

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"x": [0, 2, 5, 1], "t_x": [0.0, 20.0, 30.0, 3.0], "T": [39.0] * 4})
    >>> ModifiedBetaGeoModel().fit(s).name
    'mbgnbd'
    """

    name = "mbgnbd"
    label = "MBG/NBD"
    _shift = 1

    def _p_alive(self, x, t_x, T):
        r, alpha, a, b = self._p()
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            log_odds = np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
            return special.expit(-log_odds)

    def _expected_alive(self, t, x, T):
        r, alpha, a, b = self._p()
        return _alive_expectation(t, r + x, alpha + T, a, b + x + 1, a + b + x)

    def _population(self, t):
        r, alpha, a, b = self._p()
        flat = np.ravel(t)
        out = b / (a + b) * _alive_expectation(flat, r, alpha, a, b + 1, a + b)
        return out.reshape(np.shape(t))

    def _pmf(self, k, t):
        """P(X(t) = k): (1-p)^(k+1) Poisson(k) + p (1-p)^k P(N >= k), mixed over p and lambda."""
        r, alpha, a, b = self._p()
        k = np.asarray(k, float)
        lb = special.betaln(a, b)
        lp = _nb_log_pmf(k, r, alpha, t)
        alive = np.exp(special.betaln(a, b + k + 1) - lb)[None, :] * np.exp(lp)
        drop = np.exp(special.betaln(a + 1, b + k) - lb)[None, :]
        return alive + drop * (1 - _nb_cdf_below(k, r, alpha, t))
