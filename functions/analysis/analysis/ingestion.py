"""Use case of the worker: an object that arrived in the uploads bucket becomes a portfolio's holdings.

1. The key names the owner and the portfolio (`uploads/{user}/{portfolio}/{upload}.csv`); both are checked against
   the database. An object whose key is malformed or names no portfolio of that owner is recorded as ignored,
   logged, deleted and acknowledged: it is never processed into anyone's portfolio.
2. The object (bucket, key, etag) is claimed in `uploads` with a lease; a redelivered event of an object already
   finished is acknowledged as a duplicate, one still held by another worker is retried later (UploadBusyError).
   The key must have been issued to that owner and portfolio (its upload grant), not used by another object, and
   the object must have arrived before the grant expired; otherwise the upload fails saying why, and the object is
   deleted (`domain.ingestion.grant_refusal`).
3. The object is read as the event saw it (its ETag), never more than 1 MB: a larger one fails the upload and is
   deleted. The CSV is parsed; new tickers are registered and backfilled; tickers without price data are warnings,
   or errors when none has any.
4. One transaction stores the outcome: a valid file replaces the holdings at once and the portfolio is `ready`; an
   invalid one fails the upload and, if the portfolio had no holdings, the portfolio (`failed` with the errors);
   previous holdings and their `ready` stay untouched otherwise. A valid file is first copied to
   `files/{user}/{portfolio}/{upload}.csv` (labfolio_common.uploads.kept_file_key), which backs the holdings from
   then on; the uploaded object, the previous holdings' file and anything not kept are deleted afterwards, and the
   object behind the current holdings never is.

Transient failures (database, S3, the market-data source) give the claim back and raise: SQS retries the message
and dead-letters it after maxReceiveCount; `analysis.sweep` then fails what was left in flight.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from labfolio_common.aws import client
from labfolio_common.db.engine import session_scope
from labfolio_common.db.models import utcnow
from labfolio_common.errors import DependencyUnavailableError, LabfolioError
from labfolio_common.observability import MetricUnit, logger, metrics
from labfolio_common.portfolio_csv import MAX_BYTES, PortfolioCsvError, parse_portfolio_csv
from labfolio_common.settings import Settings, get_settings
from labfolio_common.uploads import UPLOADS_PREFIX, UploadKey, kept_file_key, parse_upload_key

from analysis import service
from analysis.adapters import s3_uploads, sql_uploads
from analysis.adapters.market_prices import check_source, priced_tickers
from analysis.domain.ingestion import (
    FINAL_UPLOAD_STATUSES,
    Verdict,
    grant_refusal,
    is_older,
    judge,
    problem,
    status_after_failure,
    status_while_processing,
    too_large,
)
from analysis.domain.s3_events import ObjectCreated

DEFAULT_LEASE = timedelta(seconds=60)  # the worker's timeout, when the invocation's remaining time is unknown


class UploadBusyError(DependencyUnavailableError):
    """Another worker holds this object's claim: try again once its lease ends (the message is retried)."""


@dataclass(frozen=True)
class Ports:
    """What ingestion talks to; `for_settings` builds them from the function's environment."""

    database_url: str
    s3: Any
    max_bytes: int = MAX_BYTES
    bucket: str | None = None  # the stack's uploads bucket: objects of any other bucket are never read

    @classmethod
    def for_settings(cls, settings: Settings) -> Ports:
        return cls(settings.database_url, client("s3"), bucket=settings.uploads_bucket)


def ingest(obj: ObjectCreated, ports: Ports | None = None, *, lease: timedelta = DEFAULT_LEASE) -> str:
    """Process one created object; return what happened: foreign, outside, ignored, duplicate, superseded, ready or
    failed."""
    ports = ports or Ports.for_settings(get_settings())
    log = {"bucket": obj.bucket, "key": obj.key, "etag": obj.etag}
    if ports.bucket is not None and obj.bucket != ports.bucket:  # another producer's event: nothing is read or stored
        logger.warning("object of a bucket this stack does not own: ignored", extra=log)
        metrics.add_metric(name="MessageIgnored", unit=MetricUnit.Count, value=1)
        return "foreign"
    if not obj.key.startswith(UPLOADS_PREFIX):
        logger.warning("object outside uploads/ ignored", extra=log)
        metrics.add_metric(name="MessageIgnored", unit=MetricUnit.Count, value=1)
        return "outside"
    key = parse_upload_key(obj.key)
    started = utcnow()
    with session_scope(ports.database_url) as session:
        owner = key and sql_uploads.owned_portfolio(session, key.user_id, key.portfolio_id)
        if key is None or owner is None:
            sql_uploads.record(session, obj, started, status="ignored")
            outcome: str | sql_uploads.Claim = "ignored"
        else:
            outcome = _claim(session, obj, key, owner, started, lease)
    if not isinstance(outcome, sql_uploads.Claim):
        backs_holdings = owner is not None and owner.portfolio_address == obj.key  # a file kept before files/ was
        return _skipped(obj, outcome, ports, log, keep=backs_holdings)
    claim = outcome
    assert key is not None  # a claim exists only for a key that names a portfolio of its owner
    logger.info("upload claimed", extra={**log, "upload_id": str(claim.upload_id), "attempt": claim.attempts})
    try:
        return _process(obj, claim, key, ports, log)
    except Exception as exc:
        _release(ports.database_url, claim, exc)
        raise


def _claim(
    session: Any, obj: ObjectCreated, key: UploadKey, owner: Any, now: datetime, lease: timedelta
) -> str | sql_uploads.Claim:
    sql_uploads.record(session, obj, now, user_id=key.user_id, portfolio_id=key.portfolio_id)
    claim = sql_uploads.claim(session, obj, now, now + lease)
    if isinstance(claim, str):
        if claim in FINAL_UPLOAD_STATUSES:
            return "duplicate"
        raise UploadBusyError(f"upload {obj.key} is being processed by another worker")
    refusal = grant_refusal(
        sql_uploads.grant(session, obj.key), key.user_id, key.portfolio_id, obj.etag, obj.event_time
    )
    if refusal is not None:
        sql_uploads.finish(session, claim.upload_id, "failed", now, errors=[problem(None, "*", refusal)])
        logger.warning("upload refused", extra={"key": obj.key, "reason": refusal})
        return "refused"
    sql_uploads.use_grant(session, obj.key, obj.etag)
    if is_older(obj.event_time, owner.holdings_uploaded_at):
        sql_uploads.finish(session, claim.upload_id, "superseded", now)
        return "superseded"
    status = status_while_processing(owner.status)
    if status is not None:
        sql_uploads.set_status(session, owner, status, now)
    return claim


def _skipped(obj: ObjectCreated, outcome: str, ports: Ports, log: dict[str, Any], *, keep: bool) -> str:
    if outcome in ("ignored", "refused"):
        # a malformed key under uploads/, one whose portfolio is gone (or never was), or one not issued for this
        # object: nothing may use the file
        if outcome == "ignored":
            logger.warning("upload names no portfolio of its owner: ignored", extra=log)
        metrics.add_metric(name="UploadIgnored", unit=MetricUnit.Count, value=1)
    elif outcome == "superseded":
        logger.info("upload older than the current holdings: superseded", extra=log)
    else:
        logger.info("upload already processed: duplicate event acknowledged", extra=log)
        return outcome
    if not keep:
        s3_uploads.delete_object(ports.s3, obj.bucket, obj.key)
    return outcome


def _process(obj: ObjectCreated, claim: sql_uploads.Claim, key: UploadKey, ports: Ports, log: dict[str, Any]) -> str:
    fetched = s3_uploads.read_object(ports.s3, obj.bucket, obj.key, obj.etag, ports.max_bytes)
    if isinstance(fetched, str):  # gone (deleted with its portfolio) or replaced since (its own event follows)
        status = "ignored" if fetched == "gone" else "superseded"
        with session_scope(ports.database_url) as session:
            if sql_uploads.holds(session, claim):
                sql_uploads.finish(session, claim.upload_id, status, utcnow())
                _settle_if_idle(session, key, fetched)
        logger.warning("uploaded object no longer as the event saw it", extra={**log, "outcome": status})
        metrics.add_metric(name="UploadObjectMissing", unit=MetricUnit.Count, value=1)
        return status
    verdict = _judge(fetched, ports, key.user_id)
    kept = None
    if verdict.valid and fetched.body is not None:  # copied first: the holdings never point at a file not there
        kept = kept_file_key(key)
        s3_uploads.put_object(ports.s3, obj.bucket, kept, fetched.body)
    return _store(obj, claim, key, verdict, ports, log, kept)


def _settle_if_idle(session: Any, key: UploadKey, fetched: str) -> None:
    """A portfolio this object had put in `processing`, with no other upload in flight, is settled at once (failed
    without holdings, ready with them), as the sweep would settle it much later."""
    portfolio = sql_uploads.owned_portfolio(session, key.user_id, key.portfolio_id, lock=True)
    if portfolio is None or portfolio.status != "processing" or sql_uploads.in_flight(session, portfolio.portfolio_id):
        return
    after = status_after_failure(portfolio.holdings_count)
    what = "deleted" if fetched == "gone" else "replaced"
    errors = [problem(None, "*", f"the file was {what} before it could be read; upload it again")]
    problems = {"errors": errors, "warnings": None} if after == "failed" else {}
    sql_uploads.set_status(session, portfolio, after, utcnow(), **problems)


def _judge(fetched: s3_uploads.Fetched, ports: Ports, account: uuid.UUID) -> Verdict:
    if fetched.body is None:
        return Verdict(errors=too_large(fetched.size, ports.max_bytes) or [])
    try:
        parsed = parse_portfolio_csv(fetched.body)
    except PortfolioCsvError as exc:
        return Verdict(errors=list(exc.detail))
    tickers = [h.ticker for h in parsed.holdings]
    backfill = service.backfill_prices(tickers, account)
    with session_scope(ports.database_url) as session:
        priced = priced_tickers(session, tickers)
    check_source(tickers, priced, backfill.failed)
    reasons = {t: backfill.failed.get(t, "not in the price cache") for t in tickers if t not in priced}
    return judge(parsed, priced, reasons)


def _store(
    obj: ObjectCreated,
    claim: sql_uploads.Claim,
    key: UploadKey,
    verdict: Verdict,
    ports: Ports,
    log: dict[str, Any],
    kept: str | None = None,
) -> str:
    now = utcnow()
    delete = [obj.key]  # what is left over afterwards; never the file behind the holdings
    with session_scope(ports.database_url) as session:
        if not sql_uploads.holds(session, claim):
            logger.warning("claim lost to another worker: result dropped", extra=log)
            _delete(ports, obj.bucket, [kept])
            return "duplicate"
        portfolio = sql_uploads.owned_portfolio(session, key.user_id, key.portfolio_id, lock=True)
        if portfolio is None:  # deleted while the file was processed
            sql_uploads.finish(session, claim.upload_id, "ignored", now)
            status = "ignored"
        elif verdict.valid and is_older(obj.event_time, portfolio.holdings_uploaded_at):
            sql_uploads.finish(session, claim.upload_id, "superseded", now)
            status = "superseded"
        elif verdict.valid and kept is not None:
            delete.append(_store_holdings(session, portfolio, obj, claim, verdict, now, kept))
            status, kept = "ready", None
        else:
            sql_uploads.finish(session, claim.upload_id, "failed", now, errors=verdict.errors)
            after = status_after_failure(portfolio.holdings_count)
            problems = {"errors": verdict.errors, "warnings": None} if after == "failed" else {}
            sql_uploads.set_status(session, portfolio, after, now, **problems)
            status = "failed"
        behind = portfolio.portfolio_address if portfolio is not None else None
    _delete(ports, obj.bucket, [k for k in [*delete, kept] if k != behind])
    _report(status, verdict, {**log, "upload_id": str(claim.upload_id)})
    if status == "ready":
        try:
            on_portfolio_ready(ports.database_url, key.portfolio_id, claim.upload_id)
        except Exception:
            logger.exception("after-ingestion hook failed", extra={"portfolio_id": str(key.portfolio_id)})
    return status


def _delete(ports: Ports, bucket: str, keys: list[str | None]) -> None:
    for key in dict.fromkeys(k for k in keys if k):
        s3_uploads.delete_object(ports.s3, bucket, key)


def _store_holdings(
    session: Any,
    portfolio: Any,
    obj: ObjectCreated,
    claim: sql_uploads.Claim,
    verdict: Verdict,
    now: datetime,
    kept: str,
) -> str | None:
    """Replace the holdings (same transaction as the statuses), now backed by the kept copy; the previous holdings'
    file, to delete, if any."""
    previous = portfolio.portfolio_address
    sql_uploads.replace_holdings(session, portfolio.portfolio_id, verdict.holdings)
    sql_uploads.set_status(
        session,
        portfolio,
        "ready",
        now,
        kind=verdict.kind,
        errors=None,
        warnings=verdict.warnings or None,
        holdings_count=len(verdict.holdings),
        holdings_updated_at=now,
        holdings_uploaded_at=obj.event_time or now,
        portfolio_address=kept,
    )
    sql_uploads.finish(session, claim.upload_id, "ready", now, warnings=verdict.warnings or None)
    return previous if previous and previous != kept else None


def _report(status: str, verdict: Verdict, log: dict[str, Any]) -> None:
    if status == "ready":
        logger.info("portfolio holdings stored", extra={**log, "holdings": len(verdict.holdings)})
        metrics.add_metric(name="PortfolioUploaded", unit=MetricUnit.Count, value=1)
    elif status == "failed":
        logger.info("portfolio upload invalid", extra={**log, "problems": len(verdict.errors)})
        metrics.add_metric(name="PortfolioUploadFailed", unit=MetricUnit.Count, value=1)
    else:
        logger.info("upload not applied", extra={**log, "outcome": status})


def _release(database_url: str, claim: sql_uploads.Claim, exc: Exception) -> None:
    """Best effort: give the claim back so the retry may take it at once (if the database is down, the lease ends)."""
    reason = f"{type(exc).__name__}: {exc.detail}" if isinstance(exc, LabfolioError) else type(exc).__name__
    logger.warning("upload failed, will be retried", extra={"upload_id": str(claim.upload_id), "reason": reason})
    metrics.add_metric(name="UploadRetried", unit=MetricUnit.Count, value=1)
    try:
        with session_scope(database_url) as session:
            sql_uploads.release(session, claim, reason)
    except Exception as release_error:
        logger.warning("claim not released", extra={"error": type(release_error).__name__})


def on_portfolio_ready(database_url: str, portfolio_id: uuid.UUID, upload_id: uuid.UUID) -> None:
    """Called once a portfolio's new holdings are committed: the analysis issue queues the default analysis here.

    It runs after the holdings transaction, once per ingested upload. An error raised here is logged and swallowed:
    a retried message would find the upload finished (a duplicate) and never come back here, so whatever this
    starts must carry its own retry (a queued job message does).
    """
    from analysis.analyses import queue_default_analysis

    logger.debug("portfolio ready", extra={"portfolio_id": str(portfolio_id), "upload_id": str(upload_id)})
    queue_default_analysis(database_url, portfolio_id, upload_id)
