"""The engine layer: event tables typed, checked and aggregated in SQL (DuckDB, and Spark)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from clientstrategy import (
    activities,
    context,
    execution,
    features,
    health,
    io,
    outcomes,
    strategy,
    validate,
    voice,
)
from clientstrategy.nb import _sample_tables

AS_OF = pd.Timestamp("2026-06-30")


@pytest.fixture(scope="module")
def sample_tables_dir():
    return _sample_tables()


@pytest.fixture(scope="module")
def tables(sample_tables_dir):
    return io.load_source(sample_tables_dir)


def test_event_tables_are_not_loaded_into_pandas(sample_tables_dir):
    tables, _ = validate.load_checked(sample_tables_dir)
    for name in features.ENGINE_TABLES:
        assert isinstance(tables[name], features.EngineTable), name
    assert isinstance(tables["revenue"], pd.DataFrame)
    dig = tables["digital"]
    assert len(dig) == len(pd.read_parquet(sample_tables_dir / "digital.parquet", columns=["client_id"]))


def test_engine_table_is_typed_like_io(tmp_path, tables):
    """Parquet with every column as text, typed in SQL, gives what io.load_source gives ('007' kept)."""
    dig = tables["digital"].head(500).copy()
    dig.loc[0, "client_id"] = "007"
    dig.astype(object).astype(str).replace({"nan": None, "NaT": None}).to_parquet(tmp_path / "digital.parquet",
                                                                                   index=False)
    et = features.open_table(tmp_path, "digital")
    got = et.to_pandas()
    want = io.load_source(tmp_path)["digital"]
    assert got["client_id"].iloc[0] == "007"
    pd.testing.assert_frame_equal(got.sort_values(["timestamp", "session_id", "event_type"]).reset_index(drop=True),
                                  want.sort_values(["timestamp", "session_id", "event_type"]).reset_index(drop=True),
                                  check_dtype=False)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_engine_checks_report_table_column_count_and_examples(tmp_path, tables, fmt):
    """Parquet with text timestamps is typed and checked in SQL; CSV is typed by io's rules; the same
    problems either way."""
    dig = tables["digital"].head(200).astype({"timestamp": "str"}).copy()
    dig.loc[[3, 7], "timestamp"] = ["yesterday", "31/02/2026 25:00"]
    dig.loc[[5], "client_id"] = np.nan
    dig.loc[[9, 10, 11], "client_id"] = "NOPE"
    if fmt == "csv":
        dig.to_csv(tmp_path / "digital.csv", index=False)
    else:
        dig.to_parquet(tmp_path / "digital.parquet", index=False)
    tables["clients"].to_parquet(tmp_path / "clients.parquet")
    tables["revenue"].head(50).to_parquet(tmp_path / "revenue.parquet")
    with pytest.raises(validate.DataValidationError) as err:
        validate.load_checked(tmp_path)
    p = err.value.problems.set_index(["table", "column", "check"])
    assert p.loc[("digital", "timestamp", "unparseable_date"), "count"] == 2
    assert "'yesterday'" in " ".join(p.loc[("digital", "timestamp", "unparseable_date"), "examples"])
    assert p.loc[("digital", "client_id", "missing_values"), "count"] == 1
    assert p.loc[("digital", "client_id", "unknown_reference"), "count"] == 3
    assert "'NOPE' not in clients.client_id (3 rows)" in p.loc[("digital", "client_id", "unknown_reference"),
                                                               "examples"]
    assert "digital" in str(err.value) and "timestamp" in str(err.value)


def test_missing_required_column_is_reported(tmp_path, tables):
    tables["digital"].head(20).drop(columns=["event_type"]).to_parquet(tmp_path / "digital.parquet")
    tables["revenue"].head(20).to_parquet(tmp_path / "revenue.parquet")
    with pytest.raises(validate.DataValidationError) as err:
        validate.load_checked(tmp_path)
    assert ("digital", "event_type", "missing_column") in set(
        map(tuple, err.value.problems[["table", "column", "check"]].values))


def test_fingerprint_ignores_row_order_and_sees_changes(tables):
    d = tables["digital"].head(3000)
    a = features.fingerprint(features.as_table(d, "digital"))
    b = features.fingerprint(features.as_table(d.iloc[::-1], "digital"))
    changed = d.copy()
    changed.loc[changed.index[7], "page"] = "another page"
    c = features.fingerprint(features.as_table(changed, "digital"))
    assert a == b != c


def test_staged_copy_replaces_text_through_lookups(tmp_path, tables):
    d = tables["digital"].head(100).copy()
    d.loc[d.index[:4], "search_query"] = "fees for Acme Ltd"
    t = features.as_table(d, "digital")
    lookup = pd.DataFrame({"old": ["fees for Acme Ltd"], "new": ["fees for Client-1"]}).astype(object)
    features.write_parquet(t, tmp_path / "d.parquet", replace={"search_query": lookup})
    back = pd.read_parquet(tmp_path / "d.parquet")
    assert (back["search_query"] == "fees for Acme Ltd").sum() == 0
    assert (back["search_query"] == "fees for Client-1").sum() == 4
    assert len(back) == 100 and list(back.columns) == list(d.columns)


def test_aggregations_same_from_pandas_and_from_files(sample_tables_dir, tables):
    """Every digital analysis gives the same answer on a DataFrame and on the table in DuckDB."""
    et = features.open_table(sample_tables_dir, "digital")
    dig = tables["digital"]
    ids = tables["clients"]["client_id"].tolist()
    for f in (lambda t: activities.digital_engagement(t, AS_OF, clients=ids),
              lambda t: activities.people_also_viewed(t, AS_OF),
              lambda t: activities.top_questions(t, AS_OF, top=0),
              lambda t: context.persona_features(t, AS_OF, market_events=tables["market_events"], clients=ids),
              lambda t: execution.digital_interest_signals(t, tables["products"], AS_OF)):
        pd.testing.assert_frame_equal(f(dig), f(et))


def _touch_analyses(tables):
    """Every analysis that reads ``activities``, as functions of the table (small bootstrap)."""
    rev, people = tables["revenue"], tables["people"]
    ids = sorted(rev["client_id"].unique())
    tiers = pd.DataFrame({"client_id": ids, "tier": [("Platinum", "Gold", "Silver", "Bronze")[i % 4]
                                                     for i in range(len(ids))]})
    personas = tiers.rename(columns={"tier": "persona"})
    plan = tiers.assign(service_level=tiers["tier"], intent="grow")
    return {
        "summary": lambda t: activities.touch_summary(t, AS_OF, by=["period", "activity_type"], freq="Q"),
        "summary_tier": lambda t: activities.touch_summary(t, AS_OF, by=["tier", "outcome"], clients=tiers, months=12),
        "coverage": lambda t: activities.touch_coverage(t, tiers, AS_OF),
        "effects": lambda t: activities.touch_effects(t, rev, AS_OF, n_boot=20, weighted=True),
        "naive": lambda t: activities.naive_correlation(t, rev, AS_OF),
        "persona_fit": lambda t: context.persona_fit(t, rev, people, personas, AS_OF, by="role", n_boot=20),
        "touch_response": lambda t: context.persona_features(tables["digital"], AS_OF, activities=t, clients=ids),
        "response": lambda t: voice.response_features(tables["surveys"], activities=t),
        "service": lambda t: strategy.service_coverage(plan, t, AS_OF),
        "cautions": lambda t: pd.DataFrame({"s": health.bias_cautions({"revenue": rev, "activities": t}, AS_OF)}),
    }


def test_touch_analyses_same_from_pandas_and_from_files(sample_tables_dir, tables):
    """Every touch analysis gives the same answer on a DataFrame and on the typed Parquet view."""
    et = features.open_table(sample_tables_dir, "activities", typed=True)
    for name, f in _touch_analyses(tables).items():
        a, b = f(tables["activities"]), f(et)
        assert len(a) > 0, name
        pd.testing.assert_frame_equal(a, b, obj=name)


@pytest.mark.parametrize("kw", [{"by": ["category"], "freq": "Q"}, {"by": "client_id", "freq": "M"},
                                {"by": ["owner_id", "region"], "freq": "Y"}, {"by": ["product_id", "person_id"]},
                                {"by": [], "freq": "Q"}])
def test_revenue_by_in_the_engine_equals_pandas(sample_tables_dir, tables, kw):
    """Revenue grouped in SQL over the staged file gives revenue_by's pandas result."""
    et = features.open_table(sample_tables_dir, "revenue", typed=True)
    extra = {"products": tables["products"], "clients": tables["clients"]}
    a = outcomes.revenue_by(tables["revenue"], AS_OF, **kw, **extra)
    b = outcomes.revenue_by(et, AS_OF, **kw, **extra)
    assert len(a) > 0
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9)


def test_revenue_analyses_in_the_engine_equal_pandas(sample_tables_dir, tables):
    """client_revenue, market responsiveness and post-survey outcomes give the pandas results when
    the revenue lines stay in the engine (the notebooks pass Context.engine_table("revenue"))."""
    et = features.open_table(sample_tables_dir, "revenue", typed=True)
    rev, ev, prods = tables["revenue"], tables["market_events"], tables["products"]
    for f in (lambda r: outcomes.client_revenue(r, AS_OF, clients=tables["clients"]),
              lambda r: context.market_responsiveness(r, ev, AS_OF, products=prods),
              lambda r: context.market_responsiveness(r, ev, AS_OF, window_days=10),
              lambda r: voice.detractor_outcomes(tables["surveys"], r, AS_OF)):
        a, b = f(rev), f(et)
        assert len(a) > 0
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9)


def test_touch_counts_match_pandas(tables):
    """The engine's grouped touches equal a plain pandas groupby of the weighted touches."""
    acts = tables["activities"]
    got = activities.touch_summary(acts, AS_OF, by=["person_id", "activity_type"], months=12)
    a = activities.touch_weights(acts.loc[(acts["timestamp"].dt.normalize() <= AS_OF)
                                          & (acts["timestamp"].dt.normalize() > AS_OF - pd.DateOffset(months=12))])
    g = a.groupby(["person_id", "activity_type"], dropna=False)
    want = pd.DataFrame({"touches": g.size(), "weighted_touches": g["weight"].sum().round(9),
                         "clients": g["client_id"].nunique()}).reset_index()
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    assert got["touches"].sum() > 1000


def test_transpiled_sql_is_spark_sql():
    sql = features.transpile('SELECT "client_id", COUNT(DISTINCT "session_id") AS n FROM t '
                             "WHERE \"timestamp\" < CAST('2026-07-01 00:00:00' AS TIMESTAMP) GROUP BY \"client_id\"")
    assert "`session_id`" in sql and '"' not in sql


def _java() -> str | None:
    java = shutil.which("java")
    if java is None:
        return None
    out = subprocess.run([java, "-version"], check=False, capture_output=True, text=True)
    return java if out.returncode == 0 else None


_NO_JAVA = ("Spark needs a Java runtime (17 or later): none on this machine; make system-packages installs "
            "openjdk-17-jre-headless")


def test_spark_gives_identical_results_to_duckdb(tmp_path, tables, system_requirement):
    """The same aggregations run on PySpark (local mode) and give exactly DuckDB's results."""
    if _java() is None:
        system_requirement(_NO_JAVA)
    pytest.importorskip("pyspark")
    small = tables["digital"].loc[tables["digital"]["client_id"].isin(tables["clients"]["client_id"][:400])]
    # Spark reads Parquet timestamps in microseconds (it refuses nanoseconds)
    small.to_parquet(tmp_path / "digital.parquet", coerce_timestamps="us", index=False)
    duck = features.open_table(tmp_path, "digital")
    spark = features.open_table("spark://" + str(tmp_path), "digital")
    assert isinstance(spark.engine, features.SparkEngine)
    try:
        assert len(spark) == len(duck) == len(small)
        assert features.problems(spark, tables) == features.problems(duck, tables) == []
        ids = tables["clients"]["client_id"][:450].tolist()
        for f in (lambda t: activities.digital_engagement(t, AS_OF, clients=ids),
                  lambda t: activities.people_also_viewed(t, AS_OF, min_clients=2),
                  lambda t: activities.top_questions(t, AS_OF, top=0),
                  lambda t: context.persona_features(t, AS_OF, market_events=tables["market_events"], clients=ids),
                  lambda t: execution.digital_interest_signals(t, tables["products"], AS_OF, window_days=60)):
            a, b = f(duck), f(spark)
            assert len(a) > 0
            pd.testing.assert_frame_equal(a, b)
        # the touch analyses: activities of the same clients in Spark and in DuckDB
        acts = tables["activities"].loc[tables["activities"]["client_id"].isin(tables["clients"]["client_id"][:400])]
        acts.to_parquet(tmp_path / "activities.parquet", coerce_timestamps="us", index=False)
        duck_a = features.open_table(tmp_path, "activities", typed=True)
        spark_a = features.open_table("spark://" + str(tmp_path), "activities", engine=spark.engine, typed=True)
        assert isinstance(spark_a.engine, features.SparkEngine)
        sub = {**tables, "revenue": tables["revenue"].loc[tables["revenue"]["client_id"].isin(acts["client_id"])]}
        for name, f in _touch_analyses(sub).items():
            if name == "persona_fit":  # needs more clients per persona than this slice has
                continue
            a, b = f(duck_a), f(spark_a)
            assert len(a) > 0, name
            pd.testing.assert_frame_equal(a, b, obj=name)
        # the revenue aggregations
        sub["revenue"].to_parquet(tmp_path / "revenue.parquet", coerce_timestamps="us", index=False)
        duck_r = features.open_table(tmp_path, "revenue", typed=True)
        spark_r = features.open_table("spark://" + str(tmp_path), "revenue", engine=spark.engine, typed=True)
        for name, f in {
            "revenue_by": lambda r: outcomes.revenue_by(r, AS_OF, by=["category"], freq="Q", products=tables["products"]),
            "client_revenue": lambda r: outcomes.client_revenue(r, AS_OF),
            "responsiveness": lambda r: context.market_responsiveness(r, tables["market_events"], AS_OF,
                                                                      products=tables["products"]),
            "detractors": lambda r: voice.detractor_outcomes(tables["surveys"], r, AS_OF),
        }.items():
            a, b = f(duck_r), f(spark_r)
            assert len(a) > 0, name
            pd.testing.assert_frame_equal(a, b, obj=name)
    finally:
        spark.engine.spark.stop()


def test_spark_refuses_nanosecond_parquet_clearly(tmp_path, tables, system_requirement):
    if _java() is None:
        system_requirement(_NO_JAVA)
    pytest.importorskip("pyspark")
    tables["digital"].head(10).to_parquet(tmp_path / "digital.parquet", index=False)  # nanoseconds
    os.environ.setdefault("PYSPARK_PYTHON", "python3")
    with pytest.raises(ValueError, match="nanosecond timestamps"):
        features.open_table("spark://" + str(tmp_path), "digital")


def test_data_health_reads_engine_tables_like_frames(tables):
    """The data-health summaries give the same figures for the digital table in DuckDB and in pandas."""
    dig = tables["digital"].copy()
    dig.loc[dig.index[:17], "page"] = np.nan
    late = dig.index[17:20]
    dig.loc[late, "timestamp"] = AS_OF + pd.Timedelta(days=3)
    rev = tables["revenue"]
    rev = pd.concat([rev, rev.iloc[[6, 6, 8]]], ignore_index=True)  # one line twice more, one once
    rev.loc[rev.index[:5], "amount"] = -rev["amount"].iloc[:5]
    frames = {"revenue": rev, "digital": dig, "clients": tables["clients"], "activities": tables["activities"],
              "surveys": tables["surveys"], "survey_invites": tables["survey_invites"]}
    held = {**frames, "revenue": features.as_table(rev, "revenue"), "digital": features.as_table(dig, "digital"),
            "activities": features.as_table(tables["activities"], "activities")}
    pd.testing.assert_frame_equal(validate.table_summary(frames), validate.table_summary(held))
    pd.testing.assert_frame_equal(validate.completeness(frames), validate.completeness(held))
    a, b = validate.health_checks(frames, AS_OF), validate.health_checks(held, AS_OF)
    pd.testing.assert_frame_equal(a, b)
    found = dict(zip(zip(a["table"], a["check"]), a["count"]))
    assert found[("digital", "rows_after_as_of")] >= 3
    assert found[("revenue", "duplicated_lines")] == 3 and found[("revenue", "negative_amount")] >= 5
    assert health.bias_cautions(frames, AS_OF) == health.bias_cautions(held, AS_OF)
    assert len(health.bias_cautions(frames, AS_OF)) == 4


def test_a_notebook_alone_on_a_spark_url_is_sent_to_the_runner():
    with pytest.raises(ValueError, match=r"read by the runner \(make run DATA=spark://"):
        validate.load_checked("spark:///nowhere")


@pytest.mark.heavy  # a JVM and two partial runs: minutes on 2 cores; in make test-system and make test-heavy
def test_whole_run_on_spark_gives_the_duckdb_figures(tmp_path, small_sample, system_requirement):
    """make run DATA=spark:///<folder>: the runner checks and stages the folder, the notebooks aggregate
    the event tables (and revenue totals) on Spark, and every figure equals the DuckDB run's."""
    if _java() is None:
        system_requirement(_NO_JAVA)
    pytest.importorskip("pyspark")
    from clientstrategy import runner

    def run(data, out):
        cfg = runner.RunConfig(data=data, out=tmp_path / out, notebooks=["00", "01", "02", "03"], progress=False,
                               params={"n_boot": 20, "holdout_weeks": 0})
        return runner.run(cfg)

    duck = run(str(small_sample), "duck")
    spark = run(f"spark://{small_sample}", "spark")
    m_duck = json.loads((duck / "artifacts" / "metrics.json").read_text())
    m_spark = json.loads((spark / "artifacts" / "metrics.json").read_text())
    assert m_spark["run"]["data"] == f"spark://{small_sample}"
    # the notebooks' large tables were really read by Spark, and by DuckDB in the other run
    assert m_spark["data_health"].pop("engines") == ["spark"] and m_duck["data_health"].pop("engines") == ["duckdb"]
    for section in ("data_health", "outcomes", "activities", "context"):
        assert m_spark[section] == m_duck[section], section
    for name in ("touch_coverage.parquet", "engagement.parquet", "activity_effects.csv", "people_also_viewed.csv",
                 "persona_fit.csv", "responsiveness.parquet"):
        read = pd.read_parquet if name.endswith(".parquet") else pd.read_csv
        a, b = read(duck / "artifacts" / name), read(spark / "artifacts" / name)
        assert len(a) > 0, name
        pd.testing.assert_frame_equal(a, b, obj=name)


def test_staged_folder_is_trusted_only_while_unchanged(tmp_path, tables):
    """The runner's mark lets notebooks skip validation, and any change to a file withdraws it."""
    for name in ("revenue", "clients", "digital"):
        tables[name].to_parquet(tmp_path / f"{name}.parquet", index=False)
    assert not validate.is_validated(tmp_path)
    validate.mark_validated(tmp_path)
    assert validate.is_validated(tmp_path)
    lazy = validate.LazyTables(tmp_path)
    assert list(lazy) == ["clients", "revenue", "digital"]
    assert lazy.rows("digital") == len(tables["digital"]) and lazy.rows("surveys") == 0
    assert not lazy._loaded  # nothing read to count rows
    assert isinstance(lazy["digital"], features.EngineTable) and isinstance(lazy["revenue"], pd.DataFrame)
    assert set(lazy._loaded) == {"digital", "revenue"}
    tables["clients"].head(3).to_parquet(tmp_path / "clients.parquet", index=False)
    assert not validate.is_validated(tmp_path)


def test_runner_checks_revenue_and_activities_in_the_engine(tmp_path, tables):
    acts = tables["activities"].head(300).copy()
    acts.loc[acts.index[:4], "activity_type"] = "carrier pigeon"
    acts.to_parquet(tmp_path / "activities.parquet", index=False)
    for name in ("revenue", "clients", "people", "products"):
        tables[name].to_parquet(tmp_path / f"{name}.parquet", index=False)
    with pytest.raises(validate.DataValidationError) as err:
        validate.load_checked(tmp_path, in_engine=features.CHECKED_IN_ENGINE)
    p = err.value.problems.set_index(["table", "column", "check"])
    assert p.loc[("activities", "activity_type", "unknown_value"), "count"] == 4
    assert "'carrier pigeon' (4 rows)" in p.loc[("activities", "activity_type", "unknown_value"), "examples"]


def test_staged_copies_equal_the_input(tmp_path, sample_tables_dir):
    """What the runner stages from the engine reads back as the same typed tables."""
    from clientstrategy import runner

    held, _ = validate.load_checked(sample_tables_dir, in_engine=features.CHECKED_IN_ENGINE)
    assert all(isinstance(held[t], features.EngineTable) for t in features.CHECKED_IN_ENGINE)
    runner._stage_tables(held, tmp_path / "staged")
    assert validate.is_validated(tmp_path / "staged")
    original = dict(io.load_source(sample_tables_dir))
    staged = dict(io.load_source(tmp_path / "staged"))
    assert io.fingerprint(staged) == io.fingerprint(original) == io.fingerprint(held)
    # notebooks read the staged pandas tables by dtype alone (no parsing): the same frames as load_source
    lazy = validate.LazyTables(tmp_path / "staged")
    for name, frame in original.items():
        if name not in features.ENGINE_TABLES:
            pd.testing.assert_frame_equal(lazy[name], frame, obj=name)
    assert len(original) - len(features.ENGINE_TABLES) >= 7


def test_detach_keeps_summaries_and_frees_the_engine(sample_tables_dir):
    """After staging the runner closes the engine; the run's index still reads rows and dates."""
    held, _ = validate.load_checked(sample_tables_dir, in_engine=features.CHECKED_IN_ENGINE)
    big = [held[t] for t in features.CHECKED_IN_ENGINE]
    want = [(len(t), list(t.columns), features.summary(t)["date_max"]) for t in big]
    features.detach(held.values())
    assert [(len(t), list(t.columns), features.summary(t)["date_max"]) for t in big] == want
    with pytest.raises(Exception, match="(?i)closed"):
        big[0].sql("SELECT 1 FROM {t}")
