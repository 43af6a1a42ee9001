"""The engine on real prices: the offline demo data shipped in the skfolio wheel (20 US stocks, the S&P 500 index and
five iShares factor ETFs, to 2022-12-28). Skipped when skfolio is not installed; the synthetic tests never need it."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from analysis.domain.engine import run_analysis
from analysis.domain.inputs import AnalysisInputs, FactorSpec, Holding
from test_engine_data import close, hac_fit, offline_data

pytestmark = pytest.mark.unit

STYLES = ["MTUM", "QUAL", "SIZE", "USMV", "VLUE"]
HOLDINGS = {"AAPL": 100.0, "MSFT": 50.0, "JPM": -40.0, "XOM": 80.0, "JNJ": 30.0, "AMD": 200.0, "KO": 150.0}


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.DataFrame]:
    loaded = offline_data()
    if loaded is None:
        pytest.skip("skfolio (the offline real prices) is not installed")
    return loaded


def _inputs(data: tuple[pd.DataFrame, pd.DataFrame], mode: str = "spread", **kw: Any) -> AnalysisInputs:
    stocks, etfs = data
    factors = tuple(FactorSpec(f, "market" if f == "SP500" else mode) for f in ["SP500", *STYLES])  # type: ignore[arg-type]
    return AnalysisInputs(
        holdings=tuple(Holding(t, quantity=q) for t, q in HOLDINGS.items()),
        prices=stocks,
        factor_returns=etfs.pct_change(fill_method=None),
        factors=factors,
        market_factor="SP500",
        factor_last_prices={f: float(etfs[f].dropna().iloc[-1]) for f in STYLES},
        data_source="offline",
        demo_data=True,
        **kw,
    )


def test_engine_on_real_data_matches_statsmodels(data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    out = run_analysis(_inputs(data))
    res = out.result
    assert (res["window"]["end"], res["window"]["demo_data"]) == ("2022-12-28", True)
    dates = pd.DatetimeIndex(res["attribution"]["dates"])
    etf = data[1].pct_change(fill_method=None).loc[dates]
    x = sm.add_constant(np.column_stack([etf["SP500"], *(etf[f] - etf["SP500"] for f in STYLES)]))
    r = data[0][list(HOLDINGS)].pct_change(fill_method=None).loc[dates]
    rp = r.to_numpy() @ out.weights[list(HOLDINGS)].to_numpy()
    ref = hac_fit(rp, x, res["window"]["hac_lags"])
    port = res["portfolio"]
    ids = ["SP500", *STYLES]
    close([port["alpha_daily"], *(port["betas"][f] for f in ids)], ref.params)
    close([port["alpha_t"], *(port["t"][f] for f in ids)], ref.tvalues)
    close([port["alpha_p"], *(port["p"][f] for f in ids)], ref.pvalues)
    for ticker in HOLDINGS:
        plain = sm.OLS(r[ticker].to_numpy(), x).fit()
        h = res["holdings"][ticker]
        close([h["alpha_daily"], *(h["betas"][f] for f in ids)], plain.params)
        close([h["alpha_se"], *(h["se"][f] for f in ids)], plain.bse)
        close(h["r_squared"], plain.rsquared)


def test_engine_spreads_make_real_market_betas_sensible(data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    # FACTS.md: on 2018-2022 the raw ETFs are nearly collinear (condition ~570, VIF of the index ~72) and AAPL's raw
    # market beta is ~3.3; as spreads the style betas and R2 are unchanged and the market beta is ~1.1
    window = {"start": date(2018, 1, 1), "end": date(2022, 12, 31)}
    raw = run_analysis(_inputs(data, "raw", **window)).result
    spread = run_analysis(_inputs(data, "spread", **window)).result
    assert raw["condition_number"] == pytest.approx(571, rel=0.02)
    assert raw["factors"][0]["vif"] == pytest.approx(72, rel=0.02)
    assert spread["condition_number"] < 20
    assert raw["holdings"]["AAPL"]["betas"]["SP500"] > 3.0
    assert 0.9 < spread["holdings"]["AAPL"]["betas"]["SP500"] < 1.4
    close(spread["holdings"]["AAPL"]["r_squared"], raw["holdings"]["AAPL"]["r_squared"])
    close(
        [spread["holdings"]["AAPL"]["betas"][f] for f in STYLES], [raw["holdings"]["AAPL"]["betas"][f] for f in STYLES]
    )


def test_engine_real_result_says_what_is_not_tradeable(data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    res = run_analysis(_inputs(data)).result
    market = next(h for h in res["hedges"] if h["factor_id"] == "SP500")
    assert market["shares"] is None and market["notional"] < 0
    assert any("SP500" in note for note in res["notes"])
    assert all(h["shares"] is not None for h in res["hedges"] if h["factor_id"] != "SP500")
