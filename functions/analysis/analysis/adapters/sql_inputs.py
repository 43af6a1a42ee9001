"""SQL adapter of what an analysis reads: the factor catalogue, the dates every chosen factor has a return on, a
portfolio's holdings, factor returns, cached prices and the providers they came from. Plain Python values (no
pandas: the HTTP function uses the first two at request time). Runs in the caller's transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from labfolio_common.db.models import Factor, FactorReturn, Holding, Price, PriceTicker
from labfolio_common.market.store import default_market_factor
from sqlalchemy import String, and_, func, select, type_coerce
from sqlalchemy.orm import Session

from analysis.domain.params import FactorInfo

EARLIEST, LATEST = date(1900, 1, 1), date(9999, 12, 31)


@dataclass(frozen=True, slots=True)
class HoldingRow:
    ticker: str
    quantity: float | None
    weight: float | None


def catalogue(session: Session) -> dict[str, FactorInfo]:
    """Every factor of the database's catalogue: its category and how it enters a model by default."""
    query = select(Factor.factor_id, Factor.factor_category, Factor.entry)
    return {
        f: FactorInfo(f, category, "spread" if entry == "spread" else "raw")
        for f, category, entry in session.execute(query)
    }


def default_market(session: Session, start: date | None = None, end: date | None = None) -> str | None:
    """The catalogue's market factor with returns in the window (any date when none is given)."""
    return default_market_factor(session, start or EARLIEST, end or LATEST)


def common_dates(session: Session, factor_ids: Sequence[str], end: date | None = None) -> list[date]:
    """The dates (ascending, up to `end`) on which every one of `factor_ids` has a return."""
    ids = sorted(set(factor_ids))
    query = (
        select(FactorReturn.date)
        .where(FactorReturn.factor_id.in_(ids), FactorReturn.date <= (end or LATEST))
        .group_by(FactorReturn.date)
        .having(func.count(FactorReturn.factor_id) == len(ids))
        .order_by(FactorReturn.date)
    )
    return list(session.scalars(query).all())


def holdings(session: Session, portfolio_id: uuid.UUID) -> list[HoldingRow]:
    query = (
        select(Holding.ticker, Holding.quantity, Holding.weight)
        .where(Holding.portfolio_id == portfolio_id)
        .order_by(Holding.position)
    )
    return [HoldingRow(t, q, w) for t, q, w in session.execute(query)]


def factor_returns(
    session: Session, factor_ids: Sequence[str], start: date, end: date
) -> tuple[list[str], list[date], list[float]]:
    """The factors' returns between `start` and `end` (inclusive), long format: factor id, date, return."""
    query = select(FactorReturn.factor_id, FactorReturn.date, FactorReturn.return_value).where(
        FactorReturn.factor_id.in_(sorted(set(factor_ids))), FactorReturn.date >= start, FactorReturn.date <= end
    )
    ids, days, values = _columns(session.execute(query).all())
    return ids, days, [float(v) for v in values]


def _columns(rows: Sequence[Any]) -> tuple[list[Any], list[Any], list[Any]]:
    """Rows of three values as three lists (column-wise, without a Python loop per row)."""
    if not rows:
        return [], [], []
    first, second, third = zip(*rows, strict=True)
    return list(first), list(second), list(third)


def prices(
    session: Session, tickers: Sequence[str], start: date, end: date
) -> tuple[list[str], list[date | str], list[float]]:
    """Cached adjusted closes between `start` and `end` (inclusive), long format: ticker, date (a date, or ISO text
    on SQLite), close."""
    # The date comes back as the driver gives it (SQLite: 'YYYY-MM-DD' text; PostgreSQL: a date): converting 250,000
    # values one by one into dates is most of the read time at N=500; the worker parses the distinct ones at once.
    query = select(Price.ticker, type_coerce(Price.date, String), Price.adj_close).where(
        Price.ticker.in_(sorted(set(tickers))), Price.date >= start, Price.date <= end
    )
    return _columns(session.connection().execute(query).all())  # Core rows: no ORM result processing


def last_closes(session: Session, tickers: Sequence[str], end: date) -> dict[str, float]:
    """Each ticker's last cached close on or before `end` (tickers without one are absent)."""
    last = (
        select(Price.ticker, func.max(Price.date).label("day"))
        .where(Price.ticker.in_(sorted(set(tickers))), Price.date <= end)
        .group_by(Price.ticker)
        .subquery()
    )
    query = select(Price.ticker, Price.adj_close).join(
        last, and_(Price.ticker == last.c.ticker, Price.date == last.c.day)
    )
    return {ticker: float(close) for ticker, close in session.execute(query)}


def factor_sources(session: Session, factor_ids: Sequence[str]) -> dict[str, str | None]:
    query = select(Factor.factor_id, Factor.data_source).where(Factor.factor_id.in_(sorted(set(factor_ids))))
    return {f: source for f, source in session.execute(query)}


def price_sources(session: Session, tickers: Sequence[str]) -> dict[str, str | None]:
    query = select(PriceTicker.ticker, PriceTicker.data_source).where(PriceTicker.ticker.in_(sorted(set(tickers))))
    return {t: source for t, source in session.execute(query)}
