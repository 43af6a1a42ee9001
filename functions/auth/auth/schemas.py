"""Request and response bodies of the auth routes (`XRequest` in, `XPublic` out)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from labfolio_common.auth.rules import PASSWORD_MAX, PASSWORD_MIN, USERNAME_MAX, USERNAME_MIN, is_encodable
from labfolio_common.auth.rules import normalize_username as _fold
from pydantic import BaseModel, Field, ValidationInfo, field_validator

from auth.service import IssuedSession


def _text(value: str) -> str:
    if not is_encodable(value):
        raise ValueError("must be valid Unicode text")
    return value


class SignupRequest(BaseModel):
    username: str = Field(
        min_length=USERNAME_MIN,
        max_length=USERNAME_MAX,
        pattern=r"^[A-Za-z0-9._-]+$",
        description="letters, digits, '.', '_' or '-'; unique ignoring case",
        examples=["ada.lovelace"],
    )
    password: str = Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX, description="not the username")

    @field_validator("password")
    @classmethod
    def _password(cls, value: str, info: ValidationInfo) -> str:
        _text(value)
        username = info.data.get("username")
        if isinstance(username, str) and _fold(value) == _fold(username):
            raise ValueError("must not be the username")
        return value


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=PASSWORD_MAX)
    password: str = Field(min_length=1, max_length=PASSWORD_MAX)

    _texts = field_validator("username", "password")(_text)


class PasswordChangeRequest(BaseModel):
    current_password: str = Field(min_length=1, max_length=PASSWORD_MAX)
    new_password: str = Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX, description="not the username")

    _texts = field_validator("current_password", "new_password")(_text)


class AccountDeletionRequest(BaseModel):
    password: str = Field(min_length=1, max_length=PASSWORD_MAX)

    _texts = field_validator("password")(_text)


class AccountPublic(BaseModel):
    user_id: uuid.UUID
    username: str


class SessionPublic(AccountPublic):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int = Field(description="seconds until the access token expires")

    @classmethod
    def of(cls, issued: IssuedSession) -> SessionPublic:
        return cls(
            user_id=issued.user_id,
            username=issued.username,
            access_token=issued.token,
            expires_in=issued.expires_in,
        )


class MePublic(AccountPublic):
    created_at: datetime | None
