"""The local stack keeps its S3 objects across restarts (moto keeps nothing): saved under the data folder at shutdown,
restored at the next start. One object whose key cannot be a file never costs the others."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from local.aws_resources import LocalResources
from local.model import StackModel
from local.moto import MotoServer

pytestmark = pytest.mark.functional

KEPT = ["uploads/u/p/book.csv", "analyses/u/p/a/prices.csv.gz", "uploads/u/p/my portfolio (2).csv"]
UNSAFE = ["uploads/../escape.csv", "uploads/u//double.csv", "uploads/u/./dot.csv", "/absolute.csv", "uploads/.."]


def test_a_key_that_cannot_be_a_file_is_skipped_and_every_other_object_survives_a_restart(
    stack_resources: LocalResources, aws: MotoServer, stack_model: StackModel, tmp_path: Path
) -> None:
    """The red-team round: one object under `uploads/../` made the save at Ctrl-C raise before it wrote its
    manifest; after the restart the bucket had no objects, and every portfolio's file answered 404."""
    bucket = stack_resources.bucket_names()[0]
    for key in [*UNSAFE[:2], *KEPT, *UNSAFE[2:]]:  # the bad ones first and last: neither stops the rest
        stack_resources.s3.put_object(Bucket=bucket, Key=key, Body=key.encode(), ContentType="text/csv")
    stored = {o["Key"] for o in stack_resources.s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert set(KEPT) <= stored and len(stored & set(UNSAFE)) >= 3  # moto stores what it was sent

    folder = tmp_path / "s3"
    assert stack_resources.save_objects(folder) == len(KEPT)
    assert set(json.loads((folder / f"{bucket}.manifest.json").read_text())) == set(KEPT)
    assert all(path.resolve().is_relative_to(folder.resolve()) for path in tmp_path.rglob("*"))

    aws.reset()  # a restart: moto starts empty, the stack restores what was saved
    restored = LocalResources(stack_model, aws.endpoint).create(restore_from=folder)
    objects = restored.s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert {o["Key"] for o in objects} == set(KEPT)
    assert restored.s3.get_object(Bucket=bucket, Key=KEPT[0])["Body"].read() == KEPT[0].encode()
