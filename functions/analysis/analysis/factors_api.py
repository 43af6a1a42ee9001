"""The factor library API (public: no session needed - the catalogue and its ETF returns are not user data).

GET /api/factors                                  every factor with its data coverage
GET /api/factors/{factor_id}/returns?start=&end=  one factor's daily returns (at most 10 years per request)
GET /api/factors/correlations?ids=A,B&start=&end= correlation matrix of daily returns on their common dates

Factors whose returns came from the offline provider carry `demo_data: true`: they are stale sample prices.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Query
from labfolio_common.catalogue import FACTOR_ID_PATTERN
from labfolio_common.errors import NotFoundError, ValidationFailedError
from labfolio_common.market.returns import history_start
from pydantic import BaseModel, Field

from analysis.adapters import sql_factor_library as library
from analysis.deps import SessionDep
from analysis.domain.params import EARLIEST_DATE, LATEST_DATE

MAX_YEARS: Final = 10  # per request
DEFAULT_CORRELATION_YEARS: Final = 2  # as an analysis's default window
MAX_CORRELATION_FACTORS: Final = 50
MIN_COMMON_OBSERVATIONS: Final = 3

router = APIRouter(prefix="/api/factors", tags=["factors"])


class FactorPublic(BaseModel):
    factor_id: str
    factor_name: str
    factor_description: str | None
    factor_category: str | None
    entry: str = Field(description="how it enters a model by default: raw, or spread (its return minus the market's)")
    first_date: date | None
    last_date: date | None
    observations: int
    last_updated: datetime | None = Field(description="when its returns were last refreshed (UTC); null: never")
    data_source: str | None = Field(description="market-data provider of its returns: yfinance, or offline")
    demo_data: bool = Field(description="true when its returns are the offline demo data (stale sample prices)")


class DailyReturn(BaseModel):
    date: date
    return_value: float


class FactorReturnsPublic(BaseModel):
    factor_id: str
    start: date | None
    end: date | None
    demo_data: bool
    returns: list[DailyReturn]


class CorrelationsPublic(BaseModel):
    ids: list[str]
    start: date = Field(description="first common date used")
    end: date = Field(description="last common date used")
    observations: int
    demo_data: bool
    matrix: list[list[float | None]] = Field(description="row i, column j: correlation of ids[i] and ids[j]")


def _public(row: library.FactorRow) -> FactorPublic:
    return FactorPublic(
        factor_id=row.factor_id,
        factor_name=row.factor_name,
        factor_description=row.factor_description,
        factor_category=row.factor_category,
        entry=row.entry,
        first_date=row.first_date,
        last_date=row.last_date,
        observations=row.observations,
        last_updated=row.last_updated,
        data_source=row.data_source,
        demo_data=row.data_source == "offline",
    )


def known_factor(factor_id: str, db: SessionDep) -> library.FactorRow:
    """The factor named in the path, or 404 (checked before the query parameters are validated)."""
    row = library.get_factor(db, factor_id.upper()) if FACTOR_ID_PATTERN.fullmatch(factor_id.upper()) else None
    if row is None:
        raise NotFoundError(f"unknown factor {factor_id!r}")
    return row


KnownFactor = Annotated[library.FactorRow, Depends(known_factor)]
StartQuery = Annotated[
    date | None, Query(ge=EARLIEST_DATE, le=LATEST_DATE, description="first date (YYYY-MM-DD), inclusive")
]
EndQuery = Annotated[
    date | None, Query(ge=EARLIEST_DATE, le=LATEST_DATE, description="last date (YYYY-MM-DD), inclusive")
]


@router.get("", summary="The factor library", response_model=list[FactorPublic])
def list_factors(db: SessionDep) -> list[FactorPublic]:
    return [_public(row) for row in library.list_factors(db)]


NOT_FOUND = {404: {"description": "an unknown factor id"}, 422: {"description": "a bad date, window or id list"}}


@router.get(
    "/correlations",
    summary="Correlation matrix of factors' daily returns",
    response_model=CorrelationsPublic,
    responses=NOT_FOUND,
)
def get_factor_correlations(
    db: SessionDep,
    ids: Annotated[str, Query(description="comma-separated factor ids, at least two", min_length=1)],
    start: StartQuery = None,
    end: EndQuery = None,
) -> CorrelationsPublic:
    factor_ids = _parse_ids(ids)
    rows = {f: library.get_factor(db, f) for f in factor_ids}
    unknown = [f for f, row in rows.items() if row is None]
    if unknown:
        raise NotFoundError(f"unknown factor(s): {', '.join(unknown)}")
    known = [row for row in rows.values() if row is not None]
    last_dates = [row.last_date for row in known if row.last_date is not None]
    window_end = end or (min(last_dates) if len(last_dates) == len(known) else None)
    if window_end is None:
        raise _invalid("query.ids", "some of these factors have no returns yet")
    window_start = start or history_start(window_end, DEFAULT_CORRELATION_YEARS)
    _check_window(window_start, window_end)
    dates, series = library.returns_side_by_side(db, factor_ids, window_start, window_end)
    if len(dates) < MIN_COMMON_OBSERVATIONS:
        raise _invalid("query", f"only {len(dates)} common dates with returns in the window: too few to correlate")
    from analysis.domain.correlation import correlation_matrix  # numpy, loaded by this route only

    return CorrelationsPublic(
        ids=factor_ids,
        start=dates[0],
        end=dates[-1],
        observations=len(dates),
        demo_data=any(row.data_source == "offline" for row in known),
        matrix=correlation_matrix(series),
    )


@router.get(
    "/{factor_id}/returns", summary="A factor's daily returns", response_model=FactorReturnsPublic, responses=NOT_FOUND
)
def get_factor_returns(
    factor: KnownFactor, db: SessionDep, start: StartQuery = None, end: EndQuery = None
) -> FactorReturnsPublic:
    window_end = end or factor.last_date
    demo = factor.data_source == "offline"
    if window_end is None:  # no returns yet
        return FactorReturnsPublic(factor_id=factor.factor_id, start=start, end=end, demo_data=demo, returns=[])
    window_start = start or history_start(window_end, MAX_YEARS) + timedelta(days=1)
    _check_window(window_start, window_end)
    returns = library.factor_returns(db, factor.factor_id, window_start, window_end)
    return FactorReturnsPublic(
        factor_id=factor.factor_id,
        start=window_start,
        end=window_end,
        demo_data=demo,
        returns=[DailyReturn(date=day, return_value=value) for day, value in returns],
    )


def _parse_ids(ids: str) -> list[str]:
    factor_ids = [part.strip().upper() for part in ids.split(",") if part.strip()]
    problems = []
    if len(factor_ids) < 2:
        problems.append("give at least two factor ids, separated by commas")
    if len(factor_ids) > MAX_CORRELATION_FACTORS:
        problems.append(f"at most {MAX_CORRELATION_FACTORS} factors")
    duplicates = sorted({f for f in factor_ids if factor_ids.count(f) > 1})
    if duplicates:
        problems.append(f"repeated factor ids: {', '.join(duplicates)}")
    malformed = [f for f in factor_ids if not FACTOR_ID_PATTERN.fullmatch(f)]
    if malformed:
        problems.append(f"not factor ids: {', '.join(malformed[:5])}")
    if problems:
        raise ValidationFailedError([{"field": "query.ids", "message": p, "type": "value_error"} for p in problems])
    return factor_ids


def _check_window(start: date, end: date) -> None:
    if start > end:
        raise _invalid("query.start", f"start {start} is after end {end}")
    if start <= history_start(end, MAX_YEARS):
        raise _invalid("query.start", f"at most {MAX_YEARS} years per request: start after {history_start(end, 10)}")


def _invalid(field: str, message: str) -> ValidationFailedError:
    return ValidationFailedError([{"field": field, "message": message, "type": "value_error"}])
