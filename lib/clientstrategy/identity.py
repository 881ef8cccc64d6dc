"""Identities of clusters from one run to the next: segments and personas keep their id and name.

Each quarterly run fits its behavioural segments (:func:`clientstrategy.outcomes.behavioural_segments`)
and personas (:func:`clientstrategy.context.fit_personas`) afresh. K-means numbers its clusters
arbitrarily and the words that describe a cluster (its trend "growing" or "declining", its spend)
are rebuilt from the current data, so neither the number nor the description says which cluster
of this run *is* which cluster of the last one. This module gives each cluster a stable id
(``S1``, ``S2``... for segments, ``P1``... for personas) and a stable name, so that movement
between runs counts clients whose behaviour changed, not clusters whose description did.

**How a cluster is matched.** The clusters of this run are matched one to one to the previous
run's by the Hungarian algorithm (:func:`scipy.optimize.linear_sum_assignment`) on the overlap
of their members: the Jaccard index of the two clusters over the clients present in both runs
(clients who joined or left the book do not dilute it). A pair is a match only when its overlap
is at least ``min_overlap`` (:data:`MIN_OVERLAP`); a current cluster without a match is **new**
(a new id, named from its current description), a previous one without a match has
**vanished**. Overlap of members was chosen over distances between centroids because each run
standardises its features afresh and the features themselves move with the date (recency,
trend), so centroids of two runs are not in one space; the members a cluster holds are, and
"the same clients" is exactly what a movement figure must hold fixed. Groups set aside by a
rule (lapsed clients, credits above purchases) keep fixed ids and are not matched.

**Names.** A matched cluster keeps the id and the name it was first given (``named_in``); what
changed about it (its size, its typical spend, its trend word) is reported by :func:`changes`
as a change of the cluster, not as clients moving. Ids are never reused: a new cluster takes
the next number after every id ever given.

* :func:`overlap` -- the cross-table of clients between two labellings (shared clients only).
* :func:`match` -- the Hungarian matching with its overlaps.
* :func:`keep_identities` -- stable ids and names for this run's clusters, and the model to persist.
* :func:`changes` -- what changed about each cluster between two persisted models.
* :func:`moved` -- clients in both runs, and how many changed id, from a migration table.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from .words import pct, plural

__all__ = [
    "MIN_OVERLAP",
    "Identities",
    "changes",
    "keep_identities",
    "label",
    "match",
    "moved",
    "overlap",
]

#: A current cluster is the previous one only when their Jaccard overlap (on shared clients) is at
#: least this: below it, a split or a merge has made a different group of clients.
MIN_OVERLAP = 0.3
#: A numeric fact of a cluster (size, typical spend) is reported as changed when it moved by at least
#: this share of its previous value.
CHANGE_SHARE = 0.1


def _series(s, what: str) -> pd.Series:
    if not isinstance(s, pd.Series):
        raise TypeError(f"{what} must be a pandas Series of labels indexed by client_id")
    if s.index.has_duplicates:
        raise ValueError(f"{what}: column 'client_id' has duplicate values")
    out = s.dropna().astype("str")
    out.index = out.index.astype("str")
    return out


def overlap(previous: pd.Series, current: pd.Series) -> pd.DataFrame:
    """Clients shared by each previous and each current cluster (clients in both runs only).

    Parameters
    ----------
    previous, current : Series
        Cluster label per client (index ``client_id``); nulls are ignored.

    Returns
    -------
    DataFrame
        Counts, rows the previous labels and columns the current labels (sorted).

    Examples
    --------
    >>> p = pd.Series(["A", "A", "B"], index=["x", "y", "z"])
    >>> c = pd.Series(["1", "2", "2", "2"], index=["x", "y", "z", "w"])
    >>> overlap(p, c).values.tolist()
    [[1, 1], [0, 1]]
    """
    p, c = _series(previous, "previous"), _series(current, "current")
    shared = p.index.intersection(c.index)
    return pd.crosstab(p.loc[shared].rename("previous"), c.loc[shared].rename("current"))


def match(previous: pd.Series, current: pd.Series, min_overlap: float = MIN_OVERLAP) -> pd.DataFrame:
    """Match current clusters to previous ones, one to one, by the Jaccard overlap of their members.

    The Jaccard index of previous cluster ``i`` and current cluster ``j`` is
    ``n_ij / (n_i + n_j - n_ij)`` over the clients present in both runs. The assignment that
    maximises the total overlap is found by the Hungarian algorithm
    (:func:`scipy.optimize.linear_sum_assignment`); assigned pairs below ``min_overlap`` are not
    matches.

    Parameters
    ----------
    previous, current : Series
        Cluster label per client (index ``client_id``).
    min_overlap : float
        Smallest Jaccard overlap of a match, in ``(0, 1]``.

    Returns
    -------
    DataFrame
        One row per current cluster and per unmatched previous cluster: ``current`` (None for a
        vanished one), ``previous`` (None for a new one), ``jaccard``, ``shared`` (clients in
        both), sorted by current then previous label.

    Examples
    --------
    The same three clusters under permuted labels:

    >>> p = pd.Series(list("aaabbbccc"), index=range(9))
    >>> c = pd.Series(list("zzzxxxyyx"), index=range(9))
    >>> match(p, c)[["current", "previous"]].values.tolist()
    [['x', 'b'], ['y', 'c'], ['z', 'a']]
    """
    if not 0 < float(min_overlap) <= 1:
        raise ValueError(f"min_overlap must be in (0, 1], got {min_overlap}")
    p, c = _series(previous, "previous"), _series(current, "current")
    prev_labels, cur_labels = sorted(p.unique()), sorted(c.unique())
    table = overlap(p, c).reindex(index=prev_labels, columns=cur_labels, fill_value=0)
    n = table.to_numpy(dtype=float)
    rows, cols = np.array([], int), np.array([], int)
    jac = np.zeros_like(n)
    if n.size:
        union = n.sum(axis=1)[:, None] + n.sum(axis=0)[None, :] - n
        jac = np.divide(n, union, out=np.zeros_like(n), where=union > 0)
        rows, cols = linear_sum_assignment(-jac)
    out, taken_prev, taken_cur = [], set(), set()
    for i, j in zip(rows, cols):
        if jac[i, j] >= min_overlap:
            out.append({"current": cur_labels[j], "previous": prev_labels[i], "jaccard": float(jac[i, j]),
                        "shared": int(n[i, j])})
            taken_prev.add(i)
            taken_cur.add(j)
    for j, lab in enumerate(cur_labels):
        if j not in taken_cur:
            out.append({"current": lab, "previous": None, "jaccard": float(jac[:, j].max()) if len(prev_labels) else 0.0,
                        "shared": 0})
    for i, lab in enumerate(prev_labels):
        if i not in taken_prev:
            out.append({"current": None, "previous": lab, "jaccard": float(jac[i].max()) if len(cur_labels) else 0.0,
                        "shared": 0})
    res = pd.DataFrame(out, columns=["current", "previous", "jaccard", "shared"])
    for col in ("current", "previous"):
        res[col] = res[col].astype(object).where(res[col].notna(), None)
    key = res["current"].fillna("\uffff") + "\x00" + res["previous"].fillna("")
    return res.iloc[np.argsort(key.to_numpy(), kind="stable")].reset_index(drop=True)


@dataclass(frozen=True)
class Identities:
    """Stable identities of one run's clusters.

    Attributes
    ----------
    ids : Series
        Stable id per client (index ``client_id``).
    names : Series
        Stable name per client (index ``client_id``).
    table : DataFrame
        One row per id of this run and per id that vanished in it: ``id``, ``name``, ``status``
        (``new``, ``kept``, ``vanished``), ``label`` (the cluster's label in this run's fit, its
        description), ``previous_label``, ``named_in``, ``clients``, ``previous_clients``,
        ``overlap`` (Jaccard with the matched previous cluster).
    model : dict
        What the next run needs (write it as an artifact): ``kind``, ``quarter``, ``as_of``,
        ``next_id``, ``min_overlap``, ``clusters`` (id, name, named_in, status, label, facts),
        ``vanished``, and whatever ``extra`` was passed.
    """

    ids: pd.Series
    names: pd.Series
    table: pd.DataFrame
    model: dict


def label(cluster_id, name) -> str:
    """How a stable cluster reads on a page: ``"S2 · Frequent, high-spend"``.

    Examples
    --------
    >>> label("S2", "Frequent, high-spend")
    'S2 · Frequent, high-spend'
    """
    return f"{cluster_id} · {name}" if name and str(name) != str(cluster_id) else str(cluster_id)


def _id_key(cid: str, status: str, fixed_ids: set) -> tuple:
    """Order of ids on a page: fitted ids by number, then the rule groups, then the vanished."""
    digits = "".join(ch for ch in str(cid) if ch.isdigit())
    return (status == "vanished", cid in fixed_ids, int(digits) if digits else 0, str(cid))


def _jsonable(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return None if not np.isfinite(v) else float(v)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    return v


def keep_identities(current: pd.Series, clusters: pd.DataFrame | None = None, previous_model: dict | None = None,
                    previous_ids: pd.Series | None = None, *, quarter: str = "", as_of=None, prefix: str = "S",
                    kind: str = "segment", fixed: dict | None = None, min_overlap: float = MIN_OVERLAP,
                    extra: dict | None = None) -> Identities:
    """Give this run's clusters the ids and names of the previous run's, matched by their members.

    Parameters
    ----------
    current : Series
        This run's cluster label per client (index ``client_id``), e.g. the fitted segment names.
    clusters : DataFrame, optional
        One row per current label (index), in the order new ids are given (e.g. largest spend first):
        facts to persist and compare next run (numbers such as ``clients`` or ``typical_spend``,
        words such as ``trend``). Labels missing from it are added in sorted order.
    previous_model : dict, optional
        The previous run's :attr:`Identities.model` (None: the first run, every cluster is new).
    previous_ids : Series, optional
        The previous run's stable id per client (e.g. its profile's ``segment_id``).
    quarter : str
        This run's quarter (``named_in`` of new clusters).
    as_of : Timestamp or str, optional
        This run's ``AS_OF``, recorded in the model.
    prefix : str
        Prefix of new ids (``S`` segments, ``P`` personas).
    kind : str
        What the clusters are, recorded in the model.
    fixed : dict, optional
        Labels set by a rule rather than fitted, ``{label: id}`` (e.g. ``{"Lapsed": "lapsed"}``): they
        keep that id and their label as name, and are not matched.
    min_overlap : float
        Smallest Jaccard overlap for a current cluster to be a previous one (:func:`match`).
    extra : dict, optional
        More entries for the model (e.g. the number of clusters the fit chose).

    Returns
    -------
    Identities

    Examples
    --------
    Run two finds the same clients together under new labels and one new group:

    >>> first = keep_identities(pd.Series(list("aabb"), index=list("wxyz")), quarter="2026Q1")
    >>> first.ids.tolist()
    ['S1', 'S1', 'S2', 'S2']
    >>> second = keep_identities(pd.Series(list("qqppr"), index=list("wxyzv")), previous_model=first.model,
    ...                          previous_ids=first.ids, quarter="2026Q2")
    >>> second.table[["id", "name", "status"]].values.tolist()
    [['S1', 'a', 'kept'], ['S2', 'b', 'kept'], ['S3', 'r', 'new']]
    """
    cur = _series(current, "current")
    fixed = {str(k): str(v) for k, v in (fixed or {}).items()}
    facts = pd.DataFrame(index=pd.Index([], dtype=object)) if clusters is None else clusters.copy()
    facts.index = facts.index.astype("str")
    order = [lab for lab in facts.index if lab in set(cur)] + sorted(set(cur) - set(facts.index))
    facts = facts.reindex(order)
    prev_clusters = {c["id"]: c for c in (previous_model or {}).get("clusters", [])}
    next_id = int((previous_model or {}).get("next_id", 1))
    # without a previous model (the first run, or a run from before stable ids) every cluster is new
    prev = (_series(previous_ids, "previous_ids") if previous_ids is not None and prev_clusters
            else pd.Series(dtype="str"))

    fitted = [lab for lab in order if lab not in fixed]
    fixed_ids = set(fixed.values()) | {k for k, c in prev_clusters.items() if c.get("fixed")}
    m = match(prev.loc[~prev.isin(fixed_ids)], cur.loc[cur.isin(fitted)], min_overlap) if len(fitted) else None
    matched = {} if m is None else {r.current: r.previous for r in m.itertuples()
                                    if pd.notna(r.current) and pd.notna(r.previous)}
    prev_sizes = prev.value_counts()
    shared = prev.index.intersection(cur.index)
    prev_shared, cur_shared = prev.loc[shared], cur.loc[shared]

    def jaccard(lab, pid) -> float:
        a, b = prev_shared == pid, cur_shared == lab
        union = int((a | b).sum())
        return float((a & b).sum() / union) if union else np.nan
    id_of, name_of, rows = {}, {}, []
    # kept and rule groups hold their names first; a new cluster (and no other) takes " #2" on a clash,
    # also with the name of a cluster that vanished in this run
    previous_of = {lab: (fixed[lab] if fixed[lab] in prev_clusters else None) if lab in fixed else matched.get(lab)
                   for lab in order}
    used_names = {prev_clusters[p]["name"] for p in prev_clusters if p not in set(previous_of.values())
                  and "name" in prev_clusters[p]}
    for lab in order:
        pid = previous_of[lab]
        if lab in fixed or pid is not None:
            name_of[lab] = lab if lab in fixed else prev_clusters[pid].get("name") or lab
            used_names.add(name_of[lab])
    for lab in order:
        pid = previous_of[lab]
        if lab in fixed:
            cid = fixed[lab]
        elif pid is not None:
            cid = pid
        else:
            cid = f"{prefix}{next_id}"
            next_id += 1
            name, i = lab, 2
            while name in used_names:
                name, i = f"{lab} #{i}", i + 1
            used_names.add(name)
            name_of[lab] = name
        old = prev_clusters.get(pid, {}) if pid is not None else {}
        name = name_of[lab]
        id_of[lab] = cid
        rows.append({"id": cid, "name": name, "status": "kept" if pid is not None else "new", "label": lab,
                     "previous_label": old.get("label"), "named_in": old.get("named_in", quarter) if pid else quarter,
                     "clients": int((cur == lab).sum()),
                     "previous_clients": int(prev_sizes.get(pid, 0)) if pid is not None else 0,
                     "overlap": jaccard(lab, pid) if pid is not None else np.nan})
    gone = [pid for pid in prev_clusters if pid not in {r["id"] for r in rows}]
    for pid in gone:
        old = prev_clusters[pid]
        rows.append({"id": pid, "name": old.get("name", pid), "status": "vanished", "label": None,
                     "previous_label": old.get("label"), "named_in": old.get("named_in"), "clients": 0,
                     "previous_clients": int(prev_sizes.get(pid, 0)), "overlap": np.nan})
    table = pd.DataFrame(rows, columns=["id", "name", "status", "label", "previous_label", "named_in", "clients",
                                        "previous_clients", "overlap"])
    table = table.iloc[sorted(range(len(table)), key=lambda i: _id_key(table["id"].iloc[i], table["status"].iloc[i],
                                                                      fixed_ids))].reset_index(drop=True)
    ids = cur.map(id_of).rename(f"{kind}_id")
    names = cur.map(name_of).rename(kind)
    model = {"kind": kind, "quarter": quarter, "as_of": None if as_of is None else str(pd.Timestamp(as_of).date()),
             "next_id": next_id, "min_overlap": float(min_overlap),
             "clusters": [{"id": id_of[lab], "name": name_of[lab],
                           "named_in": table.loc[table["label"] == lab, "named_in"].iloc[0],
                           "status": table.loc[table["label"] == lab, "status"].iloc[0], "label": lab,
                           **({"fixed": True} if lab in fixed else {}),
                           "facts": {str(k): _jsonable(v) for k, v in facts.loc[lab].items() if not
                                     (isinstance(v, float) and np.isnan(v))} if len(facts.columns) else {}}
                          for lab in order],
             "vanished": [{"id": pid, "name": prev_clusters[pid].get("name", pid),
                           "label": prev_clusters[pid].get("label")} for pid in gone],
             **(extra or {})}
    return Identities(ids=ids, names=names, table=table, model=model)


def _fmt_value(key: str, v) -> str:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if "spend" in key or "revenue" in key:
            return f"{v:,.0f}"
        if key == "share":
            return pct(v)
        return f"{v:,.0f}" if float(v).is_integer() or abs(v) >= 100 else f"{v:.2g}"
    return str(v)


def changes(previous_model: dict | None, current_model: dict, change_share: float = CHANGE_SHARE,
            labels: dict | None = None) -> pd.DataFrame:
    """What changed about each cluster between two runs, by stable id.

    Parameters
    ----------
    previous_model, current_model : dict
        :attr:`Identities.model` of the previous and of this run (None previous: every cluster is new).
    change_share : float
        A numeric fact is reported when it moved by at least this share of its previous value.
    labels : dict, optional
        Words for the facts on the page (``{"typical_spend": "typical spend"}``); default: the key
        with underscores as spaces.

    Returns
    -------
    DataFrame
        ``id``, ``name``, ``status`` (``kept``, ``new``, ``vanished``), ``what_changed`` (words,
        ``"unchanged"`` when nothing moved), ``previous_description``, ``current_description``
        (the labels each fit gave), then ``previous_<fact>`` and ``current_<fact>`` for every fact.

    Examples
    --------
    >>> a = {"clusters": [{"id": "S1", "name": "Occasional, growing", "label": "Occasional, growing",
    ...                    "facts": {"clients": 246, "trend": "growing"}}]}
    >>> b = {"clusters": [{"id": "S1", "name": "Occasional, growing", "label": "Occasional, declining",
    ...                    "status": "kept", "facts": {"clients": 240, "trend": "declining"}}], "vanished": []}
    >>> changes(a, b)[["id", "status", "what_changed"]].values.tolist()
    [['S1', 'kept', 'trend: growing -> declining']]
    """
    if not isinstance(current_model, dict) or "clusters" not in current_model:
        raise ValueError("current_model needs key 'clusters' (see keep_identities)")
    if not 0 <= float(change_share) < 1:
        raise ValueError(f"change_share must be in [0, 1), got {change_share}")
    words = labels or {}
    prev = {c["id"]: c for c in (previous_model or {}).get("clusters", [])}
    rows = []
    keys: list[str] = []
    for c in current_model["clusters"] + [dict(v, status="vanished") for v in current_model.get("vanished", [])]:
        cid = c["id"]
        old = prev.get(cid)
        status = c.get("status") or ("kept" if old else "new")
        if old is None and status == "kept":
            status = "new"
        f_now = c.get("facts", {}) if status != "vanished" else {}
        f_old = (old or {}).get("facts", {})
        for k in list(f_old) + list(f_now):
            if k not in keys:
                keys.append(k)
        said = []
        if status == "new":
            said.append(f"new this run ({plural(f_now['clients'], 'client')})" if "clients" in f_now else "new this run")
        elif status == "vanished":
            said.append("vanished: no cluster of this run holds its clients"
                        + (f" (it had {plural(f_old['clients'], 'client')})" if "clients" in f_old else ""))
        else:
            for k in [k for k in f_now if k in f_old]:
                a, b = f_old[k], f_now[k]
                what = words.get(k, k.replace("_", " "))
                if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
                    if a == b or not np.isfinite(a) or not np.isfinite(b):
                        continue
                    rel = (b - a) / abs(a) if a else np.inf
                    if abs(rel) >= change_share:
                        tail = f" ({pct(rel, sign=True)})" if np.isfinite(rel) else ""
                        said.append(f"{what}: {_fmt_value(k, a)} -> {_fmt_value(k, b)}{tail}")
                elif a != b:
                    said.append(f"{what}: {a or 'none'} -> {b or 'none'}")
        rows.append({"id": cid, "name": c.get("name", cid), "status": status,
                     "what_changed": "; ".join(said) if said else "unchanged",
                     "previous_description": (old or {}).get("label") if old else None,
                     "current_description": c.get("label") if status != "vanished" else None,
                     **{f"previous_{k}": f_old.get(k) for k in keys}, **{f"current_{k}": f_now.get(k) for k in keys}})
    cols = ["id", "name", "status", "what_changed", "previous_description", "current_description"]
    cols += [f"{w}_{k}" for k in keys for w in ("previous", "current")]
    fixed = {c["id"] for c in current_model["clusters"] + list((previous_model or {}).get("clusters", [])) if c.get("fixed")}
    rows.sort(key=lambda r: _id_key(r["id"], r["status"], fixed))
    return pd.DataFrame(rows).reindex(columns=cols)


def moved(migration: pd.DataFrame, column: str) -> dict:
    """Headline counts of a migration table (:func:`clientstrategy.monitoring.migration`).

    Parameters
    ----------
    migration : DataFrame
        ``from_<column>``, ``to_<column>``, ``clients``.
    column : str
        The column migrated (``segment``, ``persona``, ``tier``...).

    Returns
    -------
    dict
        ``both`` (clients with a value in both runs), ``moved`` (of them, with another value now),
        ``new`` (only this run), ``gone`` (only the previous run), ``unassigned`` (a null value in
        either run), ``share_moved`` (moved / both, None when no client is in both).

    Examples
    --------
    >>> mig = pd.DataFrame({"from_segment": ["S1", "S1", "new"], "to_segment": ["S1", "S2", "S2"], "clients": [8, 2, 3]})
    >>> moved(mig, "segment")["share_moved"]
    0.2
    """
    f, t = f"from_{column}", f"to_{column}"
    for col in (f, t, "clients"):
        if col not in migration.columns:
            raise ValueError(f"migration needs column {col!r}")
    fr, to = migration[f].astype("str"), migration[t].astype("str")
    n = migration["clients"].astype(int)
    unassigned = (fr == "none") | (to == "none")
    both = ~fr.isin(["new", "none"]) & ~to.isin(["gone", "none"])
    out = {"both": int(n[both].sum()), "moved": int(n[both & (fr != to)].sum()), "new": int(n[fr == "new"].sum()),
           "gone": int(n[to == "gone"].sum()), "unassigned": int(n[unassigned & ~(fr == "new") & ~(to == "gone")].sum())}
    out["share_moved"] = out["moved"] / out["both"] if out["both"] else None
    return out
