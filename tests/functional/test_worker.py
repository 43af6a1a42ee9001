"""The analysis worker's real entry point with the SQS batch events Lambda's event source mapping sends."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from labfolio_common.db.engine import session_scope
from labfolio_common.db.models import Upload
from sqlalchemy import select

from tests.fixtures.aws import load_event

pytestmark = pytest.mark.functional


def worker(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from analysis.worker import lambda_handler

    return lambda_handler(event, context)


def uploads(database_url: str) -> list[tuple[str, str, int, str]]:
    with session_scope(database_url) as session:
        rows = session.execute(select(Upload.bucket, Upload.object_key, Upload.size_bytes, Upload.etag)).all()
    return [tuple(r) for r in rows]


def test_worker_records_the_uploaded_object_with_its_decoded_key(
    lambda_env: Any, database_url: str, lambda_context: Any
) -> None:
    # given an S3 ObjectCreated notification for a key S3 form-encoded
    event = load_event("sqs_s3_object_created.json")
    # when
    result = worker(event, lambda_context)
    # then
    assert result == {"batchItemFailures": []}
    assert uploads(database_url) == [
        (
            "labfolio-dev-uploads-123456789012",
            "uploads/0b1e4f3c-7d2a-4e8b-9f60-1a2b3c4d5e6f/5f6e7d8c-9b0a-4c1d-8e2f-3a4b5c6d7e8f/my portfolio(2).csv",
            214,
            "9b2cf535f27731c974343645a3985328",
        )
    ]


def test_worker_records_a_redelivered_message_once(lambda_env: Any, database_url: str, lambda_context: Any) -> None:
    event = load_event("sqs_s3_object_created.json")
    worker(event, lambda_context)
    assert worker(copy.deepcopy(event), lambda_context) == {"batchItemFailures": []}
    assert len(uploads(database_url)) == 1


@pytest.mark.parametrize("body", ["sqs_s3_test_event.json", "not json at all", '{"Records": "nope"}', "[]"])
def test_worker_acknowledges_messages_that_are_not_s3_events(
    body: str, lambda_env: Any, database_url: str, lambda_context: Any
) -> None:
    event = load_event("sqs_s3_test_event.json") if body.endswith(".json") else _with_body(body)
    assert worker(event, lambda_context) == {"batchItemFailures": []}
    assert uploads(database_url) == []


def test_worker_reports_only_the_failed_record_when_the_database_is_down(
    lambda_env: Any, lambda_context: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from labfolio_common.settings import get_settings

    # given a batch of a test event (fine) and an upload notification, with the database unreachable
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/missing-dir/db.sqlite")
    get_settings.cache_clear()
    event = load_event("sqs_s3_test_event.json")
    upload = load_event("sqs_s3_object_created.json")["Records"][0]
    upload["messageId"] = "upload-message"
    event["Records"].append(upload)
    # when
    result = worker(event, lambda_context)
    # then only the upload is retried
    assert result == {"batchItemFailures": [{"itemIdentifier": "upload-message"}]}


def test_worker_ignores_objects_outside_uploads(lambda_env: Any, database_url: str, lambda_context: Any) -> None:
    event = load_event("sqs_s3_object_created.json")
    body = json.loads(event["Records"][0]["body"])
    body["Records"][0]["s3"]["object"]["key"] = "elsewhere/file.csv"
    event["Records"][0]["body"] = json.dumps(body)
    assert worker(event, lambda_context) == {"batchItemFailures": []}
    assert uploads(database_url) == []


def _with_body(body: str) -> dict[str, Any]:
    event = load_event("sqs_s3_test_event.json")
    event["Records"][0]["body"] = body
    return event
