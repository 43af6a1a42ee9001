"""Operator actions on accounts (no HTTP): reset a forgotten password, make sure an account exists (the local
stack's demo account). Both end the account's sessions when they change its password."""

from __future__ import annotations

import secrets
from typing import Final

from sqlalchemy.orm import Session

from labfolio_common.auth.accounts import create_account, find_by_username, set_password_hash
from labfolio_common.auth.passwords import hash_password, verify_password
from labfolio_common.auth.rules import password_problem, username_problem
from labfolio_common.auth.throttle import LoginThrottle, ThrottleLimits
from labfolio_common.db.models import Account, utcnow
from labfolio_common.errors import NotFoundError, ValidationFailedError

GENERATED_PASSWORD_BYTES: Final = 15  # 20 URL-safe characters, 120 bits


def generate_password() -> str:
    return secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)


def reset_password(db: Session, username: str, password: str) -> tuple[Account, int]:
    """Give `username` a new password, end all its sessions and lift its login lockout.

    Returns the account and how many sessions ended; NotFoundError when no account has that name.
    """
    account = find_by_username(db, username)
    if account is None:
        raise NotFoundError(f"no account named {username!r}")
    problem = password_problem(password, account.username)
    if problem:
        raise ValidationFailedError(f"password: {problem}")
    ended = set_password_hash(db, account, hash_password(password), utcnow())
    LoginThrottle(db, ThrottleLimits()).clear_account(account.username)
    return account, ended


def ensure_account(db: Session, username: str, password: str) -> tuple[Account, bool]:
    """Make sure `username` exists with `password` (created, or its password reset if it differs).

    Returns the account and whether anything changed.
    """
    problem = username_problem(username) or password_problem(password, username)
    if problem:
        raise ValidationFailedError(problem)
    account = find_by_username(db, username)
    if account is None:
        return create_account(db, username, hash_password(password), utcnow()), True
    if verify_password(account.password_hash, password):
        return account, False
    return reset_password(db, username, password)[0], True
