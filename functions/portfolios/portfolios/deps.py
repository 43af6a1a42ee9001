"""Wiring of the portfolios routes: the database session, the service, the caller's portfolio, the JSON body.

Order of answers on every route (DESIGN.md §6): 401 (no valid session, `CurrentUser`) → 404 (not the caller's
portfolio, or missing: `OwnedPortfolio`, before the body is read) → 422. Bodies are therefore parsed by a dependency
declared after those two (`json_body`), not by FastAPI before the dependencies run (it decodes JSON first).
"""

from __future__ import annotations

import uuid
from functools import partial
from typing import Annotated

from fastapi import Depends
from labfolio_common.auth.deps import CurrentUser
from labfolio_common.aws import client
from labfolio_common.db.deps import SessionDep
from labfolio_common.db.models import Portfolio
from labfolio_common.db.queries import owned_portfolio as find_owned
from labfolio_common.http import body_schema, json_body
from labfolio_common.settings import get_settings

from portfolios.domain.errors import PortfolioNotFoundError
from portfolios.service import PortfolioService


def get_service(db: SessionDep) -> PortfolioService:
    return PortfolioService(db, get_settings(), partial(client, "s3"))


ServiceDep = Annotated[PortfolioService, Depends(get_service)]


def owned_portfolio(portfolio_id: str, user: CurrentUser, db: SessionDep) -> Portfolio:
    """The caller's portfolio `portfolio_id`; 404 when it is missing, another account's, or not even an id."""
    try:
        ident = uuid.UUID(portfolio_id)
    except ValueError:
        raise PortfolioNotFoundError() from None
    portfolio = find_owned(db, user.user_id, ident)
    if portfolio is None:
        raise PortfolioNotFoundError()
    return portfolio


OwnedPortfolio = Annotated[Portfolio, Depends(owned_portfolio)]

__all__ = ["body_schema", "json_body"]  # re-exported: the routes import them from here
