"""Holdings as the API shows them: each position valued at its last cached price (pure).

For a quantity portfolio: market value = quantity x last price, and weight = market value / gross exposure
(Σ|market value| over the priced holdings, DESIGN.md §5), so shorts have negative weights and Σ|w| = 1. A holding
without a cached price falls back to the file's own `price` column (no price date then); with neither, it has no
value and no weight. A weight portfolio shows its weights as given (normalised to Σ|w| = 1 at upload) and no market
values: it has no size until an analysis gives it one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class Position:
    ticker: str
    quantity: float | None
    weight: float | None
    file_price: float | None


@dataclass(frozen=True, slots=True)
class ValuedHolding:
    ticker: str
    quantity: float | None
    last_price: float | None
    market_value: float | None
    weight: float | None
    price_date: date | None


def value_holdings(positions: Sequence[Position], last_prices: Mapping[str, tuple[date, float]]) -> list[ValuedHolding]:
    """Each position with its last price, market value and weight (see the module's rules)."""
    priced = [_price(p, last_prices) for p in positions]
    values = [
        p.quantity * price if p.quantity is not None and price is not None else None
        for p, (price, _) in zip(positions, priced, strict=True)
    ]
    gross = sum(abs(v) for v in values if v is not None)
    out = []
    for position, (price, day), value in zip(positions, priced, values, strict=True):
        if position.quantity is None:
            weight = position.weight
        else:
            weight = value / gross if value is not None and gross > 0 else None
        out.append(ValuedHolding(position.ticker, position.quantity, price, value, weight, day))
    return out


def _price(position: Position, last_prices: Mapping[str, tuple[date, float]]) -> tuple[float | None, date | None]:
    found = last_prices.get(position.ticker)
    if found is not None:
        return found[1], found[0]
    return position.file_price, None
