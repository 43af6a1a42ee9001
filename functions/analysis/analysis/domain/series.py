"""Statistics of the portfolio's return series: performance, attribution, rolling betas, factor risk premia.

Conventions: daily simple returns per unit of gross exposure; annual return = mean·252 (arithmetic), annual vol =
std(ddof=1)·√252; Sharpe = (mean - rf/252)·252 / annual vol; Sortino uses the downside deviation
√(mean(min(r - rf/252, 0)²))·√252 over all days; max drawdown is the worst fall of the compounded value from a previous
peak (negative, e.g. -0.25); VaR/CVaR 95% are one-day historical losses (positive numbers: the loss at the 5% quantile,
numpy's linear interpolation, and the mean return at or below it, negated). Attribution is additive (cumulative sums
of daily returns), so factor + specific = total exactly on every date.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from analysis.domain.frames import FloatArray
from analysis.domain.ols import hac_se_of_means, t_stats
from analysis.domain.risk import YEAR

ROLLING_WINDOW = 63


@dataclass(frozen=True)
class Performance:
    annual_return: float
    annual_vol: float
    sharpe: float
    sortino: float
    max_drawdown: float
    var_95: float
    cvar_95: float
    cumulative_return: float


def performance(returns: FloatArray, risk_free_rate: float) -> Performance:
    excess = returns - risk_free_rate / YEAR
    vol = float(returns.std(ddof=1) * np.sqrt(YEAR))
    downside = float(np.sqrt(np.mean(np.minimum(excess, 0.0) ** 2)) * np.sqrt(YEAR))
    wealth = np.cumprod(1.0 + returns)
    peaks = np.maximum.accumulate(np.concatenate(([1.0], wealth)))[1:]
    q05 = float(np.quantile(returns, 0.05))
    with np.errstate(divide="ignore", invalid="ignore"):
        sharpe = float(excess.mean() * YEAR / vol) if vol > 0 else float("nan")
        sortino = float(excess.mean() * YEAR / downside) if downside > 0 else float("nan")
    return Performance(
        annual_return=float(returns.mean() * YEAR),
        annual_vol=vol,
        sharpe=sharpe,
        sortino=sortino,
        max_drawdown=float(min(0.0, (wealth / peaks - 1.0).min())),
        var_95=-q05,
        cvar_95=-float(returns[returns <= q05].mean()),
        cumulative_return=float(wealth[-1] - 1.0),
    )


def attribution(
    returns: FloatArray, factors: FloatArray, beta: FloatArray, alpha: float, resid: FloatArray
) -> dict[str, FloatArray]:
    """Cumulative contributions: per factor b_k·f_k,t, alpha, residual, specific (= alpha + residual), and the total
    (the portfolio's own returns, equal to the sum of the parts)."""
    contributions = factors * beta
    alpha_path = np.full(len(resid), alpha)
    return {
        "factor": np.cumsum(contributions, axis=0),
        "alpha": np.cumsum(alpha_path),
        "residual": np.cumsum(resid),
        "specific": np.cumsum(alpha_path + resid),
        "total": np.cumsum(returns),
    }


def rolling_betas(x: FloatArray, y: FloatArray, window: int = ROLLING_WINDOW) -> FloatArray:
    """OLS coefficients (alpha first) of y on x over each trailing `window` days: (T-window+1) x p, NaN where a
    window's design is singular. All windows at once: batched normal equations on sliding views."""
    if len(y) < window:
        return np.empty((0, x.shape[1]))
    xw = sliding_window_view(x, window, axis=0)  # W x p x window
    yw = sliding_window_view(y, window)  # W x window
    xtx = np.matmul(xw, xw.transpose(0, 2, 1))  # batched: one p x p cross-product per window
    xty = np.matmul(xw, yw[..., None])[..., 0]
    try:
        coef: FloatArray = np.linalg.solve(xtx, xty[..., None])[..., 0]
    except np.linalg.LinAlgError:
        coef = np.full(xty.shape, np.nan)
        for i in range(len(xtx)):
            if np.linalg.matrix_rank(xtx[i]) == xtx.shape[1]:
                coef[i] = np.linalg.solve(xtx[i], xty[i])
    return coef


def risk_premia(factors: FloatArray, excess_of_rf: FloatArray, risk_free_rate: float, lags: int) -> dict[str, Any]:
    """Each factor's mean return (spreads as they are; market and raw ETFs in excess of rf), annualised, with the t of
    the mean from HAC standard errors (the same lags as the portfolio regression)."""
    series = factors - np.where(excess_of_rf, risk_free_rate / YEAR, 0.0)
    mean = series.mean(axis=0)
    se = hac_se_of_means(series, lags)
    return {"mean_daily": mean, "mean_annual": mean * YEAR, "t": t_stats(mean, se), "se": se}
