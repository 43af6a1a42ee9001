"""Lambda entry point of the analysis worker.

- SQS batches with partial batch failures. A job message (`{"type": "analysis.run", "analysis_id": ...}`: a re-run
  asked for through the API, or the default analysis after an ingestion) runs that analysis (`analysis.runner`; the
  engine's numpy/pandas are imported only then); an analysis whose data or parameters cannot give a result fails
  with a message for people and is acknowledged. Any other message is an S3 upload notification: its objects are
  ingested
  (`analysis.ingestion`). A record that fails for a transient reason (database, S3, market data down) is reported in
  batchItemFailures and retried after the visibility timeout, then moved to the dead-letter queue after
  maxReceiveCount. A bad file is not transient: it fails its upload and is acknowledged. A message that is not an S3
  event (s3:TestEvent, junk) is logged and acknowledged, never retried for ever.
- The scheduled sweep (an EventBridge event): uploads whose retries ran out are abandoned and their portfolios
  settled (`analysis.sweep`), so nothing stays `processing`; analyses left queued or running fail, saying so.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from labfolio_common.observability import MetricUnit, logger, metrics
from labfolio_common.settings import get_settings

from analysis import ingestion, runner
from analysis.domain.jobs import is_job, parse_job
from analysis.domain.s3_events import NotAnS3EventError, parse_notification

processor = BatchProcessor(event_type=EventType.SQS)
LEASE_MARGIN = timedelta(seconds=5)


def _lease(context: Any) -> timedelta:
    """A claim lasts as long as this invocation can (its remaining time), so a killed worker's claim ends too."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return ingestion.DEFAULT_LEASE
    return timedelta(milliseconds=max(0, int(remaining()))) + LEASE_MARGIN


def record_handler(record: SQSRecord, lambda_context: Any = None) -> None:
    if is_job(record.body):
        run_job(record, lambda_context)
        return
    try:
        objects = parse_notification(record.body)
    except NotAnS3EventError as exc:
        logger.warning("ignored message", extra={"message_id": record.message_id, "reason": str(exc)})
        metrics.add_metric(name="MessageIgnored", unit=MetricUnit.Count, value=1)
        return
    for obj in objects:
        outcome = ingestion.ingest(obj, lease=_lease(lambda_context))
        metrics.add_metric(name="UploadReceived", unit=MetricUnit.Count, value=1)
        logger.debug("upload handled", extra={"key": obj.key, "outcome": outcome})


def run_job(record: SQSRecord, lambda_context: Any = None) -> None:
    analysis_id = parse_job(record.body)
    if analysis_id is None:
        logger.warning("malformed job message ignored", extra={"message_id": record.message_id})
        metrics.add_metric(name="MessageIgnored", unit=MetricUnit.Count, value=1)
        return
    outcome = runner.run(analysis_id, lease=_lease(lambda_context))
    logger.debug("job handled", extra={"analysis_id": str(analysis_id), "outcome": outcome})


def is_scheduled(event: dict[str, Any]) -> bool:
    return event.get("source") == "aws.events" and event.get("detail-type") == "Scheduled Event"


def run_sweep(context: Any) -> dict[str, Any]:
    from labfolio_common.aws import client

    from analysis.adapters.sqs_queue import retry_window
    from analysis.sweep import sweep, sweep_analyses

    settings = get_settings()
    window = retry_window(client("sqs"), settings.analysis_queue_url, _lease(context))
    return sweep(settings.database_url, window) | sweep_analyses(settings.database_url, window)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    get_settings()
    if is_scheduled(event):
        return run_sweep(context)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
