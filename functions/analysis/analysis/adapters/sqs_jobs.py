"""SQS adapter of analysis jobs: put a job message on the analysis queue (the queue S3 upload events arrive on)."""

from __future__ import annotations

import uuid
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from labfolio_common.errors import DependencyUnavailableError

from analysis.domain.jobs import job_body


class QueueUnavailableError(DependencyUnavailableError):
    """The job message could not be sent."""


def send_job(sqs: Any, queue_url: str, analysis_id: uuid.UUID) -> str:
    """Queue the analysis for the worker; the message id."""
    try:
        answer = sqs.send_message(QueueUrl=queue_url, MessageBody=job_body(analysis_id))
    except (BotoCoreError, ClientError) as exc:
        raise QueueUnavailableError(f"the analysis queue did not take the job ({type(exc).__name__})") from exc
    return str(answer.get("MessageId", ""))
