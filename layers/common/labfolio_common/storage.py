"""Deleting a folder of the uploads bucket for good: every object under a prefix, and every version of it.

Versioning is off on the uploads bucket (template.yaml), but should anyone turn it on, a plain DeleteObjects would
only add delete markers and the user's data would live on as noncurrent versions. So deletion lists versions
(ListObjectVersions — on a bucket without versioning each object has the one version "null") and deletes each
version and delete marker by id. One helper for the three callers: a portfolio's uploads (labfolio_common.uploads),
the prices its analyses used (labfolio_common.analysis_store) and a whole account (labfolio_common.auth.deletion).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from labfolio_common.errors import DependencyUnavailableError

DELETE_BATCH: Final = 1000  # S3 DeleteObjects' limit


def delete_folder(s3: Any, bucket: str, prefix: str, *, root: str, what: str = "stored object") -> int:
    """Delete every object version under `prefix` — a folder strictly inside `root` (e.g. "uploads/") — and return
    how many objects (distinct keys) were deleted.

    Refuses a prefix outside `root`, the root itself and anything that is not a folder (no trailing "/"): a wrong
    argument must never widen a deletion. Raises DependencyUnavailableError naming `what` when S3 refuses any of it.
    """
    if not root.endswith("/") or not prefix.startswith(root) or not prefix.endswith("/") or prefix == root:
        raise ValueError(f"refusing to delete outside a folder of {root}: {prefix!r}")
    keys: set[str] = set()
    # listed in full before the first delete: paging on past keys that are already gone is not something every S3
    # (moto) answers the same way
    for batch in _batches(iter(list(_versions(s3, bucket, prefix)))):
        objects = [{"Key": key, "VersionId": version} for key, version in batch]
        answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
        if answer.get("Errors"):
            raise DependencyUnavailableError(f"could not delete {len(answer['Errors'])} {what}(s)")
        keys.update(key for key, _ in batch)
    return len(keys)


def _versions(s3: Any, bucket: str, prefix: str) -> Iterator[tuple[str, str]]:
    """(key, version id) of every object version and delete marker under `prefix`."""
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            key = str(item["Key"])
            if key.startswith(prefix):
                yield key, str(item.get("VersionId") or "null")


def _batches(items: Iterator[tuple[str, str]]) -> Iterator[list[tuple[str, str]]]:
    batch: list[tuple[str, str]] = []
    for item in items:
        batch.append(item)
        if len(batch) == DELETE_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch
