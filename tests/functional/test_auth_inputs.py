"""Hostile input in every field of every auth body: SQL-injection strings, NUL bytes, lone surrogates, odd and
oversized Unicode, wrong JSON types, malformed bodies. Each gets a 4xx (or, for a password that is merely odd but
valid, success) — never a 500 — and the database is intact afterwards."""

from __future__ import annotations

import json
from typing import Any

import pytest
from labfolio_common.db.engine import session_scope
from labfolio_common.db.models import Account
from labfolio_common.settings import get_settings
from sqlalchemy import func, select

from tests.fixtures.auth import PASSWORD, AuthClient

pytestmark = pytest.mark.functional

HOSTILE = [
    "' OR '1'='1' --",
    "admin'; DROP TABLE user_management.accounts; --",
    '" OR ""="',
    "%' UNION SELECT password_hash FROM user_management.accounts --",
    "x\x00nul\x00byte",
    "\ud800 lone high surrogate",
    "lone low surrogate \udfff",
    "\u202eevil right-to-left override",
    "\U0001d54c\U0001d55f\U0001d55a\U0001d554\U0001d560\U0001d555\U0001d556 math letters",
    "\U0001f642" * 300,
    "\u00e9" * 5000,
    "A" * 100_000,
    "\n\r\t\x0b\x0c",
    "\uff21\uff44\uff4d\uff49\uff4e fullwidth",
    "\u0130stanbul \u01c5 \u00df\u00df",
    "",
]
WRONG_TYPES: list[Any] = [123, 1.5, None, True, ["a" * 12], {"$ne": ""}]
ROUTES = {
    "signup": ("POST", "/api/auth/signup", {"username": "fuzz.user", "password": PASSWORD}),
    "login": ("POST", "/api/auth/login", {"username": "fuzzed", "password": PASSWORD}),
    "password": ("POST", "/api/auth/password", {"current_password": PASSWORD, "new_password": "another passphrase"}),
    "delete": ("DELETE", "/api/auth/me", {"password": "not the password"}),
}
FIELDS = [(route, name) for route, (_, _, body) in ROUTES.items() for name in body]


@pytest.fixture
def client(lambda_env: Any, lambda_context: Any, monkeypatch: pytest.MonkeyPatch) -> AuthClient:
    monkeypatch.setenv("LOGIN_ACCOUNT_MAX_FAILURES", "1000")  # this file tests input handling, not the throttle
    monkeypatch.setenv("LOGIN_ADDRESS_MAX_FAILURES", "1000")
    get_settings.cache_clear()
    return AuthClient(lambda_context)


def send(client: AuthClient, route: str, body: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    method, path, default = ROUTES[route]
    return client.request(method, path, default if body is None else body, **kwargs)


def accounts(database_url: str) -> int:
    with session_scope(database_url) as db:
        return int(db.scalar(select(func.count()).select_from(Account)) or 0)


@pytest.mark.parametrize(("route", "field"), FIELDS, ids=[f"{r}.{f}" for r, f in FIELDS])
def test_hostile_strings_get_4xx_never_500(client: AuthClient, database_url: str, route: str, field: str) -> None:
    owner = client.signup("fuzzed")
    token = owner.body["access_token"]
    current, created = PASSWORD, 0
    for value in HOSTILE:
        body = {**ROUTES[route][2], field: value}
        if route == "password" and field == "new_password":
            body["current_password"] = current
        answer = send(client, route, body, token=token)
        assert answer.status < 500, (value[:40], answer.body)
        if field == "username":
            assert 400 <= answer.status < 500, value[:40]  # no hostile string is a valid name
        if route == "password" and answer.status == 204:
            current = value  # an odd but valid new password was accepted: it is the password now
        created += answer.status == 201
        if answer.status == 422:
            assert answer.body["error"] == "validation_error" and answer.body["detail"], value[:40]
    assert client.me(token).status == 200  # the database and the session survived
    assert accounts(database_url) == 1 + created


@pytest.mark.parametrize(("route", "field"), FIELDS, ids=[f"{r}.{f}" for r, f in FIELDS])
def test_wrong_json_types_are_422(client: AuthClient, route: str, field: str) -> None:
    token = client.signup("typed").body["access_token"]
    for value in WRONG_TYPES:
        answer = send(client, route, {**ROUTES[route][2], field: value}, token=token)
        assert answer.status == 422, (value, answer.body)
        assert field in answer.body["detail"][0]["field"]


@pytest.mark.parametrize("route", sorted(ROUTES))
@pytest.mark.parametrize(
    "raw",
    ['{"username": "a", ', "not json at all", "[]", "null", '"a string"', "{}", '{"a":' * 2000],
    ids=["truncated", "text", "array", "null", "string", "empty-object", "deeply-nested"],
)
def test_malformed_bodies_are_4xx(client: AuthClient, route: str, raw: str) -> None:
    token = client.signup("malformed").body["access_token"]
    method, path, _ = ROUTES[route]
    answer = client.request(method, path, raw_body=raw, token=token)
    assert 400 <= answer.status < 500, answer.body


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_bodies_that_are_not_utf8_are_4xx(client: AuthClient, route: str) -> None:
    token = client.signup("bytes").body["access_token"]
    method, path, _ = ROUTES[route]
    for raw in (b'{"username": "\xed\xa0\x80", "password": "\xff\xfe"}', b"\x00\x01\x02", "é".encode("latin-1")):
        answer = client.request(method, path, raw_bytes=raw, token=token)
        assert 400 <= answer.status < 500, (raw, answer.body)


def test_a_megabyte_body_is_4xx(client: AuthClient) -> None:
    huge = json.dumps({"username": "x" * 1_000_000, "password": "y" * 1_000_000})
    answer = client.request("POST", "/api/auth/login", raw_body=huge)
    assert answer.status == 422


def test_hostile_signup_passwords_that_are_valid_work_as_passwords(client: AuthClient) -> None:
    for number, value in enumerate(["' OR '1'='1' --", "\u202eevil right-to-left override", "\u00e9" * 256]):
        username = f"odd.password.{number}"
        assert client.request("POST", "/api/auth/signup", {"username": username, "password": value}).status == 201
        assert client.login(username, value).status == 200
        assert client.login(username, value[:-1] + "x").status == 401
