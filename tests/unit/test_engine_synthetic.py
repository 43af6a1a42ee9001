"""Synthetic markets with known betas: recovered within their intervals; single, short, long/short and weight-only
portfolios; spread versus raw entry; the prototype's LinearFactorModel gives the same holding betas."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from analysis.domain.engine import run_analysis
from analysis.domain.inputs import Holding
from scipy import stats
from test_engine_data import MARKET, Market, close, inputs_for, make_market, specs

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def mk() -> Market:
    return make_market(n=20, t=1000, k=5, seed=21)


def test_engine_recovers_known_holding_betas_within_their_intervals(mk: Market) -> None:
    res = run_analysis(inputs_for(mk)).result
    df = res["portfolio"]["df_resid"]
    half = stats.t.ppf(0.975, df)
    inside = [
        abs(res["holdings"][t]["betas"][f] - mk.betas.loc[t, f]) <= half * res["holdings"][t]["se"][f]
        for t in mk.betas.index
        for f in mk.betas.columns
    ]
    assert np.mean(inside) >= 0.85  # 95% intervals: about 95 of 100 should hold the truth


def test_engine_recovers_the_portfolio_betas(mk: Market) -> None:
    quantities = {t: q for t, q in zip(mk.betas.index, np.linspace(-50, 100, 20), strict=True)}
    out = run_analysis(inputs_for(mk, quantities))
    truth = mk.betas.T @ out.weights
    port = out.result["portfolio"]
    for f in mk.betas.columns:
        assert abs(port["betas"][f] - truth[f]) <= 3 * port["se_hac"][f]
    assert port["alpha_ci95"][0] < float(mk.alphas @ out.weights) < port["alpha_ci95"][1]


def test_engine_single_holding_portfolio_is_that_holding(mk: Market) -> None:
    res = run_analysis(inputs_for(mk, {"S004": 250.0})).result
    port, hold = res["portfolio"], res["holdings"]["S004"]
    assert res["weights"] == {"S004": 1.0}
    close(list(port["betas"].values()), list(hold["betas"].values()))
    close(port["r_squared"], hold["r_squared"])
    assert res["risk"]["by_holding"]["S004"]["share"] == pytest.approx(1.0)
    specific = res["risk"]["specific_vol_annual"]
    assert specific == pytest.approx(hold["residual_vol_annual"], rel=1e-12)


def test_engine_short_position_flips_betas_and_hedges(mk: Market) -> None:
    long = run_analysis(inputs_for(mk, {"S004": 250.0})).result
    short = run_analysis(inputs_for(mk, {"S004": -250.0})).result
    assert short["weights"] == {"S004": -1.0}
    assert short["nav"] == pytest.approx(-long["nav"]) and short["gross"] == pytest.approx(long["gross"])
    close(list(short["portfolio"]["betas"].values()), [-b for b in long["portfolio"]["betas"].values()])
    close([h["notional"] for h in short["hedges"]], [-h["notional"] for h in long["hedges"]])
    assert short["risk"]["total_vol_annual"] == pytest.approx(long["risk"]["total_vol_annual"], rel=1e-12)


def test_engine_long_short_portfolio_nets_exposures(mk: Market) -> None:
    # given: long S000, short S001 of equal value
    last = mk.prices.iloc[-1]
    quantities = {"S000": 1000 / last["S000"], "S001": -1000 / last["S001"]}
    res = run_analysis(inputs_for(mk, quantities)).result
    assert res["weights"] == pytest.approx({"S000": 0.5, "S001": -0.5})
    assert res["nav"] == pytest.approx(0.0, abs=1e-9) and res["gross"] == pytest.approx(2000.0)
    expected = 0.5 * (mk.betas.loc["S000"] - mk.betas.loc["S001"])
    for f in mk.betas.columns:
        assert res["portfolio"]["betas"][f] == pytest.approx(expected[f], abs=4 * res["portfolio"]["se_hac"][f])


def test_engine_weight_only_portfolio_is_sized_per_million(mk: Market) -> None:
    holdings = (Holding("S000", weight=0.6), Holding("S001", weight=0.4), Holding("S002", weight=-0.2))
    res = run_analysis(replace(inputs_for(mk), holdings=holdings)).result
    assert res["weights"] == pytest.approx({"S000": 0.5, "S001": 1 / 3, "S002": -1 / 6})
    assert res["gross"] == 1_000_000.0 and res["nav"] == pytest.approx(1_000_000.0 * 2 / 3)
    position = res["positions"]["S000"]
    assert position["value"] == pytest.approx(500_000.0)
    assert position["quantity"] == pytest.approx(500_000.0 / mk.prices["S000"].iloc[-1])
    market_hedge = next(h for h in res["hedges"] if h["mode"] == "market")
    assert market_hedge["notional"] == pytest.approx(-1_000_000.0 * res["portfolio"]["betas"][MARKET])


def test_engine_weight_only_portfolio_takes_a_gross_size(mk: Market) -> None:
    holdings = (Holding("S000", weight=1.0),)
    res = run_analysis(replace(inputs_for(mk), holdings=holdings, gross=250_000.0)).result
    assert res["gross"] == 250_000.0 and res["nav"] == 250_000.0


def test_engine_spread_and_raw_entry_agree_on_styles(mk: Market) -> None:
    # r = a + b_m m + sum b_k (e_k - m)  <=>  r = a + (b_m - sum b_k) m + sum b_k e_k
    ids = list(mk.factor_returns.columns)
    spread = run_analysis(inputs_for(mk)).result["portfolio"]
    raw = run_analysis(inputs_for(mk, factors=specs(ids, "raw"))).result["portfolio"]
    styles = [f for f in ids if f != MARKET]
    close([raw["betas"][f] for f in styles], [spread["betas"][f] for f in styles])
    close(raw["betas"][MARKET], spread["betas"][MARKET] - sum(spread["betas"][f] for f in styles))
    close(raw["r_squared"], spread["r_squared"])


def test_engine_holding_betas_match_linearmodels(mk: Market) -> None:
    linearmodels = pytest.importorskip("linearmodels")
    out = run_analysis(inputs_for(mk))
    dates = pd.DatetimeIndex(out.result["attribution"]["dates"])
    factors = mk.spreads.loc[dates]
    portfolios = mk.prices.pct_change().loc[dates]
    fitted = linearmodels.LinearFactorModel(portfolios, factors).fit()
    for ticker in portfolios.columns:
        close(list(out.result["holdings"][ticker]["betas"].values()), fitted.betas.loc[ticker].to_numpy())
