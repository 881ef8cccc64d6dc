"""Benchmarks of the workbook (``make bench``): time, memory and throughput at growing sizes.

For each size of the generated sample (the default, and ``x4``, ``x16``: four and sixteen times its
clients, people and events) the benchmark

* runs the whole workbook in a child process (``clientstrategy.cli run``), as ``make run`` does,
  and samples the resident memory of that process and all its children (the notebook kernels)
  every 0.2 s: **peak RSS of the process tree**;
* reads the run's own per-notebook wall times from ``metrics.json``;
* on CDNOW's full 23,570 clients, times the fit of each purchase model and 200 bootstrap refits
  beside a PyMC-Marketing MAP fit of BG/NBD on the same summary (:func:`fit_cdnow`; PyMC-Marketing
  runs in a separate environment that ``make bench`` creates, never in the workbook's);
* times three **aggregation stages** the way the workbook does them, in the engine over the staged
  Parquet file (revenue by client and quarter, :func:`clientstrategy.outcomes.revenue_by`; digital
  engagement by client, :func:`clientstrategy.activities.digital_engagement`; quality-weighted touches
  by client and quarter, :func:`clientstrategy.activities.touch_summary`) and, **in the same process and
  on the same files**, a baseline for each: one plain hand-written DuckDB query doing the same
  aggregation. The ratio ours / baseline does not depend on the machine.

Results go to ``<out>/bench.json`` and ``<out>/bench.png``. Nothing here runs in ``make test``:
performance is measured, never asserted in a timed unit test.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["PeakRSS", "aggregation_stage", "digital_stage", "fit_cdnow", "main", "run_size", "touch_stage", "tree_rss"]

BASELINE_SQL = """
SELECT CAST(client_id AS VARCHAR) AS client_id, date_trunc('quarter', CAST(date AS DATE)) AS period,
       sum(amount) AS revenue
FROM read_parquet(?) WHERE CAST(date AS DATE) <= ? GROUP BY 1, 2
"""


def tree_rss(pid: int) -> int:
    """Resident memory in bytes of process ``pid`` and all its descendants (0 if it is gone)."""
    import psutil

    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


class PeakRSS:
    """Sample :func:`tree_rss` of ``pid`` in a background thread; ``peak`` holds the maximum seen.

    Examples
    --------
    >>> with PeakRSS(os.getpid()) as m:
    ...     _ = bytearray(10_000_000)
    >>> m.peak > 10_000_000
    True
    """

    def __init__(self, pid: int, interval: float = 0.2):
        self.pid, self.interval, self.peak = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRSS:  # noqa: PYI034 (returns self, typed plainly)
        self.peak = tree_rss(self.pid)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _race(ours, baseline_sql: str, params: list, repeat: int) -> tuple[object, pd.DataFrame, float, float]:
    """Run the workbook's way (``ours()``) and the plain query ``repeat`` times each, alternating, in
    this process; (last results, best seconds of each). The best time counts (the usual convention
    for throughput). The baseline opens its own DuckDB, as a user's one-off query would."""
    import duckdb

    ours_t, base_t, mine, base = [], [], None, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        mine = ours()
        ours_t.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        con = duckdb.connect()
        base = con.execute(baseline_sql, params).df()
        con.close()
        base_t.append(time.perf_counter() - t0)
    return mine, base, min(ours_t), min(base_t)


def _stage_result(rows: int, best_o: float, best_b: float, same: bool) -> dict:
    return {"rows": rows, "ours_seconds": round(best_o, 3), "baseline_seconds": round(best_b, 3),
            "ratio": round(best_o / best_b, 2), "ours_rows_per_second": round(rows / best_o),
            "baseline_rows_per_second": round(rows / best_b), "same_result": same}


def _stage_file(tables, table: str) -> tuple[Path, Path]:
    """The folder and the Parquet file of ``table`` a stage reads; ``ValueError`` when it is absent."""
    tables = Path(tables)
    file = tables / f"{table}.parquet"
    if not file.exists():
        raise ValueError(f"benchmark: table '{table}' is missing: expected {file}")
    return tables, file


def _parquet_rows(file: Path) -> int:
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(file).metadata.num_rows)


def aggregation_stage(tables: str | Path, as_of, repeat: int = 3) -> dict:
    """Revenue by client and quarter, the workbook's way and by a plain DuckDB query, timed.

    The workbook's way is what notebook 01 does: open the staged ``revenue`` in the engine (typed,
    nothing loaded) and group it in SQL (:func:`clientstrategy.outcomes.revenue_by`).

    Parameters
    ----------
    tables : path
        A folder holding ``revenue.parquet``.
    as_of : date-like
        End of the analysed period.
    repeat : int
        Runs of each; the best time counts (the usual convention for throughput).

    Returns
    -------
    dict
        ``rows``, ``ours_seconds``, ``baseline_seconds``, ``ratio`` (ours / baseline),
        ``ours_rows_per_second``, ``baseline_rows_per_second`` and ``same_result`` (both give the
        same per-client totals to the cent).
    """

    from . import features, outcomes

    tables, file = _stage_file(tables, "revenue")
    as_of = pd.Timestamp(as_of)
    ours, base, best_o, best_b = _race(
        lambda: outcomes.revenue_by(features.open_table(tables, "revenue", typed=True),  # as notebook 01 reads it
                                    as_of, by="client_id", freq="Q"),
        BASELINE_SQL, [str(file), as_of.date()], repeat)
    rows = _parquet_rows(file)
    value = next(c for c in ("revenue", "amount") if c in ours.columns)
    a = ours.groupby("client_id")[value].sum().round(2).sort_index()
    b = base.groupby("client_id")["revenue"].sum().round(2).sort_index()
    same = bool(len(a) == len(b) and (a.index == b.index).all() and ((a - b).abs() < 0.01).all())
    return _stage_result(rows, best_o, best_b, same)


DIGITAL_BASELINE_SQL = """
SELECT client_id,
       SUM(CASE WHEN w AND event_type = 'login' THEN 1 ELSE 0 END) AS logins,
       SUM(CASE WHEN w AND event_type = 'page_view' THEN 1 ELSE 0 END) AS page_views,
       SUM(CASE WHEN w AND event_type = 'search' THEN 1 ELSE 0 END) AS searches,
       SUM(CASE WHEN w AND event_type = 'download' THEN 1 ELSE 0 END) AS downloads,
       COUNT(DISTINCT CASE WHEN w THEN session_id END) AS sessions,
       SUM(CASE WHEN w THEN duration_s END) / 60.0 AS minutes,
       MAX("timestamp") AS last_digital
FROM (SELECT *, "timestamp" >= ? AS w FROM read_parquet(?) WHERE "timestamp" < ?)
GROUP BY client_id
"""


def digital_stage(tables: str | Path, as_of, window_days: int = 365, repeat: int = 3) -> dict:
    """Digital engagement per client, the workbook's way and by a plain DuckDB query, timed.

    The workbook's way is what notebook 02 does: open ``digital`` in the engine (the runner's
    staged copy, already typed and checked; nothing loaded), aggregate per client in SQL (``features.digital_counts``) and score in
    pandas (``activities.digital_engagement``). The baseline counts the same events per client
    with one hand-written query on the same file. Both run in this process, so the ratio does
    not depend on the machine.

    Returns
    -------
    dict
        As :func:`aggregation_stage`; ``same_result`` compares every per-client figure (clients
        with any event up to ``as_of``).
    """

    from . import activities, features

    tables, file = _stage_file(tables, "digital")
    as_of = pd.Timestamp(as_of).normalize()
    lo = as_of - pd.Timedelta(days=window_days) + pd.Timedelta(days=1)
    hi = as_of + pd.Timedelta(days=1)
    ours, base, best_o, best_b = _race(
        lambda: activities.digital_engagement(features.open_table(tables, "digital", typed=True),  # the staged copy
                                              as_of, window_days=window_days),
        DIGITAL_BASELINE_SQL, [lo.to_pydatetime(), str(file), hi.to_pydatetime()], repeat)
    rows = _parquet_rows(file)
    cols = ["logins", "page_views", "searches", "downloads", "sessions"]
    a = ours.set_index("client_id").sort_index()
    b = base.set_index("client_id").sort_index()
    same = bool(len(a) == len(b) and (a.index == b.index).all()
                and (a[cols].to_numpy() == b[cols].fillna(0).astype("int64").to_numpy()).all()
                and np.allclose(a["minutes"], b["minutes"].fillna(0.0), atol=1e-6)
                and (a["last_digital"] == pd.to_datetime(b["last_digital"]).astype("datetime64[ns]")).all())
    return _stage_result(rows, best_o, best_b, same)


def _weights_sql() -> tuple[str, str]:
    """``activities.DEFAULT_WEIGHTS`` as two VALUES lists: (type, outcome, weight) and (type, weight)."""
    from . import activities

    def text(v):
        return "'" + str(v).replace("'", "''") + "'"

    exact = [f"({text(t)}, {text(o)}, {float(w)!r})" for t, d in activities.DEFAULT_WEIGHTS.items()
             for o, w in d.items() if o != "*"]
    by_type = [f"({text(t)}, {float(d.get('*', 0.1))!r})" for t, d in activities.DEFAULT_WEIGHTS.items()]
    return ", ".join(exact), ", ".join(by_type)


TOUCH_BASELINE_SQL = """
WITH w(t, o, weight) AS (VALUES {exact}),
     s(t, weight) AS (VALUES {by_type}),
     a AS (SELECT client_id, "timestamp", LOWER(TRIM(activity_type)) AS t,
                  COALESCE(NULLIF(LOWER(TRIM(outcome)), ''), 'unknown') AS o
           FROM read_parquet(?) WHERE "timestamp" >= ? AND "timestamp" < ?)
SELECT client_id, YEAR("timestamp") * 10 + QUARTER("timestamp") AS period, COUNT(*) AS touches,
       SUM(COALESCE(w.weight, s.weight, 0.1)) AS weighted_touches
FROM a LEFT JOIN w ON a.t = w.t AND a.o = w.o LEFT JOIN s ON a.t = s.t
GROUP BY client_id, period
"""


def touch_stage(tables: str | Path, as_of, months: int = 12, repeat: int = 3) -> dict:
    """Quality-weighted touches per client and quarter, the workbook's way and by a plain DuckDB query.

    The workbook's way is what notebook 02 does: open ``activities`` in the engine (typed, nothing
    loaded) and group in SQL with the weights joined on the distinct raw kinds
    (``activities.touch_summary``). The baseline normalises every row's type and outcome and joins the
    same weights in one hand-written query on the same file.

    Returns
    -------
    dict
        As :func:`aggregation_stage`; ``same_result`` compares touches and weighted touches of every
        client and quarter.
    """

    from . import activities, features

    tables, file = _stage_file(tables, "activities")
    as_of = pd.Timestamp(as_of).normalize()
    lo = as_of - pd.DateOffset(months=months) + pd.Timedelta(days=1)
    hi = as_of + pd.Timedelta(days=1)
    exact, by_type = _weights_sql()
    query = TOUCH_BASELINE_SQL.format(exact=exact, by_type=by_type)
    ours, base, best_o, best_b = _race(
        lambda: activities.touch_summary(features.open_table(tables, "activities", typed=True), as_of,
                                         by=["client_id", "period"], freq="Q", months=months),
        query, [str(file), lo.to_pydatetime(), hi.to_pydatetime()], repeat)
    rows = _parquet_rows(file)
    a = ours.assign(period=ours["period"].astype(str)).set_index(["client_id", "period"]).sort_index()
    b = base.assign(period=(base["period"] // 10).astype(str) + "Q" + (base["period"] % 10).astype(str),
                    client_id=base["client_id"].astype(str)).set_index(["client_id", "period"]).sort_index()
    same = bool(len(a) == len(b) and (a.index == b.index).all()
                and (a["touches"].to_numpy() == b["touches"].to_numpy()).all()
                and np.allclose(a["weighted_touches"], b["weighted_touches"], atol=1e-6))
    return _stage_result(rows, best_o, best_b, same)


#: The PyMC-Marketing MAP fit of BG/NBD the bench compares with, run by the bench venv's Python (a
#: separate environment: PyMC-Marketing is not a dependency of the workbook).
PYMC_SCRIPT = """
import json, sys, time, warnings
warnings.filterwarnings("ignore")
import pandas as pd
from pymc_marketing.clv import BetaGeoModel
df = pd.read_csv(sys.argv[1])
t0 = time.perf_counter()
m = BetaGeoModel(data=df)
try:
    m.fit(method="map", progressbar=False)
except TypeError:
    m.fit(fit_method="map", progressbar=False)
post = m.idata.posterior
print(json.dumps({"seconds": time.perf_counter() - t0,
                  "params": {k: float(post[k].values.ravel()[0]) for k in ("r", "alpha", "a", "b")}}))
"""


def fit_cdnow(cdnow_dir: str | Path, pymc_python: str | None = None, n_boot: int = 200) -> dict | None:
    """Fit times of every purchase model and of ``n_boot`` bootstrap refits on the full CDNOW data,
    beside a PyMC-Marketing MAP fit of BG/NBD on the same summary in the same run.

    Parameters
    ----------
    cdnow_dir : path
        Folder with ``CDNOW_master.txt`` (23,570 clients); None is returned when it is absent.
    pymc_python : str, optional
        Python of an environment with ``pymc-marketing`` (``make bench`` makes one); when absent or
        failing, ``pymc`` says why and the rest is still measured.
    n_boot : int
        Bootstrap refits (BG/NBD with Gamma-Gamma, each from the full fit).

    Returns
    -------
    dict
        ``customers``, ``summary_seconds``, ``models`` (name -> ``seconds``, ``params``, ``loglik``),
        ``bootstrap`` (``refits``, ``seconds``), ``ours_total_seconds`` (all three models and the
        refits), ``pymc`` (``seconds`` and ``params`` of its MAP fit, or ``error``) and
        ``faster_than_pymc`` (ours_total < PyMC-Marketing's MAP).
    """
    from . import clv, io, paths

    cdnow_dir = Path(cdnow_dir)
    if not (cdnow_dir / "CDNOW_master.txt").exists():
        return None
    rev = io.load_source(cdnow_dir, mapping=paths.MAPPINGS / "cdnow.yaml")["revenue"]
    t0 = time.perf_counter()
    summary = clv.rfm_summary(rev, as_of="1998-06-30")
    out = {"customers": len(summary), "summary_seconds": round(time.perf_counter() - t0, 3), "models": {}}
    fitted = {}
    for name, cls in clv.PURCHASE_MODELS.items():
        t0 = time.perf_counter()
        m = cls().fit(summary)
        fitted[name] = m
        out["models"][name] = {"seconds": round(time.perf_counter() - t0, 3), "loglik": round(m.loglik_, 3),
                               "params": {k: round(v, 6) for k, v in m.params_.items()}}
    t0 = time.perf_counter()
    sm = clv.GammaGammaModel().fit(summary)
    fits = clv.bootstrap(summary, n_boot=n_boot, random_state=0, purchase_model=fitted["bgnbd"], spend_model=sm)
    out["bootstrap"] = {"refits": len(fits), "seconds": round(time.perf_counter() - t0, 3)}
    out["ours_total_seconds"] = round(sum(v["seconds"] for v in out["models"].values()) + out["bootstrap"]["seconds"], 3)
    out["pymc"] = {"error": "no PyMC-Marketing environment (make bench makes one: BENCH_VENV)"}
    if pymc_python and Path(pymc_python).exists():
        with tempfile.TemporaryDirectory(prefix="cs-pymc-") as tmp:
            data = Path(tmp) / "rfm.csv"
            pd.DataFrame({"customer_id": np.arange(len(summary)), "frequency": summary["x"], "recency": summary["t_x"],
                          "T": summary["T"]}).to_csv(data, index=False)
            script = Path(tmp) / "fit.py"
            script.write_text(PYMC_SCRIPT)
            proc = subprocess.run([pymc_python, str(script), str(data)], capture_output=True, text=True, timeout=3600, check=False,
                                  cwd=tmp)
            try:
                out["pymc"] = json.loads(proc.stdout.strip().splitlines()[-1])
            except (IndexError, json.JSONDecodeError):
                out["pymc"] = {"error": (proc.stderr or proc.stdout)[-1500:]}
    if "seconds" in out["pymc"]:
        out["faster_than_pymc"] = bool(out["ours_total_seconds"] < out["pymc"]["seconds"])
    return out


def run_size(size: str, work: Path, timeout: int = 3600) -> dict:
    """Generate the sample at ``size`` and run the whole workbook on it; time and memory.

    Returns
    -------
    dict
        ``size``, ``rows`` per table, ``generate_seconds``, ``run_seconds`` (wall, whole run),
        ``notebook_seconds`` (from ``metrics.json``), ``peak_rss_mb`` and ``aggregation``.
    """
    import pyarrow.parquet as pq

    from . import sample

    data = work / f"sample-{size}"
    t0 = time.perf_counter()
    tables = Path(sample.write_sample(data, size=size))
    gen = time.perf_counter() - t0
    rows = {p.stem: pq.ParquetFile(p).metadata.num_rows for p in sorted(tables.glob("*.parquet"))}
    out = work / f"out-{size}"
    cmd = [sys.executable, "-m", "clientstrategy.cli", "run", "--data", str(tables), "--out", str(out), "--quiet",
           "--timeout", str(timeout)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "CLIENTSTRATEGY_BATCH": "1"})
    with PeakRSS(proc.pid) as mem:
        log, _ = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark run at size {size} failed (exit {proc.returncode}):\n{log[-2000:]}")
    metrics = json.loads(next(out.glob("*/artifacts/metrics.json")).read_text())
    return {"size": size, "rows": rows, "generate_seconds": round(gen, 2), "run_seconds": round(wall, 2),
            "notebook_seconds": metrics["timings"]["seconds"], "peak_rss_mb": round(mem.peak / 2**20),
            "aggregation": aggregation_stage(tables, metrics["run"]["as_of"]),
            "digital_aggregation": digital_stage(tables, metrics["run"]["as_of"]),
            "touch_aggregation": touch_stage(tables, metrics["run"]["as_of"])}


def _plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = result["runs"]
    lines = [r["rows"]["revenue"] + r["rows"].get("activities", 0) + r["rows"].get("digital", 0) for r in runs]
    fig, axes = plt.subplots(1, 5, figsize=(21, 4))
    nbs = list(runs[0]["notebook_seconds"])
    bottom = [0.0] * len(runs)
    for nb in nbs:
        vals = [r["notebook_seconds"].get(nb, 0.0) for r in runs]
        axes[0].bar([r["size"] for r in runs], vals, bottom=bottom, label=nb)
        bottom = [b + v for b, v in zip(bottom, vals)]
    axes[0].set(title="Wall time per notebook (s)", ylabel="seconds")
    axes[0].legend(fontsize=7)
    axes[1].plot(lines, [r["peak_rss_mb"] for r in runs], "o-")
    axes[1].set(title="Peak memory, whole process tree", xlabel="input rows (revenue + touches + events)",
                ylabel="MB")
    stages = [("aggregation", "Aggregation: revenue by client-quarter", "revenue lines", "workbook (engine)"),
              ("digital_aggregation", "Aggregation: digital engagement", "digital events", "workbook (engine + scoring)"),
              ("touch_aggregation", "Aggregation: weighted touches", "touches", "workbook (engine)")]
    for ax, (key, title, xlabel, ours) in zip(axes[2:], stages):
        done = [r[key] for r in runs if r.get(key)]
        ax.plot([d["rows"] for d in done], [d["ours_seconds"] for d in done], "o-", label=ours)
        ax.plot([d["rows"] for d in done], [d["baseline_seconds"] for d in done], "s--", label="plain DuckDB query")
        ax.set(title=title, xlabel=xlabel, ylabel="seconds")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None) -> int:
    """``python -m clientstrategy.bench [--sizes default x4 x16] [--out reports]``."""
    from . import paths

    ap = argparse.ArgumentParser(prog="clientstrategy.bench", description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", nargs="+", default=["default", "x4", "x16"])
    ap.add_argument("--out", default=str(paths.ROOT / "reports"))
    ap.add_argument("--cdnow", default=str(paths.ROOT.parent / "shared" / "datasets" / "cdnow"))
    ap.add_argument("--pymc-python", default="", help="Python of an environment with pymc-marketing (make bench makes one)")
    ap.add_argument("--models-only", action="store_true", help="only the purchase models' fit times on CDNOW")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result: dict = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}, "runs": []}
    if args.models_only:
        args.sizes = []
    with tempfile.TemporaryDirectory(prefix="cs-bench-") as tmp:
        for size in args.sizes:
            print(f"== size {size}", flush=True)
            r = run_size(size, Path(tmp))
            print(f"   {r['run_seconds']:.0f} s, peak {r['peak_rss_mb']} MB; aggregation stages, workbook / plain "
                  f"DuckDB query: revenue x{r['aggregation']['ratio']}, digital x{r['digital_aggregation']['ratio']}, "
                  f"touches x{r['touch_aggregation']['ratio']}", flush=True)
            result["runs"].append(r)
    result["cdnow_fit"] = fit_cdnow(args.cdnow, args.pymc_python or None)
    fit = result["cdnow_fit"]
    if fit:
        pymc = fit["pymc"].get("seconds")
        print(f"== purchase models on CDNOW ({fit['customers']:,} clients): "
              + ", ".join(f"{k} {v['seconds']:.2f} s" for k, v in fit["models"].items())
              + f"; {fit['bootstrap']['refits']} bootstrap refits {fit['bootstrap']['seconds']:.2f} s; all "
              f"{fit['ours_total_seconds']:.2f} s against PyMC-Marketing's MAP fit of BG/NBD "
              + (f"{pymc:.2f} s" if pymc else f"(not run: {fit['pymc'].get('error', '')[:200]})"), flush=True)
    (out / "bench.json").write_text(json.dumps(result, indent=2) + "\n")
    if result["runs"]:
        _plot(result, out / "bench.png")
    print(f"wrote {out / 'bench.json'} and {out / 'bench.png'}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
