"""Use cases of the daily factor_update job: the factor catalogue, then the market data (factor returns and the
price cache of held tickers) through labfolio_common.market, the one place market data is fetched and stored."""

from __future__ import annotations

from typing import Any

from labfolio_common.catalogue import load_catalogue
from labfolio_common.db.engine import session_scope
from labfolio_common.market import MarketData, market_data
from labfolio_common.market.refresh import DEFAULT_HISTORY_YEARS, refresh
from labfolio_common.observability import MetricUnit, logger, metrics

from factor_update.adapters.sql_factors import upsert_factors


def run(
    database_url: str,
    provider: MarketData | str,
    *,
    history_years: int = DEFAULT_HISTORY_YEARS,
) -> dict[str, Any]:
    """Upsert the catalogue, then refresh every factor and cached ticker; the summary of what changed and failed.

    A factor or ticker whose source fails keeps its old data, is reported under `failed`, logged, and counted in the
    FactorUpdateFailed / PriceUpdateFailed metrics; the run still succeeds for the others."""
    source = market_data(provider) if isinstance(provider, str) else provider
    catalogue = load_catalogue()
    with session_scope(database_url) as session:
        changed = upsert_factors(session, catalogue)
    logger.info("factor catalogue upserted", extra={"factors": len(catalogue), "rows_changed": changed})
    summary = refresh(database_url, source, [f.factor_id for f in catalogue], history_years=history_years)
    _publish(summary.as_dict())
    return summary.as_dict()


def _publish(summary: dict[str, Any]) -> None:
    factors, prices = summary, summary["prices"]
    metrics.add_metric(name="FactorReturnsUpserted", unit=MetricUnit.Count, value=sum(factors["updated"].values()))
    metrics.add_metric(name="PricesUpserted", unit=MetricUnit.Count, value=sum(prices["updated"].values()))
    metrics.add_metric(name="FactorUpdateFailed", unit=MetricUnit.Count, value=len(factors["failed"]))
    metrics.add_metric(name="PriceUpdateFailed", unit=MetricUnit.Count, value=len(prices["failed"]))
    for factor_id, reason in factors["failed"].items():
        logger.error("factor returns not updated", extra={"factor_id": factor_id, "reason": reason})
    logger.info(
        "market data refreshed",
        extra={
            "provider": summary["provider"],
            "as_of": summary["as_of"],
            "factors_updated": len(factors["updated"]),
            "factor_rows": sum(factors["updated"].values()),
            "factors_failed": sorted(factors["failed"]),
            "factors_skipped": len(factors["skipped"]),
            "tickers_updated": len(prices["updated"]),
            "tickers_failed": sorted(prices["failed"]),
        },
    )
