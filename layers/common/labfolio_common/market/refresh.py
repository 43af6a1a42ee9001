"""Market-data use cases shared by factor_update (the daily refresh) and the analysis worker (on-demand backfill).

- `refresh(...)`: every factor of the catalogue, then the price cache's tickers that a portfolio holds now or that
  are factors' ETFs (a ticker nobody holds any more is not fetched), incrementally: from each one's last stored date
  minus an overlap (revised values are caught) to the provider's latest date, or its whole history window (default
  10 years back from that date) when nothing is stored yet or the stored data came from another provider. The
  factors are fetched first, on their own; the tickers after, in chunks of at most TICKER_CHUNK, so neither a slow
  nor a failing chunk holds the factors or the other chunks back. A ticker that has failed for GIVE_UP_DAYS since
  its last success is given up (reported as skipped) until someone's analysis backfills it again. Each factor and
  each ticker is written in its own transaction: a crash leaves each one either fully updated or untouched, and a
  source failure keeps the old data and is reported, never raised.
- `ensure_prices(...)`: backfill the tickers that have no prices yet (the worker, for a newly uploaded ticker),
  through the same fetch and write code. A ticker enters the price cache's list only with its first prices: a
  made-up ticker is reported as failed and leaves nothing behind for the daily refresh.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from labfolio_common.db.engine import session_scope
from labfolio_common.market import MarketData, PriceSeries
from labfolio_common.market.returns import history_start, incremental_start, rounded, simple_returns
from labfolio_common.market.store import (
    StoredState,
    added_since,
    factor_states,
    failing_since,
    held_tickers,
    record_ticker_failure,
    register_tickers,
    ticker_states,
    write_factor_returns,
    write_prices,
)
from labfolio_common.observability import logger

DEFAULT_HISTORY_YEARS = 10
DEFAULT_OVERLAP_DAYS = 7
TICKER_CHUNK = 100  # tickers per fetch in the daily refresh (yfinance allows ~10 s + 0.25 s a ticker per call)
GIVE_UP_DAYS = 30  # a ticker failing this long since its last success is no longer refreshed


@dataclass
class Outcome:
    """Per id: rows inserted or changed (`updated`), why it failed (`failed`), or not asked of this provider."""

    updated: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"updated": dict(self.updated), "failed": dict(self.failed), "skipped": sorted(self.skipped)}


@dataclass
class RefreshSummary:
    provider: str
    demo_data: bool
    as_of: date
    factors: Outcome
    prices: Outcome

    def as_dict(self) -> dict[str, Any]:
        """factor_update's answer: {updated, failed, skipped} for the factors, plus the price cache and the source."""
        return {
            **self.factors.as_dict(),
            "prices": self.prices.as_dict(),
            "provider": self.provider,
            "demo_data": self.demo_data,
            "as_of": self.as_of.isoformat(),
        }


def refresh(
    database_url: str,
    provider: MarketData,
    factor_ids: Sequence[str],
    *,
    history_years: int = DEFAULT_HISTORY_YEARS,
    overlap_days: int = DEFAULT_OVERLAP_DAYS,
) -> RefreshSummary:
    """Bring the factors' returns, then the held tickers' prices, up to the provider's latest date."""
    as_of = provider.as_of()
    backfill_from = history_start(as_of, history_years)
    with session_scope(database_url) as session:
        stored_factors = factor_states(session)
        wanted = held_tickers(session) | set(factor_ids)
        stored_tickers = ticker_states(session, wanted)
        given_up = failing_since(session, _now() - timedelta(days=GIVE_UP_DAYS))
    factors, prices = Outcome(), Outcome()
    factor_starts = _starts(factor_ids, stored_factors, provider, backfill_from, overlap_days, factors)
    fetched = _fetch(provider, factor_starts, as_of)
    for factor_id, start in factor_starts.items():
        _write_factor(database_url, provider, factor_id, _cut(fetched, factor_id, start, as_of), factors)
    refreshed = sorted(t for t in stored_tickers if t not in given_up)
    prices.skipped.extend(sorted(set(stored_tickers) & given_up))
    ticker_starts = _starts(refreshed, stored_tickers, provider, backfill_from, overlap_days, prices)
    chunks = list(ticker_starts.items())
    for first in range(0, len(chunks), TICKER_CHUNK):
        chunk = dict(chunks[first : first + TICKER_CHUNK])
        fetched = _fetch(provider, chunk, as_of)
        for ticker, start in chunk.items():
            _write_ticker(database_url, provider, ticker, _cut(fetched, ticker, start, as_of), prices)
    for ticker in prices.skipped:
        if ticker not in given_up:
            with session_scope(database_url) as session:
                record_ticker_failure(session, ticker, f"not available from the {provider.name} market data")
    return RefreshSummary(provider.name, provider.demo, as_of, factors, prices)


def _fetch(provider: MarketData, starts: Mapping[str, date], as_of: date) -> Any:
    """One fetch, or why it failed: a source that raises fails every id it was asked for (each reported), never the
    rest of the run."""
    if not starts:
        return None
    try:
        return provider.fetch(starts, as_of)
    except Exception as exc:
        logger.warning("market data fetch failed", extra={"ids": len(starts), "error": type(exc).__name__})
        return f"the market data source failed: {type(exc).__name__}"


def ensure_prices(
    database_url: str,
    provider: MarketData,
    tickers: Iterable[str],
    *,
    history_years: int = DEFAULT_HISTORY_YEARS,
    added_by: uuid.UUID | None = None,
    daily_cap: int | None = None,
) -> Outcome:
    """Register `tickers` in the price cache and backfill those with no prices from this provider yet.

    `updated` lists the tickers backfilled now (rows written), `failed` those the source had nothing for; tickers
    already cached are in neither (the daily refresh keeps them fresh)."""
    wanted = sorted({t.strip().upper() for t in tickers if t.strip()})
    with session_scope(database_url) as session:
        stored = ticker_states(session, wanted)
    none = StoredState(None, None)
    missing = [t for t in wanted if stored.get(t, none).last_date is None or stored[t].data_source != provider.name]
    outcome = Outcome()
    if added_by is not None and daily_cap is not None:
        missing = _within_cap(database_url, missing, stored, added_by, daily_cap, outcome)
    if not missing:
        return outcome
    as_of = provider.as_of()
    starts = _starts(missing, {}, provider, history_start(as_of, history_years), 0, outcome)
    fetched = provider.fetch(starts, as_of) if starts else None
    for ticker, start in starts.items():
        _write_ticker(database_url, provider, ticker, _cut(fetched, ticker, start, as_of), outcome, added_by)
    for ticker in outcome.skipped:
        outcome.failed[ticker] = f"not available from the {provider.name} market data"
        with session_scope(database_url) as session:
            record_ticker_failure(session, ticker, outcome.failed[ticker])
    outcome.skipped.clear()
    return outcome


def _within_cap(
    database_url: str,
    missing: list[str],
    stored: Mapping[str, StoredState],
    account: uuid.UUID,
    cap: int,
    outcome: Outcome,
) -> list[str]:
    """The missing tickers `account` may still bring in today (tickers the cache lists already are not new); the
    others fail, saying why: no account fills the shared cache's list, nor the daily refresh."""
    new = [t for t in missing if t not in stored]
    if not new:
        return missing
    with session_scope(database_url) as session:
        left = max(0, cap - added_since(session, account, _now() - timedelta(days=1)))
    refused = set(new[left:])
    for ticker in new[left:]:
        outcome.failed[ticker] = (
            f"not priced: this account brought {cap} new tickers in within a day (the most allowed)"
        )
    return [t for t in missing if t not in refused]


def _starts(
    ids: Iterable[str],
    stored: Mapping[str, StoredState],
    provider: MarketData,
    backfill_from: date,
    overlap_days: int,
    outcome: Outcome,
) -> dict[str, date]:
    """Each id's fetch start; ids the provider does not cover go to `outcome.skipped`."""
    starts: dict[str, date] = {}
    for ident in ids:
        if not provider.covers(ident):
            outcome.skipped.append(ident)
            continue
        state = stored.get(ident, StoredState(None, None))
        same_source = state.data_source in (None, provider.name)
        last = state.last_date if same_source else None  # another provider's data: backfill over it
        starts[ident] = incremental_start(last, backfill_from, overlap_days)
    return starts


def _cut(fetched: Any, ident: str, start: date, end: date) -> PriceSeries | str:
    """The fetched prices of `ident` from its own start, or the reason it has none."""
    if isinstance(fetched, str):  # the whole fetch failed
        return fetched
    if fetched is None or ident in fetched.failed:
        return fetched.failed[ident] if fetched is not None else "not fetched"
    series: PriceSeries | None = fetched.prices.get(ident)
    if series is None:
        return "the source returned nothing for it"
    window = series.between(start, end)
    return window if window else f"no prices between {start} and {end}"


def _write_factor(
    database_url: str, provider: MarketData, factor_id: str, prices: PriceSeries | str, outcome: Outcome
) -> None:
    if isinstance(prices, str):
        outcome.failed[factor_id] = prices
        logger.warning("factor update failed", extra={"factor_id": factor_id, "reason": prices})
        return
    returns = rounded(simple_returns(prices))
    with session_scope(database_url) as session:  # one transaction per factor
        outcome.updated[factor_id] = write_factor_returns(session, factor_id, returns, provider.name, _now())


def _write_ticker(
    database_url: str,
    provider: MarketData,
    ticker: str,
    prices: PriceSeries | str,
    outcome: Outcome,
    added_by: uuid.UUID | None = None,
) -> None:
    with session_scope(database_url) as session:  # one transaction per ticker
        if isinstance(prices, str):
            outcome.failed[ticker] = prices
            record_ticker_failure(session, ticker, prices)
            logger.warning("price update failed", extra={"ticker": ticker, "reason": prices})
            return
        register_tickers(session, [ticker], added_by)  # a ticker enters the cache's list with its first prices only
        outcome.updated[ticker] = write_prices(session, prices, provider.name, _now())


def _now() -> datetime:
    return datetime.now(UTC)
