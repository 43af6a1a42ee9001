"""Wiring from settings: the database session and the service. Tests override these with app.dependency_overrides.

Dependencies and routes are `async` although the database and argon2 calls inside block: a Lambda instance serves
one request at a time, so the event loop has nothing else to do, and each hop to the thread pool (what FastAPI does
for a plain `def`) costs more than the work of a warm request and adds milliseconds of GIL-switch tail latency.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends
from labfolio_common.db.engine import session_factory
from labfolio_common.settings import get_settings
from sqlalchemy.orm import Session

from auth.service import AuthService


async def get_db() -> AsyncIterator[Session]:
    """A session per request; what the service did not commit is rolled back."""
    session = session_factory(get_settings().database_url)()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


SessionDep = Annotated[Session, Depends(get_db)]


async def get_service(db: SessionDep) -> AuthService:
    return AuthService(db, get_settings())


ServiceDep = Annotated[AuthService, Depends(get_service)]
