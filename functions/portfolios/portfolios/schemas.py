"""Request and response bodies of the portfolios routes (`XRequest` in, `XPublic` out)."""

from __future__ import annotations

import unicodedata
import uuid
from datetime import date, datetime
from typing import Any, Literal

from labfolio_common.db.models import Portfolio, Upload
from pydantic import BaseModel, ConfigDict, Field, field_validator

PortfolioStatus = Literal["awaiting_upload", "processing", "ready", "failed"]
UploadStatus = Literal["processing", "ready", "failed"]
_UPLOAD_STATUS: dict[str, UploadStatus] = {
    "received": "processing",
    "processing": "processing",
    "ready": "ready",
    "failed": "failed",
    "abandoned": "failed",
}


class PortfolioNameRequest(BaseModel):
    """`POST /api/portfolios` and `PATCH /api/portfolios/{id}`."""

    model_config = ConfigDict(extra="forbid")

    portfolio_name: str = Field(min_length=1, max_length=255, examples=["Retirement account"])

    @field_validator("portfolio_name")
    @classmethod
    def _name(cls, value: str) -> str:
        return display_name(value)


# Joiners stay: Persian and Indic words need U+200C, emoji sequences U+200D. Every other format character (bidi
# overrides and isolates, zero-width spaces, the BOM, ...) can make a name show something else than it is.
_JOINERS = frozenset("\u200c\u200d")
_REFUSED = {"Cc": "control", "Cs": "surrogate", "Co": "private-use", "Cn": "unassigned", "Zl": "line-break"}
_REFUSED |= {"Zp": "line-break", "Cf": "invisible formatting"}


def display_name(value: str) -> str:
    """A name as people will see it, stripped: no control, invisible formatting (bidi overrides, zero-width spaces,
    a BOM), line-break, private-use or unassigned characters, and at least one visible character."""
    value = value.strip()
    for char in value:
        kind = _REFUSED.get(unicodedata.category(char))
        if kind is not None and char not in _JOINERS:
            raise ValueError(f"must not contain {kind} characters (U+{ord(char):04X})")
    if not any(not char.isspace() and char not in _JOINERS for char in value):
        raise ValueError("must not be blank")
    return value


class Problem(BaseModel):
    """One problem of a file: its row as a spreadsheet numbers it (the header is row 1; null: the file as a whole)
    and its column ("*": the whole row or file)."""

    row: int | None
    column: str
    message: str


class LastUpload(BaseModel):
    """The most recent upload of the portfolio and what became of it (a failed re-upload leaves the holdings)."""

    status: UploadStatus
    errors: list[Problem]
    warnings: list[Problem]
    at: datetime = Field(description="when the file reached the bucket (ISO 8601, UTC)")
    finished_at: datetime | None

    @classmethod
    def of(cls, upload: Upload) -> LastUpload:
        return cls(
            status=_UPLOAD_STATUS.get(upload.status, "processing"),
            errors=_problems(upload.errors),
            warnings=_problems(upload.warnings),
            at=upload.event_time or upload.received_at,
            finished_at=upload.finished_at,
        )


class PortfolioPublic(BaseModel):
    portfolio_id: uuid.UUID
    portfolio_name: str
    status: PortfolioStatus
    kind: Literal["quantity", "weight"] | None = Field(description="how the holdings are given, once there are any")
    errors: list[Problem] = Field(description="why the portfolio failed (row-level), when it did")
    warnings: list[Problem] = Field(description="notes on the current holdings (merged duplicates, unpriced tickers)")
    holdings_count: int
    latest_analysis_id: uuid.UUID | None = Field(
        default=None, description="the newest analysis of the portfolio (any status), once there is one"
    )
    created_at: datetime | None
    updated_at: datetime | None
    status_changed_at: datetime | None
    holdings_updated_at: datetime | None
    last_upload: LastUpload | None

    @classmethod
    def of(
        cls, portfolio: Portfolio, last: Upload | None, latest_analysis_id: uuid.UUID | None = None
    ) -> PortfolioPublic:
        return cls(
            portfolio_id=portfolio.portfolio_id,
            portfolio_name=portfolio.portfolio_name,
            status=portfolio.status,  # type: ignore[arg-type]  # a CHECK constraint keeps it one of these
            kind=portfolio.kind,  # type: ignore[arg-type]
            errors=_problems(portfolio.errors),
            warnings=_problems(portfolio.warnings),
            holdings_count=portfolio.holdings_count,
            latest_analysis_id=latest_analysis_id,
            created_at=portfolio.created_at,
            updated_at=portfolio.updated_at,
            status_changed_at=portfolio.status_changed_at,
            holdings_updated_at=portfolio.holdings_updated_at,
            last_upload=LastUpload.of(last) if last is not None else None,
        )


class UploadForm(BaseModel):
    """A presigned POST: send `fields` and then the file (form field `file`) as multipart/form-data to `url`."""

    url: str
    fields: dict[str, str]
    expires_in: int = Field(description="seconds the form stays valid")
    max_bytes: int
    content_type: Literal["text/csv"] = "text/csv"


class PortfolioCreated(PortfolioPublic):
    upload: UploadForm


class PortfolioPage(BaseModel):
    items: list[PortfolioPublic]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


class HoldingPublic(BaseModel):
    ticker: str
    quantity: float | None = Field(description="shares (negative: short); null in a weight portfolio")
    last_price: float | None = Field(description="the last cached adjusted close (else the file's own price)")
    market_value: float | None = Field(description="quantity x last price")
    weight: float | None = Field(description="market value / gross exposure (Σ|w| = 1), or the file's weight")
    price_date: date | None = Field(description="the date of last_price (null when it came from the file)")


def _problems(value: Any) -> list[Problem]:
    return [
        Problem(row=p.get("row"), column=str(p.get("column", "*")), message=str(p.get("message", "")))
        for p in value or []
    ]
