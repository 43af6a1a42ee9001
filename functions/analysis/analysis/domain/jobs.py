"""The job message that asks the worker to run an analysis (DESIGN.md §1: re-runs go through the same queue as the
S3 upload events). It names only the analysis: its parameters and owner are in its row, so a message carries no
authority of its own (a message naming an unknown analysis is acknowledged and dropped).

    {"type": "analysis.run", "analysis_id": "<uuid>"}
"""

from __future__ import annotations

import json
import uuid
from typing import Final

JOB_TYPE: Final = "analysis.run"


def job_body(analysis_id: uuid.UUID) -> str:
    return json.dumps({"type": JOB_TYPE, "analysis_id": str(analysis_id)}, separators=(",", ":"))


def parse_job(body: str) -> uuid.UUID | None:
    """The analysis a job message names; None when the body is not a job message (an S3 event, junk)."""
    try:
        message = json.loads(body)
    except (TypeError, ValueError, RecursionError):
        return None
    if not isinstance(message, dict) or message.get("type") != JOB_TYPE:
        return None
    try:
        return uuid.UUID(str(message.get("analysis_id")))
    except ValueError:
        return None


def is_job(body: str) -> bool:
    """Whether the body claims to be a job message (even a malformed one: it is then acknowledged, not parsed as an
    S3 event)."""
    try:
        message = json.loads(body)
    except (TypeError, ValueError, RecursionError):
        return False
    return isinstance(message, dict) and message.get("type") == JOB_TYPE
