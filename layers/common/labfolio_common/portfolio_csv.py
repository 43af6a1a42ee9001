"""The portfolio CSV people actually have, parsed and checked in one pass (stdlib only: every function can use it).

Accepted: a header row; columns matched case-insensitively — `ticker` (or `yf_ticker`, `symbol`) and either
`quantity` (or `shares`; fractional, negative = short) or `weight` (fractions or percents summing to ~1 or ~100 of
gross exposure); optional `price` and `currency` (USD only). Tolerated: a UTF-8 BOM, CRLF, blank lines, spaces around
values, `;` or tab delimiters, thousands separators, `%` after weights, lower-case tickers. Duplicate tickers are merged
with a warning. Numbers are finite and at most MAX_MAGNITUDE (1e12) in size.

Every problem is reported at once as {"row": n, "column": name, "message": text}: rows count as a spreadsheet shows
them (the header is row 1); column is "*" for the file or row as a whole. Cells that a spreadsheet would run as a
formula (starting with = + - @, or a tab/CR) are refused in text columns, and a column without a name must stay
empty, so a file that parses carries no formula anywhere and can be handed back as it came.

`template_csv()` is the template users download: the demo portfolio, from the offline demo universe.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Literal

from labfolio_common.errors import ValidationFailedError

MAX_BYTES = 1_000_000
MAX_HOLDINGS = 5_000
MAX_PROBLEMS = 100  # listed per file: a hostile file could otherwise make a list too large to store or answer
ALIASES: dict[str, str] = {
    "ticker": "ticker",
    "yf_ticker": "ticker",
    "symbol": "ticker",
    "quantity": "quantity",
    "shares": "quantity",
    "weight": "weight",
    "price": "price",
    "currency": "currency",
}
TICKER_PATTERN = re.compile(r"\^?[A-Z0-9][A-Z0-9.\-=]{0,19}")  # AAPL, BRK-B, BRK.B, 7203.T, ^GSPC, EURUSD=X
OPTIONAL = frozenset({"price", "currency"})
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MAX_MAGNITUDE = 1e12  # the largest |quantity|, |weight| or price accepted: beyond it sums and products lose meaning
WEIGHT_TOLERANCE = 0.02  # weights must sum (gross) to 1 ± 2 % or 100 ± 2
TEMPLATE_PATH = Path(__file__).with_name("demo_portfolio.csv")

Problem = dict[str, str | int]
Kind = Literal["quantity", "weight"]


@dataclass(frozen=True, slots=True)
class Holding:
    ticker: str
    quantity: float | None  # for quantity portfolios
    weight: float | None  # for weight portfolios, as a fraction of gross exposure
    price: float | None = None
    rows: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class ParsedPortfolio:
    kind: Kind
    holdings: list[Holding]
    warnings: list[Problem] = field(default_factory=list)


class PortfolioCsvError(ValidationFailedError):
    """The file cannot become a portfolio; `detail` lists every problem with its row and column."""


def _problem(row: int, column: str, message: str) -> Problem:
    return {"row": row, "column": column, "message": message}


def _decode(data: bytes) -> str:
    if not data.strip():
        raise PortfolioCsvError([_problem(1, "*", "the file is empty")])
    if len(data) > MAX_BYTES:
        raise PortfolioCsvError([_problem(1, "*", f"the file is {len(data):,} bytes; the limit is {MAX_BYTES:,}")])
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise PortfolioCsvError([_problem(1, "*", "the file is UTF-16 text; save it as CSV UTF-8")])
    if b"\x00" in data:
        raise PortfolioCsvError([_problem(1, "*", "this is a binary file, not a CSV text file")])
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PortfolioCsvError(
            [_problem(line, "*", f"the file is not UTF-8 text (byte {exc.start + 1}); save it as CSV UTF-8")]
        ) from None


def _delimiter(text: str) -> str:
    header = text.lstrip().split("\n", 1)[0]
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _columns(header: list[str]) -> tuple[dict[str, int], list[Problem]]:
    columns: dict[str, int] = {}
    problems: list[Problem] = []
    for index, raw in enumerate(header):
        name = raw.strip().lower()
        canonical = ALIASES.get(name)
        if not name:
            continue
        if canonical is None:
            known = "ticker, quantity or weight, and optionally price, currency"
            problems.append(_problem(1, raw.strip(), f"unknown column {raw.strip()!r}; expected {known}"))
        elif canonical in columns:
            problems.append(_problem(1, raw.strip(), f"column {canonical!r} appears more than once"))
        else:
            columns[canonical] = index
    if "ticker" not in columns:
        problems.append(_problem(1, "ticker", "missing the ticker column (ticker, symbol or yf_ticker)"))
    if "quantity" in columns and "weight" in columns:
        problems.append(_problem(1, "weight", "give either quantity or weight, not both"))
    elif "quantity" not in columns and "weight" not in columns:
        problems.append(_problem(1, "quantity", "missing a quantity (or shares) or weight column"))
    return columns, problems


_THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?")
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")
_EUROPEAN = re.compile(r"[+-]?\d{1,3}(\.\d{3})+,\d+")  # 1.234,5 in a ;-delimited (European) export


def parse_number(text: str, delimiter: str = ",") -> float:
    """A finite number from a cell: thousands separators and spaces allowed; raises ValueError with a reason."""
    value = text.strip().replace("\u00a0", "").replace(" ", "").replace("_", "")
    if _THOUSANDS.fullmatch(value):
        value = value.replace(",", "")
    elif delimiter != "," and _DECIMAL_COMMA.fullmatch(value):
        value = value.replace(",", ".")
    elif delimiter != "," and _EUROPEAN.fullmatch(value):
        value = value.replace(".", "").replace(",", ".")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ValueError("is not a number") from None
    if not number.is_finite():
        raise ValueError("must be a finite number")
    result = float(number)
    if not math.isfinite(result):
        raise ValueError("is too large")
    return result


def _ticker(cell: str, row: int, problems: list[Problem]) -> str | None:
    value = cell.strip()
    if not value:
        problems.append(_problem(row, "ticker", "the ticker is empty"))
        return None
    if value.startswith(FORMULA_START):
        problems.append(_problem(row, "ticker", "a ticker cannot start with = + - or @ (spreadsheet formula)"))
        return None
    ticker = value.upper()
    if not TICKER_PATTERN.fullmatch(ticker):
        shown = ticker if len(ticker) <= 24 else ticker[:21] + "..."
        problems.append(_problem(row, "ticker", f"{shown!r} is not a plausible ticker symbol"))
        return None
    return ticker


def _number(
    cells: list[str], columns: dict[str, int], name: str, row: int, delimiter: str, problems: list[Problem]
) -> float | None:
    if name not in columns:
        return None
    cell = cells[columns[name]] if columns[name] < len(cells) else ""
    value = cell.strip()
    if name == "weight" and value.endswith("%"):
        value = value[:-1]
    if not value:
        if name not in OPTIONAL:
            problems.append(_problem(row, name, f"the {name} is empty"))
        return None
    shown = value if len(value) <= 24 else value[:21] + "..."
    try:
        number = parse_number(value, delimiter)
    except ValueError as exc:
        problems.append(_problem(row, name, f"{shown!r} {exc}"))
        return None
    if abs(number) > MAX_MAGNITUDE:
        problems.append(_problem(row, name, f"{shown!r} is too large: at most {MAX_MAGNITUDE:,.0f} in size"))
        return None
    return number


def _parse_row(
    cells: list[str], row: int, columns: dict[str, int], delimiter: str, problems: list[Problem]
) -> Holding | None:
    before = len(problems)
    ticker = _ticker(cells[columns["ticker"]] if columns["ticker"] < len(cells) else "", row, problems)
    quantity = _number(cells, columns, "quantity", row, delimiter, problems)
    weight = _number(cells, columns, "weight", row, delimiter, problems)
    price = _number(cells, columns, "price", row, delimiter, problems) if "price" in columns else None
    if quantity == 0 or weight == 0:
        problems.append(_problem(row, "quantity" if quantity == 0 else "weight", "must not be zero"))
    if price is not None and price <= 0:
        problems.append(_problem(row, "price", "must be positive"))
    if "currency" in columns:
        currency = (cells[columns["currency"]] if columns["currency"] < len(cells) else "").strip().upper()
        if currency and currency != "USD":
            problems.append(_problem(row, "currency", f"{currency[:8]!r}: only USD holdings are supported for now"))
    if len(problems) > before or ticker is None:
        return None
    return Holding(ticker, quantity, weight, price, (row,))


def _add(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b


def _merge(holdings: list[Holding], warnings: list[Problem]) -> list[Holding]:
    merged: dict[str, Holding] = {}
    for h in holdings:
        if h.ticker not in merged:
            merged[h.ticker] = h
            continue
        first = merged[h.ticker]
        merged[h.ticker] = Holding(
            h.ticker,
            _add(first.quantity, h.quantity),
            _add(first.weight, h.weight),
            first.price if first.price is not None else h.price,
            first.rows + h.rows,
        )
        warnings.append(
            _problem(h.rows[0], "ticker", f"{h.ticker} also on row {first.rows[0]}: the rows were added up")
        )
    result = []
    for h in merged.values():
        if (h.quantity if h.quantity is not None else h.weight) == 0:
            warnings.append(_problem(h.rows[0], "ticker", f"{h.ticker}: the merged rows add up to zero, dropped"))
        else:
            result.append(h)
    return result


def _normalise_weights(holdings: list[Holding], problems: list[Problem]) -> list[Holding]:
    gross = sum(abs(h.weight or 0.0) for h in holdings)
    if abs(gross - 1) <= WEIGHT_TOLERANCE:
        scale = 1.0
    elif abs(gross - 100) <= 100 * WEIGHT_TOLERANCE:
        scale = 100.0
    else:
        problems.append(_problem(1, "weight", f"the weights add up to {gross:g} (gross); they must add up to 1 or 100"))
        return holdings
    return [Holding(h.ticker, None, (h.weight or 0.0) / scale / (gross / scale), h.price, h.rows) for h in holdings]


def parse_portfolio_csv(data: bytes) -> ParsedPortfolio:
    """Parse an uploaded portfolio; raise PortfolioCsvError listing every problem (row, column, message)."""
    text = _decode(data)
    delimiter = _delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, skipinitialspace=True, strict=True)
    problems: list[Problem] = []
    holdings: list[Holding] = []
    columns: dict[str, int] | None = None
    width = 0
    unnamed: list[int] = []
    try:
        for cells in reader:
            row = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(problems) >= MAX_PROBLEMS:
                break
            if columns is None:
                columns, header_problems = _columns(cells)
                if header_problems:
                    raise PortfolioCsvError(_capped(header_problems))
                width = len(cells)
                unnamed = [index for index, name in enumerate(cells) if not name.strip()]
                continue
            if len(cells) > width and any(c.strip() for c in cells[width:]):
                problems.append(_problem(row, "*", f"{len(cells)} values but the header has {width} columns"))
                continue
            if any(index < len(cells) and cells[index].strip() for index in unnamed):
                problems.append(_problem(row, "*", "a value under a column without a name in the header row"))
                continue
            holding = _parse_row(cells, row, columns, delimiter, problems)
            if holding is not None:
                holdings.append(holding)
            if len(holdings) > MAX_HOLDINGS:
                raise PortfolioCsvError([_problem(row, "*", f"more than {MAX_HOLDINGS:,} holdings; split the file")])
    except csv.Error as exc:
        problems.append(_problem(reader.line_num, "*", f"the CSV is malformed ({exc})"))
    if columns is None:
        raise PortfolioCsvError([_problem(1, "*", "the file has no header row")])
    if not holdings and not problems:
        problems.append(_problem(2, "*", "the file has a header but no holdings"))
    warnings: list[Problem] = []
    holdings = _merge(holdings, warnings)
    kind: Kind = "weight" if "weight" in columns else "quantity"
    if kind == "weight" and holdings and not problems:
        holdings = _normalise_weights(holdings, problems)
    if problems:
        raise PortfolioCsvError(_capped(problems))
    return ParsedPortfolio(kind, holdings, warnings)


def _capped(problems: list[Problem]) -> list[Problem]:
    """At most MAX_PROBLEMS problems, then one saying that the list stops there (reading stopped at that point)."""
    if len(problems) < MAX_PROBLEMS:
        return problems
    shown = problems[:MAX_PROBLEMS]
    last = shown[-1]["row"]
    return [*shown, _problem(int(last), "*", f"only the first {MAX_PROBLEMS} problems are listed; fix them first")]


def template_csv() -> bytes:
    """The portfolio template: the demo holdings (US large caps of the offline demo data), `ticker,quantity`."""
    return TEMPLATE_PATH.read_bytes()
