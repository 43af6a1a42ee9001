"""The one error body and FastAPI's validation errors, through the real Mangum entry point with a v2 event."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi import APIRouter
from labfolio_common.errors import ConflictError
from labfolio_common.http import create_app, make_http_handler
from pydantic import BaseModel, Field

from tests.functional.test_http_handlers import http_event

pytestmark = pytest.mark.functional


class ThingCreate(BaseModel):
    name: str = Field(min_length=3)
    quantity: float


router = APIRouter()


@router.post("/api/things/items")
def create_thing(thing: ThingCreate) -> dict[str, Any]:
    if thing.name == "taken":
        raise ConflictError("name already taken")
    if thing.name == "boom":
        raise RuntimeError("secret internals")
    return {"name": thing.name}


handler = make_http_handler(create_app("things", [router], title="things"))


def call(body: str, lambda_context: Any) -> tuple[int, Any]:
    result = handler(http_event("POST", "/api/things/items", body=body), lambda_context)
    return result["statusCode"], json.loads(result["body"])


def test_malformed_json_body_is_422_naming_where(lambda_env: Any, lambda_context: Any) -> None:
    status, body = call('{"name": "abc", "quantity": ', lambda_context)
    assert status == 422
    assert body["error"] == "validation_error"
    assert body["detail"][0]["type"] == "json_invalid"
    assert body["detail"][0]["field"].startswith("body")


def test_invalid_fields_are_each_listed(lambda_env: Any, lambda_context: Any) -> None:
    status, body = call('{"name": "ab", "quantity": "many"}', lambda_context)
    assert status == 422
    assert {p["field"] for p in body["detail"]} == {"body.name", "body.quantity"}


def test_service_error_maps_to_its_status_and_code(lambda_env: Any, lambda_context: Any) -> None:
    assert call('{"name": "taken", "quantity": 1}', lambda_context) == (
        409,
        {"error": "conflict", "detail": "name already taken"},
    )


def test_unexpected_error_is_a_bare_500(lambda_env: Any, lambda_context: Any) -> None:
    status, body = call('{"name": "boom", "quantity": 1}', lambda_context)
    assert status == 500
    assert body == {"error": "internal_error", "detail": "internal error"}
