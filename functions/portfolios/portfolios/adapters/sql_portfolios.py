"""SQL adapter of the portfolios function: a caller's portfolios (through user_portfolios), their latest upload,
holdings and the last cached price of each ticker. Runs in the caller's transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from labfolio_common.db import queries
from labfolio_common.db.models import Analysis, Holding, Portfolio, Price, Upload, UserPortfolio
from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.orm import Session

from portfolios.domain.pages import Cursor

# Uploads the caller is told about: those that reached (or are on their way to) a portfolio.
SHOWN_UPLOADS = ("received", "processing", "ready", "failed", "abandoned")


def page(db: Session, user_id: uuid.UUID, limit: int, after: Cursor | None) -> list[Portfolio]:
    """Up to `limit` of the caller's portfolios, newest first, strictly after `after`."""
    query = (
        select(Portfolio)
        .join(UserPortfolio, UserPortfolio.portfolio_id == Portfolio.portfolio_id)
        .where(UserPortfolio.user_id == user_id)
        .order_by(Portfolio.created_at.desc(), Portfolio.portfolio_id.desc())
        .limit(limit)
    )
    if after is not None:
        query = query.where(
            or_(
                Portfolio.created_at < after.created_at,
                and_(Portfolio.created_at == after.created_at, Portfolio.portfolio_id < after.item_id),
            )
        )
    return list(db.scalars(query).all())


def latest_analyses(db: Session, portfolio_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    """Each portfolio's newest analysis (any status)."""
    if not portfolio_ids:
        return {}
    newest = (
        select(Analysis.portfolio_id, func.max(Analysis.created_at).label("created_at"))
        .where(Analysis.portfolio_id.in_(portfolio_ids))
        .group_by(Analysis.portfolio_id)
        .subquery()
    )
    rows = db.execute(
        select(Analysis.portfolio_id, Analysis.analysis_id).join(
            newest,
            and_(Analysis.portfolio_id == newest.c.portfolio_id, Analysis.created_at == newest.c.created_at),
        )
    ).all()
    return {portfolio_id: analysis_id for portfolio_id, analysis_id in rows}


def latest_uploads(db: Session, portfolio_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Upload]:
    """Each portfolio's most recent upload that is shown to its owner."""
    if not portfolio_ids:
        return {}
    newest = (
        select(Upload.portfolio_id, func.max(Upload.received_at).label("received_at"))
        .where(Upload.portfolio_id.in_(portfolio_ids), Upload.status.in_(SHOWN_UPLOADS))
        .group_by(Upload.portfolio_id)
        .subquery()
    )
    rows = db.scalars(
        select(Upload)
        .join(newest, and_(Upload.portfolio_id == newest.c.portfolio_id, Upload.received_at == newest.c.received_at))
        .where(Upload.status.in_(SHOWN_UPLOADS))
    ).all()
    return {row.portfolio_id: row for row in rows if row.portfolio_id is not None}


def holdings(db: Session, portfolio_id: uuid.UUID) -> list[Holding]:
    return list(
        db.scalars(select(Holding).where(Holding.portfolio_id == portfolio_id).order_by(Holding.position)).all()
    )


def last_prices(db: Session, tickers: Sequence[str]) -> dict[str, tuple[date, float]]:
    """The latest cached (date, adjusted close) of each ticker that has one."""
    if not tickers:
        return {}
    latest = (
        select(Price.ticker, func.max(Price.date).label("date"))
        .where(Price.ticker.in_(sorted(set(tickers))))
        .group_by(Price.ticker)
        .subquery()
    )
    rows = db.execute(
        select(Price.ticker, Price.date, Price.adj_close).join(
            latest, and_(Price.ticker == latest.c.ticker, Price.date == latest.c.date)
        )
    ).all()
    return {ticker: (day, float(close)) for ticker, day, close in rows}


def delete_portfolio(db: Session, portfolio_id: uuid.UUID) -> None:
    """The portfolio row; its holdings, upload rows and ownership row cascade."""
    db.execute(delete(Portfolio).where(Portfolio.portfolio_id == portfolio_id))


grant_upload = queries.grant_upload  # record an issued upload key (labfolio_common.db.queries)
