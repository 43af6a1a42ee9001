"""Use cases of the portfolios function. Every one acts on a portfolio the caller owns (the route's dependency found
it) or on the caller's own list; files go to S3 and the worker turns them into holdings (analysis.ingestion)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from typing import Any, Final

from labfolio_common import analysis_store
from labfolio_common.db.models import Portfolio, utcnow
from labfolio_common.db.queries import new_portfolio
from labfolio_common.errors import ValidationFailedError
from labfolio_common.observability import MetricUnit, logger, metrics
from labfolio_common.portfolio_csv import MAX_BYTES
from labfolio_common.settings import Settings
from labfolio_common.uploads import delete_portfolio_files, new_upload_key
from sqlalchemy.orm import Session

from portfolios.adapters import s3_uploads, sql_portfolios
from portfolios.domain.errors import FileNotStoredError, UploadTooLargeError
from portfolios.domain.pages import Cursor, decode_cursor, encode_cursor
from portfolios.domain.valuation import Position, ValuedHolding, value_holdings
from portfolios.schemas import PortfolioPage, PortfolioPublic, UploadForm

UPLOAD_FORM_TTL_S: Final = 600
# A portfolio keeps at most this many upload grants (issued keys the worker will take a file at); issuing one more drops
# the oldest, whose form then stores a file nobody ingests.
MAX_LIVE_GRANTS: Final = 20


@dataclass(frozen=True)
class StoredFile:
    filename: str
    body: bytes


class PortfolioService:
    def __init__(self, db: Session, settings: Settings, s3: Callable[[], Any]) -> None:
        """`s3` makes the S3 client when a use case first needs one (uploads, downloads, deletion): listing and
        reading portfolios never import boto3, which keeps it out of the function's cold start."""
        self.db = db
        self.settings = settings
        self._s3 = s3

    @cached_property
    def s3(self) -> Any:
        return self._s3()

    # ------------------------------------------------------------------ portfolios
    def create(self, user_id: uuid.UUID, name: str) -> tuple[PortfolioPublic, UploadForm]:
        portfolio = new_portfolio(self.db, user_id, name, utcnow())
        self.db.commit()
        logger.info("portfolio created", extra={"portfolio_id": str(portfolio.portfolio_id)})
        metrics.add_metric(name="PortfolioCreated", unit=MetricUnit.Count, value=1)
        return PortfolioPublic.of(portfolio, None), self.upload_form(user_id, portfolio)

    def list_page(self, user_id: uuid.UUID, limit: int, cursor: str | None) -> PortfolioPage:
        after = decode_cursor(cursor) if cursor else None
        rows = sql_portfolios.page(self.db, user_id, limit + 1, after)
        more, rows = len(rows) > limit, rows[:limit]
        ids = [p.portfolio_id for p in rows]
        last, latest = sql_portfolios.latest_uploads(self.db, ids), sql_portfolios.latest_analyses(self.db, ids)
        items = [PortfolioPublic.of(p, last.get(p.portfolio_id), latest.get(p.portfolio_id)) for p in rows]
        next_cursor = None
        if more and rows[-1].created_at is not None:
            next_cursor = encode_cursor(Cursor(rows[-1].created_at, rows[-1].portfolio_id))
        return PortfolioPage(items=items, next_cursor=next_cursor)

    def describe(self, portfolio: Portfolio) -> PortfolioPublic:
        last = sql_portfolios.latest_uploads(self.db, [portfolio.portfolio_id]).get(portfolio.portfolio_id)
        latest = sql_portfolios.latest_analyses(self.db, [portfolio.portfolio_id]).get(portfolio.portfolio_id)
        return PortfolioPublic.of(portfolio, last, latest)

    def rename(self, portfolio: Portfolio, name: str) -> PortfolioPublic:
        portfolio.portfolio_name = name
        portfolio.updated_at = utcnow()
        self.db.commit()
        return self.describe(portfolio)

    def delete(self, user_id: uuid.UUID, portfolio: Portfolio) -> int:
        """Delete the portfolio's objects (its files, and the prices its analyses stored), then its rows (holdings,
        uploads and analyses cascade), then any object that landed in between; return how many objects went."""
        portfolio_id = portfolio.portfolio_id
        stored = analysis_store.portfolio_prefix(user_id, portfolio_id)
        bucket = self.settings.uploads_bucket
        deleted = delete_portfolio_files(self.s3, bucket, user_id, portfolio_id)
        deleted += analysis_store.delete_folder(self.s3, bucket, stored)
        sql_portfolios.delete_portfolio(self.db, portfolio_id)
        self.db.commit()
        deleted += delete_portfolio_files(self.s3, bucket, user_id, portfolio_id)
        deleted += analysis_store.delete_folder(self.s3, bucket, stored)
        logger.info("portfolio deleted", extra={"portfolio_id": str(portfolio.portfolio_id), "objects": deleted})
        metrics.add_metric(name="PortfolioDeleted", unit=MetricUnit.Count, value=1)
        return deleted

    # ------------------------------------------------------------------ files
    def upload_form(self, user_id: uuid.UUID, portfolio: Portfolio) -> UploadForm:
        """A presigned POST for a new file of the portfolio (its own key: every upload is a new object)."""
        key = self._grant(user_id, portfolio)
        form = s3_uploads.presigned_post(self.s3, self.settings.uploads_bucket, key, MAX_BYTES, UPLOAD_FORM_TTL_S)
        return UploadForm(url=form["url"], fields=form["fields"], expires_in=UPLOAD_FORM_TTL_S, max_bytes=MAX_BYTES)

    def put_csv(self, user_id: uuid.UUID, portfolio: Portfolio, body: bytes) -> PortfolioPublic:
        """Store the file as a browser's upload would be: the bucket's event does the rest."""
        if len(body) > MAX_BYTES:
            raise UploadTooLargeError(f"the file is {len(body):,} bytes; the limit is {MAX_BYTES:,}")
        if not body.strip():
            raise ValidationFailedError([{"row": 1, "column": "*", "message": "the file is empty"}])
        key = self._grant(user_id, portfolio)
        s3_uploads.put_csv(self.s3, self.settings.uploads_bucket, key, body)
        logger.info("portfolio file stored", extra={"portfolio_id": str(portfolio.portfolio_id), "bytes": len(body)})
        self.db.refresh(portfolio)  # the event may have been handled already (moto delivers it synchronously)
        return self.describe(portfolio)

    def _grant(self, user_id: uuid.UUID, portfolio: Portfolio) -> str:
        """A new upload key of the portfolio, recorded (committed) before any file can reach it: the worker takes a
        file only at a key issued to its owner and portfolio, once, before the grant expires."""
        key = str(new_upload_key(user_id, portfolio.portfolio_id))
        ttl = timedelta(seconds=UPLOAD_FORM_TTL_S)
        sql_portfolios.grant_upload(self.db, key, user_id, portfolio.portfolio_id, utcnow(), ttl, MAX_LIVE_GRANTS)
        self.db.commit()
        return key

    def stored_file(self, portfolio: Portfolio) -> StoredFile:
        """The file behind the current holdings, as it was uploaded (a valid file carries no formula)."""
        if not portfolio.portfolio_address:
            raise FileNotStoredError()
        body = s3_uploads.read(self.s3, self.settings.uploads_bucket, portfolio.portfolio_address)
        if body is None:
            raise FileNotStoredError()
        return StoredFile(filename=_filename(portfolio.portfolio_name), body=body)

    # ------------------------------------------------------------------ holdings
    def holdings(self, portfolio: Portfolio) -> list[ValuedHolding]:
        rows = sql_portfolios.holdings(self.db, portfolio.portfolio_id)
        prices = sql_portfolios.last_prices(self.db, [h.ticker for h in rows])
        return value_holdings([Position(h.ticker, h.quantity, h.weight, h.price) for h in rows], prices)


def _filename(name: str) -> str:
    """A safe download name from the portfolio's name (letters, digits, '.', '_' and '-' only)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:80]
    return f"{stem or 'portfolio'}.csv"
