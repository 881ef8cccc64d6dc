"""What every model of the subpackage shares: input checks, the maximum-likelihood fit and its report,
predictive draws, and the quadrature rules the closed forms fall back on.

Nothing here is specific to one model: a model family is a subclass of :class:`PurchaseModel` (or of
:class:`SpendModel`) that states its parameters, its log-likelihood with gradient, its closed forms
and how to draw one client's future. The fit (:meth:`Model.fit`) is L-BFGS-B on the log-parameters
within ``[exp(-LOG_BOUND), exp(LOG_BOUND)]``, from a deterministic start or a warm start (the
bootstrap refits start from the full fit), followed by a report (:attr:`Model.fit_`): whether the
optimiser converged, which parameters sit at or near a bound, the condition number of the Hessian of
the log-likelihood and the standard errors it gives.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import pandas as pd
from scipy import linalg, optimize, special

__all__ = [
    "LOG_BOUND",
    "NEAR_BOUND",
    "Model",
    "PurchaseModel",
    "SpendModel",
    "central_hessian",
    "discrete_bounds",
    "log_power_integral",
    "mean_nll",
    "require",
    "row_weights",
    "summary_arrays",
]

#: Fitted parameters are kept within exp(-LOG_BOUND) .. exp(LOG_BOUND) (6e-6 .. 162,755).
LOG_BOUND = 12.0
#: A parameter within this distance of a bound on the log scale (a factor of e**2.3 = 10) is "near" it.
NEAR_BOUND = np.log(10.0)
_CHUNK_PAIRS = 2_000_000  # client x draw pairs simulated at once (bounds memory)


# --------------------------------------------------------------------------------------------
# checks
# --------------------------------------------------------------------------------------------
def require(df, columns, table: str) -> None:
    """Raise ValueError naming the first of ``columns`` that ``table`` lacks."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{table} must be a pandas DataFrame, got {type(df).__name__}")
    for c in columns:
        if c not in df.columns:
            raise ValueError(f"{table} table lacks required column {c!r}")


def summary_arrays(summary: pd.DataFrame, need=("x", "t_x", "T")):
    """The ``need`` columns of ``summary`` as float arrays, checked (numeric, non-negative, t_x <= T)."""
    require(summary, need, "summary")
    out = []
    for c in need:
        v = pd.to_numeric(summary[c], errors="coerce").to_numpy(float)
        if np.isnan(v).any():
            raise ValueError(f"summary column {c!r} has missing or non-numeric values")
        if (v < 0).any():
            raise ValueError(f"summary column {c!r} has negative values")
        out.append(v)
    if "t_x" in need and "T" in need:
        i, j = need.index("t_x"), need.index("T")
        if (out[i] > out[j] + 1e-9).any():
            raise ValueError("summary column 't_x' exceeds 'T' for some clients")
    return out


def row_weights(weights, n: int) -> np.ndarray:
    """Row weights of a fit as a float array (1 each when ``weights`` is None), checked."""
    if weights is None:
        return np.ones(n)
    w = np.asarray(weights, float).ravel()
    if len(w) != n:
        raise ValueError(f"weights has {len(w)} values for {n} summary rows")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("weights must be finite and non-negative")
    if not (w > 0).any():
        raise ValueError("weights are zero for every row: nothing to fit")
    return w


def rng_of(random_state) -> np.random.Generator:
    """A numpy Generator from a seed, or the Generator itself."""
    return random_state if isinstance(random_state, np.random.Generator) else np.random.default_rng(random_state)


def discrete_bounds(draws, level):
    """Inclusive bounds per row: smallest v with F(v) >= (1-level)/2 and with F(v) >= (1+level)/2."""
    q = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2], axis=1, method="inverted_cdf")
    return q[0].astype(float), q[1].astype(float)


def check_level(level: float) -> float:
    level = float(level)
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    return level


def _r(v):
    """A float for JSON: None when not finite."""
    v = float(v)
    return v if np.isfinite(v) else None


# --------------------------------------------------------------------------------------------
# quadrature
# --------------------------------------------------------------------------------------------
def _gauss_legendre(n: int):
    """n-point Gauss-Legendre nodes and log weights on [0, 1]."""
    x, w = np.polynomial.legendre.leggauss(n)
    return (x + 1) / 2, np.log(w / 2)


_GL_NODES, _GL_LOG_WEIGHTS = _gauss_legendre(8)  # per panel
_PANELS = 6  # geometric panels on each side of the integrand's peak: the first is 1/63 of the side
_EVEN = 8  # and an even grid of 8 panels over the whole range


def _panel_terms(ua, h, pe_a, pe_b):
    """Nodes (u) and log-weights of Gauss-Legendre on panels [ua, ua + h] after taking out the
    exponential through the panel's end values pe_a, pe_b (integrated exactly)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        pos = h > 0
        sigma = np.where(pos, (pe_b - pe_a) / np.where(pos, h, 1.0), 0.0)
        sigma[~np.isfinite(sigma)] = 0.0
        sh = sigma * h
        small = np.abs(sh) < 1e-6
        safe = np.where(small, 1.0, sigma)
        em = np.expm1(sh)
        span = np.where(small, h * (1 + sh / 2), em / safe)
        v, log_w = _GL_NODES, _GL_LOG_WEIGHTS
        t = np.log1p(v * em[..., None])  # sigma * (u - ua) at the nodes
        uu = ua[..., None] + t / safe[..., None]
        if small.any():  # the substitution's limit: the nodes spread evenly
            hv = h[small][:, None] * v
            uu[small] = ua[small][:, None] + hv
            t[small] = sigma[small][:, None] * hv
        lw = (log_w + np.log(np.maximum(span, 1e-300))[..., None]) - t
    return uu, lw


#: The rules of :func:`log_power_integral`, by how the rows' integrand behaves over their range.
_RULE_PEAK, _RULE_PEAK_HARD, _RULE_ONE, _RULE_GEO2, _RULE_GEO4, _RULE_END_HARD = range(6)


def _geometric(peak, far, k: int):
    """Panel edges from ``peak`` to ``far`` whose widths double away from the peak (k panels)."""
    frac = (2.0 ** np.arange(k + 1) - 1) / (2.0**k - 1)
    return np.sort(peak[:, None] + (far - peak)[:, None] * frac[None, :], axis=1)


def _power_terms(u_lo, u_hi, peak, m, a1, c1, a2, c2, rule: int):
    """Nodes of one rule's rows (see log_power_integral): the log integrand plus log weight at each
    node, and at each node e**u, log(1 + y/m) and log(1 + y/a_o) (the gradient's factors), where
    m = min(a1, a2) and a_o = max(a1, a2).

    In u = log(m + y) the factor of the smaller a is exact, log(1 + y/m) = u - log m, and the other is
    log(e**u + delta) - log(a_o), delta = a_o - m: one exp and one log per node.
    """
    first = a1 <= a2
    c_m, c_o = np.where(first, c1, c2)[:, None], np.where(first, c2, c1)[:, None]
    a_o = np.maximum(a1, a2)[:, None]
    lm, la_o, delta = np.log(m)[:, None], np.log(a_o), a_o - m[:, None]

    def psi(u):
        return u - c_m * (u - lm) - c_o * (np.log(np.exp(u) + delta) - la_o)

    far = np.where(peak <= u_lo, u_hi, u_lo)
    if rule in (_RULE_PEAK_HARD, _RULE_END_HARD):
        even = u_lo[:, None] + (u_hi - u_lo)[:, None] * np.linspace(0, 1, _EVEN + 1)[None, :]
        if rule == _RULE_END_HARD:  # the side beyond the peak has no width: its panels are not made
            edges = np.sort(np.hstack([_geometric(peak, far, _PANELS)[:, 1:-1], even]), axis=1)
        else:
            edges = np.sort(np.hstack([_geometric(peak, u_lo, _PANELS), _geometric(peak, u_hi, _PANELS)[:, 1:],
                                       even]), axis=1)
    elif rule == _RULE_PEAK:
        edges = np.column_stack([u_lo, peak, u_hi])
    elif rule == _RULE_ONE:
        edges = np.column_stack([u_lo, u_hi])
    else:
        edges = _geometric(peak, far, 2 if rule == _RULE_GEO2 else 4)
    lo_e, hi_e = edges[:, :-1], edges[:, 1:]
    uu, lw = _panel_terms(lo_e, hi_e - lo_e, psi(lo_e), psi(hi_e))
    uu = uu.reshape(len(u_lo), -1)
    e = np.exp(uu)
    L_m = np.maximum(uu - lm, 0.0)  # log(1 + y/m), y = e**u - m >= 0
    L_o = np.maximum(np.log(e + delta) - la_o, 0.0)
    terms = lw.reshape(len(u_lo), -1) + uu - c_m * L_m - c_o * L_o
    return terms, e, L_m, L_o


def log_power_integral(lo, hi, a1, c1, a2, c2, grad: bool = False):
    """log of  G = integral over y in [lo, hi] of (1 + y/a1)**(-c1) * (1 + y/a2)**(-c2) dy.

    The Pareto/NBD's likelihood, P(alive) and P(any purchase) all rest on this integral (the
    "A_0" term that Fader & Hardie's 2005 note writes with two Gaussian hypergeometric functions,
    2F1(r+s+x, s+1; r+s+x+1; (alpha-beta)/(alpha+y)) or its mirror, whose difference is taken).
    Those 2F1 terms overflow for heavy buyers and lose every digit in their difference when t_x is
    close to T, so the integral is evaluated directly, in logs, by Gauss-Legendre quadrature:

    * in u = log(m + y), m = min(a1, a2), where the integrand (times the Jacobian) is log-concave:
      one smooth bump whose peak is found in closed form;
    * on each panel the exponential through the panel's end values is integrated exactly (the
      substitution v = (exp(sigma (u - u_a)) - 1) / (exp(sigma h) - 1)), so the rule only has to
      integrate what is left, which is flat at both ends;
    * the panels, 8 nodes each, follow how the integrand behaves over the row's range:

      - where its log's slope changes by at most 2 (``bend``) and the peak is at one end (the
        integrand falls monotonically: most rows of real data), panels doubling in width away from
        the peak, one, two or four as it falls by at most e, e**3 or more (``drop``);
      - where the peak is inside and the integrand falls by at most e**3, two panels split at it;
      - elsewhere the panels cut by two grids, doubling away from the peak (6 a side) and even
        (8 panels).

    Tested against adaptive quadrature over wide parameter ranges (within 5e-5 of the integral),
    and within 3e-6, value and gradient, on the rows of a CDNOW-like book at its optimum, where a
    fit spends its time (``tests/test_models.py``). On CDNOW (11,104 distinct rows) one evaluation
    with its gradient takes about 11 ms.

    Parameters
    ----------
    lo, hi, a1, c1, a2, c2 : array-like
        Broadcast together; ``0 <= lo <= hi``, ``a1, a2 > 0``, ``c1, c2 >= 0``.
    grad : bool
        Also return the derivatives of log G with respect to ``a1``, ``c1``, ``a2``, ``c2``.

    Returns
    -------
    logG : ndarray
        log G (``-inf`` where ``lo == hi``).
    dlogG : dict of ndarray, only with ``grad``
        ``a1``, ``c1``, ``a2``, ``c2`` -> d log G / d that (0 where ``lo == hi``).

    Examples
    --------
    >>> lg = log_power_integral(0.0, 10.0, 2.0, 1.5, 2.0, 0.5)  # (1 + y/2)**-2: exact 2 - 2/6
    >>> round(float(np.exp(lg)), 10)
    1.6666666667
    """
    lo, hi, a1, c1, a2, c2 = np.broadcast_arrays(*(np.asarray(v, float) for v in (lo, hi, a1, c1, a2, c2)))
    shape = lo.shape
    lo, hi, a1, c1, a2, c2 = (np.ascontiguousarray(v).ravel() for v in (lo, hi, a1, c1, a2, c2))
    n = len(lo)
    m = np.minimum(a1, a2)
    u0, u1 = np.log(m + lo), np.log(m + hi)
    # the peak: psi'(u) = 1 - c_m - c_o e^u / (e^u + delta), decreasing in u
    first = a1 <= a2
    c_m, c_o = np.where(first, c1, c2), np.where(first, c2, c1)
    delta = np.abs(a1 - a2)
    with np.errstate(divide="ignore", invalid="ignore"):
        qq = (1 - c_m) / c_o
        inner = np.log(delta) + np.log(qq) - np.log1p(-qq)
        f0 = (m + lo) / (m + lo + delta)
        f1 = (m + hi) / (m + hi + delta)
    peak = np.where(1 - c_m <= 0, u0, np.where((qq >= 1) | (delta <= 0), u1, inner))
    peak = np.clip(np.where(np.isfinite(peak), peak, u0), u0, u1)
    bend = c_o * (f1 - f0) * (u1 - u0)  # change of psi' over the range, times the range
    empty = ~(u1 > u0)

    def psi(u, y):
        return -c1 * np.log1p(y / a1) - c2 * np.log1p(y / a2) + u

    top = psi(peak, np.maximum(np.exp(peak) - m, 0.0))
    drop = np.maximum(top - psi(u0, lo), top - psi(u1, hi))  # the integrand falls by e**drop at most
    at_end = (peak <= u0) | (peak >= u1)
    rule = np.where(at_end,
                    np.where(bend > 2.0, _RULE_END_HARD,
                             np.where(drop <= 1.0, _RULE_ONE, np.where(drop <= 3.0, _RULE_GEO2, _RULE_GEO4))),
                    np.where((bend > 2.0) | (drop > 3.0), _RULE_PEAK_HARD, _RULE_PEAK))
    logg = np.full(n, -np.inf)
    d = {k: np.zeros(n) for k in ("a1", "c1", "a2", "c2")}
    for r in range(_RULE_END_HARD + 1):
        rows = np.flatnonzero((rule == r) & ~empty)
        if not len(rows):
            continue
        terms, e, L_m, L_o = _power_terms(u0[rows], u1[rows], peak[rows], m[rows], a1[rows], c1[rows], a2[rows],
                                          c2[rows], r)
        top = terms.max(axis=1)
        mass = np.exp(terms - top[:, None])
        total = mass.sum(axis=1)
        logg[rows] = top + np.log(total)
        if grad:  # expectations under the normalised integrand, then mapped back to factors 1 and 2
            mass /= total[:, None]
            mr, ar, fr = m[rows], np.maximum(a1[rows], a2[rows]), first[rows]
            s_lm, s_lo = (mass * L_m).sum(axis=1), (mass * L_o).sum(axis=1)
            s_fm = np.maximum(1 - mr * (mass / e).sum(axis=1), 0.0)  # E[y / (m + y)]
            s_fo = np.maximum(1 - ar * (mass / (e + (ar - mr)[:, None])).sum(axis=1), 0.0)
            d["c1"][rows] = -np.where(fr, s_lm, s_lo)
            d["c2"][rows] = -np.where(fr, s_lo, s_lm)
            d["a1"][rows] = c1[rows] / a1[rows] * np.where(fr, s_fm, s_fo)
            d["a2"][rows] = c2[rows] / a2[rows] * np.where(fr, s_fo, s_fm)
    if grad:
        return logg.reshape(shape), {k: v.reshape(shape) for k, v in d.items()}
    return logg.reshape(shape)


def beta_rule(a: float, b: float, n: int = 40):
    """Gauss-Jacobi rule for the Beta(a, b) distribution on [0, 1]: nodes and weights summing to 1.

    Golub-Welsch on the Jacobi matrix of the shifted Jacobi polynomials, so the weights are the
    probabilities themselves (no Beta function to overflow when a + b is in the thousands). Used by
    the BG/NBD and MBG/NBD expectations where their 2F1 closed forms overflow or cancel.

    Examples
    --------
    >>> p, w = beta_rule(2.0, 3.0)
    >>> round(float((w * p).sum()), 12), round(float(w.sum()), 12)
    (0.4, 1.0)
    """
    al, be = b - 1.0, a - 1.0  # Jacobi weight (1 - s)**al (1 + s)**be on [-1, 1], s = 2 p - 1
    k = np.arange(n, dtype=float)
    s = 2 * k + al + be
    with np.errstate(divide="ignore", invalid="ignore"):
        diag = np.where(np.abs(s * (s + 2)) > 0, (be**2 - al**2) / (s * (s + 2)), (be - al) / (al + be + 2))
    kk = k[1:]
    s1 = 2 * kk + al + be
    with np.errstate(divide="ignore", invalid="ignore"):
        off = np.sqrt(4 * kk * (kk + al) * (kk + be) * (kk + al + be) / (s1**2 * (s1 + 1) * (s1 - 1)))
    if n > 1 and not np.isfinite(off[0]):  # al + be + 1 == 0: the first term's limit
        off[0] = np.sqrt(4 * (1 + al) * (1 + be) / ((al + be + 2) ** 2 * (al + be + 3)))
    nodes, vec = linalg.eigh_tridiagonal(diag, off)
    w = vec[0] ** 2
    return (nodes + 1) / 2, w / w.sum()


# --------------------------------------------------------------------------------------------
# the fit
# --------------------------------------------------------------------------------------------
def _lbfgsb(nll, x0):
    """L-BFGS-B on ``nll`` (value and gradient) within the box of log-parameters."""
    return optimize.minimize(nll, x0, jac=True, method="L-BFGS-B", bounds=[(-LOG_BOUND, LOG_BOUND)] * len(x0),
                             options={"ftol": 1e-12, "gtol": 1e-8, "maxiter": 3000})


def mean_nll(ll, grad, w):
    """Mean negative log-likelihood per client and its gradient from per-row values and weights ``w``."""
    total = w.sum()
    # weighted sums by multiply-and-sum, not ``@``: a BLAS dot on a crowded machine can stall on its
    # thread pool for far longer than the arithmetic takes
    return -float((w * ll).sum()) / total, -(grad * w).sum(axis=1) / total


def central_hessian(grad, x, step: float = 1e-4) -> np.ndarray:
    """Symmetric Hessian at ``x`` by central differences of the analytic gradient ``grad``."""
    k = len(x)
    h = np.zeros((k, k))
    for i in range(k):
        e = np.zeros(k)
        e[i] = step
        h[:, i] = (grad(x + e) - grad(x - e)) / (2 * step)
    return (h + h.T) / 2


def _newton(nll, x, hess, xtol: float = 1e-9, max_steps: int = 25, first=None):
    """Minimise ``nll`` from ``x`` by Newton steps on ``hess`` (a close Hessian), updated by BFGS.

    Superlinear convergence from a close start (a bootstrap refit from the full fit). ``first``:
    ``nll(x)`` when the caller has it. Stops once the next step would move every log-parameter by
    less than ``xtol``, and takes that step. Returns an OptimizeResult, or None where
    this cannot finish (``hess`` not positive definite, a step leaving the box or not lowering
    ``nll`` after halving, no convergence in ``max_steps``); the caller then runs L-BFGS-B.
    """
    H = np.array(hess, float)
    if not np.isfinite(H).all() or np.linalg.eigvalsh(H).min() <= 0:
        return None
    f, g = nll(x) if first is None else first
    for it in range(1, max_steps + 1):
        step = -np.linalg.solve(H, g)
        if np.max(np.abs(step)) < xtol and np.all(np.abs(x + step) < LOG_BOUND):
            # the last step is taken without evaluating there: it moves the parameters by less than
            # xtol, and the point it reaches is closer to the optimum by about its square; ``fun``
            # is nll where it was last evaluated, one step before
            return optimize.OptimizeResult(x=x + step, fun=f, jac=g, success=True, nit=it,
                                           message="Newton steps converged")
        for _ in range(4):  # the full step almost always; halve it where it would raise nll
            x_new = x + step
            if not (np.isfinite(x_new).all() and np.all(np.abs(x_new) < LOG_BOUND)):
                return None
            f_new, g_new = nll(x_new)
            if np.isfinite(f_new) and f_new <= f + 1e-12 * abs(f):
                break
            step = step / 2
        else:
            return None
        y = g_new - g
        if y @ step > 0:  # BFGS update of the Hessian: superlinear from a close one
            hs = H @ step
            H = H + np.outer(y, y) / (y @ step) - np.outer(hs, hs) / (step @ hs)
        x, f, g = x_new, f_new, g_new
    return None


class Model(ABC):
    """Maximum likelihood on log-parameters with a fit report; subclasses give the likelihood.

    A subclass sets ``name``, ``param_names`` and implements ``_prepare(summary, weights)`` (the fit
    data: unique rows and their weights), ``_start(data)`` (a deterministic start, log scale) and
    ``_loglik(logp, data)`` -> (per-row log-likelihood, per-row gradient in the log-parameters,
    shape (k, n)).

    Attributes
    ----------
    params_ : dict
        Fitted parameters.
    loglik_ : float
        Maximised log-likelihood (weighted).
    n_ : int
        Clients fitted (sum of the weights).
    fit_ : dict
        The fit report: ``converged``, ``message``, ``iterations``, ``at_bound`` and ``near_bound``
        (names of parameters at or within a factor of 10 of ``exp(+-LOG_BOUND)``),
        ``hessian_condition`` (largest over smallest eigenvalue of the negative Hessian of the
        log-likelihood in log-parameters; None when it is not positive definite: the data do not
        identify every parameter), ``se`` (standard errors by the delta method, None where not
        identified) and ``ci95`` (Wald intervals on the log scale, so always positive).
    """

    name = ""
    param_names: tuple = ()

    def __init__(self):
        self.params_ = None
        self.loglik_ = None
        self.n_ = None
        self.fit_ = None
        self._hess_mean = None

    def _p(self):
        if self.params_ is None:
            raise ValueError("the model is not fitted: call fit(summary) first")
        return tuple(self.params_[k] for k in self.param_names)

    # subclass hooks: every model family defines these (abc refuses a family that forgets one) ----
    @abstractmethod
    def _prepare(self, summary, weights):
        """The fit's data from ``summary`` and row ``weights`` (a dict the other hooks read)."""

    @abstractmethod
    def _start(self, data):
        """Deterministic starting log-parameters from the prepared data."""

    @abstractmethod
    def _loglik(self, logp, data):
        """Per-row log-likelihood and its gradient in the log-parameters, at ``logp``."""

    # fitting ----------------------------------------------------------------------------------
    def fit(self, summary: pd.DataFrame, weights=None, start: dict | None = None):
        """Fit by maximum likelihood and report on the fit (:attr:`fit_`).

        Parameters
        ----------
        summary : DataFrame
            The model's input columns (as from ``clv.rfm_summary``).
        weights : array-like, optional
            Non-negative weight of each row (how many times the client counts): a bootstrap resample
            is a fit with multinomial counts as weights. None: 1 each.
        start : dict, optional
            Starting parameters (e.g. the full fit's, for a bootstrap refit); None: a deterministic
            start from the data.

        Returns
        -------
        self
        """
        return self._fit_data(self._prepare(summary, weights), start)

    def _objective(self, data):
        """Mean negative log-likelihood per client and its gradient, as a function of log-parameters."""
        return lambda logp: mean_nll(*self._loglik(logp, data), data["w"])

    def _fit_data(self, data, start=None, report: bool = True):
        """Fit on prepared data (``_prepare``'s dict; the bootstrap reweights it without re-preparing)."""
        total = data["w"].sum()
        nll = self._objective(data)
        x0 = (np.log([start[k] for k in self.param_names]) if start is not None else self._start(data))
        x0 = np.clip(np.asarray(x0, float), -LOG_BOUND, LOG_BOUND)
        with np.errstate(over="ignore", under="ignore"):
            res = _lbfgsb(nll, x0)
        if not np.isfinite(res.fun):
            raise ValueError(f"{self.name} likelihood is not finite; check the summary's columns")
        est = np.exp(res.x)
        self.params_ = {k: float(v) for k, v in zip(self.param_names, est)}
        self.loglik_ = float(-res.fun * total)
        self.n_ = round(float(total))
        self.fit_ = self._report(res, nll, total) if report else {"converged": bool(res.success)}
        return self

    def _report(self, res, nll, total) -> dict:
        x = res.x
        names = self.param_names
        at = [k for k, v in zip(names, x) if abs(v) >= LOG_BOUND - 1e-3]
        near = [k for k, v in zip(names, x) if abs(v) >= LOG_BOUND - NEAR_BOUND]
        g = nll(x)[1]  # mean gradient per client, log-parameters
        free = np.array([k not in at for k in names])
        grad_ok = bool(np.all(np.abs(g[free]) < 1e-5)) if free.any() else True
        converged = bool(res.success or grad_ok)
        # Hessian of the log-likelihood in log-parameters by central differences of the analytic gradient
        hess = central_hessian(lambda v: nll(v)[1], x) * total  # negative Hessian (nll is its negative)
        k = len(x)
        self._hess_mean = hess / total  # kept (not serialised) for the bootstrap's Newton refits
        cond, se_log = None, np.full(k, np.nan)
        if np.isfinite(hess).all():
            eig = np.linalg.eigvalsh(hess)
            if eig.min() > 1e-12 * max(eig.max(), 1e-300):
                cond = float(eig.max() / eig.min())
                se_log = np.sqrt(np.clip(np.diag(np.linalg.inv(hess)), 0, None))
        est = np.exp(x)
        se = {n: (_r(est[i] * se_log[i]) if np.isfinite(se_log[i]) and n not in at else None)
              for i, n in enumerate(names)}
        with np.errstate(over="ignore"):  # an unbounded upper end (a tiny fit) is reported as None
            ci = {n: ([_r(np.exp(x[i] - 1.959964 * se_log[i])), _r(np.exp(x[i] + 1.959964 * se_log[i]))]
                      if se[n] is not None else None) for i, n in enumerate(names)}
        return {"converged": converged, "message": str(res.message), "iterations": int(res.nit),
                "at_bound": at, "near_bound": near, "hessian_condition": cond, "se": se, "ci95": ci,
                "regime": self._regime()}

    def _refit(self, data, start: dict, hess_mean, first=None):
        """Refit on reweighted ``data`` from ``start`` by quasi-Newton steps from the full fit's Hessian.

        A bootstrap resample moves the optimum by about one standard error, where the full fit's
        Hessian (per client, log-parameters) is an excellent first guess; BFGS updates correct it
        as the steps go, so a few gradients reach the refit's optimum. Falls back to
        :meth:`_fit_data` (L-BFGS-B) when a step leaves the parameter box, the Hessian is not
        positive definite or 25 steps do not converge. ``first``: the mean negative log-likelihood
        and its gradient at ``start`` on these weights, when the caller has them.
        """
        x = np.log([start[k] for k in self.param_names])
        res = None
        if hess_mean is not None and np.all(np.abs(x) < LOG_BOUND - NEAR_BOUND):
            with np.errstate(over="ignore", under="ignore"):
                res = _newton(self._objective(data), x, hess_mean, xtol=1e-4, first=first)
        if res is None:
            return self._fit_data(data, start=start, report=False)
        self.params_ = {k: float(v) for k, v in zip(self.param_names, np.exp(res.x))}
        self.loglik_ = float(-res.fun * data["w"].sum())
        self.n_ = round(float(data["w"].sum()))
        self.fit_ = {"converged": True}
        return self

    def _regime(self) -> str:
        """The fit's regime in words' key (``interior`` unless a subclass knows its limits)."""
        return "interior"

    def log_likelihood(self, summary: pd.DataFrame) -> np.ndarray:
        """Log-likelihood of each row of ``summary`` at the fitted parameters.

        Returns
        -------
        ndarray
            One value per row (their sum is :attr:`loglik_` for the fitted summary).
        """
        self._p()
        data = self._prepare(summary, None)
        ll, _ = self._loglik(np.log([self.params_[k] for k in self.param_names]), data)
        return ll[data["inv"]]

    def bic(self) -> float:
        """Bayesian information criterion: k log n - 2 log L (lower is better)."""
        self._p()
        return float(len(self.param_names) * np.log(max(self.n_, 1)) - 2 * self.loglik_)


def unique_rows(columns, weights):
    """Distinct rows of ``columns`` (kept where the weight is positive), their weights and the
    index of each original row in them (-1 for rows of weight 0)."""
    keep = weights > 0
    stacked = np.column_stack(columns)
    uniq, inv = np.unique(stacked[keep], axis=0, return_inverse=True)
    inv = inv.ravel()
    w = np.bincount(inv, weights=weights[keep], minlength=len(uniq)).astype(float)
    full = np.full(len(weights), -1)
    full[keep] = inv
    return uniq, w, full


# --------------------------------------------------------------------------------------------
# purchase models: predictions and draws
# --------------------------------------------------------------------------------------------
class PurchaseModel(Model):
    """A purchase model on (x, t_x, T) in weeks: fit, closed forms, predictive draws.

    Subclasses implement ``_loglik_terms`` through :class:`Model`, and the closed forms on arrays:
    ``_p_alive(x, t_x, T)``, ``_expected_alive(t, x, T)`` (expected purchases in (T, T + t] of a
    client known to be alive), ``_p_none_alive(t, x, T)`` (P(no purchase in (T, T + t]) given alive),
    ``_population(t)`` (unconditional E[X(t)]), ``_pmf(k, t)`` (P(X(t) = k) of a new client), and
    ``_draw(rows, cols, x, T, params, weeks, rng)`` for the draws.
    """

    def _prepare(self, summary, weights):
        x, t_x, T = summary_arrays(summary)
        if len(x) == 0:
            raise ValueError("summary has no clients to fit")
        if (T <= 0).all():
            raise ValueError("summary column 'T' is zero for every client: nothing to fit")
        rw = row_weights(weights, len(x))
        uniq, w, inv = unique_rows([x, t_x, T], rw)
        ux, ut, uT = uniq.T
        xs, xinv = np.unique(ux, return_inverse=True)
        return {"x": ux, "t_x": ut, "T": uT, "w": w, "inv": inv, "xs": xs, "xinv": xinv.ravel(),
                "mean_T": float(np.average(T, weights=rw))}

    # public predictions -------------------------------------------------------------------------
    def p_alive(self, summary: pd.DataFrame) -> np.ndarray:
        """Probability each client is still active at ``T``.

        Parameters
        ----------
        summary : DataFrame
            Columns ``x``, ``t_x``, ``T`` (weeks).

        Returns
        -------
        ndarray
            P(alive) per row of ``summary``.
        """
        self._p()
        x, t_x, T = summary_arrays(summary)
        return self._p_alive(x, t_x, T)

    def expected_purchases(self, t, summary: pd.DataFrame) -> np.ndarray:
        """Conditional expected number of purchases in ``(T, T + t]``.

        Parameters
        ----------
        t : float
            Horizon in weeks.
        summary : DataFrame
            Columns ``x``, ``t_x``, ``T``.

        Returns
        -------
        ndarray
            E[X(T, T + t) | x, t_x, T] per row: P(alive) times the expectation of an active client.
        """
        self._p()
        x, t_x, T = summary_arrays(summary)
        t = float(t)
        if t < 0:
            raise ValueError(f"t must be non-negative, got {t}")
        return self._p_alive(x, t_x, T) * self._expected_alive(t, x, T)

    def p_any_purchase(self, t, summary: pd.DataFrame) -> np.ndarray:
        """Probability of at least one purchase in ``(T, T + t]``.

        Parameters
        ----------
        t : float
            Horizon in weeks.
        summary : DataFrame
            Columns ``x``, ``t_x``, ``T``.

        Returns
        -------
        ndarray
            P(alive) * (1 - P(no purchase | alive)) per row.
        """
        self._p()
        x, t_x, T = summary_arrays(summary)
        return self._p_alive(x, t_x, T) * (1 - self._p_none_alive(float(t), x, T))

    def expected_population(self, t) -> np.ndarray:
        """Unconditional expected repeat purchases E[X(t)] of a new client in ``(0, t]``.

        Parameters
        ----------
        t : float or array-like
            Weeks since the first purchase (negative values count as 0).

        Returns
        -------
        ndarray
            E[X(t)] for each ``t`` (same shape).
        """
        self._p()
        t = np.maximum(np.asarray(t, float), 0.0)
        return self._population(t)

    def pmf(self, k_max: int, t) -> np.ndarray:
        """P(X(t) = k) for k = 0 .. k_max - 1 and P(X(t) >= k_max) last, for new clients.

        Parameters
        ----------
        k_max : int
            Counts shown one by one; the last column is "k_max or more".
        t : array-like
            Weeks since the first purchase, one per row of the result.

        Returns
        -------
        ndarray
            Shape ``(len(t), k_max + 1)``; rows sum to 1.
        """
        self._p()
        t = np.atleast_1d(np.maximum(np.asarray(t, float), 0.0))
        k_max = int(k_max)
        if k_max < 1:
            raise ValueError("k_max must be at least 1")
        p = np.clip(self._pmf(np.arange(k_max), t), 0.0, 1.0)
        rest = np.clip(1 - p.sum(axis=1, keepdims=True), 0.0, 1.0)
        return np.hstack([p, rest])

    # draws ---------------------------------------------------------------------------------------
    def _simulate(self, summary, n_draws, weeks, rng, fits=None):
        """Yield ``(rows slice, counts, arrivals, span)`` arrays of shape (clients, draws).

        Draw d of every client uses the parameters of ``fits[d % len(fits)]`` (a bootstrap refit)
        or this model's. Per draw: alive ~ Bernoulli(P(alive)); if alive, the model's ``_draw``
        gives the purchases (counts), the Poisson arrivals they are the first of, and the share of
        the horizon over which those arrivals are spread (1 for models whose drop-out happens at a
        purchase, the remaining lifetime over the horizon for Pareto/NBD).
        """
        x, t_x, T = summary_arrays(summary)
        models = [self] if not fits else list(fits)
        for m in models:
            m._p()
        idx = np.arange(n_draws) % len(models)
        names = self.param_names
        pars = {k: np.array([m.params_[k] for m in models])[idx] for k in names}
        pa_all = np.column_stack([m._p_alive(x, t_x, T) for m in models]) if len(x) else np.zeros((0, len(models)))
        step = max(1, _CHUNK_PAIRS // max(n_draws, 1))
        for lo in range(0, len(x), step):
            sl = slice(lo, min(lo + step, len(x)))
            n = sl.stop - sl.start
            alive = rng.random((n, n_draws)) < pa_all[sl][:, idx]
            rows, cols = np.nonzero(alive)
            counts = np.zeros((n, n_draws), dtype=np.int64)
            arrivals = np.zeros((n, n_draws), dtype=np.int64)
            span = np.ones((n, n_draws))
            k, nn, sp = self._draw(rows, cols, x[sl], T[sl], pars, float(weeks), rng)
            counts[rows, cols] = k
            arrivals[rows, cols] = nn
            if sp is not None:
                span[rows, cols] = sp
            yield sl, counts, arrivals, span

    def _simulate_counts(self, summary, n_draws, weeks, rng, fits=None):
        """As :meth:`_simulate` without the span: ``(rows slice, counts, arrivals)``."""
        for sl, counts, arrivals, _ in self._simulate(summary, n_draws, weeks, rng, fits):
            yield sl, counts, arrivals

    def purchase_interval(self, t, summary: pd.DataFrame, level: float = 0.8, n_draws: int = 2000,
                          random_state: int = 0, fits=None) -> pd.DataFrame:
        """Predictive interval of the purchases in ``(T, T + t]`` by simulation from the model.

        Parameters
        ----------
        t : float
            Horizon in weeks.
        summary : DataFrame
            Columns ``x``, ``t_x``, ``T``.
        level : float
            Central probability of the interval (0.8 = 10th to 90th percentile).
        n_draws : int
            Simulated futures per client.
        random_state : int
            Seed for ``numpy.random.default_rng``.
        fits : list of models, optional
            Bootstrap refits: draw d uses ``fits[d % len(fits)]``, so the interval carries the
            parameters' uncertainty as well as the process's.

        Returns
        -------
        DataFrame
            Same index as ``summary``; ``low`` and ``high`` (inclusive integer bounds: P(X < low)
            and P(X > high) are each at most (1 - level) / 2 under the simulation) and ``mean``.
        """
        level = check_level(level)
        t = float(t)
        if int(n_draws) < 1:
            raise ValueError("n_draws must be at least 1")
        rng = np.random.default_rng(random_state)
        n = len(summary)
        low, high, mean = np.zeros(n), np.zeros(n), np.zeros(n)
        for sl, k, _, _ in self._simulate(summary, int(n_draws), t, rng, fits):
            low[sl], high[sl] = discrete_bounds(k, level)
            mean[sl] = k.mean(axis=1)
        return pd.DataFrame({"low": low, "high": high, "mean": mean}, index=summary.index)

    def draw_purchases(self, t, summary: pd.DataFrame, n_draws: int = 1000,
                       random_state: int | np.random.Generator = 0, fits=None) -> np.ndarray:
        """Purchases in ``(T, T + t]`` drawn from the model's predictive distribution.

        Returned whole so that draws can be summed across clients: draw ``d`` of every client is one
        joint future of the book (clients are independent given the parameters; with ``fits``, draw
        ``d`` of every client uses the same refit, so the sum carries the parameters' uncertainty).

        Parameters
        ----------
        t : float
            Horizon in weeks.
        summary : DataFrame
            Columns ``x``, ``t_x``, ``T``.
        n_draws : int
            Draws per client.
        random_state : int or numpy Generator
            Seed (or generator) of the draws.
        fits : list of models, optional
            Bootstrap refits (draw d uses ``fits[d % len(fits)]``).

        Returns
        -------
        ndarray
            Integer array of shape ``(len(summary), n_draws)``.
        """
        t = float(t)
        if t < 0:
            raise ValueError(f"t must be non-negative, got {t}")
        if int(n_draws) < 1:
            raise ValueError("n_draws must be at least 1")
        rng = rng_of(random_state)
        out = np.zeros((len(summary), int(n_draws)), dtype=np.int64)
        for sl, k, _, _ in self._simulate(summary, int(n_draws), t, rng, fits):
            out[sl] = k
        return out


class SpendModel(Model):
    """A spend model on (x, monetary): fit, expected spend, draws of revenue."""


def lifetime_window(k, scale, t):
    """scale * (1 - (1 + t / scale) ** -k) / k, and its limit scale * log1p(t / scale) at k = 0.

    The expected time alive within the next ``t`` weeks of a client whose drop-out rate is
    Gamma(k + 1, scale) (Pareto/NBD, k = s - 1): finite and continuous through s = 1.
    """
    k = np.asarray(k, float)
    scale = np.asarray(scale, float)
    L = np.log1p(t / scale)
    kl = k * L
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = np.where(np.abs(kl) < 1e-8, scale * L * (1 - kl / 2), -scale * np.expm1(-kl) / np.where(k == 0, 1.0, k))
    return out
