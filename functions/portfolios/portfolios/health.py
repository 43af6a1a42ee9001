"""Checks behind `GET /api/health`: can this function reach the database, the uploads bucket and the queue?

The public answer is the overall status only, checked at most once every HEALTH_TTL_S seconds per warm instance (a
stranger polling it touches nothing); the parts, their latencies and the queue's depth are for signed-in callers
(`GET /api/health/detail`). Neither names the bucket: in AWS its name carries the account id and the region."""

from __future__ import annotations

import threading
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


class PublicHealth(BaseModel):
    status: Literal["ok", "degraded"]


HEALTH_TTL_S = 5.0
_lock = threading.Lock()
_last: dict[tuple[str, str, str], tuple[float, StackHealth]] = {}  # per configuration: when checked, what was found


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


def _bucket() -> None:
    client("s3").head_bucket(Bucket=get_settings().uploads_bucket)


def _queue() -> dict[str, Any]:
    attrs = client("sqs").get_queue_attributes(
        QueueUrl=get_settings().analysis_queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return {
        "messages": int(attrs.get("ApproximateNumberOfMessages", 0)),
        "in_flight": int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
    }


def recent_check() -> StackHealth:
    """The last check of this configuration if younger than HEALTH_TTL_S, else a new one."""
    settings = get_settings()
    key = (settings.database_url, settings.uploads_bucket, settings.analysis_queue_url)
    with _lock:
        found = _last.get(key)
        if found is None or time.monotonic() - found[0] > HEALTH_TTL_S:
            found = (time.monotonic(), check_stack())
            _last[key] = found
    return found[1]


def check_stack() -> StackHealth:
    parts = {"database": _timed("database", _database), "bucket": _timed("bucket", _bucket)}
    parts["queue"] = _timed("queue", _queue)
    status: Literal["ok", "degraded"] = "ok" if all(p.status == "ok" for p in parts.values()) else "degraded"
    return StackHealth(status=status, stage=get_settings().stage, parts=parts)
