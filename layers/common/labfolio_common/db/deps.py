"""The database session of an HTTP request, shared by every function's routes.

`get_db` is `async` although closing a session may block: a Lambda instance (and the local stack's, see
local/runtime.py) serves one request at a time, so the event loop has nothing else to do, and a hop to the thread
pool (what FastAPI does for a plain `def` dependency) costs more than the work of a warm request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.orm import Session

from labfolio_common.db.engine import session_factory
from labfolio_common.settings import get_settings


async def get_db() -> AsyncIterator[Session]:
    """A session per request; what the service did not commit is rolled back, and the session is closed."""
    session = session_factory(get_settings().database_url)()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


SessionDep = Annotated[Session, Depends(get_db)]
