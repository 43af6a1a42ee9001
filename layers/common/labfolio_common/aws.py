"""boto3 clients, one per service per process. Local and AWS differ only by the environment: boto3 reads
`AWS_ENDPOINT_URL` itself, so the local stack points every client at its moto server without a code path of its own."""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

_session_lock = threading.Lock()


@cache
def _session() -> Any:
    """One boto3 session per process: its loader keeps the service models it has read, so a second client (or one
    made again after reset_clients) costs milliseconds, not the ~0.1 s of reading the models again."""
    import boto3

    return boto3.session.Session()


@cache
def client(service: str) -> Any:
    """A cached boto3 client (S3 with SigV4, bounded timeouts and standard retries).

    boto3 is imported here, on first use, not with this module: it is ~0.1 s of a cold start, and the routes that
    read the database only (list and read portfolios, sign-in) never need it."""
    from botocore.config import Config

    config = Config(
        signature_version="s3v4",
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=3,
        read_timeout=10,
    )
    with _session_lock:  # a session is not thread-safe; the clients it makes are
        return _session().client(service, config=config)


def reset_clients() -> None:
    """Forget cached clients (tests that change AWS_ENDPOINT_URL between cases): the next ones read the endpoint and
    region from the environment again. The session stays, and with it the credentials it resolved first."""
    client.cache_clear()
