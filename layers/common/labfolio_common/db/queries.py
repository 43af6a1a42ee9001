"""Queries more than one part asks (without FastAPI: the SQS worker and the local stack import this too)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from labfolio_common.db.models import Portfolio, UploadGrant, UserPortfolio


def owned_portfolio(
    db: Session, user_id: uuid.UUID, portfolio_id: uuid.UUID, *, lock: bool = False
) -> Portfolio | None:
    """The portfolio if `user_id` owns it (row-locked on PostgreSQL when `lock`), else None — a missing portfolio and
    another account's look the same to the caller."""
    query = (
        select(Portfolio)
        .join(UserPortfolio, UserPortfolio.portfolio_id == Portfolio.portfolio_id)
        .where(Portfolio.portfolio_id == portfolio_id, UserPortfolio.user_id == user_id)
    )
    if lock:
        query = query.with_for_update(of=Portfolio)
    return db.scalars(query).first()


def new_portfolio(db: Session, user_id: uuid.UUID, name: str, now: datetime) -> Portfolio:
    """A new portfolio with its one owner row (DESIGN.md §4), awaiting its first upload (flushed, not committed)."""
    portfolio = Portfolio(
        portfolio_id=uuid.uuid4(),
        portfolio_name=name,
        created_at=now,
        updated_at=now,
        status="awaiting_upload",
        status_changed_at=now,
        holdings_count=0,
    )
    db.add(portfolio)
    db.flush()
    db.add(UserPortfolio(user_id=user_id, portfolio_id=portfolio.portfolio_id, created_at=now))
    db.flush()
    return portfolio


def grant_upload(
    db: Session, key: str, user_id: uuid.UUID, portfolio_id: uuid.UUID, now: datetime, ttl: timedelta, keep: int = 20
) -> None:
    """Record an issued upload key (the worker takes an object only at a granted key: analysis.ingestion); drop the
    portfolio's expired grants and all but its `keep` newest."""
    db.add(UploadGrant(object_key=key, user_id=user_id, portfolio_id=portfolio_id, issued_at=now, expires_at=now + ttl))
    db.flush()
    newest = (
        select(UploadGrant.object_key)
        .where(UploadGrant.portfolio_id == portfolio_id)
        .order_by(UploadGrant.issued_at.desc(), UploadGrant.object_key)
        .limit(keep)
    )
    db.execute(
        delete(UploadGrant).where(
            UploadGrant.portfolio_id == portfolio_id,
            UploadGrant.object_key != key,
            or_(UploadGrant.expires_at < now, UploadGrant.object_key.not_in(newest.scalar_subquery())),
        )
    )
