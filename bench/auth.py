"""Auth benchmark (issue 3): the cost of one argon2id hash, the auth handler's import time (and its first
request) in a fresh interpreter, and the warm in-process latency of the auth routes that do not hash — token check
and session lookup included — on SQLite and, when DATABASE_URL names a server, PostgreSQL.
"""

from __future__ import annotations

import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import ROOT, LambdaContext, on_path, scratch_databases

KEY = "bench-signing-key-" + "x" * 46
PASSWORD = "correct horse battery"


def _paths() -> None:
    on_path("layers/common", "functions/auth")


def bench_hash(runs: int = 15) -> None:
    _paths()
    from labfolio_common.auth import passwords

    passwords.hash_password("warm-up")
    hashes, verifies = [], []
    for _ in range(runs):
        start = time.perf_counter()
        stored = passwords.hash_password(PASSWORD)
        hashes.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        passwords.verify_password(stored, PASSWORD)
        verifies.append((time.perf_counter() - start) * 1000)
    params = f"t={passwords.TIME_COST}, m={passwords.MEMORY_COST_KIB // 1024} MiB, p={passwords.PARALLELISM}"
    print(f"\nAuth: argon2id ({params}), {runs} runs on {os.cpu_count()} CPU(s) (target 50-250 ms)")
    print(f"{'':<10}{'median (ms)':>13}{'min (ms)':>10}{'max (ms)':>10}")
    for name, samples in (("hash", hashes), ("verify", verifies)):
        print(f"{name:<10}{statistics.median(samples):>13.1f}{min(samples):>10.1f}{max(samples):>10.1f}")


def _event(method: str, path: str, headers: dict[str, str] | None = None, body: Any = None) -> dict[str, Any]:
    event = copy.deepcopy(json.loads((ROOT / "events/http_api_get_health.json").read_text()))
    event["routeKey"] = event["requestContext"]["routeKey"] = f"{method} {path}"
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["headers"].update(headers or {})
    if body is not None:
        event["body"] = json.dumps(body)
        event["headers"]["content-type"] = "application/json"
    return event


def _environment(database_url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "UPLOADS_BUCKET": "bench-bucket",
        "ANALYSIS_QUEUE_URL": "http://localhost/q",
        "JWT_SIGNING_KEY": KEY,
        "POWERTOOLS_SERVICE_NAME": "auth",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }


def _percentiles(samples: list[float]) -> tuple[float, float, float]:
    samples = sorted(samples)
    return samples[len(samples) // 2], samples[int(len(samples) * 0.99) - 1], samples[-1]


def _timed(handler: Callable[..., Any], event: dict[str, Any], expected: int, iterations: int) -> list[float]:
    context = LambdaContext()
    for _ in range(50):
        assert handler(copy.deepcopy(event), context)["statusCode"] == expected
    samples = []
    for _ in range(iterations):
        ev = copy.deepcopy(event)
        start = time.perf_counter()
        result = handler(ev, context)
        samples.append((time.perf_counter() - start) * 1000)
        assert result["statusCode"] == expected, result
    return samples


def bench_routes(databases: list[tuple[str, str]], iterations: int) -> None:
    import importlib
    import logging

    from labfolio_common.settings import get_settings

    logging.disable(logging.INFO)
    handler = importlib.import_module("auth.handler").lambda_handler
    print(f"\nAuth: warm latency of the routes that do not hash, in-process, {iterations} calls (target p99 <= 10 ms)")
    print(f"{'database':<12}{'route':<40}{'p50 (ms)':>10}{'p99 (ms)':>10}{'max (ms)':>10}")
    for label, url in databases:
        os.environ.update(_environment(url))
        get_settings.cache_clear()
        signup = _event("POST", "/api/auth/signup", body={"username": f"bench.{label}", "password": PASSWORD})
        answer = handler(signup, LambdaContext())
        assert answer["statusCode"] == 201, answer
        token = json.loads(answer["body"])["access_token"]
        bearer = {"authorization": f"Bearer {token}"}
        cookie = {"cookie": f"labfolio_session={token}"}
        cases = [
            ("GET /api/auth/me (Bearer)", _event("GET", "/api/auth/me", bearer), 200),
            ("GET /api/auth/me (cookie)", _event("GET", "/api/auth/me", cookie), 200),
            ("POST /api/auth/refresh (Bearer)", _event("POST", "/api/auth/refresh", bearer), 200),
            (
                "POST /api/auth/refresh (cookie + XRW)",
                _event("POST", "/api/auth/refresh", {**cookie, "x-requested-with": "XMLHttpRequest"}),
                200,
            ),
            ("GET /api/auth/me (no credentials: 401)", _event("GET", "/api/auth/me"), 401),
        ]
        for name, event, expected in cases:
            if "cookie" in event["headers"]:  # API Gateway moves the Cookie header into `cookies`
                event["cookies"] = [event["headers"].pop("cookie")]
            p50, p99, worst = _percentiles(_timed(handler, event, expected, iterations))
            print(f"{label:<12}{name:<40}{p50:>10.3f}{p99:>10.3f}{worst:>10.3f}")


_COLD = """
import json, sys, time
t0 = time.perf_counter()
import auth.handler
t1 = time.perf_counter()
event = json.loads(sys.argv[1])
result = auth.handler.lambda_handler(event, __import__("bench.common", fromlist=["LambdaContext"]).LambdaContext())
t2 = time.perf_counter()
assert result["statusCode"] == 200, result
t3 = time.perf_counter()
import portfolios.handler
t4 = time.perf_counter()
print(json.dumps([t1 - t0, t2 - t1, t4 - t3]))
"""

_SHARED = """
import json, sys, time
import labfolio_common.http, labfolio_common.db.engine, labfolio_common.settings  # what every HTTP function has
t0 = time.perf_counter()
import labfolio_common.auth.deps
print(json.dumps([time.perf_counter() - t0]))
"""


def bench_cold(database_url: str, runs: int) -> None:
    """The auth handler in a fresh interpreter: import, then its first request (settings, engine, key, JWT, SQL)."""
    import importlib

    handler = importlib.import_module("auth.handler").lambda_handler
    os.environ.update(_environment(database_url))
    from labfolio_common.settings import get_settings

    get_settings.cache_clear()
    signup = _event("POST", "/api/auth/signup", body={"username": "bench.cold", "password": PASSWORD})
    token = json.loads(handler(signup, LambdaContext())["body"])["access_token"]
    event = json.dumps(_event("GET", "/api/auth/me", {"authorization": f"Bearer {token}"}))
    base = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join(
            [str(ROOT / "functions/auth"), str(ROOT / "functions/portfolios"), str(ROOT / "layers/common"), str(ROOT)]
        ),
        **_environment(database_url),
    }
    rows: dict[str, list[list[float]]] = {"no .pyc": [], "with .pyc": []}
    shared: list[float] = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as cache:
            env = {**base, "PYTHONPYCACHEPREFIX": cache}
            for label in rows:
                out = subprocess.run(
                    [sys.executable, "-c", _COLD, event], env=env, capture_output=True, text=True, check=True, cwd="/"
                )
                rows[label].append(json.loads(out.stdout.strip().splitlines()[-1]))
            out = subprocess.run([sys.executable, "-c", _SHARED], env=env, capture_output=True, text=True, check=True)
            shared.append(json.loads(out.stdout.strip().splitlines()[-1])[0])
    print(f"\nAuth: cold start of the auth function in a fresh interpreter (median of {runs}; SQLite, key from env)")
    print(f"{'':<12}{'import (s)':>12}{'1st request (s)':>17}{'then portfolios.handler (s)':>29}")
    for label, samples in rows.items():
        imp, first, other = (statistics.median(column) for column in zip(*samples, strict=True))
        print(f"{label:<12}{imp:>12.3f}{first:>17.3f}{other:>29.3f}")
    extra = statistics.median(shared) * 1000
    print(f"CurrentUser (labfolio_common.auth.deps: PyJWT, sessions) on top of the layer's HTTP stack: {extra:.1f} ms")


def bench_auth(server_url: str | None, iterations: int, import_runs: int) -> None:
    _paths()
    bench_hash()
    with (
        tempfile.TemporaryDirectory() as tmp,
        scratch_databases(server_url, Path(tmp), "auth", migrate=True) as databases,
    ):
        bench_routes(databases, iterations)
        bench_cold(databases[0][1], import_runs)
