"""Wiring from settings: the database session and the service. Tests override these with app.dependency_overrides."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends
from labfolio_common.db.engine import session_factory
from labfolio_common.settings import get_settings
from sqlalchemy.orm import Session

from auth.service import AuthService


def get_db() -> Iterator[Session]:
    """A session per request; what the service did not commit is rolled back."""
    session = session_factory(get_settings().database_url)()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


SessionDep = Annotated[Session, Depends(get_db)]


def get_service(db: SessionDep) -> AuthService:
    return AuthService(db, get_settings())


ServiceDep = Annotated[AuthService, Depends(get_service)]
