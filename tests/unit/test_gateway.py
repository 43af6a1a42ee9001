"""Route selection and event building of the local gateway, against API Gateway's documented behaviour."""

from __future__ import annotations

import json

import pytest

from local.events import http_api_event
from local.gateway import RouteTable, to_http_response
from local.model import HttpRoute
from tests.fixtures.aws import load_event

pytestmark = pytest.mark.unit

ROUTES = [
    HttpRoute("GET", "/api/portfolios", "P"),
    HttpRoute("GET", "/api/portfolios/{portfolio_id}", "P1"),
    HttpRoute("ANY", "/api/files/{proxy+}", "F"),
    HttpRoute("GET", "/api/portfolios/summary", "S"),
]


@pytest.mark.parametrize(
    ("method", "path", "function", "params"),
    [
        ("GET", "/api/portfolios", "P", {}),
        ("GET", "/api/portfolios/summary", "S", {}),
        ("GET", "/api/portfolios/abc", "P1", {"portfolio_id": "abc"}),
        ("DELETE", "/api/files/a/b/c.csv", "F", {"proxy": "a/b/c.csv"}),
    ],
)
def test_route_table_prefers_exact_then_parameters_then_greedy(
    method: str, path: str, function: str, params: dict[str, str]
) -> None:
    match = RouteTable(ROUTES).match(method, path)
    assert match is not None
    assert (match.route.function, match.path_parameters) == (function, params)


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/api/portfolios"), ("GET", "/api/nothing"), ("GET", "/api/portfolios/a/b"), ("GET", "/api/files")],
)
def test_route_table_has_no_match_for_unknown_route_or_method(method: str, path: str) -> None:
    assert RouteTable(ROUTES).match(method, path) is None


def test_http_event_has_the_shape_of_the_recorded_aws_event() -> None:
    recorded = load_event("http_api_get_health.json")
    built = http_api_event(
        method="GET",
        path="/api/health",
        route_key="GET /api/health",
        raw_query="",
        headers=[("Host", "x"), ("User-Agent", "curl")],
        body=b"",
        source_ip="127.0.0.1",
    )
    assert set(built) == set(recorded)
    assert set(built["requestContext"]) == set(recorded["requestContext"])
    assert set(built["requestContext"]["http"]) == set(recorded["requestContext"]["http"])


def test_http_event_splits_cookies_joins_repeats_and_encodes_binary_bodies() -> None:
    event = http_api_event(
        method="POST",
        path="/api/x",
        route_key="POST /api/x",
        raw_query="a=1&a=2&b=3",
        headers=[
            ("Cookie", "s=1; t=2"),
            ("X-Multi", "a"),
            ("X-Multi", "b"),
            ("Content-Type", "application/octet-stream"),
        ],
        body=b"\x00\xff",
        source_ip="10.0.0.1",
        query_pairs=[("a", "1"), ("a", "2"), ("b", "3")],
    )
    assert event["cookies"] == ["s=1", "t=2"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["x-multi"] == "a,b"
    assert event["queryStringParameters"] == {"a": "1,2", "b": "3"}
    assert event["isBase64Encoded"] is True and event["body"] == "AP8="


def test_http_event_keeps_json_bodies_as_text() -> None:
    event = http_api_event(
        method="POST",
        path="/api/x",
        route_key="POST /api/x",
        raw_query="",
        headers=[("Content-Type", "application/json")],
        body=b'{"a": 1}',
        source_ip="1.2.3.4",
    )
    assert (event["body"], event["isBase64Encoded"]) == ('{"a": 1}', False)


def test_function_result_becomes_the_http_response() -> None:
    response = to_http_response(
        {
            "statusCode": 201,
            "headers": {"content-type": "application/json"},
            "cookies": ["a=1; HttpOnly", "b=2"],
            "body": "eyJvayI6IHRydWV9",
            "isBase64Encoded": True,
        }
    )
    assert response.status_code == 201
    assert json.loads(response.body) == {"ok": True}
    assert response.headers.getlist("set-cookie") == ["a=1; HttpOnly", "b=2"]


def test_result_without_status_code_is_a_json_200() -> None:
    response = to_http_response({"hello": "world"})
    assert (response.status_code, json.loads(response.body)) == (200, {"hello": "world"})
