"""The factor analysis engine: `run_analysis(inputs)` → the JSON-ready result of issue 6 (DESIGN.md §5).

Pure computation. Raises AnalysisInputError (a message for people) for input that cannot be analysed; the result never
holds NaN or infinity (None, with the reason in `notes`). Beyond the issue's names the result also has:
- window.hac_lags; data_quality.window_requested / narrowed_by / missing_days / days_left_out / min_observations
- positions {ticker: {quantity, price, value, weight}} (weight-only portfolios: implied quantities at gross G)
- portfolio: alpha_se, alpha_se_hac, alpha_p, alpha_ci95, observations, df_resid, hac_lags, hac_method
- holdings[t]: alpha_annual, alpha_se, alpha_t, t, adj_r_squared (plain OLS)
- hedges[i]: factor_id, mode, market_leg {etf, notional, shares, last_price} for spreads (else None);
  hedge_trades: the hedges netted per ETF; market_hedge: the market ETF alone with the univariate beta
  {etf, notional, shares, last_price, beta, beta_se_hac, beta_ci95, vol_before_annual, vol_after_annual}
- risk_after_hedge: total/factor/specific vol after hedging every factor (model), vol_reduction, realized_vol_annual
- attribution: alpha and residual beside specific (= alpha + residual); rolling_betas.alpha
- performance: cumulative_return, var_horizon_days (VaR/CVaR are one-day losses, positive); max_drawdown is negative
- risk_premia[f].excess_of_risk_free (market and raw factors net of rf; spreads as they are); notes: [str]
Units: daily returns per unit of gross exposure; annualised with 252 (vols with √252); weights sum |w| to 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analysis.domain import report
from analysis.domain.diagnostics import CONSTANT_STD, FactorDiagnostics, check_factors
from analysis.domain.errors import AnalysisInputError
from analysis.domain.frames import FloatArray, align
from analysis.domain.inputs import AnalysisInputs
from analysis.domain.peer_stats import peer_statistics
from analysis.domain.portfolio import Book, book, merge_holdings
from analysis.domain.regression import Regression, market_hedge, portfolio_section, regress
from analysis.domain.risk import YEAR, RiskDecomposition, decompose, factor_hedges, net_trades
from analysis.domain.selection import default_hac_lags, min_observations, validate_factor_ids
from analysis.domain.series import ROLLING_WINDOW, attribution, performance, risk_premia, rolling_betas
from analysis.domain.window import Sample, select


@dataclass(frozen=True)
class AnalysisOutput:
    """`result`: the JSON-ready result. `prices_used`: closes of the used tickers over the window (from the day before
    the first return), to store beside it. `weights`: the used tickers' weights by gross exposure."""

    result: dict[str, Any]
    prices_used: pd.DataFrame
    weights: pd.Series


def _validate(inputs: AnalysisInputs) -> None:
    validate_factor_ids(inputs.factor_ids, [str(c) for c in inputs.factor_returns.columns])
    for spec in inputs.factors:
        if (spec.mode == "market") != (spec.factor_id == inputs.market_factor):
            raise AnalysisInputError(
                f"factor {spec.factor_id} enters as {spec.mode!r}: the market factor ({inputs.market_factor}) always "
                "enters as 'market', and no other factor does",
                field="factor_ids",
            )
    if inputs.start is not None and inputs.end is not None and inputs.start > inputs.end:
        raise AnalysisInputError(f"the window starts ({inputs.start}) after it ends ({inputs.end})", field="start")
    if not np.isfinite(inputs.risk_free_rate):
        raise AnalysisInputError("the risk-free rate must be a number", field="risk_free_rate")


def _lags(inputs: AnalysisInputs, nobs: int) -> int:
    lags = default_hac_lags(nobs) if inputs.hac_lags is None else int(inputs.hac_lags)
    most = nobs - len(inputs.factors) - 2
    if not 0 <= lags <= most:
        raise AnalysisInputError(f"hac_lags must be between 0 and {most} for this window", field="hac_lags")
    return lags


def _portfolio_returns(sample: Sample, bk: Book) -> FloatArray:
    portfolio: FloatArray = sample.returns @ bk.weights
    if portfolio.std(ddof=1) <= CONSTANT_STD:
        raise AnalysisInputError(
            "the portfolio's return is the same every day in the window (constant prices?): there is nothing to "
            "explain",
            field="holdings",
        )
    return portfolio


def _holding_notes(tickers: list[str], reg: Regression) -> list[str]:
    tss, ssr = reg.holdings.tss, reg.holdings.ssr
    notes = [
        f"{t}: its price is constant over the window, so R² is null"
        for t, v in zip(tickers, tss, strict=True)
        if v == 0
    ]
    return notes + [
        f"{t}: the factors explain its returns exactly, so its t-statistics are null"
        for t, s, v in zip(tickers, ssr, tss, strict=True)
        if s == 0 and v > 0
    ]


def _hedging(
    inputs: AnalysisInputs,
    sample: Sample,
    portfolio: FloatArray,
    reg: Regression,
    risk: RiskDecomposition,
    gross: float,
    notes: list[str],
) -> dict[str, Any]:
    lo, hi = reg.ci95()
    hedges = factor_hedges(
        inputs.factors, reg.coef[1:], lo[1:], hi[1:], gross, inputs.market_factor, inputs.factor_last_prices
    )
    trades = net_trades(hedges, inputs.factor_last_prices)
    priceless = [str(t["etf"]) for t in trades if t["shares"] is None]
    if priceless:
        notes.append(f"no last price for {', '.join(priceless)}: hedge share counts are null (notional only)")
    specific = float(np.sqrt(risk.specific_var))
    return {
        "hedges": hedges,
        "hedge_trades": trades,
        "risk_after_hedge": {
            "total_vol_annual": report.num(specific),
            "factor_vol_annual": 0.0,
            "specific_vol_annual": report.num(specific),
            "vol_reduction": report.num(1.0 - specific / risk.total_vol),
            "realized_vol_annual": report.num((portfolio - sample.factors @ reg.coef[1:]).std(ddof=1) * np.sqrt(YEAR)),
        },
        "market_hedge": market_hedge(
            inputs.market_factor, sample.market, portfolio, reg.lags, gross, inputs.factor_last_prices
        ),
    }


def _series_sections(
    inputs: AnalysisInputs, sample: Sample, portfolio: FloatArray, reg: Regression, notes: list[str]
) -> dict[str, Any]:
    ids = inputs.factor_ids
    perf = performance(portfolio, inputs.risk_free_rate)
    if not np.isfinite(perf.sortino):
        notes.append("performance: no day fell short of the risk-free rate, so the Sortino ratio is null")
    rolling = rolling_betas(reg.x, portfolio, ROLLING_WINDOW)
    if len(rolling) == 0:
        notes.append(f"fewer than {ROLLING_WINDOW} observations: no rolling betas")
    elif not np.isfinite(rolling).all():
        notes.append("rolling betas: some 63-day windows have constant or collinear factors; their betas are null")
    excess = np.array([s.mode != "spread" for s in inputs.factors])
    premia = risk_premia(sample.factors, excess, inputs.risk_free_rate, reg.lags)
    return {
        "attribution": report.attribution_section(
            sample.dates, ids, attribution(portfolio, sample.factors, reg.coef[1:], float(reg.coef[0]), reg.resid)
        ),
        "rolling_betas": report.rolling_section(sample.dates, ids, rolling, ROLLING_WINDOW),
        "performance": report.performance_section(perf, inputs.risk_free_rate)
        | report.nums_of(peer_statistics(sample.dates, portfolio)),
        "risk_premia": {
            f: {
                "mean_annual": report.num(premia["mean_annual"][k]),
                "t": report.num(premia["t"][k]),
                "excess_of_risk_free": bool(excess[k]),
            }
            for k, f in enumerate(ids)
        },
    }


def _header(inputs: AnalysisInputs, sample: Sample, diag: FactorDiagnostics, bk: Book, lags: int) -> dict[str, Any]:
    end = sample.dates[-1].date()
    return {
        "window": {
            "start": sample.dates[0].date().isoformat(),
            "end": end.isoformat(),
            "observations": len(sample.dates),
            "as_of": (inputs.as_of or end).isoformat(),
            "data_source": inputs.data_source,
            "demo_data": inputs.demo_data,
            "hac_lags": lags,
        },
        "data_quality": sample.data_quality | {"min_observations": min_observations(len(inputs.factors))},
        "factors": report.factors_section(inputs.factors, diag),
        "condition_number": report.num(diag.condition_number),
        "weights": dict(zip(sample.tickers, report.nums(bk.weights), strict=True)),
        "nav": bk.nav,
        "gross": bk.gross,
        "positions": bk.positions,
    }


def run_analysis(inputs: AnalysisInputs) -> AnalysisOutput:
    """The whole analysis of one portfolio. Raises AnalysisInputError when the inputs cannot be analysed."""
    _validate(inputs)
    ids = inputs.factor_ids
    positions = merge_holdings(inputs.holdings)
    k = len(ids)
    sample = select(
        align(inputs, positions.tickers), positions.tickers, inputs.start, inputs.end, min_observations(k), k
    )
    diag = check_factors(sample.factors, sample.raw_factors, ids)
    bk = book(positions, sample.tickers, sample.end_prices, inputs.gross)
    portfolio = _portfolio_returns(sample, bk)
    reg = regress(sample.factors, portfolio, sample.returns, _lags(inputs, len(portfolio)))
    risk = decompose(reg.holdings.coef[1:].T, reg.holdings.mse, bk.weights, diag.covariance)
    notes = list(positions.notes) + _holding_notes(sample.tickers, reg)
    result = _header(inputs, sample, diag, bk, reg.lags) | {
        "portfolio": portfolio_section(ids, reg, notes),
        "holdings": report.holdings_section(sample.tickers, ids, reg.holdings),
        "risk": report.risk_section(ids, sample.tickers, risk),
    }
    result |= _hedging(inputs, sample, portfolio, reg, risk, bk.gross, notes)
    result |= _series_sections(inputs, sample, portfolio, reg, notes)
    result["correlations"] = {"ids": ids, "matrix": [report.nums(row) for row in diag.correlation]}
    result["notes"] = notes
    weights = pd.Series(bk.weights, index=sample.tickers, name="weight")
    return AnalysisOutput(result=result, prices_used=sample.prices_used, weights=weights)
