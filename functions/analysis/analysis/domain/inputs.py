"""What the factor engine takes: holdings, prices, factor returns and the analysis parameters.

Conventions:
- `prices`: daily dividend-adjusted closes, a DataFrame indexed by date (one row per trading day, ascending or not),
  one column per ticker, NaN where a ticker has no price. A ticker missing from the columns has no data.
- `factor_returns`: simple daily returns (0.01 = +1%), indexed by date, one column per factor id; it must hold every
  chosen factor and, when any factor enters as a spread, the market factor too. NaN where a factor has no return.
- Holdings carry a quantity (shares; negative = short) or a weight (negative = short), all of one kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from analysis.domain.selection import FactorMode

DEFAULT_GROSS = 1_000_000.0


@dataclass(frozen=True, slots=True)
class Holding:
    """One position: `quantity` (shares) or `weight` (fraction of gross exposure); negative = short."""

    ticker: str
    quantity: float | None = None
    weight: float | None = None


@dataclass(frozen=True, slots=True)
class FactorSpec:
    """A chosen factor and how it enters: "market" (the market factor's own return), "spread" (the ETF's return
    minus the market's) or "raw" (the ETF's own return)."""

    factor_id: str
    mode: FactorMode


@dataclass(frozen=True)
class AnalysisInputs:
    """Everything one analysis needs. `start`/`end` bound the window (default: the last 2 years of common data ending
    at the latest date with data for all); `hac_lags` None = floor(4·(T/100)^(2/9)); `gross` sizes weight-only
    portfolios (default 1,000,000); `factor_last_prices` (ETF closes at the end, for hedge share counts) may omit a
    factor, whose hedge then has no share count; `risk_free_rate` is annual and echoed."""

    holdings: tuple[Holding, ...]
    prices: pd.DataFrame
    factor_returns: pd.DataFrame
    factors: tuple[FactorSpec, ...]
    market_factor: str
    factor_last_prices: Mapping[str, float] = field(default_factory=dict)
    start: date | None = None
    end: date | None = None
    hac_lags: int | None = None
    risk_free_rate: float = 0.0
    gross: float | None = None
    data_source: str = ""
    demo_data: bool = False
    as_of: date | None = None

    @property
    def factor_ids(self) -> list[str]:
        return [f.factor_id for f in self.factors]
