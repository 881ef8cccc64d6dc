"""Step 1 against the sample's planted truth: churned clients look inactive to the purchase model."""
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from clientstrategy import clv, sample


@pytest.fixture(scope="module")
def default_sample():
    return sample.generate("default")


def test_purchase_model_recovers_planted_churn(default_sample):
    as_of = pd.Timestamp(sample.AS_OF)
    summary = clv.rfm_summary(default_sample.tables["revenue"], as_of)
    model = clv.BetaGeoModel().fit(summary)
    truth = default_sample.truth["clients"].set_index("client_id")
    churned_by_as_of = (truth["churned"].astype(bool)
                        & (pd.to_datetime(truth["churn_date"]) <= as_of)).reindex(summary["client_id"]).fillna(False)
    p_alive = model.p_alive(summary)
    auc = roc_auc_score(churned_by_as_of.to_numpy(), -p_alive)
    assert churned_by_as_of.sum() > 100
    assert auc > 0.8, f"p_alive separates planted churners with AUC {auc:.3f}"
    # and the separation is not an artefact of size: churners' median p_alive is far below the rest's
    assert pd.Series(p_alive)[churned_by_as_of.to_numpy()].median() < 0.5 < pd.Series(p_alive)[~churned_by_as_of.to_numpy()].median()
