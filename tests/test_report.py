"""Leadership HTML helpers: numeric columns right-aligned, text left, escaping untouched."""
from __future__ import annotations

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
