"""labfolio_common.storage.delete_folder: a folder goes for good (every version and delete marker), nothing outside
it is touched, and a prefix that would widen the deletion is refused."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest
from labfolio_common import storage
from labfolio_common.errors import DependencyUnavailableError

from tests.fixtures.aws import MotoServer, put_objects

pytestmark = pytest.mark.functional


@pytest.fixture
def bucket(aws: MotoServer) -> tuple[Any, str]:
    s3 = boto3.client("s3", region_name="us-east-1")
    name = f"storage-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return s3, name


def _versions(s3: Any, bucket: str, prefix: str = "") -> list[tuple[str, str]]:
    page = s3.list_object_versions(Bucket=bucket, Prefix=prefix)
    items = [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
    return sorted((item["Key"], item["VersionId"]) for item in items)


def test_a_versioned_folder_leaves_no_version_or_marker(bucket: tuple[Any, str]) -> None:
    s3, name = bucket
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    for body in (b"one", b"two", b"three"):
        s3.put_object(Bucket=name, Key="uploads/u1/p/a.csv", Body=body)
    s3.put_object(Bucket=name, Key="uploads/u1/p/b.csv", Body=b"x")
    s3.delete_object(Bucket=name, Key="uploads/u1/p/b.csv")  # a delete marker over an older version
    s3.put_object(Bucket=name, Key="uploads/u2/p/a.csv", Body=b"other user")
    assert len(_versions(s3, name, "uploads/u1/")) == 5  # 3 of a.csv, b.csv and its marker

    assert storage.delete_folder(s3, name, "uploads/u1/", root="uploads/") == 2
    assert _versions(s3, name, "uploads/u1/") == []
    assert [key for key, _ in _versions(s3, name)] == ["uploads/u2/p/a.csv"]


def test_an_unversioned_folder_pages_past_one_batch(bucket: tuple[Any, str]) -> None:
    s3, name = bucket
    put_objects(s3, name, [f"analyses/u1/{number:05d}" for number in range(storage.DELETE_BATCH + 5)])
    s3.put_object(Bucket=name, Key="analyses/u10/keep", Body=b"x")  # shares the characters, not the folder
    assert storage.delete_folder(s3, name, "analyses/u1/", root="analyses/") == storage.DELETE_BATCH + 5
    assert [key for key, _ in _versions(s3, name)] == ["analyses/u10/keep"]


@pytest.mark.parametrize(
    "prefix", ["uploads/", "uploads", "analyses/u1/", "uploads/u1", "", "uploads/../"[:8]], ids=repr
)
def test_a_prefix_that_is_not_a_folder_inside_the_root_is_refused(bucket: tuple[Any, str], prefix: str) -> None:
    s3, name = bucket
    s3.put_object(Bucket=name, Key="uploads/u1/a.csv", Body=b"x")
    with pytest.raises(ValueError, match="refusing to delete"):
        storage.delete_folder(s3, name, prefix, root="uploads/")
    assert [key for key, _ in _versions(s3, name)] == ["uploads/u1/a.csv"]


def test_s3_refusing_a_delete_is_an_error_naming_what(bucket: tuple[Any, str]) -> None:
    s3, name = bucket
    s3.put_object(Bucket=name, Key="uploads/u1/a.csv", Body=b"x")

    class Refusing:
        def get_paginator(self, operation: str) -> Any:
            return s3.get_paginator(operation)

        def delete_objects(self, **kwargs: Any) -> dict[str, Any]:
            return {"Errors": [{"Key": "uploads/u1/a.csv", "Code": "AccessDenied"}]}

    with pytest.raises(DependencyUnavailableError, match="1 uploaded object"):
        storage.delete_folder(Refusing(), name, "uploads/u1/", root="uploads/", what="uploaded object")
