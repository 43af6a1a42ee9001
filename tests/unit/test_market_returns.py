"""Pure market-data helpers: simple returns, rounding, history windows."""

from __future__ import annotations

from datetime import date

import pytest
from labfolio_common.market import PriceSeries
from labfolio_common.market.returns import history_start, incremental_start, rounded, simple_returns

pytestmark = pytest.mark.unit


def test_simple_returns_are_relative_changes_of_consecutive_closes() -> None:
    series = PriceSeries("X", (date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 5)), (100.0, 102.0, 99.96))
    assert simple_returns(series) == [(date(2024, 1, 3), pytest.approx(0.02)), (date(2024, 1, 5), pytest.approx(-0.02))]
    assert simple_returns(PriceSeries("X", (date(2024, 1, 2),), (100.0,))) == []


def test_returns_are_rounded_to_six_decimals_without_negative_zero() -> None:
    assert rounded([(date(2024, 1, 2), 0.0123456789), (date(2024, 1, 3), -1e-9)]) == [
        (date(2024, 1, 2), 0.012346),
        (date(2024, 1, 3), 0.0),
    ]
    assert str(rounded([(date(2024, 1, 3), -1e-9)])[0][1]) == "0.0"


def test_history_start_counts_back_whole_years_from_the_provider_date() -> None:
    assert history_start(date(2022, 12, 28), 10) == date(2012, 12, 28)
    assert history_start(date(2024, 2, 29), 1) == date(2023, 2, 28)


def test_incremental_start_overlaps_the_last_stored_date() -> None:
    backfill = date(2012, 12, 28)
    assert incremental_start(None, backfill, 7) == backfill
    assert incremental_start(date(2022, 12, 20), backfill, 7) == date(2022, 12, 13)
    assert incremental_start(date(2013, 1, 2), backfill, 7) == backfill


def test_price_series_needs_as_many_dates_as_closes() -> None:
    with pytest.raises(ValueError, match="2 dates but 1 closes"):
        PriceSeries("X", (date(2024, 1, 2), date(2024, 1, 3)), (1.0,))
