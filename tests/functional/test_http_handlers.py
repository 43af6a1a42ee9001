"""Each HTTP function's real entry point, invoked with the API Gateway HTTP API (payload 2.0) event AWS sends."""

from __future__ import annotations

import copy
import importlib
import json
from typing import Any

import pytest

from local.model import load_model
from tests.fixtures.aws import load_event

pytestmark = pytest.mark.functional

HANDLERS = {"auth": "auth.handler", "portfolios": "portfolios.handler", "analysis": "analysis.handler"}


def http_event(
    method: str, path: str, body: str | None = None, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    event = copy.deepcopy(load_event("http_api_get_health.json"))
    event["routeKey"] = event["requestContext"]["routeKey"] = f"{method} {path}"
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    if body is not None:
        event["body"] = body
        event["headers"]["content-type"] = "application/json"
        event["headers"]["content-length"] = str(len(body))
    event["headers"].update(headers or {})
    return event


def invoke(function: str, event: dict[str, Any], context: Any) -> tuple[int, Any]:
    handler = importlib.import_module(HANDLERS[function]).lambda_handler
    result = handler(event, context)
    return result["statusCode"], json.loads(result["body"]) if result.get("body") else None


@pytest.mark.parametrize("function", sorted(HANDLERS))
def test_function_health_answers_ok(function: str, lambda_env: Any, lambda_context: Any) -> None:
    status, body = invoke(function, http_event("GET", f"/api/{function}/health"), lambda_context)
    assert status == 200
    assert body == {"status": "ok", "function": function, "stage": "local"}


@pytest.mark.parametrize("function", sorted(HANDLERS))
def test_function_openapi_document_lists_its_routes(function: str, lambda_env: Any, lambda_context: Any) -> None:
    status, body = invoke(function, http_event("GET", f"/api/{function}/openapi.json"), lambda_context)
    assert status == 200
    assert f"/api/{function}/health" in body["paths"]


def _detail(context: Any) -> tuple[int, Any]:
    from tests.fixtures.auth import AuthClient

    token = AuthClient(context).signup("operator").body["access_token"]
    return invoke(
        "portfolios", http_event("GET", "/api/health/detail", headers={"authorization": f"Bearer {token}"}), context
    )


def test_stack_health_reports_each_part_ok(lambda_env: Any, lambda_context: Any) -> None:
    assert invoke("portfolios", http_event("GET", "/api/health"), lambda_context) == (200, {"status": "ok"})
    status, body = _detail(lambda_context)
    assert status == 200, body
    assert body["status"] == "ok"
    assert {name: part["status"] for name, part in body["parts"].items()} == {
        "database": "ok",
        "bucket": "ok",
        "queue": "ok",
    }
    # S3 sent its s3:TestEvent to the queue when the notification was configured
    assert body["parts"]["queue"]["detail"] == {"messages": 1, "in_flight": 0}
    assert lambda_env.bucket_names()[0] not in json.dumps(body)  # in AWS the name carries the account id and region


def test_public_health_tells_strangers_the_status_only_and_checks_at_most_every_few_seconds(
    lambda_env: Any, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The red-team round: the public answer named the bucket (in AWS: the account id and region), the queue's depth
    and in-flight count, and every call touched the database, S3 and SQS."""
    from portfolios import health

    checks: list[int] = []
    real = health.check_stack
    monkeypatch.setattr(health, "check_stack", lambda: checks.append(1) or real())
    for _ in range(5):
        assert invoke("portfolios", http_event("GET", "/api/health"), lambda_context) == (200, {"status": "ok"})
    assert len(checks) <= 1  # the first may reuse an earlier test's check of this configuration
    before = len(checks)
    monkeypatch.setattr(health, "HEALTH_TTL_S", -1.0)  # every check is out of date: the next call checks again
    invoke("portfolios", http_event("GET", "/api/health"), lambda_context)
    assert len(checks) == before + 1
    assert invoke("portfolios", http_event("GET", "/api/health/detail"), lambda_context)[0] == 401


def test_stack_health_is_503_when_the_bucket_is_missing(
    lambda_env: Any, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from labfolio_common.settings import get_settings

    monkeypatch.setenv("UPLOADS_BUCKET", "no-such-bucket-here")
    get_settings.cache_clear()
    assert invoke("portfolios", http_event("GET", "/api/health"), lambda_context) == (503, {"status": "degraded"})
    status, body = _detail(lambda_context)
    assert status == 503
    assert body["status"] == "degraded"
    assert body["parts"]["bucket"]["status"] == "error"
    assert body["parts"]["database"]["status"] == "ok"


def test_stack_health_is_503_without_leaking_credentials_when_the_database_is_down(
    lambda_env: Any, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from labfolio_common.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", "postgresql+pg8000://labfolio:s3cret-pw@127.0.0.1:9/nowhere")
    get_settings.cache_clear()
    status, body = invoke("portfolios", http_event("GET", "/api/health"), lambda_context)
    assert (status, body) == (503, {"status": "degraded"})


@pytest.mark.parametrize("function", sorted(HANDLERS))
def test_unknown_path_inside_a_function_is_404_with_the_error_body(
    function: str, lambda_env: Any, lambda_context: Any
) -> None:
    # (/api/portfolios/nope would be the portfolio "nope": that needs a session first)
    status, body = invoke(function, http_event("GET", f"/api/{function}/no/such/route"), lambda_context)
    assert status == 404
    assert body == {"error": "not_found", "detail": "Not Found"}


def test_missing_setting_fails_the_first_invocation_naming_it(
    lambda_env: Any, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from labfolio_common.errors import ConfigurationError
    from labfolio_common.settings import get_settings

    monkeypatch.delenv("UPLOADS_BUCKET")
    monkeypatch.setenv("STAGE", "Not Valid!")
    get_settings.cache_clear()
    with pytest.raises(ConfigurationError) as info:
        invoke("auth", http_event("GET", "/api/auth/health"), lambda_context)
    assert "UPLOADS_BUCKET: missing" in str(info.value)
    assert "STAGE:" in str(info.value)


def test_function_apps_serve_exactly_the_template_routes() -> None:
    model = load_model()
    logical = {"auth": "AuthFunction", "portfolios": "PortfoliosFunction", "analysis": "AnalysisFunction"}
    for function, module in HANDLERS.items():
        app = importlib.import_module(module.replace(".handler", ".api")).app
        served = {(m.upper(), path) for path, ops in app.openapi()["paths"].items() for m in ops}
        served.add(("GET", app.openapi_url))
        declared = {(r.method, r.path) for r in model.routes if r.function == logical[function]}
        assert served == declared, function


@pytest.mark.parametrize("function", sorted(HANDLERS))
def test_large_bodies_go_gzip_to_clients_that_accept_it(function: str, lambda_env: Any, lambda_context: Any) -> None:
    """Lambda caps a response at 6 MB (an analysis of 5,000 holdings is 6.3 MB of JSON): bodies of 1 KiB and more
    are gzipped, base64-encoded for API Gateway, when the client accepts gzip; others get them plain."""
    import base64
    import gzip

    handler = importlib.import_module(HANDLERS[function]).lambda_handler
    path = f"/api/{function}/openapi.json"
    plain = handler(http_event("GET", path), lambda_context)
    packed = handler(http_event("GET", path, headers={"accept-encoding": "gzip, deflate, br"}), lambda_context)
    assert not plain.get("isBase64Encoded") and "content-encoding" not in plain["headers"]
    assert packed["isBase64Encoded"] and packed["headers"]["content-encoding"] == "gzip"
    unpacked = gzip.decompress(base64.b64decode(packed["body"]))
    assert json.loads(unpacked) == json.loads(plain["body"])
    assert len(packed["body"]) < len(plain["body"]) / 2

    small = handler(http_event("GET", f"/api/{function}/health", headers={"accept-encoding": "gzip"}), lambda_context)
    assert not small.get("isBase64Encoded") and json.loads(small["body"])["status"] == "ok"
