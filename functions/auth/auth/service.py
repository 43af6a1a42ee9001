"""Use cases of the auth function: sign up, log in, refresh, log out, change password, delete the account.

Each use case commits what it means to keep before it answers — a failed login's throttle record included, so
the commit comes before the 401 is raised.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from labfolio_common.auth.accounts import create_account, find_by_username, get_account, set_password_hash
from labfolio_common.auth.deletion import delete_account_rows, delete_user_objects
from labfolio_common.auth.deps import AuthenticatedUser, unauthorized
from labfolio_common.auth.keys import signing_key
from labfolio_common.auth.passwords import hash_password, needs_rehash, verify_password
from labfolio_common.auth.rules import password_problem, username_problem
from labfolio_common.auth.sessions import open_session, revoke_session
from labfolio_common.auth.throttle import Attempt, LoginThrottle, ThrottleLimits
from labfolio_common.auth.tokens import TokenClaims, issue_token
from labfolio_common.db.models import Account, utcnow
from labfolio_common.errors import PermissionDeniedError, TooManyRequestsError, ValidationFailedError
from labfolio_common.observability import MetricUnit, logger, metrics
from labfolio_common.settings import Settings
from sqlalchemy.orm import Session

WRONG_CREDENTIALS = "wrong username or password"


@dataclass(frozen=True)
class IssuedSession:
    user_id: uuid.UUID
    username: str
    token: str
    expires_in: int


class AuthService:
    def __init__(self, db: Session, settings: Settings, now: datetime | None = None) -> None:
        self.db = db
        self.settings = settings
        self.now = (now or utcnow()).replace(microsecond=0)
        self.throttle = LoginThrottle(db, ThrottleLimits.from_settings(settings))

    # ------------------------------------------------------------------ use cases
    def signup(self, username: str, password: str, address: str | None = None) -> IssuedSession:
        if address is not None:  # counted per client address: no mass creation of accounts from one place
            until = self.throttle.signup(self.now, address)
            self.db.commit()
            if until is not None:
                raise self._throttled(until, "too many accounts created from this address")
        account = create_account(self.db, username, hash_password(password), self.now)
        issued = self._open_session(account)
        self.db.commit()
        logger.info("account created", extra={"user_id": str(account.user_id)})
        metrics.add_metric(name="AccountCreated", unit=MetricUnit.Count, value=1)
        return issued

    def login(self, username: str, password: str, address: str) -> IssuedSession:
        attempt = self._begin_attempt(username=username, address=address)
        account = find_by_username(self.db, username) if username_problem(username) is None else None
        if account is None or not verify_password(account.password_hash, password):
            if account is None:
                verify_password(None, password)  # the same cost as a real check: no enumeration by timing
            self._record_failure(attempt)
            raise unauthorized(WRONG_CREDENTIALS)
        self.throttle.succeeded(attempt, username=username)
        if needs_rehash(account.password_hash):
            account.password_hash = hash_password(password)
        issued = self._open_session(account)
        self.db.commit()
        logger.info("logged in", extra={"user_id": str(account.user_id)})
        metrics.add_metric(name="LoginSucceeded", unit=MetricUnit.Count, value=1)
        return issued

    def refresh(self, user: AuthenticatedUser) -> IssuedSession:
        """A new token for the caller's live session (the old one stays valid until it expires or is revoked)."""
        return self._issue(user.user_id, user.username, user.session_id, user.session_expires_at)

    def logout(self, user: AuthenticatedUser) -> None:
        revoke_session(self.db, user.session_id, self.now)
        self.db.commit()
        logger.info("logged out", extra={"user_id": str(user.user_id)})

    def change_password(self, user: AuthenticatedUser, current: str, new: str, address: str) -> int:
        """Set a new password; every other session of the account ends. Returns how many ended."""
        problem = password_problem(new, user.username)
        if problem:
            raise ValidationFailedError([{"field": "body.new_password", "message": problem, "type": "value_error"}])
        account = self._confirm_password(user, current, address)
        ended = set_password_hash(self.db, account, hash_password(new), self.now, keep_session=user.session_id)
        self.db.commit()
        logger.info("password changed", extra={"user_id": str(user.user_id), "sessions_ended": ended})
        return ended

    def delete_account(self, user: AuthenticatedUser, password: str, address: str, *, s3: Any, bucket: str) -> None:
        """Delete the account and all it owns: uploaded objects, then the rows, then any object that arrived since."""
        self._confirm_password(user, password, address)
        objects = delete_user_objects(s3, bucket, user.user_id)
        delete_account_rows(self.db, user.user_id)
        self.db.commit()
        objects += delete_user_objects(s3, bucket, user.user_id)
        logger.info("account deleted", extra={"user_id": str(user.user_id), "objects_deleted": objects})
        metrics.add_metric(name="AccountDeleted", unit=MetricUnit.Count, value=1)

    # ------------------------------------------------------------------ parts
    def _open_session(self, account: Account) -> IssuedSession:
        lifetime = timedelta(seconds=self.settings.session_ttl_seconds)
        session = open_session(self.db, account.user_id, self.now, lifetime)
        return self._issue(account.user_id, account.username, session.session_id, session.expires_at)

    def _issue(
        self, user_id: uuid.UUID, username: str, session_id: uuid.UUID, session_expires_at: datetime
    ) -> IssuedSession:
        expires_at = min(self.now + timedelta(seconds=self.settings.access_token_ttl_seconds), session_expires_at)
        expires_at = datetime.fromtimestamp(int(expires_at.timestamp()), UTC)
        expires_in = int((expires_at - self.now).total_seconds())
        if expires_in <= 0:
            raise unauthorized("session ended")
        claims = TokenClaims(user_id=user_id, session_id=session_id, issued_at=self.now, expires_at=expires_at)
        return IssuedSession(user_id, username, issue_token(signing_key(self.settings), claims), expires_in)

    def _confirm_password(self, user: AuthenticatedUser, password: str, address: str) -> Account:
        """The caller's account if `password` is its password; 403 if not (counted by the login throttle)."""
        attempt = self._begin_attempt(username=user.username, address=address)
        account = get_account(self.db, user.user_id)
        if account is None or not verify_password(account.password_hash, password):
            self._record_failure(attempt)
            raise PermissionDeniedError("wrong password")
        self.throttle.succeeded(attempt, username=user.username)
        return account

    def _begin_attempt(self, *, username: str, address: str) -> Attempt:
        """A password check may go on: no lockout in force, and counted (committed) before the check, so parallel
        attempts cannot get more checks than the limit (the ones past it are refused unchecked)."""
        until = self.throttle.locked_until(self.now, username=username, address=address)
        if until is not None:
            raise self._throttled(until, "too many failed logins")
        attempt = self.throttle.begin(self.now, username=username, address=address)
        self.db.commit()
        until = self.throttle.over_limit(attempt)
        if until is not None:
            self.db.commit()
            raise self._throttled(until, "too many failed logins")
        return attempt

    def _throttled(self, until: datetime, why: str) -> TooManyRequestsError:
        retry_after = max(1, int((until - self.now).total_seconds()))
        metrics.add_metric(name="LoginThrottled", unit=MetricUnit.Count, value=1)
        return TooManyRequestsError(f"{why}: try again in {retry_after} s", headers={"Retry-After": str(retry_after)})

    def _record_failure(self, attempt: Attempt) -> None:
        self.throttle.failed(attempt)
        self.db.commit()
        logger.info("login failed")
        metrics.add_metric(name="LoginFailed", unit=MetricUnit.Count, value=1)
