"""SQS adapter of the sweep: how long the queue keeps retrying one message (its own settings, read from SQS)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any


def retry_window(sqs: Any, queue_url: str, function_timeout: timedelta) -> timedelta:
    """The longest a message can stay in the queue's retries after a receive: every remaining receive waits out the
    visibility timeout (maxReceiveCount of them at most), plus one invocation."""
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["VisibilityTimeout", "RedrivePolicy"])
    values = attributes.get("Attributes", {})
    visibility = int(values.get("VisibilityTimeout", 30))
    receives = int(json.loads(values.get("RedrivePolicy") or "{}").get("maxReceiveCount", 1))
    return timedelta(seconds=visibility * max(1, receives)) + function_timeout
