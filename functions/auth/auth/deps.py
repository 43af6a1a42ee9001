"""Wiring from settings: the service on the request's database session (labfolio_common.db.deps). Tests override
these with app.dependency_overrides.

Dependencies and routes are `async` although the database and argon2 calls inside block: a Lambda instance serves
one request at a time, so the event loop has nothing else to do, and each hop to the thread pool (what FastAPI does
for a plain `def`) costs more than the work of a warm request and adds milliseconds of GIL-switch tail latency.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from labfolio_common.db.deps import SessionDep
from labfolio_common.settings import get_settings

from auth.service import AuthService


async def get_service(db: SessionDep) -> AuthService:
    return AuthService(db, get_settings())


ServiceDep = Annotated[AuthService, Depends(get_service)]
