"""`CurrentUser`: the one dependency every protected route of every function declares.

    @router.get("/api/portfolios")
    def list_portfolios(user: CurrentUser) -> ...

Credentials: `Authorization: Bearer <token>` wins when present (programmatic clients; no CSRF check). Otherwise the
HttpOnly, SameSite=Strict session cookie, and then a state-changing request (not GET/HEAD/OPTIONS) must carry
`X-Requested-With: XMLHttpRequest` — a header no cross-site form can send — or it answers 403. No credentials, or
a malformed, tampered, expired, wrongly signed, `alg: none` or revoked token, answers 401.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Final, Literal

from fastapi import Depends, Request, Response
from fastapi.security import APIKeyCookie, HTTPBearer

from labfolio_common.auth.keys import signing_key
from labfolio_common.auth.sessions import find_active
from labfolio_common.auth.tokens import InvalidTokenError, verify_token
from labfolio_common.auth.viewer import caller_address
from labfolio_common.db.engine import get_engine
from labfolio_common.db.models import utcnow
from labfolio_common.errors import AuthenticationError, PermissionDeniedError
from labfolio_common.settings import get_settings

COOKIE_NAME: Final = "labfolio_session"
COOKIE_PATH: Final = "/api"
CSRF_HEADER: Final = "X-Requested-With"
CSRF_VALUE: Final = "XMLHttpRequest"
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
INSECURE_COOKIE_HOSTS: Final = frozenset({"127.0.0.1", "localhost"})  # the local stack over plain http
_CHALLENGE: Final = {"WWW-Authenticate": "Bearer"}

# For the OpenAPI document only (both schemes, no automatic errors): `authenticate` reads the request itself, so
# that a present but non-Bearer Authorization header is refused rather than skipped for the cookie.
_bearer_scheme = HTTPBearer(auto_error=False, description="Access token from /api/auth/login")
_cookie_scheme = APIKeyCookie(name=COOKIE_NAME, auto_error=False, description="Session cookie (browsers)")


@dataclass(frozen=True)
class AuthenticatedUser:
    user_id: uuid.UUID
    username: str
    created_at: datetime | None
    session_id: uuid.UUID
    session_expires_at: datetime
    via: Literal["bearer", "cookie"]


def unauthorized(detail: str = "not authenticated") -> AuthenticationError:
    return AuthenticationError(detail, headers=_CHALLENGE)


def credentials(request: Request) -> tuple[str, Literal["bearer", "cookie"]]:
    """The token and where it came from; 401 when there is none (or Authorization is not a Bearer token)."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized("Authorization must be 'Bearer <token>'")
        return token.strip(), "bearer"
    cookie = request.cookies.get(COOKIE_NAME)
    if cookie:
        return cookie, "cookie"
    raise unauthorized()


async def authenticate(
    request: Request,
    _bearer: Annotated[object, Depends(_bearer_scheme)] = None,
    _cookie: Annotated[object, Depends(_cookie_scheme)] = None,
) -> AuthenticatedUser:
    """Who is asking: a valid token of a live session, and the CSRF rule for cookies.

    `async` with a blocking (~1 ms) query inside, on purpose: a Lambda instance serves one request at a time, and a
    hop to the thread pool would cost more than the query and add GIL-switch latency (milliseconds) to the tail.
    """
    token, via = credentials(request)
    settings = get_settings()
    try:
        claims = verify_token(signing_key(settings), token)
    except InvalidTokenError:
        raise unauthorized("invalid or expired token") from None
    with get_engine(settings.database_url).connect() as connection:
        found = find_active(connection, claims.session_id, claims.user_id, utcnow())
    if found is None:
        raise unauthorized("session ended")
    if via == "cookie" and request.method not in SAFE_METHODS and request.headers.get(CSRF_HEADER) != CSRF_VALUE:
        raise PermissionDeniedError(f"a request authenticated by cookie must send '{CSRF_HEADER}: {CSRF_VALUE}'")
    return AuthenticatedUser(
        user_id=found.user_id,
        username=found.username,
        created_at=found.created_at,
        session_id=found.session_id,
        session_expires_at=found.session_expires_at,
        via=via,
    )


CurrentUser = Annotated[AuthenticatedUser, Depends(authenticate)]


def client_address(request: Request) -> str:
    """The caller's address: API Gateway's `requestContext.http.sourceIp` (never X-Forwarded-For), or the viewer's
    own when the request provably came through the stack's CloudFront distribution (labfolio_common.auth.viewer)."""
    event = request.scope.get("aws.event") or {}
    fallback = request.client.host if request.client else "unknown"
    return caller_address(event, request.headers, get_settings().origin_verify_secret_arn, fallback)


def _secure(request: Request) -> bool:
    host = request.headers.get("host", "").rsplit(":", 1)[0].lower()
    return host not in INSECURE_COOKIE_HOSTS


def set_session_cookie(response: Response, request: Request, token: str, max_age: int) -> None:
    """The browser's session: HttpOnly, SameSite=Strict, Secure except on 127.0.0.1/localhost, under /api."""
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=max(0, max_age),
        path=COOKIE_PATH,
        secure=_secure(request),
        httponly=True,
        samesite="strict",
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(COOKIE_NAME, path=COOKIE_PATH, secure=_secure(request), httponly=True, samesite="strict")
