"""Voice of the client: NPS with intervals, response bias, comment themes, drivers and outcomes.

Every function is pure (DataFrames in, a new DataFrame out) and ignores rows dated after
``as_of``. Scores follow the Net Promoter convention: 9-10 promoter, 7-8 passive, 0-6
detractor; NPS = % promoters - % detractors, in points from -100 to 100. Its standard error
comes from the multinomial of the three categories::

    se = sqrt((p_pro + p_det - (p_pro - p_det) ** 2) / n) * 100

The seed's health warning ("this information will always be biased; either by the
relationship that exists, or the agenda a client is trying to drive") is answered by
``response_rates`` / ``post_stratified_nps`` (who answers) and ``owner_bias`` (relationship).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from . import features, outcomes
from .periods import ltm_window, quarter_label
from .schema import TIERS

__all__ = [
    "CATEGORIES",
    "PORTUGUESE_STOP_WORDS",
    "add_wave",
    "attach_attributes",
    "client_nps",
    "client_tiers",
    "comment_themes",
    "detractor_outcomes",
    "nps_category",
    "nps_drivers",
    "nps_stats",
    "nps_summary",
    "nps_trend",
    "owner_bias",
    "plot_drivers",
    "plot_nps_by_wave",
    "plot_response_bias",
    "plot_themes",
    "post_stratified_nps",
    "ratings_change",
    "ratings_summary",
    "response_features",
    "response_rates",
    "strata_table",
    "tiers_at",
    "wave_order",
]

CATEGORIES = ("promoter", "passive", "detractor")

#: Short Portuguese stop-word list for free text such as the Olist reviews. Written out by hand
#: because scikit-learn ships an English list only and no stop-word package is installed.
PORTUGUESE_STOP_WORDS = (
    "a", "ao", "aos", "as", "até", "com", "como", "da", "das", "de", "dela", "dele", "do", "dos",
    "e", "é", "ela", "ele", "em", "entre", "era", "essa", "esse", "esta", "está", "estava", "este",
    "eu", "foi", "há", "isso", "isto", "já", "lhe", "mais", "mas", "me", "mesmo", "meu", "minha",
    "muito", "na", "nas", "no", "nos", "nossa", "nosso", "num", "numa", "o", "os", "ou", "para",
    "pela", "pelo", "por", "pra", "qual", "que", "quando", "se", "ser", "seu", "sua", "só",
    "também", "te", "tem", "ter", "um", "uma", "uns", "umas", "você", "vocês", "já", "pois", "foram",
)


# --------------------------------------------------------------------------------------------
# checks and small helpers
# --------------------------------------------------------------------------------------------
def _require(df: pd.DataFrame, columns, table: str) -> None:
    if df is None or not isinstance(df, pd.DataFrame):
        raise ValueError(f"table {table!r} must be a DataFrame")
    for col in columns:
        if col not in df.columns:
            raise ValueError(f"column {col!r} is missing from table {table!r}")


def _upto(df: pd.DataFrame, col: str, as_of) -> pd.DataFrame:
    """Rows with ``col <= as_of`` (all rows when ``as_of`` is None), as a copy."""
    if as_of is None:
        return df.copy()
    return df.loc[pd.to_datetime(df[col]) <= pd.Timestamp(as_of)].copy()


def _check_scores(s: pd.Series) -> pd.Series:
    x = pd.to_numeric(s, errors="coerce").astype(float)
    bad = x.notna() & ((x < 0) | (x > 10))
    if bad.any():
        raise ValueError(f"column 'nps' has {int(bad.sum())} values outside 0..10, e.g. {x[bad].iloc[0]}")
    return x


def _z(level: float) -> float:
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    return float(stats.norm.ppf(0.5 + level / 2))


def _wilson(k, n, level: float = 0.95):
    """Wilson score interval for a proportion (arrays allowed); NaN where n == 0."""
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    z = _z(level)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        den = 1 + z**2 / n
        mid = (p + z**2 / (2 * n)) / den
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / den
    return mid - half, mid + half


def _tier_order(df: pd.DataFrame, col: str) -> pd.DataFrame:
    """Rows in Platinum, Gold, Silver, Bronze order when ``col`` holds tiers; otherwise unchanged."""
    if col not in df.columns:
        return df
    vals = set(df[col].dropna().astype(str))
    if not vals or not vals <= set(TIERS) | {"unknown"}:
        return df
    rank = {t: i for i, t in enumerate((*TIERS, "unknown"))}
    return df.assign(_o=df[col].astype(str).map(rank)).sort_values("_o", kind="mergesort").drop(columns="_o")


def _group_keys(by) -> list[str]:
    if by is None:
        return []
    return [by] if isinstance(by, str) else list(by)


# --------------------------------------------------------------------------------------------
# NPS basics
# --------------------------------------------------------------------------------------------
def nps_category(scores) -> pd.Series:
    """Promoter (9-10), passive (7-8) or detractor (0-6) for each score.

    Parameters
    ----------
    scores : Series or array-like of numbers 0..10
        Likelihood-to-recommend scores; a non-integer score (a mean) is classed by the same
        cut-offs (>= 9 promoter, <= 6 detractor, passive between).

    Returns
    -------
    Series of str
        ``"promoter"``, ``"passive"``, ``"detractor"``; missing where the score is missing.

    Examples
    --------
    >>> nps_category(pd.Series([10, 8, 6, None])).tolist()
    ['promoter', 'passive', 'detractor', nan]
    """
    s = _check_scores(pd.Series(scores))
    out = pd.Series(np.where(s >= 9, "promoter", np.where(s > 6, "passive", "detractor")),
                    index=s.index, dtype=object)
    out[s.isna()] = np.nan
    return out


def nps_stats(scores, level: float = 0.95, clusters=None) -> dict:
    """NPS of a set of scores with its standard error and normal interval.

    Without ``clusters`` the responses are independent and the standard error is the multinomial
    one. With ``clusters`` (the client of each response) a client answering several times counts as
    one source of evidence: the standard error is cluster-robust (Liang and Zeger's sandwich for a
    mean: with ``d_i`` = score points (+100 promoter, 0 passive, -100 detractor) minus the NPS,
    ``se^2 = G / (G - 1) * sum over clients of (sum of its d_i)^2 / n^2`` for ``G`` clients; one
    client per response gives the multinomial variance times n / (n - 1)). Clients who answer alike
    each time then widen the interval as they should.

    Parameters
    ----------
    scores : array-like of numbers 0..10
        Missing values are dropped.
    level : float
        Confidence level of the interval.
    clusters : array-like, optional
        The client of each score (same length as ``scores``).

    Returns
    -------
    dict
        ``n``, ``promoters``, ``passives``, ``detractors``, ``pct_promoters``, ``pct_detractors``
        (0..1), ``nps`` (points), ``se`` (points; cluster-robust with ``clusters``), ``ci_low``,
        ``ci_high`` (clipped to -100..100), ``clients`` (distinct clusters; ``n`` without them) and
        ``se_independent`` (the multinomial standard error, as if every response were independent).

    Examples
    --------
    >>> r = nps_stats([10, 9, 8, 3])
    >>> r["nps"], round(r["se"], 2)
    (25.0, 41.46)

    Two clients, each answering twice the same way: four answers, but only two clients' worth of evidence.

    >>> r = nps_stats([10, 10, 3, 3], clusters=["a", "a", "b", "b"])
    >>> round(r["se_independent"], 1), round(r["se"], 1)
    (50.0, 100.0)
    """
    x = _check_scores(pd.Series(scores).reset_index(drop=True))
    keep = x.notna().to_numpy()
    s = x[keep]
    n = len(s)
    pro = int((s >= 9).sum())
    det = int((s <= 6).sum())
    if n == 0:
        return {"n": 0, "promoters": 0, "passives": 0, "detractors": 0, "pct_promoters": np.nan,
                "pct_detractors": np.nan, "nps": np.nan, "se": np.nan, "ci_low": np.nan, "ci_high": np.nan,
                "clients": 0, "se_independent": np.nan}
    pp, pd_ = pro / n, det / n
    nps = (pp - pd_) * 100
    se_ind = float(np.sqrt(max(pp + pd_ - (pp - pd_) ** 2, 0.0) / n) * 100)
    se, g = se_ind, n
    if clusters is not None:
        c = pd.Series(np.asarray(clusters, dtype=object)).reset_index(drop=True)
        if len(c) != len(x):
            raise ValueError(f"clusters has {len(c)} values for {len(x)} scores")
        c = c[keep].astype(str)
        points = np.where(s >= 9, 100.0, np.where(s <= 6, -100.0, 0.0)) - nps
        sums = pd.Series(points).groupby(c.to_numpy()).sum().to_numpy()
        g = len(sums)
        se = float(np.sqrt(g / (g - 1) * np.sum(sums ** 2)) / n) if g > 1 else np.nan
    z = _z(level)
    return {"n": n, "promoters": pro, "passives": n - pro - det, "detractors": det,
            "pct_promoters": pp, "pct_detractors": pd_, "nps": nps, "se": se,
            "ci_low": max(nps - z * se, -100.0), "ci_high": min(nps + z * se, 100.0), "clients": g,
            "se_independent": se_ind}


def add_wave(surveys: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``surveys`` (or ``survey_invites``) whose ``wave`` is filled.

    A missing or empty ``wave`` becomes the calendar quarter of ``date`` (``"2026Q3"``).

    Parameters
    ----------
    surveys : DataFrame
        Needs ``date``; ``wave`` optional.

    Returns
    -------
    DataFrame
        Same rows and columns plus a string ``wave``.

    Examples
    --------
    >>> add_wave(pd.DataFrame({"date": pd.to_datetime(["2026-08-01"])}))["wave"].tolist()
    ['2026Q3']
    """
    _require(surveys, ["date"], "surveys")
    out = surveys.copy()
    derived = pd.to_datetime(out["date"]).map(lambda d: quarter_label(d) if pd.notna(d) else np.nan)
    if "wave" in out.columns:
        w = out["wave"].astype(object)
        empty = w.isna() | (w.astype(str).str.strip() == "")
        out["wave"] = w.where(~empty, derived).astype(str)
    else:
        out["wave"] = derived.astype(str)
    return out


def wave_order(surveys: pd.DataFrame) -> list[str]:
    """Waves in time order (by each wave's median date, then name).

    Parameters
    ----------
    surveys : DataFrame
        With ``date`` and ``wave``.

    Returns
    -------
    list of str

    Examples
    --------
    >>> df = pd.DataFrame({"date": pd.to_datetime(["2026-02-01", "2025-11-01"]), "wave": ["B", "A"]})
    >>> wave_order(df)
    ['A', 'B']
    """
    _require(surveys, ["date", "wave"], "surveys")
    med = surveys.groupby("wave")["date"].median().reset_index().sort_values(["date", "wave"])
    return med["wave"].astype(str).tolist()


# --------------------------------------------------------------------------------------------
# client attributes (tier, segment, region, owner)
# --------------------------------------------------------------------------------------------
def _ltm_revenue(revenue: pd.DataFrame, as_of) -> pd.Series:
    start, end = ltm_window(pd.Timestamp(as_of))
    r = revenue.loc[(revenue["date"] > start) & (revenue["date"] <= end)]
    return r.groupby("client_id")["amount"].sum()


def client_tiers(clients_or_ids, revenue: pd.DataFrame | None = None, as_of=None,
                 profile: pd.DataFrame | None = None) -> pd.DataFrame:
    """Tier of each client, for post-stratification.

    Taken from ``profile["tier"]`` where known (``client_profile.parquet`` of notebook 01);
    otherwise from :func:`clientstrategy.outcomes.assign_tiers` on LTM revenue (the same rule
    notebook 01 uses). Clients without revenue are Bronze.

    Parameters
    ----------
    clients_or_ids : DataFrame with ``client_id`` or array-like of ids
        The clients to tier.
    revenue : DataFrame, optional
        Canonical revenue (``date``, ``client_id``, ``amount``); needed when the profile does not
        cover every client.
    as_of : Timestamp, optional
        End of the LTM window; needed with ``revenue``.
    profile : DataFrame, optional
        Client profile with ``client_id`` and ``tier``.

    Returns
    -------
    DataFrame
        ``client_id``, ``tier``, ``tier_source`` (``profile`` or ``outcomes``).

    Examples
    --------
    >>> prof = pd.DataFrame({"client_id": ["a", "b"], "tier": ["Gold", "Bronze"]})
    >>> client_tiers(["a", "b"], profile=prof)["tier"].tolist()
    ['Gold', 'Bronze']
    """
    if isinstance(clients_or_ids, pd.DataFrame):
        _require(clients_or_ids, ["client_id"], "clients")
        ids = clients_or_ids["client_id"]
    else:
        ids = pd.Series(list(clients_or_ids))
    ids = pd.Series(sorted(pd.unique(ids.astype(str))), dtype=object)
    out = pd.DataFrame({"client_id": ids, "tier": pd.Series([np.nan] * len(ids), dtype=object),
                        "tier_source": pd.Series([np.nan] * len(ids), dtype=object)})
    if profile is not None and "tier" in profile.columns:
        _require(profile, ["client_id"], "client_profile")
        known = profile.dropna(subset=["tier"]).drop_duplicates("client_id").set_index("client_id")["tier"]
        m = out["client_id"].map(known)
        out.loc[m.notna(), "tier"] = m[m.notna()].astype(object)
        out.loc[m.notna(), "tier_source"] = "profile"
    missing = out["tier"].isna()
    if missing.any():
        if revenue is None or as_of is None:
            raise ValueError("column 'tier' is unknown for some clients and no revenue/as_of was given "
                             "to compute it")
        _require(revenue, ["date", "client_id", "amount"], "revenue")
        ltm = _ltm_revenue(revenue, as_of)
        all_ids = pd.Index(sorted(set(ltm.index.astype(str)) | set(out["client_id"])))
        ltm = ltm.reindex(all_ids, fill_value=0.0)
        tiers = outcomes.assign_tiers(ltm)
        source = "outcomes"
        m = out.loc[missing, "client_id"].map(tiers)
        out.loc[missing, "tier"] = m.fillna(TIERS[3]).astype(object)
        out.loc[missing, "tier_source"] = source
    return out


def tiers_at(rows: pd.DataFrame, revenue: pd.DataFrame, date_col: str = "date",
             shares=outcomes.DEFAULT_TIER_SHARES) -> pd.Series:
    """The tier each client had on the date of each row (a survey response or an invitation).

    For every distinct date, every client's revenue over the twelve months up to it
    (``(date - 12 months, date]``) is tiered by :func:`clientstrategy.outcomes.assign_tiers`, the rule
    notebook 01 applies at ``as_of``; each row gets its client's tier on its own date. A client that
    has since grown, shrunk or left is weighted as the client it was when it answered, not as it is
    today. Clients without revenue in those twelve months are Bronze.

    Parameters
    ----------
    rows : DataFrame
        ``client_id`` and ``date_col``.
    revenue : DataFrame
        Canonical ``revenue`` (``date``, ``client_id``, ``amount``).
    date_col : str
        The date of each row.
    shares : sequence of 4 floats
        Tier shares (as in notebook 01).

    Returns
    -------
    Series
        ``tier`` per row, aligned with ``rows``.

    Examples
    --------
    Client ``a`` was the larger in 2025 and ``b`` is now:

    >>> rev = pd.DataFrame({"date": pd.to_datetime(["2025-03-01", "2025-03-01", "2026-06-01"]),
    ...                     "client_id": ["a", "b", "b"], "amount": [100.0, 10.0, 500.0]})
    >>> s = pd.DataFrame({"client_id": ["a", "b", "a", "b"],
    ...                   "date": pd.to_datetime(["2025-05-01", "2025-05-01", "2026-07-01", "2026-07-01"])})
    >>> tiers_at(s, rev, shares=(0.5, 0.0, 0.0, 0.5)).tolist()
    ['Platinum', 'Bronze', 'Bronze', 'Platinum']
    """
    _require(rows, ["client_id", date_col], "surveys")
    _require(revenue, ["date", "client_id", "amount"], "revenue")
    days = pd.to_datetime(rows[date_col]).dt.normalize()
    out = pd.Series(TIERS[3], index=rows.index, dtype=object, name="tier")
    ok = days.notna()
    if not ok.any():
        return out.astype(str)
    # daily revenue per client, in date order: each date's twelve months are a slice of it
    r = revenue.loc[revenue["date"].notna() & revenue["client_id"].notna()]
    daily = r.groupby([r["date"].dt.normalize(), r["client_id"].astype(str)])["amount"].sum()
    d_day = daily.index.get_level_values(0).to_numpy()
    codes, ids = pd.factorize(daily.index.get_level_values(1))
    amount = daily.to_numpy(dtype="float64")
    order = np.argsort(d_day, kind="mergesort")
    d_day, codes, amount = d_day[order], codes[order], amount[order]
    ids = pd.Index(ids)
    row_code = ids.get_indexer(rows["client_id"].astype(str))  # -1: no revenue at all (Bronze)
    row_day = days.to_numpy()
    result = out.to_numpy(dtype=object).copy()
    id_rank = np.argsort(np.argsort(ids.to_numpy(dtype=str), kind="mergesort"), kind="mergesort")
    names = np.asarray(TIERS, dtype=object)
    for day in np.sort(days[ok].unique()):
        start, end = ltm_window(pd.Timestamp(day))
        lo = np.searchsorted(d_day, np.datetime64(start), side="right")
        hi = np.searchsorted(d_day, np.datetime64(end), side="right")
        ltm = np.bincount(codes[lo:hi], weights=amount[lo:hi], minlength=len(ids))
        tiers = names[_tier_index(ltm, id_rank, shares)]
        here = np.flatnonzero((row_day == day) & (row_code >= 0))
        result[here] = tiers[row_code[here]]
    return pd.Series(result, index=rows.index, name="tier").astype(str)


def _tier_index(values: np.ndarray, id_rank: np.ndarray, shares) -> np.ndarray:
    """:func:`clientstrategy.outcomes.assign_tiers` on arrays (index into ``TIERS``), for many dates.

    The same rule (positive revenue ranked largest first, ties by client id, cumulative boundaries
    rounded half up, the rest Bronze; ``id_rank`` is each client's place in id order); written on
    arrays because tiering every client on each of a few hundred survey dates through the Series
    version is slow on a large book. ``tests/test_voice.py`` checks the two agree.
    """
    s = np.asarray(shares, dtype="float64")
    out = np.full(len(values), len(TIERS) - 1)
    pos = np.flatnonzero(values > 0)
    ranked = pos[np.lexsort((id_rank[pos], -values[pos]))]
    n = len(ranked)
    bounds = np.floor(np.cumsum(s) * n + 0.5 + 1e-9).astype(int)
    bounds[-1] = n
    out[ranked] = np.searchsorted(bounds, np.arange(n), side="right")
    return out


def attach_attributes(surveys: pd.DataFrame, clients: pd.DataFrame | None = None,
                      profile: pd.DataFrame | None = None, tiers: pd.DataFrame | None = None,
                      columns=("tier", "segment", "region", "industry", "size_band", "owner_id")) -> pd.DataFrame:
    """A copy of ``surveys`` with client attributes joined on ``client_id``.

    Attributes are today's (as of the analysis), not those at the time of each response.

    Parameters
    ----------
    surveys : DataFrame
        Any table with ``client_id`` (surveys, survey_invites).
    clients : DataFrame, optional
        Canonical clients (``region``, ``industry``, ``size_band``, ``owner_id``).
    profile : DataFrame, optional
        Client profile (``tier``, ``segment``).
    tiers : DataFrame, optional
        ``client_id``, ``tier`` (e.g. from :func:`client_tiers`); wins over ``profile``.
    columns : sequence of str
        Attributes to bring in where a source has them.

    Returns
    -------
    DataFrame
        ``surveys`` plus those of ``columns`` found; a missing attribute value is ``"unknown"``.

    Examples
    --------
    >>> s = pd.DataFrame({"client_id": ["a", "b"], "nps": [9, 3]})
    >>> c = pd.DataFrame({"client_id": ["a"], "region": ["EU"]})
    >>> attach_attributes(s, clients=c)["region"].tolist()
    ['EU', 'unknown']
    """
    _require(surveys, ["client_id"], "surveys")
    out = surveys.copy()
    sources = []
    if tiers is not None:
        _require(tiers, ["client_id", "tier"], "tiers")
        sources.append(tiers[["client_id", "tier"]])
    if profile is not None:
        _require(profile, ["client_id"], "client_profile")
        sources.append(profile)
    if clients is not None:
        _require(clients, ["client_id"], "clients")
        sources.append(clients)
    for col in columns:
        if col in out.columns:
            continue
        for src in sources:
            if col in src.columns and src[col].notna().any():
                m = src.drop_duplicates("client_id").set_index("client_id")[col]
                out[col] = out["client_id"].map(m).astype(object)
                break
        if col in out.columns:
            out[col] = out[col].where(out[col].notna(), "unknown").astype(str)
    return out


# --------------------------------------------------------------------------------------------
# summaries and trends
# --------------------------------------------------------------------------------------------
def nps_summary(surveys: pd.DataFrame, as_of=None, by=None, level: float = 0.95,
                cluster: str | None = "client_id") -> pd.DataFrame:
    """NPS with its interval, overall or per group (wave, tier, segment, region, owner ...).

    Responses of one client are clustered (``cluster``, when the column is there): a client who
    answered in eight waves is not eight independent clients (see :func:`nps_stats`).

    Parameters
    ----------
    surveys : DataFrame
        ``date``, ``nps`` and the ``by`` columns.
    as_of : Timestamp, optional
        Responses after it are ignored.
    by : str or list of str, optional
        Grouping columns; ``None`` gives one overall row. ``"wave"`` rows come in time order.
    level : float
        Confidence level.
    cluster : str, optional
        Column naming the client of each response; ``None`` treats responses as independent.

    Returns
    -------
    DataFrame
        ``by`` columns, then ``n``, ``promoters``, ``passives``, ``detractors``,
        ``pct_promoters``, ``pct_detractors``, ``nps``, ``se``, ``ci_low``, ``ci_high``,
        ``clients``, ``se_independent``.

    Examples
    --------
    >>> s = pd.DataFrame({"date": pd.to_datetime(["2026-01-01"] * 4), "nps": [10, 9, 8, 3],
    ...                   "tier": ["Gold", "Gold", "Bronze", "Bronze"]})
    >>> nps_summary(s, by="tier")[["tier", "nps"]].values.tolist()
    [['Gold', 100.0], ['Bronze', -50.0]]
    """
    keys = _group_keys(by)
    _require(surveys, ["date", "nps", *keys], "surveys")
    s = _upto(surveys, "date", as_of)
    rows = []
    use = cluster is not None and cluster in s.columns
    if keys:
        for k, g in s.groupby(keys, dropna=False, sort=True):
            k = k if isinstance(k, tuple) else (k,)
            rows.append({**dict(zip(keys, k)), **nps_stats(g["nps"], level, g[cluster] if use else None)})
    else:
        rows.append(nps_stats(s["nps"], level, s[cluster] if use else None))
    out = pd.DataFrame(rows)
    if keys == ["wave"] and len(out):
        order = {w: i for i, w in enumerate(wave_order(s))}
        out = out.assign(_o=out["wave"].astype(str).map(order)).sort_values("_o").drop(columns="_o")
    elif len(keys) == 1 and len(out):
        out = _tier_order(out, keys[0])
    return out.reset_index(drop=True)


def ratings_summary(surveys: pd.DataFrame, as_of=None, by=None, level: float = 0.95) -> pd.DataFrame:
    """Mean of every ``rating_*`` column with a t interval, overall or per group.

    Parameters
    ----------
    surveys : DataFrame
        ``date``, the ``rating_*`` columns and the ``by`` columns.
    as_of : Timestamp, optional
        Responses after it are ignored.
    by : str or list of str, optional
        Grouping columns.
    level : float
        Confidence level.

    Returns
    -------
    DataFrame
        ``by`` columns, ``rating`` (name without the prefix), ``n``, ``mean``, ``sd``, ``se``,
        ``ci_low``, ``ci_high``; empty when there is no ``rating_*`` column.

    Examples
    --------
    >>> s = pd.DataFrame({"date": pd.to_datetime(["2026-01-01"] * 3), "rating_service": [6.0, 8.0, 10.0]})
    >>> ratings_summary(s)[["rating", "n", "mean", "sd"]].values.tolist()
    [['service', 3, 8.0, 2.0]]
    """
    keys = _group_keys(by)
    _require(surveys, ["date", *keys], "surveys")
    cols = sorted(c for c in surveys.columns if str(c).startswith("rating_"))
    s = _upto(surveys, "date", as_of)
    rows = []
    groups = s.groupby(keys, dropna=False, sort=True) if keys else [((), s)]
    for k, g in groups:
        k = k if isinstance(k, tuple) else (k,)
        for c in cols:
            x = pd.to_numeric(g[c], errors="coerce").dropna().astype(float)
            n = len(x)
            mean = float(x.mean()) if n else np.nan
            sd = float(x.std(ddof=1)) if n > 1 else np.nan
            se = sd / np.sqrt(n) if n > 1 else np.nan
            t = float(stats.t.ppf(0.5 + level / 2, n - 1)) if n > 1 else np.nan
            rows.append({**dict(zip(keys, k)), "rating": c[len("rating_"):], "n": n, "mean": mean,
                         "sd": sd, "se": se, "ci_low": mean - t * se, "ci_high": mean + t * se})
    cols_out = [*keys, "rating", "n", "mean", "sd", "se", "ci_low", "ci_high"]
    return pd.DataFrame(rows, columns=cols_out)


def ratings_change(surveys: pd.DataFrame, as_of=None, level: float = 0.95) -> pd.DataFrame:
    """Each rating's mean in the latest wave against the wave before, with an interval.

    The ratings get the same wave-on-wave reading as NPS (:func:`nps_trend` on the per-wave
    means): the change in mean with the interval sqrt(se_last^2 + se_prev^2), whether it
    excludes zero, and the weighted trend across waves.

    Parameters
    ----------
    surveys : DataFrame
        ``date``, ``wave`` (see :func:`add_wave`) and the ``rating_*`` columns.
    as_of : Timestamp, optional
        Responses after it are ignored.
    level : float
        Confidence level.

    Returns
    -------
    DataFrame
        ``rating``, ``wave_prev``, ``wave_last``, ``mean_prev``, ``mean_last``, ``change``,
        ``ci_low``, ``ci_high``, ``significant``, and the weighted trend over all waves
        (``trend_per_wave``, ``trend_p_value``; NaN with fewer than three waves) as
        :func:`nps_trend` computes it for the score; empty with fewer than two waves or no rating.

    Examples
    --------
    >>> s = pd.DataFrame({"date": pd.to_datetime(["2026-02-01"] * 3 + ["2026-05-01"] * 3),
    ...                   "wave": ["Q1"] * 3 + ["Q2"] * 3, "rating_service": [5, 6, 7, 8, 9, 10.0]})
    >>> ratings_change(s)[["rating", "wave_prev", "wave_last", "change"]].values.tolist()
    [['service', 'Q1', 'Q2', 3.0]]
    """
    cols_out = ["rating", "wave_prev", "wave_last", "mean_prev", "mean_last", "change", "ci_low", "ci_high",
                "significant", "trend_per_wave", "trend_p_value"]
    _require(surveys, ["date", "wave"], "surveys")
    s = _upto(surveys, "date", as_of)
    waves = wave_order(s) if len(s) else []
    by = ratings_summary(s, by="wave", level=level)
    if len(waves) < 2 or by.empty:
        return pd.DataFrame(columns=cols_out)
    rows = []
    for rating, g in by.groupby("rating", sort=True):
        g = g.set_index("wave").reindex(waves).dropna(subset=["mean"]).reset_index()
        if len(g) < 2 or g["wave"].iloc[-1] != waves[-1] or g["wave"].iloc[-2] != waves[-2]:
            continue
        # the same tests as the score's: nps_trend reads any per-wave mean with its standard error
        tests = nps_trend(g.rename(columns={"mean": "nps"})[["wave", "n", "nps", "se"]], level).set_index("test")
        last, trend = tests.loc["last_vs_previous"], tests.loc["trend_per_wave"]
        rows.append({"rating": rating, "wave_prev": waves[-2], "wave_last": waves[-1],
                     "mean_prev": float(g["mean"].iloc[-2]), "mean_last": float(g["mean"].iloc[-1]),
                     "change": float(last["estimate"]), "ci_low": float(last["ci_low"]),
                     "ci_high": float(last["ci_high"]),
                     "significant": bool(np.isfinite(last["se"]) and (last["ci_low"] > 0 or last["ci_high"] < 0)),
                     "trend_per_wave": float(trend["estimate"]), "trend_p_value": float(trend["p_value"])})
    return pd.DataFrame(rows, columns=cols_out)


def nps_trend(by_wave: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Tests for change across waves: last wave against the previous one, and a weighted trend.

    The last-vs-previous test is a two-sample z-test on the difference of NPS (independent
    waves, multinomial standard errors). The trend is a weighted least-squares slope of NPS on
    the wave number (0, 1, 2 ...) with weights 1/se^2; its standard error is inflated by the
    residual dispersion when waves scatter more than their sampling error says (the usual
    meta-regression scale, max(1, chi2/(k-2))). Waves with fewer than 2 responses or a zero
    standard error are left out of the trend.

    Parameters
    ----------
    by_wave : DataFrame
        :func:`nps_summary` by ``"wave"`` (``wave``, ``n``, ``nps``, ``se``), in time order.
    level : float
        Confidence level.

    Returns
    -------
    DataFrame
        Two rows, ``test`` = ``"last_vs_previous"`` (estimate in NPS points) and
        ``"trend_per_wave"`` (points per wave), with ``estimate``, ``se``, ``ci_low``,
        ``ci_high``, ``p_value``, ``detail``.

    Examples
    --------
    >>> w = pd.DataFrame({"wave": ["A", "B"], "n": [100, 100], "nps": [10.0, 30.0], "se": [5.0, 5.0]})
    >>> round(nps_trend(w).loc[0, "p_value"], 4)
    np.float64(0.0047)
    """
    _require(by_wave, ["wave", "n", "nps", "se"], "nps_by_wave")
    z = _z(level)
    w = by_wave.reset_index(drop=True)
    rows = []
    if len(w) >= 2:
        a, b = w.iloc[-2], w.iloc[-1]
        d = float(b["nps"] - a["nps"])
        se = float(np.hypot(a["se"], b["se"]))
        p = float(2 * stats.norm.sf(abs(d) / se)) if se > 0 else np.nan
        rows.append({"test": "last_vs_previous", "estimate": d, "se": se, "ci_low": d - z * se,
                     "ci_high": d + z * se, "p_value": p, "detail": f"{b['wave']} vs {a['wave']}"})
    else:
        rows.append({"test": "last_vs_previous", "estimate": np.nan, "se": np.nan, "ci_low": np.nan,
                     "ci_high": np.nan, "p_value": np.nan, "detail": "needs two waves"})
    x = np.arange(len(w), dtype=float)
    ok = (w["n"] >= 2) & (w["se"] > 0) & w["nps"].notna()
    if ok.sum() >= 3:
        # Weighted least squares written out (3 lines): statsmodels is not installed and
        # numpy/scipy have no WLS with known variances.
        xs, ys, wt = x[ok.to_numpy()], w.loc[ok, "nps"].to_numpy(float), 1 / w.loc[ok, "se"].to_numpy(float) ** 2
        xbar = np.sum(wt * xs) / wt.sum()
        sxx = np.sum(wt * (xs - xbar) ** 2)
        slope = np.sum(wt * (xs - xbar) * ys) / sxx
        icpt = np.sum(wt * ys) / wt.sum() - slope * xbar
        chi2 = float(np.sum(wt * (ys - icpt - slope * xs) ** 2))
        k = int(ok.sum())
        scale = max(1.0, chi2 / (k - 2))
        se = float(np.sqrt(scale / sxx))
        p = float(2 * stats.norm.sf(abs(slope) / se))
        rows.append({"test": "trend_per_wave", "estimate": float(slope), "se": se, "ci_low": slope - z * se,
                     "ci_high": slope + z * se, "p_value": p,
                     "detail": f"{k} waves, dispersion scale {scale:.2f}"})
    else:
        rows.append({"test": "trend_per_wave", "estimate": np.nan, "se": np.nan, "ci_low": np.nan,
                     "ci_high": np.nan, "p_value": np.nan, "detail": "needs three waves"})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# response bias
# --------------------------------------------------------------------------------------------
def _match_key(df: pd.DataFrame) -> pd.Series:
    return df["client_id"].astype(str) + "|" + df["wave"].astype(str)


def response_rates(invites: pd.DataFrame, surveys: pd.DataFrame, as_of=None, by="tier",
                   level: float = 0.95) -> pd.DataFrame:
    """Share of invitations answered, per group, with Wilson intervals.

    An invitation counts as answered when the same client answered in the same wave (waves
    missing on either side are the calendar quarter of the date, see :func:`add_wave`).

    Parameters
    ----------
    invites : DataFrame
        ``survey_invites`` with ``date``, ``client_id`` and the ``by`` columns.
    surveys : DataFrame
        ``surveys`` with ``date``, ``client_id``.
    as_of : Timestamp, optional
        Invitations and responses after it are ignored.
    by : str or list of str, optional
        Grouping columns of ``invites`` (e.g. ``"tier"``, ``"segment"``, ``"wave"``).
    level : float
        Confidence level.

    Returns
    -------
    DataFrame
        ``by`` columns, ``invited``, ``responded``, ``response_rate``, ``ci_low``, ``ci_high``.

    Examples
    --------
    >>> d = pd.to_datetime(["2026-08-01"] * 3)
    >>> inv = pd.DataFrame({"date": d, "client_id": ["a", "b", "c"], "tier": ["Gold", "Gold", "Bronze"]})
    >>> sv = pd.DataFrame({"date": d[:1], "client_id": ["a"]})
    >>> response_rates(inv, sv)[["tier", "invited", "responded"]].values.tolist()
    [['Gold', 2, 1], ['Bronze', 1, 0]]
    """
    keys = _group_keys(by)
    _require(invites, ["date", "client_id", *keys], "survey_invites")
    _require(surveys, ["date", "client_id"], "surveys")
    inv = add_wave(_upto(invites, "date", as_of))
    sv = add_wave(_upto(surveys, "date", as_of))
    answered = set(_match_key(sv))
    inv["responded"] = _match_key(inv).isin(answered).astype(int)
    # one invitation per client and wave (several respondents of a client count once)
    inv = inv.drop_duplicates(["client_id", "wave"])
    if keys:
        g = inv.groupby(keys, dropna=False, sort=True)["responded"].agg(["size", "sum"]).reset_index()
    else:
        g = pd.DataFrame({"size": [len(inv)], "sum": [int(inv["responded"].sum())]})
    g = g.rename(columns={"size": "invited", "sum": "responded"})
    lo, hi = _wilson(g["responded"], g["invited"], level)
    g["response_rate"] = g["responded"] / g["invited"]
    g["ci_low"], g["ci_high"] = lo, hi
    if keys == ["wave"]:
        order = {w: i for i, w in enumerate(wave_order(inv))}
        g = g.assign(_o=g["wave"].map(order)).sort_values("_o").drop(columns="_o")
    elif len(keys) == 1 and len(g):
        g = _tier_order(g, keys[0])
    return g.reset_index(drop=True)


def strata_table(responses: pd.DataFrame, population: pd.DataFrame, stratum: str = "tier",
                 level: float = 0.95) -> pd.DataFrame:
    """Per stratum: population share beside respondent share, and the stratum's NPS.

    This is the table that explains a raw-vs-weighted gap: strata that answer more than their
    population share pull the raw NPS toward their own NPS.

    Parameters
    ----------
    responses : DataFrame
        ``nps`` and ``stratum`` (already limited to the period analysed).
    population : DataFrame
        ``stratum`` and ``population`` (e.g. invited clients, or active clients, per tier).
    stratum : str
        The stratifying column.
    level : float
        Confidence level.

    Returns
    -------
    DataFrame
        ``stratum`` column, ``population``, ``population_share``, ``respondents``,
        ``respondent_share``, ``nps``, ``se``, ``ci_low``, ``ci_high``; strata in
        ``population`` order of :data:`TIERS` when the stratum is a tier, else sorted.

    Examples
    --------
    >>> r = pd.DataFrame({"tier": ["Gold", "Gold", "Bronze"], "nps": [10, 9, 0]})
    >>> p = pd.DataFrame({"tier": ["Gold", "Bronze"], "population": [1, 3]})
    >>> strata_table(r, p)[["tier", "population_share", "respondent_share", "nps"]].values.tolist()
    [['Gold', 0.25, 0.6666666666666666, 100.0], ['Bronze', 0.75, 0.3333333333333333, -100.0]]
    """
    _require(responses, ["nps", stratum], "surveys")
    _require(population, [stratum, "population"], "population")
    pop = population.groupby(stratum, sort=True)["population"].sum()
    if (pop < 0).any():
        raise ValueError("column 'population' must not be negative")
    names = sorted(set(pop.index.astype(str)) | set(responses[stratum].dropna().astype(str)))
    if set(names) <= set(TIERS) | {"unknown"}:
        names = [t for t in (*TIERS, "unknown") if t in names]
    rows = []
    for h in names:
        g = responses.loc[responses[stratum].astype(str) == h]
        st = nps_stats(g["nps"], level, g["client_id"] if "client_id" in g.columns else None)
        rows.append({stratum: h, "population": float(pop.get(h, 0.0)), "respondents": st["n"],
                     "nps": st["nps"], "se": st["se"], "ci_low": st["ci_low"], "ci_high": st["ci_high"]})
    out = pd.DataFrame(rows)
    out["population_share"] = out["population"] / out["population"].sum()
    out["respondent_share"] = out["respondents"] / max(out["respondents"].sum(), 1)
    return out[[stratum, "population", "population_share", "respondents", "respondent_share",
                "nps", "se", "ci_low", "ci_high"]]


def post_stratified_nps(responses: pd.DataFrame, population: pd.DataFrame, stratum: str = "tier",
                        by=None, as_of=None, level: float = 0.95) -> pd.DataFrame:
    """Raw NPS beside the post-stratified (population-weighted) NPS.

    Weighted NPS = sum over strata of W_h x NPS_h, where W_h is the stratum's share of the
    population; its variance is sum W_h^2 se_h^2 (weights taken as known) for independent
    responses. With ``client_id`` in ``responses`` the responses of one client are clustered: the
    estimate is linearised (each response contributes W_h (points - NPS_h) / n_h) and the
    contributions are summed per client before squaring (cluster-robust, as in :func:`nps_stats`),
    which also covers a client counted in two strata (its tier changed between answers). Strata
    of the population without a single respondent cannot be represented: the weights are
    renormalised over the covered strata and the uncovered population share is reported.

    Parameters
    ----------
    responses : DataFrame
        ``date``, ``nps``, ``stratum`` and the ``by`` columns.
    population : DataFrame
        ``stratum``, ``population`` and the ``by`` columns (weights per group).
    stratum : str
        Stratifying column, e.g. ``"tier"``.
    by : str or list of str, optional
        Estimate separately per group (e.g. ``"wave"``).
    as_of : Timestamp, optional
        Responses after it are ignored.
    level : float
        Confidence level.

    Returns
    -------
    DataFrame
        ``by`` columns, ``n``, ``nps_raw``, ``se_raw``, ``nps_weighted``, ``se_weighted``,
        ``ci_low_weighted``, ``ci_high_weighted``, ``difference`` (raw - weighted),
        ``uncovered_share``.

    Examples
    --------
    >>> r = pd.DataFrame({"date": pd.to_datetime(["2026-01-01"] * 3), "tier": ["Gold", "Gold", "Bronze"],
    ...                   "nps": [10, 9, 0]})
    >>> p = pd.DataFrame({"tier": ["Gold", "Bronze"], "population": [1, 3]})
    >>> post_stratified_nps(r, p)[["nps_raw", "nps_weighted"]].round(1).values.tolist()
    [[33.3, -50.0]]
    """
    keys = _group_keys(by)
    _require(responses, ["date", "nps", stratum, *keys], "surveys")
    _require(population, [stratum, "population", *keys], "population")
    r = _upto(responses, "date", as_of)
    z = _z(level)
    groups = r.groupby(keys, sort=True) if keys else [((), r)]
    rows = []
    for k, g in groups:
        k = k if isinstance(k, tuple) else (k,)
        pop = population
        for col, val in zip(keys, k):
            pop = pop.loc[pop[col] == val]
        clustered = "client_id" in g.columns
        raw = nps_stats(g["nps"], level, g["client_id"] if clustered else None)
        tab = strata_table(g, pop, stratum, level)
        covered = tab["respondents"] > 0
        total = tab["population"].sum()
        wsum = tab.loc[covered, "population"].sum()
        if wsum > 0:
            wts = tab.loc[covered, "population"] / wsum
            est = float(np.sum(wts * tab.loc[covered, "nps"]))
            se = float(np.sqrt(np.sum(wts**2 * tab.loc[covered, "se"] ** 2)))
            if clustered:
                t = tab.loc[covered].assign(w=wts).set_index(tab.loc[covered, stratum].astype(str))
                h = g[stratum].astype(str)
                x = _check_scores(g["nps"])
                keep = h.isin(t.index) & x.notna()
                pts = np.where(x[keep] >= 9, 100.0, np.where(x[keep] <= 6, -100.0, 0.0))
                hh = h[keep]
                contrib = (t.loc[hh, "w"].to_numpy() * (pts - t.loc[hh, "nps"].to_numpy())
                           / t.loc[hh, "respondents"].to_numpy())
                sums = pd.Series(contrib).groupby(g.loc[keep, "client_id"].astype(str).to_numpy()).sum().to_numpy()
                se = float(np.sqrt(len(sums) / (len(sums) - 1) * np.sum(sums ** 2))) if len(sums) > 1 else np.nan
        else:
            est, se = np.nan, np.nan
        rows.append({**dict(zip(keys, k)), "n": raw["n"], "nps_raw": raw["nps"], "se_raw": raw["se"],
                     "nps_weighted": est, "se_weighted": se, "ci_low_weighted": est - z * se,
                     "ci_high_weighted": est + z * se, "difference": raw["nps"] - est,
                     "uncovered_share": 1 - wsum / total if total > 0 else np.nan})
    out = pd.DataFrame(rows)
    if keys == ["wave"] and len(out):
        order = {w: i for i, w in enumerate(wave_order(r))}
        out = out.assign(_o=out["wave"].map(order)).sort_values("_o").drop(columns="_o")
    return out.reset_index(drop=True)


def owner_bias(responses: pd.DataFrame, owner: str = "owner_id", adjust_for: str | None = "tier",
               min_clients: int = 10, level: float = 0.95) -> pd.DataFrame:
    """Relationship bias: does one owner's clients score higher than like clients of others?

    Each score is taken relative to the mean score of its ``adjust_for`` stratum (all owners),
    averaged per client (a client answering often counts once), then per owner. An owner's
    bias is the mean of its clients' residuals minus the mean residual of every other owner's
    clients (Welch t-test). ``flagged`` needs at least ``min_clients`` clients and a
    Bonferroni-adjusted p below ``1 - level`` (many owners are tested at once).

    Parameters
    ----------
    responses : DataFrame
        ``client_id``, ``nps``, ``owner`` and ``adjust_for`` columns.
    owner : str
        Column with the relationship owner.
    adjust_for : str or None
        Stratum whose mean is removed first (tiers differ in satisfaction), or None.
    min_clients : int
        Smallest number of clients for an owner to be flagged ("where the sample allows").
    level : float
        Confidence level.

    Returns
    -------
    DataFrame
        ``owner``, ``clients``, ``responses``, ``mean_score``, ``bias`` (score points 0..10 scale),
        ``ci_low``, ``ci_high``, ``p_value``, ``p_adjusted``, ``flagged``, sorted by ``bias``
        descending.

    Examples
    --------
    >>> r = pd.DataFrame({"client_id": list("abcdef"), "nps": [10, 9, 10, 5, 6, 5],
    ...                   "owner_id": ["p1"] * 3 + ["p2"] * 3})
    >>> owner_bias(r, adjust_for=None, min_clients=2)[["owner_id", "bias"]].round(3).values.tolist()
    [['p1', 4.333], ['p2', -4.333]]
    """
    cols = ["client_id", "nps", owner] + ([adjust_for] if adjust_for else [])
    _require(responses, cols, "surveys")
    r = responses.dropna(subset=["nps"]).copy()
    r["nps"] = _check_scores(r["nps"])
    base = r.groupby(adjust_for)["nps"].transform("mean") if adjust_for else r["nps"].mean()
    r["resid"] = r["nps"] - base
    per_client = r.groupby(["client_id", owner], sort=True).agg(resid=("resid", "mean"),
                                                                   score=("nps", "mean"),
                                                                   responses=("nps", "size")).reset_index()
    owners = sorted(per_client[owner].astype(str).unique())
    z = _z(level)
    rows = []
    for o in owners:
        mine = per_client.loc[per_client[owner].astype(str) == o]
        rest = per_client.loc[per_client[owner].astype(str) != o]
        bias = float(mine["resid"].mean() - rest["resid"].mean()) if len(rest) else np.nan
        se = np.nan
        if len(mine) >= 2 and len(rest) >= 2:
            se = float(np.sqrt(mine["resid"].var(ddof=1) / len(mine) + rest["resid"].var(ddof=1) / len(rest)))
        if se > 0:
            p = float(stats.ttest_ind(mine["resid"], rest["resid"], equal_var=False).pvalue)
        else:
            se, p = np.nan, np.nan
        rows.append({owner: o, "clients": len(mine), "responses": int(mine["responses"].sum()),
                     "mean_score": float(mine["score"].mean()), "bias": bias,
                     "ci_low": bias - z * se, "ci_high": bias + z * se, "p_value": p})
    out = pd.DataFrame(rows, columns=[owner, "clients", "responses", "mean_score", "bias", "ci_low",
                                      "ci_high", "p_value"])
    out["p_adjusted"] = np.minimum(out["p_value"] * max(len(out), 1), 1.0)
    out["flagged"] = (out["clients"] >= min_clients) & (out["p_adjusted"] < 1 - level)
    return out.sort_values(["bias", owner], ascending=[False, True]).reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# text themes
# --------------------------------------------------------------------------------------------
def comment_themes(surveys: pd.DataFrame, as_of=None, n_themes: int = 8, n_terms: int = 6,
                   n_examples: int = 3, stop_words="english", min_df: int = 2,
                   ngram_range=(1, 1), random_state: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Themes of free-text comments: TF-IDF then non-negative matrix factorisation (scikit-learn).

    Each theme is named by its top terms; each comment goes to its strongest theme (none when
    it shares no term with any theme). Comments are sorted by client and date first, so the
    result does not depend on row order.

    Parameters
    ----------
    surveys : DataFrame
        ``date``, ``client_id``, ``nps``, ``comment``.
    as_of : Timestamp, optional
        Responses after it are ignored.
    n_themes : int
        Number of themes (capped by the number of comments and terms).
    n_terms : int
        Top terms kept per theme.
    n_examples : int
        Example comments per theme (the ones loading most on it).
    stop_words : "english", None or list of str
        Passed to ``TfidfVectorizer``; use :data:`PORTUGUESE_STOP_WORDS` for Portuguese text.
    min_df : int
        A term must appear in at least this many comments.
    ngram_range : tuple
        Word n-grams used.
    random_state : int
        Seed of NMF.

    Returns
    -------
    themes : DataFrame
        ``theme`` (1..k), ``name`` (top three terms), ``top_terms`` (comma-separated),
        ``comments``, ``promoters``, ``passives``, ``detractors``, ``detractor_share``,
        ``examples`` (joined by `` | ``), ordered by ``comments`` descending.
    assignments : DataFrame
        ``client_id``, ``date``, ``nps``, ``category``, ``comment``, ``theme`` (0 = none), ``weight``.

    Examples
    --------
    >>> s = pd.DataFrame({"date": pd.to_datetime(["2026-01-01"] * 4), "client_id": list("abcd"),
    ...     "nps": [2, 3, 10, 9], "comment": ["slow response", "very slow response",
    ...     "great research", "great research team"]})
    >>> themes, _ = comment_themes(s, n_themes=2, min_df=1, ngram_range=(1, 1))
    >>> themes.set_index("detractors")["top_terms"].str.contains("slow").to_dict()
    {2: True, 0: False}
    """
    from sklearn.decomposition import NMF
    from sklearn.feature_extraction.text import TfidfVectorizer

    _require(surveys, ["date", "client_id", "nps", "comment"], "surveys")
    if n_themes < 1:
        raise ValueError(f"n_themes must be at least 1, got {n_themes}")
    s = _upto(surveys, "date", as_of)
    s = s.loc[s["comment"].notna()]
    s = s.loc[s["comment"].astype(str).str.strip().str.len() > 0]
    s = s.sort_values(["client_id", "date", "comment"], kind="mergesort").reset_index(drop=True)
    empty_t = pd.DataFrame(columns=["theme", "name", "top_terms", "comments", "promoters", "passives",
                                    "detractors", "detractor_share", "examples"])
    empty_a = pd.DataFrame(columns=["client_id", "date", "nps", "category", "comment", "theme", "weight"])
    if len(s) < 2:
        return empty_t, empty_a
    sw = list(stop_words) if isinstance(stop_words, (list, tuple)) else stop_words
    vec = TfidfVectorizer(stop_words=sw, min_df=min_df, ngram_range=tuple(ngram_range),
                          strip_accents=None, lowercase=True, sublinear_tf=True)
    try:
        x = vec.fit_transform(s["comment"].astype(str))
    except ValueError:  # empty vocabulary (every term below min_df or a stop word)
        return empty_t, empty_a
    k = int(min(n_themes, x.shape[0], x.shape[1]))
    model = NMF(n_components=k, init="nndsvda", random_state=random_state, max_iter=500)
    w = model.fit_transform(x)
    h = model.components_
    terms = np.asarray(vec.get_feature_names_out())
    cat = nps_category(s["nps"])
    best = w.argmax(axis=1)
    strength = w.max(axis=1)
    theme = np.where(strength > 0, best + 1, 0)
    assignments = pd.DataFrame({"client_id": s["client_id"].astype(str), "date": s["date"],
                                "nps": s["nps"], "category": cat, "comment": s["comment"].astype(str),
                                "theme": theme, "weight": strength})
    rows = []
    for j in range(k):
        idx = [i for i in np.argsort(-h[j], kind="mergesort")[:n_terms] if h[j, i] > 0]
        top = [str(t) for t in terms[idx]]
        mine = assignments["theme"] == j + 1
        c = assignments.loc[mine, "category"]
        ex_idx = np.argsort(-w[:, j], kind="mergesort")
        ex_idx = [i for i in ex_idx if theme[i] == j + 1][:n_examples]
        n = int(mine.sum())
        rows.append({"theme": j + 1, "name": ", ".join(top[:3]), "top_terms": ", ".join(top), "comments": n,
                     "promoters": int((c == "promoter").sum()), "passives": int((c == "passive").sum()),
                     "detractors": int((c == "detractor").sum()),
                     "detractor_share": float((c == "detractor").mean()) if n else np.nan,
                     "examples": " | ".join(s["comment"].astype(str).iloc[ex_idx].str.strip())})
    themes = pd.DataFrame(rows).sort_values(["comments", "theme"], ascending=[False, True])
    return themes.reset_index(drop=True), assignments


# --------------------------------------------------------------------------------------------
# drivers
# --------------------------------------------------------------------------------------------
def response_features(surveys: pd.DataFrame, activities: pd.DataFrame | None = None,
                      revenue: pd.DataFrame | None = None, window_days: int = 90) -> pd.DataFrame:
    """A copy of ``surveys`` with what happened to the client in the ``window_days`` before each response.

    Adds ``touches_<activity_type>`` (count of activities of each type in ``[date - window, date)``)
    and ``revenue_before`` (sum of revenue in the same window) where those tables are given.

    Parameters
    ----------
    surveys : DataFrame
        ``date``, ``client_id``.
    activities : DataFrame, optional
        ``timestamp``, ``client_id``, ``activity_type``.
    revenue : DataFrame, optional
        ``date``, ``client_id``, ``amount``.
    window_days : int
        Length of the look-back window.

    Returns
    -------
    DataFrame
        ``surveys`` plus the new numeric columns.

    Examples
    --------
    >>> s = pd.DataFrame({"date": pd.to_datetime(["2026-03-01"]), "client_id": ["a"]})
    >>> a = pd.DataFrame({"timestamp": pd.to_datetime(["2026-02-01", "2025-01-01"]),
    ...                   "client_id": ["a", "a"], "activity_type": ["call", "call"]})
    >>> response_features(s, activities=a)["touches_call"].tolist()
    [1.0]
    """
    _require(surveys, ["date", "client_id"], "surveys")
    out = surveys.reset_index(drop=True).copy()
    out["_row"] = np.arange(len(out))
    win = pd.Timedelta(days=window_days)

    def window_join(events, tcol, value_col, kind_col=None):
        e = events[[c for c in ("client_id", tcol, value_col, kind_col) if c]].rename(columns={tcol: "_t"})
        m = out[["_row", "client_id", "date"]].merge(e, on="client_id", how="inner")
        m = m.loc[(m["_t"] < m["date"]) & (m["_t"] >= m["date"] - win)]
        return m

    if activities is not None:
        # counted in the engine (touches can be tens of millions; surveys are few)
        acts = features.as_table(activities, "activities")
        features.require(acts, ["timestamp", "client_id", "activity_type"], "activities")
        keys = out[["_row", "client_id"]].assign(lo=out["date"] - win, hi=out["date"])
        m = features.counts_before(acts, keys.loc[out["date"].notna() & out["client_id"].notna()], "activities",
                                   "timestamp", "activity_type")
        counts = m.pivot_table(index="_row", columns="group", values="n", aggfunc="sum", fill_value=0)
        for t in sorted(features.distinct_values(acts, "activity_type").astype(str).unique()):
            col = counts[t] if t in counts.columns else pd.Series(dtype=float)
            out[f"touches_{t}"] = out["_row"].map(col).fillna(0.0).astype(float)
    if revenue is not None:
        _require(revenue, ["date", "client_id", "amount"], "revenue")
        m = window_join(revenue, "date", "amount")
        out["revenue_before"] = out["_row"].map(m.groupby("_row")["amount"].sum()).fillna(0.0).astype(float)
    return out.drop(columns="_row")


def nps_drivers(surveys: pd.DataFrame, features=None, as_of=None, level: float = 0.95) -> pd.DataFrame:
    """Which ratings, touches or outcomes move the score: a stated linear model.

    Model: ``nps_score = b0 + sum_j b_j * z_j + e`` by ordinary least squares, where ``z_j`` are
    the features standardised to mean 0 and standard deviation 1 over the rows where every
    feature is known; ``b_j`` is then "score points per one standard deviation of the driver".
    Intervals use the classical OLS covariance. ``importance`` is Pratt's measure
    (standardised coefficient x correlation with the score), which adds up to R^2.

    Parameters
    ----------
    surveys : DataFrame
        ``date``, ``nps`` and the feature columns.
    features : list of str, optional
        Driver columns; default every ``rating_*`` column.
    as_of : Timestamp, optional
        Responses after it are ignored.
    level : float
        Confidence level.

    Returns
    -------
    DataFrame
        ``driver``, ``coef`` (points per SD), ``ci_low``, ``ci_high``, ``p_value``, ``std_coef``,
        ``importance``, ``n``, ``r2``, sorted by ``importance`` descending.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.normal(size=200), rng.normal(size=200)
    >>> s = pd.DataFrame({"date": pd.Timestamp("2026-01-01"), "rating_a": a, "rating_b": b,
    ...                   "nps": 5 + 2 * a + 0.5 * b})
    >>> nps_drivers(s)["driver"].tolist()
    ['rating_a', 'rating_b']
    """
    if features is None:
        features = sorted(c for c in surveys.columns if str(c).startswith("rating_"))
    features = list(features)
    _require(surveys, ["date", "nps", *features], "surveys")
    cols = ["driver", "coef", "ci_low", "ci_high", "p_value", "std_coef", "importance", "n", "r2"]
    if not features:
        return pd.DataFrame(columns=cols)
    s = _upto(surveys, "date", as_of)
    d = s[["nps", *features]].apply(pd.to_numeric, errors="coerce").dropna()
    sd = d[features].std(ddof=0)
    keep = [f for f in features if sd[f] > 0]
    n, p = len(d), len(keep)
    if n <= p + 1 or not keep:
        return pd.DataFrame(columns=cols)
    zx = (d[keep] - d[keep].mean()) / sd[keep]
    x = np.column_stack([np.ones(n), zx.to_numpy()])
    y = d["nps"].to_numpy(float)
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ beta
    dof = n - p - 1
    sigma2 = float(resid @ resid / dof)
    cov = sigma2 * np.linalg.pinv(x.T @ x)
    se = np.sqrt(np.diag(cov))[1:]
    b = beta[1:]
    t = float(stats.t.ppf(0.5 + level / 2, dof))
    pv = 2 * stats.t.sf(np.abs(b / se), dof)
    sy = float(y.std(ddof=0))
    std_coef = b / sy if sy > 0 else np.full(p, np.nan)
    corr = np.array([np.corrcoef(zx[f], y)[0, 1] if sy > 0 else np.nan for f in keep])
    r2 = 1 - float(resid @ resid) / float(((y - y.mean()) ** 2).sum()) if sy > 0 else np.nan
    out = pd.DataFrame({"driver": keep, "coef": b, "ci_low": b - t * se, "ci_high": b + t * se,
                        "p_value": pv, "std_coef": std_coef, "importance": std_coef * corr, "n": n, "r2": r2})
    return out.sort_values(["importance", "driver"], ascending=[False, True]).reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# client level and outcomes
# --------------------------------------------------------------------------------------------
def client_nps(surveys: pd.DataFrame, as_of=None) -> pd.DataFrame:
    """Each client's latest response on or before ``as_of`` (``nps_last`` of the profile).

    When several respondents of a client answered on that latest date, their scores are
    averaged and the category follows the mean.

    Parameters
    ----------
    surveys : DataFrame
        ``date``, ``client_id``, ``nps``.
    as_of : Timestamp, optional
        Responses after it are ignored.

    Returns
    -------
    DataFrame
        ``client_id``, ``date``, ``nps`` (float), ``category``, sorted by ``client_id``.

    Examples
    --------
    >>> s = pd.DataFrame({"date": pd.to_datetime(["2026-01-01", "2026-06-01", "2026-12-01"]),
    ...                   "client_id": ["a", "a", "a"], "nps": [3, 9, 0]})
    >>> client_nps(s, as_of=pd.Timestamp("2026-09-30"))["nps"].tolist()
    [9.0]
    """
    _require(surveys, ["date", "client_id", "nps"], "surveys")
    s = _upto(surveys, "date", as_of).dropna(subset=["nps"])
    s["nps"] = _check_scores(s["nps"])
    if s.empty:
        return pd.DataFrame(columns=["client_id", "date", "nps", "category"])
    s["client_id"] = s["client_id"].astype(str)
    last = s.groupby("client_id")["date"].transform("max")
    s = s.loc[s["date"] == last]
    out = s.groupby("client_id", sort=True).agg(date=("date", "max"), nps=("nps", "mean")).reset_index()
    out["category"] = nps_category(out["nps"])
    return out


def detractor_outcomes(surveys: pd.DataFrame, revenue: pd.DataFrame, as_of, lapse_days: int = 180,
                       level: float = 0.95) -> pd.DataFrame:
    """What happened after clients answered: churn and revenue of detractors against promoters.

    For each client, the latest response at least ``lapse_days`` before ``as_of`` is taken
    (so that a lapse can be observed). The client has *churned* when it has no positive revenue
    in the last ``lapse_days`` up to ``as_of``. *Revenue per year after* is its revenue from the
    day after the response to ``as_of``, divided by the years in between. Clients that had
    already stopped buying (no positive revenue in the ``lapse_days`` before the response) are
    left out: their answer came after the fact.

    Parameters
    ----------
    surveys : DataFrame
        ``date``, ``client_id``, ``nps``.
    revenue : DataFrame
        ``date``, ``client_id``, ``amount``.
    as_of : Timestamp
        End of the observed period; later rows are ignored.
    lapse_days : int
        Days without a purchase that count as churn.
    level : float
        Confidence level of the Wilson interval on the churn rate.

    Returns
    -------
    DataFrame
        One row per category (promoter, passive, detractor): ``category``, ``clients``,
        ``churned``, ``churn_rate``, ``churn_ci_low``, ``churn_ci_high``,
        ``revenue_per_year_mean``, ``revenue_per_year_median``, ``churn_ratio_vs_promoters``,
        ``p_value_vs_promoters`` (Fisher's exact test of churn against promoters).

    Examples
    --------
    >>> s = pd.DataFrame({"date": pd.to_datetime(["2025-01-10", "2025-01-10"]), "client_id": ["a", "b"],
    ...                   "nps": [10, 2]})
    >>> r = pd.DataFrame({"date": pd.to_datetime(["2025-01-01", "2025-01-01", "2026-09-01"]),
    ...                   "client_id": ["a", "b", "a"], "amount": [1.0, 1.0, 5.0]})
    >>> detractor_outcomes(s, r, pd.Timestamp("2026-09-30"))[["category", "churned"]].values.tolist()
    [['promoter', 0], ['passive', 0], ['detractor', 1]]
    """
    _require(surveys, ["date", "client_id", "nps"], "surveys")
    # each answering client's revenue lines are summed in the engine (the revenue table can be large)
    rev = features.as_table(revenue, "revenue")
    features.require(rev, ["date", "client_id", "amount"], "revenue")
    as_of = pd.Timestamp(as_of)
    lapse = pd.Timedelta(days=lapse_days)
    s = _upto(surveys, "date", as_of - lapse).dropna(subset=["nps"])
    s["client_id"] = s["client_id"].astype(str)
    latest = client_nps(s)
    lv = rev.engine.name("latest")
    rev.engine.register(lv, pd.DataFrame({"client_id": latest["client_id"].astype(str).astype(object),
                                          "date": latest["date"].astype("datetime64[ns]"),
                                          "lo": (latest["date"] - lapse).astype("datetime64[ns]")}))
    d, a, c = features.q("date"), features.q("amount"), features.q("client_id")
    recent_from = features.lit(as_of - lapse)
    per = rev.sql(f"SELECT l.client_id AS client_id, "
                  f"SUM(CASE WHEN r.{a} > 0 AND r.{d} <= l.date AND r.{d} > l.lo THEN 1 ELSE 0 END) AS before_n, "
                  f"SUM(CASE WHEN r.{a} > 0 AND r.{d} > {recent_from} THEN 1 ELSE 0 END) AS recent_n, "
                  f"SUM(CASE WHEN r.{d} > l.date THEN r.{a} ELSE 0 END) AS after_sum "
                  f"FROM {{t}} r JOIN {features.q(lv)} l ON CAST(r.{c} AS VARCHAR) = l.client_id "
                  f"WHERE r.{d} <= {features.lit(as_of)} GROUP BY l.client_id")
    per = per.set_index(per["client_id"].astype(str))
    active_before = per.index[per["before_n"] > 0]
    recent = per.index[per["recent_n"] > 0]
    latest = latest.loc[latest["client_id"].isin(active_before)].copy()
    latest["churned"] = (~latest["client_id"].isin(recent)).astype(int)
    after = features.settled(per["after_sum"])
    years = (as_of - latest["date"]).dt.days / 365.25
    latest["revenue_per_year"] = latest["client_id"].map(after).fillna(0.0).to_numpy() / years.to_numpy()
    rows = []
    for c in CATEGORIES:
        g = latest.loc[latest["category"] == c]
        rows.append({"category": c, "clients": len(g), "churned": int(g["churned"].sum()),
                     "revenue_per_year_mean": float(g["revenue_per_year"].mean()) if len(g) else np.nan,
                     "revenue_per_year_median": float(g["revenue_per_year"].median()) if len(g) else np.nan})
    out = pd.DataFrame(rows)
    out["churn_rate"] = out["churned"] / out["clients"].where(out["clients"] > 0)
    lo, hi = _wilson(out["churned"], out["clients"], level)
    out["churn_ci_low"], out["churn_ci_high"] = lo, hi
    pro = out.iloc[0]
    ratios, pvals = [], []
    for _, row in out.iterrows():
        if row["clients"] == 0 or pro["clients"] == 0:
            ratios.append(np.nan)
            pvals.append(np.nan)
            continue
        ratios.append(row["churn_rate"] / pro["churn_rate"] if pro["churn_rate"] > 0 else np.nan)
        table = [[row["churned"], row["clients"] - row["churned"]],
                 [pro["churned"], pro["clients"] - pro["churned"]]]
        pvals.append(float(stats.fisher_exact(table).pvalue))
    out["churn_ratio_vs_promoters"] = ratios
    out["p_value_vs_promoters"] = pvals
    return out[["category", "clients", "churned", "churn_rate", "churn_ci_low", "churn_ci_high",
                "revenue_per_year_mean", "revenue_per_year_median", "churn_ratio_vs_promoters",
                "p_value_vs_promoters"]]


# --------------------------------------------------------------------------------------------
# plots
# --------------------------------------------------------------------------------------------
def plot_nps_by_wave(by_wave: pd.DataFrame, weighted: pd.DataFrame | None = None, ax=None):
    """NPS per survey wave with its interval, and the weighted NPS beside it when given.

    Parameters
    ----------
    by_wave : DataFrame
        :func:`nps_summary` by ``"wave"``.
    weighted : DataFrame, optional
        :func:`post_stratified_nps` by ``"wave"``.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Figure

    Examples
    --------
    >>> w = pd.DataFrame({"wave": ["A", "B"], "n": [9, 9], "nps": [1.0, 2.0], "ci_low": [0.0, 1.0],
    ...                   "ci_high": [2.0, 3.0]})
    >>> fig = plot_nps_by_wave(w)
    """
    import matplotlib.pyplot as plt

    _require(by_wave, ["wave", "nps", "ci_low", "ci_high"], "nps_by_wave")
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(9, 4))
    x = np.arange(len(by_wave))
    ax.errorbar(x, by_wave["nps"], yerr=[by_wave["nps"] - by_wave["ci_low"], by_wave["ci_high"] - by_wave["nps"]],
                fmt="o-", capsize=3, label="NPS as answered (95% interval)")
    if weighted is not None and len(weighted):
        wv = by_wave[["wave"]].merge(weighted, on="wave", how="left")
        ax.plot(x, wv["nps_weighted"], "s--", label="NPS weighted to the invited population")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(x, by_wave["wave"].astype(str), rotation=45, ha="right")
    ax.set_ylabel("Net Promoter Score (points)")
    ax.set_xlabel("Survey wave")
    ax.set_title("Net Promoter Score by survey wave")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return fig


def plot_response_bias(rates: pd.DataFrame, strata: pd.DataFrame, stratum: str = "tier"):
    """Response rate per stratum, and its share of the population beside its share of answers.

    Parameters
    ----------
    rates : DataFrame
        :func:`response_rates` by ``stratum``.
    strata : DataFrame
        :func:`strata_table` by ``stratum``.
    stratum : str

    Returns
    -------
    matplotlib Figure

    Examples
    --------
    >>> r = pd.DataFrame({"tier": ["Gold"], "response_rate": [0.4], "ci_low": [0.3], "ci_high": [0.5]})
    >>> s = pd.DataFrame({"tier": ["Gold"], "population_share": [1.0], "respondent_share": [1.0]})
    >>> fig = plot_response_bias(r, s)
    """
    import matplotlib.pyplot as plt

    _require(rates, [stratum, "response_rate", "ci_low", "ci_high"], "response_rates")
    _require(strata, [stratum, "population_share", "respondent_share"], "strata")
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8))
    x = np.arange(len(rates))
    a1.bar(x, rates["response_rate"] * 100, color="#4c72b0")
    a1.errorbar(x, rates["response_rate"] * 100, yerr=[(rates["response_rate"] - rates["ci_low"]) * 100,
                                                        (rates["ci_high"] - rates["response_rate"]) * 100],
                fmt="none", color="black", capsize=3)
    a1.set_xticks(x, rates[stratum].astype(str))
    a1.set_ylabel("Invitations answered (%)")
    a1.set_title(f"Who answers: response rate by {stratum}")
    x2 = np.arange(len(strata))
    a2.bar(x2 - 0.2, strata["population_share"] * 100, width=0.4, label="share of invited clients")
    a2.bar(x2 + 0.2, strata["respondent_share"] * 100, width=0.4, label="share of answers")
    a2.set_xticks(x2, strata[stratum].astype(str))
    a2.set_ylabel("%")
    a2.set_title("Answers over-represent the strata that answer most")
    a2.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_drivers(drivers: pd.DataFrame, ax=None):
    """Driver coefficients (score points per standard deviation) with intervals.

    Parameters
    ----------
    drivers : DataFrame
        :func:`nps_drivers` output.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Figure

    Examples
    --------
    >>> d = pd.DataFrame({"driver": ["rating_a"], "coef": [1.0], "ci_low": [0.5], "ci_high": [1.5]})
    >>> fig = plot_drivers(d)
    """
    import matplotlib.pyplot as plt

    _require(drivers, ["driver", "coef", "ci_low", "ci_high"], "drivers")
    d = drivers.iloc[::-1]
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(7, 0.5 + 0.45 * max(len(d), 1)))
    y = np.arange(len(d))
    ax.errorbar(d["coef"], y, xerr=[d["coef"] - d["ci_low"], d["ci_high"] - d["coef"]], fmt="o", capsize=3)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(y, [str(v).replace("rating_", "rating: ").replace("_", " ") for v in d["driver"]])
    ax.set_xlabel("Change in likelihood-to-recommend (0-10) per one standard deviation of the driver")
    ax.set_title("What moves the score")
    fig.tight_layout()
    return fig


def plot_themes(themes: pd.DataFrame, ax=None):
    """Comments per theme, split into promoters, passives and detractors.

    Parameters
    ----------
    themes : DataFrame
        The ``themes`` output of :func:`comment_themes`.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Figure

    Examples
    --------
    >>> t = pd.DataFrame({"name": ["slow"], "promoters": [1], "passives": [0], "detractors": [3]})
    >>> fig = plot_themes(t)
    """
    import matplotlib.pyplot as plt

    _require(themes, ["name", "promoters", "passives", "detractors"], "themes")
    t = themes.iloc[::-1]
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(8, 0.6 + 0.5 * max(len(t), 1)))
    y = np.arange(len(t))
    left = np.zeros(len(t))
    for col, colour in (("detractors", "#c44e52"), ("passives", "#bbbbbb"), ("promoters", "#55a868")):
        ax.barh(y, t[col], left=left, color=colour, label=col)
        left = left + t[col].to_numpy(float)
    ax.set_yticks(y, t["name"].astype(str))
    ax.set_xlabel("Comments")
    ax.set_title("What clients write about, and who writes it")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
