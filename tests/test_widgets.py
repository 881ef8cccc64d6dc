"""Explorers: pure renderers escape client text; widgets re-render when a control changes."""
import pandas as pd
import pytest

from clientstrategy import nb, widgets


@pytest.fixture
def profile():
    return pd.DataFrame({"client_id": ["A", "B", "C"], "revenue_ltm": [300.0, 200.0, 100.0],
                         "tier": ["Platinum", "Gold", "Gold"], "clv": [1000.0, 500.0, 50.0],
                         "segment": ["s1", "s2", "s2"], "intent": ["grow", "maintain", None]})


def test_client_card_escapes_names_and_handles_unknown_ids(profile):
    clients = pd.DataFrame({"client_id": ["A"], "client_name": ["<script>alert(1)</script>"]})
    html = widgets.client_card("A", profile, clients=clients)
    assert "<script>" not in html and "&lt;script&gt;" in html and "Platinum" in html
    assert "No client with id" in widgets.client_card("<b>Z</b>", profile) and "<b>Z</b>" not in widgets.client_card("<b>Z</b>", profile)


def test_portfolio_view_filters(profile):
    assert "<strong>2</strong> clients" in widgets.portfolio_view(profile, {"tier": "Gold"})
    assert "No client matches" in widgets.portfolio_view(profile, {"tier": "Bronze"})
    with pytest.raises(ValueError, match="region"):
        widgets.portfolio_view(profile, {"region": "UK"})


def test_widgets_react_to_value_changes(profile):
    lookup = widgets.client_lookup(profile)
    pick, card = lookup.children
    pick.value = "B"
    assert "Gold" in card.value and "(B)" in card.value
    pick.value = "Q"  # typed, not in the list: said plainly, not ignored
    assert "No client with id <code>Q</code>" in card.value and "Gold" not in card.value
    pick.value = ""
    assert "Type a client id" in card.value
    filt = widgets.portfolio_filter(profile)
    drops, view = filt.children
    tier = next(d for d in drops.children if d.description == "Tier")
    tier.value = "Platinum"
    assert "<strong>1</strong> client;" in view.value  # one client, not "1 clients"
    assert {d.description for d in drops.children} == {"Tier", "Segment", "Intent"}


def test_batch_runs_show_the_static_form(monkeypatch):
    monkeypatch.setenv("CLIENTSTRATEGY_BATCH", "1")
    assert widgets.is_batch()
    monkeypatch.delenv("CLIENTSTRATEGY_BATCH")
    assert not widgets.is_batch()


def test_tables_read_like_the_reports():
    big = pd.DataFrame({"client_id": ["A", "B"], "revenue_ltm": [1_234_567.0, 45_300.0], "tier": ["Gold", "Bronze"],
                        "growth": [0.123, float("inf")], "p_alive": [0.71, 0.5], "clv": [2.5e6, None],
                        "segment": ["s1", "s2"]})
    html = widgets.portfolio_view(big)
    # the report's money and percentage helpers, business headers, no snake_case
    for text in ("1.2m", "45k", "+12%", "71%", "2.5m", "Revenue, last 12 months", "Chance still active",
                 "Lifetime value", "<th>Client</th>"):
        assert text in html, text
    assert "revenue_ltm" not in html and "p_alive" not in html and "inf" not in html and "1234567" not in html
    # numeric columns right-aligned (the report's cs-num), text columns left
    assert '<th class="cs-num">Revenue, last 12 months</th>' in html and '<td class="cs-num">1.2m</td>' in html
    assert '<td class="cs-num">\u2013</td>' in html  # growth of a new client, lifetime value unknown: a dash
    assert "<td>Gold</td>" in html and "<th>Tier</th>" in html
    card = widgets.client_card("A", big)
    assert "<th>Revenue, last 12 months</th><td>1.2m</td>" in card and "<th>Growth</th><td>+12%</td>" in card


def test_unknown_client_gets_the_closest_ids(profile):
    assert "(A)" in widgets.client_card(" a ", profile)  # case and spaces forgiven when the match is unique
    many = pd.DataFrame({"client_id": ["C0001", "C0002", "C0100"], "revenue_ltm": [1.0, 2.0, 3.0]})
    out = widgets.client_card("C0003", many)
    assert "No client with id <code>C0003</code>" in out and "<code>C0001</code>" in out


def test_live_explorers_carry_their_own_alignment(profile):
    _drops, view = widgets.portfolio_filter(profile).children
    assert 'class="cs-explorer"' in view.value and "td.cs-num" in view.value and "text-align:right" in view.value
    assert "<style>" not in widgets.portfolio_view(profile)  # the static form uses the page's one stylesheet


def test_a_client_almost_surely_gone_is_shown_with_its_chance_of_buying_at_all():
    """A range of [0, 0] purchases under an expectation of 0.3 excludes its own expectation: the card
    gives the chance of buying at all (from the run's purchase model in models.json) instead."""
    from clientstrategy import clv

    rev = pd.DataFrame({"date": pd.to_datetime(["2024-01-05", "2024-02-05", "2024-03-05", "2026-06-01", "2026-09-01"]),
                        "client_id": ["G", "G", "G", "A", "A"], "amount": [10.0, 10.0, 10.0, 50.0, 50.0]})
    model = clv.BetaGeoModel()
    model.params_ = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}
    models = {"purchase_model": clv.model_to_dict(model)}
    profile = pd.DataFrame({"client_id": ["A", "G"], "revenue_ltm": [100.0, 0.0], "expected_purchases_12m": [3.2, 0.31],
                            "expected_purchases_12m_low": [1.0, 0.0], "expected_purchases_12m_high": [6.0, 0.0],
                            "p_alive": [0.97, 0.04]})
    card = widgets.client_card("G", profile, revenue=rev, as_of=pd.Timestamp("2026-09-30"), models=models)
    summary = clv.rfm_summary(rev, pd.Timestamp("2026-09-30"))
    p_any = float(model.p_any_purchase(clv.WEEKS_PER_YEAR, summary[summary["client_id"] == "G"])[0])
    assert 0 < p_any < 0.5
    assert f"most likely none: the chance of buying at all is {nb.pct(p_any)}" in card and "range 0 to 0" not in card
    assert "Expected purchases, next 12 months" in card and "expected_purchases_12m" not in card
    assert "3.2 (range 1 to 6)" in widgets.client_card("A", profile, revenue=rev, as_of=pd.Timestamp("2026-09-30"),
                                                      models=models)
    assert "Chance still active" in card and "4%" in card  # shares as percentages, headers in words
