"""Pure parsing of what arrives on the analysis queue: S3 event notifications (as S3 sends them through SQS).

S3 (and moto) also send an `s3:TestEvent` with no Records when a notification is configured; that and any other
message that is not an S3 event is reported as not-an-event, so the worker acknowledges it instead of retrying it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote_plus

# S3's own limits: a record beyond them was not written by S3 (and would not fit the uploads table's columns).
MAX_BUCKET_CHARS = 63
MAX_KEY_BYTES = 1024
MAX_ETAG_CHARS = 128


class NotAnS3EventError(ValueError):
    """The message body is not an S3 event notification (test event, junk, another producer)."""


@dataclass(frozen=True)
class ObjectCreated:
    bucket: str
    key: str
    size: int
    etag: str
    event_time: datetime | None
    event_name: str


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _object_created(record: dict[str, object]) -> ObjectCreated | None:
    name = str(record.get("eventName", ""))
    s3 = record.get("s3")
    if record.get("eventSource") != "aws:s3" or not isinstance(s3, dict):
        raise NotAnS3EventError("record is not from aws:s3")
    if not name.startswith("ObjectCreated:"):
        return None
    bucket, obj = s3.get("bucket") or {}, s3.get("object") or {}
    if not bucket.get("name") or not obj.get("key"):
        raise NotAnS3EventError("S3 record without bucket name or object key")
    created = ObjectCreated(
        bucket=str(bucket["name"]),
        key=unquote_plus(str(obj["key"])),  # keys in S3 events are form-encoded
        size=_size(obj.get("size")),
        etag=str(obj.get("eTag") or obj.get("etag") or ""),
        event_time=_parse_time(record.get("eventTime")),
        event_name=name,
    )
    if (
        len(created.bucket) > MAX_BUCKET_CHARS
        or len(created.key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES
        or len(created.etag) > MAX_ETAG_CHARS
    ):
        raise NotAnS3EventError("S3 record with a bucket name, key or ETag longer than S3 allows")
    return created


def _size(value: object) -> int:
    try:
        return int(value or 0)  # type: ignore[call-overload,no-any-return]
    except (TypeError, ValueError):
        raise NotAnS3EventError("S3 record with an object size that is not a number") from None


def parse_notification(body: str) -> list[ObjectCreated]:
    """The objects an S3 notification says were created (other S3 events are skipped).

    Raises NotAnS3EventError for anything that is not an S3 event notification, including `s3:TestEvent`.
    """
    try:
        message = json.loads(body)
    except (TypeError, ValueError, RecursionError) as exc:
        raise NotAnS3EventError("body is not JSON") from exc
    if not isinstance(message, dict):
        raise NotAnS3EventError("body is not a JSON object")
    if message.get("Event") == "s3:TestEvent":
        raise NotAnS3EventError("s3:TestEvent")
    records = message.get("Records")
    if not isinstance(records, list) or not records:
        raise NotAnS3EventError("no Records")
    created = [_object_created(r) if isinstance(r, dict) else None for r in records]
    return [c for c in created if c is not None]
