"""The SQS event source mapping, emulated: long-poll the queue, hand the function a batch event, delete what
succeeded. Failed records (batchItemFailures, or the whole batch when the invocation fails) are left on the queue to
reappear after the visibility timeout; SQS itself moves them to the dead-letter queue after maxReceiveCount."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from local.events import sqs_event
from local.runtime import InvocationError

log = logging.getLogger("labfolio.local")


def failed_ids(result: Any, batch_ids: set[str], report_failures: bool) -> set[str]:
    """Which messages to keep, from the function's answer (as the event source mapping reads it)."""
    if not report_failures:
        return set()
    if result is None or result == {}:
        return set()
    failures = result.get("batchItemFailures") if isinstance(result, dict) else None
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return set(batch_ids)
    ids = set()
    for item in failures:
        ident = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not ident or ident not in batch_ids:
            return set(batch_ids)  # an invalid answer fails the whole batch, as on AWS
        ids.add(ident)
    return ids


class SqsPoller(threading.Thread):
    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        invoke: Callable[[dict[str, Any]], Any],
        batch_size: int = 10,
        report_failures: bool = True,
        wait_seconds: int = 1,
    ) -> None:
        super().__init__(name=f"sqs-poller:{queue_arn.rsplit(':', 1)[-1]}", daemon=True)
        self.sqs, self.queue_url, self.queue_arn = sqs, queue_url, queue_arn
        self.invoke, self.batch_size, self.report_failures = invoke, batch_size, report_failures
        self.wait_seconds = wait_seconds
        self._stopping = threading.Event()
        self.batches = 0

    def stop(self) -> None:
        self._stopping.set()

    def poll_once(self) -> int:
        """Receive one batch and process it; return how many messages were received."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(self.batch_size, 10),
            WaitTimeSeconds=self.wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        ids = {m["MessageId"] for m in messages}
        try:
            result = self.invoke(sqs_event(messages, self.queue_arn))
            keep = failed_ids(result, ids, self.report_failures)
        except InvocationError as exc:
            log.warning("worker invocation failed, %d message(s) will be retried: %s", len(messages), exc)
            keep = ids
        done = [m for m in messages if m["MessageId"] not in keep]
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
        self.batches += 1
        return len(messages)

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.poll_once()
            except Exception:
                if self._stopping.is_set():
                    return
                log.exception("SQS poller error; retrying in 1 s")
                self._stopping.wait(1.0)
