"""evidence: the back-test in words, ties included."""
from clientstrategy import evidence

# Maven CRM's back-test: every account bought in the held-out weeks, so who-buys-at-all measures are
# 0 for the model and for 'same rate as before' alike (AUC is undefined and absent).
MAVEN = {"holdout_weeks": 26, "interval_level": 0.8,
         "totals": {"actual_purchases": 2216, "predicted_purchases": 2406.8},
         "model": {"mae": 6.16, "rmse": 7.73, "spearman": 0.583, "coverage": 0.79, "brier": 0.0, "calibration_error": 0.0},
         "baselines": {"same_rate": {"mae": 6.75, "rmse": 8.30, "spearman": 0.591, "brier": 0.0, "calibration_error": 0.0},
                       "nothing_happens": {"mae": 26.1, "rmse": 27.9, "brier": 1.0, "calibration_error": 1.0}}}


def test_a_tie_with_a_simple_rule_is_not_reported_as_a_win():
    text = " ".join(evidence.backtest_sentences(MAVEN))
    assert "beat every simple rule on mean absolute error of purchases per client (6.16); root mean squared" in text
    assert "Brier" not in text.split("It only tied")[0]
    assert "It only tied a simple rule on Brier score of who buys at all (0, as does 'same rate as before')" in text
    head = evidence.backtest_headline(MAVEN)
    assert "on 2 of 5 measures (not on rank correlation of predicted and actual purchases); it tied them on Brier" in head


def test_headline_without_ties_is_unchanged():
    bt = {**MAVEN, "model": {**MAVEN["model"], "brier": 0.1, "calibration_error": 0.05},
          "baselines": {"same_rate": {"mae": 7.0, "brier": 0.2}}}
    assert evidence.backtest_headline(bt) == ("Back-test over 26 weeks: predicted 2,407 purchases against 2,216 actual "
                                              "(+9%); the model beat the simple rules on 2 of 2 measures.")


def test_health_says_so_when_touches_cannot_follow_size():
    """Bank Marketing: one call per client and every deposit worth 1: the rank correlation is undefined
    and used to be printed as 'nan'."""
    import pandas as pd

    from clientstrategy import health

    ids = [f"c{i}" for i in range(12)]
    tables = {"revenue": pd.DataFrame({"date": pd.Timestamp("2010-06-01"), "client_id": ids, "amount": 1.0}),
              "activities": pd.DataFrame({"timestamp": pd.Timestamp("2010-05-01"), "client_id": ids,
                                          "activity_type": "call", "outcome": "answered"})}
    text = " ".join(health.bias_cautions(tables, pd.Timestamp("2010-09-30")))
    assert "nan" not in text and "Every client with revenue has the same touches (1)" in text
