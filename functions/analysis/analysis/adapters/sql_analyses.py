"""SQL adapter of analyses (user_management.analyses): create, find the caller's, page, and the worker's claim.

Every function runs in the caller's transaction. Ownership goes through user_portfolios, as for portfolios: another
account's analysis is not found. A claim is a conditional UPDATE (queued, or running with its lease over), so of two
workers handed the same job message only one runs it; finishing checks the claim again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from labfolio_common.db.models import Account, Analysis, UserPortfolio
from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session, defer

from analysis.domain.pages import Cursor

IN_FLIGHT: Final = ("queued", "running")
FINAL: Final = ("ready", "failed")


@dataclass(frozen=True)
class Claim:
    analysis_id: uuid.UUID
    claim_id: uuid.UUID
    portfolio_id: uuid.UUID
    user_id: uuid.UUID
    params: dict[str, Any]
    attempts: int


def owner_of(session: Session, portfolio_id: uuid.UUID) -> uuid.UUID | None:
    """The account that owns the portfolio (labfolio writes exactly one owner row)."""
    return session.scalars(
        select(UserPortfolio.user_id).where(UserPortfolio.portfolio_id == portfolio_id).limit(1)
    ).first()


def create(
    session: Session,
    *,
    portfolio_id: uuid.UUID,
    user_id: uuid.UUID,
    params: dict[str, Any],
    trigger: str,
    now: datetime,
    upload_id: uuid.UUID | None = None,
) -> Analysis:
    analysis = Analysis(
        analysis_id=uuid.uuid4(),
        portfolio_id=portfolio_id,
        user_id=user_id,
        status="queued",
        trigger=trigger,
        upload_id=upload_id,
        params=params,
        created_at=now,
        updated_at=now,
        attempts=0,
    )
    session.add(analysis)
    session.flush()
    return analysis


def owned(session: Session, user_id: uuid.UUID, analysis_id: uuid.UUID) -> Analysis | None:
    """The analysis if `user_id` owns its portfolio, else None."""
    return session.scalars(
        select(Analysis)
        .join(UserPortfolio, UserPortfolio.portfolio_id == Analysis.portfolio_id)
        .where(Analysis.analysis_id == analysis_id, UserPortfolio.user_id == user_id)
    ).first()


def page(session: Session, portfolio_id: uuid.UUID, limit: int, after: Cursor | None) -> list[Analysis]:
    """Up to `limit` analyses of the portfolio, newest first, strictly after `after` (results not loaded)."""
    query = (
        select(Analysis)
        .options(defer(Analysis.result), defer(Analysis.inputs))
        .where(Analysis.portfolio_id == portfolio_id)
        .order_by(Analysis.created_at.desc(), Analysis.analysis_id.desc())
        .limit(limit)
    )
    if after is not None:
        query = query.where(
            or_(
                Analysis.created_at < after.created_at,
                and_(Analysis.created_at == after.created_at, Analysis.analysis_id < after.item_id),
            )
        )
    return list(session.scalars(query).all())


def set_failed(session: Session, analysis_id: uuid.UUID, error: dict[str, Any], now: datetime) -> None:
    """Fail an analysis that is still in flight (it never got to run: its message could not be sent)."""
    session.execute(
        update(Analysis)
        .where(Analysis.analysis_id == analysis_id, Analysis.status.in_(IN_FLIGHT))
        .values(status="failed", error=error, finished_at=now, updated_at=now, lease_until=None)
        .execution_options(synchronize_session=False)
    )


# ------------------------------------------------------------------ the worker


def claim(session: Session, analysis_id: uuid.UUID, now: datetime, lease_until: datetime) -> Claim | str:
    """Take the analysis to run it until `lease_until`; else its status ("gone" when there is no such analysis)."""
    claim_id = uuid.uuid4()
    claimable = or_(
        Analysis.status == "queued",
        and_(Analysis.status == "running", or_(Analysis.lease_until.is_(None), Analysis.lease_until < now)),
    )
    taken = session.execute(
        update(Analysis)
        .where(Analysis.analysis_id == analysis_id, claimable)
        .values(
            status="running",
            attempts=Analysis.attempts + 1,
            claim_id=claim_id,
            started_at=now,
            updated_at=now,
            lease_until=lease_until,
        )
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    row = session.execute(
        select(Analysis.status, Analysis.portfolio_id, Analysis.user_id, Analysis.params, Analysis.attempts).where(
            Analysis.analysis_id == analysis_id
        )
    ).first()
    if row is None:
        return "gone"
    if not taken:
        return str(row.status)
    return Claim(analysis_id, claim_id, row.portfolio_id, row.user_id, dict(row.params), int(row.attempts))


def holds(session: Session, claim: Claim) -> bool:
    """Whether `claim` is still the analysis's current claim (row-locked on PostgreSQL until the transaction ends)."""
    found = session.execute(
        select(Analysis.analysis_id)
        .where(
            Analysis.analysis_id == claim.analysis_id,
            Analysis.claim_id == claim.claim_id,
            Analysis.status == "running",
        )
        .with_for_update()
    ).first()
    return found is not None


def finish(session: Session, claim: Claim, now: datetime, **values: Any) -> None:
    """Settle the claimed analysis: ready with result and inputs, or failed with its error."""
    session.execute(
        update(Analysis)
        .where(Analysis.analysis_id == claim.analysis_id, Analysis.claim_id == claim.claim_id)
        .values(finished_at=now, updated_at=now, lease_until=None, **values)
        .execution_options(synchronize_session=False)
    )


def release(session: Session, claim: Claim, reason: str, now: datetime) -> None:
    """Give a claim back after a transient failure: the retried message may claim it at once."""
    session.execute(
        update(Analysis)
        .where(
            Analysis.analysis_id == claim.analysis_id,
            Analysis.claim_id == claim.claim_id,
            Analysis.status == "running",
        )
        .values(status="queued", lease_until=None, updated_at=now, last_error=reason[:2000])
        .execution_options(synchronize_session=False)
    )


# ------------------------------------------------------------------ the sweep


def _stale(before: datetime, now: datetime) -> Any:
    last_touch = func.coalesce(Analysis.started_at, Analysis.created_at)
    return and_(
        Analysis.status.in_(IN_FLIGHT),
        last_touch < before,
        or_(Analysis.lease_until.is_(None), Analysis.lease_until < now),
    )


def stale(session: Session, before: datetime, now: datetime) -> list[Any]:
    """Analyses still in flight, untouched since `before` and unleased: their retries ran out (or their message was
    lost)."""
    query = select(Analysis.analysis_id, Analysis.attempts, Analysis.last_error).where(_stale(before, now))
    return list(session.execute(query).all())


def abandon(session: Session, analysis_id: uuid.UUID, before: datetime, now: datetime, error: dict[str, Any]) -> bool:
    """Fail an analysis if it is still stale; True if it was."""
    done = session.execute(
        update(Analysis)
        .where(Analysis.analysis_id == analysis_id, _stale(before, now))
        .values(status="failed", error=error, finished_at=now, updated_at=now, lease_until=None)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    return bool(done)


def active_of_account(session: Session, user_id: uuid.UUID) -> int:
    """How many of the account's analyses are queued or running, its account row locked until the transaction ends
    (two requests at once are counted one after the other)."""
    session.execute(select(Account.user_id).where(Account.user_id == user_id).with_for_update())
    query = (
        select(func.count()).select_from(Analysis).where(Analysis.user_id == user_id, Analysis.status.in_(IN_FLIGHT))
    )
    return int(session.scalar(query) or 0)


def beyond_history(session: Session, portfolio_id: uuid.UUID, keep: int) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(analysis, owner) of the portfolio's finished analyses older than its `keep` newest, but never its latest ready
    one (and never one queued or running)."""
    rows = session.execute(
        select(Analysis.analysis_id, Analysis.user_id, Analysis.status)
        .where(Analysis.portfolio_id == portfolio_id)
        .order_by(Analysis.created_at.desc(), Analysis.analysis_id.desc())
    ).all()
    latest_ready = next((row.analysis_id for row in rows if row.status == "ready"), None)
    return [
        (row.analysis_id, row.user_id)
        for row in rows[keep:]
        if row.status not in IN_FLIGHT and row.analysis_id != latest_ready
    ]


def delete_analyses(session: Session, analysis_ids: list[uuid.UUID]) -> None:
    session.execute(delete(Analysis).where(Analysis.analysis_id.in_(analysis_ids)))
