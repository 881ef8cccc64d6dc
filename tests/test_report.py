"""Leadership HTML helpers: numeric columns right-aligned, text left, escaping untouched."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from clientstrategy import report

TABLE = """<table border="0" class="dataframe cs-table">
<thead><tr style="text-align: right;"><th>client</th><th>revenue</th><th>growth</th><th>note</th></tr></thead>
<tbody>
<tr><td>&lt;script&gt;alert(1)&lt;/script&gt;</td><td>1,234,567</td><td>-5.5%</td><td>n/a</td></tr>
<tr><td>Acme</td><td>1.8m</td><td></td><td>grow 67, maintain 44</td></tr>
</tbody></table>"""


def test_numeric_columns_are_marked_and_text_columns_are_not():
    out = report.align_numbers(TABLE)
    assert '<th class="cs-num">revenue</th>' in out and '<th class="cs-num">growth</th>' in out
    assert '<td class="cs-num">1,234,567</td>' in out and '<td class="cs-num">-5.5%</td>' in out
    assert '<td class="cs-num"></td>' in out  # an empty cell of a numeric column lines up too
    assert "<th>client</th>" in out and "<th>note</th>" in out and "<td>Acme</td>" in out
    assert "<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>" in out  # contents (and escaping) untouched
    assert out.replace(' class="cs-num"', "") == TABLE
    assert report.align_numbers(out) == out  # aligning twice changes nothing


def test_existing_classes_are_kept_and_merged_cells_left_alone():
    assert report.align_numbers("<table><tr><td class='x'>12</td></tr></table>") == \
        "<table><tr><td class='x cs-num'>12</td></tr></table>"
    merged = "<table><tr><td colspan='2'>1</td></tr><tr><td>2</td><td>3</td></tr></table>"
    assert report.align_numbers(merged) == merged
    assert report.align_numbers("<p>10</p>") == "<p>10</p>"


def test_house_style_aligns_text_left_and_keeps_navigation_on_one_line():
    assert "td.cs-num, th.cs-num { text-align: right;" in report.CSS
    assert "text-align: left" in report.CSS.split("th, td {")[1].split("}")[0]
    assert "white-space: nowrap" in report.CSS.split("header.cs-top a {")[1].split("}")[0]


PAGES = [{"stem": s, "file": f"{s}.html"} for s in ("01_outcomes", "04_voice", "06_strategy", "07_execution")]
METRICS = {"outcomes": {"revenue_ltm": 2_000_000.0, "clients_active_ltm": 120},
           "voice": {"nps": 23.8, "nps_ci": [19.5, 28.0]},
           "strategy": {"plan_revenue": 2_100_000.0, "plan_low": 1_800_000.0, "plan_high": 2_500_000.0,
                        "target_revenue": 2_160_000.0},
           "execution": {"treated": 1, "expected_value_treated": 45_000.0}}


def _tiles(now: dict, before: dict | None = None, previous: str | None = None, run_dir=None):
    return {t["label"]: t for t in report.glance_tiles(report.quarter_figures(run_dir or Path("/nonexistent"), now),
                                                       before, previous, PAGES)}


def test_quarter_at_a_glance_reads_metrics_by_key_and_links_each_figure_to_its_page():
    t = _tiles(METRICS)
    assert t["Revenue, last 12 months"]["value"] == "2.0m" and t["Revenue, last 12 months"]["href"] == "leadership/01_outcomes.html"
    assert t["Net Promoter Score"]["value"] == "+24" and t["Net Promoter Score"]["href"] == "leadership/04_voice.html"
    assert "95% interval +20 to +28" in [x["text"] for x in t["Net Promoter Score"]["lines"]]
    plan = [x["text"] for x in t["Bottom-up plan, next 12 months"]["lines"]]
    assert "range 1.8m to 2.5m" in plan and "target 2.2m: shortfall 60k" in plan
    assert t["Conversations recommended"]["value"] == "1" and t["Conversations recommended"]["href"].endswith("07_execution.html")
    assert not any("on 20" in x["text"] for tile in t.values() for x in tile["lines"])  # no previous run: no change


def test_quarter_at_a_glance_says_not_measured_rather_than_failing():
    t = _tiles({"outcomes": {"revenue_ltm": None}, "voice": {"nps_ci": "bad"}, "plan_backtest": {}, "strategy": 3})
    assert all(tile["value"] is None for tile in t.values())  # rendered as "not measured"
    assert t["Active clients"]["href"] == "leadership/01_outcomes.html"
    assert [x["text"] for x in t["Bottom-up plan, next 12 months"]["lines"]] == ["target not measured"]


def test_changes_on_the_previous_run_and_keys_others_add():
    now = {**METRICS, "strategy": {**METRICS["strategy"], "plan_level": 0.8},
           "plan_backtest": {"error_pct": -3.14, "covered": True}}
    before = report.quarter_figures(Path("/nonexistent"), {**METRICS, "outcomes": {"revenue_ltm": 1_600_000.0},
                                                           "voice": {"nps": 30.0}, "execution": {}})
    t = _tiles(now, before, "2026Q2")
    assert {"text": "+25.0% on 2026Q2", "cls": "cs-good"} in t["Revenue, last 12 months"]["lines"]
    assert {"text": "-6 points on 2026Q2", "cls": "cs-bad"} in t["Net Promoter Score"]["lines"]
    assert "unchanged on 2026Q2" in [x["text"] for x in t["Bottom-up plan, next 12 months"]["lines"]]
    assert "80% range 1.8m to 2.5m" in [x["text"] for x in t["Bottom-up plan, next 12 months"]["lines"]]
    assert "back-tested error -3.1%" in [x["text"] for x in t["Bottom-up plan, next 12 months"]["lines"]]
    assert "not measured in 2026Q2" in [x["text"] for x in t["Conversations recommended"]["lines"]]
    small = report.quarter_figures(Path("/nonexistent"), {"voice": {"nps": 23.8 - 0.3}, "outcomes": {"revenue_ltm": 1_999_900.0}})
    t = _tiles(METRICS, small, "2026Q2")
    assert {"text": "+0.3 points on 2026Q2", "cls": "cs-good"} in t["Net Promoter Score"]["lines"]
    assert {"text": "unchanged on 2026Q2", "cls": ""} in t["Revenue, last 12 months"]["lines"]  # +0.005%: none shown


def test_clients_at_risk_come_from_the_profile(tmp_path):
    art = tmp_path / "artifacts"
    art.mkdir()
    pd.DataFrame({"client_id": ["a", "b", "c"], "p_alive": [0.2, 0.9, 0.49], "revenue_ltm": [100.0, 5_000.0, 50.0]}) \
        .to_parquet(art / "client_profile.parquet")
    t = _tiles(METRICS, run_dir=tmp_path)["Clients at risk"]
    assert t["value"] == "2 clients" and "150 of revenue in the last 12 months" in [x["text"] for x in t["lines"]]
    pd.DataFrame({"client_id": ["a"], "p_alive": [0.1], "revenue_ltm": [1.0]}).to_parquet(art / "client_profile.parquet")
    assert _tiles(METRICS, run_dir=tmp_path)["Clients at risk"]["value"] == "1 client"
    before = report.quarter_figures(tmp_path, {})
    t = _tiles(METRICS, before, "2026Q2", run_dir=tmp_path)["Clients at risk"]
    assert {"text": "unchanged on 2026Q2", "cls": ""} in t["lines"]


def test_print_rules_hide_navigation_and_keep_rows_and_figures_whole():
    printing = report.CSS.split("@media print")[1]
    assert "header.cs-top nav" in printing and "display: none" in printing
    assert "tr, img, figure" in printing and "break-inside: avoid" in printing
    assert "@page { size: A4" in report.CSS
