"""The offline provider: real daily adjusted prices shipped inside the skfolio wheel, DEMO DATA (stale, 1990-2022).

Files (read from the installed package, never copied into the repo, skfolio never imported - it costs ~2 s):
- `sp500_index.csv.gz`: SP500, the S&P 500 price index (no dividends), 1990-01-02..2022-12-28
- `factors_dataset.csv.gz`: MTUM QUAL SIZE USMV VLUE, 2014-01-02..2022-12-28
- `sp500_dataset.csv.gz`: 20 large US stocks (AAPL ... XOM), 1990-01-02..2022-12-28

Parsed with the standard library (about 0.1 s, once per process), so this provider needs neither pandas nor numpy.
"""

from __future__ import annotations

import csv
import gzip
import importlib.util
import io
from collections.abc import Mapping
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Final

from labfolio_common.errors import ConfigurationError
from labfolio_common.market import FetchResult, PriceSeries, ProviderName

DATA_FILES: Final = ("sp500_index.csv.gz", "factors_dataset.csv.gz", "sp500_dataset.csv.gz")
NOT_COVERED: Final = "not in the offline demo data"


def skfolio_data_dir() -> Path:
    """skfolio's dataset folder, located without importing skfolio."""
    spec = importlib.util.find_spec("skfolio")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        folder = Path(location) / "datasets" / "data"
        if folder.is_dir():
            return folder
    raise ConfigurationError(
        "MARKET_DATA_PROVIDER=offline reads the demo prices shipped with the skfolio package, which is not installed "
        "(it comes with the local/dev dependencies of `make dev`, never with a Lambda): install it or use yfinance"
    )


@lru_cache(maxsize=4)
def load_offline_prices(folder: Path) -> dict[str, PriceSeries]:
    """Every ticker of the offline files: {ticker: PriceSeries} (parsed once per process and folder)."""
    series: dict[str, PriceSeries] = {}
    for name in DATA_FILES:
        path = folder / name
        if not path.is_file():
            raise ConfigurationError(f"offline market data file missing: {path}")
        series.update(_read_file(path))
    return series


def _read_file(path: Path) -> dict[str, PriceSeries]:
    with gzip.open(path, "rb") as raw:
        reader = csv.reader(io.TextIOWrapper(raw, encoding="utf-8", newline=""))
        header = next(reader)
        tickers = header[1:]
        dates: list[date] = []
        columns: list[list[tuple[date, float]]] = [[] for _ in tickers]
        for record in reader:
            day = date.fromisoformat(record[0])
            dates.append(day)
            for column, cell in zip(columns, record[1:], strict=True):
                if cell:
                    value = float(cell)
                    if value > 0:
                        column.append((day, value))
    return {
        ticker: PriceSeries(ticker, tuple(d for d, _ in column), tuple(v for _, v in column))
        for ticker, column in zip(tickers, columns, strict=True)
    }


class OfflineMarketData:
    """The `offline` provider over skfolio's files. `folder` overrides where the files are (tests)."""

    def __init__(self, folder: Path | None = None) -> None:
        self._folder = folder

    @property
    def name(self) -> ProviderName:
        return "offline"

    @property
    def demo(self) -> bool:
        return True

    @property
    def series(self) -> dict[str, PriceSeries]:
        return load_offline_prices(self._folder or skfolio_data_dir())

    def as_of(self) -> date:
        return max(s.dates[-1] for s in self.series.values() if s.dates)

    def covers(self, ticker: str) -> bool:
        return ticker in self.series

    def fetch(self, starts: Mapping[str, date], end: date) -> FetchResult:
        result = FetchResult()
        for ticker, start in starts.items():
            found = self.series.get(ticker)
            if found is None:
                result.failed[ticker] = NOT_COVERED
                continue
            window = found.between(start, end)
            if len(window):
                result.prices[ticker] = window
            else:
                result.failed[ticker] = f"no offline prices between {start} and {end}"
        return result
