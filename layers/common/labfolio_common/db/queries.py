"""Queries more than one function asks (without FastAPI: the SQS worker imports this too)."""

from __future__ import annotations

import uuid

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
