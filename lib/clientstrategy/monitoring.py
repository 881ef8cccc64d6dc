"""Performance monitoring: this run against the previous run(s).

* :func:`previous_runs` / :func:`load_run` -- find and read earlier runs under the OUT root
  (``<OUT>/<quarter>/artifacts/``); the only functions here that touch files.
* :func:`snapshot` -- headline figures of one profile (the baseline when there is no previous run).
* :func:`migration` -- tier, segment or group movement between two profiles (segments and personas
  on their stable ids, :mod:`clientstrategy.identity`).
* :func:`metric_changes` -- NPS, engagement, p_alive change on matched clients, with intervals.
* :func:`plan_vs_actual` -- the previous budget's plan (pro rata) against booked revenue since.
* :func:`effects_hold` -- whether the activity effects of an earlier window of history hold in a later,
  non-overlapping one.
* :func:`measure_uplift` -- treated against held-back clients of last run's list, each action type
  on its own outcomes, with the design's estimator (:mod:`clientstrategy.experiment`);
  :func:`uplift_for_plan` -- its rows for ``artifacts/uplift.csv``.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from . import experiment
from .frames import numeric as _num
from .frames import require as _require

__all__ = [
    "IDENTITY_COLUMNS",
    "UPLIFT_COLUMNS",
    "effects_hold",
    "load_run",
    "measure_uplift",
    "metric_changes",
    "migration",
    "plan_vs_actual",
    "plot_migration",
    "plot_targeting",
    "plot_uplift",
    "previous_runs",
    "quarter_end",
    "run_as_of",
    "snapshot",
    "uplift_for_plan",
]

_QUARTER = re.compile(r"^\d{4}Q[1-4]$")
#: Clusterings refitted each run are compared on their stable ids (:mod:`clientstrategy.identity`).
IDENTITY_COLUMNS = {"segment": "segment_id", "persona": "persona_id"}


def previous_runs(history_dir: str | Path, before_quarter: str | None = None) -> pd.DataFrame:
    """Earlier runs under the OUT root: folders named like ``2026Q2`` holding artifacts.

    Parameters
    ----------
    history_dir : str or Path
        The OUT root (``reports/`` by default); a missing folder gives no runs.
    before_quarter : str, optional
        Only runs strictly before this quarter (e.g. the current run's ``"2026Q3"``).

    Returns
    -------
    DataFrame
        ``quarter``, ``path`` (the run folder), oldest first; only runs with
        ``artifacts/client_profile.parquet``.

    Examples
    --------
    >>> previous_runs("/nonexistent").empty
    True
    """
    root = Path(history_dir) if history_dir else None
    rows = []
    if root is not None and root.is_dir():
        for d in sorted(root.iterdir()):
            if (d.is_dir() and _QUARTER.match(d.name) and (d / "artifacts" / "client_profile.parquet").is_file()
                    and (before_quarter is None or d.name < before_quarter)):
                rows.append({"quarter": d.name, "path": str(d)})
    return pd.DataFrame(rows, columns=["quarter", "path"]).astype("str")


def load_run(run_dir: str | Path) -> dict:
    """Read a run's artifacts that monitoring compares.

    Parameters
    ----------
    run_dir : str or Path
        ``<OUT>/<quarter>``.

    Returns
    -------
    dict
        Keys present when the file exists: ``client_profile``, ``budget``, ``next_best_actions``,
        ``activity_effects``, ``strategy_groups`` (DataFrames, ids as text), ``metrics``,
        ``segment_model``, ``persona_model`` (dicts: the stable identities of
        :mod:`clientstrategy.identity`).

    Examples
    --------
    >>> load_run("/nonexistent")
    {}
    """
    art = Path(run_dir) / "artifacts"
    out: dict = {}
    if not art.is_dir():
        return out
    ids = {"client_id": "str", "person_id": "str", "key": "str", "owner_id": "str"}
    p = art / "client_profile.parquet"
    if p.is_file():
        out["client_profile"] = pd.read_parquet(p)
    for name in ("budget", "next_best_actions", "activity_effects", "strategy_groups"):
        f = art / f"{name}.csv"
        if f.is_file():
            head = pd.read_csv(f, nrows=0).columns
            out[name] = pd.read_csv(f, dtype={c: t for c, t in ids.items() if c in head})
    for name in ("segment_model", "persona_model"):
        f = art / f"{name}.json"
        if f.is_file():
            out[name] = json.loads(f.read_text())
    m = art / "metrics.json"
    if not m.is_file():
        m = Path(run_dir) / "metrics.json"
    if m.is_file():
        out["metrics"] = json.loads(m.read_text())
    return out


def snapshot(profile: pd.DataFrame) -> dict:
    """Headline figures of one client profile.

    Parameters
    ----------
    profile : DataFrame
        SPEC ``client_profile``.

    Returns
    -------
    dict
        ``clients``, ``revenue_ltm``, ``active_clients`` (revenue_ltm > 0), mean ``p_alive``,
        ``nps`` (% promoters - % detractors of ``nps_last``), median ``engagement_score``, and counts
        by ``tier``, ``group``, ``intent`` where known (None when the column is all null).

    Examples
    --------
    >>> snapshot(pd.DataFrame({"client_id": ["a", "b"], "revenue_ltm": [5.0, 0.0], "nps_last": [10, 5]}))["nps"]
    0.0
    """
    _require(profile, ["client_id"], "client_profile")
    rev = _num(profile, "revenue_ltm")
    nps = _num(profile, "nps_last").dropna()

    def counts(col):
        if col not in profile.columns or profile[col].isna().all():
            return None
        return {str(k): int(v) for k, v in profile[col].value_counts().sort_index().items()}

    def f(x):
        return None if x is None or not np.isfinite(x) else float(x)

    return {
        "clients": len(profile),
        "revenue_ltm": f(rev.sum(min_count=1)),
        "active_clients": int((rev > 0).sum()),
        "p_alive": f(_num(profile, "p_alive").mean()),
        "nps": f(100 * ((nps >= 9).mean() - (nps <= 6).mean())) if len(nps) else None,
        "engagement": f(_num(profile, "engagement_score").median()),
        "tier": counts("tier"), "group": counts("group"), "intent": counts("intent"),
    }


def migration(previous: pd.DataFrame, current: pd.DataFrame, column: str = "tier") -> pd.DataFrame:
    """Movement of clients between the values of ``column`` from one run to the next.

    Clients only in the current run come from ``"new"``; only in the previous run go to
    ``"gone"``; a null value reads ``"none"``.

    Segments and personas are clusterings refitted each run, whose names are rebuilt from their
    current description: they are compared on their **stable ids** (``segment_id``,
    ``persona_id``, :mod:`clientstrategy.identity`), never on names, so that a segment whose trend
    turned from growing to declining does not count its clients as moving. ``column="segment"``
    (or ``"persona"``) reads ``segment_id`` (``persona_id``) and needs it in both profiles.

    Parameters
    ----------
    previous, current : DataFrame
        Profiles with ``client_id`` and ``column`` (current ``revenue_ltm`` gives the revenue).
    column : str
        ``tier``, ``segment``, ``persona``, ``group``, ``intent``, ``service_level``...

    Returns
    -------
    DataFrame
        ``from_<column>``, ``to_<column>`` (stable ids for segments and personas), ``clients``,
        ``revenue`` (current revenue_ltm of the movers), sorted.

    Raises
    ------
    ValueError
        When a profile lacks ``client_id`` or the column (``segment_id`` / ``persona_id`` for a
        clustering: a run from before stable ids cannot be compared on segments).

    Examples
    --------
    >>> prev = pd.DataFrame({"client_id": ["a", "b"], "tier": ["Gold", "Gold"]})
    >>> cur = pd.DataFrame({"client_id": ["a", "b"], "tier": ["Gold", "Silver"], "revenue_ltm": [5.0, 2.0]})
    >>> migration(prev, cur).values.tolist()
    [['Gold', 'Gold', 1, 5.0], ['Gold', 'Silver', 1, 2.0]]

    A segment renamed from "growing" to "declining" keeps its id: nobody moved.

    >>> prev = pd.DataFrame({"client_id": ["a", "b"], "segment": "Occasional, growing", "segment_id": "S1"})
    >>> cur = prev.assign(segment="Occasional, declining")
    >>> migration(prev, cur, "segment").values.tolist()
    [['S1', 'S1', 2, 0.0]]
    """
    source = IDENTITY_COLUMNS.get(column, column)
    _require(previous, ["client_id", source], "previous profile")
    _require(current, ["client_id", source], "current profile")
    a = previous[["client_id", source]].rename(columns={source: "f"})
    b = current[["client_id", source]].rename(columns={source: "t"}).assign(rev=_num(current, "revenue_ltm"))
    m = a.merge(b, on="client_id", how="outer", indicator=True)
    f = m["f"].astype(object).where(m["f"].notna(), "none")
    t = m["t"].astype(object).where(m["t"].notna(), "none")
    f = f.where(m["_merge"] != "right_only", "new")
    t = t.where(m["_merge"] != "left_only", "gone")
    m = m.assign(f=f.astype("str"), t=t.astype("str"))
    out = m.groupby(["f", "t"], sort=True).agg(clients=("client_id", "size"), revenue=("rev", "sum")).reset_index()
    out["clients"] = out["clients"].astype(int)
    out["revenue"] = out["revenue"].astype(float)
    return out.rename(columns={"f": f"from_{column}", "t": f"to_{column}"})


def metric_changes(
    previous: pd.DataFrame,
    current: pd.DataFrame,
    columns: tuple = ("nps_last", "engagement_score", "p_alive", "value_to_business", "value_to_client"),
    by: str | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Mean change of profile measures on clients present (and measured) in both runs.

    The interval is the paired t interval of the per-client change.

    Parameters
    ----------
    previous, current : DataFrame
        Profiles with ``client_id`` and the ``columns`` (missing ones are skipped).
    columns : tuple of str
        Measures to compare.
    by : str, optional
        A current-profile column to split by (e.g. ``group``).
    confidence : float
        Interval level.

    Returns
    -------
    DataFrame
        ``measure``, (``by``), ``clients``, ``previous``, ``current``, ``change``, ``ci_low``,
        ``ci_high``.

    Examples
    --------
    >>> prev = pd.DataFrame({"client_id": ["a", "b", "c"], "nps_last": [5.0, 6.0, 7.0]})
    >>> cur = pd.DataFrame({"client_id": ["a", "b", "c"], "nps_last": [6.0, 7.0, 9.0]})
    >>> metric_changes(prev, cur, columns=("nps_last",))[["clients", "change"]].values.round(3).tolist()
    [[3.0, 1.333]]
    """
    _require(previous, ["client_id"], "previous profile")
    _require(current, ["client_id"], "current profile")
    if by is not None:
        _require(current, [by], "current profile")
    rows = []
    for col in columns:
        if col not in previous.columns or col not in current.columns:
            continue
        keep = ["client_id", col] + ([by] if by else [])
        m = current[keep].merge(previous[["client_id", col]], on="client_id", suffixes=("", "_prev"))
        m = m.assign(c=_num(m, col), p=_num(m, f"{col}_prev")).dropna(subset=["c", "p"])
        groups = [(None, m)] if by is None else list(m.groupby(by, sort=True))
        for key, g in groups:
            d = (g["c"] - g["p"]).to_numpy()
            n = len(d)
            lo = hi = np.nan
            if n >= 2 and np.std(d, ddof=1) > 0:
                se = np.std(d, ddof=1) / np.sqrt(n)
                tq = stats.t.ppf(0.5 + confidence / 2, n - 1)
                lo, hi = d.mean() - tq * se, d.mean() + tq * se
            elif n >= 2:
                lo = hi = d.mean()
            row = {"measure": col}
            if by is not None:
                row[by] = key
            row.update({"clients": n, "previous": g["p"].mean() if n else np.nan,
                        "current": g["c"].mean() if n else np.nan, "change": d.mean() if n else np.nan,
                        "ci_low": lo, "ci_high": hi})
            rows.append(row)
    cols = ["measure"] + ([by] if by else []) + ["clients", "previous", "current", "change", "ci_low", "ci_high"]
    return pd.DataFrame(rows, columns=cols)


def plan_vs_actual(
    previous_budget: pd.DataFrame,
    revenue: pd.DataFrame,
    start: pd.Timestamp,
    end: pd.Timestamp,
) -> pd.DataFrame:
    """The previous run's twelve-month plan, pro rata to ``(start, end]``, against booked revenue.

    The plan is spread evenly over the year (``plan_revenue * days / 365.25``; no seasonality).
    Client rows of the budget carry ``group``, ``owner_id`` and ``intent``; the comparison is
    summed by those and in total over the budget's clients.

    Parameters
    ----------
    previous_budget : DataFrame
        The previous ``budget.csv`` (client rows: ``level == "client"``, ``key`` = client id).
    revenue : DataFrame
        Canonical ``revenue``.
    start, end : Timestamp
        The previous run's as_of and this run's as_of.

    Returns
    -------
    DataFrame
        ``level`` (total, group, intent, owner), ``key``, ``clients``, ``plan``, ``actual``,
        ``variance`` (actual - plan), ``variance_pct``.

    Examples
    --------
    >>> bud = pd.DataFrame({"level": ["client", "total"], "key": ["a", "total"], "plan_revenue": [365.25, 365.25]})
    >>> rev = pd.DataFrame({"date": pd.to_datetime(["2026-01-15"]), "client_id": ["a"], "amount": [120.0]})
    >>> plan_vs_actual(bud, rev, pd.Timestamp("2025-12-31"), pd.Timestamp("2026-03-31"))[
    ...     ["level", "plan", "actual"]].values.tolist()
    [['total', 90.0, 120.0]]
    """
    _require(previous_budget, ["level", "key", "plan_revenue"], "previous budget")
    _require(revenue, ["date", "client_id", "amount"], "revenue")
    if end <= start:
        raise ValueError("plan_vs_actual needs end after start")
    days = (end - start).days
    cl = previous_budget.loc[previous_budget["level"].astype("str") == "client"].copy()
    cl["key"] = cl["key"].astype("str")
    r = revenue.loc[(revenue["date"] > start) & (revenue["date"] <= end)]
    actual = r.groupby("client_id")["amount"].sum()
    cl["plan"] = _num(cl, "plan_revenue") * days / 365.25
    cl["actual"] = cl["key"].map(actual).fillna(0.0).astype(float)
    rows = [{"level": "total", "key": "total", "clients": len(cl), "plan": cl["plan"].sum(),
             "actual": cl["actual"].sum()}]
    for level, col in (("group", "group"), ("intent", "intent"), ("owner", "owner_id")):
        if col in cl.columns:
            for key, g in cl.groupby(col, sort=True):
                rows.append({"level": level, "key": str(key), "clients": len(g), "plan": g["plan"].sum(),
                             "actual": g["actual"].sum()})
    out = pd.DataFrame(rows)
    out["variance"] = out["actual"] - out["plan"]
    out["variance_pct"] = out["variance"] / out["plan"].where(out["plan"] != 0)
    out["clients"] = out["clients"].astype(int)
    return out


def effects_hold(previous_effects: pd.DataFrame, current_effects: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Do the activity effects of an earlier window of history hold in a later one?

    The two estimates must come from windows that share no data (``activity_effects_windows.csv``
    of notebook 02: the latest year against the year before): a full-history estimate of last run
    against this run's shares about nine tenths of its data with it and agrees whatever happened.
    Their windows are checked when the tables carry ``window_start`` and ``window_end``.

    Each touch kind's change (later minus earlier) is tested with a z-test, the two standard errors
    combined as independent (disjoint data); the kinds' p-values are adjusted together by
    Benjamini-Hochberg (false discovery rate ``alpha``).

    * ``changed``: the change is beyond chance;
    * ``holds``: no change beyond chance, and the two windows agree on whether there is an effect
      (both intervals clear zero on the same side, or neither clears it);
    * ``unclear``: no change beyond chance, but one window shows an effect and the other cannot
      tell it from zero (the later window is too short to confirm it, or to refute it);
    * ``new`` / ``dropped``: estimated in the later (earlier) window only.

    Parameters
    ----------
    previous_effects, current_effects : DataFrame
        The earlier and the later window's effects: ``activity_type``, ``effect``, ``ci_low``,
        ``ci_high`` and optionally ``outcome``, ``segment``, ``se`` (else from the interval width
        as a 95% normal interval), ``window_start``, ``window_end``.
    alpha : float
        False discovery rate of ``changed``; the intervals are read as ``1 - alpha`` intervals.

    Returns
    -------
    DataFrame
        ``activity_type``, ``outcome``, ``segment``, ``effect_previous``, ``effect_current``,
        ``ci_low``, ``ci_high`` (current), ``change``, ``change_ci_low``, ``change_ci_high``,
        ``p_adjusted``, ``verdict``.

    Examples
    --------
    >>> prev = pd.DataFrame({"activity_type": ["meeting", "email"], "effect": [0.3, 0.0], "ci_low": [0.2, -0.05],
    ...                      "ci_high": [0.4, 0.05], "window_start": pd.Timestamp("2024-10-01"),
    ...                      "window_end": pd.Timestamp("2025-09-30")})
    >>> cur = prev.assign(effect=[0.05, 0.01], ci_low=[-0.05, -0.04], ci_high=[0.15, 0.06],
    ...                   window_start=pd.Timestamp("2025-10-01"), window_end=pd.Timestamp("2026-09-30"))
    >>> effects_hold(prev, cur)[["activity_type", "verdict"]].values.tolist()
    [['email', 'holds'], ['meeting', 'changed']]
    """
    keys = ["activity_type", "outcome", "segment"]
    for name, df in (("previous activity_effects", previous_effects), ("current activity_effects", current_effects)):
        _require(df, ["activity_type", "effect", "ci_low", "ci_high"], name)
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    z_ci = stats.norm.isf(alpha / 2)
    spans = []
    for df in (previous_effects, current_effects):
        if {"window_start", "window_end"} <= set(df.columns) and len(df):
            spans.append((pd.to_datetime(df["window_start"]).min(), pd.to_datetime(df["window_end"]).max()))
    if len(spans) == 2 and spans[0][0] <= spans[1][1] and spans[1][0] <= spans[0][1]:
        raise ValueError(f"columns 'window_start' and 'window_end': the two estimates' windows overlap "
                         f"({spans[0][0]:%Y-%m-%d}..{spans[0][1]:%Y-%m-%d} and {spans[1][0]:%Y-%m-%d}.."
                         f"{spans[1][1]:%Y-%m-%d}); compare windows that share no data")

    def prep(df):
        d = df.copy()
        for k in keys:
            d[k] = d[k].astype(object).fillna("all").astype("str") if k in d.columns else "all"
        se = _num(d, "se") if "se" in d.columns else pd.Series(np.nan, index=d.index)
        d["se"] = se.fillna((_num(d, "ci_high") - _num(d, "ci_low")) / (2 * z_ci))
        return d[keys + ["effect", "ci_low", "ci_high", "se"]]

    m = prep(previous_effects).merge(prep(current_effects), on=keys, how="outer", suffixes=("_previous", "_current"),
                                     indicator="src")
    both = (m["src"] == "both").to_numpy()
    change = (m["effect_current"] - m["effect_previous"]).astype(float)
    se = np.hypot(m["se_current"].astype(float), m["se_previous"].astype(float))
    with np.errstate(invalid="ignore", divide="ignore"):
        p = 2 * stats.norm.sf(np.abs(change.to_numpy() / np.asarray(se, float)))
    p_adj = np.full(len(m), np.nan)
    ok = both & np.isfinite(p)
    if ok.any():
        p_adj[ok] = stats.false_discovery_control(p[ok], method="bh")

    def side(lo, hi):
        return np.where(lo > 0, 1, np.where(hi < 0, -1, 0))

    s_prev = side(m["ci_low_previous"].astype(float), m["ci_high_previous"].astype(float))
    s_cur = side(m["ci_low_current"].astype(float), m["ci_high_current"].astype(float))
    with np.errstate(invalid="ignore"):
        changed = p_adj < alpha
    verdict = np.where(~both, np.where(m["src"] == "left_only", "dropped", "new"),
                       np.where(changed, "changed", np.where(s_prev == s_cur, "holds", "unclear")))
    out = m[keys].copy()
    out["effect_previous"] = m["effect_previous"].astype(float)
    out["effect_current"] = m["effect_current"].astype(float)
    out["ci_low"] = m["ci_low_current"].astype(float)
    out["ci_high"] = m["ci_high_current"].astype(float)
    out["change"] = change
    out["change_ci_low"] = change - z_ci * se
    out["change_ci_high"] = change + z_ci * se
    out["p_adjusted"] = p_adj
    out["verdict"] = pd.Series(verdict, index=out.index, dtype="str")
    return out.sort_values(keys, ignore_index=True)


#: Columns of ``artifacts/uplift.csv``, the measured uplift notebook 07 reads to temper action values.
UPLIFT_COLUMNS = ["signal", "outcome", "estimate", "ci_low", "ci_high", "se", "treated", "control", "window_days",
                  "assigned_quarter", "promised", "realisation", "realisation_se"]


def measure_uplift(
    actions: pd.DataFrame,
    revenue: pd.DataFrame,
    start: pd.Timestamp,
    end: pd.Timestamp,
    *,
    surveys: pd.DataFrame | None = None,
    products: pd.DataFrame | None = None,
    activities=None,
    strata: tuple = ("person_id", "tier"),
    winsor_quantile: float | None = 0.99,
    covariate_days: int = 365,
    min_clients: int = 30,
    confidence: float = 0.95,
    power: float = 0.8,
    n_boot: int = 1000,
    random_state: int = 0,
) -> pd.DataFrame:
    """Uplift of acting on last run's list: treated against held-back clients, per action type.

    Each client counts under its leading action (:func:`clientstrategy.experiment.list_units`) and
    each action type is measured on its own outcomes (:data:`clientstrategy.experiment.SIGNAL_OUTCOMES`):
    retention actions on purchase days and on buying at all, detractor follow-ups on the next NPS
    answer, cross-sell on buying the recommended category, and every type (and all clients
    together, ``signal = "all"``) on revenue; all in the window ``(start, end]``. The estimator
    (:func:`clientstrategy.experiment.estimate`) is the stratified difference in means over the
    assignment strata (collapsed where an arm is thin), adjusted by the same outcome in the window
    of equal length before ``start`` (CUPED; for NPS, the last answer before), revenue
    winsorised at ``winsor_quantile``, with a percentile interval from ``n_boot`` client bootstrap
    replicates within strata. It compares clients as assigned (intention to treat). Beside it:

    * ``mde``: the smallest uplift the comparison could detect (level ``1 - confidence``, power
      ``power``), from the pre-period (:func:`clientstrategy.experiment.power_table`);
    * ``promised``: for revenue, the treated clients' mean twelve-month expected value (all their
      actions) scaled to the window (``window_days / 365.25``, spread evenly over the year);
      ``realisation`` = estimate / promised, ``realisation_se`` = se / promised;
    * with ``activities``: ``contacted_treated`` / ``contacted_control``, the share of each arm
      that had the recommended touch in the window (:func:`clientstrategy.experiment.contacts`),
      and for revenue ``per_contact``, the uplift per extra contacted client (estimate divided by
      the difference in contact rates) with its interval.

    An estimate is reported as a finding only when both arms have at least ``min_clients``
    clients; otherwise the verdict says so.

    Parameters
    ----------
    actions : DataFrame
        The previous ``next_best_actions.csv``: ``client_id``, ``control``, ``signal``,
        ``expected_value``, ``action``, ``topic``, ``rank`` and the ``strata`` columns (missing
        ones are tolerated: one stratum, one type).
    revenue : DataFrame
        Canonical ``revenue`` covering both windows (``product_id`` for adoption).
    start, end : Timestamp
        The previous run's as_of and this run's as_of.
    surveys, products : DataFrame, optional
        Canonical tables for the NPS and adoption outcomes.
    activities : DataFrame or features.EngineTable, optional
        Canonical ``activities`` for contact and contamination.
    strata : tuple of str
        Assignment strata.
    winsor_quantile : float or None
        Revenue clipped to this quantile (and ``1 -`` it) over the clients of both arms; None: off.
    min_clients : int
        Fewest clients per arm for a finding.
    confidence, power : float
        Interval level; power for the MDE.
    n_boot, random_state : int
        Bootstrap replicates and seed.

    Returns
    -------
    DataFrame
        ``signal``, ``outcome``, ``treated``, ``control``, ``treated_mean``, ``control_mean``
        (unclipped), ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``raw`` (plain difference of
        means), ``cap``, ``mde``, ``promised``, ``realisation``, ``realisation_se``,
        ``contacted_treated``, ``contacted_control``, ``per_contact``, ``per_contact_low``,
        ``per_contact_high``, ``window_days``, ``enough`` (bool), ``verdict`` (words).

    Examples
    --------
    >>> act = pd.DataFrame({"client_id": list("abcdefgh"), "control": [False] * 4 + [True] * 4,
    ...                     "signal": "headroom", "expected_value": 400.0})
    >>> rev = pd.DataFrame({"date": pd.to_datetime(["2026-02-01"] * 8 + ["2026-05-01"] * 8),
    ...                     "client_id": list("abcdefgh") * 2,
    ...                     "amount": [10.0, 20, 30, 40] * 2 + [15.0, 27, 33, 45, 10, 21, 29, 41]})
    >>> out = measure_uplift(act, rev, pd.Timestamp("2026-03-31"), pd.Timestamp("2026-06-30"), min_clients=2,
    ...                      winsor_quantile=None, n_boot=200)
    >>> out[["signal", "outcome", "estimate", "promised"]].round(2).values.tolist()
    [['all', 'revenue', 4.75, 99.66], ['headroom', 'revenue', 4.75, 99.66]]
    """
    _require(actions, ["client_id", "control"], "next_best_actions")
    _require(revenue, ["date", "client_id", "amount"], "revenue")
    if end <= start:
        raise ValueError("measure_uplift needs end after start")
    if winsor_quantile is not None and not 0.5 < winsor_quantile <= 1:
        raise ValueError(f"winsor_quantile must be in (0.5, 1], got {winsor_quantile}")
    units = experiment.list_units(actions, strata)
    days = int((end - start).days)
    ids = units["client_id"].tolist()
    topics = units.set_index("client_id")["topic"] if "product_id" in revenue.columns else None
    post = experiment.window_outcomes(revenue, ids, start, end, products=products, topics=topics)
    pre = experiment.window_outcomes(revenue, ids, start - pd.Timedelta(days=int(covariate_days)), start,
                                     products=products, topics=topics)
    if surveys is not None and len(surveys):
        post["nps"] = experiment.nps_answers(surveys, ids, start, end, "first")
        pre["nps"] = experiment.nps_answers(surveys, ids, None, start, "last")
    # revenue's cut-offs: one pair for the whole list, fixed by the quantile before any comparison
    bounds = x_bounds = None
    if winsor_quantile is not None and len(post):
        bounds = tuple(np.quantile(post["revenue"], [1 - winsor_quantile, winsor_quantile]))
        x_bounds = tuple(np.quantile(pre["revenue"], [1 - winsor_quantile, winsor_quantile]))
    contacted = None
    if activities is not None and len(activities):
        contacted = experiment.contacts(activities, units, start, end).reindex(ids).fillna(False).astype(bool)
    mde = experiment.power_table(units, revenue, start, days, surveys=surveys, products=products, strata=strata,
                                 winsor=winsor_quantile, covariate_days=covariate_days, alpha=1 - confidence,
                                 power=power)
    mde = mde.set_index(["signal", "outcome"])["mde"]
    rows = []
    groups = [("all", units)] + [(str(k), g) for k, g in units.groupby("signal", sort=True)]
    for sig, g in groups:
        gid = g["client_id"].to_numpy()
        c_all = g["control"].to_numpy(dtype=bool)
        reach = {"contacted_treated": np.nan, "contacted_control": np.nan}
        if contacted is not None:
            cg = contacted.loc[gid].to_numpy()
            reach = {"contacted_treated": float(cg[~c_all].mean()) if (~c_all).any() else np.nan,
                     "contacted_control": float(cg[c_all].mean()) if c_all.any() else np.nan}
        for outcome in (("revenue",) if sig == "all" else experiment.outcomes_for(sig)):
            if outcome not in post.columns:
                continue
            y = post.loc[gid, outcome].to_numpy(dtype=float)
            has = np.isfinite(y)
            sub = g.loc[has]
            c = c_all[has]
            per = contacted.loc[gid].to_numpy(dtype=float)[has] if contacted is not None and outcome == "revenue" else None
            res = experiment.estimate(
                y[has], c, strata=experiment.analysis_strata(sub, strata).to_numpy(),
                covariate=pre.loc[gid, outcome].to_numpy(dtype=float)[has],
                bounds=bounds if outcome == "revenue" else None,
                covariate_bounds=x_bounds if outcome == "revenue" else None, per=per, n_boot=n_boot,
                confidence=confidence, random_state=random_state + len(rows))
            row = {"signal": sig, "outcome": outcome, **{k: res[k] for k in (
                "treated", "control", "treated_mean", "control_mean", "estimate", "se", "ci_low", "ci_high", "raw",
                "cap")}, "mde": float(mde.get((sig, outcome), np.nan)), "promised": np.nan, "realisation": np.nan,
                "realisation_se": np.nan, **reach, "per_contact": res.get("per_estimate", np.nan),
                "per_contact_low": res.get("per_low", np.nan), "per_contact_high": res.get("per_high", np.nan),
                "window_days": days}
            if outcome == "revenue":
                t = sub.loc[~c, "promised_12m"].astype(float)
                promised = float(t.mean()) * days / 365.25 if len(t) else np.nan
                row["promised"] = promised
                if np.isfinite(promised) and promised > 0:
                    row["realisation"] = res["estimate"] / promised
                    row["realisation_se"] = res["se"] / promised
            enough = res["treated"] >= min_clients and res["control"] >= min_clients
            if not enough:
                verdict = (f"too few clients to tell ({res['treated']} treated, {res['control']} held back; "
                           f"need {min_clients} in each)")
            elif not np.isfinite(res["estimate"]):
                verdict = "no estimate (the outcome does not vary)"
            elif res["ci_low"] > 0:
                verdict = "acting raised it"
            elif res["ci_high"] < 0:
                verdict = "acting lowered it"
            else:
                verdict = "no measurable difference (the interval covers zero)"
            row.update({"enough": bool(enough), "verdict": verdict})
            rows.append(row)
    out = pd.DataFrame(rows)
    out["enough"] = out["enough"].astype(bool)
    return out


def uplift_for_plan(uplift: pd.DataFrame, assigned_quarter: str) -> pd.DataFrame:
    """The rows of ``artifacts/uplift.csv``: one per action type and outcome with a finding.

    Parameters
    ----------
    uplift : DataFrame
        :func:`measure_uplift` output.
    assigned_quarter : str
        The quarter whose list was measured (the previous run's).

    Returns
    -------
    DataFrame
        :data:`UPLIFT_COLUMNS`; rows of each action type (not "all") with enough clients and an
        estimate; ``promised``, ``realisation``, ``realisation_se`` only for revenue.

    Examples
    --------
    >>> up = pd.DataFrame({"signal": ["all", "detractor"], "outcome": ["revenue", "nps"], "estimate": [1.0, 2.0],
    ...                    "ci_low": 0.5, "ci_high": 3.0, "se": 0.5, "treated": 40, "control": 40, "window_days": 92,
    ...                    "promised": [3.0, None], "realisation": [0.3, None], "realisation_se": [0.2, None],
    ...                    "enough": True})
    >>> uplift_for_plan(up, "2026Q2")[["signal", "outcome", "assigned_quarter"]].values.tolist()
    [['detractor', 'nps', '2026Q2']]
    """
    _require(uplift, [c for c in UPLIFT_COLUMNS if c != "assigned_quarter"] + ["enough"], "uplift")
    keep = (uplift["signal"].astype("str") != "all") & uplift["enough"].astype(bool) & uplift["estimate"].notna()
    out = uplift.loc[keep].assign(assigned_quarter=str(assigned_quarter))
    return out[UPLIFT_COLUMNS].reset_index(drop=True)


def run_as_of(run: dict, quarter: str) -> pd.Timestamp:
    """The ``AS_OF`` date a previous run analysed up to, as its ``metrics.json`` records it.

    A run with ``AS_OF`` inside a quarter (e.g. 2026-05-15 for 2026Q2) must be compared from that
    date, not from the quarter's end: plan vs actual and uplift windows start there.

    Parameters
    ----------
    run : dict
        A previous run as :func:`load_run` returns it (its ``metrics`` entry is read).
    quarter : str
        The run's quarter label, used only when its metrics carry no date (older runs).

    Returns
    -------
    Timestamp

    Examples
    --------
    >>> run_as_of({"metrics": {"run": {"as_of": "2026-05-15"}}}, "2026Q2")
    Timestamp('2026-05-15 00:00:00')
    >>> run_as_of({}, "2026Q2")
    Timestamp('2026-06-30 00:00:00')
    """
    metrics = run.get("metrics") or {}
    recorded = (metrics.get("run") or {}).get("as_of") or (metrics.get("parameters") or {}).get("as_of")
    return pd.Timestamp(recorded).normalize() if recorded else quarter_end(quarter)


def quarter_end(quarter: str) -> pd.Timestamp:
    """Last day of a quarter label: ``"2026Q2"`` -> 2026-06-30.

    Examples
    --------
    >>> quarter_end("2026Q2")
    Timestamp('2026-06-30 00:00:00')
    """
    if not isinstance(quarter, str) or not _QUARTER.match(quarter):
        raise ValueError(f"quarter must look like 2026Q2, got {quarter!r}")
    return pd.Period(quarter, freq="Q").end_time.normalize()


def plot_migration(table: pd.DataFrame, column: str = "tier"):
    """Heat map of clients moving between values of ``column`` (rows: last run, columns: this run).

    Parameters
    ----------
    table : DataFrame
        Output of :func:`migration`.
    column : str
        The column migrated.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    f, t = f"from_{column}", f"to_{column}"
    _require(table, [f, t, "clients"], "migration")
    m = table.pivot_table(index=f, columns=t, values="clients", aggfunc="sum", fill_value=0)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    sns.heatmap(m, annot=True, fmt="d", cmap="Blues", cbar=False, ax=ax)
    ax.set_xlabel(f"{column.replace('_', ' ').capitalize()} this quarter")
    ax.set_ylabel(f"{column.replace('_', ' ').capitalize()} last quarter")
    ax.set_title(f"Clients moving between {column.replace('_', ' ')}s")
    return fig


def plot_uplift(uplift: pd.DataFrame, outcome: str = "revenue"):
    """Measured uplift with its interval per action type, beside what the list promised.

    Parameters
    ----------
    uplift : DataFrame
        Output of :func:`measure_uplift` (rows with ``enough`` and an estimate are drawn).
    outcome : str
        Which outcome (``revenue``, ``purchases``, ``retained``, ``adopted``, ``nps``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    _require(uplift, ["signal", "outcome", "estimate", "ci_low", "ci_high", "enough"], "uplift")
    d = uplift.loc[(uplift["outcome"] == outcome) & uplift["enough"] & uplift["estimate"].notna()]
    fig, ax = plt.subplots(figsize=(7.5, 0.6 * max(len(d), 1) + 1.6))
    y = np.arange(len(d))
    ax.errorbar(d["estimate"], y, xerr=[d["estimate"] - d["ci_low"], d["ci_high"] - d["estimate"]], fmt="o",
                color="#4c72b0", capsize=4, label="measured (95% interval)" if len(d) else None)
    if "promised" in d.columns and d["promised"].notna().any():
        ax.scatter(d["promised"], y, marker="x", color="#c44e52", zorder=3, label="promised by the list")
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels(d["signal"])
    units = {"revenue": "revenue per client", "purchases": "purchase days per client",
             "retained": "share still buying", "adopted": "share buying the category", "nps": "NPS points (0-10)"}
    days = int(d["window_days"].iloc[0]) if len(d) and "window_days" in d.columns else None
    ax.set_xlabel(f"Extra {units.get(outcome, outcome)}, acted on versus held back"
                  + (f", over {days} days" if days else ""))
    ax.set_title("Did acting on the recommendations pay?")
    if len(d):
        ax.legend(loc="best", fontsize=8)
    return fig


def plot_targeting(table: pd.DataFrame, window_days: int):
    """Uplift by bin of expected value (:func:`clientstrategy.experiment.by_bins`) against the promise.

    Parameters
    ----------
    table : DataFrame
        ``bin``, ``estimate``, ``ci_low``, ``ci_high``, ``promised_mean`` (twelve months).
    window_days : int
        Length of the window, to scale the promise.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    _require(table, ["bin", "estimate", "ci_low", "ci_high", "promised_mean"], "targeting")
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    x = table["bin"].to_numpy()
    ax.errorbar(x, table["estimate"], yerr=[table["estimate"] - table["ci_low"], table["ci_high"] - table["estimate"]],
                fmt="o", color="#4c72b0", capsize=4, label="measured uplift (95% interval)")
    ax.plot(x, table["promised_mean"] * window_days / 365.25, "x--", color="#c44e52", label="promised by the list")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(x)
    ax.set_xlabel("Bin of expected value (1 = lowest)")
    ax.set_ylabel(f"Extra revenue per client, {window_days} days")
    ax.set_title("Does the ranking rank the uplift?")
    ax.legend(loc="best", fontsize=8)
    return fig
