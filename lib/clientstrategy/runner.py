"""The quarterly run: validate, execute every numbered notebook with papermill, render, publish.

A run promises (README, "what a run promises"):

* **Validate first.** The input is loaded, mapped and validated before anything is written; bad
  input stops the run with every problem listed and leaves ``OUT`` untouched.
* **All or nothing.** Notebooks execute in a staging folder beside ``OUT/<quarter>``; only when
  every notebook succeeded and every page rendered is the staging folder moved into place. A
  failing cell, a dead kernel, a cell past its timeout or Ctrl-C ends the run with a message naming
  the notebook, the cell and the cause, keeps the partial executed notebook in
  ``OUT/failed/<quarter>/`` and leaves the last good run of that quarter as it was.
* **One run per quarter and OUT at a time** (a file lock; a second run refuses with a message, or
  with ``--wait`` waits for the first to finish).
* **A clean terminal.** The kernels' own output (stderr/stdout) and papermill's log go to a log file
  per notebook; on failure it is kept as ``OUT/failed/<quarter>/<notebook>.log``.
* **metrics.json says what ran**: ``run.parameters`` the values passed; ``parameters`` and
  ``notebook_parameters`` the values the notebooks used (defaults overridden by the run's values);
  ``timings`` the seconds per notebook and for rendering.
* **Known parameters only.** Extra parameters must be declared in some notebook's ``parameters``
  cell and carry JSON values: papermill writes names into code, so nothing else is let through.
"""
from __future__ import annotations

import ast
import contextlib
import fcntl
import json
import logging
import math
import os
import re
import shutil
import signal
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import pandas as pd

from . import features, io, paths, periods, validate
from .nb import to_jsonable

__all__ = [
    "VERSIONED_PACKAGES",
    "RunConfig",
    "RunError",
    "check_parameters",
    "declared_parameters",
    "notebook_list",
    "run",
    "run_notebooks",
]

VERSIONED_PACKAGES = ("clientstrategy", "pandas", "numpy", "scipy", "scikit-learn", "seaborn", "matplotlib",
                      "papermill", "nbconvert", "nbclient", "duckdb", "pandera", "pyarrow", "ipywidgets")

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
#: Parameters the runner sets itself; a user may not override them with --param.
RUNNER_PARAMETERS = ("data_dir", "mapping", "as_of", "artifacts_dir", "history_dir")
#: Runner parameters that are paths of one run (staging folders, OUT): not recorded in metrics.json's
#: ``parameters`` (they would differ between identical runs; ``run.data`` and ``run.mapping`` say what was read).
_PATH_PARAMETERS = ("data_dir", "mapping", "artifacts_dir", "history_dir")
#: Loggers whose records would otherwise reach the terminal during a notebook (nbclient logs through papermill's).
_QUIET_LOGGERS = ("papermill", "nbclient", "traitlets", "jupyter_client")
#: State shared with the papermill engine and the kernel manager while one notebook executes.
_ACTIVE: dict = {"manager": None, "kernel_log": None}


class RunError(RuntimeError):
    """A run that stopped: the message says which notebook, which cell and why."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class RunConfig:
    """What a run is asked to do (the Makefile's DATA, MAPPING, AS_OF, OUT, HOLDOUT_WEEKS...)."""

    data: str = ""
    mapping: str = ""
    as_of: str = ""
    out: Path = field(default_factory=lambda: paths.REPORTS)
    holdout_weeks: int | None = None
    params: dict = field(default_factory=dict)
    notebooks: list | None = None
    notebooks_dir: Path = field(default_factory=lambda: paths.NOTEBOOKS)
    cell_timeout: int = 1800
    kernel: str = "python3"
    progress: bool = True
    lock_wait: bool = False
    pseudonymise: bool = False


def notebook_list(notebooks_dir: Path, only=None) -> list[Path]:
    """The numbered notebooks (``NN_name.ipynb``) in run order, optionally only those named in ``only``."""
    nbs = sorted(Path(notebooks_dir).glob("[0-9][0-9]_*.ipynb"))
    if only:
        wanted = [str(o) for o in only]
        nbs = [p for p in nbs if any(p.stem == w or p.stem.startswith(w + "_") or p.stem[:2] == w for w in wanted)]
    return nbs


def declared_parameters(nb_path: Path) -> dict:
    """Names and defaults (as source text) of a notebook's ``parameters`` cell, via papermill."""
    import nbformat
    import papermill

    found = {name: spec["default"] for name, spec in papermill.inspect_notebook(str(nb_path)).items()}
    # papermill's parser skips a line whose comment holds '=' or ';': never let such a parameter be
    # dropped silently (the notebook would quietly fall back to its default, e.g. the sample data).
    nb = nbformat.read(str(nb_path), as_version=4)
    for cell in nb.cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            for line in cell.source.splitlines():
                m = re.match(r"^([A-Za-z_]\w*)\s*(?::[^=]*)?=\s*(.*?)(?:\s+#.*)?$", line)
                if m and m.group(1) not in found:
                    found[m.group(1)] = m.group(2)
    return found


def check_parameters(params: dict, declared: set) -> dict:
    """Refuse unknown names and non-JSON values; return the parameters unchanged when safe.

    Raises
    ------
    RunError
        Naming the offending parameter.
    """
    for name, value in params.items():
        if not isinstance(name, str) or not _NAME.match(name):
            raise RunError(f"parameter name {name!r} is not a plain identifier; refused", 2)
        if name in RUNNER_PARAMETERS:
            raise RunError(f"parameter {name!r} is set by the runner (use DATA, MAPPING, AS_OF, OUT)", 2)
        if name not in declared:
            raise RunError(f"unknown parameter {name!r}: no notebook declares it "
                           f"(known: {', '.join(sorted(declared - set(RUNNER_PARAMETERS)))})", 2)
        if not _json_value(value):
            raise RunError(f"parameter {name!r} has a value that is not plain JSON: {value!r}", 2)
    return params


def _json_value(v) -> bool:
    if v is None or isinstance(v, (bool, int, float, str)):
        return not (isinstance(v, float) and math.isnan(v))
    if isinstance(v, list):
        return all(_json_value(x) for x in v)
    if isinstance(v, dict):
        return all(isinstance(k, str) and _json_value(x) for k, x in v.items())
    return False


def _versions() -> dict:
    out = {"python": sys.version.split()[0]}
    for pkg in VERSIONED_PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def _notebook_title(nb_path: Path) -> str:
    import nbformat

    nb = nbformat.read(str(nb_path), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return nb_path.stem


def _kernel_manager_class():
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import Unicode

    class _IPCKernelManager(AsyncKernelManager):
        """Kernels over local IPC sockets: nothing listens on TCP, and no transport warning.

        The kernel's stdout and stderr go to the current notebook's log file (when the runner set
        one), so that a kernel's own tracebacks (e.g. ZMQError while it is being shut down after a
        timeout) never reach the user's terminal.
        """

        transport = Unicode("ipc")

        async def _async_launch_kernel(self, kernel_cmd, **kw):
            log = _ACTIVE.get("kernel_log")
            if log is None:
                return await super()._async_launch_kernel(kernel_cmd, **kw)
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:  # the child keeps its own copy of the descriptor
                kw.setdefault("stdout", fd)
                kw.setdefault("stderr", fd)
                return await super()._async_launch_kernel(kernel_cmd, **kw)
            finally:
                os.close(fd)

    return _IPCKernelManager


def __getattr__(name):  # the manager class is built lazily so that importing the runner stays light
    if name == "LocalKernelManager":
        return _kernel_manager_class()
    raise AttributeError(name)


_ENGINE = "clientstrategy"


def _register_engine() -> str:
    """Register (once) papermill's nbclient engine with a hook that keeps the notebook being executed.

    Papermill writes the output notebook only at the end or on a cell error; with a cell past its
    timeout, a dead kernel or Ctrl-C the runner still has the in-memory notebook (cells executed so
    far, and the one that was running: the last with a ``start_time``) to keep and to name.
    """
    from papermill.engines import NBClientEngine, papermill_engines

    if papermill_engines._engines.get(_ENGINE) is None:

        class _TrackingEngine(NBClientEngine):
            @classmethod
            def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
                _ACTIVE["manager"] = nb_man
                return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)

        papermill_engines.register(_ENGINE, _TrackingEngine)
    return _ENGINE


@contextlib.contextmanager
def _notebook_logs(log: Path):
    """Send the kernel's output and papermill/nbclient/jupyter_client log records to ``log``, not the terminal."""
    log.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    saved = []
    for name in _QUIET_LOGGERS:
        lg = logging.getLogger(name)
        saved.append((lg, lg.propagate))
        lg.addHandler(handler)
        lg.propagate = False
    _ACTIVE.update(manager=None, kernel_log=log)
    try:
        yield
    finally:
        _ACTIVE["kernel_log"] = None
        for lg, propagate in saved:
            lg.removeHandler(handler)
            lg.propagate = propagate
        handler.close()


class _Lock:
    """An exclusive lock on ``OUT/.<quarter>.lock`` so two runs of one quarter cannot interleave."""

    def __init__(self, out: Path, quarter: str, wait: bool):
        self.path = out / f".{quarter}.lock"
        self.wait = wait
        self.fh = None

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(self.path, "a+")
        try:
            fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.fh.seek(0)
            holder = self.fh.read().strip() or "another process"
            where = f"{self.path.parent}/{self.path.stem.lstrip('.')}"
            if not self.wait:
                self.fh.close()
                raise RunError(f"another run for {where} is in progress ({holder}); wait for it to finish "
                               "(--wait) or use another OUT", 3) from None
            print(f"Another run for {where} is in progress ({holder}); waiting for it to finish...",
                  file=sys.stderr, flush=True)
            try:
                fcntl.flock(self.fh, fcntl.LOCK_EX)
            except BaseException:
                self.fh.close()
                raise
        self.fh.seek(0)
        self.fh.truncate()
        self.fh.write(f"pid {os.getpid()}")
        self.fh.flush()
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fh, fcntl.LOCK_UN)
        self.fh.close()


def _load_and_validate(cfg: RunConfig):
    """Load, map and validate the input; nothing is written. Returns (tables, mapping_report)."""
    source = cfg.data or str(_sample_tables())
    if str(source).startswith("spark://"):
        # the folder is checked and staged here (it must be readable from this machine: local mode or a
        # shared file system); the notebooks then aggregate the event tables on Spark
        source = str(features.split_spark_url(source)[1])
    try:
        # event tables stay in DuckDB: typed, checked and later copied to the staging folder in SQL
        tables, report = validate.load_checked(source, mapping=cfg.mapping or None,
                                               in_engine=features.CHECKED_IN_ENGINE)
    except validate.DataValidationError:
        raise
    except (FileNotFoundError, ValueError) as exc:
        msg = str(exc)  # a database's own error already names it (password hidden)
        raise RunError(msg if msg.startswith("cannot read the database")
                       else f"cannot read the input {_display_source(source, cfg)}: {msg}", 2) from exc
    return tables, report, source


def _sample_tables() -> Path:
    tables = paths.SAMPLE / "tables"
    if not (tables / "revenue.parquet").exists():
        from . import sample

        print("Building the bundled sample data (first run only)...", file=sys.stderr)
        sample.write_sample(paths.SAMPLE, size="default")
    return tables


def run(cfg: RunConfig) -> Path:
    """Run the workbook; return the published ``OUT/<quarter>`` folder.

    Raises
    ------
    validate.DataValidationError
        Bad input (exit code 2 in the CLI); nothing was written.
    RunError
        A notebook failed, timed out, its kernel died, the run was interrupted, or a lock is held.
    """
    out = Path(cfg.out).resolve()
    nbs = notebook_list(cfg.notebooks_dir, cfg.notebooks)
    if not nbs:
        raise RunError(f"no numbered notebooks found in {cfg.notebooks_dir}", 2)
    declared = {}
    for p in nbs:
        declared[p.stem] = declared_parameters(p)
    all_declared = set().union(*[set(d) for d in declared.values()])
    params = dict(cfg.params)
    if cfg.holdout_weeks is not None:
        params["holdout_weeks"] = int(cfg.holdout_weeks)
    check_parameters(params, all_declared)

    tables, mapping_report, source = _load_and_validate(cfg)
    rev = tables["revenue"]
    as_of = periods.parse_as_of(cfg.as_of, rev["date"] if isinstance(rev, pd.DataFrame)
                                else features.distinct_values(rev, "date"))
    quarter = periods.quarter_label(as_of)
    fingerprint = io.fingerprint(tables)  # hashed in DuckDB, event tables where they are

    out.mkdir(parents=True, exist_ok=True)
    with _Lock(out, quarter, cfg.lock_wait):
        staging = out / f".staging-{quarter}-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        run_dir = staging / quarter
        try:
            published = _execute(cfg, nbs, declared, params, tables, mapping_report, source, as_of, quarter,
                                 fingerprint, out, staging, run_dir)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return published


def _stage_tables(tables: dict, folder: Path, pseudonymise: bool = False) -> None:
    """Write the typed tables the notebooks read; event tables are copied by DuckDB, streamed."""
    from . import privacy

    folder.mkdir(parents=True, exist_ok=True)
    codes = privacy.name_codes(tables) if pseudonymise else {}
    if pseudonymise:
        tables = privacy.pseudonymise(tables)
    for name, df in tables.items():
        if isinstance(df, pd.DataFrame):
            df.to_parquet(folder / f"{name}.parquet", index=False)
        else:
            lookups = (privacy.text_lookups(lambda c, t=df: features.distinct_values(t, c), name, df.columns, codes)
                       if pseudonymise else None)
            features.write_parquet(df, folder / f"{name}.parquet", replace=lookups)
    validate.mark_validated(folder)  # the notebooks read these files without validating them again


def _execute(cfg, nbs, declared, params, tables, mapping_report, source, as_of, quarter, fingerprint, out,
             staging, run_dir) -> Path:
    from tqdm import tqdm

    from . import excel, report

    table_dir = staging / "tables"
    _stage_tables(tables, table_dir, pseudonymise=cfg.pseudonymise)
    features.detach(tables.values())  # the notebooks read the staged copies: free the engine's cache now
    for sub in ("notebooks", "leadership", "artifacts"):
        (run_dir / sub).mkdir(parents=True, exist_ok=True)
    artifacts = run_dir / "artifacts"
    if mapping_report is not None and len(mapping_report):
        mapping_report.to_csv(artifacts / "mapping_report.csv", index=False, lineterminator="\n")
    base = {"data_dir": str(table_dir), "mapping": "", "as_of": as_of.strftime("%Y-%m-%d"),
            "artifacts_dir": str(artifacts), "history_dir": str(out)}
    timings: dict[str, float] = {}
    bar = tqdm(nbs, desc="workbook", unit="notebook", disable=not cfg.progress, file=sys.stderr)
    old_int = signal.getsignal(signal.SIGINT)
    os.environ["CLIENTSTRATEGY_BATCH"] = "1"  # kernels inherit it: explorers show their static form
    # kernels inherit the engine too: Spark for a spark:// DATA URL, reading the staged folder
    os.environ[features.ENGINE_ENV] = (features.split_spark_url(cfg.data)[0]
                                       if str(cfg.data or "").startswith("spark://") else "")
    try:
        for nb_path in bar:
            bar.set_description(f"{nb_path.stem}")
            wanted = {**base, **params}
            nb_params = {k: v for k, v in wanted.items() if k in declared[nb_path.stem]}
            executed = run_dir / "notebooks" / nb_path.name
            log = staging / "logs" / f"{nb_path.stem}.log"
            t0 = time.perf_counter()
            try:
                _execute_one(nb_path, executed, nb_params, run_dir, log, cfg.kernel, cfg.cell_timeout)
            except KeyboardInterrupt:
                cell = _running_cell(executed)
                kept = _keep_failed(out, quarter, executed, f"interrupted (Ctrl-C) while running {cell}", log)
                raise RunError(f"run interrupted (Ctrl-C) during {nb_path.name} while running {cell}.\nThe partial "
                               f"executed notebook is in {kept}; nothing was published, the last good run of "
                               f"{quarter} is unchanged.", 130) from None
            except Exception as exc:  # papermill/nbclient raise many types: each is described below
                why = _describe_failure(exc, executed, cfg.cell_timeout)
                kept = _keep_failed(out, quarter, executed, why, log)
                raise RunError(f"{nb_path.name} failed: {why}.\nThe partial executed notebook is in {kept}; "
                               f"nothing was published, the last good run of {quarter} is unchanged.") from exc
            finally:
                _ACTIVE["manager"] = None
            timings[nb_path.stem] = round(time.perf_counter() - t0, 2)
            bar.set_postfix_str(f"{nb_path.stem} {timings[nb_path.stem]:.1f}s")
            if cfg.progress:
                tqdm.write(f"  {nb_path.stem:<22} {timings[nb_path.stem]:6.1f} s", file=sys.stderr)
    finally:
        bar.close()
        os.environ.pop("CLIENTSTRATEGY_BATCH", None)
        os.environ.pop(features.ENGINE_ENV, None)
        signal.signal(signal.SIGINT, old_int)

    excel.write_plan_workbook(artifacts)
    used, per_notebook = _used_parameters(declared, {**base, **params})
    metrics = _merge_metrics(artifacts, nbs, params, source, cfg, as_of, quarter, fingerprint, timings,
                             used, per_notebook)
    from . import monitoring

    earlier = monitoring.previous_runs(out, quarter)  # the quarter before, under the same OUT: changes at a glance
    pages = report.render_run(run_dir, nbs, metrics, tables, previous=Path(earlier["path"].iloc[-1]) if len(earlier) else None)
    # the render time is known only now: record it in metrics.json too (timings are the one clocked section)
    metrics["timings"]["render"] = float(pages.get("_seconds", 0.0))
    metrics["timings"]["total"] = round(sum(timings.values()) + metrics["timings"]["render"], 2)
    _write_metrics(artifacts, metrics)
    return _publish(run_dir, out, quarter)


def _execute_one(nb_path: Path, executed: Path, parameters: dict, cwd: Path, log: Path, kernel: str,
                 cell_timeout: int) -> None:
    """Execute one notebook with papermill: kernel output and papermill's log go to ``log``."""
    import papermill

    with _notebook_logs(log):
        papermill.execute_notebook(
            str(nb_path), str(executed), parameters=parameters, kernel_name=kernel,
            progress_bar=False, execution_timeout=cell_timeout, cwd=str(cwd),
            log_output=False, request_save_on_cell_execute=False, engine_name=_register_engine(),
            kernel_manager_class="clientstrategy.runner.LocalKernelManager",
        )


def run_notebooks(nbs: list, parameters: dict, work_dir: Path, *, kernel: str = "python3", cell_timeout: int = 1800,
                  progress=None) -> dict:
    """Execute notebooks in order, each with the parameters it declares; nothing is published.

    For a notebook run on its own that needs what earlier notebooks leave in the artifacts folder
    (``nb.Context.ensure_upstream``): the same papermill engine, kernel manager, logs, batch mode
    and failure messages as :func:`run`, without validation, staging, rendering or publishing.

    Parameters
    ----------
    nbs : list of Path
        Notebooks in run order.
    parameters : dict
        Values by name (``data_dir``, ``as_of``, ``artifacts_dir``...); each notebook receives
        those its ``parameters`` cell declares.
    work_dir : Path
        Working folder of the kernels; executed notebooks go to ``work_dir/notebooks`` and logs
        to ``work_dir/logs``.
    kernel : str
        Kernel spec name.
    cell_timeout : int
        Seconds one cell may run.
    progress : callable, optional
        Called with ``(stem, seconds)`` after each notebook.

    Returns
    -------
    dict
        Seconds per notebook stem.

    Raises
    ------
    RunError
        Naming the notebook, the cell and the cause; the partial notebook and its log stay in
        ``work_dir``.
    """
    work_dir = Path(work_dir)
    (work_dir / "notebooks").mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    saved = os.environ.get("CLIENTSTRATEGY_BATCH")
    os.environ["CLIENTSTRATEGY_BATCH"] = "1"  # no live widgets without a page behind the kernel
    try:
        for nb_path in nbs:
            nb_path = Path(nb_path)
            declared = declared_parameters(nb_path)
            executed = work_dir / "notebooks" / nb_path.name
            log = work_dir / "logs" / f"{nb_path.stem}.log"
            t0 = time.perf_counter()
            try:
                _execute_one(nb_path, executed, {k: v for k, v in parameters.items() if k in declared}, work_dir,
                             log, kernel, cell_timeout)
            except KeyboardInterrupt:
                raise RunError(f"interrupted (Ctrl-C) during {nb_path.name} while running {_running_cell(executed)}; "
                               f"the partial notebook is in {executed}", 130) from None
            except Exception as exc:  # papermill/nbclient raise many types: each is described below
                raise RunError(f"{nb_path.name} failed: {_describe_failure(exc, executed, cell_timeout)}.\n"
                               f"The partial executed notebook is {executed}; its log is {log}.") from exc
            finally:
                _ACTIVE["manager"] = None
            timings[nb_path.stem] = round(time.perf_counter() - t0, 2)
            if progress is not None:
                progress(nb_path.stem, timings[nb_path.stem])
    finally:
        if saved is None:
            os.environ.pop("CLIENTSTRATEGY_BATCH", None)
        else:
            os.environ["CLIENTSTRATEGY_BATCH"] = saved
    return timings


def _default_value(text: str):
    """A parameter default as papermill reports it (source text) -> its value; an expression stays text."""
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text.strip()


def _used_parameters(declared: dict, values: dict) -> tuple[dict, dict]:
    """The parameters each notebook ran with: its declared defaults overridden by the run's ``values``.

    Returns ``(run_wide, per_notebook)``: ``per_notebook[stem] = {name: value}``; ``run_wide`` holds
    each name whose value is the same in every notebook that declares it (a name whose default
    differs between notebooks, e.g. ``top_n``, is only in ``per_notebook``). The runner's path
    parameters (staging folders) are left out.
    """
    per_notebook: dict = {}
    for stem, decl in declared.items():
        per_notebook[stem] = {name: (values[name] if name in values else _default_value(str(default)))
                              for name, default in decl.items() if name not in _PATH_PARAMETERS}
    seen: dict = {}
    for used in per_notebook.values():
        for name, value in used.items():
            seen.setdefault(name, set()).add(json.dumps(to_jsonable(value), sort_keys=True))
    run_wide = {}
    for used in per_notebook.values():
        for name, value in used.items():
            if len(seen[name]) == 1:
                run_wide.setdefault(name, value)
    return dict(sorted(run_wide.items())), per_notebook


def _running_nb(executed: Path):
    """The notebook being executed when a run stopped: papermill's in-memory copy, else the file written."""
    manager = _ACTIVE.get("manager")
    if manager is not None:
        return manager.nb
    try:
        import nbformat

        return nbformat.read(str(executed), as_version=4)
    except Exception:  # noqa: BLE001 (the partial notebook may be absent or unreadable)
        return None


def _started_cells(nb) -> list:
    return [i for i, c in enumerate(nb.cells) if (c.get("metadata", {}).get("papermill") or {}).get("start_time")]


def _running_cell(executed: Path) -> str:
    """``cell N (`first line`)`` of the cell that was running: the last one papermill started.

    Papermill stamps ``start_time`` on a cell before executing it (and clears every stamp at the
    start), then marks it completed even when it timed out or its kernel died, so the status says
    nothing; the last started cell is the one that was running.
    """
    nb = _running_nb(executed)
    if nb is None:
        return "a cell that could not be determined (no partial notebook)"
    started = _started_cells(nb)
    if not started:
        return "no cell yet (while starting the kernel)"
    return _cell_label(started[-1], nb.cells[started[-1]].get("source", ""))


def _cell_label(index, source: str) -> str:
    lines = [ln for ln in str(source or "").splitlines() if ln.strip()]
    first = lines[0].strip()[:100] if lines else ""
    return f"cell {index if index is not None else '?'} (`{first}`)"


def _describe_failure(exc, executed: Path, timeout: int) -> str:
    name = type(exc).__name__
    if name == "PapermillExecutionError":
        cell = getattr(exc, "exec_count", None)
        label = _cell_label(getattr(exc, "cell_index", None), getattr(exc, "source", ""))
        return (f"{label[:-1]}, execution {cell}) raised "
                f"{getattr(exc, 'ename', '')}: {str(getattr(exc, 'evalue', '')).strip()}")
    if name in ("DeadKernelError",) or "kernel died" in str(exc).lower():
        return ("the kernel died (killed, most often for lack of memory) while running "
                f"{_running_cell(executed)}")
    if name in ("CellTimeoutError", "TimeoutError") or "timed out" in str(exc).lower():
        return f"{_running_cell(executed)} ran longer than the per-cell timeout of {timeout} s"
    return f"{name}: {str(exc).strip()[:400]} (while running {_running_cell(executed)})"


def _keep_failed(out: Path, quarter: str, executed: Path, why: str, log: Path | None = None) -> Path:
    """Keep the partial executed notebook (and the notebook's log) in ``OUT/failed/<quarter>/``."""
    dest = out / "failed" / quarter
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True, exist_ok=True)
    if executed.exists():  # papermill wrote it (a cell raised)
        shutil.copy2(executed, dest / executed.name)
    else:  # timeout, dead kernel, Ctrl-C: papermill wrote nothing, the runner has the notebook in memory
        nb = _running_nb(executed)
        if nb is not None:
            import nbformat

            with contextlib.suppress(Exception):
                started = _started_cells(nb)
                if started:  # mark where it stopped, as papermill does for a cell that raised
                    cell = nb.cells[started[-1]]
                    cell.metadata.papermill.update(status="failed", exception=True)
                    cell.outputs.append(nbformat.v4.new_output("stream", name="stderr",
                                                               text=f"[run stopped here: {why}]\n"))
                nbformat.write(nb, str(dest / executed.name))
    if log is not None and log.exists() and log.stat().st_size:
        shutil.copy2(log, dest / f"{executed.stem}.log")
    (dest / "error.txt").write_text(f"{executed.name}: {why}\n")
    return dest


def _write_metrics(artifacts: Path, m: dict) -> None:
    (artifacts / "metrics.json").write_text(json.dumps(to_jsonable(m), indent=2) + "\n")


def _merge_metrics(artifacts: Path, nbs, params, source, cfg, as_of, quarter, fingerprint, timings,
                   used=None, per_notebook=None) -> dict:
    m: dict = {"run": {"quarter": quarter, "as_of": as_of.strftime("%Y-%m-%d"),
                       "data": _display_source(source, cfg), "mapping": cfg.mapping or None,
                       "data_fingerprint": fingerprint, "parameters": params,
                       "notebooks": [p.stem for p in nbs], "pseudonymised": bool(cfg.pseudonymise)}}
    headlines: dict = {}
    part_dir = artifacts / "_metrics"
    for p in nbs:
        f = part_dir / f"{p.stem}.json"
        if not f.exists():
            continue
        part = json.loads(f.read_text())
        headlines.update(part.pop("headlines", {}))
        for k, v in part.items():
            if isinstance(v, dict) and isinstance(m.get(k), dict):
                m[k].update(v)
            else:
                m[k] = v
    shutil.rmtree(part_dir, ignore_errors=True)
    m["headlines"] = headlines
    m["parameters"] = used or {}  # what the notebooks ran with (run["parameters"]: what was passed)
    m["notebook_parameters"] = per_notebook or {}
    m["versions"] = _versions()
    m["timings"] = {"seconds": dict(timings), "total": round(sum(timings.values()), 2)}
    _write_metrics(artifacts, m)
    return m


def _display_source(source: str, cfg: RunConfig) -> str:
    if not cfg.data:
        return "bundled sample (data/sample)"
    if str(cfg.data).startswith("spark://"):
        return str(cfg.data)  # checked from its folder here, aggregated on Spark in the notebooks
    return re.sub(r"//([^:/@]+):([^@]+)@", r"//\1:***@", str(source))  # never print a database password


def _publish(run_dir: Path, out: Path, quarter: str) -> Path:
    """Swap the finished run into ``OUT/<quarter>``; the previous one is removed only after."""
    final = out / quarter
    old = out / f".old-{quarter}-{os.getpid()}"
    if final.exists():
        final.rename(old)
    run_dir.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    _write_root_index(out)
    return final


def _write_root_index(out: Path) -> None:
    """``OUT/index.html``: links to every published quarter, newest first."""
    from . import report

    quarters = sorted([d.name for d in out.iterdir() if d.is_dir() and re.fullmatch(r"\d{4}Q[1-4]", d.name)],
                      reverse=True)
    (out / "index.html").write_text(report.quarters_page(quarters))
