"""The yfinance adapter at its boundary: `yf.download` replaced by recorded frames of the shape yfinance 1.7 returns
with auto_adjust=True (columns (Price, Ticker), a failed ticker's column all NaN, an EMPTY frame when offline), and the
errors it logs instead of raising. No network."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pytest
from labfolio_common.market.yahoo import NO_DATA, YFinanceMarketData, adjusted_closes, is_transient

pytestmark = pytest.mark.unit

DNS_ERROR = (
    "DNSError('Failed to perform, curl: (6) Could not resolve host: query2.finance.yahoo.com. "
    "See https://curl.se/libcurl/c/libcurl-errors.html first for more details.')"
)
RATE_LIMITED = "YFRateLimitError('Too Many Requests. Rate limited. Try after a while.')"
DELISTED = "YFPricesMissingError('possibly delisted; no price data found  (1d 2024-01-01 -> 2024-01-09)')"
DAYS = pd.DatetimeIndex(["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08"], name="Date")


def download_frame(closes: dict[str, list[float]], index: pd.DatetimeIndex = DAYS) -> pd.DataFrame:
    """A frame as yf.download(tickers, auto_adjust=True, group_by="column") returns it."""
    fields = ["Close", "High", "Low", "Open", "Volume"]
    columns = pd.MultiIndex.from_product([fields, sorted(closes)], names=["Price", "Ticker"])
    frame = pd.DataFrame(index=index, columns=columns, dtype=float)
    for ticker, values in closes.items():
        for name in fields:
            frame[(name, ticker)] = values if name != "Volume" else [1e6] * len(values)
    return frame


def offline_frame(tickers: list[str]) -> pd.DataFrame:
    """What yf.download returns with no network: no rows (columns from yfinance's empty_df, Adj Close included)."""
    fields = ["Adj Close", "Close", "High", "Low", "Open", "Volume"]
    columns = pd.MultiIndex.from_product([fields, sorted(tickers)], names=["Price", "Ticker"])
    return pd.DataFrame(index=pd.DatetimeIndex([]), columns=columns, dtype=float)


class Recorded:
    """Plays recorded answers in order, logging each answer's per-ticker errors the way yfinance does."""

    def __init__(self, *answers: tuple[pd.DataFrame | Exception, dict[str, str]]) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[list[str], dict[str, Any]]] = []

    def __call__(self, tickers: list[str], **kwargs: Any) -> pd.DataFrame:
        self.calls.append((list(tickers), kwargs))
        frame, errors = self.answers.pop(0)
        log = logging.getLogger("yfinance")
        if errors:
            log.error("\n%d Failed downloads:", len(errors))
        by_error: dict[str, list[str]] = {}
        for ticker, error in errors.items():
            by_error.setdefault(error, []).append(ticker)
        for error, symbols in by_error.items():
            log.error(f"{symbols}: " + error)
        if isinstance(frame, Exception):
            raise frame
        return frame


def provider(download: Callable[..., Any], sleeps: list[float] | None = None) -> YFinanceMarketData:
    waits = sleeps if sleeps is not None else []
    return YFinanceMarketData(download, sleep=waits.append, today=lambda: date(2024, 1, 8))


def test_batch_download_is_adjusted_and_cut_to_each_ticker_s_start() -> None:
    # given one recorded batch for two tickers
    recorded = Recorded((download_frame({"SPY": [470.0, 468.5, 467.0, 469.1, 475.2], "TLT": [98, 97, 96, 95, 96]}), {}))
    # when
    result = provider(recorded).fetch({"SPY": date(2024, 1, 2), "TLT": date(2024, 1, 5)}, date(2024, 1, 8))
    # then one download from the earliest start, end exclusive in yfinance, adjusted prices asked for explicitly
    ((tickers, kwargs),) = recorded.calls
    assert tickers == ["SPY", "TLT"]
    assert (kwargs["start"], kwargs["end"], kwargs["auto_adjust"], kwargs["progress"]) == (
        "2024-01-02",
        "2024-01-09",
        True,
        False,
    )
    assert result.failed == {}
    assert result.prices["SPY"].closes == (470.0, 468.5, 467.0, 469.1, 475.2)
    assert result.prices["SPY"].dates[0] == date(2024, 1, 2)
    assert result.prices["TLT"].dates == (date(2024, 1, 5), date(2024, 1, 8))


def test_a_failing_ticker_does_not_affect_the_others() -> None:
    frame = download_frame({"SPY": [1, 2, 3, 4, 5], "NOPE": [np.nan] * 5})
    recorded = Recorded((frame, {"NOPE": DELISTED}))
    sleeps: list[float] = []
    result = provider(recorded, sleeps).fetch({"SPY": date(2024, 1, 2), "NOPE": date(2024, 1, 2)}, date(2024, 1, 8))
    assert list(result.prices) == ["SPY"]
    assert result.failed == {"NOPE": DELISTED}
    assert (len(recorded.calls), sleeps) == (1, [])  # an unknown ticker is not retried


def test_the_empty_frame_of_an_offline_download_fails_every_ticker_with_the_logged_reason() -> None:
    offline = (offline_frame(["SPY", "TLT"]), {"SPY": DNS_ERROR, "TLT": DNS_ERROR})
    recorded = Recorded(offline, offline, offline)
    sleeps: list[float] = []
    result = provider(recorded, sleeps).fetch({"SPY": date(2024, 1, 2), "TLT": date(2024, 1, 2)}, date(2024, 1, 8))
    assert result.prices == {}
    assert set(result.failed) == {"SPY", "TLT"}
    assert result.failed["SPY"] == f"{DNS_ERROR} (after 3 attempts)"
    assert sleeps == [2.0, 4.0]  # exponential backoff between the three attempts


def test_an_empty_frame_without_any_logged_reason_is_a_plain_failure() -> None:
    recorded = Recorded((pd.DataFrame(), {}))
    result = provider(recorded).fetch({"SPY": date(2024, 1, 2)}, date(2024, 1, 8))
    assert (result.prices, result.failed) == ({}, {"SPY": NO_DATA})


def test_rate_limited_tickers_are_retried_alone_after_a_backoff() -> None:
    # given a first answer where TLT is rate limited, then a second where it comes through
    first = (download_frame({"SPY": [1, 2, 3, 4, 5], "TLT": [np.nan] * 5}), {"TLT": RATE_LIMITED})
    second = (download_frame({"TLT": [5, 4, 3, 2, 1]}), {})
    recorded = Recorded(first, second)
    sleeps: list[float] = []
    # when
    result = provider(recorded, sleeps).fetch({"SPY": date(2024, 1, 2), "TLT": date(2024, 1, 2)}, date(2024, 1, 8))
    # then
    assert [call[0] for call in recorded.calls] == [["SPY", "TLT"], ["TLT"]]
    assert sleeps == [2.0]
    assert result.failed == {}
    assert result.prices["TLT"].closes == (5, 4, 3, 2, 1)


def test_an_exception_from_the_library_fails_the_batch_and_is_retried() -> None:
    recorded = Recorded((ConnectionError("connection reset"), {}), (download_frame({"SPY": [1, 2, 3, 4, 5]}), {}))
    result = provider(recorded).fetch({"SPY": date(2024, 1, 2)}, date(2024, 1, 8))
    assert result.failed == {}
    assert len(result.prices["SPY"]) == 5


def test_nan_and_non_positive_closes_are_dropped_and_a_tz_aware_index_is_read_as_dates() -> None:
    index = pd.DatetimeIndex(DAYS.tz_localize("America/New_York"), name="Date")
    frame = download_frame({"SPY": [1.0, np.nan, 0.0, 4.0, 5.0]}, index)
    closes = adjusted_closes(frame, ["SPY", "QQQ"])
    assert list(closes) == ["SPY"]
    assert closes["SPY"].dates == (date(2024, 1, 2), date(2024, 1, 5), date(2024, 1, 8))
    assert closes["SPY"].closes == (1.0, 4.0, 5.0)


def test_a_single_ticker_frame_without_the_ticker_level_is_read() -> None:
    frame = download_frame({"SPY": [1, 2, 3, 4, 5]}).droplevel("Ticker", axis=1)
    assert adjusted_closes(frame, ["SPY"])["SPY"].closes == (1, 2, 3, 4, 5)


def test_provider_time_is_today_and_the_demo_index_is_not_asked_for() -> None:
    yf = provider(Recorded())
    assert (yf.name, yf.demo, yf.as_of()) == ("yfinance", False, date(2024, 1, 8))
    assert yf.covers("SPY") and not yf.covers("SP500")


@pytest.mark.parametrize(
    ("reason", "transient"),
    [(RATE_LIMITED, True), (DNS_ERROR, True), ("ReadTimeout('timed out')", True), (DELISTED, False), (NO_DATA, False)],
)
def test_which_failures_are_worth_retrying(reason: str, transient: bool) -> None:
    assert is_transient(reason) is transient
