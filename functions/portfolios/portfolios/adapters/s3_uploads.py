"""S3 adapter of the portfolios function: presigned POSTs for browsers, objects written for command-line clients,
the stored file read back for its owner, a portfolio's objects deleted with it."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from labfolio_common.errors import DependencyUnavailableError
from labfolio_common.uploads import CSV_CONTENT_TYPE


def presigned_post(s3: Any, bucket: str, key: str, max_bytes: int, expires_in: int) -> dict[str, Any]:
    """A form a browser POSTs straight to S3: this exact key, text/csv, 1 byte to `max_bytes` (SigV4, S3 enforces
    the policy; moto does not, which is why the worker checks the object itself)."""
    try:
        form = s3.generate_presigned_post(
            Bucket=bucket,
            Key=key,
            Fields={"Content-Type": CSV_CONTENT_TYPE},
            Conditions=[{"Content-Type": CSV_CONTENT_TYPE}, ["content-length-range", 1, max_bytes]],
            ExpiresIn=expires_in,
        )
    except (BotoCoreError, ClientError) as exc:
        raise DependencyUnavailableError(f"could not sign the upload ({type(exc).__name__})") from exc
    return {"url": form["url"], "fields": dict(form["fields"])}


def put_csv(s3: Any, bucket: str, key: str, body: bytes) -> None:
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=CSV_CONTENT_TYPE)
    except (BotoCoreError, ClientError) as exc:
        raise DependencyUnavailableError(f"could not store the file ({type(exc).__name__})") from exc


def read(s3: Any, bucket: str, key: str) -> bytes | None:
    """The object's bytes, or None when it no longer exists."""
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
        try:
            return bytes(body.read())
        finally:
            body.close()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise DependencyUnavailableError(f"could not read the file ({type(exc).__name__})") from exc
    except BotoCoreError as exc:
        raise DependencyUnavailableError(f"could not read the file ({type(exc).__name__})") from exc
