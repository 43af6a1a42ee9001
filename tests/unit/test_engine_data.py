"""Data for the engine tests: synthetic markets with known betas, the offline real prices, and the independent
reference computations (statsmodels) the engine is checked against. Its own tests check the generator."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from analysis.domain.inputs import AnalysisInputs, FactorSpec, Holding

pytestmark = pytest.mark.unit

MARKET = "MKT"
STYLES = ("MOM", "QLT", "SZE", "LVOL", "VAL", "F6", "F7", "F8", "F9", "F10", "F11", "F12", "F13", "F14", "F15")
RTOL, ATOL = 1e-8, 1e-12


@dataclass(frozen=True)
class Market:
    """Synthetic prices and factor returns drawn from a known factor model (factors entered as spreads)."""

    prices: pd.DataFrame  # T+1 rows (a base day, then T days)
    factor_returns: pd.DataFrame  # raw ETF returns; styles = market + spread
    spreads: pd.DataFrame  # the factors as the model sees them (market raw, styles as spreads)
    betas: pd.DataFrame  # tickers x factor ids, the true loadings
    alphas: pd.Series
    last_prices: dict[str, float]


def make_market(
    n: int = 8, t: int = 756, k: int = 4, seed: int = 7, start: str = "2019-01-02", noise: float = 0.012
) -> Market:
    rng = np.random.default_rng(seed)
    ids = [MARKET, *STYLES[: k - 1]]
    dates = pd.bdate_range(start, periods=t + 1)
    market = rng.normal(0.0004, 0.011, t)
    spreads = rng.normal(0.0, 0.004, (t, k - 1)) @ np.linalg.cholesky(_style_corr(k - 1)).T
    entered = np.column_stack([market, spreads])
    betas = np.column_stack([rng.normal(1.0, 0.3, n), rng.normal(0.0, 0.6, (n, k - 1))])
    alphas = rng.normal(0.0, 0.0002, n)
    returns = alphas + entered @ betas.T + rng.standard_t(5, (t, n)) * noise / np.sqrt(5 / 3)
    tickers = [f"S{i:03d}" for i in range(n)]
    prices = pd.DataFrame(50.0 * np.vstack([np.ones(n), np.cumprod(1 + returns, axis=0)]), dates, tickers)
    raw = np.column_stack([market, spreads + market[:, None]])
    factor_returns = pd.DataFrame(raw, dates[1:], ids)
    etf_prices = 100.0 * np.cumprod(1 + raw, axis=0)[-1]
    return Market(
        prices=prices,
        factor_returns=factor_returns,
        spreads=pd.DataFrame(entered, dates[1:], ids),
        betas=pd.DataFrame(betas, tickers, ids),
        alphas=pd.Series(alphas, tickers),
        last_prices=dict(zip(ids, etf_prices.tolist(), strict=True)),
    )


def _style_corr(m: int) -> np.ndarray:
    corr = np.full((m, m), 0.2)
    np.fill_diagonal(corr, 1.0)
    return corr


def specs(ids: list[str], mode: str = "spread") -> tuple[FactorSpec, ...]:
    return tuple(FactorSpec(f, "market" if f == MARKET else mode) for f in ids)  # type: ignore[arg-type]


def inputs_for(mk: Market, quantities: dict[str, float] | None = None, **overrides: Any) -> AnalysisInputs:
    """Inputs over the whole market: every ticker held (quantity 10 unless given), every factor as a spread."""
    quantities = quantities if quantities is not None else dict.fromkeys(mk.prices.columns, 10.0)
    base = AnalysisInputs(
        holdings=tuple(Holding(tk, quantity=q) for tk, q in quantities.items()),
        prices=mk.prices,
        factor_returns=mk.factor_returns,
        factors=specs(list(mk.factor_returns.columns)),
        market_factor=MARKET,
        factor_last_prices=mk.last_prices,
        start=mk.prices.index[0].date(),
    )
    return replace(base, **overrides)


def offline_data() -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The real offline prices (skfolio's files, read without importing skfolio): (stock prices, factor ETF prices
    with SP500); None when skfolio is not installed."""
    spec = importlib.util.find_spec("skfolio")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"
    read = lambda name: pd.read_csv(folder / name, index_col=0, parse_dates=True)  # noqa: E731
    stocks = read("sp500_dataset.csv.gz")
    factors = read("factors_dataset.csv.gz").join(read("sp500_index.csv.gz"), how="outer")
    return stocks, factors


def reference_design(inputs: AnalysisInputs, dates: list[str]) -> np.ndarray:
    """[1, factors as entered] on the given dates, built from the raw inputs (independently of the engine)."""
    fr = inputs.factor_returns.loc[pd.DatetimeIndex(dates)]
    market = fr[inputs.market_factor]
    cols = [fr[s.factor_id] - market if s.mode == "spread" else fr[s.factor_id] for s in inputs.factors]
    return sm.add_constant(np.column_stack(cols), has_constant="add")


def reference_returns(inputs: AnalysisInputs, dates: list[str], tickers: list[str]) -> pd.DataFrame:
    """Simple returns of the tickers on the given dates, from consecutive price rows."""
    return inputs.prices[tickers].pct_change(fill_method=None).loc[pd.DatetimeIndex(dates)]


def hac_fit(y: np.ndarray, x: np.ndarray, lags: int) -> Any:
    """statsmodels' HAC fit with the engine's documented settings."""
    return sm.OLS(y, x).fit(cov_type="HAC", cov_kwds={"maxlags": lags, "use_correction": True}, use_t=True)


def close(actual: Any, expected: Any) -> None:
    np.testing.assert_allclose(np.asarray(actual, dtype=float), np.asarray(expected, dtype=float), RTOL, ATOL)


def test_make_market_prices_follow_the_returns_model() -> None:
    mk = make_market(n=3, t=200, k=3)
    rets = mk.prices.pct_change().iloc[1:]
    resid = rets.to_numpy() - mk.alphas.to_numpy() - mk.spreads.to_numpy() @ mk.betas.to_numpy().T
    assert mk.prices.shape == (201, 3)
    assert resid.std() == pytest.approx(0.012, rel=0.15)


def test_make_market_styles_are_market_plus_spread() -> None:
    mk = make_market(n=2, t=50, k=3)
    spread = mk.factor_returns["MOM"] - mk.factor_returns[MARKET]
    np.testing.assert_allclose(spread, mk.spreads["MOM"], atol=1e-15)
