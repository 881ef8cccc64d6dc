"""What a notebook needs around the analyses: its inputs, its artifacts, and safe output.

Every numbered notebook opens a :class:`Context` from its parameters, asks it for tables and for
the artifacts of earlier notebooks, and writes its own artifacts and metrics through it. Outputs
meant for leadership go through :func:`say` (markdown built from data, values HTML-escaped),
:func:`table` (escaped HTML tables) and :func:`show` (static figures), so that the HTML reports
read well without code and no client-supplied text can inject markup.
"""
from __future__ import annotations

import html
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from . import paths, periods, schema, words
from .words import plural

__all__ = ["COLUMN_WORDS", "Context", "header", "money", "num", "pct", "plain_axes", "plural", "say",
           "setup_plotting", "show", "table", "to_jsonable"]


def setup_plotting() -> None:
    """House style for static figures; called when a Context opens.

    ``text.parse_math`` is switched off so that a client name holding ``$`` cannot break a figure.
    """
    import matplotlib as mpl
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook", palette="deep")
    # no "1e7" offsets or scientific ticks on any axis: leadership reads 10,000,000 or 10m, never 1e7
    mpl.rcParams.update({"figure.dpi": 100, "savefig.dpi": 100, "figure.figsize": (8, 4.2),
                         "text.parse_math": False, "axes.titleweight": "bold",
                         "axes.formatter.useoffset": False, "axes.formatter.limits": (-6, 15)})


def to_jsonable(obj):
    """``obj`` with numpy/pandas scalars, NaN and Timestamps made JSON-safe (NaN -> None)."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        return None if not math.isfinite(float(obj)) else float(obj)
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, (pd.Timestamp,)):
        return obj.strftime("%Y-%m-%d")
    if obj is pd.NA or obj is pd.NaT:
        return None
    return obj


class Context:
    """A notebook's view of the run: parameters, tables, artifacts, metrics.

    Parameters
    ----------
    data_dir : str
        Folder (or DuckDB file / SQLAlchemy URL) of canonical tables; "" = the bundled sample
        (generated on first use).
    mapping : str
        Mapping YAML for data in another layout; "" = none.
    as_of : str
        End of the analysed period (YYYY-MM-DD); "" = end of the latest complete quarter.
    artifacts_dir : str
        Folder where notebooks hand results to each other; "" = ``reports/dev/artifacts``.
    name : str
        The notebook's name, e.g. ``"01_outcomes"``; names its metrics file.
    history_dir : str
        Root of earlier runs (the runner's ``OUT``), for monitoring; "" = ``reports/``.
    """

    def __init__(self, data_dir: str = "", mapping: str = "", as_of: str = "", artifacts_dir: str = "",
                 name: str = "notebook", history_dir: str = ""):
        from . import validate  # bottom layer; imported here to keep `nb` light to import

        setup_plotting()
        self.name = name
        if data_dir:
            self.data_dir = data_dir
        else:
            self.data_dir = str(_sample_tables())
        self.mapping = mapping or None
        self.artifacts_dir = Path(artifacts_dir) if artifacts_dir else paths.DEV_ARTIFACTS
        self.artifacts_dir.mkdir(parents=True, exist_ok=True)
        self.history_dir = Path(history_dir) if history_dir else paths.REPORTS
        if self.mapping is None and validate.is_validated(self.data_dir):
            # the runner's staged copy, validated before any notebook ran: read each table on first use
            self.tables = validate.LazyTables(self.data_dir)
        else:
            # event tables (features.ENGINE_TABLES) stay in the engine, typed and checked in SQL
            self.tables, _ = validate.load_checked(self.data_dir, mapping=self.mapping)
        # an as-of given (the runner always gives one) needs no revenue dates: nothing is read for it
        self.as_of = periods.parse_as_of(as_of, None if str(as_of or "").strip() else self.tables["revenue"]["date"])
        self.quarter = periods.quarter_label(self.as_of)
        self._window = None
        self._clients = None
        global _ACTIVE
        _ACTIVE = self  # table headers word "revenue_ltm" by this run's window

    @property
    def window(self):
        """The run's ``outcomes.HistoryWindow``: how many months of data "the last twelve months"
        and the year before really hold, and the words every page uses for them."""
        if self._window is None:
            from . import outcomes

            self._window = outcomes.history_window(self.engine_table("revenue"), self.as_of)
        return self._window

    # -- tables ---------------------------------------------------------------------------------
    def has(self, table_name: str) -> bool:
        """Whether table ``table_name`` is present and not empty."""
        rows = getattr(self.tables, "rows", None)  # validate.LazyTables: counted without reading
        if rows is not None:
            return rows(table_name) > 0
        t = self.tables.get(table_name)
        return t is not None and len(t) > 0

    def table(self, table_name: str):
        """The typed table (all rows, including those after ``as_of``), or None when absent.

        A pandas DataFrame, or for the event tables of ``features.ENGINE_TABLES`` a
        ``features.EngineTable`` that the analysis functions aggregate in the engine. ``clients``
        holds only the clients known on ``as_of`` (``validate.known_clients``): one onboarded, or
        first billed, called, visiting or surveyed, after it is not a client yet, and no output of
        a run as of ``as_of`` shows it (data health counts them from the whole table).
        """
        if table_name == "clients":
            return self._known_clients()
        return self.tables.get(table_name)

    def _known_clients(self):
        if getattr(self, "_clients", None) is None:
            from . import validate

            clients = self.tables.get("clients")
            if clients is None or not self.has("revenue"):
                return clients
            from . import features

            # event tables are read in the engine; surveys and invitations are small and read as they are
            others = {t: self.engine_table(t) if t in features.ENGINE_TABLES else self.tables[t]
                      for t in validate.SEEN_IN if t != "revenue" and self.has(t)}
            self._clients = validate.known_clients(clients, self.engine_table("revenue"), self.as_of, others=others)
        return self._clients

    def in_engine(self, *table_names: str) -> dict:
        """The tables, with ``table_names`` held in the engine instead of pandas.

        For checks and summaries over whole tables (notebook 00): a table the runner staged is
        opened as a typed view of its file, so e.g. 20 million revenue lines are counted in SQL and
        never read into pandas; a table already in memory is registered with DuckDB as it is.
        """
        return {name: self.engine_table(name) if name in table_names and self.has(name) else self.tables[name]
                for name in self.tables}

    def engine_table(self, table_name: str):
        """Table ``table_name`` held in the engine (``features.EngineTable``), or None when absent.

        A table the runner staged opens as a typed view of its file (nothing read into pandas); one
        already in memory is registered with DuckDB as it is. For aggregations done in SQL, e.g.
        ``outcomes.revenue_by``.
        """
        from . import features

        if not self.has(table_name):
            return None
        engine = getattr(self.tables, "engine", None)
        return engine(table_name) if engine else features.as_table(self.tables[table_name], table_name)

    def needs(self, *table_names: str) -> bool:
        """True when every table is present; otherwise display what is missing and return False."""
        missing = [t for t in table_names if not self.has(t)]
        if not missing:
            return True
        lines = []
        for t in missing:
            spec = schema.TABLES[t]
            lines.append(f"* **`{t}`** — one row per {_ROW_OF.get(t, 'record')}; required columns "
                         + ", ".join(f"`{c}`" for c in spec.required)
                         + (("; optional " + ", ".join(f"`{c}`" for c in spec.optional)) if spec.optional else ""))
        say("> **This step needs the " + " and ".join(f"`{t}`" for t in missing)
            + (" table" if len(missing) == 1 else " tables") + ", which this data source does not provide.** "
            "The analysis below is skipped. To run it, supply:\n\n" + "\n".join(lines))
        return False

    # -- artifacts ------------------------------------------------------------------------------
    def artifact_path(self, artifact: str) -> Path:
        return self.artifacts_dir / artifact

    def has_artifact(self, artifact: str) -> bool:
        return self.artifact_path(artifact).exists()

    def read_artifact(self, artifact: str):
        """Read an artifact written by an earlier notebook (parquet, csv or json), or None if absent."""
        p = self.artifact_path(artifact)
        if not p.exists():
            return None
        if p.suffix == ".parquet":
            return pd.read_parquet(p)
        if p.suffix == ".csv":
            return pd.read_csv(p, dtype={"client_id": str, "person_id": str, "key": str})
        if p.suffix == ".json":
            return json.loads(p.read_text())
        raise ValueError(f"unknown artifact type {p.suffix!r} for {artifact!r}")

    def write_artifact(self, artifact: str, obj) -> Path:
        """Write ``obj`` (DataFrame -> parquet/csv by extension; dict -> json) deterministically."""
        p = self.artifact_path(artifact)
        p.parent.mkdir(parents=True, exist_ok=True)
        if p.suffix == ".parquet":
            obj.to_parquet(p, index=False)
        elif p.suffix == ".csv":
            obj.to_csv(p, index=False, lineterminator="\n")
        elif p.suffix == ".json":
            p.write_text(json.dumps(to_jsonable(obj), indent=2, sort_keys=False) + "\n")
        else:
            raise ValueError(f"unknown artifact type {p.suffix!r} for {artifact!r}")
        return p

    # -- metrics --------------------------------------------------------------------------------
    def _metrics_path(self) -> Path:
        return self.artifacts_dir / "_metrics" / f"{self.name}.json"

    def log_metrics(self, values: dict) -> None:
        """Merge ``values`` (top-level sections) into this notebook's part of ``metrics.json``."""
        p = self._metrics_path()
        p.parent.mkdir(parents=True, exist_ok=True)
        current = json.loads(p.read_text()) if p.exists() else {}
        current.update(to_jsonable(values))
        p.write_text(json.dumps(current, indent=2) + "\n")

    def headline(self, text: str, /, show: bool = True, **values) -> None:
        """Record a one-sentence finding for the executive summary of ``index.html`` (and show it)."""
        sentence = _fill(text, values)
        p = self._metrics_path()
        current = json.loads(p.read_text()) if p.exists() else {}
        current.setdefault("headlines", {}).setdefault(self.name, [])
        if sentence not in current["headlines"][self.name]:
            current["headlines"][self.name].append(sentence)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(current, indent=2) + "\n")
        if show:
            _display_markdown(sentence)

    # -- the client profile ---------------------------------------------------------------------
    def profile(self) -> pd.DataFrame | None:
        """The client profile as earlier notebooks left it, or None before ``01`` has run."""
        return self.read_artifact("client_profile.parquet")

    def init_profile(self, client_ids) -> pd.DataFrame:
        """Create ``client_profile.parquet`` with every SPEC column, null but for ``client_id``."""
        ids = pd.Series(sorted(pd.unique(pd.Series(client_ids, dtype="str"))), dtype="str")
        prof = pd.DataFrame({"client_id": ids})
        for col in schema.PROFILE_COLUMNS[1:]:
            prof[col] = pd.Series([None] * len(ids), dtype=_PROFILE_TYPES.get(col, "float64"))
        self.write_artifact("client_profile.parquet", prof)
        return prof

    def update_profile(self, values: pd.DataFrame) -> pd.DataFrame:
        """Fill profile columns from ``values`` (``client_id`` + SPEC profile columns).

        Clients absent from ``values`` keep null in those columns; other columns are untouched.

        Raises
        ------
        ValueError
            If ``values`` lacks ``client_id`` or carries a column that is not a profile column.
        """
        if "client_id" not in values.columns:
            raise ValueError("update_profile: column 'client_id' is missing")
        unknown = [c for c in values.columns if c not in schema.PROFILE_COLUMNS]
        if unknown:
            raise ValueError(f"update_profile: columns {unknown} are not client_profile columns")
        prof = self.profile()
        if prof is None:
            prof = self.init_profile(values["client_id"])
        v = values.drop_duplicates("client_id").set_index(values.drop_duplicates("client_id")["client_id"].astype(str))
        prof = prof.copy()
        for col in values.columns:
            if col == "client_id":
                continue
            mapped = prof["client_id"].map(v[col])
            prof[col] = mapped.astype(_PROFILE_TYPES.get(col, "float64"))
        prof = prof[list(schema.PROFILE_COLUMNS)]
        self.write_artifact("client_profile.parquet", prof)
        return prof

    # -- issue 20: missing upstream artifacts (every notebook runs on its own); figures as artifacts ------
    # A separate region: what a notebook does when it is run alone and an earlier notebook's artifact is
    # not in its artifacts folder. The earlier notebooks are run through the runner, with the same data
    # and parameters, into the same folder; the notebook says what was computed.
    _READS = re.compile(r"read_artifact\(\s*[\"']([^\"']+)[\"']")

    @staticmethod
    def _code(nb_path: Path) -> str:
        import nbformat

        return "\n".join(c.source for c in nbformat.read(str(nb_path), as_version=4).cells if c.cell_type == "code")

    @staticmethod
    def _writes(code: str, artifact: str) -> bool:
        """Whether notebook code writes ``artifact`` (read from the code, not from a list to keep)."""
        pattern = (re.compile(r"\b(?:init|update)_profile\(") if artifact == "client_profile.parquet"  # filled by several
                   else re.compile(r"write_artifact\(\s*[\"']" + re.escape(artifact) + r"[\"']"))
        return bool(pattern.search(code))

    @staticmethod
    def _reads(code: str) -> set:
        return set(Context._READS.findall(code)) | ({"client_profile.parquet"} if ".profile()" in code else set())

    def upstream_notebooks(self, *artifacts: str, notebooks_dir: str | Path | None = None) -> list[Path]:
        """The earlier notebooks to run, in order, for ``artifacts`` missing from the artifacts folder.

        Every notebook numbered before this one (``name``) that writes a missing artifact is run,
        and so, in turn, is every earlier notebook that writes a missing artifact one of those
        reads; all notebooks from the first of them to the last run, in order (the client profile
        is filled by several).

        Returns
        -------
        list of Path
            Empty when every artifact is present (or no earlier notebook writes it).
        """
        from . import runner

        earlier = [p for p in runner.notebook_list(Path(notebooks_dir) if notebooks_dir else paths.NOTEBOOKS)
                   if p.stem[:2] < str(self.name)[:2]]
        code = {p: self._code(p) for p in earlier}
        wanted, chosen = {a for a in artifacts if not self.has_artifact(a)}, set()
        while wanted:
            artifact = wanted.pop()
            for i, p in enumerate(earlier):
                if i not in chosen and self._writes(code[p], artifact):
                    chosen.add(i)
                    wanted |= {a for a in self._reads(code[p]) if not self.has_artifact(a)}
        return earlier[min(chosen):max(chosen) + 1] if chosen else []

    def ensure_upstream(self, *artifacts: str, notebooks_dir: str | Path | None = None, **parameters) -> list[str]:
        """Compute artifacts of earlier notebooks that are missing, by running those notebooks first.

        For a notebook opened on its own (in JupyterLab, or with papermill) whose artifacts folder
        lacks what earlier notebooks leave: the notebooks that write them run, in order, through
        :func:`clientstrategy.runner.run_notebooks` with this notebook's data, mapping, as-of date,
        artifacts and history folders (and ``parameters``, each to the notebooks that declare it),
        and a sentence says what was computed. In a run of the whole workbook nothing is missing
        and nothing runs.

        Parameters
        ----------
        *artifacts : str
            File names in the artifacts folder, e.g. ``"client_profile.parquet"``.
        notebooks_dir : str or Path, optional
            Where the numbered notebooks are; default the project's ``notebooks/``.
        **parameters
            Other notebook parameters to pass on (e.g. ``random_state``).

        Returns
        -------
        list of str
            The notebooks that were run (empty when nothing was missing).

        Raises
        ------
        clientstrategy.runner.RunError
            An earlier notebook failed: the message names it, the cell and the cause.
        """
        import shutil
        import tempfile

        from . import runner

        todo = self.upstream_notebooks(*artifacts, notebooks_dir=notebooks_dir)
        if not todo:
            return []
        missing = [a for a in artifacts if not self.has_artifact(a)]
        names = ", ".join(p.stem[:2] + " " + p.stem[3:].replace("_", " ").capitalize() for p in todo)
        print(f"Not in {self.artifacts_dir}: {', '.join(missing)}. Running {names} first...", flush=True)
        work = Path(tempfile.mkdtemp(prefix=f"upstream-{self.name}-"))
        values = {"data_dir": self.data_dir, "mapping": self.mapping or "", "as_of": self.as_of.strftime("%Y-%m-%d"),
                  "artifacts_dir": str(self.artifacts_dir), "history_dir": str(self.history_dir), **parameters}
        seconds = runner.run_notebooks(todo, values, work, progress=lambda stem, t: print(f"  {stem}: {t:.1f} s",
                                                                                         flush=True))
        shutil.rmtree(work, ignore_errors=True)  # kept only when a notebook failed (the error names it)
        say("_{what} {verb} not in the artifacts folder, so {names} ran first on the same data and parameters "
            "(as of {d}), in {s} seconds; {pron} now there._",
            what=" and ".join(missing), verb="was" if len(missing) == 1 else "were",
            names=names, d=self.as_of.strftime("%d %B %Y"), s=f"{sum(seconds.values()):.0f}",
            pron="it is" if len(missing) == 1 else "they are")
        return [p.stem for p in todo]

    def write_figure(self, artifact: str, fig) -> None:
        """Save a figure as a PNG artifact (e.g. 06's plan bridge, which ``index.html`` shows) and close it.

        The file is the same image :func:`show` displays (100 dpi, tight), written deterministically;
        nothing is displayed (a notebook shows the figure with :func:`show` where it explains it).
        """
        import matplotlib.pyplot as plt

        p = self.artifact_path(artifact)
        if p.suffix != ".png":
            raise ValueError(f"write_figure: {artifact!r} is not a .png file")
        figure = getattr(fig, "figure", None) or getattr(fig, "fig", None) or fig
        p.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(p, format="png", bbox_inches="tight", dpi=100, metadata={"Software": None})
        plt.close(figure)


#: The Context of the notebook being run (the last one opened), for window words in table headers.
_ACTIVE: Context | None = None

_PROFILE_TYPES = {"client_id": "str", "tier": "str", "segment": "str", "segment_id": "str", "persona": "str",
                  "persona_id": "str", "group": "str",
                  "intent": "str", "service_level": "str"}

_ROW_OF = {"clients": "client", "people": "internal person", "products": "product or service",
           "revenue": "booked revenue line", "activities": "proactive touch (call, email, meeting...)",
           "digital": "digital event (login, page view, search...)", "market_events": "market or news event",
           "surveys": "survey response", "survey_invites": "survey invitation",
           "third_party": "client and snapshot date"}


def _sample_tables() -> Path:
    """The bundled sample's tables folder, generated on first use."""
    tables = paths.SAMPLE / "tables"
    if not (tables / "revenue.parquet").exists():
        from . import sample

        sample.write_sample(paths.SAMPLE, size="default")
    return tables


# -- safe output --------------------------------------------------------------------------------
def _esc(value) -> str:
    return html.escape(str(value), quote=True)


# Characters that start markdown syntax (links, images, emphasis, code, tables, headings, HTML
# blocks). A value written into markdown as a numeric entity shows as the character itself but
# cannot open a link such as ``[x](javascript:...)`` or an image that fetches a URL.
# HTML's own characters are in the same table: one pass, so no entity is escaped twice (an apostrophe
# escaped first as &#x27; and its "#" then as &#35; would show as "&#x27;" on the page).
_MD_ENTITIES = str.maketrans({**{c: f"&#{ord(c)};" for c in "\\`*_{}[]()#!|~"},
                              "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;"})


def _esc_md(value) -> str:
    """``value`` as inert text inside markdown: HTML-escaped, markdown syntax as entities.

    Examples
    --------
    >>> _esc_md("[x](javascript:alert(1))")
    '&#91;x&#93;&#40;javascript:alert&#40;1&#41;&#41;'
    >>> _esc_md("<b>A & B</b>")
    '&lt;b&gt;A &amp; B&lt;/b&gt;'
    >>> _esc_md("03's #1")
    '03&#x27;s &#35;1'
    """
    # and "://": renderers that link bare URLs would otherwise make a link of a value
    return str(value).translate(_MD_ENTITIES).replace("://", "&#58;//")


def _fill(text: str, values: dict) -> str:
    """``text.format(**values)`` with every string value made inert (numbers pass as they are).

    Strings are HTML-escaped and their markdown syntax characters written as entities, so client
    names, comments, queries and topics show as text whatever they contain.
    """
    safe = {k: (v if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
                else _esc_md(v)) for k, v in values.items()}
    return text.format(**safe)


def _display_markdown(text: str) -> None:
    from IPython.display import Markdown, display

    display(Markdown(text))


def say(text: str, /, **values) -> None:
    """Display a finding in markdown; ``{name}`` fields are filled from ``values``, escaped.

    Examples
    --------
    >>> say("**{name}** grew {g}", name="<b>Acme</b>", g="12%")  # doctest: +SKIP
    """
    _display_markdown(_fill(text, values))


def show(fig) -> None:
    """Display a figure (matplotlib Figure, Axes or seaborn grid) as an embedded PNG, then close it.

    Rendering to PNG here, rather than relying on the inline backend, works for figures built
    without pyplot and gives the same image in JupyterLab, papermill and the HTML report.
    """
    import io as _io

    import matplotlib.pyplot as plt
    from IPython.display import Image, display

    figure = getattr(fig, "figure", None) or getattr(fig, "fig", None) or fig
    plain_axes(figure)
    buf = _io.BytesIO()
    figure.savefig(buf, format="png", bbox_inches="tight", dpi=100)
    display(Image(data=buf.getvalue(), format="png"))
    plt.close(figure)


def _compact(v: float) -> str:
    """A tick label without scientific notation: 12500 -> '12.5k', 2e6 -> '2m', -800 -> '-800'."""
    a = abs(v)
    for size, unit in ((1e9, "bn"), (1e6, "m"), (1e3, "k")):
        if a >= size:
            return f"{v / size:,.2f}".rstrip("0").rstrip(".") + unit
    return f"{v:,.2f}".rstrip("0").rstrip(".") if a else "0"


def plain_axes(figure) -> None:
    """Replace scientific offsets ("1e7") on a figure's numeric axes with plain labels, in place.

    Axes still on matplotlib's default number formatter get, when their numbers reach 10,000,
    compact labels (12.5k, 2m, 1.5bn); below that, the default without offset or exponent. Axes
    with their own formatter (percentages, money, dates, categories) are left as they are.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> fig = Figure(); ax = fig.subplots(); _ = ax.plot([0, 1], [1e7, 3e7]); plain_axes(fig)
    >>> fig.canvas.draw(); ax.yaxis.get_offset_text().get_text(), ax.get_yticklabels()[1].get_text()
    ('', '10m')
    """
    from matplotlib.ticker import FuncFormatter, ScalarFormatter

    for ax in getattr(figure, "axes", []):
        for axis in (ax.xaxis, ax.yaxis):
            fmt = axis.get_major_formatter()
            if type(fmt) is not ScalarFormatter:
                continue
            lo, hi = axis.get_view_interval()
            if max(abs(lo), abs(hi)) >= 1e4:
                axis.set_major_formatter(FuncFormatter(lambda v, _pos: _compact(v)))
            else:
                fmt.set_useOffset(False)
                fmt.set_scientific(False)


def money(x, currency: str = "") -> str:
    """A money amount in business words: 1234567 -> '1.2m', 45300 -> '45.3k', -800 -> '-800'."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)) or pd.isna(x):
        return "n/a"
    x = float(x)
    sign = "-" if x < 0 else ""
    a = abs(x)
    if a >= 1e9:
        s = f"{a / 1e9:.1f}bn"
    elif a >= 1e6:
        s = f"{a / 1e6:.1f}m"
    elif a >= 1e4:
        s = f"{a / 1e3:.0f}k"
    elif a >= 1e3:
        s = f"{a / 1e3:.1f}k"
    else:
        s = f"{a:.0f}"
    return f"{sign}{currency}{s}"


def pct(x, digits: int = 0, sign: bool = False) -> str:
    """A share as a percentage: 0.714 -> '71%'; 100% and 0% only for all and none
    (``words.pct``: 0.996 -> '99.6%', 0.99999 -> 'over 99.9%'); ``sign``: '+' before a rise.

    Examples
    --------
    >>> pct(0.714), pct(0.996), pct(0.99999), pct(1.0), pct(None), pct(0.75, sign=True)
    ('71%', '99.6%', 'over 99.9%', '100%', 'n/a', '+75%')
    """
    if x is None or pd.isna(x):
        return "n/a"
    return words.pct(x, digits, sign=sign)


def num(x, digits: int = 0) -> str:
    """A number with thousands separators: 12345.6 -> '12,346'."""
    if x is None or pd.isna(x):
        return "n/a"
    return f"{float(x):,.{digits}f}"


#: Table headers in business words; ``{ltm}`` / ``{prior}`` become the run's window
#: ("last 12 months", or "10 months to 30 Sep 2011" when the data are shorter).
COLUMN_WORDS = {
    "client_id": "Client", "client_name": "Client name", "person_id": "Person", "person_name": "Person",
    "owner_id": "Owner", "revenue_ltm": "Revenue, {ltm}", "revenue_prior_ltm": "Revenue, {prior}",
    "revenue": "Revenue", "revenue_total": "Revenue, all history", "revenue_share": "Share of revenue",
    "client_share": "Share of clients", "clients": "Clients", "clients_in_tier": "Clients in the tier",
    "min_revenue": "Smallest client's revenue", "growth": "Growth", "change": "Change", "tier": "Tier",
    "segment": "Segment", "group": "Group", "intent": "Intent", "intents": "Intents",
    "description": "Description", "service_level": "Service level", "touches_per_quarter": "Touches per quarter",
    "channels": "Channels", "category": "Category", "table": "Table", "rows": "Rows", "columns": "Columns",
    "date_min": "From", "date_max": "To", "check": "Check", "count": "Count", "detail": "Detail", "rule": "Rule",
    "reason": "Reason", "amount": "Amount", "amount_share": "Share of the source's amount",
    "p_alive": "Chance still active", "clv": "Lifetime value", "clv_low": "Lifetime value, low",
    "clv_high": "Lifetime value, high", "expected_purchases_12m": "Expected purchases, next 12 months",
    "expected_purchases_12m_low": "Expected purchases, low", "expected_purchases_12m_high": "Expected purchases, high",
    "plan_revenue": "Plan", "plan_low": "Plan, low", "plan_high": "Plan, high", "target_revenue": "Target",
    "gap": "Gap to target", "key": "Name", "level": "Level", "value_to_business": "Value to the business",
    "value_to_client": "Value to the client", "headroom": "Headroom", "wallet": "Wallet",
    "share_of_wallet": "Share of wallet", "engagement_score": "Engagement score", "nps": "NPS",
    "nps_last": "Latest NPS", "nps_weighted": "NPS, weighted", "persona": "Persona", "activity_type": "Touch",
    "outcome": "Outcome", "effect": "Effect", "effect_money": "Effect in money", "ci_low": "Low (95%)",
    "ci_high": "High (95%)", "n": "Number", "naive_corr": "Naive correlation", "coverage": "Coverage",
    "under_served_share": "Share under-served", "touch_share": "Share of touches",
    "minutes_share": "Share of minutes", "response_rate": "Response rate", "responses": "Responses",
    "p_adjusted": "p-value (adjusted)", "p_value_vs_promoters": "p-value against promoters",
    "revenue_per_year_mean": "Mean revenue a year", "expected_value": "Expected value", "rank": "Rank",
    "action": "Action", "topic": "Topic", "signal": "Signal", "control": "Held back (control)",
    "retention": "Retention", "engagement": "Engagement", "plan_growth": "Plan growth", "intent_reason": "Why",
    "tag": "Tag", "value": "Value", "measure": "Measure",
}


def header(column, window=None) -> str:
    """A table header in business words: ``revenue_ltm`` -> "Revenue, last 12 months".

    Known columns take :data:`COLUMN_WORDS` (with the run's window, ``outcomes.HistoryWindow``,
    when given or when a :class:`Context` is open); any other snake_case name loses its
    underscores and is capitalised ("share_of_wallet" -> "Share of wallet", "touches" -> "Touches").
    Other labels are kept as they are.

    Examples
    --------
    >>> header("revenue_ltm"), header("p_adjusted"), header("touches"), header("Already fine")
    ('Revenue, last 12 months', 'p-value (adjusted)', 'Touches', 'Already fine')
    """
    name = str(column)
    if window is None and _ACTIVE is not None and name in ("revenue_ltm", "revenue_prior_ltm"):
        try:
            window = _ACTIVE.window
        except Exception:  # noqa: BLE001 (no revenue to read a window from: say twelve months)
            window = None
    ltm = window.header if window is not None else "last 12 months"
    prior = (window.prior_header if window is not None else "12 months before")
    if name in COLUMN_WORDS:
        return COLUMN_WORDS[name].format(ltm=ltm, prior=prior)
    if name == name.lower():  # snake_case or a bare lower-case word: words, capitalised
        text = name.replace("_", " ").strip()
        return text[:1].upper() + text[1:]
    return name


def table(df: pd.DataFrame, caption: str | None = None, max_rows: int = 15, formats: dict | None = None,
          index: bool = False) -> None:
    """Display ``df`` as an escaped HTML table for leadership.

    Headers are put in business words (:func:`header`); float columns whose values are all whole
    numbers print without decimals.

    Parameters
    ----------
    df : DataFrame
        What to show; only the first ``max_rows`` rows are shown (the caption says so).
    caption : str, optional
        A title above the table (escaped).
    formats : dict, optional
        Column -> callable or format string (``"{:,.0f}"``) applied before escaping.
    index : bool
        Whether to show the index.
    """
    from IPython.display import HTML, display

    if df is None or len(df) == 0:
        say("_No rows to show._")
        return
    shown = df.head(max_rows).copy()
    formats = formats or {}
    for col in shown.columns:
        f = formats.get(col)
        if f is None:
            if pd.api.types.is_datetime64_any_dtype(shown[col]):
                f = _auto_date
            elif pd.api.types.is_float_dtype(shown[col]) and _is_share(col):
                f = lambda v: "" if pd.isna(v) else pct(v, 1)
            elif pd.api.types.is_float_dtype(shown[col]) and shown[col].dropna().map(words.is_whole).all():
                f = "{:,.0f}"  # counts (and amounts) that are whole print as whole numbers
            elif pd.api.types.is_float_dtype(shown[col]):
                f = _auto_float
            elif pd.api.types.is_integer_dtype(shown[col]) and not pd.api.types.is_bool_dtype(shown[col]):
                f = "{:,}"
            else:
                continue
        fn = f if callable(f) else (lambda v, _f=f: "" if pd.isna(v) else _f.format(v))
        shown[col] = shown[col].map(lambda v, _fn=fn: "" if v is None or (not isinstance(v, str) and pd.isna(v))
                                    else _fn(v)).astype(object)
    shown.columns = [header(c) for c in shown.columns]
    if index and shown.index.name is not None:
        shown.index.name = header(shown.index.name)
    body = shown.to_html(index=index, escape=True, border=0, classes="cs-table", na_rep="")
    cap = f"<p class='cs-caption'><strong>{_esc(caption)}</strong></p>" if caption else ""
    more = (f"<p class='cs-note'>Showing {max_rows} of {len(df):,} rows.</p>" if len(df) > max_rows else "")
    # a wide table scrolls inside its own box on a narrow screen instead of widening the page
    display(HTML(cap + f"<div class='cs-scroll'>{body}</div>" + more))


def _is_share(column: str) -> bool:
    c = str(column).lower()
    return c == "growth" or c.endswith(("_share", "share", "_rate", "_pct")) or c.startswith(("share_", "p_"))


def _auto_date(v) -> str:
    if pd.isna(v):
        return ""
    v = pd.Timestamp(v)
    return v.strftime("%Y-%m-%d") if v == v.normalize() else v.strftime("%Y-%m-%d %H:%M")


def _auto_float(v) -> str:
    if pd.isna(v):
        return ""
    if float(v).is_integer():
        return f"{v:,.0f}"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 10:
        return f"{v:,.1f}"
    return f"{v:,.3f}"
