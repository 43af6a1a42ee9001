"""Wiring from settings: the database session per request. Tests override it with app.dependency_overrides."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends
from labfolio_common.db.engine import session_factory
from labfolio_common.settings import get_settings
from sqlalchemy.orm import Session


def get_db() -> Iterator[Session]:
    """A read session per request, rolled back and closed at the end."""
    session = session_factory(get_settings().database_url)()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


SessionDep = Annotated[Session, Depends(get_db)]
