"""Third parties: the outside-in view of clients (wallet, firmographics) against our inside-out revenue.

Every function is pure (DataFrames in, a new DataFrame out). ``share_of_wallet`` is revenue over
the last twelve months (LTM, ``(as_of - 12 months, as_of]``) divided by the client's wallet in
the latest ``third_party`` snapshot on or before ``as_of``; ``headroom`` is wallet minus that
revenue. Neither is clipped: a share above 1 (headroom below 0) means the provider's wallet is
smaller than what the client already spends with us, which the notebook reports as a data
question rather than hiding it.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .periods import ltm_window
from .words import pct as _pct

__all__ = [
    "FIRMOGRAPHICS",
    "PROVIDER_COLUMNS",
    "latest_snapshot",
    "opportunities",
    "outside_in_vs_inside_out",
    "penetration_profile",
    "plot_penetration",
    "plot_wallet_vs_revenue",
    "revenue_ltm",
    "wallet_share",
]

FIRMOGRAPHICS = ("employees", "annual_revenue", "intent_score", "external_rating", "source")

#: What a third-party provider adds, column by column (for the notebook when the table is absent).
PROVIDER_COLUMNS = pd.DataFrame(
    [
        ("client_id", "required", "your client id, matched to the provider's company id", "joining"),
        ("as_of", "required", "date of the provider's snapshot (one row per client and date)",
         "using the latest view on or before AS_OF"),
        ("wallet", "optional", "the client's total yearly spend in your categories, all providers",
         "share of wallet, headroom, opportunity ranking"),
        ("employees", "optional", "headcount", "size bands, outside-in ranking when no wallet"),
        ("annual_revenue", "optional", "the client's own turnover", "outside-in ranking when no wallet"),
        ("intent_score", "optional", "buying-intent signal (higher = more likely to buy soon)",
         "fit in the opportunity ranking"),
        ("external_rating", "optional", "credit or analyst rating", "profiling"),
        ("source", "optional", "name of the provider", "traceability"),
    ],
    columns=["column", "status", "meaning", "used_for"],
)


def _require(df, columns, table: str) -> None:
    if df is None or not isinstance(df, pd.DataFrame):
        raise ValueError(f"table {table!r} must be a DataFrame")
    for col in columns:
        if col not in df.columns:
            raise ValueError(f"column {col!r} is missing from table {table!r}")


def latest_snapshot(third_party: pd.DataFrame, as_of) -> pd.DataFrame:
    """Each client's latest third-party row on or before ``as_of``.

    Parameters
    ----------
    third_party : DataFrame
        Canonical ``third_party``: ``client_id``, ``as_of`` (snapshot date) and optional columns.
    as_of : Timestamp
        Snapshots dated after it are ignored.

    Returns
    -------
    DataFrame
        One row per client (sorted by ``client_id``), same columns; ``as_of`` is the snapshot used.

    Examples
    --------
    >>> tp = pd.DataFrame({"client_id": ["a", "a", "a"], "wallet": [1.0, 2.0, 3.0],
    ...     "as_of": pd.to_datetime(["2025-06-30", "2026-06-30", "2026-12-31"])})
    >>> latest_snapshot(tp, pd.Timestamp("2026-09-30"))["wallet"].tolist()
    [2.0]
    """
    _require(third_party, ["client_id", "as_of"], "third_party")
    tp = third_party.loc[pd.to_datetime(third_party["as_of"]) <= pd.Timestamp(as_of)].copy()
    tp["client_id"] = tp["client_id"].astype(str)
    tp = tp.sort_values(["client_id", "as_of"], kind="mergesort")
    return tp.drop_duplicates("client_id", keep="last").reset_index(drop=True)


def revenue_ltm(revenue: pd.DataFrame, as_of) -> pd.DataFrame:
    """Net revenue per client over the twelve months ending at ``as_of``.

    A two-line sum kept here (rather than importing ``outcomes``) so that this module only
    depends on the bottom layer; it follows the same LTM window (``periods.ltm_window``).

    Parameters
    ----------
    revenue : DataFrame
        ``date``, ``client_id``, ``amount``.
    as_of : Timestamp
        End of the window.

    Returns
    -------
    DataFrame
        ``client_id``, ``revenue_ltm`` (clients with rows in the window only).

    Examples
    --------
    >>> r = pd.DataFrame({"date": pd.to_datetime(["2025-09-30", "2025-10-01", "2026-10-01"]),
    ...                   "client_id": ["a", "a", "a"], "amount": [1.0, 2.0, 4.0]})
    >>> revenue_ltm(r, pd.Timestamp("2026-09-30"))["revenue_ltm"].tolist()
    [2.0]
    """
    _require(revenue, ["date", "client_id", "amount"], "revenue")
    start, end = ltm_window(pd.Timestamp(as_of))
    r = revenue.loc[(revenue["date"] > start) & (revenue["date"] <= end)]
    out = r.groupby(r["client_id"].astype(str))["amount"].sum().rename("revenue_ltm").reset_index()
    return out.sort_values("client_id").reset_index(drop=True)


def wallet_share(latest: pd.DataFrame | None, revenue: pd.DataFrame, as_of,
                 clients: pd.DataFrame | None = None) -> pd.DataFrame:
    """Wallet, share of wallet and headroom per client, with firmographics.

    Parameters
    ----------
    latest : DataFrame or None
        :func:`latest_snapshot` output (``client_id``, ``wallet`` and firmographics); None when
        there is no third-party data (wallet columns are then null).
    revenue : DataFrame
        Canonical revenue.
    as_of : Timestamp
        End of the LTM window.
    clients : DataFrame, optional
        Canonical clients; its ``industry``, ``size_band``, ``region`` are added and its clients
        without revenue are kept (revenue 0).

    Returns
    -------
    DataFrame
        ``client_id``, ``revenue_ltm``, ``wallet``, ``share_of_wallet`` (revenue_ltm / wallet, null
        where the wallet is unknown or not positive), ``headroom`` (wallet - revenue_ltm),
        ``snapshot_as_of`` and the firmographic columns present; one row per client seen in any
        input, sorted by ``client_id``.

    Examples
    --------
    >>> tp = pd.DataFrame({"client_id": ["a", "b"], "as_of": pd.to_datetime(["2026-06-30"] * 2),
    ...                    "wallet": [100.0, 50.0]})
    >>> r = pd.DataFrame({"date": pd.to_datetime(["2026-01-05"]), "client_id": ["a"], "amount": [25.0]})
    >>> wallet_share(tp, r, pd.Timestamp("2026-09-30"))[["share_of_wallet", "headroom"]].values.tolist()
    [[0.25, 75.0], [0.0, 50.0]]
    """
    ltm = revenue_ltm(revenue, as_of)
    ids = set(ltm["client_id"])
    if latest is not None:
        _require(latest, ["client_id"], "third_party")
        ids |= set(latest["client_id"].astype(str))
    if clients is not None:
        _require(clients, ["client_id"], "clients")
        ids |= set(clients["client_id"].astype(str))
    out = pd.DataFrame({"client_id": sorted(ids)})
    out = out.merge(ltm, on="client_id", how="left")
    out["revenue_ltm"] = out["revenue_ltm"].fillna(0.0).astype(float)
    if latest is not None:
        lt = latest.copy()
        lt["client_id"] = lt["client_id"].astype(str)
        keep = ["client_id"] + [c for c in ("wallet", *FIRMOGRAPHICS) if c in lt.columns]
        lt = lt[keep + (["as_of"] if "as_of" in lt.columns else [])].rename(columns={"as_of": "snapshot_as_of"})
        out = out.merge(lt, on="client_id", how="left")
    if "wallet" not in out.columns:
        out["wallet"] = np.nan
    out["wallet"] = pd.to_numeric(out["wallet"], errors="coerce").astype(float)
    positive = out["wallet"] > 0
    out["share_of_wallet"] = (out["revenue_ltm"] / out["wallet"]).where(positive)
    out["headroom"] = out["wallet"] - out["revenue_ltm"]
    if clients is not None:
        c = clients.copy()
        c["client_id"] = c["client_id"].astype(str)
        cols = [x for x in ("industry", "size_band", "region") if x in c.columns]
        out = out.merge(c[["client_id", *cols]].drop_duplicates("client_id"), on="client_id", how="left")
    first = ["client_id", "revenue_ltm", "wallet", "share_of_wallet", "headroom"]
    return out[first + [c for c in out.columns if c not in first]]


def _pct_rank(s: pd.Series) -> pd.Series:
    """Percentile rank in [0, 1] (average ties); NaN stays NaN."""
    return s.rank(pct=True, method="average")


def opportunities(frame: pd.DataFrame, fit_columns=("intent_score",), fit_weight: float = 0.3,
                  top_n: int | None = None) -> pd.DataFrame:
    """Rank clients by headroom and fit.

    Model (stated): ``score = (1 - fit_weight) x headroom_rank + fit_weight x fit`` where
    ``headroom_rank`` is the percentile rank (0..1) of positive headroom among clients with a
    known wallet (no or negative headroom counts 0) and ``fit`` is the mean percentile rank of
    the ``fit_columns`` present (e.g. ``intent_score``, ``engagement_score``, ``nps_last``); a
    client missing a fit value gets the neutral 0.5 for it. Clients without a wallet are left out.

    Parameters
    ----------
    frame : DataFrame
        :func:`wallet_share` output, optionally with more fit columns merged in.
    fit_columns : sequence of str
        Columns where higher means a better fit; those absent are ignored.
    fit_weight : float
        Weight of fit against headroom, 0..1.
    top_n : int, optional
        Keep only the best ``top_n``.

    Returns
    -------
    DataFrame
        ``rank`` (1 = best), ``client_id``, ``headroom``, ``wallet``, ``revenue_ltm``,
        ``share_of_wallet``, ``headroom_rank``, ``fit``, ``score``, ``reason`` (plain words),
        plus the fit columns used.

    Examples
    --------
    >>> f = pd.DataFrame({"client_id": ["a", "b", "c"], "wallet": [10.0, 100.0, 50.0],
    ...                   "revenue_ltm": [5.0, 10.0, 40.0]})
    >>> f["headroom"] = f["wallet"] - f["revenue_ltm"]
    >>> f["share_of_wallet"] = f["revenue_ltm"] / f["wallet"]
    >>> opportunities(f)["client_id"].tolist()
    ['b', 'c', 'a']
    """
    _require(frame, ["client_id", "wallet", "revenue_ltm", "headroom", "share_of_wallet"], "wallet_share")
    if not 0 <= fit_weight <= 1:
        raise ValueError(f"fit_weight must be within 0..1, got {fit_weight}")
    f = frame.loc[frame["wallet"].notna()].copy()
    used = [c for c in fit_columns if c in f.columns and pd.to_numeric(f[c], errors="coerce").notna().any()]
    pos = f["headroom"].clip(lower=0)
    f["headroom_rank"] = _pct_rank(pos.where(pos > 0)).fillna(0.0)
    if used:
        ranks = pd.concat([_pct_rank(pd.to_numeric(f[c], errors="coerce")).fillna(0.5) for c in used], axis=1)
        f["fit"] = ranks.mean(axis=1)
    else:
        f["fit"] = 0.5
    f["score"] = (1 - fit_weight) * f["headroom_rank"] + fit_weight * f["fit"]
    f = f.sort_values(["score", "headroom", "client_id"], ascending=[False, False, True], kind="mergesort")
    f["rank"] = np.arange(1, len(f) + 1)

    def reason(row) -> str:
        sow = row["share_of_wallet"]
        sow_txt = f"we hold {_pct(sow)} of its wallet" if pd.notna(sow) else "share unknown"
        fit_txt = "strong fit" if row["fit"] >= 0.67 else ("weak fit" if row["fit"] < 0.33 else "average fit")
        return f"{sow_txt}; headroom {row['headroom']:,.0f}; {fit_txt}"

    f["reason"] = f.apply(reason, axis=1) if len(f) else pd.Series(dtype=str)
    cols = ["rank", "client_id", "headroom", "wallet", "revenue_ltm", "share_of_wallet", "headroom_rank",
            "fit", "score", "reason", *used]
    out = f[cols].reset_index(drop=True)
    return out.head(top_n) if top_n else out


def outside_in_vs_inside_out(frame: pd.DataFrame, outside: str | None = None, inside: str = "revenue_ltm",
                             gap: float = 0.5) -> pd.DataFrame:
    """Where the outside world and our own books disagree on how big a client is.

    Both sizes are turned into percentile ranks among clients where the outside size is known.
    ``gap`` = outside rank - inside rank. ``view`` is ``"outside-in larger"`` (the world ranks
    the client large, we rank it low: an untapped client) when ``gap >= threshold``,
    ``"inside-out larger"`` (we rank it higher than the world does: concentrated or at risk of
    over-servicing) when ``gap <= -threshold``, else ``"aligned"``.

    Parameters
    ----------
    frame : DataFrame
        :func:`wallet_share` output.
    outside : str, optional
        Outside-in size column; default the first of ``wallet``, ``annual_revenue``,
        ``employees`` that has values.
    inside : str
        Inside-out size column.
    gap : float
        Threshold on the rank gap, 0..1.

    Returns
    -------
    DataFrame
        ``client_id``, ``inside``, ``outside`` values, ``inside_rank``, ``outside_rank``, ``gap``,
        ``view``, ``outside_measure``; sorted by ``gap`` descending.

    Examples
    --------
    >>> f = pd.DataFrame({"client_id": list("abcd"), "revenue_ltm": [1.0, 2.0, 3.0, 4.0],
    ...                   "wallet": [400.0, 30.0, 20.0, 10.0]})
    >>> outside_in_vs_inside_out(f)[["client_id", "view"]].values.tolist()
    [['a', 'outside-in larger'], ['b', 'aligned'], ['c', 'aligned'], ['d', 'inside-out larger']]
    """
    _require(frame, ["client_id", inside], "wallet_share")
    if outside is None:
        for c in ("wallet", "annual_revenue", "employees"):
            if c in frame.columns and pd.to_numeric(frame[c], errors="coerce").notna().any():
                outside = c
                break
    if outside is None:
        raise ValueError("column 'wallet' (or 'annual_revenue' / 'employees') is needed for the outside-in view")
    _require(frame, [outside], "wallet_share")
    f = frame.loc[pd.to_numeric(frame[outside], errors="coerce").notna(), ["client_id", inside, outside]].copy()
    f["inside_rank"] = _pct_rank(f[inside].astype(float))
    f["outside_rank"] = _pct_rank(pd.to_numeric(f[outside], errors="coerce"))
    f["gap"] = f["outside_rank"] - f["inside_rank"]
    f["view"] = np.where(f["gap"] >= gap, "outside-in larger", np.where(f["gap"] <= -gap, "inside-out larger",
                                                                        "aligned"))
    f["outside_measure"] = outside
    return f.sort_values(["gap", "client_id"], ascending=[False, True]).reset_index(drop=True)


def penetration_profile(frame: pd.DataFrame, by: str = "size_band") -> pd.DataFrame:
    """Penetration by a firmographic band (size band, industry): who buys, how much, of what wallet.

    Works with firmographics alone (no wallet): then the wallet columns are null.

    Parameters
    ----------
    frame : DataFrame
        :func:`wallet_share` output with ``by`` (``clients`` given) - one row per client.
    by : str
        Band column, e.g. ``"size_band"`` or ``"industry"``.

    Returns
    -------
    DataFrame
        ``by``, ``clients``, ``buying_clients`` (positive LTM revenue), ``penetration``
        (buying / clients), ``revenue_ltm``, ``revenue_per_buying_client``, ``wallet`` (sum over
        clients with a wallet), ``share_of_wallet`` (their revenue / their wallet); sorted by
        ``revenue_ltm`` descending.

    Examples
    --------
    >>> f = pd.DataFrame({"client_id": list("abc"), "size_band": ["L", "L", "S"],
    ...                   "revenue_ltm": [10.0, 0.0, 5.0], "wallet": [40.0, 60.0, None]})
    >>> penetration_profile(f)[["size_band", "penetration", "share_of_wallet"]].values.tolist()
    [['L', 0.5, 0.1], ['S', 1.0, nan]]
    """
    _require(frame, ["client_id", "revenue_ltm", by], "wallet_share")
    f = frame.copy()
    f[by] = f[by].astype(object).where(f[by].notna(), "unknown").astype(str)
    if "wallet" not in f.columns:
        f["wallet"] = np.nan
    f["_buying"] = (f["revenue_ltm"] > 0).astype(int)
    f["_has_w"] = f["wallet"].notna() & (f["wallet"] > 0)
    f["_rev_w"] = f["revenue_ltm"].where(f["_has_w"], 0.0)
    f["_w"] = f["wallet"].where(f["_has_w"], 0.0)
    g = f.groupby(by, sort=True).agg(clients=("client_id", "size"), buying_clients=("_buying", "sum"),
                                     revenue_ltm=("revenue_ltm", "sum"), with_wallet=("_has_w", "sum"),
                                     wallet=("_w", "sum"), rev_w=("_rev_w", "sum")).reset_index()
    g["penetration"] = g["buying_clients"] / g["clients"]
    g["revenue_per_buying_client"] = g["revenue_ltm"] / g["buying_clients"].where(g["buying_clients"] > 0)
    g["wallet"] = g["wallet"].where(g["with_wallet"] > 0)
    g["share_of_wallet"] = g["rev_w"] / g["wallet"]
    g = g.sort_values(["revenue_ltm", by], ascending=[False, True]).reset_index(drop=True)
    return g[[by, "clients", "buying_clients", "penetration", "revenue_ltm", "revenue_per_buying_client",
              "wallet", "share_of_wallet"]]


def _short(v: float) -> str:
    """1500 -> '1.5k', 2e6 -> '2m': axis labels in business words."""
    for div, unit in ((1e9, "bn"), (1e6, "m"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:g}{unit}"
    return f"{v:g}"


def plot_wallet_vs_revenue(views: pd.DataFrame, ax=None):
    """Our LTM revenue against the outside-in size, coloured by view (log scales).

    Parameters
    ----------
    views : DataFrame
        :func:`outside_in_vs_inside_out` output.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Figure

    Examples
    --------
    >>> v = pd.DataFrame({"client_id": ["a"], "revenue_ltm": [1.0], "wallet": [2.0], "view": ["aligned"],
    ...                   "outside_measure": ["wallet"]})
    >>> fig = plot_wallet_vs_revenue(v)
    """
    import matplotlib.pyplot as plt

    _require(views, ["client_id", "revenue_ltm", "view", "outside_measure"], "views")
    outside = str(views["outside_measure"].iloc[0]) if len(views) else "wallet"
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(7, 5))
    from matplotlib.ticker import FuncFormatter

    colours = {"outside-in larger": "#dd8452", "aligned": "#bbbbbb", "inside-out larger": "#4c72b0"}
    shown = (views["revenue_ltm"] > 0) & (views[outside] > 0)
    for view, colour in colours.items():
        v = views.loc[(views["view"] == view) & shown]
        ax.scatter(v[outside], v["revenue_ltm"], s=10, alpha=0.7, color=colour,
                   label=f"{view} ({int((views['view'] == view).sum())})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    # plain tick labels (1k, 10m): log axes otherwise use mathtext, which notebooks may switch off
    fmt = FuncFormatter(lambda v, _: _short(v))
    ax.xaxis.set_major_formatter(fmt)
    ax.yaxis.set_major_formatter(fmt)
    hidden = int((~shown).sum())
    if hidden:
        ax.text(0.99, 0.01, f"{hidden} clients without revenue (or size) not shown", transform=ax.transAxes,
                ha="right", va="bottom", fontsize=8)
    ax.set_xlabel(f"Outside-in size: {outside.replace('_', ' ')} (third party)")
    ax.set_ylabel("Inside-out size: our revenue, last 12 months")
    ax.set_title("Where the outside world and our books disagree")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_penetration(profile: pd.DataFrame, by: str = "size_band"):
    """Penetration and share of wallet per band.

    Parameters
    ----------
    profile : DataFrame
        :func:`penetration_profile` output.
    by : str
        Its band column.

    Returns
    -------
    matplotlib Figure

    Examples
    --------
    >>> p = pd.DataFrame({"size_band": ["L"], "penetration": [0.5], "share_of_wallet": [0.1]})
    >>> fig = plot_penetration(p)
    """
    import matplotlib.pyplot as plt

    _require(profile, [by, "penetration", "share_of_wallet"], "penetration")
    fig, ax = plt.subplots(figsize=(8, 3.8))
    x = np.arange(len(profile))
    ax.bar(x - 0.2, profile["penetration"] * 100, width=0.4, label="clients buying (%)")
    if profile["share_of_wallet"].notna().any():
        ax.bar(x + 0.2, profile["share_of_wallet"] * 100, width=0.4, label="our share of their wallet (%)")
    ax.set_xticks(x, profile[by].astype(str), rotation=30, ha="right")
    ax.set_ylabel("%")
    ax.set_title(f"Penetration by {by.replace('_', ' ')}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
