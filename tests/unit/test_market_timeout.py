"""The yfinance adapter when the source hangs (issue 9): `yf.download` replaced at the adapter boundary by a recorded
answer that does not come back within the adapter's limit. No network."""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

import pytest
from labfolio_common.market.yahoo import TIMED_OUT, YFinanceMarketData, is_transient

from tests.unit.test_market_yahoo import download_frame

pytestmark = pytest.mark.unit

STARTS = {"SPY": date(2024, 1, 2), "TLT": date(2024, 1, 2)}


class Hanging:
    """A download that answers only when released (or after `seconds`), recording each call."""

    def __init__(self, seconds: float = 30.0) -> None:
        self.released = threading.Event()
        self.seconds = seconds
        self.calls = 0

    def __call__(self, tickers: list[str], **kwargs: Any) -> Any:
        self.calls += 1
        self.released.wait(self.seconds)
        return download_frame({t: [1.0, 2.0, 3.0, 4.0, 5.0] for t in tickers})


def test_a_download_that_hangs_past_the_limit_fails_every_ticker_as_timed_out_and_is_not_retried() -> None:
    hanging = Hanging()
    waits: list[float] = []
    source = YFinanceMarketData(hanging, call_limit_s=0.2, sleep=waits.append, today=lambda: date(2024, 1, 8))
    try:
        result = source.fetch(STARTS, date(2024, 1, 8))
        answered_before_release = not hanging.released.is_set()
    finally:
        hanging.released.set()
    assert result.prices == {}
    assert sorted(result.failed) == ["SPY", "TLT"]
    assert all(reason.startswith(TIMED_OUT) and is_transient(reason) for reason in result.failed.values())
    # one call, no backoff: a hanging source must not use up the caller's own timeout
    assert (hanging.calls, waits) == (1, [])
    assert answered_before_release  # the adapter gave up at its limit instead of waiting for the hang


def test_a_slow_download_within_the_limit_is_waited_for() -> None:
    slow = Hanging(seconds=0.05)
    result = YFinanceMarketData(slow, call_limit_s=5.0, today=lambda: date(2024, 1, 8)).fetch(STARTS, date(2024, 1, 8))
    assert sorted(result.prices) == ["SPY", "TLT"] and result.failed == {}
