"""The local API Gateway: turns /api/* requests into HTTP API payload 2.0 events for the function that template.yaml
routes them to, and the function's answer back into HTTP. Serves frontend/ at / and, as a local convenience, the
merged OpenAPI document (/api/openapi.json) and interactive docs (/api/docs: Swagger UI from the installed
fastapi-offline package, no CDN). Every answer carries the security headers CloudFront adds in AWS
(local.headers), over whatever the function or the file sent, as CloudFront's policy overrides them."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from local.events import http_api_event
from local.model import HttpRoute
from local.runtime import InvocationError

log = logging.getLogger("labfolio.local")

MAX_BODY = 10 * 1024 * 1024  # API Gateway's payload limit
# Lambda's limit on a synchronous invocation's response (the JSON the function returns); API Gateway answers 500
# when a function exceeds it, so the local stack does too: a large analysis must fit (gzip: labfolio_common.http)
MAX_RESPONSE = 6_291_556
LOCAL_ONLY_ROUTES = ("/api/openapi.json", "/api/docs")

Invoke = Callable[[str, dict[str, Any]], Any]


@dataclass(frozen=True)
class Match:
    route: HttpRoute
    path_parameters: dict[str, str]


class RouteTable:
    """API Gateway HTTP API route selection: exact paths win over {param} paths, which win over {proxy+}."""

    def __init__(self, routes: Sequence[HttpRoute]) -> None:
        self.routes = list(routes)

    @staticmethod
    def _match_path(template: str, path: str) -> dict[str, str] | None:
        t_parts, p_parts = template.strip("/").split("/"), path.strip("/").split("/")
        params: dict[str, str] = {}
        for i, t in enumerate(t_parts):
            if t.startswith("{") and t.endswith("+}"):
                rest = "/".join(p_parts[i:])
                if not rest:
                    return None
                params[t[1:-2]] = rest
                return params
            if i >= len(p_parts):
                return None
            if t.startswith("{") and t.endswith("}"):
                if not p_parts[i]:
                    return None
                params[t[1:-1]] = p_parts[i]
            elif t != p_parts[i]:
                return None
        return params if len(t_parts) == len(p_parts) else None

    @staticmethod
    def _specificity(route: HttpRoute) -> tuple[int, int, int]:
        parts = route.path.strip("/").split("/")
        greedy = sum(p.endswith("+}") for p in parts)
        params = sum(p.startswith("{") for p in parts)
        return (greedy, params, -len(parts))

    def match(self, method: str, path: str) -> Match | None:
        candidates = []
        for route in self.routes:
            if route.method not in (method, "ANY"):
                continue
            params = self._match_path(route.path, path)
            if params is not None:
                candidates.append((self._specificity(route), route, params))
        if not candidates:
            return None
        _, route, params = min(candidates, key=lambda c: c[0])
        return Match(route, params)


def to_http_response(result: Any) -> Response:
    """What API Gateway answers for a payload-2.0 function result."""
    if not isinstance(result, dict) or "statusCode" not in result:
        # A result without statusCode is taken as a JSON body with status 200.
        return JSONResponse(result)
    body: bytes | str = result.get("body") or b""
    if result.get("isBase64Encoded") and body:
        body = base64.b64decode(body)
    response = Response(content=body, status_code=int(result["statusCode"]))
    for name, value in (result.get("headers") or {}).items():
        if name.lower() != "content-length":
            response.headers[name] = str(value)
    for cookie in result.get("cookies") or []:
        response.headers.append("set-cookie", cookie)
    return response


def _not_found() -> JSONResponse:
    return JSONResponse({"message": "Not Found"}, status_code=404)


class SecurityHeaders:
    """ASGI middleware: set `headers` on every HTTP answer (replacing the same names), and no Server header."""

    def __init__(self, app: Any, headers: Mapping[str, str]) -> None:
        self.app = app
        self.headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        self.names = {k for k, _ in self.headers} | {b"server"}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in self.names]
                message = {**message, "headers": kept + self.headers}
            await send(message)

        await self.app(scope, receive, sending)


DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>labfolio API</title>
<link rel="stylesheet" href="/api/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/api/docs/assets/swagger-ui-bundle.js"></script>
<script src="/api/docs/assets/docs.js"></script></body></html>
"""
# No inline script (the policy allows none): the page starts Swagger UI from this file.
DOCS_SCRIPT = 'window.ui = SwaggerUIBundle({url: "/api/openapi.json", dom_id: "#swagger-ui"});\n'
DOCS_ASSETS = {"swagger-ui.css": "text/css", "swagger-ui-bundle.js": "text/javascript"}


def _docs_asset(name: str) -> Response:
    if name == "docs.js":
        return Response(DOCS_SCRIPT, media_type="text/javascript")
    if name not in DOCS_ASSETS:
        return _not_found()
    import fastapi_offline

    path = Path(fastapi_offline.__file__).with_name("static") / name
    return Response(path.read_bytes(), media_type=DOCS_ASSETS[name], headers={"Cache-Control": "max-age=3600"})


def create_gateway(
    routes: Sequence[HttpRoute],
    invoke: Invoke,
    frontend_dir: Path | None = None,
    headers: Mapping[str, str] | None = None,
) -> Any:
    table = RouteTable(routes)

    async def api(request: Request) -> Response:
        match = table.match(request.method, request.url.path)
        if match is None:
            return _not_found()
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"message": "Request Entity Too Large"}, status_code=413)
        event = http_api_event(
            method=request.method,
            path=request.url.path,
            route_key=f"{match.route.method} {match.route.path}",
            raw_query=request.url.query,
            headers=request.headers.items(),
            body=body,
            source_ip=request.client.host if request.client else "127.0.0.1",
            path_parameters=match.path_parameters,
            query_pairs=request.query_params.multi_items(),
        )
        try:
            result = await run_in_threadpool(invoke, match.route.function, event)
        except InvocationError as exc:
            log.error("function %s failed: %s", match.route.function, exc)
            if exc.payload.get("errorType") == "Sandbox.Timedout":
                return JSONResponse({"message": "Service Unavailable"}, status_code=503)
            return JSONResponse({"message": "Internal Server Error"}, status_code=500)
        size = len(json.dumps(result, separators=(",", ":")).encode())
        if size > MAX_RESPONSE:
            log.error(
                "function %s returned %d bytes: more than Lambda's %d-byte response limit",
                match.route.function,
                size,
                MAX_RESPONSE,
            )
            return JSONResponse({"message": "Internal Server Error"}, status_code=500)
        return to_http_response(result)

    async def merged_openapi(_: Request) -> Response:
        docs = []
        for route in table.routes:
            if route.path.endswith("/openapi.json") and route.method == "GET":
                event = http_api_event(
                    method="GET",
                    path=route.path,
                    route_key=f"GET {route.path}",
                    raw_query="",
                    headers=[("host", "127.0.0.1")],
                    body=b"",
                    source_ip="127.0.0.1",
                )
                try:
                    result = await run_in_threadpool(invoke, route.function, event)
                    docs.append(json.loads(result["body"]))
                except (InvocationError, KeyError, ValueError) as exc:
                    log.warning("openapi of %s unavailable: %s", route.function, exc)
        return JSONResponse(merge_openapi(docs))

    async def docs(_: Request) -> Response:
        return HTMLResponse(DOCS_PAGE)

    async def docs_asset(request: Request) -> Response:
        return _docs_asset(request.path_params["name"])

    app_routes: list[Any] = [
        Route("/api/openapi.json", merged_openapi, methods=["GET"]),
        Route("/api/docs", docs, methods=["GET"]),
        Route("/api/docs/assets/{name}", docs_asset, methods=["GET"]),
        Route("/api", api, methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]),
        Route("/api/{rest:path}", api, methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]),
    ]
    if frontend_dir is not None and frontend_dir.is_dir():
        app_routes.append(Mount("/", app=StaticFiles(directory=frontend_dir, html=True), name="frontend"))
    app = Starlette(routes=app_routes)
    app.router.redirect_slashes = False  # as API Gateway: no redirect built from the request's Host header
    return SecurityHeaders(app, headers or {})


def merge_openapi(docs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {
        "openapi": docs[0].get("openapi", "3.1.0") if docs else "3.1.0",
        "info": {"title": "labfolio API", "version": docs[0]["info"]["version"] if docs else "0"},
        "paths": {},
        "components": {"schemas": {}},
    }
    for doc in docs:
        merged["paths"].update(doc.get("paths", {}))
        for kind, items in doc.get("components", {}).items():
            merged["components"].setdefault(kind, {}).update(items)
    return merged
