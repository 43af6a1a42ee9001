"""The emulated SQS event source mapping against moto's real queue semantics: partial batch failures, visibility
timeout, and the redrive to the dead-letter queue after maxReceiveCount."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from local.aws_resources import LocalResources
from local.model import load_model
from local.moto import MotoServer
from local.poller import SqsPoller, failed_ids
from local.runtime import InvocationError

pytestmark = pytest.mark.integration


@pytest.fixture
def resources(aws: MotoServer) -> LocalResources:
    return LocalResources(
        load_model({"QueueVisibilityTimeout": "1", "QueueMaxReceiveCount": "2"}), aws.endpoint
    ).create()


def poller(resources: LocalResources, invoke: Any) -> SqsPoller:
    return SqsPoller(
        resources.sqs,
        resources.queue_url("AnalysisQueue"),
        resources.physical["AnalysisQueue"]["Arn"],
        invoke,
        batch_size=10,
        wait_seconds=0,
    )


def depth(resources: LocalResources, queue: str) -> int:
    attrs = resources.sqs.get_queue_attributes(
        QueueUrl=resources.queue_url(queue),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def test_partial_failure_keeps_only_the_failed_message_then_dead_letters_it(resources: LocalResources) -> None:
    sqs, url = resources.sqs, resources.queue_url("AnalysisQueue")
    sqs.send_message(QueueUrl=url, MessageBody="good")
    sqs.send_message(QueueUrl=url, MessageBody="bad")
    seen: list[str] = []

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        seen.extend(r["body"] for r in event["Records"])
        assert all(r["eventSource"] == "aws:sqs" for r in event["Records"])
        return {
            "batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] == "bad"]
        }

    p = poller(resources, invoke)
    deadline = time.monotonic() + 20
    while depth(resources, "AnalysisDeadLetterQueue") == 0 and time.monotonic() < deadline:
        p.poll_once()
        time.sleep(0.3)
    assert seen.count("good") == 1
    assert seen.count("bad") == 2  # maxReceiveCount
    assert depth(resources, "AnalysisQueue") == 0
    dead = sqs.receive_message(QueueUrl=resources.queue_url("AnalysisDeadLetterQueue"))["Messages"]
    assert [m["Body"] for m in dead] == ["bad"]


def test_failed_invocation_retries_the_whole_batch(resources: LocalResources) -> None:
    resources.sqs.send_message(QueueUrl=resources.queue_url("AnalysisQueue"), MessageBody=json.dumps({"a": 1}))
    calls = []

    def invoke(event: dict[str, Any]) -> Any:
        calls.append(event["Records"][0]["attributes"]["ApproximateReceiveCount"])
        if len(calls) == 1:
            raise InvocationError({"errorType": "RuntimeError", "errorMessage": "boom"})
        return {"batchItemFailures": []}

    p = poller(resources, invoke)
    deadline = time.monotonic() + 10
    while len(calls) < 2 and time.monotonic() < deadline:
        p.poll_once()
        time.sleep(0.3)
    assert calls == ["1", "2"]
    assert depth(resources, "AnalysisQueue") == 0


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ({"batchItemFailures": []}, set()),
        (None, set()),
        ({"batchItemFailures": [{"itemIdentifier": "a"}]}, {"a"}),
        ({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, {"a", "b"}),
        ({"batchItemFailures": [{}]}, {"a", "b"}),
        ({"batchItemFailures": "a"}, {"a", "b"}),
    ],
)
def test_failed_ids_reads_the_response_as_lambda_does(result: Any, expected: set[str]) -> None:
    assert failed_ids(result, {"a", "b"}, report_failures=True) == expected
