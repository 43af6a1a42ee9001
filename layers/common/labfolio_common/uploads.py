"""Where portfolio files live in the uploads bucket, shared by the portfolios function (which signs and writes them)
and the analysis worker (which derives the owner and the portfolio from the key, then checks both in the database).

    uploads/{user_id}/{portfolio_id}/{upload_id}.csv        (three lower-case uuid4s)

The key is the only link between an object and its owner: nothing else about an object is trusted.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any, Final

from labfolio_common import storage

UPLOADS_PREFIX: Final = "uploads/"
CSV_CONTENT_TYPE: Final = "text/csv"
_UUID: Final = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_KEY: Final = re.compile(rf"uploads/({_UUID})/({_UUID})/({_UUID})\.csv")


@dataclass(frozen=True, slots=True)
class UploadKey:
    user_id: uuid.UUID
    portfolio_id: uuid.UUID
    upload_id: uuid.UUID

    def __str__(self) -> str:
        return f"{portfolio_prefix(self.user_id, self.portfolio_id)}{self.upload_id}.csv"


def new_upload_key(user_id: uuid.UUID, portfolio_id: uuid.UUID) -> UploadKey:
    """A fresh key for one upload of `portfolio_id` (every upload gets its own object)."""
    return UploadKey(user_id, portfolio_id, uuid.uuid4())


def portfolio_prefix(user_id: uuid.UUID, portfolio_id: uuid.UUID) -> str:
    return f"{UPLOADS_PREFIX}{user_id}/{portfolio_id}/"


def parse_upload_key(key: str) -> UploadKey | None:
    """The owner, portfolio and upload a key names, or None when it is not exactly of the form above."""
    match = _KEY.fullmatch(key)
    if match is None:
        return None
    user, portfolio, upload = (uuid.UUID(part) for part in match.groups())
    return UploadKey(user, portfolio, upload)


def delete_prefix(s3: Any, bucket: str, prefix: str) -> int:
    """Delete every object under `prefix` (which must lie inside uploads/); return how many were deleted."""
    return storage.delete_folder(s3, bucket, prefix, root=UPLOADS_PREFIX, what="uploaded object")
