"""Queries more than one part asks (without FastAPI: the SQS worker and the local stack import this too)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from labfolio_common.db.models import Portfolio, UserPortfolio


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
