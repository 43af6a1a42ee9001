"""SQL adapter of the factor library: factors with their data coverage, one factor's returns, several side by side."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache

from labfolio_common.catalogue import CATEGORIES, load_catalogue
from labfolio_common.db.models import Factor, FactorReturn
from sqlalchemy import func, select
from sqlalchemy.orm import Session


@dataclass(frozen=True, slots=True)
class FactorRow:
    factor_id: str
    factor_name: str
    factor_description: str | None
    factor_category: str | None
    entry: str
    data_source: str | None
    last_updated: datetime | None
    first_date: date | None
    last_date: date | None
    observations: int


def _coverage() -> tuple[object, ...]:
    return (func.min(FactorReturn.date), func.max(FactorReturn.date), func.count(FactorReturn.date))


def list_factors(session: Session) -> list[FactorRow]:
    """Every factor with its first and last dates and number of returns, in catalogue category order."""
    stats = (
        select(FactorReturn.factor_id, *_coverage()).group_by(FactorReturn.factor_id).subquery()  # type: ignore[arg-type]
    )
    first, last, count = stats.c[1], stats.c[2], stats.c[3]
    query = select(Factor, first, last, count).outerjoin(stats, stats.c.factor_id == Factor.factor_id)
    rows = [_row(factor, f, la, n) for factor, f, la, n in session.execute(query)]
    return sorted(rows, key=_catalogue_order)


@lru_cache(maxsize=1)
def _catalogue_positions() -> dict[str, int]:
    return {factor.factor_id: i for i, factor in enumerate(load_catalogue())}


def _catalogue_order(row: FactorRow) -> tuple[int, int, str]:
    """The catalogue file's order (market, styles, sectors, countries, rates); other factors after, by category."""
    positions = _catalogue_positions()
    category = CATEGORIES.index(row.factor_category) if row.factor_category in CATEGORIES else len(CATEGORIES)  # type: ignore[arg-type]
    return positions.get(row.factor_id, len(positions)), category, row.factor_id


def get_factor(session: Session, factor_id: str) -> FactorRow | None:
    factor = session.get(Factor, factor_id)
    if factor is None:
        return None
    query = select(*_coverage()).where(FactorReturn.factor_id == factor_id)  # type: ignore[call-overload]
    first, last, count = session.execute(query).one()
    return _row(factor, first, last, count)


def factor_returns(session: Session, factor_id: str, start: date, end: date) -> list[tuple[date, float]]:
    query = (
        select(FactorReturn.date, FactorReturn.return_value)
        .where(FactorReturn.factor_id == factor_id, FactorReturn.date >= start, FactorReturn.date <= end)
        .order_by(FactorReturn.date)
    )
    return [(day, float(value)) for day, value in session.execute(query)]


def returns_side_by_side(
    session: Session, factor_ids: Sequence[str], start: date, end: date
) -> tuple[list[date], list[list[float]]]:
    """The dates on which every factor has a return, and each factor's returns on those dates (one list per factor)."""
    query = select(FactorReturn.factor_id, FactorReturn.date, FactorReturn.return_value).where(
        FactorReturn.factor_id.in_(list(factor_ids)), FactorReturn.date >= start, FactorReturn.date <= end
    )
    by_factor: dict[str, dict[date, float]] = {f: {} for f in factor_ids}
    for factor_id, day, value in session.execute(query):
        by_factor[factor_id][day] = float(value)
    common = sorted(set.intersection(*(set(values) for values in by_factor.values())))
    return common, [[by_factor[f][day] for day in common] for f in factor_ids]


def _row(factor: Factor, first: date | None, last: date | None, count: int | None) -> FactorRow:
    return FactorRow(
        factor_id=factor.factor_id,
        factor_name=factor.factor_name,
        factor_description=factor.factor_description,
        factor_category=factor.factor_category,
        entry=factor.entry,
        data_source=factor.data_source,
        last_updated=factor.last_updated,
        first_date=first,
        last_date=last,
        observations=int(count or 0),
    )
