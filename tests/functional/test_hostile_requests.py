"""Hostile requests on every route, found from the functions' own OpenAPI documents and template.yaml (so a new route
is covered without anyone listing it):

- a JSON body nested deeper than the interpreter's stack (`{"a":` x 5000, `[` x 5000), and a cursor that decodes to
  such a nesting, on every route that reads a JSON body or a cursor: a 4xx (RecursionError was a 500);
- every kind of bad access token on every protected route, by Bearer and by cookie (with the CSRF header): forged
  signature, expired, signed by another key, `alg: none`, another HMAC algorithm, truncated, 100 KB long, an audience
  or issuer the service never sets, claims of the wrong type, a revoked session: 401, never 403/404/500.
"""

from __future__ import annotations

import base64
import importlib
import json
import re
import time
import uuid
from typing import Any

import jwt
import pytest
from labfolio_common.auth.keys import signing_key
from labfolio_common.settings import get_settings

from local.aws_resources import LocalResources
from local.model import load_model
from tests.fixtures.analyses import Account, drain, ready_portfolio
from tests.fixtures.auth import XRW, AuthClient, call, event
from tests.functional.test_route_protection import is_public

pytestmark = pytest.mark.functional

FUNCTIONS = {"AuthFunction": "auth", "PortfoliosFunction": "portfolios", "AnalysisFunction": "analysis"}
MODULES = {"auth": "auth.api", "portfolios": "portfolios.api", "analysis": "analysis.api"}
ROUTES = sorted((r.method, r.path, FUNCTIONS[r.function]) for r in load_model().routes)
PROTECTED = [r for r in ROUTES if not is_public(r[0], r[1])]
PARAMETER = re.compile(r"\{([^}]+)\}")
DEEP_BODIES = {"object": '{"a":' * 5000, "array": "[" * 5000, "mixed": '[{"a":' * 2500}
BOOK = b"ticker,quantity\nAAPL,120\nMSFT,60\nJPM,-80\nKO,150\nXOM,100\n"


def _operations() -> dict[tuple[str, str], dict[str, Any]]:
    """Every operation of the three apps' OpenAPI documents, by (METHOD, path)."""
    found = {}
    for module in MODULES.values():
        for path, item in importlib.import_module(module).app.openapi()["paths"].items():
            for method, operation in item.items():
                found[(method.upper(), path)] = operation
    return found


OPERATIONS = _operations()
JSON_BODY_ROUTES = [
    r
    for r in ROUTES
    if "application/json" in OPERATIONS.get((r[0], r[1]), {}).get("requestBody", {}).get("content", {})
]
CURSOR_ROUTES = [
    r for r in ROUTES if any(p["name"] == "cursor" for p in OPERATIONS.get((r[0], r[1]), {}).get("parameters", []))
]


def test_the_walks_see_the_routes_they_should() -> None:
    documented = {(m, p) for m, p, _ in ROUTES if not p.endswith("/openapi.json")}
    assert documented == set(OPERATIONS)  # the documents and the template agree
    json_routes = {(m, p) for m, p, _ in JSON_BODY_ROUTES}
    assert {("POST", "/api/auth/login"), ("PATCH", "/api/portfolios/{portfolio_id}")} <= json_routes
    assert ("POST", "/api/portfolios/{portfolio_id}/analyses") in json_routes
    assert {p for _, p, _ in CURSOR_ROUTES} == {"/api/portfolios", "/api/portfolios/{portfolio_id}/analyses"}


@pytest.fixture
def env(factor_env: LocalResources) -> LocalResources:
    return factor_env


@pytest.fixture
def owner(env: LocalResources, lambda_context: Any) -> tuple[Account, dict[str, str]]:
    """An account with a ready portfolio and its analysis: the ids the routes' parameters are filled with, so every
    request gets past the 404 to the body."""
    account = Account(lambda_context, "nester")
    portfolio_id = ready_portfolio(account, env, lambda_context, BOOK)
    assert drain(env, lambda_context) == [{"batchItemFailures": []}]
    analyses = account("GET", f"/api/portfolios/{portfolio_id}/analyses").body["items"]
    return account, {"portfolio_id": portfolio_id, "analysis_id": analyses[0]["analysis_id"], "factor_id": "SP500"}


def _fill(path: str, ids: dict[str, str]) -> str:
    return PARAMETER.sub(lambda m: ids[m.group(1)], path)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_deeply_nested_json_bodies_are_4xx_on_every_route_that_reads_one(
    owner: tuple[Account, dict[str, str]], lambda_context: Any
) -> None:
    account, ids = owner
    for method, path, function in JSON_BODY_ROUTES:
        for shape, raw in DEEP_BODIES.items():
            answer = account(method, _fill(path, ids), function=function, raw=raw.encode())
            assert 400 <= answer.status < 500, (method, path, shape, answer.status, answer.body)
            assert answer.body["error"] in ("validation_error", "unauthorized", "too_many_requests"), answer.body
    # and nothing broke: the account and its portfolio still answer
    assert account("GET", f"/api/portfolios/{ids['portfolio_id']}", function="portfolios").status == 200
    assert account("GET", "/api/auth/me", function="auth").status == 200


def _cursor(payload: str) -> str:
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_deeply_nested_cursors_are_422_on_every_paginated_route(
    owner: tuple[Account, dict[str, str]], lambda_context: Any
) -> None:
    account, ids = owner
    cursors = {
        "deep, within the length limit": _cursor("[" * 380),
        "deep, past the length limit": _cursor("[" * 5000),
        "nested object": _cursor('{"a":' * 70),
        "not base64": "%%%",
        "a list of the wrong things": _cursor('[{"a":1},[2]]'),
    }
    for method, path, function in CURSOR_ROUTES:
        for name, cursor in cursors.items():
            answer = account(method, _fill(path, ids), function=function, query={"cursor": cursor})
            assert answer.status == 422, (path, name, answer.body)
            assert answer.body["detail"][0]["field"] == "query.cursor", (path, name, answer.body)


@pytest.mark.parametrize("module", ["portfolios.domain.pages", "analysis.domain.pages"], ids=["portfolios", "analyses"])
def test_cursor_decoders_refuse_nesting_past_the_stack(module: str) -> None:
    from labfolio_common.errors import ValidationFailedError

    decode = importlib.import_module(module).decode_cursor
    for payload in ("[" * 100_000, '{"a":' * 100_000):
        with pytest.raises(ValidationFailedError):
            decode(_cursor(payload))


def test_queue_message_decoders_refuse_nesting_past_the_stack() -> None:
    from analysis.domain.jobs import is_job, parse_job
    from analysis.domain.s3_events import NotAnS3EventError, parse_notification

    deep = "[" * 100_000
    assert parse_job(deep) is None and is_job(deep) is False
    with pytest.raises(NotAnS3EventError):
        parse_notification(deep)


# ----------------------------------------------------------------------------------------------- tokens


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def bad_tokens(valid: str, key: bytes) -> dict[str, str]:
    claims = jwt.decode(valid, key, algorithms=["HS256"])
    header, payload, signature = valid.split(".")
    now = int(time.time())
    return {
        "forged signature": f"{header}.{payload}.{signature[::-1]}",
        "forged payload": f"{header}.{_b64({**claims, 'sub': str(uuid.uuid4())})}.{signature}",
        "expired": jwt.encode({**claims, "iat": now - 7200, "exp": now - 3600}, key, algorithm="HS256"),
        "not yet valid": jwt.encode({**claims, "nbf": now + 3600}, key, algorithm="HS256"),
        "another key": jwt.encode(claims, b"another key of sufficient length 0123456789", algorithm="HS256"),
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.",
        "alg None with the signature": f"{_b64({'alg': 'None', 'typ': 'JWT'})}.{payload}.{signature}",
        "HS384": jwt.encode(claims, key, algorithm="HS384"),
        "truncated": valid[: len(valid) // 2],
        "truncated signature": valid[:-10],
        "no signature": f"{header}.{payload}",
        "100 KB": valid + "A" * 100_000,
        "100 KB of claims": jwt.encode({**claims, "pad": "x" * 100_000}, key, algorithm="HS256"),
        "an audience": jwt.encode({**claims, "aud": "labfolio"}, key, algorithm="HS256"),
        "an issuer and audience of another service": jwt.encode(
            {**claims, "iss": "https://evil.example", "aud": "other"}, key, algorithm="HS256"
        ),
        "sub of the wrong type": jwt.encode({**claims, "sub": 12345}, key, algorithm="HS256"),
        "exp as text": jwt.encode({**claims, "exp": "tomorrow"}, key, algorithm="HS256"),
        "control characters": "\x00\x01" + valid,
    }


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_bad_token_is_401_on_every_protected_route_by_bearer_and_by_cookie(
    env: LocalResources, lambda_context: Any
) -> None:
    client = AuthClient(lambda_context)
    signed = client.signup("token.target")
    valid = signed.body["access_token"]
    tokens = bad_tokens(valid, signing_key(get_settings()))
    revoked = client.login("token.target").body["access_token"]
    assert client.request("POST", "/api/auth/logout", token=revoked).status == 204
    tokens["revoked session"] = revoked
    tried = 0
    for method, path, function in PROTECTED:
        target = _fill(path, {name: str(uuid.uuid4()) for name in PARAMETER.findall(path)})
        body = None if method in ("GET", "HEAD") else {}
        for name, token in tokens.items():
            bearer = call(
                function, event(method, target, body, headers={"authorization": f"Bearer {token}"}), lambda_context
            )
            assert bearer.status == 401, (method, path, name, bearer.status, bearer.body)
            assert bearer.headers.get("www-authenticate") == "Bearer", (method, path, name)
            if "\x00" in token:
                continue  # no browser sends a cookie with control characters
            cookie = call(
                function,
                event(method, target, body, headers=XRW, cookies=[f"labfolio_session={token}"]),
                lambda_context,
            )
            assert cookie.status == 401, (method, path, name, cookie.status, cookie.body)
            tried += 2
    print(f"\ntokens: {len(tokens)} bad tokens x {len(PROTECTED)} protected routes, by Bearer and by cookie: {tried}")
    assert client.me(valid).status == 200  # the real token still works
