"""Explorers: pure renderers escape client text; widgets re-render when a control changes."""
import pandas as pd
import pytest

from clientstrategy import widgets


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
