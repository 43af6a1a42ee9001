"""The portfolio statistics people expect from peers (empyrical, QuantStats, Portfolio Visualizer), on the same daily
return series as `series.performance` (returns per unit of gross exposure; today's weights, rebalanced daily).

Conventions (each stated so a reader can convert):
- compound annual return (CAGR) = (Π(1 + r))^(252 / T) - 1 over the T daily returns of the window (empyrical's
  `annual_return`); the arithmetic mean·252 stays `annual_return` in `performance`;
- Calmar = CAGR / |maximum drawdown| (empyrical's `calmar_ratio`); null without a drawdown;
- skew and excess kurtosis are the bias-corrected sample statistics (pandas' `skew`/`kurt`: the adjusted
  Fisher-Pearson G1 and Fisher's G2, 0 for a normal distribution);
- the maximum drawdown runs from its peak (the last day whose value was the highest before the trough; the window's
  first day when that highest value is the starting one) to its trough, and has recovered on the first day the value
  is back at the peak (null while it is not); `max_drawdown_days` counts the daily returns from peak to recovery, or
  to the window's end when it has not recovered;
- hit rate = the share of days with a positive return; best and worst day are single daily returns; best and worst
  month are calendar months' compounded returns (a month the window cuts counts with the days it has).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from analysis.domain.frames import FloatArray
from analysis.domain.risk import YEAR


def peer_statistics(dates: pd.DatetimeIndex, returns: FloatArray) -> dict[str, Any]:
    """The statistics above for daily `returns` on `dates` (the date of each return)."""
    n = len(returns)
    wealth = np.cumprod(1.0 + returns)
    cagr = float(wealth[-1] ** (YEAR / n) - 1.0)
    path = np.concatenate(([1.0], wealth))  # the value before the first return, then after each
    peaks = np.maximum.accumulate(path)
    drawdown = path / peaks - 1.0
    trough = int(np.argmin(drawdown))
    deepest = float(drawdown[trough])
    peak = int(np.flatnonzero(path[: trough + 1] == peaks[trough])[-1])
    after = np.flatnonzero(path[trough:] >= peaks[trough]) + trough if deepest < 0 else np.array([], dtype=int)
    recovery = int(after[0]) if len(after) else None
    day = _day_of(dates)
    months = pd.Series(1.0 + returns, index=dates).groupby(dates.to_period("M")).prod() - 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        calmar = cagr / abs(deepest) if deepest < 0 else float("nan")
    series = pd.Series(returns)
    return {
        "annual_return_compound": cagr,
        "calmar": float(calmar),
        "skew": float(series.skew()),
        "excess_kurtosis": float(series.kurt()),
        "max_drawdown_peak": day(peak) if deepest < 0 else None,
        "max_drawdown_trough": day(trough) if deepest < 0 else None,
        "max_drawdown_recovery": day(recovery) if recovery is not None else None,
        "max_drawdown_days": ((recovery if recovery is not None else n) - peak) if deepest < 0 else 0,
        "hit_rate": float(np.mean(returns > 0)),
        "best_day": float(returns.max()),
        "best_day_date": day(int(np.argmax(returns)) + 1),
        "worst_day": float(returns.min()),
        "worst_day_date": day(int(np.argmin(returns)) + 1),
        "best_month": float(months.max()),
        "best_month_label": str(months.idxmax()),
        "worst_month": float(months.min()),
        "worst_month_label": str(months.idxmin()),
    }


def _day_of(dates: pd.DatetimeIndex) -> Any:
    """Position on the value path (0: the starting value, i: the value after the i-th return) → the date it is
    reported under (ISO): the i-th return's date, and the first return's date for the starting value."""

    def day(position: int) -> str:
        return str(pd.Timestamp(dates[max(position, 1) - 1]).date().isoformat())

    return day
