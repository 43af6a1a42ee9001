"""The factor catalogue: the liquid ETFs a user picks factors from, shipped as `factors.csv` beside this module.

Pure code (stdlib only), so every function can import it without loading pandas or a database driver.

Row numbers in problems count CSV records the way a spreadsheet shows them: the header is row 1, the first factor is
row 2. Each problem is a dict `{"row": int, "field": str, "message": str}`; `field` is a column name, or `"*"` when the
problem is the row as a whole (blank row, wrong number of values, empty file).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Literal, cast

from labfolio_common.errors import ValidationFailedError

Category = Literal["Market", "Style", "Sector", "Country", "Rates/Credit"]
Entry = Literal["raw", "spread"]

COLUMNS: tuple[str, ...] = ("factor_id", "factor_name", "factor_description", "factor_category", "entry")
CATEGORIES: tuple[Category, ...] = ("Market", "Style", "Sector", "Country", "Rates/Credit")
ENTRIES: tuple[Entry, ...] = ("raw", "spread")
FACTOR_ID_PATTERN = re.compile(r"[A-Z0-9.^-]{1,50}")  # used with fullmatch; factor.factors.factor_id is VARCHAR(50)
MAX_NAME_LENGTH = 255  # factor.factors.factor_name is VARCHAR(255)
CATALOGUE_FILE = "factors.csv"

# The market factors: SPY for real data; SP500 (the S&P 500 price index, demo data) for the offline provider.
MARKET_FACTOR_IDS: frozenset[str] = frozenset({"SPY", "SP500"})

Problem = dict[str, str | int]


@dataclass(frozen=True, slots=True)
class CatalogueFactor:
    """One factor a user can pick. `entry` says how it enters the model by default: as its own return (`raw`) or as
    a market-neutral spread, its return minus the market ETF's (`spread`)."""

    factor_id: str
    factor_name: str
    factor_description: str
    factor_category: Category
    entry: Entry


def load_catalogue(text: str | None = None) -> list[CatalogueFactor]:
    """Parse and validate a catalogue (the packaged `factors.csv` when `text` is None).

    Raises ValidationFailedError whose `detail` lists every problem found, each with its row and field."""
    if text is None:
        text = resources.files(__name__).joinpath(CATALOGUE_FILE).read_text(encoding="utf-8")
    problems: list[Problem] = []
    records = _read_records(text.removeprefix("\ufeff"), problems)
    factors = _parse(records, problems)
    if problems:
        raise ValidationFailedError(problems)
    return factors


def by_id(factors: Iterable[CatalogueFactor] | None = None) -> dict[str, CatalogueFactor]:
    """The catalogue (or the given factors) keyed by factor_id."""
    return {factor.factor_id: factor for factor in (load_catalogue() if factors is None else factors)}


def _problem(row: int, field: str, message: str) -> Problem:
    return {"row": row, "field": field, "message": message}


def _read_records(text: str, problems: list[Problem]) -> list[list[str]]:
    records: list[list[str]] = []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        records.extend(reader)
    except csv.Error as exc:
        problems.append(_problem(len(records) + 1, "*", f"not valid CSV: {exc}"))
    return records


def _parse(records: list[list[str]], problems: list[Problem]) -> list[CatalogueFactor]:
    if not records:
        problems.append(_problem(1, "*", "the file is empty: expected a header row " + ",".join(COLUMNS)))
        return []
    header = records[0]
    problems.extend(_check_header(header))
    positions = {name: index for index, name in enumerate(header) if name in COLUMNS}
    factors: list[CatalogueFactor] = []
    first_row_of: dict[str, int] = {}
    for row, record in enumerate(records[1:], start=2):
        row_problems = list(_check_record(row, record, header, positions))
        factor_id = _value(record, positions, "factor_id")
        if factor_id in first_row_of:
            first = first_row_of[factor_id]
            row_problems.append(_problem(row, "factor_id", f"duplicate factor_id {factor_id!r} (first on row {first})"))
        elif factor_id:
            first_row_of[factor_id] = row
        problems.extend(row_problems)
        if not row_problems:
            factors.append(_factor(record, positions))
    return factors


def _check_header(header: list[str]) -> Iterator[Problem]:
    seen: set[str] = set()
    for name in header:
        if name in seen:
            yield _problem(1, name, f"column {name!r} appears more than once")
        elif name not in COLUMNS:
            yield _problem(1, name, f"unexpected column {name!r}; the columns are {', '.join(COLUMNS)}")
        seen.add(name)
    for name in COLUMNS:
        if name not in seen:
            yield _problem(1, name, f"missing column {name!r}")


def _check_record(row: int, record: list[str], header: list[str], positions: dict[str, int]) -> Iterator[Problem]:
    if not record:
        yield _problem(row, "*", "blank row")
        return
    if len(record) != len(header):
        yield _problem(row, "*", f"row has {len(record)} values, the header has {len(header)}")
    for name in COLUMNS:
        if name in positions:
            yield from _check_value(row, name, _value(record, positions, name))
    if _value(record, positions, "factor_category") == "Market" and _value(record, positions, "entry") == "spread":
        yield _problem(row, "entry", "a Market factor enters raw: it cannot be a spread against the market")


def _check_value(row: int, field: str, value: str) -> Iterator[Problem]:
    if not value.strip():
        yield _problem(row, field, "empty value")
        return
    if value != value.strip():
        yield _problem(row, field, f"leading or trailing whitespace in {value!r}")
    if field == "factor_id" and not FACTOR_ID_PATTERN.fullmatch(value):
        yield _problem(row, field, f"{value!r} must be 1-50 of A-Z, 0-9, '.', '^', '-'")
    elif field == "factor_name" and len(value) > MAX_NAME_LENGTH:
        yield _problem(row, field, f"name has {len(value)} characters, at most {MAX_NAME_LENGTH} allowed")
    elif field == "factor_category" and value not in CATEGORIES:
        yield _problem(row, field, f"unknown category {value!r}; one of {', '.join(CATEGORIES)}")
    elif field == "entry" and value not in ENTRIES:
        yield _problem(row, field, f"unknown entry {value!r}; one of {', '.join(ENTRIES)}")


def _value(record: list[str], positions: dict[str, int], name: str) -> str:
    index = positions.get(name)
    return record[index] if index is not None and index < len(record) else ""


def _factor(record: list[str], positions: dict[str, int]) -> CatalogueFactor:
    return CatalogueFactor(
        factor_id=_value(record, positions, "factor_id"),
        factor_name=_value(record, positions, "factor_name"),
        factor_description=_value(record, positions, "factor_description"),
        factor_category=cast(Category, _value(record, positions, "factor_category")),
        entry=cast(Entry, _value(record, positions, "entry")),
    )
