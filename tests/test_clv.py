"""Tests of clientstrategy.clv: BG/NBD and Gamma-Gamma against Fader, Hardie & Lee (2005) on CDNOW,
against independent transcriptions of the closed forms, and against data simulated from known
parameters; plus hand-computed summaries and the input checks."""
import doctest
import json

import numpy as np
import pandas as pd
import pytest
from scipy import integrate
from scipy.special import hyp2f1

from clientstrategy import clv
from clientstrategy.clv import (
    BetaGeoModel,
    GammaGammaModel,
    backtest,
    calibration_by_frequency,
    cumulative_purchases,
    customer_value,
    plot_conditional,
    plot_reliability,
    plot_tracking,
    rfm_summary,
)
from conftest import shared_dataset

CDNOW = shared_dataset("cdnow")  # ../shared/datasets beside the project (tests/conftest.py)
PAPER = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # FHL 2005, 39-week calibration, weeks
PAPER_GG = {"p": 6.25, "q": 3.74, "v": 15.44}  # FHL 2005 "RFM and CLV", 946 repeat buyers
CAL_END = pd.Timestamp("1997-09-30")
END = pd.Timestamp("1998-06-30")

needs_cdnow = pytest.mark.skipif(not (CDNOW / "CDNOW_sample.txt").exists(), reason="CDNOW data not present")


@pytest.fixture(scope="module")
def cdnow():
    """The CDNOW sample as a canonical revenue table (client ids from the master file)."""
    tx = pd.read_csv(CDNOW / "CDNOW_sample.txt", sep=r"\s+", header=None,
                     names=["cid", "sample_id", "date", "qty", "amount"])
    return pd.DataFrame({"date": pd.to_datetime(tx["date"].astype(str), format="%Y%m%d"),
                         "client_id": "CD" + tx["cid"].astype(str).str.zfill(5),
                         "amount": tx["amount"].astype(float),
                         "sample_id": tx["sample_id"].astype(str)})


@pytest.fixture(scope="module")
def cdnow_fit(cdnow):
    s = rfm_summary(cdnow, CAL_END)
    return s, BetaGeoModel().fit(s), GammaGammaModel().fit(s)


# ---------------------------------------------------------------- paper's closed forms, transcribed
# Copied from /work/shared/acceptance/bgnbd.py (FHL 2005 eqs. (10) and (13)), independent of clv.py.
def paper_conditional_expectation(t, x, t_x, T, r, alpha, a, b):
    x, t_x, T = (np.asarray(v, float) for v in (x, t_x, T))
    num = (a + b + x - 1) / (a - 1) * (
        1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t)))
    return num / (1 + (x > 0) * a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x))


def paper_p_alive(x, t_x, T, r, alpha, a, b):
    x, t_x, T = (np.asarray(v, float) for v in (x, t_x, T))
    return np.where(x > 0, 1 / (1 + a / np.maximum(b + x - 1, 1e-12) * ((alpha + T) / (alpha + t_x)) ** (r + x)), 1.0)


def expectation_by_quadrature(t, x, t_x, T, r, alpha, a, b):
    """E[X(T, T+t)] from first principles: P(alive) * E over the posterior of (1 - exp(-lambda p t)) / p.

    Given alive, lambda ~ Gamma(r + x, rate alpha + T) and p ~ Beta(a, b + x); the lambda integral is
    E[exp(-lambda p t)] = ((alpha + T) / (alpha + T + p t)) ** (r + x); p is integrated numerically.
    No hypergeometric function involved.
    """
    from scipy.stats import beta as beta_dist

    rate = alpha + T

    def f(p):
        return (1 - (rate / (rate + p * t)) ** (r + x)) / p * beta_dist.pdf(p, a, b + x)

    val, _ = integrate.quad(f, 0, 1, limit=200, epsabs=1e-12, epsrel=1e-10)
    return float(paper_p_alive(x, t_x, T, r, alpha, a, b)) * val


def simulate_bgnbd(n, r, alpha, a, b, hold, seed):
    """BG/NBD customers event by event: trial at 0, Exp(lambda) gaps, drop-out with prob p after each
    repeat purchase; calibration ends at T ~ U(26, 39) weeks, holdout of ``hold`` weeks after it."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    T = np.round(rng.uniform(26, 39, n) * 7) / 7
    rows = []
    for i in range(n):
        now, times = 0.0, []
        while True:
            now += rng.exponential(1 / lam[i])
            if now > T[i] + hold:
                break
            times.append(now)
            if rng.random() < p[i]:
                break
        times = np.array(times)
        cal = times[times <= T[i]]
        rows.append((str(i), len(cal), cal.max() if len(cal) else 0.0, T[i], int((times > T[i]).sum())))
    return pd.DataFrame(rows, columns=["client_id", "x", "t_x", "T", "holdout"])


# ------------------------------------------------------------------------------- RFM summary
def test_rfm_summary_hand_computed():
    rev = pd.DataFrame({
        "date": pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-08", "2024-01-22", "2024-01-29",
                                "2024-01-01", "2024-01-15", "2024-01-15",
                                "2024-01-08", "2024-02-05",
                                "2023-12-01"]),
        "client_id": ["A", "A", "A", "A", "A", "B", "B", "B", "C", "C", "D"],
        "amount": [100.0, 30.0, 10.0, 50.0, -20.0, 40.0, 25.0, -25.0, -5.0, 80.0, 7.0],
    })
    s = rfm_summary(rev, pd.Timestamp("2024-01-29"))
    # A: days 01-01 (100), 01-08 (40), 01-22 (50) positive; 01-29 credit only -> not a purchase
    # B: 01-15 nets to 0 -> only 01-01; C: only a credit by as_of (02-05 is later) -> dropped; D: 1 day
    assert s["client_id"].tolist() == ["A", "B", "D"]
    a = s.iloc[0]
    assert (a["x"], a["purchase_days"]) == (2, 3)
    assert a["t_x"] == pytest.approx(3.0) and a["T"] == pytest.approx(4.0)
    assert a["monetary"] == pytest.approx((40 + 50) / 2)
    assert a["revenue_total"] == pytest.approx(100 + 40 + 50 - 20)
    assert a["first_purchase"] == pd.Timestamp("2024-01-01") and a["last_purchase"] == pd.Timestamp("2024-01-22")
    b = s.iloc[1]
    assert (b["x"], b["monetary"], b["t_x"], b["revenue_total"]) == (0, 0.0, 0.0, 40.0)
    d = s.iloc[2]
    assert d["T"] == pytest.approx(59 / 7)
    # start is exclusive: from 2024-01-01 on, A's first purchase is 01-08 and D has nothing
    s2 = rfm_summary(rev, pd.Timestamp("2024-02-05"), start=pd.Timestamp("2024-01-01"))
    # B's only day in the window nets to 0 (a credit cancels it): no purchase, even counting free orders
    assert s2["client_id"].tolist() == ["A", "C"]
    assert s2.iloc[0]["x"] == 1 and s2.iloc[0]["T"] == pytest.approx(4.0)
    assert s2.iloc[1]["x"] == 0 and s2.iloc[1]["T"] == 0.0
    assert rfm_summary(rev, pd.Timestamp("2024-02-05"), start=pd.Timestamp("2024-01-01"),
                       zero_amount_purchases=True)["client_id"].tolist() == ["A", "C"]
    assert list(s2.columns) == ["client_id", "x", "t_x", "T", "monetary", "first_purchase", "last_purchase",
                                "purchase_days", "revenue_total"]
    # inputs untouched; a free order counts only when asked
    assert rev.shape == (11, 3)
    free = pd.DataFrame({"date": pd.to_datetime(["2024-01-01"]), "client_id": ["Z"], "amount": [0.0]})
    assert rfm_summary(free, pd.Timestamp("2024-01-08"), zero_amount_purchases=False).empty
    assert rfm_summary(free, pd.Timestamp("2024-01-08"))["x"].tolist() == [0]


# --------------------------------------------------------------------------- (1) paper's fit
@needs_cdnow
def test_bgnbd_reproduces_paper_on_cdnow(cdnow, cdnow_fit):
    # The paper's cohort: 2,357 customers, including 8 whose only order was $0 (free CD).
    paper_cohort = rfm_summary(cdnow, CAL_END, zero_amount_purchases=True)
    assert len(paper_cohort) == 2357
    m = BetaGeoModel().fit(paper_cohort)
    for k, v in PAPER.items():
        assert m.params_[k] == pytest.approx(v, rel=0.01), k
    assert m.loglik_ == pytest.approx(-9582.4, abs=0.5)
    assert m.n_ == 2357
    # The workbook's default counts free orders as the paper does: the same cohort and fit.
    s, bgf, _ = cdnow_fit
    assert len(s) == 2357 and bgf.loglik_ == pytest.approx(-9582.4, abs=0.5)
    # The strict rule (positive net days only) drops those 8 clients; the fit stays the paper's.
    strict = rfm_summary(cdnow, CAL_END, zero_amount_purchases=False)
    assert len(strict) == 2349
    sb = BetaGeoModel().fit(strict)
    for k, v in PAPER.items():
        assert sb.params_[k] == pytest.approx(v, rel=0.01), k
    s = strict
    # and the summary equals the published one (x, t_x, T rounded to 2 decimals)
    ref = pd.read_csv(CDNOW / "cdnow_customers_summary_with_transactions.csv")
    ids = cdnow.drop_duplicates("client_id").set_index("client_id")["sample_id"]
    j = s.assign(ID=s["client_id"].map(ids).astype(int)).merge(ref, on="ID", suffixes=("", "_ref"))
    assert len(j) == 2349
    assert (j["x"] == j["x_ref"]).all()
    assert np.abs(j["t_x"] - j["t_x_ref"]).max() < 0.006 and np.abs(j["T"] - j["T_ref"]).max() < 0.006


# ------------------------------------------------------------------- (2) per-client closed forms
@needs_cdnow
def test_per_client_values_equal_paper_formulas(cdnow_fit):
    s, bgf, _ = cdnow_fit
    p = bgf.params_
    want_alive = paper_p_alive(s["x"], s["t_x"], s["T"], **p)
    np.testing.assert_allclose(bgf.p_alive(s), want_alive, rtol=1e-10, atol=1e-12)
    for t in (39.0, 52.1775):
        want = paper_conditional_expectation(t, s["x"], s["t_x"], s["T"], **p)
        np.testing.assert_allclose(bgf.expected_purchases(t, s), want, rtol=1e-10)
    # first principles (no hypergeometric function) for a spread of histories
    pick = s.sort_values(["x", "t_x"]).iloc[np.linspace(0, len(s) - 1, 9).astype(int)]
    got = bgf.expected_purchases(39.0, pick)
    for g, (_, row) in zip(got, pick.iterrows()):
        assert g == pytest.approx(expectation_by_quadrature(39.0, row["x"], row["t_x"], row["T"], **p), rel=1e-7)
    # heavy buyers (B2B clients buy weekly): still the first-principles value, and no overflow
    heavy = BetaGeoModel()
    heavy.params_ = {"r": 2.0, "alpha": 3.0, "a": 0.5, "b": 6.0}
    big = pd.DataFrame({"x": [300, 2000], "t_x": [155.0, 100.0], "T": [156.0, 156.0]})
    with np.errstate(all="raise"):
        e = heavy.expected_purchases(52.1775, big)
    assert e[0] == pytest.approx(expectation_by_quadrature(52.1775, 300, 155.0, 156.0, **heavy.params_), rel=1e-8)
    assert 0 <= e[1] < 1e-12  # 2,000 purchases, none in the last year: gone
    # P(any purchase): alive times at least one Poisson arrival, hand formula at the paper's values
    one = pd.DataFrame({"x": [2], "t_x": [30.43], "T": [38.86]})
    m = BetaGeoModel()
    m.params_ = dict(PAPER)
    alive = 1 / (1 + 0.793 / (2.426 + 1) * ((4.414 + 38.86) / (4.414 + 30.43)) ** 2.243)
    assert m.p_any_purchase(39, one)[0] == pytest.approx(alive * (1 - (43.274 / 82.274) ** 2.243), rel=1e-12)
    # unconditional E[X(t)] equals the conditional one of a client with x = 0 seen at T = 0
    zero = pd.DataFrame({"x": [0], "t_x": [0.0], "T": [0.0]})
    assert m.expected_population(26.0) == pytest.approx(m.expected_purchases(26.0, zero)[0], rel=1e-12)


# ----------------------------------------------------------------------------- (3) Gamma-Gamma
@needs_cdnow
def test_gamma_gamma_reproduces_paper(cdnow, cdnow_fit):
    s, _, ggf = cdnow_fit
    assert ggf.n_ == 946
    for k, v in PAPER_GG.items():
        assert ggf.params_[k] == pytest.approx(v, rel=0.02), k
    # the published zbar is the mean of the repeat purchase days' amounts: the same fit
    ref = pd.read_csv(CDNOW / "cdnow_customers_summary_with_transactions.csv")
    g = GammaGammaModel().fit(ref.rename(columns={"zbar": "monetary"}))
    for k, v in PAPER_GG.items():
        assert g.params_[k] == pytest.approx(v, rel=0.02), k
    # whereas averaging per transaction line (146 days hold several lines) does not give the paper's p
    cal = cdnow[cdnow["date"] <= CAL_END].sort_values(["client_id", "date"], kind="stable")
    first = cal.groupby("client_id")["date"].transform("min")
    rep = cal[cal["date"] > first].groupby("client_id")["amount"].mean()
    per_line = s.assign(monetary=s["client_id"].map(rep).fillna(0.0).to_numpy())
    assert abs(GammaGammaModel().fit(per_line).params_["p"] / PAPER_GG["p"] - 1) > 0.02
    # conditional expected spend, by hand: p (v + x m) / (p x + q - 1); x = 0 -> p v / (q - 1)
    gg = GammaGammaModel()
    gg.params_ = dict(PAPER_GG)
    spend = gg.expected_spend(pd.DataFrame({"x": [2, 0], "monetary": [22.35, 0.0]}))
    assert spend[0] == pytest.approx(6.25 * (15.44 + 2 * 22.35) / (6.25 * 2 + 3.74 - 1))
    assert spend[1] == pytest.approx(6.25 * 15.44 / 2.74)


# ------------------------------------------------------------------------------- (4) back-test
@needs_cdnow
def test_backtest_on_cdnow(cdnow):
    clients, metrics = backtest(cdnow, END, holdout_weeks=39, level=0.8, random_state=0)
    assert metrics["calibration_end"] == "1997-09-30"
    for k, v in PAPER.items():
        assert metrics["purchase_model"][k] == pytest.approx(v, rel=0.01), k
    assert list(clients.columns) == ["client_id", "calibration_purchases", "actual_purchases",
                                     "predicted_purchases", "purchases_low", "purchases_high", "p_any_purchase",
                                     "actual_revenue", "predicted_revenue"]
    # actual purchases = distinct holdout days, read straight from the raw file
    days, first = {}, {}
    for line in (CDNOW / "CDNOW_sample.txt").read_text().split("\n"):
        if line.strip():
            cid, _, day, _, _ = line.split()
            cid = "CD" + cid.zfill(5)
            first[cid] = min(first.get(cid, day), day)
            if "19970930" < day <= "19980630":
                days.setdefault(cid, set()).add(day)
    want = clients["client_id"].map(lambda c: len(days.get(c, ())))
    assert (clients["actual_purchases"] == want).all()
    assert clients["actual_purchases"].sum() == 1882  # the paper's holdout total (2,349 clients)
    # predictions are the closed forms at the calibration fit
    cal = rfm_summary(cdnow, CAL_END)
    p = metrics["purchase_model"]
    np.testing.assert_allclose(clients["predicted_purchases"],
                               paper_conditional_expectation(39, cal["x"], cal["t_x"], cal["T"], **p),
                               rtol=1e-4)
    cov = metrics["model"]["coverage"]
    assert 0.75 <= cov <= 0.97
    assert cov == pytest.approx(((clients["actual_purchases"] >= clients["purchases_low"])
                                 & (clients["actual_purchases"] <= clients["purchases_high"])).mean(), abs=1e-6)
    # the model beats "same rate" and "nothing happens" on MAE (the paper's point)
    assert metrics["model"]["mae"] < metrics["baselines"]["nothing_happens"]["mae"]
    assert metrics["model"]["mae"] < metrics["baselines"]["same_rate"]["mae"]
    assert metrics["baselines"]["nothing_happens"]["brier"] == pytest.approx(
        (clients["actual_purchases"] > 0).mean(), abs=1e-6)
    assert set(metrics["baselines"]["recency_rank"]) == {"auc"}
    assert metrics["totals"]["actual_purchases"] == 1882
    assert json.loads(json.dumps(metrics)) == metrics
    # figure tables: cumulative actuals add up to the calibration and holdout counts
    bgf = BetaGeoModel().fit(cal)
    cum = cumulative_purchases(cdnow, bgf, cal, CAL_END, END)
    at_cal = cum.loc[cum["week"] <= CAL_END, "actual"].iloc[-1]
    assert cum.loc[cum["week"] <= CAL_END, "week"].iloc[-1] == CAL_END
    assert at_cal == cal["x"].sum()
    assert cum["actual"].iloc[-1] == cal["x"].sum() + 1882
    assert cum["week"].iloc[-1] == END and cum["actual"].is_monotonic_increasing
    # the fitted model tracks the calibration period's total within 3%
    assert cum.loc[cum["week"] == CAL_END, "expected"].iloc[0] == pytest.approx(at_cal, rel=0.03)
    table = calibration_by_frequency(clients)
    assert table["clients"].sum() == len(clients)
    assert table["calibration_purchases"].iloc[-1] == "7+"
    x0 = clients["calibration_purchases"] == 0
    assert table["mean_actual"].iloc[0] == pytest.approx(clients.loc[x0, "actual_purchases"].mean())
    for fig in (plot_tracking(cum), plot_conditional(table), plot_reliability(clients)):
        assert fig.axes[0].get_xlabel() and fig.axes[0].get_ylabel()


# ------------------------------------------------------------------- (5) coverage on simulated data
def test_interval_coverage_on_simulated_bgnbd():
    truth = {"r": 0.5, "alpha": 6.0, "a": 0.8, "b": 2.5}
    sim = simulate_bgnbd(4000, hold=26.0, seed=7, **truth)
    m = BetaGeoModel().fit(sim)
    # the mean purchase rate r / alpha is recovered
    assert m.params_["r"] / m.params_["alpha"] == pytest.approx(truth["r"] / truth["alpha"], rel=0.15)
    for level in (0.8, 0.5):
        fitted = m.purchase_interval(26.0, sim, level=level, n_draws=2000, random_state=1)
        cov = ((sim["holdout"] >= fitted["low"]) & (sim["holdout"] <= fitted["high"])).mean()
        assert level - 0.03 <= cov <= 0.98, (level, cov)
    # total predicted purchases are near the simulated total
    assert m.expected_purchases(26.0, sim).sum() == pytest.approx(sim["holdout"].sum(), rel=0.1)
    # the interval's mean is the model's conditional expectation (simulation against closed form)
    np.testing.assert_allclose(fitted["mean"].sum(), m.expected_purchases(26.0, sim).sum(), rtol=0.02)


def test_predictive_simulation_matches_closed_forms():
    # The simulated predictive distribution behind the intervals has the closed forms' mean and
    # P(no purchase) = 1 - P(any purchase), client by client.
    m = BetaGeoModel()
    m.params_ = dict(PAPER)
    s = pd.DataFrame({"x": [0, 1, 3, 7, 15, 2], "t_x": [0.0, 5.0, 30.0, 36.0, 37.0, 4.0],
                      "T": [38.0, 38.0, 38.0, 38.0, 38.0, 38.0]})
    _, counts, arrivals = next(m._simulate_counts(s, 40_000, 39.0, np.random.default_rng(5)))
    assert (counts <= arrivals).all()
    np.testing.assert_allclose((counts == 0).mean(axis=1), 1 - m.p_any_purchase(39.0, s), atol=0.008)
    np.testing.assert_allclose(counts.mean(axis=1), m.expected_purchases(39.0, s), rtol=0.03, atol=0.005)


def test_weights_equal_repeated_rows():
    # a fit with weight 2 on a row is the fit with that row twice (the bootstrap rests on it)
    sim = simulate_bgnbd(300, r=0.5, alpha=6.0, a=0.8, b=2.5, hold=0.0, seed=3)
    sim["monetary"] = np.where(sim["x"] > 0, np.random.default_rng(4).lognormal(3.0, 0.6, len(sim)), 0.0)
    w = np.where(sim.index.to_numpy() % 3 == 0, 2.0, 1.0)
    doubled = pd.concat([sim, sim[w == 2]], ignore_index=True)
    for cls in (BetaGeoModel, GammaGammaModel):
        a, b = cls().fit(sim, weights=w), cls().fit(doubled)
        assert a.n_ == b.n_
        assert a.loglik_ == pytest.approx(b.loglik_, rel=1e-9)
        for k in a.params_:
            assert a.params_[k] == pytest.approx(b.params_[k], rel=1e-5), (cls.__name__, k)
    with pytest.raises(ValueError, match="weights has 2 values"):
        BetaGeoModel().fit(sim, weights=[1.0, 2.0])


def test_draws_match_closed_forms_and_bootstrap_widens_small_fits():
    m = BetaGeoModel()
    m.params_ = dict(PAPER)
    g = GammaGammaModel()
    g.params_ = dict(PAPER_GG)
    s = pd.DataFrame({"x": [0, 1, 3, 7], "t_x": [0.0, 5.0, 30.0, 36.0], "T": [38.0] * 4,
                      "monetary": [0.0, 20.0, 35.0, 50.0]})
    k = m.draw_purchases(39.0, s, n_draws=40_000, random_state=2)
    np.testing.assert_allclose(k.mean(axis=1), m.expected_purchases(39.0, s), rtol=0.03, atol=0.005)
    rev = g.draw_revenue(k, s, random_state=3)
    assert (rev[k == 0] == 0).all() and (rev[k > 0] > 0).all()
    np.testing.assert_allclose(rev.mean(axis=1), m.expected_purchases(39.0, s) * g.expected_spend(s), rtol=0.05)
    # parameter uncertainty: the spread of bootstrap refits shrinks with the number of clients
    spread = []
    for n in (150, 2400):
        sim = simulate_bgnbd(n, r=0.5, alpha=6.0, a=0.8, b=2.5, hold=0.0, seed=11)
        sim["monetary"] = np.where(sim["x"] > 0, np.random.default_rng(5).lognormal(3.0, 0.6, n), 0.0)
        fits = clv.bootstrap(sim, n_boot=30, random_state=4)
        rates = [p.params_["r"] / p.params_["alpha"] for p, _ in fits]
        spread.append(np.std(rates))
    assert spread[0] > 2 * spread[1]


def test_discrete_bounds_hand_computed():
    # draws 0..9 once each: F(v) = (v + 1) / 10; level 0.8 -> smallest v with F >= 0.1 is 0, with
    # F >= 0.9 is 8; level 0.5 -> F >= 0.25 at 2, F >= 0.75 at 7
    draws = np.arange(10)[None, :]
    assert [float(v[0]) for v in clv._discrete_bounds(draws, 0.8)] == [0.0, 8.0]
    assert [float(v[0]) for v in clv._discrete_bounds(draws, 0.5)] == [2.0, 7.0]
    # heavy mass at zero: 70% zeros, then 1, 2, 3 -> level 0.8 gives [0, 2]
    draws = np.array([[0] * 7 + [1, 2, 3]])
    assert [float(v[0]) for v in clv._discrete_bounds(draws, 0.8)] == [0.0, 2.0]


# --------------------------------------------------------------------------------- customer value
def test_customer_value_closed_form_and_simulation():
    bgf = BetaGeoModel()
    bgf.params_ = dict(PAPER)
    s = pd.DataFrame({"client_id": ["a", "b", "c"], "x": [0, 2, 8], "t_x": [0.0, 30.43, 37.0],
                      "T": [38.86, 38.86, 38.0], "monetary": [0.0, 22.35, 40.0]})
    ggf = GammaGammaModel()
    ggf.params_ = dict(PAPER_GG)
    out = customer_value(bgf, ggf, s, horizon_months=36, annual_discount=0.10, n_draws=4000)
    assert list(out.columns) == ["client_id", "expected_purchases_12m", "expected_purchases_12m_low",
                                 "expected_purchases_12m_high", "clv", "clv_low", "clv_high", "p_alive",
                                 "expected_spend"]
    e12 = paper_conditional_expectation(52.1775, s["x"], s["t_x"], s["T"], **PAPER)
    np.testing.assert_allclose(out["expected_purchases_12m"], e12, rtol=1e-10)
    # clv by hand: month m's expected purchases x spend / 1.1 ** (m / 12)
    month = 52.1775 / 12
    cum = [paper_conditional_expectation(m * month, s["x"], s["t_x"], s["T"], **PAPER) for m in range(37)]
    spend = ggf.expected_spend(s)
    want = sum((cum[m] - cum[m - 1]) / 1.1 ** (m / 12) for m in range(1, 37)) * spend
    np.testing.assert_allclose(out["clv"], want, rtol=1e-10)
    assert (out["clv_low"] <= out["clv"]).all() and (out["clv"] <= out["clv_high"]).all()
    assert (out["expected_purchases_12m_low"] <= out["expected_purchases_12m_high"]).all()
    # the month-by-month simulation agrees with the direct one of purchase_interval at 12 months
    itv = bgf.purchase_interval(52.1775, s, level=0.8, n_draws=4000, random_state=3)
    np.testing.assert_array_equal(out["expected_purchases_12m_low"], itv["low"])
    np.testing.assert_array_equal(out["expected_purchases_12m_high"], itv["high"])
    # with spend almost certain (p, q huge) and no discount, the CLV bounds are spend x purchase bounds
    sure = GammaGammaModel()
    sure.params_ = {"p": 1e7, "q": 1e7, "v": 50.0}  # posterior spend ~= v = 50 for x = 0
    one = s.iloc[[0]]
    o = customer_value(bgf, sure, one, horizon_months=12, annual_discount=0.0, level=0.8, n_draws=4000)
    assert o["clv"].iloc[0] == pytest.approx(o["expected_purchases_12m"].iloc[0] * 50.0, rel=1e-4)
    assert o["clv_high"].iloc[0] == pytest.approx(50.0 * o["expected_purchases_12m_high"].iloc[0], rel=0.05)
    # deterministic
    pd.testing.assert_frame_equal(out, customer_value(bgf, ggf, s, n_draws=4000))


def test_customer_value_draw_budget_caps_simulation_not_expectations():
    """Past the budget each client gets fewer draws; the expectations are exact either way and the
    80% bounds stay close to those of the full simulation."""
    bgf = BetaGeoModel()
    bgf.params_ = dict(PAPER)
    ggf = GammaGammaModel()
    ggf.params_ = dict(PAPER_GG)
    rng = np.random.default_rng(0)
    n = 400
    x = rng.integers(0, 10, n)
    T = np.full(n, 38.0)
    s = pd.DataFrame({"client_id": [f"c{i}" for i in range(n)], "x": x,
                      "t_x": np.where(x > 0, rng.uniform(1, 38, n), 0.0), "T": T,
                      "monetary": np.where(x > 0, rng.uniform(10, 60, n), 0.0)})
    full = customer_value(bgf, ggf, s, n_draws=2000, draw_budget=None)
    capped = customer_value(bgf, ggf, s, n_draws=2000, draw_budget=n * 300)
    assert full.attrs["n_draws"] == 2000 and capped.attrs["n_draws"] == 300
    assert customer_value(bgf, ggf, s.head(5), n_draws=2000, draw_budget=50).attrs["n_draws"] == 200
    assert customer_value(bgf, ggf, s.head(5), n_draws=100, draw_budget=50).attrs["n_draws"] == 100
    for col in ("expected_purchases_12m", "clv", "p_alive", "expected_spend"):
        np.testing.assert_array_equal(full[col], capped[col])
    width = (full["clv_high"] - full["clv_low"]).where(lambda w: w > 0)
    for col in ("clv_low", "clv_high"):
        rel = (np.abs(capped[col] - full[col]) / width).median()
        assert rel < 0.1, (col, rel)
    with_buys = full["clv_high"] > 0
    assert (capped.loc[with_buys, "clv_high"] > capped.loc[with_buys, "clv_low"]).mean() > 0.9


def test_calibration_by_frequency_hand_computed():
    c = pd.DataFrame({"calibration_purchases": [0, 0, 1, 7, 12], "actual_purchases": [0, 1, 2, 4, 6],
                      "predicted_purchases": [0.2, 0.4, 1.0, 5.0, 7.0]})
    t = calibration_by_frequency(c)
    assert t["calibration_purchases"].tolist() == ["0", "1", "7+"]
    assert t["clients"].tolist() == [2, 1, 2]
    assert t["mean_actual"].tolist() == pytest.approx([0.5, 2.0, 5.0])
    assert t["mean_predicted"].tolist() == pytest.approx([0.3, 1.0, 6.0])


def test_expected_calibration_error_hand_computed():
    # bins [0.1, 0.1] -> |0.1 - 0.5| weight 0.5; [0.9, 0.9] -> |0.9 - 1| weight 0.5
    assert clv._ece([0.1, 0.1, 0.9, 0.9], [0, 1, 1, 1]) == pytest.approx(0.5 * 0.4 + 0.5 * 0.1)


# ------------------------------------------------------------------------------ (6) input checks
def test_missing_columns_raise_naming_them():
    rev = pd.DataFrame({"date": pd.to_datetime(["2024-01-01"]), "client_id": ["A"], "amount": [1.0]})
    for col in ("date", "client_id", "amount"):
        with pytest.raises(ValueError, match=col):
            rfm_summary(rev.drop(columns=col), pd.Timestamp("2024-02-01"))
        with pytest.raises(ValueError, match=col):
            backtest(rev.drop(columns=col), pd.Timestamp("2024-02-01"))
    s = pd.DataFrame({"client_id": ["A", "B"], "x": [1, 2], "t_x": [1.0, 2.0], "T": [3.0, 4.0],
                      "monetary": [5.0, 6.0]})
    for col in ("x", "t_x", "T"):
        with pytest.raises(ValueError, match=f"'{col}'"):
            BetaGeoModel().fit(s.drop(columns=col))
    with pytest.raises(ValueError, match="monetary"):
        GammaGammaModel().fit(s.drop(columns="monetary"))
    bgf = BetaGeoModel()
    bgf.params_ = dict(PAPER)
    ggf = GammaGammaModel()
    ggf.params_ = dict(PAPER_GG)
    with pytest.raises(ValueError, match="client_id"):
        customer_value(bgf, ggf, s.drop(columns="client_id"))
    with pytest.raises(ValueError, match="predicted_purchases"):
        calibration_by_frequency(pd.DataFrame({"calibration_purchases": [0], "actual_purchases": [0]}))
    with pytest.raises(ValueError, match="t_x"):
        BetaGeoModel().fit(s.assign(t_x=[5.0, 2.0]))  # t_x > T
    with pytest.raises(ValueError, match="not fitted"):
        BetaGeoModel().p_alive(s)


def test_docstring_examples():
    assert doctest.testmod(clv, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0


@needs_cdnow
@pytest.mark.slow
def test_cdnow_backtest_through_the_runner_and_notebook_01(cdnow, tmp_path):
    """The paper's 39-week case as a user runs it: make run DATA=<CDNOW> AS_OF=1998-06-30 HOLDOUT_WEEKS=39."""
    import json

    from clientstrategy import runner

    data = tmp_path / "cdnow"
    data.mkdir()
    cdnow[["date", "client_id", "amount"]].to_csv(data / "revenue.csv", index=False)
    published = runner.run(runner.RunConfig(data=str(data), out=tmp_path / "out", as_of="1998-06-30",
                                            holdout_weeks=39, notebooks=["00", "01"], progress=False))
    bt = json.loads((published / "artifacts" / "metrics.json").read_text())["backtest"]
    assert bt["holdout_weeks"] == 39 and str(bt["calibration_end"]).startswith("1997-09-30")
    fit = bt["purchase_model"]
    assert fit["r"] == pytest.approx(PAPER["r"], rel=0.03) and fit["a"] == pytest.approx(PAPER["a"], rel=0.03)
    assert fit["b"] == pytest.approx(PAPER["b"], rel=0.03)
    clients = pd.read_csv(published / "artifacts" / "backtest_clients.csv")
    assert len(clients) == cdnow["client_id"].nunique() == 2357
    inside = (clients["actual_purchases"] >= clients["purchases_low"]) & (clients["actual_purchases"] <= clients["purchases_high"])
    assert 0.75 <= inside.mean() <= 0.97  # an 80% interval on counts is conservative, not wild
    assert clients["actual_purchases"].sum() == 1882  # repeat purchase days in weeks 40-78 (as the paper counts)
