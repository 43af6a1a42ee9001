"""Deleting an account with everything it owns: its portfolios (and, through their foreign keys, holdings and
analyses), its upload rows, its sessions, and its objects under `uploads/{user_id}/` in the uploads bucket and the
prices its analyses used under `analyses/{user_id}/` (labfolio_common.analysis_store).

Order: objects first, then the rows in one transaction, then the objects once more — an upload that landed while
the rows were being deleted is swept too (and the worker drops an object whose owner no longer exists).
"""

from __future__ import annotations

import uuid
from typing import Any, Final

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from labfolio_common import analysis_store, uploads
from labfolio_common.db.engine import session_scope
from labfolio_common.db.models import Account, Portfolio, PriceTicker, Upload, UserPortfolio

UPLOADS_PREFIX: Final = "uploads/"


def user_prefix(user_id: uuid.UUID) -> str:
    return f"{UPLOADS_PREFIX}{user_id}/"


def delete_user_objects(s3: Any, bucket: str, user_id: uuid.UUID) -> int:
    """Delete every object under `uploads/{user_id}/`, `files/{user_id}/` and `analyses/{user_id}/`; return how
    many. Never touches another prefix."""
    deleted = analysis_store.delete_folder(s3, bucket, analysis_store.user_prefix(user_id))
    return deleted + uploads.delete_user_files(s3, bucket, user_id)


def delete_account_rows(db: Session, user_id: uuid.UUID) -> bool:
    """Delete the account's upload rows, its portfolios and the account (sessions, ownership rows and whatever else
    references an account or a portfolio cascade).

    Returns False when there was no such account. Runs in the caller's transaction.
    """
    db.execute(delete(Upload).where(Upload.object_key.startswith(user_prefix(user_id), autoescape=True)))
    owned = select(UserPortfolio.portfolio_id).where(UserPortfolio.user_id == user_id).scalar_subquery()
    db.execute(delete(Portfolio).where(Portfolio.portfolio_id.in_(owned)))
    # the shared price cache keeps the tickers, not who brought them in
    db.execute(update(PriceTicker).where(PriceTicker.added_by == user_id).values(added_by=None))
    found = db.execute(delete(Account).where(Account.user_id == user_id)).rowcount  # type: ignore[attr-defined]
    return bool(found)


def delete_account(database_url: str, user_id: uuid.UUID, *, s3: Any, bucket: str) -> bool:
    """Delete the account and everything it owns, in the database and in S3; False when it did not exist."""
    delete_user_objects(s3, bucket, user_id)
    with session_scope(database_url) as db:
        found = delete_account_rows(db, user_id)
    delete_user_objects(s3, bucket, user_id)
    return found
