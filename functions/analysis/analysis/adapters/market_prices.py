"""Market-data adapter of ingestion: which of a portfolio's tickers have cached prices, and whether the source's
failures are worth a retry. The backfill itself is `analysis.service.backfill_prices` (labfolio_common.market, the
same code factor_update refreshes the price cache with every day)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from labfolio_common.market import PriceSourceError
from labfolio_common.market.store import ticker_states
from labfolio_common.market.yahoo import is_transient
from sqlalchemy.orm import Session


class MarketDataUnavailableError(PriceSourceError):
    """Every ticker failed for a reason worth retrying (rate limit, network): the upload is retried later."""


def priced_tickers(session: Session, tickers: Sequence[str]) -> frozenset[str]:
    """The tickers of `tickers` with at least one cached price."""
    states = ticker_states(session, tickers)
    return frozenset(t for t in tickers if t in states and states[t].last_date is not None)


def check_source(tickers: Sequence[str], priced: frozenset[str], failed: Mapping[str, str]) -> None:
    """Raise MarketDataUnavailableError when no ticker is priced and the source failed for a transient reason."""
    reasons = [failed[t] for t in tickers if t not in priced and t in failed]
    if tickers and not priced and any(is_transient(reason) for reason in reasons):
        raise MarketDataUnavailableError(f"market data unavailable: {reasons[0][:200]}")
