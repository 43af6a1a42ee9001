"""Accounts in the database: find by case-folded username, create, set a password (ending sessions)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from labfolio_common.auth.rules import normalize_username
from labfolio_common.auth.sessions import revoke_all_sessions
from labfolio_common.db.models import Account
from labfolio_common.errors import ConflictError


def find_by_username(db: Session, username: str) -> Account | None:
    """The account whose name equals `username` ignoring case (uses the unique index on lower(username))."""
    return db.scalars(select(Account).where(func.lower(Account.username) == normalize_username(username))).first()


def get_account(db: Session, user_id: uuid.UUID) -> Account | None:
    return db.get(Account, user_id)


def create_account(db: Session, username: str, password_hash: str, now: datetime) -> Account:
    """A new account; ConflictError when the name is taken in any case (checked, then enforced by the index).

    After a ConflictError the caller's transaction must be rolled back. (No SAVEPOINT here: on SQLite, pysqlite
    opens no transaction before it, so releasing the savepoint would commit everything.)
    """
    if find_by_username(db, username) is not None:
        raise ConflictError("username already taken")
    account = Account(user_id=uuid.uuid4(), username=username, password_hash=password_hash, created_at=now)
    db.add(account)
    try:
        db.flush()
    except IntegrityError:
        raise ConflictError("username already taken") from None
    return account


def set_password_hash(
    db: Session, account: Account, password_hash: str, now: datetime, keep_session: uuid.UUID | None = None
) -> int:
    """Store a new hash and end every session of the account but `keep_session`; return how many ended."""
    account.password_hash = password_hash
    db.flush()
    return revoke_all_sessions(db, account.user_id, now, keep=keep_session)
