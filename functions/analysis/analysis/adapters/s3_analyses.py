"""S3 adapter of stored analysis inputs: the prices an analysis used, a gzip CSV under analyses/ in the uploads
bucket (labfolio_common.analysis_store names the keys). A failure is transient: the job is retried."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from labfolio_common.errors import DependencyUnavailableError
from labfolio_common.observability import logger


class StoreUnavailableError(DependencyUnavailableError):
    """S3 did not take the object (throttling, network, permissions, no bucket)."""


def put_prices(s3: Any, bucket: str, key: str, body: bytes) -> None:
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/gzip")
    except (BotoCoreError, ClientError) as exc:
        raise StoreUnavailableError(f"S3 PutObject failed: {type(exc).__name__}") from exc


def delete_object(s3: Any, bucket: str, key: str) -> None:
    """Best effort (an object whose analysis is gone); a failure is logged."""
    try:
        s3.delete_object(Bucket=bucket, Key=key)
    except (BotoCoreError, ClientError) as exc:
        logger.warning("stored prices not deleted", extra={"key": key, "error": type(exc).__name__})
