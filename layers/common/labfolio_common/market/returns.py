"""Pure helpers of the market-data refresh: return series and history windows (standard library only)."""

from __future__ import annotations

from datetime import date, timedelta

from labfolio_common.market import PriceSeries

RETURN_DECIMALS = 6  # factor.returns.return_value is NUMERIC(10,6)


def simple_returns(series: PriceSeries) -> list[tuple[date, float]]:
    """Simple daily returns r_t = P_t / P_(t-1) - 1 of consecutive closes, for every date after the first."""
    closes, dates = series.closes, series.dates
    return [(dates[i], closes[i] / closes[i - 1] - 1.0) for i in range(1, len(closes))]


def rounded(returns: list[tuple[date, float]]) -> list[tuple[date, float]]:
    """Returns rounded to the 6 decimals of NUMERIC(10,6), so PostgreSQL and SQLite store (and compare) the same."""
    return [(day, round(value, RETURN_DECIMALS) + 0.0) for day, value in returns]  # + 0.0 turns -0.0 into 0.0


def history_start(as_of: date, years: int) -> date:
    """The first day of a history of `years` years ending at `as_of` (29 February maps to 28 February)."""
    try:
        return as_of.replace(year=as_of.year - years)
    except ValueError:
        return as_of.replace(year=as_of.year - years, day=28)


def incremental_start(last_date: date | None, backfill_from: date, overlap_days: int) -> date:
    """Where a fetch starts: the history start when nothing is stored yet, else a few days before the last stored
    date (the overlap catches revised values; its first day only anchors the next day's return)."""
    if last_date is None:
        return backfill_from
    return max(backfill_from, last_date - timedelta(days=overlap_days))
