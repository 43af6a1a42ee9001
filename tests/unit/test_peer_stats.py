"""The statistics peers report (analysis.domain.peer_stats), each against an independent computation written here:
scipy's bias-corrected moments, a plain loop over the value path for the drawdown, pandas' calendar months, and the
formulas empyrical-reloaded documents (its annual_return and calmar_ratio: CAGR over 252 days a year, CAGR / |MDD|).
empyrical itself is not a test dependency: it pins peewee below the version yfinance ships with in the functions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analysis.domain.engine import run_analysis
from analysis.domain.peer_stats import peer_statistics
from scipy import stats
from test_engine_data import inputs_for, make_market

pytestmark = pytest.mark.unit

REL = 1e-10


def _series(seed: int, n: int = 400) -> tuple[pd.DatetimeIndex, np.ndarray]:
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2021-03-15", periods=n)
    returns = rng.standard_t(4, n) * 0.01 + 0.0003
    return dates, returns


def _drawdown_by_loop(returns: np.ndarray) -> tuple[float, int, int, int | None]:
    """(depth, peak, trough, recovery) on the value path 1, v1, v2, ... by walking it once."""
    value, best, best_at = 1.0, 1.0, 0
    depth, peak, trough = 0.0, 0, 0
    values = [1.0]
    for i, r in enumerate(returns, start=1):
        value *= 1.0 + r
        values.append(value)
        if value >= best:
            best, best_at = value, i
        elif value / best - 1.0 < depth:
            depth, peak, trough = value / best - 1.0, best_at, i
    recovery = next((j for j in range(trough, len(values)) if values[j] >= values[peak]), None) if depth < 0 else None
    return depth, peak, trough, recovery


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_peer_statistics_match_independent_computations(seed: int) -> None:
    dates, r = _series(seed)
    got = peer_statistics(dates, r)
    n = len(r)
    cagr = np.prod(1.0 + r) ** (252 / n) - 1.0
    depth, peak, trough, recovery = _drawdown_by_loop(r)
    months = (1.0 + pd.Series(r, index=dates)).resample("ME").prod() - 1.0
    on = lambda i: dates[max(i, 1) - 1].date().isoformat()  # noqa: E731 - the reporting rule, restated
    assert got["annual_return_compound"] == pytest.approx(cagr, rel=REL)
    assert got["calmar"] == pytest.approx(cagr / abs(depth), rel=REL)
    assert got["skew"] == pytest.approx(stats.skew(r, bias=False), rel=REL)
    assert got["excess_kurtosis"] == pytest.approx(stats.kurtosis(r, fisher=True, bias=False), rel=REL)
    assert (got["max_drawdown_peak"], got["max_drawdown_trough"]) == (on(peak), on(trough))
    assert got["max_drawdown_recovery"] == (on(recovery) if recovery is not None else None)
    assert got["max_drawdown_days"] == (recovery if recovery is not None else n) - peak
    assert got["hit_rate"] == pytest.approx(np.count_nonzero(r > 0) / n, rel=REL)
    assert (got["best_day"], got["best_day_date"]) == (r.max(), dates[r.argmax()].date().isoformat())
    assert (got["worst_day"], got["worst_day_date"]) == (r.min(), dates[r.argmin()].date().isoformat())
    assert got["best_month"] == pytest.approx(months.max(), rel=REL)
    assert got["worst_month"] == pytest.approx(months.min(), rel=REL)
    assert got["best_month_label"] == months.idxmax().strftime("%Y-%m")
    assert got["worst_month_label"] == months.idxmin().strftime("%Y-%m")


def test_a_drawdown_that_recovers_and_one_from_the_start() -> None:
    dates = pd.bdate_range("2022-01-03", periods=6)
    # up, down 20% from the peak on day 2, back above it on day 5
    r = np.array([0.10, -0.10, -0.1111111111111111, 0.05, 0.20, 0.01])
    got = peer_statistics(dates, r)
    assert (got["max_drawdown_peak"], got["max_drawdown_trough"]) == ("2022-01-03", "2022-01-05")
    assert got["max_drawdown_recovery"] == "2022-01-07"
    assert got["max_drawdown_days"] == 4  # from the value after day 1 to the value after day 5
    falling = peer_statistics(dates, np.full(6, -0.01))  # the peak is the starting value: the window's first day
    assert (falling["max_drawdown_peak"], falling["max_drawdown_recovery"], falling["max_drawdown_days"]) == (
        "2022-01-03",
        None,
        6,
    )
    rising = peer_statistics(dates, np.full(6, 0.01))  # no drawdown at all
    assert np.isnan(rising["calmar"]) and rising["max_drawdown_peak"] is None and rising["max_drawdown_days"] == 0


def test_the_analysis_reports_them_in_its_performance_section() -> None:
    mk = make_market(n=3, t=300, k=3, seed=11)
    result = run_analysis(inputs_for(mk)).result
    perf, days = result["performance"], len(result["attribution"]["dates"])
    for key in ("annual_return_compound", "calmar", "skew", "excess_kurtosis", "hit_rate", "best_month_label"):
        assert key in perf
    cagr = (1 + perf["cumulative_return"]) ** (252 / days) - 1
    assert perf["annual_return_compound"] == pytest.approx(cagr, rel=1e-9)
