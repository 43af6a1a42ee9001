"""What every HTTP function shares: the FastAPI app factory, the one error body, and the Mangum entry point.

Error body everywhere: {"error": "<short code>", "detail": <message or list of problems>}.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from mangum import Mangum
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from labfolio_common.errors import LabfolioError
from labfolio_common.observability import logger

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


def error_body(code: str, detail: Any) -> dict[str, Any]:
    return {"error": code, "detail": detail}


class ErrorBody(BaseModel):
    """The one error body of every function (documented on every 4xx/5xx answer of the OpenAPI documents)."""

    error: str = Field(description="short code: unauthorized, forbidden, not_found, validation_error, ...")
    detail: Any = Field(description="a message, or for validation_error a list of {field, message, type}")


# FastAPI answers 400 with this detail when a JSON body is not text (e.g. not UTF-8): a malformed body is a 422 here,
# as json_body answers for the routes that read their body after authentication.
_BODY_NOT_PARSED = "There was an error parsing the body"


def _status_code_name(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


async def _labfolio_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LabfolioError)
    if exc.status_code >= 500:
        logger.exception("request failed", extra={"error": exc.code})
    return JSONResponse(error_body(exc.code, exc.detail), status_code=exc.status_code, headers=exc.headers)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.detail == _BODY_NOT_PARSED:
        problem = {"field": "body", "message": "the body is not UTF-8 JSON", "type": "json_invalid"}
        return JSONResponse(error_body("validation_error", [problem]), status_code=422)
    return JSONResponse(
        error_body(_status_code_name(exc.status_code), exc.detail),
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"field": ".".join(str(p) for p in err.get("loc", ())), "message": err.get("msg", ""), "type": err.get("type")}
        for err in exc.errors()
    ]
    return JSONResponse(error_body("validation_error", problems), status_code=422)


class CatchUnexpected:
    """Outermost app middleware: anything unexpected is logged with its traceback and answered with a bare 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            logger.exception("unhandled error", extra={"path": scope.get("path")})
            if started:
                raise
            response = JSONResponse(error_body("internal_error", "internal error"), status_code=500)
            await response(scope, receive, send)


def create_app(function: str, routers: Sequence[APIRouter], *, title: str, version: str = "0.1.0") -> FastAPI:
    """A FastAPI app for one function: its routers, its OpenAPI document at /api/<function>/openapi.json."""
    app = FastAPI(
        title=title,
        version=version,
        openapi_url=f"/api/{function}/openapi.json",
        docs_url=None,
        redoc_url=None,
        # paths match exactly, as API Gateway matches them: a trailing slash is a 404, not a redirect to a Location
        # built from the request's Host header (before authentication)
        redirect_slashes=False,
    )
    for router in routers:
        app.include_router(router)
    app.add_exception_handler(LabfolioError, _labfolio_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_middleware(CatchUnexpected)
    # outermost: bodies of 1 KiB and more go gzip-compressed to clients that accept it (browsers, httpx, requests).
    # Lambda caps a response at 6 MB; an analysis of 5,000 holdings is 6.3 MB of JSON and 1.9 MB gzipped (Mangum
    # sends compressed bodies base64-encoded, which API Gateway decodes).
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=6)
    _document_error_bodies(app)
    return app


def _document_error_bodies(app: FastAPI) -> None:
    """Every 4xx/5xx answer of the OpenAPI document carries ErrorBody (FastAPI would document its own 422 shape,
    which this app never sends), unless the route documents another model for it (e.g. /api/health's 503)."""
    from fastapi.openapi.utils import get_openapi

    ref = {"$ref": "#/components/schemas/ErrorBody"}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        components["ErrorBody"] = ErrorBody.model_json_schema()
        for item in schema.get("paths", {}).values():
            for operation in item.values():
                for code, response in operation.get("responses", {}).items():
                    content = response.get("content", {}).get("application/json", {})
                    own = content.get("schema") and "HTTPValidationError" not in json.dumps(content["schema"])
                    if code[:1] in ("4", "5") and not own:
                        response["content"] = {"application/json": {"schema": ref}}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def health_router(function: str) -> APIRouter:
    """`GET /api/<function>/health`: the function is deployed and its settings are valid (no I/O)."""
    router = APIRouter(tags=["health"])

    @router.get(f"/api/{function}/health", summary=f"Health of the {function} function")
    async def get_function_health() -> dict[str, str]:
        from labfolio_common.settings import get_settings

        return {"status": "ok", "function": function, "stage": get_settings().stage}

    return router


def json_body[Model: BaseModel](
    model: type[Model], *, empty_means_defaults: bool = False
) -> Callable[[Request], Coroutine[Any, Any, Model]]:
    """A dependency that reads the request's JSON body into `model` (422 listing each field, as FastAPI does).

    With `empty_means_defaults`, a missing or blank body is `{}` (every field's default) instead of a 422.
    """

    async def parse(request: Request) -> Model:
        raw = await request.body()
        if empty_means_defaults and not raw.strip():
            raw = b"{}"
        try:
            # json.loads as FastAPI does (it keeps escapes such as lone surrogates for the field rules to judge)
            data = json.loads(raw or b"null")
        except RecursionError:
            # nesting deeper than the interpreter's stack: refuse it as invalid JSON rather than fail with a 500
            problem = {"type": "json_invalid", "loc": ("body", 0), "msg": "JSON nested too deeply", "input": {}}
            raise RequestValidationError([problem]) from None
        except ValueError as exc:
            position = getattr(exc, "pos", 0)
            problem = {"type": "json_invalid", "loc": ("body", position), "msg": "JSON decode error", "input": {}}
            raise RequestValidationError([problem]) from None
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            errors = [{**err, "loc": ("body", *err.get("loc", ()))} for err in exc.errors(include_url=False)]
            raise RequestValidationError(errors) from None

    return parse


def body_schema(model: type[BaseModel], *, required: bool = True) -> dict[str, Any]:
    """`openapi_extra` documenting a JSON body read by `json_body` (not required: `empty_means_defaults`)."""
    return {
        "requestBody": {
            "required": required,
            "content": {
                "application/json": {"schema": model.model_json_schema(ref_template="#/components/schemas/{model}")}
            },
        }
    }


def mangum_adapter(app: FastAPI) -> Mangum:
    """Mangum for API Gateway HTTP API (payload 2.0); no lifespan — a Lambda has no startup/shutdown hooks."""
    return Mangum(app, lifespan="off")


def make_http_handler(app: FastAPI) -> LambdaHandler:
    """The Lambda entry point of an HTTP function: a named, decorated function that calls Mangum.

    Settings are validated on every invocation's first line (cached after the first), so a missing variable fails
    the first request with a message naming it while the module itself imports with no environment set.
    """
    from aws_lambda_powertools.logging import correlation_paths

    from labfolio_common.observability import metrics
    from labfolio_common.settings import get_settings

    adapter = mangum_adapter(app)

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
    @metrics.log_metrics
    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        get_settings()
        return adapter(event, context)

    return lambda_handler
