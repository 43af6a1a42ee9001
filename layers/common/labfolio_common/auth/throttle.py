"""Login throttling, kept in the database so every Lambda instance sees it.

After `max_failures` failed logins of one account (or from one client address) within `window`, every login on it
answers 429 until `lockout` has passed — the right password included. Accounts are keyed by the case-folded
username whether or not it exists, so throttling says nothing about which accounts exist. Subjects are stored as
SHA-256 digests, never as the text that was typed. Checks and records are not atomic: a burst of parallel attempts
may overshoot the limit by the number in flight (API Gateway's route throttling bounds those).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.orm import Session

from labfolio_common.auth.rules import normalize_username
from labfolio_common.db.models import LoginFailure, LoginLockout
from labfolio_common.db.upsert import upsert
from labfolio_common.settings import Settings

Scope = Literal["account", "address"]


@dataclass(frozen=True)
class ThrottleLimits:
    account_max_failures: int = 5
    address_max_failures: int = 50
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)

    @classmethod
    def from_settings(cls, settings: Settings) -> ThrottleLimits:
        return cls(
            account_max_failures=settings.login_account_max_failures,
            address_max_failures=settings.login_address_max_failures,
            window=timedelta(seconds=settings.login_failure_window_seconds),
            lockout=timedelta(seconds=settings.login_lockout_seconds),
        )


def digest(scope: Scope, value: str) -> str:
    """What is stored for an account (case-folded username) or an address: a SHA-256 hex digest."""
    text = normalize_username(value) if scope == "account" else value
    return hashlib.sha256(f"{scope}:{text}".encode("utf-8", "surrogatepass")).hexdigest()


class LoginThrottle:
    def __init__(self, db: Session, limits: ThrottleLimits) -> None:
        self.db = db
        self.limits = limits

    def locked_until(
        self, now: datetime, *, username: str | None = None, address: str | None = None
    ) -> datetime | None:
        """The end of the latest lockout still in force on the account or the address, else None."""
        subjects = self._subjects(username, address)
        if not subjects:
            return None
        matches = or_(
            *[and_(LoginLockout.scope == scope, LoginLockout.subject == subject) for scope, subject in subjects]
        )
        ends = self.db.scalars(select(LoginLockout.locked_until).where(LoginLockout.locked_until > now, matches)).all()
        return max(ends, default=None)

    def record_failure(self, now: datetime, *, username: str | None = None, address: str | None = None) -> None:
        """Count one failure for the account and the address; start a lockout on each that reached its limit."""
        since = now - self.limits.window
        self.db.execute(delete(LoginFailure).where(LoginFailure.failed_at <= since))
        for scope, subject in self._subjects(username, address):
            self.db.add(LoginFailure(scope=scope, subject=subject, failed_at=now))
            self.db.flush()
            failures = self.db.scalar(
                select(func.count()).where(
                    LoginFailure.scope == scope, LoginFailure.subject == subject, LoginFailure.failed_at > since
                )
            )
            if int(failures or 0) >= self._limit(scope):
                self._lock(scope, subject, now + self.limits.lockout)

    def record_success(self, *, username: str) -> None:
        """A successful login forgets the account's failures (never the address's)."""
        self.db.execute(
            delete(LoginFailure).where(
                LoginFailure.scope == "account", LoginFailure.subject == digest("account", username)
            )
        )

    def clear_account(self, username: str) -> None:
        """Lift the account's lockout and forget its failures (the operator's password reset)."""
        subject = digest("account", username)
        self.db.execute(delete(LoginLockout).where(LoginLockout.scope == "account", LoginLockout.subject == subject))
        self.db.execute(delete(LoginFailure).where(LoginFailure.scope == "account", LoginFailure.subject == subject))

    def _limit(self, scope: Scope) -> int:
        return self.limits.account_max_failures if scope == "account" else self.limits.address_max_failures

    def _lock(self, scope: Scope, subject: str, until: datetime) -> None:
        upsert(
            self.db, LoginLockout, [{"scope": scope, "subject": subject, "locked_until": until}], ["scope", "subject"]
        )

    @staticmethod
    def _subjects(username: str | None, address: str | None) -> list[tuple[Scope, str]]:
        subjects: list[tuple[Scope, str]] = []
        if username is not None:
            subjects.append(("account", digest("account", username)))
        if address:
            subjects.append(("address", digest("address", address)))
        return subjects
