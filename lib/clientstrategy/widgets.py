"""ipywidgets explorers for analysts in JupyterLab, with a static form for reports.

Each explorer is a pair: a pure renderer that returns escaped HTML for a choice (testable without a
kernel) and a function that wraps it in widgets whose controls re-render on change. In a batch run
(papermill, where the runner sets ``CLIENTSTRATEGY_BATCH=1``) or in the leadership HTML, only the
static form is shown: :func:`display_explorer` decides.
"""
from __future__ import annotations

import base64
import difflib
import html
import io
import math
import os

import numpy as np
import pandas as pd

__all__ = [
    "FILTER_COLUMNS",
    "HEADERS",
    "client_card",
    "client_lookup",
    "display_explorer",
    "is_batch",
    "portfolio_filter",
    "portfolio_view",
]

#: Profile columns the portfolio filter offers, in order.
FILTER_COLUMNS = ("tier", "segment", "persona", "group", "intent", "service_level")


def is_batch() -> bool:
    """True in a papermill run started by the workbook's runner (no live kernel behind the page)."""
    return os.environ.get("CLIENTSTRATEGY_BATCH") == "1"


def _esc(v) -> str:
    return html.escape("" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v), quote=True)


#: The explorers' own wording for a few columns; every other header is the reports' (``nb.header``,
#: which words revenue columns by the run's real window).
HEADERS = {
    "engagement_score": "Digital engagement", "nps_last": "Latest NPS score (0-10)",
    "wallet": "Wallet (spend in our categories)", "control": "Held back to measure uplift",
}


def _finite(v) -> bool:
    return v is not None and not isinstance(v, (str, bool)) and pd.notna(v) and math.isfinite(float(v))


def _signed_pct(v) -> str:
    from .nb import pct

    return ("+" if float(v) > 0 else "") + pct(v)


def _formats() -> dict:
    """Column -> formatter: the report's own money, percentage and number helpers (``nb``)."""
    from .nb import money, num, pct

    one, two = (lambda v: num(v, 1)), (lambda v: num(v, 2))
    return {"revenue_ltm": money, "revenue_prior_ltm": money, "clv": money, "clv_low": money, "clv_high": money,
            "wallet": money, "headroom": money, "expected_value": money, "amount": money,
            "growth": _signed_pct, "p_alive": pct, "share_of_wallet": pct,
            "expected_purchases_12m": one, "expected_purchases_12m_low": one, "expected_purchases_12m_high": one,
            "engagement_score": one, "value_to_business": two, "value_to_client": two,
            "nps_last": lambda v: num(v, 0), "rank": lambda v: num(v, 0)}


def _fmt(v, column: str | None = None) -> str:
    """One value as the reports write it: money as 1.2m, shares as 85%, counts with separators.

    Missing or infinite values (growth of a client new this year) show as an en dash, which the
    report's alignment counts as "no value" in a numeric column.
    """
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return "\u2013"
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    f = _formats().get(column) if column else None
    if isinstance(v, (int, float, np.integer, np.floating)):
        if not _finite(v):
            return "\u2013"
        if f is not None:
            return f(v)
        from .nb import num

        return num(v, 0) if float(v) == int(v) or abs(v) >= 100 else num(v, 2)
    return str(v)


def _header(column: str) -> str:
    """Business header of a column: the explorers' own labels, else the reports' (``nb.header``)."""
    from .nb import header

    return HEADERS.get(column) or header(column)


def _table_html(df: pd.DataFrame, max_rows: int = 12) -> str:
    """An escaped table with business headers, formatted values and numeric columns right-aligned."""
    from .report import align_numbers

    d = df.head(max_rows).copy()
    for c in d.columns:
        d[c] = d[c].map(lambda v, _c=c: _fmt(v, _c)).astype(object)
    d.columns = [_header(c) for c in d.columns]
    body = align_numbers(d.to_html(index=False, escape=True, border=0, classes="cs-table"))
    more = f"<p class='cs-note'>Showing {max_rows} of {len(df):,} rows.</p>" if len(df) > max_rows else ""
    return body + more


def _kv_html(pairs) -> str:
    """(label, formatted value) pairs as a two-column table, numbers right-aligned."""
    from .report import align_numbers

    rows = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in pairs)
    return align_numbers(f'<table class="cs-table cs-kv">{rows}</table>')



#: Styles of the live explorers in JupyterLab, where the report's stylesheet is absent (JupyterLab
#: right-aligns every table cell by default): text left, numbers right, as on the leadership pages.
_LIVE_STYLE = ("<style>div.cs-explorer table{border-collapse:collapse;margin:0.4rem 0 0.8rem;font-size:0.9em}"
               "div.cs-explorer table th,div.cs-explorer table td{text-align:left;padding:0.2rem 0.6rem;"
               "border-bottom:1px solid #d9dee5;vertical-align:top}div.cs-explorer table th{background:#eef2f7}"
               "div.cs-explorer table td.cs-num,div.cs-explorer table th.cs-num{text-align:right;"
               "font-variant-numeric:tabular-nums;white-space:nowrap}div.cs-explorer .cs-note{color:#5f6b7a;"
               "font-size:0.85em}</style>")


def _live(body: str) -> str:
    """``body`` wrapped for a live widget: the explorer's own styles travel with it."""
    return f'{_LIVE_STYLE}<div class="cs-explorer">{body}</div>'


def _figure_html(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return f"<img alt='figure' src='data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}'/>"


_PURCHASE_COLUMNS = ("expected_purchases_12m", "expected_purchases_12m_low", "expected_purchases_12m_high")



def client_card(client_id: str, profile: pd.DataFrame, revenue: pd.DataFrame | None = None,
                clients: pd.DataFrame | None = None, actions: pd.DataFrame | None = None,
                as_of: pd.Timestamp | None = None, models: dict | None = None) -> str:
    """One client's whole profile as HTML: key figures, quarterly revenue, next actions.

    Measures are named in business words; expected purchases read as one line with their range,
    or, for a client whose range is [0, 0] under a positive expectation, with its chance of
    buying at all (``outcomes.purchase_outlook``).

    Parameters
    ----------
    client_id : str
        The client to show.
    profile : DataFrame
        ``client_profile`` (one row per client).
    revenue, clients, actions : DataFrame, optional
        Canonical revenue and clients tables, and ``next_best_actions``.
    as_of : Timestamp, optional
        Revenue after it is not shown.
    models : dict, optional
        ``artifacts/models.json`` (the fitted purchase model), for the chance of buying at all;
        without it the purchase model is refitted when that chance is needed.

    Returns
    -------
    str
        Escaped HTML; a sentence saying so when the client is unknown.
    """
    if "client_id" not in profile.columns:
        raise ValueError("profile: column 'client_id' is missing")
    ids = profile["client_id"].astype(str)
    typed = str(client_id).strip()
    row = profile[ids == typed]
    if row.empty and (ids.str.lower() == typed.lower()).sum() == 1:  # c0004 for C0004
        row = profile[ids.str.lower() == typed.lower()]
    if row.empty:
        lower = {i.lower(): i for i in ids}
        near = [lower[m] for m in difflib.get_close_matches(typed.lower(), list(lower), n=3, cutoff=0.6)]
        hint = ("Did you mean " + ", ".join(f"<code>{_esc(i)}</code>" for i in near) + "?" if near
                else f"Ids look like <code>{_esc(ids.iloc[0])}</code>." if len(ids) else "The profile is empty.")
        return f"<p class='cs-unknown'>No client with id <code>{_esc(client_id)}</code>. {hint}</p>"
    r = row.iloc[0]
    client_id = str(r["client_id"])
    name = ""
    if clients is not None and "client_name" in clients.columns:
        hit = clients.loc[clients["client_id"].astype(str) == str(client_id), "client_name"]
        name = hit.iloc[0] if len(hit) else ""
    parts = [f"<h3>{_esc(name) or _esc(client_id)} <small>({_esc(client_id)})</small></h3>"]
    from . import nb, outcomes
    from .nb import header

    window = None
    if nb._ACTIVE is not None:
        try:
            window = nb._ACTIVE.window
        except Exception:  # noqa: BLE001 (no revenue to read a window from)
            window = None
    no_prior = window is not None and not window.has_prior  # "revenue the year before: 0" would mislead
    facts = []
    for c in profile.columns:
        if c == "client_id" or c in _PURCHASE_COLUMNS[1:] or pd.isna(r[c]):
            continue
        if no_prior and c in ("revenue_prior_ltm", "growth"):
            continue
        if c == "expected_purchases_12m":
            low, high = (r.get(k) for k in _PURCHASE_COLUMNS[1:])
            p_any = None
            if pd.notna(high) and float(high) <= 0 < float(r[c]) and revenue is not None and as_of is not None:
                p_any = outcomes.chance_of_any_purchase(revenue, as_of, [client_id], models=models).get(str(client_id))
            facts.append((header(c), outcomes.purchase_outlook(r[c], low, high, p_any)))
        else:
            facts.append((header(c), _fmt(r[c], c)))
    parts.append(_kv_html(facts))
    if revenue is not None and len(revenue):
        rv = revenue[revenue["client_id"].astype(str) == str(client_id)]
        if as_of is not None:
            rv = rv[rv["date"] <= as_of]
        if len(rv):
            import matplotlib.pyplot as plt
            from matplotlib.ticker import FuncFormatter

            from .nb import money

            q = rv.groupby(rv["date"].dt.to_period("Q"))["amount"].sum()
            fig, ax = plt.subplots(figsize=(6, 2.6))
            ax.bar(q.index.astype(str), q.to_numpy(), color="#1d4e89")
            ax.set_title("Revenue by quarter")
            ax.set_ylabel("Revenue")
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: money(v)))  # 1.2m, not a "1e6" offset
            ax.tick_params(axis="x", rotation=60, labelsize=7)
            parts.append(_figure_html(fig))
    if actions is not None and len(actions):
        a = actions[actions["client_id"].astype(str) == str(client_id)]
        if "control" in a.columns:
            a = a[~a["control"].astype(bool)]
        if len(a):
            parts.append("<h4>Next best actions</h4>" + _table_html(a.drop(columns=["client_id"], errors="ignore")))
    return "\n".join(parts)


def portfolio_view(profile: pd.DataFrame, filters: dict | None = None) -> str:
    """HTML summary of the clients matching ``filters`` (column -> value; "All" or None = any)."""
    d = profile
    for col, val in (filters or {}).items():
        if col not in profile.columns:
            raise ValueError(f"profile: column {col!r} is missing")
        if val not in (None, "All"):
            d = d[d[col].astype(str) == str(val)]
    if d.empty:
        return "<p>No client matches these filters.</p>"
    from .nb import header, money
    from .words import plural

    clv = f"; lifetime value <strong>{_esc(money(float(d['clv'].sum())))}</strong>" \
        if "clv" in d.columns and d["clv"].notna().any() else ""
    revenue_words = header("revenue_ltm")
    head = (f"<p><strong>{len(d):,}</strong> {'client' if len(d) == 1 else 'clients'}; "
            f"{_esc(revenue_words[:1].lower() + revenue_words[1:])}: <strong>{_esc(money(float(d['revenue_ltm'].sum())))}</strong>"
            f"{clv}.</p>") if "revenue_ltm" in d.columns else f"<p>{_esc(plural(len(d), 'client'))}.</p>"
    cols = [c for c in ("client_id", "tier", "segment", "revenue_ltm", "growth", "p_alive", "clv", "group", "intent")
            if c in d.columns]
    top = d.sort_values("revenue_ltm", ascending=False) if "revenue_ltm" in d.columns else d
    return head + _table_html(top[cols].head(15), max_rows=15)


def client_lookup(profile: pd.DataFrame, **card_kwargs):
    """A client selector (type an id, or pick one from the list) that re-renders :func:`client_card`.

    The card follows the typed id when the analyst presses Enter or leaves the box; an id that is
    not in the profile gets a sentence saying so, with the closest ids.

    Returns
    -------
    ipywidgets.VBox
        Its ``children`` are the selector (``Combobox``) and the card (``HTML``).
    """
    import ipywidgets as w

    ids = sorted(profile["client_id"].astype(str))
    pick = w.Combobox(options=ids, placeholder="client id", description="Client", ensure_option=False,
                      continuous_update=False)
    prompt = _live("<p>Type a client id (or pick one from the list) and press Enter.</p>")
    card = w.HTML(value=prompt)

    def _update(change):
        typed = str(change["new"] or "").strip()
        card.value = _live(client_card(typed, profile, **card_kwargs)) if typed else prompt

    pick.observe(_update, names="value")
    return w.VBox([pick, card])


def portfolio_filter(profile: pd.DataFrame, columns=FILTER_COLUMNS):
    """Dropdowns over profile columns that re-render :func:`portfolio_view` on change.

    Returns
    -------
    ipywidgets.VBox
        Children: an ``HBox`` of ``Dropdown``s (one per populated column) and the ``HTML`` view.
    """
    import ipywidgets as w

    drops = {}
    for col in columns:
        if col in profile.columns and profile[col].notna().any():
            opts = ["All"] + sorted(profile[col].dropna().astype(str).unique())
            drops[col] = w.Dropdown(options=opts, value="All", description=col.replace("_", " ").capitalize())
    view = w.HTML(value=_live(portfolio_view(profile)))

    def _update(_change):
        view.value = _live(portfolio_view(profile, {c: d.value for c, d in drops.items()}))

    for d in drops.values():
        d.observe(_update, names="value")
    return w.VBox([w.HBox(list(drops.values())), view])


def display_explorer(widget_factory, static_html: str) -> None:
    """Show the live explorer in JupyterLab, or its static form in a batch run / report."""
    from IPython.display import HTML, display

    if is_batch():
        display(HTML(static_html))
    else:
        display(widget_factory())
