"""Use cases of the analysis worker."""

from __future__ import annotations

from collections.abc import Iterable

from labfolio_common.db.engine import session_scope
from labfolio_common.market import market_data
from labfolio_common.market.refresh import Outcome, ensure_prices
from labfolio_common.observability import logger
from labfolio_common.settings import get_settings

from analysis.adapters.sql_uploads import record_upload
from analysis.domain.s3_events import ObjectCreated


def receive_upload(obj: ObjectCreated) -> bool:
    """Record an object that arrived in the uploads bucket; True if it was not seen before."""
    if not obj.key.startswith("uploads/"):
        logger.warning("object outside uploads/ ignored", extra={"bucket": obj.bucket, "key": obj.key})
        return False
    with session_scope(get_settings().database_url) as session:
        new = record_upload(session, obj)
    logger.info("upload received", extra={"bucket": obj.bucket, "key": obj.key, "size": obj.size, "new": new})
    return new


def backfill_prices(tickers: Iterable[str]) -> Outcome:
    """Cache the prices of tickers a portfolio holds, backfilling those seen for the first time (the same market-data
    code as factor_update, labfolio_common.market). The daily factor_update keeps them fresh afterwards, so an
    analysis reads prices from the database and never calls the market-data source on the request path."""
    settings = get_settings()
    outcome = ensure_prices(
        settings.database_url,
        market_data(settings.market_data_provider),
        tickers,
        history_years=settings.market_history_years,
    )
    if outcome.updated or outcome.failed:
        logger.info("prices backfilled", extra={"tickers": sorted(outcome.updated), "failed": outcome.failed})
    return outcome
