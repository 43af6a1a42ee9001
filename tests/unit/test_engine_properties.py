"""Properties that hold for any portfolio and any data (hypothesis): the vectorised OLS and HAC equal statsmodels,
risk adds up, portfolio betas are the weighted holding betas, attribution adds up, the result is valid JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest
import statsmodels.api as sm
from analysis.domain.engine import run_analysis
from analysis.domain.ols import fit_ols, hac_cov, hac_se_of_means
from hypothesis import given, settings
from hypothesis import strategies as st
from test_engine_data import close, hac_fit, inputs_for, make_market, specs

pytestmark = pytest.mark.unit

SETTINGS = settings(max_examples=25, deadline=None)


@SETTINGS
@given(
    seed=st.integers(0, 2**32 - 1),
    t=st.integers(30, 400),
    k=st.integers(1, 6),
    m=st.integers(1, 5),
    lags=st.integers(0, 12),
)
def test_ols_and_hac_match_statsmodels(seed: int, t: int, k: int, m: int, lags: int) -> None:
    # given: any design with a constant and several series, with serially correlated errors
    rng = np.random.default_rng(seed)
    x = sm.add_constant(rng.normal(size=(t, k)) * rng.uniform(0.001, 0.05, k))
    noise = rng.normal(size=(t + 1, m))
    y = x @ rng.normal(size=(k + 1, m)) + 0.01 * (noise[1:] + 0.5 * noise[:-1])
    # when
    fit = fit_ols(x, y)
    # then
    for j in range(m):
        ref = sm.OLS(y[:, j], x).fit()
        close(fit.coef[:, j], ref.params)
        close(fit.se[:, j], ref.bse)
        close([fit.r_squared()[j], fit.adj_r_squared()[j]], [ref.rsquared, ref.rsquared_adj])
        resid = y[:, j] - x @ fit.coef[:, j]
        close(hac_cov(x, resid, fit.xtx_inv, lags), hac_fit(y[:, j], x, lags).cov_params())
    ref_means = [hac_fit(y[:, j], np.ones((t, 1)), lags).bse[0] for j in range(m)]
    close(hac_se_of_means(y, lags), ref_means)


@SETTINGS
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 6),
    k=st.integers(1, 5),
    raw=st.booleans(),
    amounts=st.lists(st.floats(-1000, 1000).filter(lambda v: abs(v) > 1e-3), min_size=6, max_size=6),
)
def test_engine_invariants_hold_for_any_portfolio(seed: int, n: int, k: int, raw: bool, amounts: list[float]) -> None:
    mk = make_market(n=n, t=160, k=k, seed=seed)
    quantities = dict(zip(mk.prices.columns, amounts[:n], strict=False))
    ids = list(mk.factor_returns.columns)
    res = run_analysis(inputs_for(mk, quantities, factors=specs(ids, "raw" if raw else "spread"))).result
    json.dumps(res, allow_nan=False)
    risk, weights = res["risk"], res["weights"]
    assert sum(abs(w) for w in weights.values()) == pytest.approx(1.0, abs=1e-12)
    assert risk["factor_share"] + risk["specific_share"] == pytest.approx(1.0, abs=1e-9)
    assert sum(risk["by_factor"].values()) == pytest.approx(risk["factor_share"], abs=1e-9)
    assert sum(h["share"] for h in risk["by_holding"].values()) == pytest.approx(1.0, abs=1e-9)
    assert sum(h["ccr"] for h in risk["by_holding"].values()) == pytest.approx(risk["total_vol_annual"], rel=1e-9)
    for f in ids:
        combined = sum(weights[t] * res["holdings"][t]["betas"][f] for t in weights)
        assert res["portfolio"]["betas"][f] == pytest.approx(combined, rel=1e-9, abs=1e-12)
    att = res["attribution"]
    parts = np.sum([att["factor"][f] for f in ids], axis=0) + np.array(att["specific"])
    np.testing.assert_allclose(parts, att["total"], atol=1e-12)
