"""Every statistic of the engine against an independent computation: statsmodels OLS (plain and HAC), RollingOLS,
variance_inflation_factor, and plain numpy/pandas formulas. Tolerance: 1e-8 relative."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from analysis.domain.engine import AnalysisOutput, run_analysis
from statsmodels.regression.rolling import RollingOLS
from statsmodels.stats.outliers_influence import variance_inflation_factor
from test_engine_data import close, hac_fit, inputs_for, make_market, reference_design, reference_returns

pytestmark = pytest.mark.unit

QUANTITIES = {"S000": 120.0, "S001": -80.0, "S002": 40.0, "S003": 300.0, "S004": -25.0, "S005": 60.0}


@pytest.fixture(scope="module")
def case() -> dict[str, Any]:
    mk = make_market(n=6, t=700, k=4, seed=11)
    inputs = inputs_for(mk, QUANTITIES, risk_free_rate=0.03, hac_lags=None)
    out = run_analysis(inputs)
    dates = out.result["attribution"]["dates"]
    tickers = out.result["data_quality"]["used"]
    x = reference_design(inputs, dates)
    r = reference_returns(inputs, dates, tickers)
    last = inputs.prices[tickers].loc[pd.Timestamp(dates[-1])]
    values = pd.Series(QUANTITIES)[tickers] * last
    w = values / values.abs().sum()
    rp = r.to_numpy() @ w.to_numpy()
    lags = int(np.floor(4 * (len(dates) / 100) ** (2 / 9)))
    return {"inputs": inputs, "out": out, "x": x, "r": r, "w": w, "rp": rp, "lags": lags, "values": values}


def _ids(case: dict[str, Any]) -> list[str]:
    return list(case["inputs"].factor_ids)


def _vec(d: dict[str, Any], ids: list[str]) -> list[float]:
    return [d[i] for i in ids]


def test_engine_weights_by_market_value_at_window_end(case: dict[str, Any]) -> None:
    res = case["out"].result
    close(list(res["weights"].values()), case["w"].to_numpy())
    assert res["gross"] == pytest.approx(case["values"].abs().sum(), rel=1e-12)
    assert res["nav"] == pytest.approx(case["values"].sum(), rel=1e-12)
    assert sum(abs(v) for v in res["weights"].values()) == pytest.approx(1.0, abs=1e-12)


def test_engine_portfolio_plain_ols_matches_statsmodels(case: dict[str, Any]) -> None:
    ref = sm.OLS(case["rp"], case["x"]).fit()
    port, ids = case["out"].result["portfolio"], _ids(case)
    close([port["alpha_daily"], *_vec(port["betas"], ids)], ref.params)
    close([port["alpha_se"], *_vec(port["se"], ids)], ref.bse)
    close([port["r_squared"], port["adj_r_squared"]], [ref.rsquared, ref.rsquared_adj])
    close(port["residual_vol_annual"], np.sqrt(ref.mse_resid * 252))
    close(port["alpha_annual"], ref.params[0] * 252)
    assert port["observations"] == ref.nobs and port["df_resid"] == ref.df_resid


def test_engine_portfolio_hac_inference_matches_statsmodels(case: dict[str, Any]) -> None:
    ref = hac_fit(case["rp"], case["x"], case["lags"])
    port, ids = case["out"].result["portfolio"], _ids(case)
    assert port["hac_lags"] == case["lags"]
    close([port["alpha_se_hac"], *_vec(port["se_hac"], ids)], ref.bse)
    close([port["alpha_t"], *_vec(port["t"], ids)], ref.tvalues)
    close([port["alpha_p"], *_vec(port["p"], ids)], ref.pvalues)
    close([port["alpha_ci95"], *_vec(port["ci95"], ids)], ref.conf_int(0.05))


def test_engine_hac_with_given_lags_matches_statsmodels(case: dict[str, Any]) -> None:
    out = run_analysis(replace(case["inputs"], hac_lags=12))
    ref = hac_fit(case["rp"], case["x"], 12)
    close(_vec(out.result["portfolio"]["se_hac"], _ids(case)), ref.bse[1:])


def test_engine_every_holding_matches_statsmodels(case: dict[str, Any]) -> None:
    holdings, ids = case["out"].result["holdings"], _ids(case)
    for ticker in case["r"].columns:
        ref = sm.OLS(case["r"][ticker].to_numpy(), case["x"]).fit()
        h = holdings[ticker]
        close([h["alpha_daily"], *_vec(h["betas"], ids)], ref.params)
        close([h["alpha_se"], *_vec(h["se"], ids)], ref.bse)
        close([h["alpha_t"], *_vec(h["t"], ids)], ref.tvalues)
        close([h["r_squared"], h["adj_r_squared"]], [ref.rsquared, ref.rsquared_adj])
        close(h["residual_vol_annual"], np.sqrt(ref.mse_resid * 252))


def test_engine_portfolio_betas_are_weighted_holding_betas(case: dict[str, Any]) -> None:
    res, ids = case["out"].result, _ids(case)
    for f in ids:
        combined = sum(res["weights"][t] * res["holdings"][t]["betas"][f] for t in res["weights"])
        assert res["portfolio"]["betas"][f] == pytest.approx(combined, rel=1e-10, abs=1e-14)


def test_engine_risk_decomposition_matches_the_full_covariance(case: dict[str, Any]) -> None:
    # given: the N x N covariance B F B' + D built explicitly (the engine never builds it)
    res, ids = case["out"].result, _ids(case)
    tickers = list(res["weights"])
    b = np.array([[res["holdings"][t]["betas"][f] for f in ids] for t in tickers])
    d = np.array([res["holdings"][t]["residual_vol_annual"] ** 2 for t in tickers])
    f_cov = np.cov(case["x"][:, 1:], rowvar=False) * 252
    sigma = b @ f_cov @ b.T + np.diag(d)
    w = np.array([res["weights"][t] for t in tickers])
    total = np.sqrt(w @ sigma @ w)
    risk = res["risk"]
    # then
    close(risk["total_vol_annual"], total)
    close(risk["factor_vol_annual"] ** 2, (b.T @ w) @ f_cov @ (b.T @ w))
    close([risk["by_holding"][t]["mcr"] for t in tickers], sigma @ w / total)
    close([risk["by_holding"][t]["ccr"] for t in tickers], w * (sigma @ w) / total)


def test_engine_risk_shares_add_up(case: dict[str, Any]) -> None:
    risk = case["out"].result["risk"]
    assert risk["factor_share"] + risk["specific_share"] == pytest.approx(1.0, abs=1e-12)
    assert sum(risk["by_factor"].values()) == pytest.approx(risk["factor_share"], abs=1e-12)
    assert sum(h["share"] for h in risk["by_holding"].values()) == pytest.approx(1.0, abs=1e-12)
    assert sum(h["ccr"] for h in risk["by_holding"].values()) == pytest.approx(risk["total_vol_annual"], rel=1e-12)
    vols = risk["factor_vol_annual"] ** 2 + risk["specific_vol_annual"] ** 2
    assert vols == pytest.approx(risk["total_vol_annual"] ** 2, rel=1e-12)


def test_engine_vif_and_condition_number_match_statsmodels(case: dict[str, Any]) -> None:
    res, x = case["out"].result, case["x"]
    vifs = [variance_inflation_factor(x, i) for i in range(1, x.shape[1])]
    close([f["vif"] for f in res["factors"]], vifs)
    eig = np.linalg.eigvalsh(np.corrcoef(x[:, 1:], rowvar=False))
    close(res["condition_number"], eig[-1] / eig[0])
    close(res["correlations"]["matrix"], np.corrcoef(x[:, 1:], rowvar=False))


def test_engine_hedges_are_minus_gross_times_beta(case: dict[str, Any]) -> None:
    res, inputs = case["out"].result, case["inputs"]
    ref = hac_fit(case["rp"], case["x"], case["lags"])
    ci = ref.conf_int(0.05)
    for k, hedge in enumerate(res["hedges"]):
        f = hedge["factor_id"]
        assert hedge["notional"] == pytest.approx(-res["gross"] * res["portfolio"]["betas"][f], rel=1e-12)
        assert hedge["shares"] == pytest.approx(hedge["notional"] / inputs.factor_last_prices[f], rel=1e-12)
        close(hedge["beta_ci95"], ci[k + 1])
        if hedge["mode"] == "spread":
            assert hedge["market_leg"]["etf"] == inputs.market_factor
            assert hedge["market_leg"]["notional"] == pytest.approx(-hedge["notional"], rel=1e-12)
        else:
            assert hedge["market_leg"] is None


def test_engine_hedge_trades_net_the_market_legs(case: dict[str, Any]) -> None:
    res = case["out"].result
    trades = {t["etf"]: t["notional"] for t in res["hedge_trades"]}
    market = sum(h["notional"] for h in res["hedges"] if h["mode"] == "market")
    market += sum(h["market_leg"]["notional"] for h in res["hedges"] if h["market_leg"])
    assert trades["MKT"] == pytest.approx(market, rel=1e-12)


def test_engine_market_hedge_uses_the_univariate_beta(case: dict[str, Any]) -> None:
    inputs, res = case["inputs"], case["out"].result
    mkt = inputs.factor_returns["MKT"].loc[pd.DatetimeIndex(res["attribution"]["dates"])].to_numpy()
    ref = hac_fit(case["rp"], sm.add_constant(mkt), case["lags"])
    hedge = res["market_hedge"]
    close([hedge["beta"], hedge["beta_se_hac"]], [ref.params[1], ref.bse[1]])
    close(hedge["beta_ci95"], ref.conf_int(0.05)[1])
    close(hedge["notional"], -res["gross"] * ref.params[1])
    close(hedge["vol_after_annual"], np.std(case["rp"] - ref.params[1] * mkt, ddof=1) * np.sqrt(252))


def test_engine_risk_after_hedge_leaves_the_specific_risk(case: dict[str, Any]) -> None:
    res = case["out"].result
    after = res["risk_after_hedge"]
    assert after["total_vol_annual"] == pytest.approx(res["risk"]["specific_vol_annual"], rel=1e-12)
    ref = sm.OLS(case["rp"], case["x"]).fit()
    close(after["realized_vol_annual"], np.std(ref.resid, ddof=1) * np.sqrt(252))


def test_engine_attribution_adds_up_to_the_return(case: dict[str, Any]) -> None:
    att, ids = case["out"].result["attribution"], _ids(case)
    ref = sm.OLS(case["rp"], case["x"]).fit()
    close(att["total"], np.cumsum(case["rp"]))
    close(att["residual"], np.cumsum(ref.resid))
    for k, f in enumerate(ids):
        close(att["factor"][f], np.cumsum(ref.params[k + 1] * case["x"][:, k + 1]))
    parts = np.sum([att["factor"][f] for f in ids], axis=0) + np.array(att["specific"])
    np.testing.assert_allclose(parts, att["total"], atol=1e-12)


def test_engine_rolling_betas_match_rolling_ols(case: dict[str, Any]) -> None:
    roll, ids = case["out"].result["rolling_betas"], _ids(case)
    ref = RollingOLS(case["rp"], case["x"], window=63).fit().params[62:]
    assert roll["window"] == 63 and roll["dates"][0] == case["out"].result["attribution"]["dates"][62]
    close(roll["alpha"], ref[:, 0])
    for k, f in enumerate(ids):
        close(roll["betas"][f], ref[:, k + 1])


def test_engine_performance_matches_hand_formulas(case: dict[str, Any]) -> None:
    perf, rp, rf = case["out"].result["performance"], case["rp"], 0.03
    wealth = pd.Series(np.cumprod(1 + rp))
    drawdown = (wealth / wealth.cummax().clip(lower=1.0) - 1).min()
    excess = rp - rf / 252
    close(perf["annual_return"], rp.mean() * 252)
    close(perf["annual_vol"], rp.std(ddof=1) * np.sqrt(252))
    close(perf["sharpe"], excess.mean() / rp.std(ddof=1) * np.sqrt(252))
    close(perf["sortino"], excess.mean() / np.sqrt(np.mean(np.minimum(excess, 0) ** 2)) * np.sqrt(252))
    close(perf["max_drawdown"], drawdown)
    close(perf["var_95"], -np.percentile(rp, 5))
    close(perf["cvar_95"], -rp[rp <= np.percentile(rp, 5)].mean())
    assert perf["risk_free_rate"] == 0.03


def test_engine_risk_premia_match_statsmodels_hac_means(case: dict[str, Any]) -> None:
    inputs, res = case["inputs"], case["out"].result
    for k, spec in enumerate(inputs.factors):
        series = case["x"][:, k + 1] - (0.03 / 252 if spec.mode != "spread" else 0.0)
        ref = hac_fit(series, np.ones((len(series), 1)), case["lags"])
        premium = res["risk_premia"][spec.factor_id]
        close([premium["mean_annual"], premium["t"]], [ref.params[0] * 252, ref.tvalues[0]])


def test_engine_result_has_the_issue_names_and_valid_json(case: dict[str, Any]) -> None:
    res = case["out"].result
    names = [
        "window",
        "data_quality",
        "factors",
        "condition_number",
        "weights",
        "nav",
        "gross",
        "portfolio",
        "holdings",
        "risk",
        "hedges",
        "risk_after_hedge",
        "attribution",
        "rolling_betas",
        "performance",
        "correlations",
        "risk_premia",
    ]
    assert all(name in res for name in names)
    json.dumps(res, allow_nan=False)
    assert set(res["window"]) >= {"start", "end", "observations", "as_of", "data_source", "demo_data"}


def test_engine_prices_used_cover_the_window(case: dict[str, Any]) -> None:
    out: AnalysisOutput = case["out"]
    dates = out.result["attribution"]["dates"]
    assert out.prices_used.index[-1] == pd.Timestamp(dates[-1])
    assert len(out.prices_used) == len(dates) + 1
    assert list(out.weights.index) == list(out.result["weights"])
