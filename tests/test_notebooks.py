"""The notebooks: committed clean, shaped alike, and the whole workbook run end to end on the small sample."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from clientstrategy import paths, runner, schema, strip

NOTEBOOKS = sorted(paths.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
SPEC_ARTIFACT_COLUMNS = {
    "activity_effects.csv": ["activity_type", "outcome", "segment", "effect", "ci_low", "ci_high", "n"],
    "next_best_actions.csv": ["person_id", "client_id", "rank", "action", "topic", "reason", "expected_value", "control"],
    "backtest_clients.csv": ["client_id", "calibration_purchases", "actual_purchases", "predicted_purchases",
                             "purchases_low", "purchases_high", "p_any_purchase", "actual_revenue", "predicted_revenue"],
    "segment_migration.csv": ["from_tier", "to_tier", "clients", "revenue"],
    "budget.csv": ["level", "key", "revenue_ltm", "plan_revenue"],
}


def test_there_are_numbered_notebooks_for_every_step():
    stems = [p.stem[:2] for p in NOTEBOOKS]
    assert stems[:2] == ["00", "01"] and stems == sorted(stems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_clean_and_well_shaped(path):
    assert strip.has_outputs(path) == [], f"{path.name} has outputs: run `make strip`"
    nb = nbformat.read(str(path), as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), "first cell must be an H1 title"
    assert len([ln for ln in first.source.splitlines()[1:] if ln.strip()]) >= 1, "a line of purpose under the title"
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, "exactly one cell tagged parameters"
    for line in params[0].source.splitlines():
        if line.strip():
            assert re.match(r"^\w+: [\w\[\], .]+ = .+  # .+", line), f"parameter line not annotated and commented: {line!r}"
    import papermill

    declared = papermill.inspect_notebook(str(path))
    lines = [ln for ln in params[0].source.splitlines() if ln.strip()]
    assert len(declared) == len(lines), "papermill could not parse a parameter line (no '=' or ';' in comments)"
    src = "\n".join(c.source for c in nb.cells)
    assert "sys.path" not in src
    assert "%store" not in src and "scrapbook" not in src


PAYLOADS = ["<script>alert('x')</script>", "<img src=x onerror=alert(1)>"]
# markdown payloads: harmless as text, dangerous if a page renders them as a link or an image
MD_PAYLOADS = ["[click](javascript:alert(1))", "![x](https://evil.example/p.png)"]


@pytest.fixture(scope="module")
def payload_sample(small_sample, tmp_path_factory):
    """The small sample with script payloads in client and person names, comments, queries and topics."""
    d = tmp_path_factory.mktemp("payload")
    for f in Path(small_sample).glob("*.parquet"):
        df = pd.read_parquet(f)
        name = f.stem
        targets = {"clients": ["client_name"], "people": ["person_name"], "surveys": ["comment"],
                   "digital": ["search_query", "page"], "market_events": ["headline"], "products": ["product_name"]}
        for col in targets.get(name, []):
            if col in df.columns:
                idx = df.index[df[col].notna()][:25]
                every = PAYLOADS + MD_PAYLOADS
                df.loc[idx, col] = [every[i % len(every)] + " " + str(v) for i, v in enumerate(df.loc[idx, col])]
        if name == "market_events":
            extra = df.iloc[:1].copy()
            extra["topic"] = PAYLOADS[1]
            df = pd.concat([df, extra], ignore_index=True)
        df.to_parquet(d / f.name, index=False)
    return d


@pytest.fixture(scope="module")
def sample_run(payload_sample, tmp_path_factory):
    """Two consecutive quarters into one OUT (2026Q2, then 2026Q3), as a quarterly job would run."""
    out = tmp_path_factory.mktemp("run")
    runner.run(runner.RunConfig(data=str(payload_sample), out=out, progress=False, as_of="2026-06-30"))
    published = runner.run(runner.RunConfig(data=str(payload_sample), out=out, progress=False, holdout_weeks=26))
    return published


@pytest.mark.slow
def test_second_quarter_monitors_the_first(sample_run):
    mon = json.loads((sample_run / "artifacts" / "monitoring.json").read_text())
    assert mon["quarter"] == "2026Q3" and mon["previous_runs"] == ["2026Q2"]
    assert mon["migration"] and sum(mon["migration"]["tier"].values() if isinstance(mon["migration"]["tier"], dict)
                                    else [r["clients"] for r in mon["migration"]["tier"]]) > 0
    assert mon["plan_vs_actual"] is not None
    page = (sample_run / "leadership" / "08_monitoring.html").read_text()
    assert "2026Q2" in page


@pytest.mark.slow
def test_no_payload_survives_in_any_page(sample_run):
    pages = sorted(sample_run.rglob("*.html"))
    assert len(pages) >= 10
    for page in pages:
        text = page.read_text()
        for payload in PAYLOADS:
            assert payload not in text, f"{page.name} carries a live payload"
        assert not re.search(r"<img[^>]*onerror", text), f"{page.name} carries a live <img onerror>"
        assert not re.search(r"<script>alert", text), f"{page.name} carries a live <script>"
        assert not re.search(r"href=[\"']?\s*javascript:", text, re.IGNORECASE), f"{page.name} carries a javascript: link"
        assert not re.search(r"<img[^>]*evil\.example", text), f"{page.name} loads an image from a data value"
        assert not re.search(r"(src|href)=[\"']?https?://", text, re.IGNORECASE), f"{page.name} refers to the network"


@pytest.mark.slow
def test_sample_run_has_no_errors_and_every_artifact(sample_run):
    for nbp in sorted((sample_run / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(str(nbp), as_version=4)
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, f"{nbp.name}: {errors[:1]}"
    art = sample_run / "artifacts"
    prof = pd.read_parquet(art / "client_profile.parquet")
    assert list(prof.columns) == list(schema.PROFILE_COLUMNS)
    assert prof["client_id"].is_unique and prof["tier"].dropna().isin(schema.TIERS).all()
    for name, cols in SPEC_ARTIFACT_COLUMNS.items():
        assert (art / name).exists(), f"SPEC artifact {name} is missing from a full sample run"
        got = pd.read_csv(art / name)
        assert len(got) > 0, name
        assert [c for c in cols if c not in got.columns] == [], name
    budget = pd.read_csv(art / "budget.csv")
    assert any("target" in c for c in budget.columns), "budget.csv has no top-down target beside the plan"
    assert (art / "plan.xlsx").exists()
    m = json.loads((art / "metrics.json").read_text())
    assert {"r", "alpha", "a", "b"} <= set(m["purchase_model"]) and "backtest" in m
    pb = m["plan_backtest"]  # SPEC section 3: the plan made a year before AS_OF against what happened
    assert pb["as_of"] == "2025-09-30" and set(pb["forecast"]) == {"existing", "new", "total", "low", "high"}
    assert set(pb["baselines"]) == {"last_year_flat", "last_year_trend", "last_quarter_x4", "ltm_times_p_alive"}
    assert {"new", "total"} <= set(budget["level"])
    assert list(m).index("purchase_model") < list(m).index("backtest")
    index = (sample_run / "index.html").read_text()
    for nbp in NOTEBOOKS:
        assert f"leadership/{nbp.stem}.html" in index
        page = (sample_run / "leadership" / f"{nbp.stem}.html").read_text()
        assert "nb.Context(" not in page and "import " not in page.split("<main>")[1][:2000]
        assert "<script" not in page and "http://" not in page.replace("http://www.w3.org", "")


@pytest.mark.slow
def test_two_runs_give_identical_artifacts(sample_run, payload_sample, tmp_path_factory):
    # Same inputs, history included: the rerun sees the same previous quarter the first run saw.
    out = tmp_path_factory.mktemp("rerun")
    shutil.copytree(sample_run.parent / "2026Q2", out / "2026Q2")
    again = runner.run(runner.RunConfig(data=str(payload_sample), out=out, progress=False, holdout_weeks=26))
    first = sorted(p.relative_to(sample_run) for p in (sample_run / "artifacts").rglob("*") if p.is_file())
    second = sorted(p.relative_to(again) for p in (again / "artifacts").rglob("*") if p.is_file())
    assert first == second
    for rel in first:
        a, b = sample_run / rel, again / rel
        if rel.suffix == ".parquet":
            pd.testing.assert_frame_equal(pd.read_parquet(a), pd.read_parquet(b))
        elif rel.suffix == ".xlsx":
            for sheet in ("Budget", "Next best actions"):
                pd.testing.assert_frame_equal(pd.read_excel(a, sheet_name=sheet), pd.read_excel(b, sheet_name=sheet))
        elif rel.name == "metrics.json":
            ma, mb = json.loads(a.read_text()), json.loads(b.read_text())
            for m in (ma, mb):
                m.pop("timings")
            assert ma == mb
        else:
            assert a.read_bytes() == b.read_bytes(), str(rel)


@pytest.mark.slow
def test_workbook_runs_on_revenue_alone(small_sample, tmp_path):
    only = tmp_path / "revenue-only"
    only.mkdir()
    shutil.copy(Path(small_sample) / "revenue.parquet", only / "revenue.parquet")
    rev = pd.read_parquet(only / "revenue.parquet").drop(columns=["product_id", "person_id"], errors="ignore")
    rev.to_parquet(only / "revenue.parquet", index=False)
    published = runner.run(runner.RunConfig(data=str(only), out=tmp_path / "out", progress=False))
    prof = pd.read_parquet(published / "artifacts" / "client_profile.parquet")
    assert list(prof.columns) == list(schema.PROFILE_COLUMNS)
    assert prof["persona"].isna().all() and prof["nps_last"].isna().all() and prof["clv"].notna().any()
    for stem, table in (("02_activities", "activities"), ("03_context", "market_events"), ("04_voice", "surveys"),
                        ("05_third_party", "third_party")):
        page = (published / "leadership" / f"{stem}.html").read_text()
        assert ("This step needs the" in page or "has no <code>" in page) and table in page, stem


@pytest.mark.slow
def test_pseudonymised_run_holds_no_names(small_sample, tmp_path):
    src = tmp_path / "named"
    shutil.copytree(small_sample, src)
    names = pd.read_parquet(src / "clients.parquet")["client_name"].dropna().tolist()
    names += pd.read_parquet(src / "people.parquet")["person_name"].dropna().tolist()
    # names also reach free text: search queries, comments and activity topics that mention them
    dig = pd.read_parquet(src / "digital.parquet")
    q = dig.index[dig["search_query"].notna()][:60]
    dig.loc[q, "search_query"] = [f"{v} {names[i % len(names)].upper()}" for i, v in enumerate(dig.loc[q, "search_query"])]
    dig.to_parquet(src / "digital.parquet", index=False)
    sur = pd.read_parquet(src / "surveys.parquet")
    c = sur.index[sur["comment"].notna()][:20]
    sur.loc[c, "comment"] = [f"ask {names[-1 - i]} about it" for i in range(len(c))]
    sur.to_parquet(src / "surveys.parquet", index=False)
    published = runner.run(runner.RunConfig(data=str(src), out=tmp_path / "out", progress=False, pseudonymise=True))
    blobs = [p.read_bytes().decode("utf-8", "ignore") for p in published.rglob("*")
             if p.is_file() and p.suffix in (".html", ".ipynb", ".csv", ".json")]
    blobs += [pd.read_parquet(p).to_csv() for p in published.rglob("*.parquet")]
    blobs = [b.lower() for b in blobs]
    leaked = [n for n in names if any(n.lower() in b for b in blobs)]
    assert leaked == []
    assert len(list((published / "leadership").glob("*.html"))) == 10  # every step ran
    assert "Client-" in (published / "leadership" / "09_explorers.html").read_text()
