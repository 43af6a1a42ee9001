"""Login brute force through the local stack whole (the gateway, the auth function in several processes at once,
PostgreSQL): each client connects from its own loopback address (127.0.x.y), which the gateway hands to the
function as API Gateway does (`requestContext.http.sourceIp`); X-Forwarded-For is sent and must change nothing.

- a burst of parallel guesses on one account from many addresses gets at most LOGIN_ACCOUNT_MAX_FAILURES password
  checks (the rest are refused unchecked), the real user is locked out too, and logs in once the cool-down ends;
- password spraying from one address (many accounts, parallel) gets at most LOGIN_ADDRESS_MAX_FAILURES checks from
  it; the same user from another address is not affected, and after the cool-down neither is that address;
- sign-ups from one address stop at SIGNUP_ADDRESS_MAX within the window.

The limits and the cool-down are settings, set small for this stack (a cool-down of 15 s, not 15 minutes).
"""

from __future__ import annotations

import http.client
import json
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from labfolio_common.db.engine import dispose_engine
from sqlalchemy import Engine

from local.stack import LocalConfig, LocalStack
from tests.fixtures.db import _postgres_database

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery"
ACCOUNT_MAX, ADDRESS_MAX, SIGNUP_MAX, LOCKOUT_SECONDS = 5, 10, 6, 15  # a lockout longer than a burst
LIMITS = {
    "LOGIN_ACCOUNT_MAX_FAILURES": str(ACCOUNT_MAX),
    "LOGIN_ADDRESS_MAX_FAILURES": str(ADDRESS_MAX),
    "LOGIN_FAILURE_WINDOW_SECONDS": "600",
    "LOGIN_LOCKOUT_SECONDS": str(LOCKOUT_SECONDS),
    "SIGNUP_ADDRESS_MAX": str(SIGNUP_MAX),
}


class ThrottledStack(LocalStack):
    """The local stack with the throttle's settings made small in every function's environment."""

    def function_environment(self, logical_id: str) -> dict[str, str]:
        return {**super().function_environment(logical_id), **LIMITS}


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory,
    postgres_admin_engine: Engine,
    postgres_server_url: str,
    _migrated_postgres_template: str,
) -> Iterator[tuple[str, int]]:
    with _postgres_database(postgres_admin_engine, postgres_server_url, template=_migrated_postgres_template) as url:
        config = LocalConfig(
            port=0, moto_port=0, data_dir=tmp_path_factory.mktemp("brute"), database_url=url, max_instances=3
        )
        config.run_scheduler = False
        config.demo_portfolio = False
        stack = ThrottledStack(config).start()
        try:
            host, port = stack.start_http().removeprefix("http://").split(":")
            warm((host, int(port)))
            yield host, int(port)
        finally:
            stack.stop_http()
            stack.stop(save=False)
            dispose_engine(url)


def send(
    gateway: tuple[str, int], source: str, method: str, path: str, body: Any = None, token: str | None = None
) -> tuple[int, Any, dict[str, str]]:
    """One request from the loopback address `source`, with a forged X-Forwarded-For."""
    connection = http.client.HTTPConnection(*gateway, timeout=180, source_address=(source, 0))
    headers = {"content-type": "application/json", "x-forwarded-for": f"198.51.100.{hash(source) % 250}"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    try:
        connection.request(method, path, json.dumps(body) if body is not None else None, headers)
        answer = connection.getresponse()
        raw = answer.read()
        return answer.status, json.loads(raw) if raw else None, {k.lower(): v for k, v in answer.getheaders()}
    finally:
        connection.close()


def warm(gateway: tuple[str, int], timeout: float = 300.0) -> None:
    """Every instance of the auth function started (a cold start on a busy machine may exceed Lambda's init limit:
    that is asked again here, before the bursts, whose answers must all be the throttle's)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        statuses = burst([lambda: send(gateway, "127.0.0.1", "GET", "/api/auth/health")] * 6)
        if statuses == Counter({200: 6}):
            return
    raise AssertionError("the auth function's instances did not start")


def login(gateway: tuple[str, int], source: str, username: str, password: str = PASSWORD) -> tuple[int, Any, Any]:
    return send(gateway, source, "POST", "/api/auth/login", {"username": username, "password": password})


def signup(gateway: tuple[str, int], source: str, username: str) -> int:
    return send(gateway, source, "POST", "/api/auth/signup", {"username": username, "password": PASSWORD})[0]


def burst(calls: list[Any]) -> Counter[int]:
    with ThreadPoolExecutor(max_workers=8) as pool:
        return Counter(status for status, _, _ in pool.map(lambda call: call(), calls))


def after_cool_down(attempt: Any, timeout: float = 120.0) -> tuple[int, Any, Any]:
    """Ask again (with the right password: a refusal during the lockout counts nothing) until it is not 429."""
    deadline = time.monotonic() + timeout
    while True:
        answer = attempt()
        if answer[0] != 429 or time.monotonic() > deadline:
            return answer  # type: ignore[no-any-return]
        time.sleep(0.5)


def test_a_parallel_burst_on_one_account_gets_no_more_checks_than_the_limit(gateway: tuple[str, int]) -> None:
    assert signup(gateway, "127.0.1.250", "burst.victim") == 201
    guesses = [lambda n=n: login(gateway, f"127.0.1.{n + 1}", "Burst.Victim", f"guess number {n}") for n in range(24)]
    statuses = burst(guesses)
    print(f"\nburst on one account from 24 addresses: {dict(statuses)}")
    assert statuses[401] <= ACCOUNT_MAX, statuses  # password checks: at most the limit, parallel or not
    assert statuses[401] + statuses[429] == 24 and statuses[429] >= 24 - ACCOUNT_MAX, statuses
    # the real user, from an address of their own, is locked out with the account...
    status, body, headers = login(gateway, "127.0.2.1", "burst.victim")
    assert (status, body["error"]) == (429, "too_many_requests")
    assert 1 <= int(headers["retry-after"]) <= LOCKOUT_SECONDS
    # ...and logs in once the cool-down has passed
    status, body, _ = after_cool_down(lambda: login(gateway, "127.0.2.1", "burst.victim"))
    assert status == 200, body
    assert send(gateway, "127.0.2.1", "GET", "/api/auth/me", token=body["access_token"])[0] == 200


def test_spraying_from_one_address_locks_that_address_only(gateway: tuple[str, int]) -> None:
    assert signup(gateway, "127.0.3.250", "spray.target") == 201
    sprayed = [lambda n=n: login(gateway, "127.0.3.1", f"spray.{n}", "Summer2026!") for n in range(16)]
    statuses = burst(sprayed)
    print(f"\npassword spraying of 16 accounts from one address: {dict(statuses)}")
    assert statuses[401] <= ADDRESS_MAX, statuses
    assert statuses[401] + statuses[429] == 16 and statuses[429] >= 16 - ADDRESS_MAX, statuses
    # the address is locked (whatever X-Forwarded-For says), for the right password too; another address is not
    assert login(gateway, "127.0.3.1", "spray.target")[0] == 429
    assert login(gateway, "127.0.3.2", "spray.target")[0] == 200
    status, body, _ = after_cool_down(lambda: login(gateway, "127.0.3.1", "spray.target"))
    assert status == 200, body


def test_signups_from_one_address_stop_at_the_limit(gateway: tuple[str, int]) -> None:
    statuses = [signup(gateway, "127.0.4.1", f"farm.{n}") for n in range(SIGNUP_MAX + 3)]
    print(f"\n{SIGNUP_MAX + 3} sign-ups from one address: {statuses}")
    assert statuses == [201] * SIGNUP_MAX + [429] * 3
    status, body, headers = send(
        gateway, "127.0.4.1", "POST", "/api/auth/signup", {"username": "farm.more", "password": PASSWORD}
    )
    assert status == 429 and int(headers["retry-after"]) >= 1 and "address" in body["detail"]
    assert signup(gateway, "127.0.4.2", "farm.elsewhere") == 201  # another address is not affected
    # the refused names were not taken
    assert login(gateway, "127.0.4.3", f"farm.{SIGNUP_MAX}")[0] == 401
