"""Auth through the local stack, whole: the gateway turns HTTP into API Gateway events for the auth function in its
own process, which reads the signing key from the moto secret the stack created from template.yaml."""

from __future__ import annotations

import json
import stat
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest
from labfolio_common.db.engine import dispose_engine

from local.aws_resources import aws_client
from local.stack import LocalConfig, LocalStack
from tests.fixtures.stacks import serving

pytestmark = pytest.mark.integration


class Browser:
    """A tiny HTTP client that keeps the session cookie like a browser (the cookie is HttpOnly: no script sees it)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookie: str | None = None

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.base}{path}", data=data, method=method)
        if data is not None:
            request.add_header("content-type", "application/json")
        if self.cookie:
            request.add_header("cookie", f"labfolio_session={self.cookie}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, raw, got = response.status, response.read(), response.headers
        except urllib.error.HTTPError as exc:
            status, raw, got = exc.code, exc.read(), exc.headers
        for line in got.get_all("set-cookie") or []:
            jar = SimpleCookie(line)
            if "labfolio_session" in jar:
                self.cookie = jar["labfolio_session"].value or None
        return status, json.loads(raw) if raw else None, got


def make_stack(data_dir: Path, database_url: str) -> LocalStack:
    config = LocalConfig(port=0, moto_port=0, data_dir=data_dir, database_url=database_url, max_instances=1)
    config.run_scheduler = False  # the factor update is not needed here
    return LocalStack(config)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture(scope="module")
def shared(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalStack, str]]:
    """One stack per database for the three tests below: each works with accounts and sessions of its own."""
    data_dir = tmp_path_factory.mktemp("shared-stack") / "data"
    with serving(make_stack(data_dir, module_database_url), module_database_url) as running:
        yield running


def test_demo_logs_in_with_the_printed_password_as_a_browser(shared: tuple[LocalStack, str]) -> None:
    stack, base = shared
    browser = Browser(base)
    # login sets the HttpOnly cookie (not Secure on 127.0.0.1: plain http)
    status, body, headers = browser.request(
        "POST", "/api/auth/login", {"username": "demo", "password": stack.demo_password}
    )
    assert status == 200, body
    set_cookie = headers.get("set-cookie").lower()
    assert "httponly" in set_cookie and "samesite=strict" in set_cookie and "secure" not in set_cookie
    assert browser.cookie == body["access_token"]
    # reads need only the cookie
    status, me, _ = browser.request("GET", "/api/auth/me")
    assert (status, me["username"]) == (200, "demo")
    # changes by cookie need X-Requested-With
    assert browser.request("POST", "/api/auth/refresh")[0] == 403
    status, refreshed, _ = browser.request("POST", "/api/auth/refresh", headers={"X-Requested-With": "XMLHttpRequest"})
    assert status == 200 and browser.cookie == refreshed["access_token"]
    # logout clears the cookie and ends the session for every token of it
    old = browser.cookie
    status, _, _ = browser.request("POST", "/api/auth/logout", headers={"X-Requested-With": "XMLHttpRequest"})
    assert status == 204 and browser.cookie is None
    browser.cookie = old
    assert browser.request("GET", "/api/auth/me")[0] == 401


def test_signup_then_bearer_calls_through_the_gateway(shared: tuple[LocalStack, str]) -> None:
    _, base = shared
    client = Browser(base)
    status, body, _ = client.request(
        "POST", "/api/auth/signup", {"username": "Gateway.User", "password": "pass phrase 1"}
    )
    assert status == 201, body
    client.cookie = None  # a programmatic client: the token only
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    assert client.request("GET", "/api/auth/me", headers=bearer)[1]["username"] == "Gateway.User"
    assert (
        client.request("POST", "/api/auth/signup", {"username": "gateway.user", "password": "pass phrase 2"})[0] == 409
    )
    status, _, _ = client.request("DELETE", "/api/auth/me", {"password": "pass phrase 1"}, headers=bearer)
    assert status == 204
    assert client.request("GET", "/api/auth/me", headers=bearer)[0] == 401


def test_every_protected_route_is_401_through_the_gateway(shared: tuple[LocalStack, str]) -> None:
    stack, base = shared
    client = Browser(base)
    for route in stack.model.routes:
        if route.function != "AuthFunction" or route.path.endswith(("/health", "/openapi.json", "/signup", "/login")):
            continue
        status, body, headers = client.request(route.method, route.path, {} if route.method != "GET" else None)
        assert status == 401, (route, body)
        assert headers.get("www-authenticate") == "Bearer"


def test_the_key_and_demo_password_survive_a_restart(data_dir: Path, database_url: str) -> None:
    first = make_stack(data_dir, database_url).start()
    try:
        base = first.start_http()
        password = first.demo_password
        status, body, _ = Browser(base).request("POST", "/api/auth/login", {"username": "demo", "password": password})
        assert status == 200
        token = body["access_token"]
        secret_arn = first.resources.physical["JwtSigningKeySecret"]["Ref"]
        key = aws_client("secretsmanager", first.moto.endpoint).get_secret_value(SecretId=secret_arn)["SecretString"]
    finally:
        first.stop_http()
        first.stop()
    saved = data_dir / "secrets" / "JwtSigningKeySecret"
    assert saved.read_text() == key and stat.S_IMODE(saved.stat().st_mode) == 0o600
    second = make_stack(data_dir, database_url).start()
    try:
        base = second.start_http()
        assert second.demo_password == password
        status, me, _ = Browser(base).request("GET", "/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert (status, me["username"]) == (200, "demo")  # the same key and the same session, after a restart
    finally:
        second.stop_http()
        second.stop()
        dispose_engine(database_url)
