"""Use cases of the analysis worker."""

from __future__ import annotations

from labfolio_common.db.engine import session_scope
from labfolio_common.observability import logger
from labfolio_common.settings import get_settings

from analysis.adapters.sql_uploads import record_upload
from analysis.domain.s3_events import ObjectCreated


def receive_upload(obj: ObjectCreated) -> bool:
    """Record an object that arrived in the uploads bucket; True if it was not seen before."""
    if not obj.key.startswith("uploads/"):
        logger.warning("object outside uploads/ ignored", extra={"bucket": obj.bucket, "key": obj.key})
        return False
    with session_scope(get_settings().database_url) as session:
        new = record_upload(session, obj)
    logger.info("upload received", extra={"bucket": obj.bucket, "key": obj.key, "size": obj.size, "new": new})
    return new
