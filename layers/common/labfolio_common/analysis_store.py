"""Where an analysis keeps the prices it used: a gzip CSV in the uploads bucket, outside `uploads/` (the bucket's
notification watches only that prefix, so nothing written here reaches the queue).

    analyses/{user_id}/{portfolio_id}/{analysis_id}/prices.csv.gz     (dates down, tickers across, full precision)

The analysis worker writes it; deleting a portfolio (the portfolios function) removes its folder, deleting an account
(labfolio_common.auth.deletion) removes `analyses/{user_id}/`. The rows (analyses) go with the portfolio's and the
account's foreign keys.
"""

from __future__ import annotations

import uuid
from typing import Any, Final

from labfolio_common import storage

ANALYSES_PREFIX: Final = "analyses/"
PRICES_FILE: Final = "prices.csv.gz"


def user_prefix(user_id: uuid.UUID) -> str:
    return f"{ANALYSES_PREFIX}{user_id}/"


def portfolio_prefix(user_id: uuid.UUID, portfolio_id: uuid.UUID) -> str:
    return f"{user_prefix(user_id)}{portfolio_id}/"


def prices_key(user_id: uuid.UUID, portfolio_id: uuid.UUID, analysis_id: uuid.UUID) -> str:
    return f"{portfolio_prefix(user_id, portfolio_id)}{analysis_id}/{PRICES_FILE}"


def delete_folder(s3: Any, bucket: str, prefix: str) -> int:
    """Delete every object under `prefix` (a folder inside analyses/); return how many were deleted."""
    return storage.delete_folder(s3, bucket, prefix, root=ANALYSES_PREFIX, what="stored analysis file")
