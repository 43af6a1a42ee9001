"""Where an analysis keeps the prices it used: a gzip CSV in the uploads bucket, outside `uploads/` (the bucket's
notification watches only that prefix, so nothing written here reaches the queue).

    analyses/{user_id}/{portfolio_id}/{analysis_id}/prices.csv.gz     (dates down, tickers across, full precision)

The analysis worker writes it; deleting a portfolio (the portfolios function) removes its folder, deleting an account
(labfolio_common.auth.deletion) removes `analyses/{user_id}/`. The rows (analyses) go with the portfolio's and the
account's foreign keys.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any, Final

from labfolio_common.errors import DependencyUnavailableError

ANALYSES_PREFIX: Final = "analyses/"
PRICES_FILE: Final = "prices.csv.gz"
_DELETE_BATCH: Final = 1000  # S3 DeleteObjects' limit


def user_prefix(user_id: uuid.UUID) -> str:
    return f"{ANALYSES_PREFIX}{user_id}/"


def portfolio_prefix(user_id: uuid.UUID, portfolio_id: uuid.UUID) -> str:
    return f"{user_prefix(user_id)}{portfolio_id}/"


def prices_key(user_id: uuid.UUID, portfolio_id: uuid.UUID, analysis_id: uuid.UUID) -> str:
    return f"{portfolio_prefix(user_id, portfolio_id)}{analysis_id}/{PRICES_FILE}"


def delete_folder(s3: Any, bucket: str, prefix: str) -> int:
    """Delete every object under `prefix` (a folder inside analyses/); return how many were deleted."""
    if not prefix.startswith(ANALYSES_PREFIX) or not prefix.endswith("/") or prefix == ANALYSES_PREFIX:
        raise ValueError(f"refusing to delete outside a folder of {ANALYSES_PREFIX}: {prefix!r}")
    deleted = 0
    for batch in _batches(_keys(s3, bucket, prefix)):
        answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True})
        if answer.get("Errors"):
            raise DependencyUnavailableError(f"could not delete {len(answer['Errors'])} stored analysis file(s)")
        deleted += len(batch)
    return deleted


def _keys(s3: Any, bucket: str, prefix: str) -> Iterator[str]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key = str(item["Key"])
            if key.startswith(prefix):
                yield key


def _batches(keys: Iterator[str]) -> Iterator[list[str]]:
    batch: list[str] = []
    for key in keys:
        batch.append(key)
        if len(batch) == _DELETE_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch
