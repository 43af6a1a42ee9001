"""Use cases of the daily factor_update job."""

from __future__ import annotations

from typing import Any

from labfolio_common.catalogue import load_catalogue
from labfolio_common.db.engine import session_scope
from labfolio_common.observability import MetricUnit, logger, metrics

from factor_update.adapters.sql_factors import upsert_factors


def refresh(database_url: str) -> dict[str, Any]:
    """Upsert the factor catalogue into factor.factors (market data arrives with the factor-library issue)."""
    catalogue = load_catalogue()
    with session_scope(database_url) as session:
        changed = upsert_factors(session, catalogue)
    metrics.add_metric(name="FactorsUpserted", unit=MetricUnit.Count, value=len(catalogue))
    logger.info("factor catalogue upserted", extra={"factors": len(catalogue), "rows_written": changed})
    return {"factors": len(catalogue)}
