"""The market-data refresh on SQLite and PostgreSQL, with an in-memory provider (a fake of the port): backfill,
incremental update, idempotence, isolated failures, a crash mid-run, revised values, the price cache."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from labfolio_common.db.engine import session_scope
from labfolio_common.db.models import Factor, FactorReturn, Price, PriceTicker
from labfolio_common.db.upsert import upsert
from labfolio_common.market import FetchResult, PriceSeries, ProviderName, store
from labfolio_common.market.refresh import ensure_prices, refresh
from labfolio_common.market.yahoo import YFinanceMarketData
from sqlalchemy import func, select

from tests.fixtures.db import both_databases

pytestmark = both_databases

START = date(2020, 1, 1)
FACTORS = ["MKT", "AAA", "BBB", "CCC"]


def business_days(start: date, count: int) -> list[date]:
    days, day = [], start
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


class FakeMarketData:
    """Prices per ticker per day; `as_of` moves time; `failing` tickers fail; every fetch is recorded."""

    def __init__(self, prices: dict[str, dict[date, float]], as_of: date, name: ProviderName = "yfinance") -> None:
        self.prices, self._as_of, self._name = prices, as_of, name
        self.failing: dict[str, str] = {}
        self.fetches: list[dict[str, date]] = []

    @property
    def name(self) -> ProviderName:
        return self._name

    @property
    def demo(self) -> bool:
        return self._name == "offline"

    def as_of(self) -> date:
        return self._as_of

    def covers(self, ticker: str) -> bool:
        return ticker != "UNCOVERED"

    def fetch(self, starts: Mapping[str, date], end: date) -> FetchResult:
        self.fetches.append(dict(starts))
        result = FetchResult()
        for ticker, start in starts.items():
            days = sorted(d for d in self.prices.get(ticker, {}) if start <= d <= end)
            if ticker in self.failing or not days:
                result.failed[ticker] = self.failing.get(ticker, "no data")
            else:
                result.prices[ticker] = PriceSeries(ticker, tuple(days), tuple(self.prices[ticker][d] for d in days))
        return result


def synthetic(tickers: list[str], days: list[date]) -> dict[str, dict[date, float]]:
    return {
        t: {d: 100.0 * (1 + 0.001 * ((i * (k + 3)) % 17 - 8)) ** i for i, d in enumerate(days)}
        for k, t in enumerate(tickers)
    }


@pytest.fixture
def factors(database_url: str) -> list[str]:
    with session_scope(database_url) as session:
        upsert(
            session,
            Factor,
            [{"factor_id": f, "factor_name": f, "factor_category": "Style"} for f in FACTORS],
            ["factor_id"],
        )
    return FACTORS


def hold(database_url: str, *tickers: str) -> None:
    """A portfolio that holds `tickers` (the daily refresh keeps only held tickers and the factors' fresh)."""
    from labfolio_common.db.models import Holding

    from tests.fixtures.pipeline import make_portfolio

    _, portfolio_id = make_portfolio(database_url)
    with session_scope(database_url) as session:
        session.add_all(
            Holding(portfolio_id=portfolio_id, ticker=t, quantity=1.0, position=i) for i, t in enumerate(tickers)
        )


def cached_tickers(database_url: str) -> set[str]:
    with session_scope(database_url) as session:
        return set(session.scalars(select(PriceTicker.ticker)))


def stored_returns(database_url: str, factor_id: str) -> dict[date, Decimal]:
    with session_scope(database_url) as session:
        rows = session.execute(
            select(FactorReturn.date, FactorReturn.return_value).where(FactorReturn.factor_id == factor_id)
        )
        return {day: value for day, value in rows}


def factor_row(database_url: str, factor_id: str) -> Factor:
    with session_scope(database_url) as session:
        return session.get_one(Factor, factor_id)


def test_first_run_backfills_the_history_window_counted_from_the_provider_date(
    database_url: str, factors: list[str]
) -> None:
    days = business_days(START, 600)
    provider = FakeMarketData(synthetic(factors, days), as_of=days[-1])
    summary = refresh(database_url, provider, factors, history_years=2)
    history_start = date(days[-1].year - 2, days[-1].month, days[-1].day)
    window = [d for d in days if d >= history_start]
    assert summary.factors.updated == dict.fromkeys(factors, len(window) - 1)
    assert provider.fetches == [dict.fromkeys(factors, history_start)]
    returns = stored_returns(database_url, "AAA")
    prices = provider.prices["AAA"]
    assert returns[window[1]] == Decimal(str(round(prices[window[1]] / prices[window[0]] - 1, 6)))
    row = factor_row(database_url, "AAA")
    assert (row.data_source, row.last_updated is not None) == ("yfinance", True)


def test_incremental_run_fetches_from_the_overlap_and_adds_only_new_days(database_url: str, factors: list[str]) -> None:
    days = business_days(START, 300)
    provider = FakeMarketData(synthetic(factors, days), as_of=days[-11])
    refresh(database_url, provider, factors)
    # when ten more days arrive
    provider._as_of = days[-1]
    summary = refresh(database_url, provider, factors)
    # then the fetch started a week before the last stored day, and only the new days were written
    assert provider.fetches[-1] == dict.fromkeys(factors, days[-11] - timedelta(days=7))
    assert summary.factors.updated == dict.fromkeys(factors, 10)
    assert max(stored_returns(database_url, "MKT")) == days[-1]
    assert len(stored_returns(database_url, "MKT")) == 299


def test_second_run_changes_nothing(database_url: str, factors: list[str]) -> None:
    days = business_days(START, 300)
    provider = FakeMarketData(synthetic(factors, days), as_of=days[-1])
    refresh(database_url, provider, factors)
    before = {f: stored_returns(database_url, f) for f in factors}
    summary = refresh(database_url, provider, factors)
    assert summary.factors.updated == dict.fromkeys(factors, 0)
    assert {f: stored_returns(database_url, f) for f in factors} == before


def test_a_failing_factor_keeps_its_data_and_the_others_update(database_url: str, factors: list[str]) -> None:
    days = business_days(START, 300)
    provider = FakeMarketData(synthetic(factors, days), as_of=days[-6])
    refresh(database_url, provider, factors)
    before = stored_returns(database_url, "BBB")
    stamped = factor_row(database_url, "BBB").last_updated
    # when BBB's source fails on the next run
    provider._as_of = days[-1]
    provider.failing["BBB"] = "YFRateLimitError('Too Many Requests')"
    summary = refresh(database_url, provider, factors)
    # then
    assert summary.factors.failed == {"BBB": "YFRateLimitError('Too Many Requests')"}
    assert summary.factors.updated == {"MKT": 5, "AAA": 5, "CCC": 5}
    assert stored_returns(database_url, "BBB") == before
    assert factor_row(database_url, "BBB").last_updated == stamped
    assert max(stored_returns(database_url, "CCC")) == days[-1]


def test_a_crash_mid_run_leaves_each_factor_updated_or_untouched(
    database_url: str, factors: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    days = business_days(START, 300)
    provider = FakeMarketData(synthetic(factors, days), as_of=days[-6])
    refresh(database_url, provider, factors)
    before = {f: stored_returns(database_url, f) for f in factors}
    # given a run that dies while writing the third factor, after its returns were sent
    real = store.write_factor_returns

    def crash_on_bbb(session: Any, factor_id: str, *args: Any) -> int:
        written = real(session, factor_id, *args)
        if factor_id == "BBB":
            raise RuntimeError("killed")
        return written

    monkeypatch.setattr("labfolio_common.market.refresh.write_factor_returns", crash_on_bbb)
    provider._as_of = days[-1]
    with pytest.raises(RuntimeError, match="killed"):
        refresh(database_url, provider, factors)
    # then the factors before it are fully updated, it and the ones after untouched
    assert len(stored_returns(database_url, "MKT")) == len(before["MKT"]) + 5
    assert len(stored_returns(database_url, "AAA")) == len(before["AAA"]) + 5
    assert stored_returns(database_url, "BBB") == before["BBB"]
    assert stored_returns(database_url, "CCC") == before["CCC"]
    # and the next run completes the rest
    monkeypatch.setattr("labfolio_common.market.refresh.write_factor_returns", real)
    summary = refresh(database_url, provider, factors)
    assert summary.factors.updated == {"MKT": 0, "AAA": 0, "BBB": 5, "CCC": 5}


def test_revised_values_in_the_overlap_are_upserted(database_url: str, factors: list[str]) -> None:
    days = business_days(START, 300)
    provider = FakeMarketData(synthetic(factors, days), as_of=days[-1])
    refresh(database_url, provider, factors)
    # when the source revises the close of two days ago
    provider.prices["AAA"][days[-3]] *= 1.01
    summary = refresh(database_url, provider, factors)
    # then the two returns it enters are rewritten, nothing else
    prices = provider.prices["AAA"]
    assert summary.factors.updated == {"MKT": 0, "AAA": 2, "BBB": 0, "CCC": 0}
    assert stored_returns(database_url, "AAA")[days[-2]] == Decimal(
        str(round(prices[days[-2]] / prices[days[-3]] - 1, 6))
    )


def test_the_yfinance_empty_frame_keeps_the_old_data(database_url: str, factors: list[str]) -> None:
    import pandas as pd

    days = business_days(START, 300)
    refresh(database_url, FakeMarketData(synthetic(factors, days), as_of=days[-1]), factors)
    before = {f: stored_returns(database_url, f) for f in factors}
    offline = YFinanceMarketData(lambda *a, **k: pd.DataFrame(), attempts=1, today=lambda: days[-1] + timedelta(days=3))
    summary = refresh(database_url, offline, factors)
    assert summary.factors.updated == {}
    assert set(summary.factors.failed) == set(factors)
    assert {f: stored_returns(database_url, f) for f in factors} == before


def test_another_provider_s_data_is_backfilled_over(database_url: str, factors: list[str]) -> None:
    days = business_days(START, 300)
    demo = FakeMarketData(synthetic(factors, days[:200]), as_of=days[199], name="offline")
    refresh(database_url, demo, factors)
    real = FakeMarketData(synthetic(factors, days), as_of=days[-1])
    refresh(database_url, real, factors, history_years=5)
    assert real.fetches == [dict.fromkeys(factors, date(days[-1].year - 5, days[-1].month, days[-1].day))]
    assert factor_row(database_url, "MKT").data_source == "yfinance"


def test_uncovered_factors_are_skipped(database_url: str, factors: list[str]) -> None:
    with session_scope(database_url) as session:
        upsert(session, Factor, [{"factor_id": "UNCOVERED", "factor_name": "u"}], ["factor_id"])
    days = business_days(START, 30)
    summary = refresh(database_url, FakeMarketData(synthetic(factors, days), as_of=days[-1]), [*factors, "UNCOVERED"])
    assert summary.factors.skipped == ["UNCOVERED"]
    assert summary.as_dict()["skipped"] == ["UNCOVERED"]


def test_ensure_prices_backfills_new_tickers_and_the_daily_refresh_keeps_them_fresh(
    database_url: str, factors: list[str]
) -> None:
    days = business_days(START, 300)
    provider = FakeMarketData(synthetic(["AAPL", "MSFT"], days), as_of=days[-6])
    # when the worker meets two new tickers and an unknown one
    outcome = ensure_prices(database_url, provider, ["aapl", "MSFT", "ZZZZ"], history_years=10)
    again = ensure_prices(database_url, provider, ["AAPL"])
    # then the known ones are cached in full precision; the unknown one failed and left nothing in the cache's list
    assert outcome.updated == {"AAPL": 295, "MSFT": 295}
    assert outcome.failed == {"ZZZZ": "no data"}
    assert (again.updated, again.failed) == ({}, {})
    with session_scope(database_url) as session:
        cached = store.read_prices(session, ["AAPL"], START, days[-1])["AAPL"]
    assert cached.closes[10] == provider.prices["AAPL"][days[10]]
    assert cached_tickers(database_url) == {"AAPL", "MSFT"}
    # and the daily refresh brings the held ones up to date with the factors
    hold(database_url, "AAPL", "MSFT")
    provider._as_of = days[-1]
    summary = refresh(database_url, provider, [])
    assert summary.prices.updated == {"AAPL": 5, "MSFT": 5}
    assert summary.prices.failed == {}


def test_a_re_adjusted_history_is_rescaled_in_the_cache(database_url: str, factors: list[str]) -> None:
    days = business_days(START, 100)
    provider = FakeMarketData({"KO": {d: 50.0 + i for i, d in enumerate(days)}}, as_of=days[-3])
    ensure_prices(database_url, provider, ["KO"])
    hold(database_url, "KO")
    # when a dividend goes ex on the last day: the source scales every earlier close by 0.98
    provider.prices["KO"] = {d: (50.0 + i) * (0.98 if d < days[-1] else 1.0) for i, d in enumerate(days)}
    provider._as_of = days[-1]
    refresh(database_url, provider, [])
    # then the whole cached history matches the source's new adjustment, not just the overlap
    with session_scope(database_url) as session:
        cached = store.read_prices(session, ["KO"], START, days[-1])["KO"]
    assert cached.dates == tuple(days)
    assert cached.closes == pytest.approx([provider.prices["KO"][d] for d in days], rel=1e-12)


def test_default_market_factor_prefers_spy_and_falls_back_to_the_demo_index(database_url: str) -> None:
    with session_scope(database_url) as session:
        upsert(
            session,
            Factor,
            [{"factor_id": f, "factor_name": f, "factor_category": "Market"} for f in ("SPY", "SP500")],
            ["factor_id"],
        )
        rows = [{"factor_id": "SP500", "date": d, "return_value": 0.001} for d in business_days(date(2022, 1, 3), 5)]
        rows += [{"factor_id": "SPY", "date": d, "return_value": 0.001} for d in business_days(date(2024, 1, 2), 5)]
        upsert(session, FactorReturn, rows, ["factor_id", "date"])
    with session_scope(database_url) as session:
        assert store.default_market_factor(session, date(2024, 1, 1), date(2024, 12, 31)) == "SPY"
        assert store.default_market_factor(session, date(2022, 1, 1), date(2022, 12, 31)) == "SP500"
        assert store.default_market_factor(session, date(2010, 1, 1), date(2010, 12, 31)) is None


def test_price_rows_count(database_url: str, factors: list[str]) -> None:
    days = business_days(START, 20)
    ensure_prices(database_url, FakeMarketData(synthetic(["X"], days), as_of=days[-1]), ["X"])
    with session_scope(database_url) as session:
        assert session.scalar(select(func.count()).select_from(Price)) == 20


# The red-team round: one upload of AAPL, MSFT and 4,998 made-up tickers took the price cache's list from 18 to 5,016
# rows for good, and the daily refresh fetched them all with the factors in one batch (in AWS, past its timeout).


def test_made_up_tickers_leave_nothing_and_the_refresh_fetches_held_tickers_in_chunks_after_the_factors(
    database_url: str, factors: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from labfolio_common.market import refresh as refresh_module

    days = business_days(START, 60)
    real = [f"R{i:03d}" for i in range(7)]
    provider = FakeMarketData(synthetic([*factors, *real, "GONE"], days), as_of=days[-2])
    made_up = [f"Z{i:04d}" for i in range(500)]
    outcome = ensure_prices(database_url, provider, [*real, "GONE", *made_up])
    assert set(outcome.failed) == set(made_up) and len(outcome.updated) == 8
    assert cached_tickers(database_url) == {*real, "GONE"}  # made-up tickers leave no row behind
    hold(database_url, *real)  # GONE is held by nobody any more
    monkeypatch.setattr(refresh_module, "TICKER_CHUNK", 3)
    provider.fetches.clear()
    provider._as_of = days[-1]
    summary = refresh(database_url, provider, factors)
    # the factors first and on their own, then the held tickers three at a time; GONE is not fetched
    assert [sorted(f) for f in provider.fetches] == [sorted(factors), real[0:3], real[3:6], real[6:7]]
    assert set(summary.factors.updated) == set(factors) and set(summary.prices.updated) == set(real)


def test_a_failing_chunk_never_holds_back_the_factors_or_the_other_chunks(
    database_url: str, factors: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from labfolio_common.market import refresh as refresh_module

    days = business_days(START, 60)
    real = [f"R{i:03d}" for i in range(4)]
    provider = FakeMarketData(synthetic([*factors, *real], days), as_of=days[-2])
    ensure_prices(database_url, provider, real)
    hold(database_url, *real)
    monkeypatch.setattr(refresh_module, "TICKER_CHUNK", 2)
    fetch = provider.fetch

    def flaky(starts: Mapping[str, date], end: date) -> FetchResult:
        if "R000" in starts:
            raise TimeoutError("the source hung")
        return fetch(starts, end)

    provider.fetch = flaky  # type: ignore[method-assign]
    provider._as_of = days[-1]
    summary = refresh(database_url, provider, factors)
    assert set(summary.factors.updated) == set(factors) and not summary.factors.failed
    assert summary.prices.updated == {"R002": 1, "R003": 1}
    assert summary.prices.failed == dict.fromkeys(["R000", "R001"], "the market data source failed: TimeoutError")


def test_a_ticker_failing_for_a_month_is_given_up(database_url: str, factors: list[str]) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import update

    days = business_days(START, 60)
    provider = FakeMarketData(synthetic(["KO", "DEAD"], days), as_of=days[-2])
    ensure_prices(database_url, provider, ["KO", "DEAD"])
    hold(database_url, "KO", "DEAD")
    with session_scope(database_url) as session:  # DEAD last succeeded 31 days ago and failed since
        stale = datetime.now(UTC) - timedelta(days=31)
        session.execute(
            update(PriceTicker).where(PriceTicker.ticker == "DEAD").values(last_updated=stale, last_error="no data")
        )
    provider.fetches.clear()
    summary = refresh(database_url, provider, [])
    assert provider.fetches == [{"KO": provider.fetches[0]["KO"]}]  # DEAD is not asked for
    assert summary.prices.skipped == ["DEAD"]
