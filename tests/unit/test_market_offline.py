"""The offline provider on the real files of the installed skfolio wheel (demo data), read without importing skfolio."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from labfolio_common.errors import ConfigurationError
from labfolio_common.market import market_data
from labfolio_common.market.offline import NOT_COVERED, OfflineMarketData, skfolio_data_dir

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def test_offline_mtum_has_its_known_first_and_last_dates_and_prices() -> None:
    mtum = OfflineMarketData().series["MTUM"]
    assert (mtum.dates[0], mtum.closes[0]) == (date(2014, 1, 2), 52.704)
    assert (mtum.dates[-1], mtum.closes[-1]) == (date(2022, 12, 28), 143.73)
    assert len(mtum) == 2264


def test_offline_has_the_sp500_index_and_the_twenty_stocks() -> None:
    series = OfflineMarketData().series
    assert (series["SP500"].dates[0], series["SP500"].closes[0]) == (date(1990, 1, 2), 359.69)
    assert len(series["SP500"]) == 8313
    assert {"AAPL", "MSFT", "JPM", "XOM"} <= set(series)
    assert len(series) == 1 + 5 + 20


def test_offline_time_is_the_data_s_last_date_not_the_clock() -> None:
    provider = market_data("offline")
    assert (provider.name, provider.demo, provider.as_of()) == ("offline", True, date(2022, 12, 28))


def test_offline_fetch_cuts_each_ticker_to_its_window_and_fails_unknown_ones() -> None:
    provider = OfflineMarketData()
    result = provider.fetch(
        {"MTUM": date(2022, 12, 27), "SP500": date(2022, 12, 20), "SPY": date(2022, 1, 1)}, date(2022, 12, 28)
    )
    assert result.prices["MTUM"].dates == (date(2022, 12, 27), date(2022, 12, 28))
    assert result.prices["MTUM"].closes == (145.443, 143.73)
    assert result.prices["SP500"].dates[0] == date(2022, 12, 20)
    assert result.failed == {"SPY": NOT_COVERED}
    assert provider.covers("MTUM") and not provider.covers("SPY")


def test_offline_fetch_of_an_empty_window_is_a_failure() -> None:
    result = OfflineMarketData().fetch({"MTUM": date(2023, 1, 1)}, date(2023, 12, 31))
    assert list(result.prices) == []
    assert "no offline prices" in result.failed["MTUM"]


def test_offline_without_the_files_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="offline market data file missing"):
        OfflineMarketData(tmp_path).as_of()


def test_offline_data_is_located_without_importing_skfolio() -> None:
    code = (
        "import sys; from labfolio_common.market.offline import OfflineMarketData; "
        "OfflineMarketData().as_of(); print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('skfolio', 'pandas', 'numpy', 'sklearn')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": str(ROOT / "layers/common")},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "[]"
    assert skfolio_data_dir().name == "data"
