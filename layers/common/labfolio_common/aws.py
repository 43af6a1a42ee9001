"""boto3 clients, one per service per process. Local and AWS differ only by the environment: boto3 reads
`AWS_ENDPOINT_URL` itself, so the local stack points every client at its moto server without a code path of its own."""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def client(service: str) -> Any:
    """A cached boto3 client (S3 with SigV4, bounded timeouts and standard retries).

    boto3 is imported here, on first use, not with this module: it is ~0.1 s of a cold start, and the routes that
    read the database only (list and read portfolios, sign-in) never need it."""
    import boto3
    from botocore.config import Config

    config = Config(
        signature_version="s3v4",
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=3,
        read_timeout=10,
    )
    return boto3.session.Session().client(service, config=config)  # type: ignore[call-overload]


def reset_clients() -> None:
    """Forget cached clients (tests that change AWS_ENDPOINT_URL between cases)."""
    client.cache_clear()
