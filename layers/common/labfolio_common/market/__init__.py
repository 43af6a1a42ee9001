"""Market data: the one place labfolio gets daily prices (DESIGN.md §2). One port, two adapters:

- `yfinance` (production): Yahoo Finance through the yfinance package, one batched download per call,
  dividend-adjusted (`auto_adjust=True`), retried with backoff when Yahoo rate-limits or the network fails.
- `offline` (the local stack and tests): the real but stale daily prices shipped inside the skfolio wheel, read from
  the installed package's files (skfolio itself is never imported). It is DEMO DATA and is labelled so wherever shown.

Used by factor_update (the daily refresh) and by the analysis worker (backfilling a newly seen ticker), through
`labfolio_common.market.refresh`. This package is in the common layer, but the layer does not ship pandas or
yfinance: the adapters import them lazily, and only the functions that install them (factor_update, analysis) may
create a `yfinance` provider. Importing this module costs nothing and never loads pandas, so auth and portfolios are
unaffected.

Time is the provider's: `as_of()` is its latest available date (today for yfinance, 2022-12-28 offline), and history
windows count back from it, never from the wall clock.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Final, Literal, Protocol

from labfolio_common.errors import ConfigurationError, DependencyUnavailableError

ProviderName = Literal["yfinance", "offline"]
PROVIDERS: Final[tuple[ProviderName, ...]] = ("yfinance", "offline")

# Catalogue factors that exist only in the offline demo data (the S&P 500 price index stands in for SPY there).
OFFLINE_ONLY_TICKERS: Final = frozenset({"SP500"})


class PriceSourceError(DependencyUnavailableError):
    """The market-data source could not be used at all (as opposed to one ticker failing)."""


@dataclass(frozen=True, slots=True)
class PriceSeries:
    """Daily dividend-adjusted closes of one ticker: ascending dates, no gaps in the values, every close > 0."""

    ticker: str
    dates: tuple[date, ...]
    closes: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.dates) != len(self.closes):
            raise ValueError(f"{self.ticker}: {len(self.dates)} dates but {len(self.closes)} closes")

    def __len__(self) -> int:
        return len(self.dates)

    def between(self, start: date, end: date) -> PriceSeries:
        """The part of the series from `start` to `end`, both inclusive."""
        lo, hi = bisect.bisect_left(self.dates, start), bisect.bisect_right(self.dates, end)
        return PriceSeries(self.ticker, self.dates[lo:hi], self.closes[lo:hi])


@dataclass(slots=True)
class FetchResult:
    """What one fetch returned: prices per ticker that had data, and a reason per ticker that failed.

    A ticker's failure never affects the others; a ticker appears in exactly one of the two."""

    prices: dict[str, PriceSeries] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


class MarketData(Protocol):
    """The port: a source of daily adjusted closes."""

    @property
    def name(self) -> ProviderName: ...

    @property
    def demo(self) -> bool:
        """True when the data is demo data (stale sample prices), to be labelled so."""
        ...

    def as_of(self) -> date:
        """The provider's latest available date: history windows count back from it."""
        ...

    def covers(self, ticker: str) -> bool:
        """Whether asking for `ticker` makes sense at all (offline: it is in the files; yfinance: not offline-only).
        Tickers it does not cover are skipped, not failed."""
        ...

    def fetch(self, starts: Mapping[str, date], end: date) -> FetchResult:
        """Prices of each ticker from its own start date to `end` (both inclusive), in one batch."""
        ...


def market_data(name: str) -> MarketData:
    """The provider called `name` (Settings.market_data_provider); its adapter module is imported only now."""
    if name == "offline":
        from labfolio_common.market.offline import OfflineMarketData

        return OfflineMarketData()
    if name == "yfinance":
        from labfolio_common.market.yahoo import YFinanceMarketData

        return YFinanceMarketData()
    raise ConfigurationError(f"MARKET_DATA_PROVIDER: unknown market data provider {name!r} (use yfinance or offline)")


__all__ = [
    "OFFLINE_ONLY_TICKERS",
    "PROVIDERS",
    "FetchResult",
    "MarketData",
    "PriceSeries",
    "PriceSourceError",
    "ProviderName",
    "market_data",
]
