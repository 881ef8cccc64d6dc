"""Leadership HTML and the run's ``index.html``: no code, self-contained, escaped.

nbconvert's ``basic`` template renders the executed notebook's cells without inputs; this module
wraps that body in one page shell (house CSS, navigation between pages, the run label) and builds
the landing page. Pages load nothing from the network: figures are embedded as data URIs by
nbconvert, no require.js, MathJax or widget scripts are included, and every value that comes from
data is escaped (jinja2 autoescape here; ``nb.say``/``nb.table`` in the notebooks).
"""
from __future__ import annotations

import base64
import html
import itertools
import json
import math
import re
import time
from pathlib import Path

import jinja2
import mistune
import nbformat
import pandas as pd
from markupsafe import Markup
from nbconvert import HTMLExporter

from . import features

__all__ = ["AT_RISK_P_ALIVE", "CSS", "align_numbers", "glance_tiles", "leadership_body", "quarter_figures",
           "quarters_page", "render_run"]

CSS = """
:root { --ink:#1f2933; --muted:#5f6b7a; --accent:#1d4e89; --line:#d9dee5; --bg:#f7f9fb; }
* { box-sizing: border-box; }
body { margin:0; font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: var(--ink); background: var(--bg); line-height: 1.5; }
header.cs-top { background: var(--accent); color: #fff; padding: 0.6rem 1.5rem; }
header.cs-top a { color: #fff; text-decoration: none; margin-right: 1rem; font-size: 0.92rem; white-space: nowrap;
                  display: inline-block; }
header.cs-top a.current { text-decoration: underline; font-weight: 600; }
header.cs-top .cs-run { float: right; opacity: 0.85; font-size: 0.9rem; }
main { max-width: 1100px; margin: 1.5rem auto; background: #fff; padding: 1.5rem 2.5rem 3rem;
       border: 1px solid var(--line); border-radius: 6px; }
h1 { color: var(--accent); font-size: 1.9rem; margin-top: 0.4rem; }
h2 { border-bottom: 1px solid var(--line); padding-bottom: 0.2rem; margin-top: 2rem; }
a { color: var(--accent); }
img { max-width: 100%; height: auto; }
table { border-collapse: collapse; margin: 0.6rem 0 1rem; font-size: 0.9rem; }
th, td { border-bottom: 1px solid var(--line); padding: 0.3rem 0.7rem; text-align: left; vertical-align: top; }
th { background: #eef2f7; }
td.cs-num, th.cs-num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
th.cs-num { white-space: normal; min-width: 5em; }
.cs-scroll { overflow-x: auto; max-width: 100%; }
blockquote { border-left: 4px solid #e0a800; margin: 1rem 0; padding: 0.4rem 1rem; background: #fff8e1; }
.cs-caption { margin-bottom: 0.2rem; } .cs-note { color: var(--muted); font-size: 0.85rem; }
.cs-summary li { margin-bottom: 0.35rem; }
.cs-grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(380px, 1fr)); gap: 0.5rem 2rem; }
.cs-grid > div { min-width: 0; overflow-x: auto; }
table.cs-kv td { text-align: left; } table.cs-kv code { word-break: break-all; font-size: 0.8rem; }
.cs-muted { color: var(--muted); font-size: 0.9rem; }
footer { max-width: 1100px; margin: 0 auto 2rem; color: var(--muted); font-size: 0.8rem; padding: 0 1rem; }
.jp-Cell { margin: 0; } .jp-OutputArea-output pre { white-space: pre-wrap; }
.anchor-link { display: none; }
.cs-tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); gap: 0.8rem; margin: 0.8rem 0 1.4rem; }
a.cs-tile, div.cs-tile { display: block; border: 1px solid var(--line); border-radius: 6px; padding: 0.7rem 0.9rem;
                         color: var(--ink); text-decoration: none; background: #fbfcfd; }
a.cs-tile:hover { border-color: var(--accent); }
.cs-tile-label { display: block; font-size: 0.82rem; color: var(--muted); }
.cs-tile-value { display: block; font-size: 1.55rem; font-weight: 600; color: var(--accent); line-height: 1.3;
                 font-variant-numeric: tabular-nums; }
.cs-tile-value.cs-absent { font-size: 1.05rem; font-weight: 400; color: var(--muted); }
.cs-tile-line { display: block; font-size: 0.8rem; color: var(--muted); font-variant-numeric: tabular-nums; }
.cs-good { color: #2e7d32; } .cs-bad { color: #c62828; }
figure.cs-figure { margin: 0.5rem 0 1.2rem; } figure.cs-figure figcaption { color: var(--muted); font-size: 0.85rem; }
@page { size: A4; margin: 14mm 12mm 16mm; }
@media print {
  body { background: #fff; font-size: 10pt; }
  header.cs-top { background: none; color: var(--muted); padding: 0 0 3pt; border-bottom: 1px solid var(--line); }
  header.cs-top nav, footer, .cs-screen-only { display: none; }
  header.cs-top .cs-run { float: none; opacity: 1; }
  main { max-width: none; margin: 0; padding: 0; border: 0; border-radius: 0; }
  a { color: inherit; text-decoration: none; }
  h1, h2, h3, h4, .cs-caption { break-after: avoid; page-break-after: avoid; }
  tr, img, figure, .cs-tile, blockquote { break-inside: avoid; page-break-inside: avoid; }
  thead { display: table-header-group; }
  img { max-height: 235mm; object-fit: contain; }
  table { font-size: 8.5pt; }
  th, td { padding: 0.15rem 0.45rem; }
  .cs-grid { display: block; } .cs-grid > div { overflow: visible; }
  .cs-scroll { overflow: visible; }
  .cs-tiles { grid-template-columns: repeat(3, 1fr); gap: 0.5rem; }
  .cs-section { break-before: page; page-break-before: always; }
  .cs-section:first-child { break-before: auto; page-break-before: auto; }
}
"""

_PAGE = jinja2.Environment(autoescape=True).from_string("""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} · {{ quarter }}</title>
<style>{{ css }}</style></head>
<body>
<header class="cs-top"><span class="cs-run">Client strategy · {{ quarter }} · as of {{ as_of }}</span>
<nav>{% for n in nav %}<a href="{{ n.href }}"{% if n.current %} class="current"{% endif %}>{{ n.label }}</a>{% endfor %}</nav>
</header>
<main>
{{ body }}
</main>
<footer>Generated by the client strategy workbook · data fingerprint {{ fingerprint[:12] }} ·
figures are embedded; this page makes no network requests.</footer>
</body></html>
""")


def _clean_outputs(outputs: list) -> list:
    """Outputs fit for leadership: no stderr, no errors, no live widgets or scripts.

    A widget output whose only other form is its text repr is dropped; widgets that the package
    displays carry a static figure or table beside them, which stays.
    """
    kept = []
    for o in outputs:
        if o.get("output_type") == "error" or (o.get("output_type") == "stream" and o.get("name") == "stderr"):
            continue
        if "data" in o:
            had_widget = any("widget" in k for k in o["data"])
            data = {k: v for k, v in o["data"].items() if "widget" not in k and "javascript" not in k}
            if not data or (had_widget and set(data) <= {"text/plain"}):
                continue
            o = dict(o, data=data)
        kept.append(nbformat.from_dict(o))
    return kept


_TABLE = re.compile(r"<table\b[^>]*>.*?</table>", re.DOTALL | re.IGNORECASE)
_ROW = re.compile(r"(<tr\b[^>]*>)(.*?)(</tr>)", re.DOTALL | re.IGNORECASE)
_CELL = re.compile(r"<(td|th)\b([^>]*)>(.*?)</\1>", re.DOTALL | re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")
_NUMBER = re.compile(r"^[-+\u2212]?[$\u20ac\u00a3]?\d[\d,]*(?:\.\d+)?\s*(?:%|pp|x|k|m|bn)?$", re.IGNORECASE)
_NOT_A_VALUE = {"", "n/a", "-", "\u2013", "\u2014", "nan", "none"}


def _add_class(attrs: str, cls: str) -> str:
    m = re.search(r"""\bclass\s*=\s*(["'])(.*?)\1""", attrs, re.DOTALL | re.IGNORECASE)
    if m is None:
        return f'{attrs} class="{cls}"'
    if cls in m.group(2).split():  # aligned already (an explorer's static table)
        return attrs
    return f"{attrs[:m.start(2)]}{m.group(2)} {cls}{attrs[m.end(2):]}"


def _align_table(table: str) -> str:
    if re.search(r"\b(?:colspan|rowspan)\s*=", table, re.IGNORECASE):  # columns cannot be told apart simply
        return table
    rows = [[(c.group(1).lower(), html.unescape(_TAG.sub("", c.group(3))).strip())
             for c in _CELL.finditer(r.group(2))] for r in _ROW.finditer(table)]
    numeric = set()
    for j in range(max((len(r) for r in rows), default=0)):
        values = [text for r in rows for tag, text in r[j:j + 1] if tag == "td" and text.lower() not in _NOT_A_VALUE]
        if values and all(_NUMBER.match(v) for v in values):
            numeric.add(j)
    if not numeric:
        return table

    def row(r: re.Match) -> str:
        column = itertools.count()

        def cell(c: re.Match) -> str:
            if next(column) not in numeric:
                return c.group(0)
            return f"<{c.group(1)}{_add_class(c.group(2), 'cs-num')}>{c.group(3)}</{c.group(1)}>"

        return r.group(1) + _CELL.sub(cell, r.group(2)) + r.group(3)

    return _ROW.sub(row, table)


def align_numbers(page_html: str) -> str:
    """Mark every table column that holds only numbers with ``class="cs-num"`` (right-aligned).

    Text columns (names, segments, reasons) stay left-aligned, which reads better when they wrap;
    columns of amounts, shares and counts (``1,234``, ``-5.5%``, ``1.8m``) line up on the right.
    Only attributes are added: cell contents, and so their escaping, are untouched. Tables with
    merged cells are left as they are.

    Parameters
    ----------
    page_html : str
        HTML holding tables (a notebook body or a whole page).

    Returns
    -------
    str
        The same HTML with ``cs-num`` on the cells of numeric columns.

    Examples
    --------
    >>> align_numbers("<table><tr><th>client</th><th>revenue</th></tr>"
    ...               "<tr><td>&lt;b&gt;A</td><td>1,200</td></tr></table>")
    '<table><tr><th>client</th><th class="cs-num">revenue</th></tr><tr><td>&lt;b&gt;A</td><td class="cs-num">1,200</td></tr></table>'
    """
    return _TABLE.sub(lambda m: _align_table(m.group(0)), page_html)


def leadership_body(executed: Path) -> str:
    """HTML body of an executed notebook without code, parameter cells, stderr or widgets."""
    nb = nbformat.read(str(executed), as_version=4)
    cells = []
    for c in nb.cells:
        tags = set(c.get("metadata", {}).get("tags", []))
        if tags & {"parameters", "injected-parameters", "remove_cell"}:
            continue
        if c.cell_type == "code":
            c.outputs = _clean_outputs(c.get("outputs", []))
            if not c.outputs:
                continue
        cells.append(c)
    nb.cells = cells
    nb.metadata.pop("widgets", None)
    exporter = HTMLExporter(template_name="basic", exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True, embed_images=False)
    body, _ = exporter.from_notebook_node(nb)
    return align_numbers(body)


def _page(title, body, quarter, as_of, fingerprint, nav) -> str:
    return _PAGE.render(title=title, body=Markup(body), quarter=quarter, as_of=as_of, fingerprint=fingerprint,
                        css=Markup(CSS), nav=nav)


def _title(nb_path: Path) -> str:
    nb = nbformat.read(str(nb_path), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return nb_path.stem


def render_run(run_dir: Path, nbs: list, metrics: dict, tables: dict, previous: Path | None = None) -> dict:
    """Write ``leadership/*.html`` and ``index.html`` for a run folder; return page info.

    ``previous`` is the folder of the previous quarter's run under the same OUT, if any: the
    figures at a glance show their change on it.
    """
    t0 = time.perf_counter()
    quarter = metrics["run"]["quarter"]
    as_of = metrics["run"]["as_of"]
    fp = metrics["run"].get("data_fingerprint", "")
    pages = []
    for nb_path in nbs:
        title = _title(nb_path)
        short = nb_path.stem[:2] + " " + nb_path.stem[3:].replace("_", " ").capitalize()
        pages.append({"file": nb_path.stem + ".html", "stem": nb_path.stem, "title": title, "short": short})
    leadership = run_dir / "leadership"
    leadership.mkdir(parents=True, exist_ok=True)
    for p in pages:
        body = leadership_body(run_dir / "notebooks" / (p["stem"] + ".ipynb"))
        nav = [{"href": "../index.html", "label": "Summary", "current": False}] + [
            {"href": q["file"], "label": q["short"], "current": q["file"] == p["file"]} for q in pages]
        (leadership / p["file"]).write_text(_page(p["title"], body, quarter, as_of, fp, nav))
    nav = [{"href": "index.html", "label": "Summary", "current": True}] + [
        {"href": f"leadership/{q['file']}", "label": q["short"], "current": False} for q in pages]
    (run_dir / "index.html").write_text(_page(f"Client strategy {quarter}",
                                              index_body(run_dir, pages, metrics, tables, previous),
                                              quarter, as_of, fp, nav))
    return {"pages": pages, "_seconds": round(time.perf_counter() - t0, 2)}


_INDEX = jinja2.Environment(autoescape=True).from_string("""
<h1>Client strategy · {{ quarter }}</h1>
<p class="cs-muted">Data up to {{ as_of }} · {{ data }}{% if mapping %} · mapping {{ mapping }}{% endif %}</p>
<h2>The quarter at a glance</h2>
<p class="cs-muted">{% if previous %}Changes are on the previous run, {{ previous }}.{% else %}No earlier run under this output folder: changes on last quarter appear from the next run.{% endif %}</p>
<div class="cs-tiles">{% for t in tiles %}
<{{ 'a' if t.href else 'div' }} class="cs-tile"{% if t.href %} href="{{ t.href }}"{% endif %}>
<span class="cs-tile-label">{{ t.label }}</span>
<span class="cs-tile-value{% if t.value is none %} cs-absent{% endif %}">{{ t.value if t.value is not none else "not measured" }}</span>
{% for line in t.lines %}<span class="cs-tile-line{% if line.cls %} {{ line.cls }}{% endif %}">{{ line.text }}</span>{% endfor %}
</{{ 'a' if t.href else 'div' }}>{% endfor %}
</div>
{% if bridge %}<figure class="cs-figure"><img alt="From last year's revenue to the bottom-up plan and the gap to the top-down target" src="{{ bridge }}">
<figcaption>From last year's revenue to the bottom-up plan, and the gap to the top-down target ({% if bridge_href %}<a href="{{ bridge_href }}">page 06</a>{% else %}page 06{% endif %}).</figcaption></figure>{% endif %}
<h2>Executive summary</h2>
{% if summary %}{% for sec in summary %}
<h3><a href="leadership/{{ sec.file }}">{{ sec.title }}</a></h3>
<ul class="cs-summary">{% for h in sec.lines %}<li>{{ h }}</li>{% endfor %}</ul>
{% endfor %}{% else %}<p>No headline findings were recorded.</p>{% endif %}
<h2>Reports for leadership</h2>
<ul>{% for p in pages %}<li><a href="leadership/{{ p.file }}">{{ p.title }}</a></li>{% endfor %}</ul>
<h2>The run</h2>
<div class="cs-grid"><div>
<table class="cs-kv"><tr><th>Parameter</th><th>Value</th></tr>
{% for k, v in params %}<tr><td>{{ k }}</td><td>{{ v }}</td></tr>{% endfor %}
<tr><td>data fingerprint</td><td><code>{{ fingerprint }}</code></td></tr></table>
</div><div>
<table><tr><th>Input table</th><th>Rows</th><th>From</th><th>To</th></tr>
{% for t in table_rows %}<tr><td>{{ t.name }}</td><td>{{ t.rows }}</td><td>{{ t.start }}</td><td>{{ t.end }}</td></tr>{% endfor %}
</table></div></div>
<div class="cs-screen-only">
<h2>For analysts</h2>
<p>Executed notebooks (with code): {% for p in pages %}<a href="notebooks/{{ p.stem }}.ipynb">{{ p.stem }}</a>{% if not loop.last %} · {% endif %}{% endfor %}</p>
<p>Artifacts: {% for a in artifacts %}<a href="artifacts/{{ a }}">{{ a }}</a>{% if not loop.last %} · {% endif %}{% endfor %}</p>
</div>
""")


def _markdown_inline(text: str) -> Markup:
    """Render one headline (markdown with already-escaped values) to inline HTML."""
    html = mistune.html(text).strip()
    if html.startswith("<p>") and html.endswith("</p>"):
        html = html[3:-4]
    return Markup(html)


#: Clients the purchase model gives less than this chance of still being active count as at risk
#: (the rule of notebook 01's headline); shown on the tile.
AT_RISK_P_ALIVE = 0.5


def _get(metrics: dict, *keys):
    """``metrics[k1][k2]...`` or None when any level is absent (other notebooks add keys over time)."""
    v = metrics
    for k in keys:
        if not isinstance(v, dict) or k not in v:
            return None
        v = v[k]
    return v


def _number(v) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def quarter_figures(run_dir: Path, metrics: dict | None = None) -> dict:
    """The figures of the quarter at a glance, read from a run folder; None where not measured.

    Read by key from ``artifacts/metrics.json`` (``metrics`` if given), each absent key giving
    None rather than an error; clients at risk are counted from ``client_profile.parquet``.

    Returns
    -------
    dict
        ``revenue_ltm``, ``active_clients``, ``at_risk_clients``, ``at_risk_revenue``, ``nps``
        (with ``nps_low``, ``nps_high``), ``plan`` (with ``plan_low``, ``plan_high``,
        ``plan_level``, ``target``, ``plan_error``), ``conversations`` (with
        ``conversations_value``), and ``window``: the revenue window in words ("last 12 months", or
        "10 months to 31 Dec 2017" when the data are shorter).

    Examples
    --------
    >>> quarter_figures(Path("/nonexistent"), {"outcomes": {"revenue_ltm": 1200.0}})["revenue_ltm"]
    1200.0
    >>> quarter_figures(Path("/nonexistent"), {})["nps"] is None
    True
    >>> quarter_figures(Path("/nonexistent"), {"outcomes": {"window_header": "10 months to 31 Dec 2017"}})["window"]
    '10 months to 31 Dec 2017'
    """
    run_dir = Path(run_dir)
    if metrics is None:
        f = run_dir / "artifacts" / "metrics.json"
        metrics = json.loads(f.read_text()) if f.exists() else {}
    nps_ci = _get(metrics, "voice", "nps_ci")
    nps_ci = nps_ci if isinstance(nps_ci, (list, tuple)) and len(nps_ci) == 2 else (None, None)
    level = next((v for v in (_get(metrics, "strategy", k) for k in ("plan_level", "interval_level", "level"))
                  if _number(v) is not None), None)
    error = next((v for v in (_get(metrics, "plan_backtest", k) for k in ("error_pct", "error"))
                  if _number(v) is not None), None)
    out = {"revenue_ltm": _get(metrics, "outcomes", "revenue_ltm"),
           "active_clients": _get(metrics, "outcomes", "clients_active_ltm"),
           "nps": _get(metrics, "voice", "nps"), "nps_low": nps_ci[0], "nps_high": nps_ci[1],
           "plan": _get(metrics, "strategy", "plan_revenue"), "plan_low": _get(metrics, "strategy", "plan_low"),
           "plan_high": _get(metrics, "strategy", "plan_high"), "plan_level": level,
           "target": _get(metrics, "strategy", "target_revenue"), "plan_error": error,
           "conversations": _get(metrics, "execution", "treated"),
           "conversations_value": _get(metrics, "execution", "expected_value_treated"),
           "at_risk_clients": None, "at_risk_revenue": None}
    out = {k: _number(v) for k, v in out.items()}
    # the revenue window as notebook 01 wrote it ("last 12 months", or "10 months to 31 Dec 2017" on shorter data)
    header = _get(metrics, "outcomes", "window_header")
    out["window"] = header if isinstance(header, str) and header else "last 12 months"
    prof = run_dir / "artifacts" / "client_profile.parquet"
    if prof.exists():
        p = pd.read_parquet(prof, columns=None)
        if {"p_alive", "revenue_ltm"} <= set(p.columns) and p["p_alive"].notna().any():
            risk = p[p["p_alive"] < AT_RISK_P_ALIVE]
            out["at_risk_clients"] = float(len(risk))
            out["at_risk_revenue"] = float(risk["revenue_ltm"].fillna(0).sum())
    return out


def _change(now, before, kind: str, previous: str | None, higher_is_good: bool = True) -> dict | None:
    """One tile line: the change on the previous run, coloured by whether it is good news."""
    from .nb import money, num

    if previous is None:
        return None
    if now is None or before is None:
        return {"text": f"not measured in {previous}" if before is None else "", "cls": ""}
    d = now - before
    if kind == "money":
        text = (f"{'+' if d > 0 else ''}{100 * d / before:.1f}% on {previous}" if before
                else f"{'+' if d > 0 else ''}{money(d)} on {previous}")
    elif kind == "points":  # NPS: whole points, a tenth when the change rounds to none
        text = f"{d:+.0f} points on {previous}" if round(d) != 0 else f"{d:+.1f} points on {previous}"
    else:
        text = f"{'+' if d > 0 else ''}{num(d)} on {previous}"
    if abs(d) < 1e-9 or re.fullmatch(r"[+-]?0(\.0+)?%?( points)? on .*", text):  # no change at the precision shown
        return {"text": f"unchanged on {previous}", "cls": ""}
    return {"text": text, "cls": "cs-good" if (d > 0) == higher_is_good else "cs-bad"}


def glance_tiles(now: dict, before: dict | None, previous: str | None, pages: list) -> list[dict]:
    """The tiles of the quarter at a glance: label, value, lines (change, interval), link to the page.

    ``now`` and ``before`` are :func:`quarter_figures` of this run and of the previous one.
    """
    from .nb import money, num

    before = before or {}
    href = {p["stem"][:2]: f"leadership/{p['file']}" for p in pages}
    plural = lambda n, word: f"{num(n)} {word}{'' if n == 1 else 's'}"

    def tile(label, value, page, lines):
        return {"label": label, "value": value, "href": href.get(page), "lines": [x for x in lines if x and x["text"]]}

    def line(text):
        return {"text": text, "cls": ""}

    tiles = [
        tile(f"Revenue, {now.get('window', 'last 12 months')}", None if now["revenue_ltm"] is None else money(now["revenue_ltm"]), "01",
             [_change(now["revenue_ltm"], before.get("revenue_ltm"), "money", previous)]),
        tile("Active clients", None if now["active_clients"] is None else num(now["active_clients"]), "01",
             [line(f"bought in the {now.get('window', 'last 12 months')}") if now["active_clients"] is not None else None,
              _change(now["active_clients"], before.get("active_clients"), "count", previous)]),
        tile("Clients at risk", None if now["at_risk_clients"] is None else plural(now["at_risk_clients"], "client"), "01",
             [line(f"{money(now['at_risk_revenue'])} of revenue in the {now.get('window', 'last 12 months')}")
              if now["at_risk_revenue"] is not None else None,
              line(f"chance still active below {AT_RISK_P_ALIVE:.0%}") if now["at_risk_clients"] is not None else None,
              _change(now["at_risk_clients"], before.get("at_risk_clients"), "count", previous, higher_is_good=False)]),
        tile("Net Promoter Score", None if now["nps"] is None else f"{now['nps']:+.0f}", "04",
             [line(f"95% interval {now['nps_low']:+.0f} to {now['nps_high']:+.0f}")
              if now["nps_low"] is not None and now["nps_high"] is not None else None,
              _change(now["nps"], before.get("nps"), "points", previous)]),
        tile("Bottom-up plan, next 12 months", None if now["plan"] is None else money(now["plan"]), "06",
             [line((f"{now['plan_level']:.0%} range " if now["plan_level"] else "range ")
                   + f"{money(now['plan_low'])} to {money(now['plan_high'])}")
              if now["plan_low"] is not None and now["plan_high"] is not None else None,
              line(f"target {money(now['target'])}: "
                   + (f"shortfall {money(now['target'] - now['plan'])}" if now["plan"] < now["target"]
                      else f"{money(now['plan'] - now['target'])} above it"))
              if now["target"] is not None and now["plan"] is not None else line("target not measured"),
              line(f"back-tested error {now['plan_error']:+.1f}%") if now["plan_error"] is not None else None,
              _change(now["plan"], before.get("plan"), "money", previous)]),
        tile("Conversations recommended", None if now["conversations"] is None else num(now["conversations"]), "07",
             [line(f"expected value {money(now['conversations_value'])} on page 07's assumptions")
              if now["conversations_value"] is not None else None,
              _change(now["conversations"], before.get("conversations"), "count", previous)]),
    ]
    return tiles


def _data_uri(png: Path) -> str | None:
    return f"data:image/png;base64,{base64.b64encode(png.read_bytes()).decode()}" if png.is_file() else None


def index_body(run_dir: Path, pages: list, metrics: dict, tables: dict, previous: Path | None = None) -> str:
    run = metrics["run"]
    heads = metrics.get("headlines", {})
    summary = [{"file": p["file"], "title": p["title"], "lines": [_markdown_inline(h) for h in heads.get(p["stem"], [])]}
               for p in pages if heads.get(p["stem"])]
    params = [("as of", run["as_of"]), ("quarter", run["quarter"]), ("data", run["data"]),
              ("mapping", run.get("mapping") or "none")]
    params += [(k, v) for k, v in sorted((run.get("parameters") or {}).items())]
    rows = []
    for name, df in sorted(tables.items()):
        dcol = next((c for c in ("date", "timestamp", "as_of") if c in df.columns), None)
        start = end = ""
        if dcol is not None and len(df) and not isinstance(df, pd.DataFrame):  # an event table in the engine
            sm = features.summary(df)
            start = "" if pd.isna(sm["date_min"]) else str(sm["date_min"].date())
            end = "" if pd.isna(sm["date_max"]) else str(sm["date_max"].date())
        elif dcol is not None and len(df):
            d = pd.to_datetime(df[dcol], errors="coerce")
            start, end = str(d.min().date()) if d.notna().any() else "", str(d.max().date()) if d.notna().any() else ""
        rows.append({"name": name, "rows": f"{len(df):,}", "start": start, "end": end})
    artifacts = sorted(p.name for p in (run_dir / "artifacts").iterdir() if p.is_file())
    before = quarter_figures(previous) if previous is not None else None
    tiles = glance_tiles(quarter_figures(run_dir, metrics), before, Path(previous).name if previous else None, pages)
    bridge_page = next((f"leadership/{p['file']}" for p in pages if p["stem"].startswith("06")), None)
    return align_numbers(_INDEX.render(
        quarter=run["quarter"], as_of=run["as_of"], data=run["data"], mapping=run.get("mapping"), summary=summary,
        pages=pages, params=params, fingerprint=run.get("data_fingerprint", ""), table_rows=rows, artifacts=artifacts,
        tiles=tiles, previous=Path(previous).name if previous else None,
        bridge=_data_uri(run_dir / "artifacts" / "plan_bridge.png"), bridge_href=bridge_page))


_QUARTERS = jinja2.Environment(autoescape=True).from_string("""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Client strategy runs</title><style>{{ css }}</style></head>
<body><header class="cs-top"><nav><a class="current" href="index.html">All runs</a></nav></header>
<main><h1>Client strategy runs</h1>
<ul>{% for q in quarters %}<li><a href="{{ q }}/index.html">{{ q }}</a></li>{% endfor %}</ul></main></body></html>
""")


def quarters_page(quarters: list) -> str:
    """The OUT root's ``index.html``: one link per published quarter."""
    return _QUARTERS.render(quarters=quarters, css=Markup(CSS))
