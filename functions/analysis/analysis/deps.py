"""Wiring from settings: the database session per request, the analyses service, and the caller's portfolio or
analysis (404 for a missing one and for another account's alike, checked before any body is read). Tests override
these with app.dependency_overrides."""

from __future__ import annotations

import uuid
from typing import Annotated, cast

from fastapi import Depends
from labfolio_common.auth.deps import CurrentUser
from labfolio_common.aws import client
from labfolio_common.db.deps import SessionDep
from labfolio_common.db.models import Analysis, Portfolio
from labfolio_common.errors import NotFoundError
from labfolio_common.settings import get_settings

from analysis.adapters import sql_analyses, sql_uploads
from analysis.analyses import AnalysesService

# ------------------------------------------------------------------ analyses (owner-only)


def get_analyses_service(db: SessionDep) -> AnalysesService:
    return AnalysesService(db, get_settings(), client("sqs"))


AnalysesServiceDep = Annotated[AnalysesService, Depends(get_analyses_service)]


def owned_portfolio(portfolio_id: str, user: CurrentUser, db: SessionDep) -> Portfolio:
    """The caller's portfolio `portfolio_id`; 404 when it is missing, another account's, or not even an id."""
    try:
        ident = uuid.UUID(portfolio_id)
    except ValueError:
        raise NotFoundError("portfolio not found") from None
    portfolio = sql_uploads.owned_portfolio(db, user.user_id, ident)
    if portfolio is None:
        raise NotFoundError("portfolio not found")
    return cast(Portfolio, portfolio)


def owned_analysis(analysis_id: str, user: CurrentUser, db: SessionDep) -> Analysis:
    """The caller's analysis `analysis_id` (through its portfolio's owner); 404 otherwise, as for a missing one."""
    try:
        ident = uuid.UUID(analysis_id)
    except ValueError:
        raise NotFoundError("analysis not found") from None
    analysis = sql_analyses.owned(db, user.user_id, ident)
    if analysis is None:
        raise NotFoundError("analysis not found")
    return analysis


OwnedPortfolio = Annotated[Portfolio, Depends(owned_portfolio)]
OwnedAnalysis = Annotated[Analysis, Depends(owned_analysis)]
