"""Pure parts of labfolio_common.auth: the username/password rules, tokens, and argon2id parameters."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from labfolio_common.auth import passwords
from labfolio_common.auth.rules import normalize_username, password_problem, username_problem
from labfolio_common.auth.tokens import InvalidTokenError, TokenClaims, issue_token, verify_token

pytestmark = pytest.mark.unit

KEY = b"k" * 64


def claims(**changes: object) -> TokenClaims:
    now = datetime.now(UTC).replace(microsecond=0)
    base = {
        "user_id": uuid.uuid4(),
        "session_id": uuid.uuid4(),
        "issued_at": now,
        "expires_at": now + timedelta(hours=1),
    }
    return TokenClaims(**{**base, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["abc", "Ada.Lovelace", "x_y-z.0", "a" * 64])
def test_username_rule_accepts(name: str) -> None:
    assert username_problem(name) is None


@pytest.mark.parametrize(
    "name", ["ab", "a" * 65, "has space", "émile", "a/b", "a\x00b", "\uff21\uff44\uff4d\uff49\uff4e", "a'b", ""]
)
def test_username_rule_refuses(name: str) -> None:
    assert username_problem(name)


def test_username_folding_is_ascii_lower_case() -> None:
    assert normalize_username("Ada.LOVELACE") == "ada.lovelace"


@pytest.mark.parametrize(
    ("password", "username", "ok"),
    [
        ("p" * 10, "ada", True),
        ("p" * 256, "ada", True),
        ("p" * 9, "ada", False),
        ("p" * 257, "ada", False),
        ("Ada.Lovelace", "ada.lovelace", False),
        ("\ud800" * 12, "ada", False),
        ("é" * 10, "ada", True),
    ],
)
def test_password_rule(password: str, username: str, ok: bool) -> None:
    assert (password_problem(password, username) is None) is ok


def test_token_round_trip() -> None:
    issued = claims()
    assert verify_token(KEY, issue_token(KEY, issued)) == issued


def test_token_carries_exactly_the_four_claims() -> None:
    issued = claims()
    payload = jwt.decode(issue_token(KEY, issued), KEY, algorithms=["HS256"])
    assert payload == {
        "sub": str(issued.user_id),
        "sid": str(issued.session_id),
        "iat": int(issued.issued_at.timestamp()),
        "exp": int(issued.expires_at.timestamp()),
    }


def _forged(payload: dict[str, object], key: bytes | str = KEY, alg: str = "HS256") -> str:
    return jwt.encode(payload, key, algorithm=alg)


def test_tokens_that_fail_verification() -> None:
    good = issue_token(KEY, claims())
    payload = jwt.decode(good, KEY, algorithms=["HS256"])
    now = int(time.time())
    header, body, _signature = good.split(".")
    bad = {
        "wrong key": issue_token(b"w" * 64, claims()),
        "expired": issue_token(
            KEY,
            claims(
                issued_at=datetime.now(UTC) - timedelta(hours=2), expires_at=datetime.now(UTC) - timedelta(seconds=1)
            ),
        ),
        "alg none": jwt.encode(payload, None, algorithm="none"),
        "HS384": _forged(payload, alg="HS384"),
        "swapped signature": f"{header}.{body}.{issue_token(KEY, claims()).split('.')[2]}",
        "missing sid": _forged({k: v for k, v in payload.items() if k != "sid"}),
        "missing iat": _forged({k: v for k, v in payload.items() if k != "iat"}),
        "sub not a uuid": _forged({**payload, "sub": "1"}),
        "sid not a uuid": _forged({**payload, "sid": "robert'); --"}),
        "exp far past": _forged({**payload, "exp": now - 10**6}),
        "empty": "",
        "oversized": "a" * 5000,
        "two segments": "a.b",
    }
    accepted = []
    for name, token in bad.items():
        try:
            verify_token(KEY, token)
            accepted.append(name)
        except InvalidTokenError:
            pass
    assert accepted == []


@pytest.mark.real_password_hash
def test_hash_verifies_its_password_only() -> None:
    stored = passwords.hash_password("correct horse battery")
    assert stored.startswith("$argon2id$v=19$m=65536,t=2,p=1$")
    assert passwords.verify_password(stored, "correct horse battery")
    assert not passwords.verify_password(stored, "correct horse battery ")
    assert not passwords.verify_password("not a hash", "x")
    assert not passwords.verify_password(None, "anything")


@pytest.mark.real_password_hash
def test_the_dummy_hash_has_todays_parameters() -> None:
    """Otherwise an unknown username would cost another time than a wrong password."""
    assert not passwords.needs_rehash(passwords.DUMMY_HASH)


@pytest.mark.real_password_hash
def test_hashes_with_other_parameters_need_rehashing() -> None:
    from argon2 import PasswordHasher

    assert passwords.needs_rehash(PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("x" * 10))
    assert passwords.needs_rehash("garbage")


def test_tests_not_marked_real_password_hash_hash_cheaply() -> None:
    """tests/fixtures/hashing.py: the other tests verify and store argon2id hashes at the smallest cost."""
    stored = passwords.hash_password("correct horse battery")
    assert stored.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert passwords.verify_password(stored, "correct horse battery")
    assert passwords.DUMMY_HASH.startswith("$argon2id$v=19$m=8,t=1,p=1$")
