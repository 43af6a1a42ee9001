"""The database side of labfolio_common.auth on SQLite and PostgreSQL: accounts, sessions, the operator's tools."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from labfolio_common.auth import accounts as accounts_module
from labfolio_common.auth.accounts import create_account, find_by_username
from labfolio_common.auth.admin import ensure_account
from labfolio_common.auth.passwords import hash_password, verify_password
from labfolio_common.auth.reset_password import main as reset_main
from labfolio_common.auth.sessions import find_active, open_session, revoke_all_sessions
from labfolio_common.auth.throttle import LoginThrottle, ThrottleLimits
from labfolio_common.db.engine import session_scope
from labfolio_common.db.models import Account, AuthSession, LoginLockout, utcnow
from labfolio_common.errors import ConflictError
from sqlalchemy import func, select

from local.demo import DEMO_USERNAME, ensure_demo_account

ROOT = Path(__file__).resolve().parents[2]
CHEAP_HASH = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"  # never verified here


def make_account(database_url: str, username: str, password: str | None = None) -> uuid.UUID:
    with session_scope(database_url) as db:
        stored = hash_password(password) if password else CHEAP_HASH
        return create_account(db, username, stored, utcnow()).user_id


def live_sessions(database_url: str, user_id: uuid.UUID) -> int:
    with session_scope(database_url) as db:
        query = select(func.count()).where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        return int(db.scalar(query) or 0)


def test_the_unique_index_catches_a_race_the_lookup_missed(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    make_account(database_url, "Racer")
    monkeypatch.setattr(accounts_module, "find_by_username", lambda db, name: None)  # the other request was faster
    with pytest.raises(ConflictError), session_scope(database_url) as db:
        create_account(db, "racer", CHEAP_HASH, utcnow())
    with session_scope(database_url) as db:
        assert db.scalar(select(func.count()).select_from(Account)) == 1


def test_lookup_ignores_case(database_url: str) -> None:
    user_id = make_account(database_url, "MixedCase")
    with session_scope(database_url) as db:
        assert find_by_username(db, "mixedcase").user_id == user_id  # type: ignore[union-attr]
        assert find_by_username(db, "MIXEDCASE").username == "MixedCase"  # type: ignore[union-attr]
        assert find_by_username(db, "mixedcas") is None


def test_a_new_session_sweeps_the_accounts_dead_ones(database_url: str) -> None:
    user_id = make_account(database_url, "sweeper")
    now = utcnow()
    with session_scope(database_url) as db:
        expired = open_session(db, user_id, now - timedelta(days=8), timedelta(days=7))
        revoked = open_session(db, user_id, now, timedelta(days=7))
        revoke_all_sessions(db, user_id, now)
        live = open_session(db, user_id, now, timedelta(days=7))
        ids = set(db.scalars(select(AuthSession.session_id).where(AuthSession.user_id == user_id)))
        assert ids == {live.session_id}
        assert find_active(db, live.session_id, user_id, now) is not None
        assert find_active(db, expired.session_id, user_id, now) is None
        assert find_active(db, revoked.session_id, user_id, now) is None
        assert find_active(db, live.session_id, uuid.uuid4(), now) is None  # someone else's id with this sid


def test_sessions_go_with_their_account(database_url: str) -> None:
    user_id = make_account(database_url, "cascade")
    with session_scope(database_url) as db:
        open_session(db, user_id, utcnow(), timedelta(days=1))
    with session_scope(database_url) as db:
        db.delete(db.get(Account, user_id))
    with session_scope(database_url) as db:
        assert db.scalar(select(func.count()).select_from(AuthSession)) == 0


# ----------------------------------------------------------------------------------------------- operator tool


def lock(database_url: str, username: str) -> None:
    with session_scope(database_url) as db:
        throttle = LoginThrottle(db, ThrottleLimits(account_max_failures=2, address_max_failures=2))
        for _ in range(2):
            throttle.record_failure(utcnow(), username=username, address="192.0.2.1")


def test_reset_password_sets_a_generated_password_and_ends_sessions(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    user_id = make_account(database_url, "Forgetful", "the old passphrase")
    with session_scope(database_url) as db:
        for _ in range(2):
            open_session(db, user_id, utcnow(), timedelta(days=1))
    lock(database_url, "forgetful")
    # when the operator resets the password
    code = reset_main(["FORGETFUL", "--database-url", database_url])
    # then a new password is printed, the sessions ended and the lockout is lifted
    out = capsys.readouterr().out
    assert code == 0 and "2 session(s) ended" in out
    new_password = out.split("new password: ")[1].strip()
    assert len(new_password) >= 20
    with session_scope(database_url) as db:
        stored = db.get(Account, user_id).password_hash  # type: ignore[union-attr]
        assert verify_password(stored, new_password) and not verify_password(stored, "the old passphrase")
        assert db.scalar(select(func.count()).select_from(LoginLockout).where(LoginLockout.scope == "account")) == 0
        assert db.scalar(select(func.count()).select_from(LoginLockout).where(LoginLockout.scope == "address")) == 1
    assert live_sessions(database_url, user_id) == 0
    assert "password" not in capsys.readouterr().err


def test_reset_password_reads_a_chosen_password_from_stdin(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    user_id = make_account(database_url, "chooser")
    monkeypatch.setattr(sys, "stdin", io.StringIO("my chosen passphrase\n"))
    assert reset_main(["chooser", "--database-url", database_url, "--password-stdin"]) == 0
    assert "my chosen passphrase" not in capsys.readouterr().out
    with session_scope(database_url) as db:
        assert verify_password(db.get(Account, user_id).password_hash, "my chosen passphrase")  # type: ignore[union-attr]


def test_reset_password_refuses_unknown_users_and_bad_passwords(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    make_account(database_url, "someone")
    assert reset_main(["nobody", "--database-url", database_url]) == 1
    assert "no account named 'nobody'" in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    assert reset_main(["someone", "--database-url", database_url, "--password-stdin"]) == 1
    assert "10 to 256 characters" in capsys.readouterr().err


def test_reset_password_needs_a_database(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert reset_main(["someone"]) == 2
    assert "DATABASE_URL" in capsys.readouterr().err


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_reset_password_runs_as_a_module(database_url: str) -> None:
    make_account(database_url, "module.user")
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT / "layers/common"), "DATABASE_URL": database_url}
    done = subprocess.run(
        [sys.executable, "-m", "labfolio_common.auth.reset_password", "module.user"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
    )
    assert done.returncode == 0, done.stderr
    assert "new password: " in done.stdout


# ----------------------------------------------------------------------------------------------- demo account


def test_demo_account_is_created_once_with_a_kept_password(database_url: str, tmp_path: Path) -> None:
    first = ensure_demo_account(database_url, tmp_path)
    again = ensure_demo_account(database_url, tmp_path)
    assert first == again and len(first) >= 20
    saved = tmp_path / "demo_password"
    assert saved.read_text().strip() == first
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    with session_scope(database_url) as db:
        demo = find_by_username(db, DEMO_USERNAME)
        assert demo is not None and verify_password(demo.password_hash, first)


def test_demo_password_is_put_back_if_it_was_changed(database_url: str, tmp_path: Path) -> None:
    password = ensure_demo_account(database_url, tmp_path)
    with session_scope(database_url) as db:
        ensure_account(db, DEMO_USERNAME, "someone changed it")
    assert ensure_demo_account(database_url, tmp_path) == password
    with session_scope(database_url) as db:
        demo = find_by_username(db, DEMO_USERNAME)
        assert demo is not None and verify_password(demo.password_hash, password)
