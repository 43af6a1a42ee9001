"""SQL adapter of ingestion: uploads (the ingestion state, keyed by bucket/key/etag), portfolios and holdings.

Every function runs in the caller's transaction. A claim is a conditional UPDATE, so of two workers handed the same
object (an SQS redelivery, moto's second event for a multipart upload) only one holds it; finishing checks the
claim again, so a worker whose lease ran out and was taken over never overwrites the newer result.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from labfolio_common.db import queries
from labfolio_common.db.models import Holding, Portfolio, Upload, UploadGrant
from labfolio_common.db.upsert import insert_ignore
from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from analysis.domain.ingestion import Grant, Problem
from analysis.domain.s3_events import ObjectCreated

CLAIMABLE = ("received", "abandoned")
IN_FLIGHT = ("received", "processing")


@dataclass(frozen=True)
class Claim:
    upload_id: uuid.UUID
    claim_id: uuid.UUID
    portfolio_id: uuid.UUID
    attempts: int


owned_portfolio = queries.owned_portfolio  # the portfolio if the user owns it (row-locked when `lock`)


def _same_object(obj: ObjectCreated) -> Any:
    return and_(Upload.bucket == obj.bucket, Upload.object_key == obj.key, Upload.etag == obj.etag)


def record(
    session: Session,
    obj: ObjectCreated,
    now: datetime,
    *,
    user_id: uuid.UUID | None = None,
    portfolio_id: uuid.UUID | None = None,
    status: str = "received",
) -> bool:
    """Insert the object's row unless (bucket, key, etag) is there already; True when it is new."""
    row = {
        "upload_id": uuid.uuid4(),
        "bucket": obj.bucket,
        "object_key": obj.key,
        "size_bytes": max(0, obj.size),
        "etag": obj.etag,
        "event_time": obj.event_time,
        "received_at": now,
        "status": status,
        "user_id": user_id,
        "portfolio_id": portfolio_id,
        "attempts": 0,
        "finished_at": now if status != "received" else None,
    }
    return insert_ignore(session, Upload, [row], ["bucket", "object_key", "etag"]) == 1


def claim(session: Session, obj: ObjectCreated, now: datetime, lease_until: datetime) -> Claim | str:
    """Take the object for processing until `lease_until`; or its status when someone else holds or finished it."""
    claim_id = uuid.uuid4()
    claimable = or_(
        Upload.status.in_(CLAIMABLE),
        and_(Upload.status == "processing", or_(Upload.lease_until.is_(None), Upload.lease_until < now)),
    )
    taken = session.execute(
        update(Upload)
        .where(_same_object(obj), claimable)
        .values(
            status="processing",
            attempts=Upload.attempts + 1,
            claim_id=claim_id,
            claimed_at=now,
            lease_until=lease_until,
            finished_at=None,
            errors=None,
        )
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    row = session.execute(
        select(Upload.upload_id, Upload.status, Upload.portfolio_id, Upload.attempts).where(_same_object(obj))
    ).one()
    if not taken:
        return str(row.status)
    return Claim(row.upload_id, claim_id, row.portfolio_id, int(row.attempts))


def holds(session: Session, claim: Claim) -> bool:
    """Whether `claim` is still the upload's current claim (row-locked on PostgreSQL until the transaction ends)."""
    found = session.execute(
        select(Upload.upload_id)
        .where(Upload.upload_id == claim.upload_id, Upload.claim_id == claim.claim_id, Upload.status == "processing")
        .with_for_update()
    ).first()
    return found is not None


def finish(
    session: Session,
    upload_id: uuid.UUID,
    status: str,
    now: datetime,
    *,
    errors: list[Problem] | None = None,
    warnings: list[Problem] | None = None,
) -> None:
    session.execute(
        update(Upload)
        .where(Upload.upload_id == upload_id)
        .values(status=status, finished_at=now, lease_until=None, errors=errors, warnings=warnings)
        .execution_options(synchronize_session=False)
    )


def release(session: Session, claim: Claim, reason: str) -> None:
    """Give a claim back after a transient failure: the retried message may claim it at once."""
    session.execute(
        update(Upload)
        .where(Upload.upload_id == claim.upload_id, Upload.claim_id == claim.claim_id, Upload.status == "processing")
        .values(status="received", lease_until=None, last_error=reason[:2000])
        .execution_options(synchronize_session=False)
    )


def set_status(session: Session, portfolio: Portfolio, status: str, now: datetime, **values: Any) -> None:
    if portfolio.status != status:
        portfolio.status = status
        portfolio.status_changed_at = now
    for name, value in values.items():
        setattr(portfolio, name, value)
    portfolio.updated_at = now


def replace_holdings(session: Session, portfolio_id: uuid.UUID, rows: list[dict[str, Any]]) -> None:
    """The portfolio's holdings become `rows`, in the caller's transaction (all or nothing)."""
    session.execute(delete(Holding).where(Holding.portfolio_id == portfolio_id))
    if rows:
        session.execute(insert(Holding), [{**row, "portfolio_id": portfolio_id} for row in rows])


# ------------------------------------------------------------------ the sweep


def stale_uploads(session: Session, before: datetime, now: datetime) -> list[Any]:
    """Uploads still in flight whose last claim (or arrival) is older than `before` and whose lease has ended."""
    last_touch = func.coalesce(Upload.claimed_at, Upload.received_at)
    return list(
        session.execute(
            select(Upload.upload_id, Upload.portfolio_id, Upload.last_error, Upload.attempts).where(
                Upload.status.in_(IN_FLIGHT),
                last_touch < before,
                or_(Upload.lease_until.is_(None), Upload.lease_until < now),
            )
        ).all()
    )


def abandon(session: Session, upload_id: uuid.UUID, before: datetime, now: datetime, errors: list[Problem]) -> bool:
    """Mark an upload abandoned if it is still in flight, untouched since `before` and unleased; True if it was."""
    last_touch = func.coalesce(Upload.claimed_at, Upload.received_at)
    done = session.execute(
        update(Upload)
        .where(
            Upload.upload_id == upload_id,
            Upload.status.in_(IN_FLIGHT),
            last_touch < before,
            or_(Upload.lease_until.is_(None), Upload.lease_until < now),
        )
        .values(status="abandoned", finished_at=now, lease_until=None, errors=errors)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    return bool(done)


def in_flight(session: Session, portfolio_id: uuid.UUID) -> int:
    return int(
        session.scalar(select(func.count()).where(Upload.portfolio_id == portfolio_id, Upload.status.in_(IN_FLIGHT)))
        or 0
    )


def last_errors(session: Session, portfolio_id: uuid.UUID) -> list[Problem] | None:
    """The errors of the portfolio's latest finished upload that has some."""
    return session.scalars(
        select(Upload.errors)
        .where(Upload.portfolio_id == portfolio_id, Upload.errors.is_not(None))
        .order_by(Upload.finished_at.desc())
        .limit(1)
    ).first()


def processing_portfolios(session: Session) -> list[Portfolio]:
    return list(session.scalars(select(Portfolio).where(Portfolio.status == "processing").with_for_update()).all())


def grant(session: Session, key: str) -> Grant | None:
    """The grant of an issued key, row-locked until the transaction ends (two objects at one key race for it)."""
    row = session.scalars(select(UploadGrant).where(UploadGrant.object_key == key).with_for_update()).first()
    return None if row is None else Grant(row.user_id, row.portfolio_id, row.expires_at, row.used_etag)


def use_grant(session: Session, key: str, etag: str) -> None:
    session.execute(update(UploadGrant).where(UploadGrant.object_key == key).values(used_etag=etag))
