"""Pure rules of portfolio ingestion: what an uploaded file becomes (holdings, warnings or errors), and what the
portfolio's status is afterwards. No AWS, database or web imports: the worker's use case applies these.

Problems are dicts {"row", "column", "message"} as the CSV parser reports them; `row` is None for problems that
belong to no row (the file as a whole was too large, or could not be processed at all).
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from labfolio_common.portfolio_csv import MAX_BYTES, ParsedPortfolio

Problem = dict[str, Any]
PortfolioStatus = Literal["awaiting_upload", "processing", "ready", "failed"]
# Upload statuses after which a redelivered event changes nothing (see labfolio_common.db.models.UPLOAD_STATUSES).
FINAL_UPLOAD_STATUSES = frozenset({"ready", "failed", "ignored", "superseded"})


def problem(row: int | None, column: str, message: str) -> Problem:
    return {"row": row, "column": column, "message": message}


def too_large(size: int, limit: int = MAX_BYTES) -> list[Problem] | None:
    """The problem of a file over the size cap (checked on the object itself: a client's claims are not trusted)."""
    if size <= limit:
        return None
    return [problem(None, "*", f"the file is {size:,} bytes; the limit is {limit:,}")]


def not_processed(reason: str) -> list[Problem]:
    """What the user is told when retries ran out (the sweep's verdict)."""
    return [problem(None, "*", f"the file could not be processed after repeated attempts ({reason}); upload it again")]


@dataclass(frozen=True)
class Verdict:
    """What a parsed file becomes: holdings (rows for the holdings table) and warnings, or errors."""

    holdings: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    kind: Literal["quantity", "weight"] = "quantity"

    @property
    def valid(self) -> bool:
        return not self.errors


def judge(parsed: ParsedPortfolio, priced: Set[str], reasons: Mapping[str, str]) -> Verdict:
    """Holdings without price data are a warning each when others have some, and errors when none has any."""
    missing = [h for h in parsed.holdings if h.ticker not in priced]
    notes = [
        problem(h.rows[0], "ticker", f"{h.ticker}: no price data ({reasons.get(h.ticker, 'unknown to the source')})")
        for h in missing
    ]
    if parsed.holdings and len(missing) == len(parsed.holdings):
        return Verdict(errors=[*notes, problem(None, "ticker", "none of the tickers has price data")])
    rows = [
        {"ticker": h.ticker, "position": i, "quantity": h.quantity, "weight": h.weight, "price": h.price}
        for i, h in enumerate(parsed.holdings)
    ]
    return Verdict(holdings=rows, warnings=[*parsed.warnings, *notes], kind=parsed.kind)


def status_while_processing(current: str) -> PortfolioStatus | None:
    """A portfolio without holdings shows `processing` while a file is ingested; a ready one stays ready."""
    return "processing" if current in ("awaiting_upload", "failed", "processing") else None


def status_after_failure(holdings_count: int) -> PortfolioStatus:
    """An invalid file leaves previous holdings (and `ready`) untouched; without holdings the portfolio failed."""
    return "ready" if holdings_count > 0 else "failed"


def is_older(event_time: Any, holdings_uploaded_at: Any) -> bool:
    """True when the file reached S3 before the file behind the current holdings (a late, out-of-order event)."""
    return event_time is not None and holdings_uploaded_at is not None and event_time < holdings_uploaded_at


# S3's event time and the function's clock may disagree by a little: a file this late after its form expired is taken.
GRANT_GRACE = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class Grant:
    """An upload key the portfolios function issued (labfolio_common.db.models.UploadGrant)."""

    user_id: Any
    portfolio_id: Any
    expires_at: datetime
    used_etag: str | None


def grant_refusal(grant: Grant | None, user_id: Any, portfolio_id: Any, etag: str, event_time: Any) -> str | None:
    """Why an object at an issued key must not be ingested, or None: no grant (an unsigned PUT, a made-up key), a
    grant of another owner or portfolio, a second object at a key already used (a form posted again), or an object
    that arrived after its form expired."""
    if grant is None:
        return "no upload form or PUT issued this key"
    if (grant.user_id, grant.portfolio_id) != (user_id, portfolio_id):
        return "the key was issued to another portfolio"
    if grant.used_etag is not None and grant.used_etag != etag:
        return "a file was already uploaded at this key (an upload form is used once)"
    if event_time is not None and event_time > grant.expires_at + GRANT_GRACE:
        return "the upload form had expired"
    return None
