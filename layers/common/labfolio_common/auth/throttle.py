"""Login throttling, kept in the database so every Lambda instance sees it.

After `max_failures` failed logins of one account (or from one client address) within `window`, every login on it
answers 429 until `lockout` has passed — the right password included. Accounts are keyed by the case-folded
username whether or not it exists, so throttling says nothing about which accounts exist. Subjects are stored as
SHA-256 digests, never as the text that was typed.

Parallel attempts cannot overshoot the limit: each attempt is counted (`begin`, committed) before its password is
checked, and an attempt that finds more attempts in the window than the limit allows is refused unchecked. An
attempt that succeeds takes its count back (`succeeded`); one that fails keeps it (`failed`) and may start the lockout.
Failures from before a lockout that has ended do not count again.

Sign-ups are counted per client address the same way (`signup`): at most `signup_max` accounts per address within
the window.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
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
    signup_max: int = 30

    @classmethod
    def from_settings(cls, settings: Settings) -> ThrottleLimits:
        return cls(
            account_max_failures=settings.login_account_max_failures,
            address_max_failures=settings.login_address_max_failures,
            window=timedelta(seconds=settings.login_failure_window_seconds),
            lockout=timedelta(seconds=settings.login_lockout_seconds),
            signup_max=settings.signup_address_max,
        )


@dataclass
class Attempt:
    """One login attempt, counted before its password is checked: its rows, and the subjects it counts against."""

    now: datetime
    subjects: list[tuple[Scope, str]]
    rows: list[uuid.UUID] = field(default_factory=list)


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

    def begin(self, now: datetime, *, username: str | None = None, address: str | None = None) -> Attempt:
        """Count an attempt against the account and the address before its password is checked (commit it before
        calling `over_limit`, so that parallel attempts see each other)."""
        self.db.execute(delete(LoginFailure).where(LoginFailure.failed_at <= now - self.limits.window))
        attempt = Attempt(now, self._subjects(username, address))
        for scope, subject in attempt.subjects:
            row = LoginFailure(failure_id=uuid.uuid4(), scope=scope, subject=subject, failed_at=now)
            self.db.add(row)
            attempt.rows.append(row.failure_id)
        self.db.flush()
        return attempt

    def over_limit(self, attempt: Attempt) -> datetime | None:
        """When the attempt finds more attempts than a limit allows (parallel ones included), the lockout it starts
        (the password is then not checked); None when it may go on."""
        for scope, subject in attempt.subjects:
            if self._recent(scope, subject, attempt.now) > self._limit(scope):
                until = attempt.now + self.limits.lockout
                self._lock(scope, subject, until)
                return until
        return None

    def failed(self, attempt: Attempt) -> None:
        """The password was wrong: the attempt stays counted; a subject that reached its limit is locked out."""
        for scope, subject in attempt.subjects:
            if self._recent(scope, subject, attempt.now) >= self._limit(scope):
                self._lock(scope, subject, attempt.now + self.limits.lockout)

    def succeeded(self, attempt: Attempt, *, username: str) -> None:
        """The password was right: the attempt is taken back, and the account's failures are forgotten."""
        self.db.execute(delete(LoginFailure).where(LoginFailure.failure_id.in_(attempt.rows)))
        self.record_success(username=username)

    def signup(self, now: datetime, address: str) -> datetime | None:
        """Count a sign-up from `address`; when it is one more than the window allows, the time it may retry."""
        subject = digest("address", f"signup {address}")
        self.db.execute(delete(LoginFailure).where(LoginFailure.failed_at <= now - self.limits.window))
        self.db.add(LoginFailure(failure_id=uuid.uuid4(), scope="address", subject=subject, failed_at=now))
        self.db.flush()
        if self._recent("address", subject, now) > self.limits.signup_max:
            return now + self.limits.window
        return None

    def _recent(self, scope: Scope, subject: str, now: datetime) -> int:
        """Attempts of the subject within the window, not counting those before a lockout that has ended."""
        since = now - self.limits.window
        ended = self.db.scalar(
            select(LoginLockout.locked_until).where(
                LoginLockout.scope == scope, LoginLockout.subject == subject, LoginLockout.locked_until <= now
            )
        )
        if ended is not None and ended > since:
            since = ended
        count = self.db.scalar(
            select(func.count()).where(
                LoginFailure.scope == scope, LoginFailure.subject == subject, LoginFailure.failed_at > since
            )
        )
        return int(count or 0)

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
