"""ipywidgets explorers for analysts in JupyterLab, with a static form for reports.

Each explorer is a pair: a pure renderer that returns escaped HTML for a choice (testable without a
kernel) and a function that wraps it in widgets whose controls re-render on change. In a batch run
(papermill, where the runner sets ``CLIENTSTRATEGY_BATCH=1``) or in the leadership HTML, only the
static form is shown: :func:`display_explorer` decides.
"""
from __future__ import annotations

import base64
import html
import io
import os

import pandas as pd

__all__ = [
    "FILTER_COLUMNS",
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


def _fmt(v) -> str:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return ""
    if isinstance(v, float):
        return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.3g}"
    return str(v)


def _table_html(df: pd.DataFrame, max_rows: int = 12) -> str:
    d = df.head(max_rows).copy()
    for c in d.columns:
        d[c] = d[c].map(_fmt).astype(object)
    return d.to_html(index=False, escape=True, border=0, classes="cs-table")


def _figure_html(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return f"<img alt='figure' src='data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}'/>"


#: Profile columns shown as percentages and as money on a client card.
_SHARE_COLUMNS = ("p_alive", "growth", "share_of_wallet")
_MONEY_COLUMNS = ("revenue_ltm", "revenue_prior_ltm", "clv", "clv_low", "clv_high", "wallet", "headroom")
_PURCHASE_COLUMNS = ("expected_purchases_12m", "expected_purchases_12m_low", "expected_purchases_12m_high")


def _card_value(column: str, v) -> str:
    from .nb import money, pct

    if column in _SHARE_COLUMNS:
        return pct(v)
    if column in _MONEY_COLUMNS:
        return money(v)
    if column in ("value_to_business", "value_to_client"):
        return f"{float(v):.2f}"
    return _fmt(v)


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
    row = profile[profile["client_id"].astype(str) == str(client_id)]
    if row.empty:
        return f"<p>No client with id <code>{_esc(client_id)}</code>.</p>"
    r = row.iloc[0]
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
            facts.append((header(c), _card_value(c, r[c])))
    parts.append(_table_html(pd.DataFrame(facts, columns=["Measure", "Value"]), max_rows=40))
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
    shown = top[cols].head(15).copy()
    for c in cols:
        if c in _SHARE_COLUMNS or c in _MONEY_COLUMNS:
            shown[c] = shown[c].map(lambda v, _c=c: "" if pd.isna(v) else _card_value(_c, v)).astype(object)
    shown.columns = [header(c) for c in cols]
    return head + _table_html(shown, max_rows=15)


def client_lookup(profile: pd.DataFrame, **card_kwargs):
    """A searchable client selector that re-renders :func:`client_card` on change.

    Returns
    -------
    ipywidgets.VBox
        Its ``children`` are the selector (``Combobox``) and the card (``HTML``).
    """
    import ipywidgets as w

    ids = sorted(profile["client_id"].astype(str))
    pick = w.Combobox(options=ids, placeholder="client id", description="Client", ensure_option=True)
    card = w.HTML(value="<p>Choose a client.</p>")

    def _update(change):
        if change["new"] in ids:
            card.value = client_card(change["new"], profile, **card_kwargs)

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
    view = w.HTML(value=portfolio_view(profile))

    def _update(_change):
        view.value = portfolio_view(profile, {c: d.value for c, d in drops.items()})

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
