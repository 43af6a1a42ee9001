"""Where portfolio files live in the uploads bucket, shared by the portfolios function (which signs and writes them)
and the analysis worker (which derives the owner and the portfolio from the key, then checks both in the database).

    uploads/{user_id}/{portfolio_id}/{upload_id}.csv        (three lower-case uuid4s)

The key is the only link between an object and its owner: nothing else about an object is trusted, and the worker
takes an object only at a key the portfolios function issued to that owner and portfolio (an upload grant), once.
A file that becomes a portfolio's holdings is copied to

    files/{user_id}/{portfolio_id}/{upload_id}.csv

where no form or PUT can write (outside uploads/, so its copy fires no event), and its uploads/ object is deleted:
nothing uploaded later, valid or not, can change or delete the file behind the current holdings.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any, Final

from labfolio_common import storage

UPLOADS_PREFIX: Final = "uploads/"
FILES_PREFIX: Final = "files/"
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


def kept_file_key(key: UploadKey) -> str:
    """Where the file of an ingested upload is kept while it backs the portfolio's holdings."""
    return f"{FILES_PREFIX}{key.user_id}/{key.portfolio_id}/{key.upload_id}.csv"


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


def delete_portfolio_files(s3: Any, bucket: str, user_id: uuid.UUID, portfolio_id: uuid.UUID) -> int:
    """Delete a portfolio's uploaded and kept files, every version; return how many objects went."""
    kept = f"{FILES_PREFIX}{user_id}/{portfolio_id}/"
    return delete_prefix(s3, bucket, portfolio_prefix(user_id, portfolio_id)) + storage.delete_folder(
        s3, bucket, kept, root=FILES_PREFIX, what="kept file"
    )


def delete_user_files(s3: Any, bucket: str, user_id: uuid.UUID) -> int:
    """Delete every uploaded and kept file of an account, every version; return how many objects went."""
    return delete_prefix(s3, bucket, f"{UPLOADS_PREFIX}{user_id}/") + storage.delete_folder(
        s3, bucket, f"{FILES_PREFIX}{user_id}/", root=FILES_PREFIX, what="kept file"
    )
