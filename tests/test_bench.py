"""The benchmark's measuring parts (make bench itself is not run in make test)."""
from __future__ import annotations

import os

from clientstrategy import bench


def test_aggregation_stage_agrees_with_the_duckdb_baseline(small_sample):
    out = bench.aggregation_stage(small_sample, "2026-09-30", repeat=1)
    assert out["same_result"] is True
    assert out["rows"] > 10_000 and out["ours_seconds"] > 0 and out["baseline_seconds"] > 0
    assert out["ratio"] > 0


def test_engine_stages_agree_with_their_duckdb_baselines(small_sample):
    """Digital engagement and weighted touches: the workbook's engine path gives the hand-written
    query's figures for every client (and quarter)."""
    for stage in (bench.digital_stage, bench.touch_stage):
        out = stage(small_sample, "2026-09-30", repeat=1)
        assert out["same_result"] is True, stage.__name__
        assert out["rows"] > 1_000 and out["ours_seconds"] > 0 and out["baseline_seconds"] > 0


def test_tree_rss_counts_children():
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "x = bytearray(50_000_000); import time; time.sleep(3)"])
    try:
        import time

        time.sleep(1.0)
        alone = bench.tree_rss(child.pid)
        total = bench.tree_rss(os.getpid())
        assert alone > 40_000_000 and total >= alone
    finally:
        child.kill()
        child.wait()
    assert bench.tree_rss(child.pid) == 0
