"""The sweep (the worker's scheduled run): nothing stays in flight after its retries ran out.

A message that keeps failing (database, S3 or the market-data source down, a worker killed by its timeout) is
retried by SQS and, after maxReceiveCount receives, moved to the dead-letter queue, where nothing consumes it: it
stays there for an operator to inspect and redrive. The uploads it left in flight would keep their portfolio in
`processing` for ever, so the sweep marks each upload untouched for longer than the queue's retry window
(visibility timeout x maxReceiveCount + one invocation) and no longer leased as `abandoned` with the reason, and
its portfolio as it would be after an invalid file: `failed` with that reason when it has no holdings, back to
`ready` when it has. A redriven message may still claim an abandoned upload and process it. Analyses left queued or
running as long fail, saying why (`sweep_analyses`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from labfolio_common.db.engine import session_scope
from labfolio_common.db.models import utcnow
from labfolio_common.observability import MetricUnit, logger, metrics

from analysis.adapters import sql_analyses, sql_uploads
from analysis.domain.ingestion import not_processed, status_after_failure


def sweep(database_url: str, stale_after: timedelta, now: datetime | None = None) -> dict[str, Any]:
    """Abandon uploads in flight for longer than `stale_after`, then settle portfolios with nothing in flight."""
    now = now or utcnow()
    with session_scope(database_url) as session:
        stale = sql_uploads.stale_uploads(session, now - stale_after, now)
    abandoned = 0
    for row in stale:
        with session_scope(database_url) as session:
            if sql_uploads.abandon(session, row.upload_id, now - stale_after, now, _errors(row)):
                abandoned += 1
    settled = _settle_portfolios(database_url, now)
    if abandoned or settled:
        logger.warning("sweep abandoned stuck uploads", extra={"uploads": abandoned, "portfolios": settled})
        metrics.add_metric(name="UploadAbandoned", unit=MetricUnit.Count, value=abandoned)
    return {
        "abandoned_uploads": abandoned,
        "settled_portfolios": settled,
        "stale_after_s": int(stale_after.total_seconds()),
    }


def _errors(row: Any) -> list[dict[str, Any]]:
    reason = row.last_error or "the worker stopped before it finished"
    return not_processed(f"{row.attempts} attempt(s); last error: {reason}")


def _settle_portfolios(database_url: str, now: datetime) -> int:
    """Portfolios in `processing` with no upload in flight: failed with the last upload's errors, or ready again."""
    settled = 0
    with session_scope(database_url) as session:
        for portfolio in sql_uploads.processing_portfolios(session):
            if sql_uploads.in_flight(session, portfolio.portfolio_id):
                continue
            after = status_after_failure(portfolio.holdings_count)
            errors = sql_uploads.last_errors(session, portfolio.portfolio_id) or not_processed("interrupted")
            problems = {"errors": errors, "warnings": None} if after == "failed" else {}
            sql_uploads.set_status(session, portfolio, after, now, **problems)
            settled += 1
    return settled


def sweep_analyses(database_url: str, stale_after: timedelta, now: datetime | None = None) -> dict[str, Any]:
    """Fail analyses in flight (queued or running) for longer than the queue's retry window, unleased."""
    now = now or utcnow()
    before = now - stale_after
    with session_scope(database_url) as session:
        stale = sql_analyses.stale(session, before, now)
    failed = 0
    for row in stale:
        with session_scope(database_url) as session:
            failed += sql_analyses.abandon(session, row.analysis_id, before, now, _abandoned(row))
    if failed:
        logger.warning("sweep failed analyses left in flight", extra={"analyses": failed})
        metrics.add_metric(name="AnalysisFailed", unit=MetricUnit.Count, value=failed)
    return {"failed_analyses": failed}


def _abandoned(row: Any) -> dict[str, Any]:
    if not row.attempts:
        return {"message": "the analysis was never started (its job was lost): run it again"}
    reason = row.last_error or "the worker stopped before it finished"
    return {"message": f"the analysis could not be completed after {row.attempts} attempt(s) ({reason}): run it again"}
