"""Lambda entry point of the analysis worker: SQS batches (S3 upload notifications) with partial batch failures.

A record that fails (e.g. the database is down) is reported in batchItemFailures and retried after the visibility
timeout, then moved to the dead-letter queue after maxReceiveCount; a message that is not an S3 event is logged and
acknowledged, never retried forever.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from labfolio_common.observability import MetricUnit, logger, metrics
from labfolio_common.settings import get_settings

from analysis import service
from analysis.domain.s3_events import NotAnS3EventError, parse_notification

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    try:
        objects = parse_notification(record.body)
    except NotAnS3EventError as exc:
        logger.warning("ignored message", extra={"message_id": record.message_id, "reason": str(exc)})
        return
    for obj in objects:
        service.receive_upload(obj)
        metrics.add_metric(name="UploadReceived", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    get_settings()
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
