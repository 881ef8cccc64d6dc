"""Performance monitoring: this run against the previous run(s).

* :func:`previous_runs` / :func:`load_run` -- find and read earlier runs under the OUT root
  (``<OUT>/<quarter>/artifacts/``); the only functions here that touch files.
* :func:`snapshot` -- headline figures of one profile (the baseline when there is no previous run).
* :func:`migration` -- tier, segment or group movement between two profiles.
* :func:`metric_changes` -- NPS, engagement, p_alive change on matched clients, with intervals.
* :func:`plan_vs_actual` -- the previous budget's plan (pro rata) against booked revenue since.
* :func:`effects_hold` -- whether the activity effects of an earlier window of history hold in a later,
  non-overlapping one.
* :func:`measure_uplift` -- treated versus control change in revenue and purchases, with a
  confidence interval, overall and per action type where counts allow.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "effects_hold",
    "load_run",
    "measure_uplift",
    "metric_changes",
    "migration",
    "plan_vs_actual",
    "plot_migration",
    "plot_uplift",
    "previous_runs",
    "quarter_end",
    "run_as_of",
    "snapshot",
]

_QUARTER = re.compile(r"^\d{4}Q[1-4]$")


def _require(df, columns, table):
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{table} must be a pandas DataFrame")
    for c in columns:
        if c not in df.columns:
            raise ValueError(f"{table} needs column {c!r}")


def _num(df, col):
    if col not in df.columns:
        return pd.Series(np.nan, index=df.index, dtype=float)
    return pd.to_numeric(df[col], errors="coerce").astype(float)


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
        ``activity_effects``, ``strategy_groups`` (DataFrames, ids as text), ``metrics`` (dict).

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

    Parameters
    ----------
    previous, current : DataFrame
        Profiles with ``client_id`` and ``column`` (current ``revenue_ltm`` gives the revenue).
    column : str
        ``tier``, ``segment``, ``group``, ``intent``, ``service_level``...

    Returns
    -------
    DataFrame
        ``from_<column>``, ``to_<column>``, ``clients``, ``revenue`` (current revenue_ltm of the
        movers), sorted.

    Examples
    --------
    >>> prev = pd.DataFrame({"client_id": ["a", "b"], "tier": ["Gold", "Gold"]})
    >>> cur = pd.DataFrame({"client_id": ["a", "b"], "tier": ["Gold", "Silver"], "revenue_ltm": [5.0, 2.0]})
    >>> migration(prev, cur).values.tolist()
    [['Gold', 'Gold', 1, 5.0], ['Gold', 'Silver', 1, 2.0]]
    """
    _require(previous, ["client_id", column], "previous profile")
    _require(current, ["client_id", column], "current profile")
    a = previous[["client_id", column]].rename(columns={column: "f"})
    b = current[["client_id", column]].rename(columns={column: "t"}).assign(rev=_num(current, "revenue_ltm"))
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


def _client_windows(revenue: pd.DataFrame, clients: pd.Index, start, end) -> pd.DataFrame:
    """Revenue and purchase days per client in the window before ``start`` and in ``(start, end]``."""
    length = end - start
    pre0 = start - length
    r = revenue.loc[(revenue["date"] > pre0) & (revenue["date"] <= end) & revenue["client_id"].isin(clients)]
    post = r["date"] > start
    day = r.groupby([r["client_id"], post.rename("post"), r["date"]])["amount"].sum().reset_index()
    out = pd.DataFrame(index=clients)
    for flag, name in ((False, "pre"), (True, "post")):
        d = day.loc[day["post"] == flag]
        out[f"revenue_{name}"] = d.groupby("client_id")["amount"].sum()
        out[f"purchases_{name}"] = d.loc[d["amount"] > 0].groupby("client_id").size()
    out = out.fillna(0.0).astype(float)
    out["revenue_change"] = out["revenue_post"] - out["revenue_pre"]
    out["purchases_change"] = out["purchases_post"] - out["purchases_pre"]
    return out


def measure_uplift(
    actions: pd.DataFrame,
    revenue: pd.DataFrame,
    start: pd.Timestamp,
    end: pd.Timestamp,
    *,
    by: str | None = "action",
    min_clients: int = 30,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Uplift of acting on last run's recommendations: treated versus control clients.

    The outcome per client is the change from the window before ``start`` (same length) to
    ``(start, end]`` in revenue and in purchase days -- a difference-in-differences, so lasting
    differences between clients cancel. Uplift = mean change of treated - mean change of control,
    with a Welch (unequal variance) t interval from ``scipy.stats.ttest_ind``. A client's flag and
    action type are those of its first-ranked action. Per ``by`` value the estimate is reported
    only when both arms have at least ``min_clients`` clients; otherwise the row says so.

    Parameters
    ----------
    actions : DataFrame
        The previous ``next_best_actions.csv``: ``client_id``, ``control`` (bool), optional
        ``rank`` and the ``by`` column.
    revenue : DataFrame
        Canonical ``revenue`` covering both windows.
    start, end : Timestamp
        The previous run's as_of and this run's as_of.
    by : str or None
        Column of ``actions`` to split by (``action``, ``signal``); None for overall only.
    min_clients : int
        Minimum clients per arm for an estimate.
    confidence : float
        Interval level.

    Returns
    -------
    DataFrame
        ``segment`` ("all" or the ``by`` value), ``metric`` (revenue, purchases), ``treated``,
        ``control`` (client counts), ``treated_change``, ``control_change``, ``uplift``,
        ``ci_low``, ``ci_high``, ``p_value``, ``enough`` (bool), ``verdict`` (words).

    Examples
    --------
    >>> act = pd.DataFrame({"client_id": ["a", "b", "c", "d"], "control": [False, False, True, True]})
    >>> rev = pd.DataFrame({"date": pd.to_datetime(["2026-02-01"] * 4 + ["2026-05-01"] * 4),
    ...                     "client_id": list("abcd") * 2, "amount": [10.0] * 4 + [15.0, 17.0, 10.0, 12.0]})
    >>> out = measure_uplift(act, rev, pd.Timestamp("2026-03-31"), pd.Timestamp("2026-06-30"), by=None, min_clients=2)
    >>> float(out.loc[0, "uplift"])
    5.0
    """
    _require(actions, ["client_id", "control"], "next_best_actions")
    _require(revenue, ["date", "client_id", "amount"], "revenue")
    if by is not None:
        _require(actions, [by], "next_best_actions")
    if end <= start:
        raise ValueError("measure_uplift needs end after start")
    a = actions.copy()
    a["control"] = a["control"].astype("str").str.lower().isin(["true", "1"])
    a = a.sort_values(["client_id", "rank"] if "rank" in a.columns else ["client_id"])
    units = a.groupby("client_id", sort=True).first()
    win = _client_windows(revenue, units.index, start, end)
    units = units.join(win)
    segments = [("all", units)]
    if by is not None:
        segments += [(str(k), g) for k, g in units.groupby(by, sort=True)]
    rows = []
    for seg, g in segments:
        t, c = g.loc[~g["control"]], g.loc[g["control"]]
        for metric in ("revenue", "purchases"):
            col = f"{metric}_change"
            tv, cv = t[col].to_numpy(), c[col].to_numpy()
            enough = len(tv) >= min_clients and len(cv) >= min_clients
            row = {"segment": seg, "metric": metric, "treated": len(tv), "control": len(cv),
                   "treated_change": tv.mean() if len(tv) else np.nan,
                   "control_change": cv.mean() if len(cv) else np.nan,
                   "uplift": np.nan, "ci_low": np.nan, "ci_high": np.nan, "p_value": np.nan, "enough": enough}
            if len(tv) >= 2 and len(cv) >= 2 and (tv.std() > 0 or cv.std() > 0):
                res = stats.ttest_ind(tv, cv, equal_var=False)
                ci = res.confidence_interval(confidence)
                row.update({"uplift": tv.mean() - cv.mean(), "ci_low": ci.low, "ci_high": ci.high,
                            "p_value": res.pvalue})
            if not enough:
                verdict = (f"too few clients to tell ({len(tv)} treated, {len(cv)} control; "
                           f"need {min_clients} in each)")
            elif row["ci_low"] > 0:
                verdict = "acting raised it"
            elif row["ci_high"] < 0:
                verdict = "acting lowered it"
            else:
                verdict = "no measurable difference (the interval covers zero)"
            row["verdict"] = verdict
            rows.append(row)
    out = pd.DataFrame(rows)
    out["enough"] = out["enough"].astype(bool)
    return out


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


def plot_uplift(uplift: pd.DataFrame, metric: str = "revenue"):
    """Uplift with its interval per segment (only rows with enough clients).

    Parameters
    ----------
    uplift : DataFrame
        Output of :func:`measure_uplift`.
    metric : str
        ``revenue`` or ``purchases``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    _require(uplift, ["segment", "metric", "uplift", "ci_low", "ci_high", "enough"], "uplift")
    d = uplift.loc[(uplift["metric"] == metric) & uplift["enough"] & uplift["uplift"].notna()]
    fig, ax = plt.subplots(figsize=(7, 0.6 * max(len(d), 1) + 1.5))
    y = np.arange(len(d))
    ax.errorbar(d["uplift"], y, xerr=[d["uplift"] - d["ci_low"], d["ci_high"] - d["uplift"]], fmt="o",
                color="#4c72b0", capsize=4)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels(d["segment"])
    unit = "revenue per client" if metric == "revenue" else "purchase days per client"
    ax.set_xlabel(f"Extra {unit}, acted on versus held back (95% interval)")
    ax.set_title("Did acting on the recommendations pay?")
    return fig
