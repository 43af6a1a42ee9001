"""The local API Gateway answers as AWS does at Lambda's limits: a function result over 6 MB is a 500 (Lambda refuses
to return it), and a base64 (gzip) body reaches the client as the gzip bytes, with its content-encoding."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
from dataclasses import dataclass
from typing import Any

import pytest

from local.gateway import MAX_RESPONSE, create_gateway
from local.model import HttpRoute

pytestmark = pytest.mark.functional


@dataclass
class Answer:
    status_code: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def _gateway(result: dict[str, Any]) -> Any:
    def invoke(function: str, event: dict[str, Any]) -> Any:
        assert function == "Fn"
        return result

    return create_gateway([HttpRoute("GET", "/api/things", "Fn")], invoke)


def _get(app: Any, path: str) -> Answer:
    """One GET through the gateway's ASGI app, as a server would call it."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1"), (b"accept-encoding", b"gzip")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    # a loop of its own, never made the thread's current one: asyncio.run would leave the thread without a current
    # loop, and Mangum (set up once per handler module) runs every later invocation on the current one
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(app(scope, receive, send))
    finally:
        loop.close()
    start = next(m for m in sent if m["type"] == "http.response.start")
    headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return Answer(start["status"], headers, body)


def _json_result(size: int) -> dict[str, Any]:
    body = json.dumps({"items": "x" * size})
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": body}


def test_a_result_over_lambdas_response_limit_is_a_500() -> None:
    over = _get(_gateway(_json_result(MAX_RESPONSE)), "/api/things")
    assert (over.status_code, over.json()) == (500, {"message": "Internal Server Error"})


def test_a_result_just_under_the_limit_passes() -> None:
    under = _get(_gateway(_json_result(MAX_RESPONSE - 200)), "/api/things")
    assert under.status_code == 200 and len(under.json()["items"]) == MAX_RESPONSE - 200


def test_a_gzip_body_reaches_the_client_decoded() -> None:
    document = {"items": list(range(100_000))}
    packed = base64.b64encode(gzip.compress(json.dumps(document).encode())).decode()
    result = {
        "statusCode": 200,
        "headers": {"content-type": "application/json", "content-encoding": "gzip"},
        "body": packed,
        "isBase64Encoded": True,
    }
    answer = _get(_gateway(result), "/api/things")
    assert answer.status_code == 200 and answer.headers["content-encoding"] == "gzip"
    assert json.loads(gzip.decompress(answer.body)) == document  # the gateway decoded base64; the client un-gzips
