"""Checks behind `GET /api/health`: can this function reach the database, the uploads bucket and the queue?"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError
from labfolio_common.aws import client
from labfolio_common.db.engine import get_engine, ping
from labfolio_common.errors import DependencyUnavailableError
from labfolio_common.observability import logger
from labfolio_common.settings import get_settings
from pydantic import BaseModel


class PartHealth(BaseModel):
    status: Literal["ok", "error"]
    latency_ms: float
    detail: dict[str, Any] | str | None = None


class StackHealth(BaseModel):
    status: Literal["ok", "degraded"]
    stage: str
    parts: dict[str, PartHealth]


def _timed(name: str, check: Callable[[], dict[str, Any] | None]) -> PartHealth:
    start = time.perf_counter()
    try:
        detail: dict[str, Any] | str | None = check()
        status: Literal["ok", "error"] = "ok"
    except (DependencyUnavailableError, BotoCoreError, ClientError) as exc:
        status, detail = "error", _describe(exc)
        logger.warning("health check failed", extra={"part": name, "reason": detail})
    return PartHealth(status=status, latency_ms=round((time.perf_counter() - start) * 1000, 2), detail=detail)


def _describe(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return f"{exc.response.get('Error', {}).get('Code', 'error')}"
    if isinstance(exc, DependencyUnavailableError):
        return str(exc.detail)
    return type(exc).__name__


def _database() -> None:
    ping(get_engine(get_settings().database_url))


def _bucket() -> dict[str, Any]:
    bucket = get_settings().uploads_bucket
    client("s3").head_bucket(Bucket=bucket)
    return {"name": bucket}


def _queue() -> dict[str, Any]:
    attrs = client("sqs").get_queue_attributes(
        QueueUrl=get_settings().analysis_queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return {
        "messages": int(attrs.get("ApproximateNumberOfMessages", 0)),
        "in_flight": int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
    }


def check_stack() -> StackHealth:
    parts = {"database": _timed("database", _database), "bucket": _timed("bucket", _bucket)}
    parts["queue"] = _timed("queue", _queue)
    status: Literal["ok", "degraded"] = "ok" if all(p.status == "ok" for p in parts.values()) else "degraded"
    return StackHealth(status=status, stage=get_settings().stage, parts=parts)
