"""Access tokens: JWT signed with HS256, claims `sub` (user id), `sid` (session id), `iat`, `exp`.

Only HS256 is accepted (`alg: none` and every other algorithm are refused); the four claims are required.
A token says who and which session; whether the session still holds is the database's answer (`sessions`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import jwt

ALGORITHM: Final = "HS256"
MAX_TOKEN_LENGTH: Final = 4096
_REQUIRED: Final = ["sub", "sid", "iat", "exp"]


class InvalidTokenError(Exception):
    """Malformed, tampered, expired, wrongly signed or of another algorithm; the message is for logs only."""


@dataclass(frozen=True)
class TokenClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID
    issued_at: datetime
    expires_at: datetime


def issue_token(key: bytes, claims: TokenClaims) -> str:
    """Sign `claims` with `key` (HS256)."""
    payload = {
        "sub": str(claims.user_id),
        "sid": str(claims.session_id),
        "iat": int(claims.issued_at.timestamp()),
        "exp": int(claims.expires_at.timestamp()),
    }
    return jwt.encode(payload, key, algorithm=ALGORITHM)


def verify_token(key: bytes, token: str) -> TokenClaims:
    """The claims of a valid, unexpired HS256 token signed with `key`; InvalidTokenError otherwise."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidTokenError("empty or oversized token")
    try:
        payload = jwt.decode(token, key, algorithms=[ALGORITHM], options={"require": _REQUIRED})
        return TokenClaims(
            user_id=uuid.UUID(str(payload["sub"])),
            session_id=uuid.UUID(str(payload["sid"])),
            issued_at=datetime.fromtimestamp(int(payload["iat"]), UTC),
            expires_at=datetime.fromtimestamp(int(payload["exp"]), UTC),
        )
    except jwt.PyJWTError as exc:
        raise InvalidTokenError(type(exc).__name__) from None
    except (ValueError, TypeError, OverflowError):
        raise InvalidTokenError("malformed claims") from None
