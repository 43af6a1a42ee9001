"""Parsing what arrives on the analysis queue."""

from __future__ import annotations

import json

import pytest
from analysis.domain.s3_events import NotAnS3EventError, parse_notification

from tests.fixtures.aws import load_event

pytestmark = pytest.mark.unit


def s3_body() -> dict:
    return json.loads(load_event("sqs_s3_object_created.json")["Records"][0]["body"])


def test_parse_notification_decodes_form_encoded_keys() -> None:
    [obj] = parse_notification(json.dumps(s3_body()))
    assert obj.key.endswith("/my portfolio(2).csv")
    assert (obj.size, obj.event_name) == (214, "ObjectCreated:Post")
    assert obj.event_time is not None and obj.event_time.year == 2026


def test_parse_notification_skips_other_s3_events() -> None:
    body = s3_body()
    body["Records"][0]["eventName"] = "ObjectRemoved:Delete"
    assert parse_notification(json.dumps(body)) == []


@pytest.mark.parametrize(
    "body",
    [
        json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"}),
        "nope",
        "[1]",
        json.dumps({"Records": []}),
        json.dumps({"Records": [{"eventSource": "aws:sns"}]}),
        json.dumps({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {"bucket": {}}}]}),
    ],
)
def test_parse_notification_rejects_what_is_not_an_s3_event(body: str) -> None:
    with pytest.raises(NotAnS3EventError):
        parse_notification(body)
