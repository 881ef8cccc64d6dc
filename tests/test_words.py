"""Figures in words for leadership: shares never rounded to all or none, plurals, table headers,
whole numbers, axes without offsets, and the window words of a short history (issue 17)."""
from __future__ import annotations

import re

import pandas as pd
import pytest
from matplotlib.figure import Figure

from clientstrategy import evidence, nb, outcomes
from clientstrategy.words import pct, plural


@pytest.mark.parametrize("share", [0.995, 0.9996, 0.99999999, 0.005, 0.0004, 1e-9, 3611 / 3612, 1 / 3611])
def test_a_share_that_is_not_all_or_none_never_prints_100_or_0(share):
    for digits in (0, 1):
        for text in (pct(share, digits), nb.pct(share, digits)):
            number = float(re.search(r"[\d.]+", text).group())
            assert 0 < number < 100, text
    assert pct(1.0) == "100%" and pct(0.0) == "0%" and pct(1 - 1e-15) == "100%"  # all, none (float noise)


def test_plural_counts():
    assert [plural(n, "client") for n in (0, 1, 2, 1234)] == ["0 clients", "1 client", "2 clients", "1,234 clients"]
    assert plural(1, "category", "categories") == "1 category" and plural(2, "category", "categories") == "2 categories"
    assert plural(1.0, "column") == "1 column"


def test_headers_in_business_words_with_the_window():
    short = outcomes.HistoryWindow(pd.Timestamp("2011-09-30"), pd.Timestamp("2010-12-01"), 10, 0)
    assert nb.header("revenue_ltm") == "Revenue, last 12 months"
    assert nb.header("revenue_ltm", short) == "Revenue, 10 months to 30 Sep 2011"
    assert nb.header("revenue_prior_ltm", short) == "Revenue, no year before"
    assert nb.header("share_of_wallet") == "Share of wallet" and nb.header("some_new_column") == "Some new column"
    assert nb.header("Touches per quarter") == "Touches per quarter"


def test_table_prints_whole_counts_whole_and_headers_in_words(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj.data))
    nb.table(pd.DataFrame({"service_level": ["Gold"], "touches_per_quarter": [6.0], "revenue_ltm": [1234.5],
                           "p_alive": [0.99999]}))
    page = shown[0]
    headers = re.findall(r"<th>(.*?)</th>", page)
    assert headers == ["Service level", "Touches per quarter", "Revenue, last 12 months", "Chance still active"]
    assert "<td>6</td>" in page and "6.000" not in page
    assert "over 99.99%" in page and "100.0%" not in page


def test_axes_have_no_scientific_offset():
    fig = Figure()
    ax = fig.subplots()
    ax.plot([0, 1, 2], [10_000_000, 20_000_000, 30_000_000])
    ax2 = fig.add_subplot(2, 1, 2)
    ax2.plot([0, 1], [1.00001, 1.00002])  # a small range far from zero: matplotlib would print an offset
    nb.plain_axes(fig)
    fig.canvas.draw()
    for axis in (ax.yaxis, ax2.yaxis):
        assert axis.get_offset_text().get_text() == ""
        assert not any("e" in t.get_text().lower() for t in axis.get_ticklabels())
    assert [t.get_text() for t in ax.get_yticklabels()][1:3] == ["10m", "12.5m"]


def test_history_window_says_how_many_months_the_data_hold():
    rev = pd.DataFrame({"date": pd.to_datetime(["2010-12-01", "2011-12-09"]), "client_id": ["a", "b"],
                        "amount": [1.0, 1.0]})
    w = outcomes.history_window(rev, pd.Timestamp("2011-09-30"))  # Online Retail's default AS_OF
    assert (w.months, w.prior_months, w.full, w.has_prior) == (10, 0, False, False)
    assert "twelve months" not in w.phrase and "twelve" not in w.header and w.per == "in ten months"
    assert "no year before" in w.note()
    cdnow = pd.DataFrame({"date": pd.to_datetime(["1997-01-01", "1998-06-30"]), "client_id": ["a", "a"],
                          "amount": [1.0, 1.0]})
    w = outcomes.history_window(cdnow, pd.Timestamp("1998-06-30"))
    assert (w.months, w.prior_months) == (12, 6) and w.phrase == "the last twelve months"
    assert w.prior_phrase == "the six months of data before (1 Jan 1997 to 30 Jun 1997)"
    assert "twelve months against six" in w.note()
    full = outcomes.history_window(cdnow, pd.Timestamp("1998-12-31"))
    assert (full.months, full.prior_months, full.note()) == (12, 12, "")


def test_claims_that_need_a_year_before_are_refused_without_one():
    short = outcomes.HistoryWindow(pd.Timestamp("2011-09-30"), pd.Timestamp("2010-12-01"), 10, 0)
    cr = pd.DataFrame({"client_id": list("abc"), "revenue_ltm": [50.0, 30.0, 20.0], "revenue_prior_ltm": 0.0})
    lines = outcomes.headline_sentences(cr, outcomes.concentration(cr["revenue_ltm"]), short)
    text = " ".join(lines)
    assert "twelve months" not in text and "the year before" not in text and "grew" not in text
    assert lines[0] == "Revenue over the ten months of data (1 Dec 2010 to 30 Sep 2011) is 100."
    migration = pd.DataFrame({"from_tier": ["New"], "to_tier": ["Gold"], "clients": [3], "revenue": [100.0]})
    said = evidence.migration_sentences(migration, short)
    assert len(said) == 1 and "not measured" in said[0] and "first time in" not in said[0]
