"""Faults on the analysis queue (issue 9): an S3 object deleted between its event and its processing, an event for a
bucket or key the stack does not own, a body that is not JSON, a message of SQS's maximum size (256 KiB). Each goes
through the template's real queue on the moto server to the worker's entry point, and each is handled (acknowledged,
or left for the retry and the dead-letter queue) with a log line and a metric: both are read from what Powertools
writes (JSON lines on stdout)."""

from __future__ import annotations

import contextlib
import io
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

import pytest
from labfolio_common.db.engine import session_scope
from labfolio_common.db.models import Holding, Portfolio, Upload
from sqlalchemy import func, select

from local.aws_resources import LocalResources
from tests.fixtures.pipeline import key_of, make_portfolio, notifications

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]

GOOD = b"ticker,quantity\nAAPL,10\nMSFT,5\n"
SQS_MAX_BYTES = 262_144

Output = Callable[[], list[dict[str, Any]]]


_STDOUT = io.StringIO()  # what the worker writes to stdout during a test (see `output`)


@pytest.fixture
def output() -> Iterator[Output]:
    """What the worker writes to stdout: Powertools' log records and metric blobs (EMF), one JSON object per line.
    Reading returns what was written since the last read."""
    from labfolio_common.observability import logger

    handler = logger.registered_handler
    previous = handler.setStream(_STDOUT)  # the Logger's handler keeps the stdout it saw when it was created

    def read() -> list[dict[str, Any]]:
        text = _STDOUT.getvalue()
        _STDOUT.seek(0)
        _STDOUT.truncate()
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]

    read()
    yield read
    handler.setStream(previous)


def logs(lines: list[dict[str, Any]], message: str) -> list[dict[str, Any]]:
    return [line for line in lines if line.get("message") == message]


def metric(lines: list[dict[str, Any]], name: str) -> float:
    """The sum of one metric over the EMF blobs the worker flushed."""
    total = 0.0
    for line in lines:
        declared = line.get("_aws", {}).get("CloudWatchMetrics", [])
        if any(m["Name"] == name for d in declared for m in d["Metrics"]):
            value = line[name]
            total += sum(value) if isinstance(value, list) else value
    return total


def worker(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from analysis.worker import lambda_handler

    with contextlib.redirect_stdout(_STDOUT):  # Metrics print their EMF blob on the current stdout
        return lambda_handler(event, context)


def send(env: LocalResources, body: str) -> dict[str, Any]:
    """Send `body` to the template's queue (moto checks SQS's size limit) and read it back as the worker's batch."""
    env.sqs.send_message(QueueUrl=env.queue_url("AnalysisQueue"), MessageBody=body)
    return notifications(env)


def s3_event(bucket: str, key: str, etag: str = "0" * 32, size: int = 30) -> str:
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "eventName": "ObjectCreated:Post",
        "s3": {"bucket": {"name": bucket}, "object": {"key": quote_plus(key), "size": size, "eTag": etag}},
    }
    return json.dumps({"Records": [record]})


def bucket(env: LocalResources) -> str:
    return env.bucket_names()[0]


def state(database_url: str, portfolio_id: uuid.UUID) -> tuple[str, int, Any]:
    with session_scope(database_url) as session:
        found = session.get(Portfolio, portfolio_id)
        assert found is not None
        held = session.scalar(select(func.count()).where(Holding.portfolio_id == portfolio_id))
        return found.status, int(held or 0), found.errors


def upload_rows(database_url: str) -> list[tuple[str, str]]:
    with session_scope(database_url) as session:
        return [(u.object_key, u.status) for u in session.scalars(select(Upload)).all()]


# ----------------------------------------------------------------------------------------------- the object


def test_an_object_deleted_before_it_is_read_is_acknowledged_and_settles_its_portfolio(
    lambda_env: LocalResources, database_url: str, lambda_context: Any, output: Output
) -> None:
    # given a first upload whose object is deleted after S3 sent its event (the user deleted it, or a lifecycle rule)
    user_id, portfolio_id = make_portfolio(database_url)
    key = key_of(user_id, portfolio_id)
    lambda_env.s3.put_object(Bucket=bucket(lambda_env), Key=key, Body=GOOD)
    event = notifications(lambda_env)
    lambda_env.s3.delete_object(Bucket=bucket(lambda_env), Key=key)
    output()
    # when the worker gets the event
    assert worker(event, lambda_context) == {"batchItemFailures": []}
    # then it is acknowledged; the upload is ignored and the portfolio does not stay `processing` (failed, saying why)
    assert upload_rows(database_url) == [(key, "ignored")]
    status, held, errors = state(database_url, portfolio_id)
    assert (status, held) == ("failed", 0)
    assert "deleted before it could be read" in errors[0]["message"]
    lines = output()
    [logged] = logs(lines, "uploaded object no longer as the event saw it")
    assert (logged["key"], logged["outcome"], logged["level"]) == (key, "ignored", "WARNING")
    assert metric(lines, "UploadObjectMissing") == 1


def test_a_deleted_reupload_leaves_the_ready_portfolio_and_its_holdings(
    lambda_env: LocalResources, database_url: str, lambda_context: Any, output: Output
) -> None:
    user_id, portfolio_id = make_portfolio(database_url)
    lambda_env.s3.put_object(Bucket=bucket(lambda_env), Key=key_of(user_id, portfolio_id), Body=GOOD)
    assert worker(notifications(lambda_env), lambda_context) == {"batchItemFailures": []}
    # given a re-upload deleted between its event and its processing
    key = key_of(user_id, portfolio_id)
    lambda_env.s3.put_object(Bucket=bucket(lambda_env), Key=key, Body=b"ticker,quantity\nKO,1\n")
    event = notifications(lambda_env)
    lambda_env.s3.delete_object(Bucket=bucket(lambda_env), Key=key)
    output()
    assert worker(event, lambda_context) == {"batchItemFailures": []}
    assert state(database_url, portfolio_id)[:2] == ("ready", 2)
    assert metric(output(), "UploadObjectMissing") == 1


# ----------------------------------------------------------------------------------------------- not ours


def test_an_event_for_a_bucket_the_stack_does_not_own_is_never_read(
    lambda_env: LocalResources, database_url: str, lambda_context: Any, output: Output
) -> None:
    # given another bucket (reachable with the worker's credentials) holding a file at a key naming Alice's portfolio
    alice, portfolio_id = make_portfolio(database_url)
    key = key_of(alice, portfolio_id)
    lambda_env.s3.create_bucket(Bucket="someone-elses-bucket")
    theirs = b"ticker,quantity\nKO,1000000\n"
    put = lambda_env.s3.put_object(Bucket="someone-elses-bucket", Key=key, Body=theirs)
    event = send(lambda_env, s3_event("someone-elses-bucket", key, put["ETag"].strip('"'), len(theirs)))
    output()
    # when its event reaches the stack's queue
    assert worker(event, lambda_context) == {"batchItemFailures": []}
    # then nothing of it reaches Alice's portfolio, nothing is recorded, the object is left alone
    assert state(database_url, portfolio_id) == ("awaiting_upload", 0, None)
    assert upload_rows(database_url) == []
    assert lambda_env.s3.get_object(Bucket="someone-elses-bucket", Key=key)["ContentLength"] == len(theirs)
    lines = output()
    [logged] = logs(lines, "object of a bucket this stack does not own: ignored")
    assert (logged["bucket"], logged["key"]) == ("someone-elses-bucket", key)
    assert metric(lines, "MessageIgnored") == len(event["Records"])  # moto's s3:TestEvent is ignored too


def test_a_key_that_names_no_portfolio_of_its_owner_is_ignored_with_a_metric(
    lambda_env: LocalResources, database_url: str, lambda_context: Any, output: Output
) -> None:
    _, portfolio_id = make_portfolio(database_url)
    mallory, _ = make_portfolio(database_url)
    key = key_of(mallory, portfolio_id)  # somebody else's portfolio under Mallory's id
    lambda_env.s3.put_object(Bucket=bucket(lambda_env), Key=key, Body=GOOD)
    event = notifications(lambda_env)
    output()
    assert worker(event, lambda_context) == {"batchItemFailures": []}
    assert upload_rows(database_url) == [(key, "ignored")]
    assert state(database_url, portfolio_id) == ("awaiting_upload", 0, None)
    lines = output()
    assert logs(lines, "upload names no portfolio of its owner: ignored")[0]["key"] == key
    assert metric(lines, "UploadIgnored") == 1


# ----------------------------------------------------------------------------------------------- the message


def test_a_body_that_is_not_json_is_acknowledged_with_a_log_line_and_a_metric(
    lambda_env: LocalResources, database_url: str, lambda_context: Any, output: Output
) -> None:
    event = send(lambda_env, "this is {not json")
    [record] = [r for r in event["Records"] if r["body"] == "this is {not json"]
    output()
    assert worker(event, lambda_context) == {"batchItemFailures": []}
    lines = output()
    ignored = [line for line in logs(lines, "ignored message") if line["message_id"] == record["messageId"]]
    assert [line["reason"] for line in ignored] == ["body is not JSON"]
    assert metric(lines, "MessageIgnored") == len(event["Records"])  # moto's s3:TestEvent is ignored too
    assert upload_rows(database_url) == []


@pytest.mark.parametrize("shape", ["junk", "event with a huge key", "event with many records"])
def test_a_message_of_the_maximum_sqs_size_is_handled(
    shape: str, lambda_env: LocalResources, database_url: str, lambda_context: Any, output: Output
) -> None:
    # given a message of exactly 256 KiB (SQS's limit: moto refuses one byte more)
    user_id, portfolio_id = make_portfolio(database_url)
    if shape == "junk":
        body = "x" * SQS_MAX_BYTES
    elif shape == "event with a huge key":  # not something S3 writes: keys are at most 1,024 bytes
        key = f"uploads/{user_id}/{portfolio_id}/"
        body = s3_event(bucket(lambda_env), key)
        body = s3_event(bucket(lambda_env), key + "a" * (SQS_MAX_BYTES - len(body)))
    else:  # ten ObjectCreated records of one real upload, padded to the limit with fields the worker does not read
        key = key_of(user_id, portfolio_id)
        etag = lambda_env.s3.put_object(Bucket=bucket(lambda_env), Key=key, Body=GOOD)["ETag"].strip('"')
        notifications(lambda_env)
        records = json.loads(s3_event(bucket(lambda_env), key, etag, len(GOOD)))["Records"] * 10
        body = json.dumps({"Records": records, "padding": ""})
        body = json.dumps({"Records": records, "padding": "p" * (SQS_MAX_BYTES - len(body))})
    assert len(body.encode()) == SQS_MAX_BYTES
    event = send(lambda_env, body)
    [record_id] = [r["messageId"] for r in event["Records"] if len(r["body"]) == SQS_MAX_BYTES]
    output()
    # when the worker gets it
    assert worker(event, lambda_context) == {"batchItemFailures": []}
    lines = output()
    # then it is acknowledged, with a log line and a metric; only a real object was ever ingested, once
    if shape == "event with many records":
        assert upload_rows(database_url) == [(key, "ready")]
        assert state(database_url, portfolio_id)[:2] == ("ready", 2)
        assert len(logs(lines, "portfolio holdings stored")) == 1
        assert len(logs(lines, "upload already processed: duplicate event acknowledged")) == len(records) - 1
        assert metric(lines, "PortfolioUploaded") == 1
        assert metric(lines, "UploadReceived") == len(records)
    else:
        ignored = [line for line in logs(lines, "ignored message") if line["message_id"] == record_id]
        assert len(ignored) == 1
        assert metric(lines, "MessageIgnored") == len(event["Records"])
        assert upload_rows(database_url) == []
        assert state(database_url, portfolio_id) == ("awaiting_upload", 0, None)
