"""Holdings into weights: by market value at the window end, normalised by gross exposure.

w_i = q_i·P_i / G with G = Σ|q_j·P_j| and NAV = Σ q_i·P_i (DESIGN.md §5). A weight-only portfolio is rescaled to
Σ|w| = 1 and sized at the given gross (default 1,000,000), so NAV = G·Σw. Returns are per unit of gross exposure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from analysis.domain.errors import AnalysisInputError
from analysis.domain.frames import FloatArray
from analysis.domain.inputs import DEFAULT_GROSS, Holding


@dataclass(frozen=True)
class Positions:
    """The holdings merged by ticker, in first-seen order, all by quantity or all by weight."""

    tickers: list[str]
    amounts: dict[str, float]
    kind: Literal["quantity", "weight"]
    notes: list[str]


@dataclass(frozen=True)
class Book:
    weights: FloatArray  # N, Σ|w| = 1
    nav: float
    gross: float
    positions: dict[str, dict[str, Any]]


def merge_holdings(holdings: tuple[Holding, ...]) -> Positions:
    """Validate the holdings and add up repeated tickers."""
    if not holdings:
        raise AnalysisInputError("the portfolio has no holdings", field="holdings")
    kinds = {"quantity" if h.quantity is not None else "weight" if h.weight is not None else "none" for h in holdings}
    if "none" in kinds:
        missing = [h.ticker for h in holdings if h.quantity is None and h.weight is None]
        raise AnalysisInputError(
            f"holding(s) {', '.join(missing)} have neither a quantity nor a weight", field="holdings"
        )
    if len(kinds) > 1:
        raise AnalysisInputError(
            "give every holding a quantity, or every holding a weight, not a mix", field="holdings"
        )
    kind: Literal["quantity", "weight"] = "quantity" if kinds == {"quantity"} else "weight"
    amounts: dict[str, float] = {}
    notes: list[str] = []
    for h in holdings:
        ticker = h.ticker.strip()
        amount = float(h.quantity if kind == "quantity" else h.weight)  # type: ignore[arg-type]
        if not ticker or not math.isfinite(amount):
            raise AnalysisInputError(
                f"holding {h.ticker!r} has no ticker or a {kind} that is not a number", field="holdings"
            )
        if ticker in amounts:
            notes.append(f"{ticker} is listed more than once: its {kind}s were added together")
        amounts[ticker] = amounts.get(ticker, 0.0) + amount
    return Positions(tickers=list(amounts), amounts=amounts, kind=kind, notes=notes)


def book(positions: Positions, tickers: list[str], end_prices: FloatArray, gross: float | None) -> Book:
    """Weights of the used tickers from their closes at the window end."""
    amounts = np.array([positions.amounts[t] for t in tickers])
    with np.errstate(over="ignore"):  # an overflow is what the check below is for
        exposure = float(np.abs(amounts * end_prices if positions.kind == "quantity" else amounts).sum())
    if not math.isfinite(exposure):
        raise AnalysisInputError(
            "the holdings' gross exposure is not a finite number: a quantity, weight or price is far too large",
            field="holdings",
        )
    if positions.kind == "quantity":
        values = amounts * end_prices
        size = float(np.abs(values).sum())
    else:
        total = float(np.abs(amounts).sum())
        size = DEFAULT_GROSS if gross is None else float(gross)
        if not math.isfinite(size) or size <= 0:
            raise AnalysisInputError(
                "the gross size of a weight-only portfolio must be a positive number", field="gross"
            )
        values = amounts / total * size if total > 0 else amounts
    if size <= 0 or not np.abs(amounts).sum() > 0:
        raise AnalysisInputError("the holdings have no market value (every position is zero)", field="holdings")
    weights = values / size
    positions_out = {
        t: {"quantity": float(v / p), "price": float(p), "value": float(v), "weight": float(w)}
        for t, v, p, w in zip(tickers, values, end_prices, weights, strict=True)
    }
    return Book(weights=weights, nav=float(values.sum()), gross=size, positions=positions_out)
