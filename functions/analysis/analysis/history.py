"""Use case of the worker: a portfolio keeps a bounded history of analyses.

Once an analysis is finished, the portfolio's finished analyses beyond the newest `analysis_history` (a setting, 20)
are deleted, oldest first, with the prices they stored in S3; the latest ready one never is, and neither is one queued
or running. The rows go first (a reader never finds an analysis whose prices are gone); an object S3 would not
delete stays in the portfolio's folder, which goes with the portfolio.
"""

from __future__ import annotations

import uuid
from typing import Any

from labfolio_common import analysis_store
from labfolio_common.db.engine import session_scope
from labfolio_common.errors import DependencyUnavailableError
from labfolio_common.observability import MetricUnit, logger, metrics

from analysis.adapters import sql_analyses


def prune(database_url: str, s3: Any, bucket: str, portfolio_id: uuid.UUID, keep: int) -> int:
    """Delete what the portfolio keeps beyond `keep` analyses; how many went. Best effort: the analysis that just
    finished is stored whatever happens here (a failure is logged, and the next finished analysis prunes again)."""
    try:
        return _prune(database_url, s3, bucket, portfolio_id, keep)
    except Exception:
        logger.exception("old analyses not pruned", extra={"portfolio_id": str(portfolio_id)})
        return 0


def _prune(database_url: str, s3: Any, bucket: str, portfolio_id: uuid.UUID, keep: int) -> int:
    with session_scope(database_url) as session:
        doomed = sql_analyses.beyond_history(session, portfolio_id, keep)
        if doomed:
            sql_analyses.delete_analyses(session, [analysis_id for analysis_id, _ in doomed])
    for analysis_id, user_id in doomed:
        folder = f"{analysis_store.portfolio_prefix(user_id, portfolio_id)}{analysis_id}/"
        try:
            analysis_store.delete_folder(s3, bucket, folder)
        except DependencyUnavailableError as exc:
            logger.warning(
                "old analysis's prices not deleted", extra={"analysis_id": str(analysis_id), "error": exc.detail}
            )
    if doomed:
        logger.info("old analyses deleted", extra={"portfolio_id": str(portfolio_id), "deleted": len(doomed)})
        metrics.add_metric(name="AnalysesPruned", unit=MetricUnit.Count, value=len(doomed))
    return len(doomed)
