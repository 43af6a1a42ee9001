"""S3 adapter of ingestion: read an uploaded object (never more than the cap), keep a copy of an accepted one, delete
objects that are not kept.

A missing object (deleted with its portfolio) or one replaced since the event (another version, with its own event)
is a normal outcome; any other S3 failure is transient (ObjectUnavailableError): the message is retried and, if it
keeps failing, dead-lettered for an operator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from labfolio_common.errors import DependencyUnavailableError
from labfolio_common.observability import logger

_GONE = frozenset({"NoSuchKey", "404", "NotFound"})
_CHANGED = frozenset({"PreconditionFailed", "412"})


class ObjectUnavailableError(DependencyUnavailableError):
    """S3 did not give the object for a reason worth retrying (throttling, network, permissions, no bucket)."""


@dataclass(frozen=True)
class Fetched:
    """The object's bytes (None when it is over the cap: not read at all) and its real size."""

    body: bytes | None
    size: int


def read_object(s3: Any, bucket: str, key: str, etag: str, max_bytes: int) -> Fetched | str:
    """The object as the event saw it (same ETag); "gone" or "changed" when it no longer is."""
    params: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if etag:
        params["IfMatch"] = f'"{etag.strip(chr(34))}"'
    try:
        answer = s3.get_object(**params)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _GONE:
            return "gone"
        if code in _CHANGED:
            return "changed"
        raise ObjectUnavailableError(f"S3 GetObject failed: {code or 'error'}") from exc
    except BotoCoreError as exc:
        raise ObjectUnavailableError(f"S3 GetObject failed: {type(exc).__name__}") from exc
    stream = answer["Body"]
    try:
        size = int(answer.get("ContentLength", 0))
        if size > max_bytes:
            return Fetched(None, size)
        body = stream.read(max_bytes + 1)
    except BotoCoreError as exc:
        raise ObjectUnavailableError(f"S3 read failed: {type(exc).__name__}") from exc
    finally:
        stream.close()
    return Fetched(body, len(body)) if len(body) <= max_bytes else Fetched(None, len(body))


def put_object(s3: Any, bucket: str, key: str, body: bytes) -> None:
    """Store `body` (a file being kept) at `key`; a failure is transient (the upload is retried)."""
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="text/csv")
    except (BotoCoreError, ClientError) as exc:
        raise ObjectUnavailableError(f"S3 PutObject failed: {type(exc).__name__}") from exc


def delete_object(s3: Any, bucket: str, key: str) -> None:
    """Delete an object the portfolio no longer needs; a failure is logged, never raised (the rows are right)."""
    try:
        s3.delete_object(Bucket=bucket, Key=key)
    except (BotoCoreError, ClientError) as exc:
        logger.warning("uploaded object not deleted", extra={"bucket": bucket, "key": key, "error": type(exc).__name__})
