"""An analysis's parameters and the rules checked before it is queued (pure, stdlib only: the HTTP function imports
this without numpy). The engine checks the same rules again on the data, with the holdings' prices.

- Factors: the requested ids (case-insensitive), or by default the market factor and the five style factors. The
  market factor of an analysis is the first chosen factor of the catalogue's Market category, else the default one
  (the catalogue's market factor with data: SPY with yfinance, SP500 on the offline demo data); spreads are measured
  against it, and its returns are always read (the market-only hedge uses them).
- Window: `start`/`end` as given; by default the last 2 years of common data, ending at the latest date on which
  every factor has a return. It must hold at least max(60, 3·(K+1)) such dates. A date given anywhere (an analysis,
  a factor's returns, correlations) lies between EARLIEST_DATE and LATEST_DATE: far outside the market data's years,
  and far enough inside the calendar's that the window arithmetic (ten years back, a margin of days) stays in it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Final

from labfolio_common.market.returns import history_start

from analysis.domain.errors import AnalysisInputError
from analysis.domain.selection import (
    DEFAULT_STYLE_FACTORS,
    FactorEntry,
    FactorMode,
    factor_modes,
    min_observations,
    validate_factor_ids,
)

DEFAULT_WINDOW_YEARS: Final = 2  # as the engine's window (analysis.domain.window.DEFAULT_YEARS)
MARKET_CATEGORY: Final = "Market"
# Read this many calendar days before the window: the first return's base price, and a window whose end the holdings
# pull back a few days (a holding more than 5 factor days stale is dropped by the engine instead).
LOAD_MARGIN: Final = timedelta(days=14)
EARLIEST_DATE: Final = date(1900, 1, 1)
LATEST_DATE: Final = date(2199, 12, 31)


@dataclass(frozen=True, slots=True)
class FactorInfo:
    """What the rules need of a catalogue factor."""

    factor_id: str
    category: str | None
    entry: FactorEntry


@dataclass(frozen=True)
class AnalysisParams:
    """What one analysis runs with, as stored in its row (`to_json`) and echoed by the API."""

    factor_ids: tuple[str, ...]
    market_factor: str
    factor_mode: FactorEntry = "spread"
    start: date | None = None
    end: date | None = None
    hac_lags: int | None = None
    risk_free_rate: float = 0.0
    gross: float | None = None
    factor_entries: Mapping[str, FactorEntry] = field(default_factory=dict)

    def modes(self) -> dict[str, FactorMode]:
        """How each factor enters the model (market, spread or raw)."""
        return factor_modes(self.factor_ids, self.market_factor, self.factor_mode, self.factor_entries)

    @property
    def read_factors(self) -> list[str]:
        """The factors whose returns are read: the chosen ones and the market factor."""
        return list(dict.fromkeys([*self.factor_ids, self.market_factor]))

    def to_json(self) -> dict[str, Any]:
        return {
            "factor_ids": list(self.factor_ids),
            "market_factor": self.market_factor,
            "factor_mode": self.factor_mode,
            "factor_modes": self.modes(),
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "hac_lags": self.hac_lags,
            "risk_free_rate": self.risk_free_rate,
            "gross": self.gross,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AnalysisParams:
        modes = data.get("factor_modes") or {}
        entries: dict[str, FactorEntry] = {f: m for f, m in modes.items() if m in ("spread", "raw")}
        return cls(
            factor_ids=tuple(data["factor_ids"]),
            market_factor=str(data["market_factor"]),
            factor_mode=data.get("factor_mode", "spread"),
            start=date.fromisoformat(data["start"]) if data.get("start") else None,
            end=date.fromisoformat(data["end"]) if data.get("end") else None,
            hac_lags=data.get("hac_lags"),
            risk_free_rate=float(data.get("risk_free_rate") or 0.0),
            gross=data.get("gross"),
            factor_entries=entries,
        )


@dataclass(frozen=True, slots=True)
class Window:
    """The dates on which every read factor has a return, within the analysis's window."""

    first: date
    last: date
    observations: int


def choose_factors(
    requested: Sequence[str] | None, catalogue: Mapping[str, FactorInfo], default_market: str | None
) -> tuple[tuple[str, ...], str]:
    """The chosen factor ids (upper-cased; the default set when none are given) and the analysis's market factor."""
    if requested is None:
        if default_market is None:
            raise _no_market()
        ids = [default_market, *(f for f in DEFAULT_STYLE_FACTORS if f in catalogue)]
    else:
        ids = [f.strip().upper() for f in requested]
    validate_factor_ids(ids, catalogue)
    chosen = [f for f in ids if catalogue[f].category == MARKET_CATEGORY]
    market = chosen[0] if chosen else default_market
    if market is None:
        raise _no_market()
    return tuple(ids), market


def _no_market() -> AnalysisInputError:
    return AnalysisInputError(
        "no market factor has returns yet (the factor data is still loading?): try again later", field="factor_ids"
    )


def make_params(
    requested: Sequence[str] | None,
    catalogue: Mapping[str, FactorInfo],
    default_market: str | None,
    *,
    factor_mode: FactorEntry = "spread",
    start: date | None = None,
    end: date | None = None,
    hac_lags: int | None = None,
    risk_free_rate: float = 0.0,
    gross: float | None = None,
) -> AnalysisParams:
    """Parameters from a request (or the defaults); AnalysisInputError names the field at fault."""
    if start is not None and end is not None and start > end:
        raise AnalysisInputError(f"the window starts ({start}) after it ends ({end})", field="start")
    ids, market = choose_factors(requested, catalogue, default_market)
    if not math.isfinite(risk_free_rate):
        raise AnalysisInputError("the risk-free rate must be a number", field="risk_free_rate")
    entries = {f: catalogue[f].entry for f in ids}
    return AnalysisParams(ids, market, factor_mode, start, end, hac_lags, risk_free_rate, gross, entries)


def window_of(common: Sequence[date], start: date | None, end: date | None) -> Window | None:
    """The window's factor dates: from `start` (or 2 years before its end) to the latest common date up to `end`.
    `common` holds the dates on which every read factor has a return, ascending. None when none is left."""
    upto = [d for d in common if end is None or d <= end]
    if not upto:
        return None
    last = upto[-1]
    if start is not None:
        days = [d for d in upto if d >= start]
    else:
        after = history_start(last, DEFAULT_WINDOW_YEARS)
        days = [d for d in upto if d > after]
    if not days:
        return None
    return Window(days[0], days[-1], len(days))


def check_window(params: AnalysisParams, common: Sequence[date]) -> Window:
    """Enough common factor dates in the window for the number of factors, and hac_lags that fit; else the reason."""
    k = len(params.factor_ids)
    window = window_of(common, params.start, params.end)
    needed = min_observations(k)
    if window is None:
        bounded = _bounds(params)
        raise AnalysisInputError(
            f"there is no date{bounded} on which every chosen factor ({', '.join(params.read_factors)}) has a return",
            field="start" if params.start or params.end else "factor_ids",
        )
    if window.observations < needed:
        raise AnalysisInputError(
            f"the window {window.first} to {window.last} has only {window.observations} days with returns for every "
            f"factor; an analysis with {k} factor(s) needs at least {needed}: choose a longer window or fewer factors",
            field="start",
        )
    most = window.observations - k - 2
    if params.hac_lags is not None and params.hac_lags > most:
        raise AnalysisInputError(f"hac_lags must be between 0 and {most} for this window", field="hac_lags")
    return window


def _bounds(params: AnalysisParams) -> str:
    if params.start and params.end:
        return f" between {params.start} and {params.end}"
    if params.start:
        return f" from {params.start}"
    if params.end:
        return f" up to {params.end}"
    return ""


def load_range(params: AnalysisParams, last_common: date) -> tuple[date, date]:
    """The dates the worker reads prices and factor returns for: from a margin before the window's start (given, or
    2 years before the latest common factor date) to its end (given, or that latest date)."""
    hi = params.end or last_common
    start = params.start or history_start(min(hi, last_common), DEFAULT_WINDOW_YEARS)
    return start - LOAD_MARGIN, hi
