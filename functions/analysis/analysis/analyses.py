"""Use cases of analyses before they run: asking for one (the HTTP function), queueing the default one after an
ingested upload (the worker's ingestion hook), listing, reading and exporting them. No numpy or pandas: the request
path checks parameters with the engine's stdlib rules (analysis.domain.params, .selection).

An analysis is a row (queued) and a job message on the analysis queue; the worker runs it (analysis.runner). The row
is committed before the message is sent, so the worker always finds it; a message that cannot be sent fails the
analysis at once with a message saying so (503 on the request path).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from labfolio_common.aws import client
from labfolio_common.db.engine import session_scope
from labfolio_common.db.models import Analysis, Portfolio, utcnow
from labfolio_common.errors import ConflictError, LabfolioError, TooManyRequestsError, ValidationFailedError
from labfolio_common.observability import MetricUnit, logger, metrics
from labfolio_common.settings import Settings, get_settings
from sqlalchemy.orm import Session

from analysis.adapters import sql_analyses, sql_inputs
from analysis.adapters.sqs_jobs import send_job
from analysis.domain.errors import AnalysisInputError
from analysis.domain.export import Table, tables
from analysis.domain.pages import Cursor, decode_cursor, encode_cursor
from analysis.domain.params import AnalysisParams, check_window, make_params
from analysis.domain.selection import DEFAULT_STYLE_FACTORS

NOT_QUEUED = "the analysis could not be queued (the queue did not answer): run it again"
RETRY_AFTER_S = 30  # a throttled request's Retry-After: about one analysis's run


class PortfolioNotReadyError(ConflictError):
    """The portfolio has no holdings yet (awaiting its first file, or its files so far were invalid)."""


class AnalysisNotReadyError(ConflictError):
    """An export of an analysis that has no result (queued, running or failed)."""


@dataclass(frozen=True)
class AnalysisRequest:
    """What a caller may choose (None: the default)."""

    factor_ids: list[str] | None = None
    start: date | None = None
    end: date | None = None
    factor_mode: Literal["spread", "raw"] = "spread"
    hac_lags: int | None = None
    risk_free_rate: float = 0.0
    gross: float | None = None


@dataclass(frozen=True)
class Page:
    items: list[Analysis]
    next_cursor: str | None


def _invalid(exc: AnalysisInputError) -> ValidationFailedError:
    field = f"body.{exc.field}" if exc.field else "body"
    return ValidationFailedError([{"field": field, "message": exc.message, "type": "value_error"}])


def checked_params(db: Session, request: AnalysisRequest) -> AnalysisParams:
    """The request's parameters with defaults filled in, checked against the factor data (422 otherwise)."""
    try:
        params = make_params(
            request.factor_ids,
            sql_inputs.catalogue(db),
            sql_inputs.default_market(db, request.start, request.end) or sql_inputs.default_market(db),
            factor_mode=request.factor_mode,
            start=request.start,
            end=request.end,
            hac_lags=request.hac_lags,
            risk_free_rate=request.risk_free_rate,
            gross=request.gross,
        )
        check_window(params, sql_inputs.common_dates(db, params.read_factors, params.end))
    except AnalysisInputError as exc:
        raise _invalid(exc) from None
    return params


class AnalysesService:
    def __init__(self, db: Session, settings: Settings, sqs: Any) -> None:
        self.db = db
        self.settings = settings
        self.sqs = sqs

    def request(self, user_id: uuid.UUID, portfolio: Portfolio, request: AnalysisRequest) -> Analysis:
        """Queue an analysis of the caller's portfolio with the request's parameters (202)."""
        if portfolio.holdings_count <= 0:
            raise PortfolioNotReadyError("the portfolio has no holdings yet: upload its file first")
        params = checked_params(self.db, request)
        active, cap = sql_analyses.active_of_account(self.db, user_id), self.settings.max_active_analyses
        if active >= cap:
            self.db.rollback()
            metrics.add_metric(name="AnalysisThrottled", unit=MetricUnit.Count, value=1)
            raise TooManyRequestsError(
                f"{active} analyses of yours are queued or running (at most {cap} at once): ask again when one has "
                "finished",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        analysis = sql_analyses.create(
            self.db,
            portfolio_id=portfolio.portfolio_id,
            user_id=user_id,
            params=params.to_json(),
            trigger="request",
            now=utcnow(),
        )
        self.db.commit()
        enqueue(self.db, self.sqs, self.settings.analysis_queue_url, analysis.analysis_id)
        logger.info("analysis queued", extra={"analysis_id": str(analysis.analysis_id), "trigger": "request"})
        return analysis

    def list_page(self, portfolio: Portfolio, limit: int, cursor: str | None) -> Page:
        after = decode_cursor(cursor) if cursor else None
        rows = sql_analyses.page(self.db, portfolio.portfolio_id, limit + 1, after)
        more, rows = len(rows) > limit, rows[:limit]
        token = encode_cursor(Cursor(rows[-1].created_at, rows[-1].analysis_id)) if more else None
        return Page(rows, token)

    def export_tables(self, analysis: Analysis) -> list[Table]:
        if analysis.status != "ready" or analysis.result is None:
            raise AnalysisNotReadyError(f"the analysis is {analysis.status}: only a ready analysis has tables")
        return tables(analysis.result, analysis.params)


def enqueue(db: Session, sqs: Any, queue_url: str, analysis_id: uuid.UUID) -> None:
    """Send the job message of a committed analysis; if it cannot be sent, fail the analysis and raise."""
    try:
        send_job(sqs, queue_url, analysis_id)
    except LabfolioError:
        sql_analyses.set_failed(db, analysis_id, {"message": NOT_QUEUED}, utcnow())
        db.commit()
        metrics.add_metric(name="AnalysisFailed", unit=MetricUnit.Count, value=1)
        raise


def default_params(db: Session) -> dict[str, Any]:
    """The default analysis's parameters (the market factor and the five styles, spread mode, last 2 years)."""
    catalogue = sql_inputs.catalogue(db)
    return make_params(None, catalogue, sql_inputs.default_market(db)).to_json()


def queue_default_analysis(database_url: str, portfolio_id: uuid.UUID, upload_id: uuid.UUID | None = None) -> Any:
    """After an ingested upload: queue the default analysis of the portfolio; its id (None if the portfolio is gone).

    Without factor data (a market factor with returns) it is recorded as failed, saying so, rather than queued."""
    now = utcnow()
    with session_scope(database_url) as db:
        owner = sql_analyses.owner_of(db, portfolio_id)
        if owner is None:
            return None
        error: dict[str, Any] | None = None
        try:
            params = default_params(db)
        except AnalysisInputError as exc:
            params = {"factor_ids": list(DEFAULT_STYLE_FACTORS), "market_factor": None, "factor_mode": "spread"}
            error = exc.as_detail()
        active, cap = sql_analyses.active_of_account(db, owner), get_settings().max_active_analyses
        if error is None and active >= cap:
            error = {
                "message": f"not run: {active} analyses of yours were queued or running (at most {cap}): run it again"
            }
        analysis = sql_analyses.create(
            db, portfolio_id=portfolio_id, user_id=owner, params=params, trigger="upload", now=now, upload_id=upload_id
        )
        if error is not None:
            sql_analyses.set_failed(db, analysis.analysis_id, error, now)
        analysis_id = analysis.analysis_id
    if error is None:
        with session_scope(database_url) as db:
            enqueue(db, client("sqs"), get_settings().analysis_queue_url, analysis_id)
    logger.info(
        "default analysis queued" if error is None else "default analysis not possible",
        extra={"analysis_id": str(analysis_id), "portfolio_id": str(portfolio_id), "trigger": "upload"},
    )
    return analysis_id
