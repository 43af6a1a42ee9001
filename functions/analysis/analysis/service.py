"""Use cases of the analysis worker. Ingesting an upload is `analysis.ingestion`; the sweep of uploads whose retries
ran out is `analysis.sweep`."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from labfolio_common.market import market_data
from labfolio_common.market.refresh import Outcome, ensure_prices
from labfolio_common.observability import logger
from labfolio_common.settings import get_settings


def backfill_prices(tickers: Iterable[str], account: uuid.UUID | None = None) -> Outcome:
    """Cache the prices of tickers a portfolio holds, backfilling those seen for the first time (the same market-data
    code as factor_update, labfolio_common.market). The daily factor_update keeps them fresh afterwards, so an
    analysis reads prices from the database and never calls the market-data source on the request path. With the
    uploading `account`, the tickers new to the cache count toward its daily cap (settings.max_new_tickers_per_day)."""
    settings = get_settings()
    outcome = ensure_prices(
        settings.database_url,
        market_data(settings.market_data_provider),
        tickers,
        history_years=settings.market_history_years,
        added_by=account,
        daily_cap=settings.max_new_tickers_per_day if account is not None else None,
    )
    if outcome.updated or outcome.failed:
        logger.info("prices backfilled", extra={"tickers": sorted(outcome.updated), "failed": outcome.failed})
    return outcome
