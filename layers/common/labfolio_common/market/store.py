"""SQL side of market data: factor returns and the price cache (factor.returns, factor.prices, price_tickers).

Writes are bulk upserts (one statement per chunk) that count only rows actually inserted or changed; they run in
the caller's transaction, so a factor or a ticker is written whole or not at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from labfolio_common.db.models import Factor, FactorReturn, Holding, Price, PriceTicker
from labfolio_common.db.upsert import insert_ignore, upsert
from labfolio_common.market import PriceSeries

# A re-adjustment (dividend, split) rescales the whole earlier history by one factor; smaller differences are noise.
RESCALE_TOLERANCE = 1e-9
CONSISTENT_RATIO = 1e-6  # two re-adjusted days share the factor to float precision; a revised value does not
# Catalogue market factors in order of preference for an analysis's default market factor (real data first).
MARKET_FACTOR_PREFERENCE = ("SPY", "SP500")


@dataclass(frozen=True, slots=True)
class StoredState:
    """What is stored for a factor or ticker: its last date (None: nothing yet) and the provider that wrote it."""

    last_date: date | None
    data_source: str | None


def factor_states(session: Session) -> dict[str, StoredState]:
    query = (
        select(Factor.factor_id, Factor.data_source, func.max(FactorReturn.date))
        .outerjoin(FactorReturn, FactorReturn.factor_id == Factor.factor_id)
        .group_by(Factor.factor_id, Factor.data_source)
    )
    return {factor_id: StoredState(last, source) for factor_id, source, last in session.execute(query)}


def write_factor_returns(
    session: Session, factor_id: str, returns: Sequence[tuple[date, float]], source: str, now: datetime
) -> int:
    """Upsert a factor's returns and stamp the factor (last_updated, data_source); the rows inserted or changed."""
    rows = [{"factor_id": factor_id, "date": day, "return_value": value} for day, value in returns]
    changed = upsert(session, FactorReturn, rows, ["factor_id", "date"], only_changed=True)
    session.execute(update(Factor).where(Factor.factor_id == factor_id).values(last_updated=now, data_source=source))
    return changed


def ticker_states(session: Session, tickers: Iterable[str] | None = None) -> dict[str, StoredState]:
    """The price cache's tickers (all, or those of `tickers` that are registered)."""
    query = (
        select(PriceTicker.ticker, PriceTicker.data_source, func.max(Price.date))
        .outerjoin(Price, Price.ticker == PriceTicker.ticker)
        .group_by(PriceTicker.ticker, PriceTicker.data_source)
    )
    if tickers is not None:
        query = query.where(PriceTicker.ticker.in_(sorted(set(tickers))))
    return {ticker: StoredState(last, source) for ticker, source, last in session.execute(query)}


def register_tickers(session: Session, tickers: Iterable[str], added_by: uuid.UUID | None = None) -> int:
    """Add tickers to the price cache's list (the daily refresh keeps them fresh), tagged with the account that
    brought them in; returns how many were new."""
    rows = [{"ticker": ticker, "added_by": added_by} for ticker in sorted(set(tickers))]
    return insert_ignore(session, PriceTicker, rows, ["ticker"])


def write_prices(session: Session, series: PriceSeries, source: str, now: datetime) -> int:
    """Upsert a ticker's adjusted closes, first rescaling the stored history if the source re-adjusted it.

    After a dividend or split, every adjusted close before the ex-date is multiplied by one factor. The fetch starts
    before the last stored date, so its first day is stored too: the ratio new/stored there is that factor, and all
    stored closes before the fetch are multiplied by it (one UPDATE), keeping the history's returns right."""
    if not series:
        return 0
    ratio = _readjustment(session, series)
    rescaled = 0
    if ratio is not None:
        rescale = (
            update(Price)
            .where(Price.ticker == series.ticker, Price.date < series.dates[0])
            .values(adj_close=Price.adj_close * ratio)
        )
        rescaled = session.connection().execute(rescale).rowcount
    rows = [
        {"ticker": series.ticker, "date": day, "adj_close": close}
        for day, close in zip(series.dates, series.closes, strict=True)
    ]
    changed = upsert(session, Price, rows, ["ticker", "date"], only_changed=True)
    session.execute(
        update(PriceTicker)
        .where(PriceTicker.ticker == series.ticker)
        .values(last_updated=now, last_error=None, data_source=source)
    )
    return changed + rescaled


def _readjustment(session: Session, series: PriceSeries) -> float | None:
    """new/stored on the fetch's first stored day when the source re-adjusted the history, else None."""
    query = select(Price.date, Price.adj_close).where(
        Price.ticker == series.ticker, Price.date >= series.dates[0], Price.date <= series.dates[-1]
    )
    stored: dict[date, float] = {day: close for day, close in session.execute(query)}
    ratios = [close / stored[day] for day, close in zip(series.dates, series.closes, strict=True) if day in stored]
    if not ratios or abs(ratios[0] - 1.0) <= RESCALE_TOLERANCE:
        return None
    if len(ratios) > 1 and abs(ratios[1] / ratios[0] - 1.0) > CONSISTENT_RATIO:
        return None  # the first day alone changed: a revised value, not a re-adjusted history
    return ratios[0]


def record_ticker_failure(session: Session, ticker: str, reason: str) -> None:
    session.execute(update(PriceTicker).where(PriceTicker.ticker == ticker).values(last_error=reason[:2000]))


def read_prices(session: Session, tickers: Iterable[str], start: date, end: date) -> dict[str, PriceSeries]:
    """Cached adjusted closes of `tickers` between `start` and `end` (inclusive); tickers without any are absent."""
    query = (
        select(Price.ticker, Price.date, Price.adj_close)
        .where(Price.ticker.in_(sorted(set(tickers))), Price.date >= start, Price.date <= end)
        .order_by(Price.ticker, Price.date)
    )
    columns: dict[str, tuple[list[date], list[float]]] = {}
    for ticker, day, close in session.execute(query):
        dates, closes = columns.setdefault(ticker, ([], []))
        dates.append(day)
        closes.append(close)
    return {t: PriceSeries(t, tuple(d), tuple(c)) for t, (d, c) in columns.items()}


def default_market_factor(session: Session, start: date, end: date) -> str | None:
    """The catalogue's market factor with returns in the window: SPY with real data, SP500 on the offline demo data."""
    query = (
        select(Factor.factor_id, func.count(FactorReturn.date))
        .join(FactorReturn, FactorReturn.factor_id == Factor.factor_id)
        .where(Factor.factor_category == "Market", FactorReturn.date >= start, FactorReturn.date <= end)
        .group_by(Factor.factor_id)
    )
    counts: dict[str, int] = {factor_id: n for factor_id, n in session.execute(query)}
    ranked = sorted(counts, key=lambda f: (_preference(f), -counts[f], f))
    return ranked[0] if ranked else None


def _preference(factor_id: str) -> int:
    order = MARKET_FACTOR_PREFERENCE
    return order.index(factor_id) if factor_id in order else len(order)


def held_tickers(session: Session) -> set[str]:
    """The tickers some portfolio holds now."""
    return set(session.scalars(select(Holding.ticker).distinct()))


def failing_since(session: Session, before: datetime) -> set[str]:
    """Cached tickers whose last refresh failed and whose last success (or registration) was before `before`."""
    since = func.coalesce(PriceTicker.last_updated, PriceTicker.added_at)
    query = select(PriceTicker.ticker).where(PriceTicker.last_error.is_not(None), since < before)
    return set(session.scalars(query))


def added_since(session: Session, account: uuid.UUID, since: datetime) -> int:
    """How many tickers `account` brought into the price cache since `since`."""
    query = (
        select(func.count())
        .select_from(PriceTicker)
        .where(PriceTicker.added_by == account, PriceTicker.added_at >= since)
    )
    return int(session.scalar(query) or 0)
