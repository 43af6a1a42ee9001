"""SQL adapter: remember each uploaded object the worker is handed (idempotent under SQS redelivery)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from labfolio_common.db.models import Upload
from labfolio_common.db.upsert import insert_ignore
from sqlalchemy.orm import Session

from analysis.domain.s3_events import ObjectCreated


def record_upload(session: Session, obj: ObjectCreated) -> bool:
    """Insert the object unless this (bucket, key, etag) was already recorded; True when it is new."""
    row = {
        "upload_id": uuid.uuid4(),
        "bucket": obj.bucket,
        "object_key": obj.key,
        "size_bytes": obj.size,
        "etag": obj.etag,
        "event_time": obj.event_time.astimezone(UTC).replace(tzinfo=None) if obj.event_time else None,
        "received_at": datetime.now(UTC).replace(tzinfo=None),
        "status": "received",
    }
    return insert_ignore(session, Upload.__table__, [row], ["bucket", "object_key", "etag"]) == 1
