"""The market-data source fails for some tickers, for all of them, or hangs past the adapter's limit (issue 9).

The yfinance adapter is the one in production; `yfinance.download` itself is replaced by recorded answers of the shape
yfinance 1.7 gives (a failed ticker's column all NaN and its error logged, an EMPTY frame when the network is down, an
answer that does not come), so everything from the adapter up is the real code. No network.

- factor_update: the factors whose data did not come are named in the answer, logged and counted
  (FactorUpdateFailed); their returns stay exactly as they were, the others are updated.
- the analysis worker: a new holding the source cannot price because it is down or hangs leaves its analysis
  queued with the reason (`last_error`) and the job message retried, the portfolio's previous analysis untouched;
  a ticker the source does not know is dropped from the analysis, which says so (data quality, notes).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import threading
from collections.abc import Iterator
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pytest
from labfolio_common.db.engine import session_scope
from labfolio_common.db.models import Analysis, FactorReturn
from labfolio_common.market.yahoo import YFinanceMarketData
from sqlalchemy import func, select

from local.aws_resources import LocalResources
from tests.fixtures.analyses import Account, browser_upload, drain, ready_portfolio
from tests.fixtures.aws import load_event
from tests.fixtures.pipeline import notifications

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]

DNS_ERROR = "DNSError('Failed to perform, curl: (6) Could not resolve host: query2.finance.yahoo.com.')"
DELISTED = "YFPricesMissingError('possibly delisted; no price data found')"


class Source:
    """yf.download as recorded: a deterministic price path per ticker on business days, except for the tickers
    `missing` (NaN column, error logged as yfinance logs it), everything when `down` (empty frame, DNS error logged),
    or no answer at all when `hanging` (until released)."""

    def __init__(self) -> None:
        self.missing: set[str] = set()
        self.down = False
        self.hanging = False
        self.released = threading.Event()
        self.calls = 0

    def __call__(self, tickers: list[str], *, start: str, end: str, **_: Any) -> pd.DataFrame:
        self.calls += 1
        log = logging.getLogger("yfinance")
        if self.hanging:
            self.released.wait(60)
        if self.down:
            log.error("%s: %s", [*tickers], DNS_ERROR)
            columns = pd.MultiIndex.from_product([["Close", "Open"], sorted(tickers)], names=["Price", "Ticker"])
            return pd.DataFrame(index=pd.DatetimeIndex([]), columns=columns, dtype=float)
        days = pd.bdate_range(start, pd.Timestamp(end) - pd.Timedelta(days=1), name="Date")
        closes = {}
        for ticker in sorted(tickers):
            seed = sum(map(ord, ticker))
            steps = np.random.default_rng(seed).normal(0.0003, 0.01, len(days))
            closes[ticker] = (
                100 * np.exp(np.cumsum(steps)) if ticker not in self.missing else np.full(len(days), np.nan)
            )
        if self.missing & set(tickers):
            log.error("%s: %s", sorted(self.missing & set(tickers)), DELISTED)
        frame = pd.concat({"Close": pd.DataFrame(closes, index=days)}, axis=1, names=["Price", "Ticker"])
        return frame


@pytest.fixture
def source(monkeypatch: pytest.MonkeyPatch) -> Iterator[Source]:
    import yfinance

    recorded = Source()
    monkeypatch.setattr(yfinance, "download", recorded)
    yield recorded
    recorded.released.set()


def adapter(today: date) -> YFinanceMarketData:
    """The production adapter (yf.download resolved at call time: the recorded one), no waiting between retries and
    a short limit for a hanging download."""
    return YFinanceMarketData(call_limit_s=0.5, sleep=lambda _: None, today=lambda: today)


_STDOUT = io.StringIO()


def invoke(handler: Any, event: dict[str, Any], context: Any) -> tuple[Any, list[dict[str, Any]]]:
    """Call a Lambda handler; its answer and the Powertools JSON lines (logs and EMF metrics) it wrote to stdout. A
    batch whose every record failed raises in Powertools (the invocation fails: SQS retries them all): answered here
    as every record in batchItemFailures, as the event source mapping treats it."""
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
    from labfolio_common.observability import logger

    _STDOUT.seek(0)
    _STDOUT.truncate()
    previous = logger.registered_handler.setStream(_STDOUT)
    try:
        with contextlib.redirect_stdout(_STDOUT):
            try:
                answer = handler(event, context)
            except BatchProcessingError:
                answer = {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]}
    finally:
        logger.registered_handler.setStream(previous)
    lines = [json.loads(line) for line in _STDOUT.getvalue().splitlines() if line.startswith("{")]
    return answer, lines


def metric(lines: list[dict[str, Any]], name: str) -> float:
    total = 0.0
    for line in lines:
        if name in line and "_aws" in line:
            value = line[name]
            total += sum(value) if isinstance(value, list) else value
    return total


def returns(database_url: str) -> dict[str, tuple[int, date, float]]:
    with session_scope(database_url) as session:
        rows = session.execute(
            select(
                FactorReturn.factor_id,
                func.count(),
                func.max(FactorReturn.date),
                func.sum(FactorReturn.return_value),
            ).group_by(FactorReturn.factor_id)
        ).all()
    return {f: (int(n), last, float(total)) for f, n, last, total in rows}


# ----------------------------------------------------------------------------------------------- factor_update


@pytest.mark.parametrize("fault", ["some tickers", "every ticker", "a hang"])
def test_factor_update_names_what_the_source_did_not_give_and_keeps_its_old_returns(
    fault: str,
    lambda_env: LocalResources,
    database_url: str,
    lambda_context: Any,
    source: Source,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from factor_update import service
    from factor_update.handler import lambda_handler
    from labfolio_common.settings import get_settings

    monkeypatch.setenv("MARKET_HISTORY_YEARS", "1")
    get_settings.cache_clear()
    event = load_event("eventbridge_scheduled.json")
    # given last week's returns of every factor
    monkeypatch.setattr(service, "market_data", lambda _: adapter(date(2024, 6, 21)))
    first, _ = invoke(lambda_handler, event, lambda_context)
    assert first["failed"] == {} and first["updated"]
    before = returns(database_url)
    factors = sorted(first["updated"])
    # when this week's run meets the fault
    if fault == "some tickers":
        source.missing = {"MTUM", "QUAL"}
    elif fault == "every ticker":
        source.down = True
    else:
        source.hanging = True
    monkeypatch.setattr(service, "market_data", lambda _: adapter(date(2024, 6, 28)))
    summary, lines = invoke(lambda_handler, event, lambda_context)
    after = returns(database_url)
    # then it says which factors failed and why, in its answer, its log and its metric, and keeps their old returns
    failed = sorted(summary["failed"])
    expected = ["MTUM", "QUAL"] if fault == "some tickers" else factors
    assert failed == expected
    reason = {"some tickers": "possibly delisted", "every ticker": "Could not resolve host", "a hang": "timed out"}
    assert all(reason[fault] in text for text in summary["failed"].values())
    logged = {line["factor_id"] for line in lines if line.get("message") == "factor returns not updated"}
    assert sorted(logged) == expected
    assert metric(lines, "FactorUpdateFailed") == len(expected)
    assert {f: after[f] for f in expected} == {f: before[f] for f in expected}
    updated = [f for f in factors if f not in expected]
    assert all(after[f][1] == date(2024, 6, 28) and after[f][0] > before[f][0] for f in updated)
    if fault == "a hang":
        assert source.calls == 2  # the first run and one attempt of the second: a hang is not retried at once


# ----------------------------------------------------------------------------------------------- analyses

BOOK = b"ticker,quantity\nAAPL,120\nMSFT,60\nKO,150\n"


@pytest.fixture
def analysed(
    lambda_env: LocalResources, database_url: str, lambda_context: Any
) -> Iterator[tuple[Account, str, Analysis]]:
    """An account with a portfolio analysed on the offline data (the factor returns and prices cached)."""
    from factor_update import service

    service.run(database_url, "offline")
    account = Account(lambda_context, "dora")
    portfolio_id = ready_portfolio(account, lambda_env, lambda_context, BOOK)
    drain(lambda_env, lambda_context)
    [done] = analyses(database_url)
    assert done.status == "ready"
    yield account, portfolio_id, done


def analyses(database_url: str) -> list[Analysis]:
    with session_scope(database_url) as session:
        found = list(session.scalars(select(Analysis).order_by(Analysis.created_at)).all())
        for row in found:
            session.expunge(row)
    return found


# A source that is down (every ticker failing with a network error) takes the same path as a hang (a transient
# reason): the hang is the one tested here, the refresh above tests both.
@pytest.mark.parametrize("fault", ["a hang"])
def test_an_analysis_whose_new_holding_cannot_be_priced_is_retried_saying_why_and_the_old_one_stays(
    fault: str,
    analysed: tuple[Account, str, Analysis],
    lambda_env: LocalResources,
    database_url: str,
    lambda_context: Any,
    source: Source,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from analysis import service
    from analysis.worker import lambda_handler

    account, portfolio_id, previous = analysed
    # given the market-data source down (or hanging) when a re-upload brings a ticker the cache has never seen
    monkeypatch.setattr(service, "market_data", lambda _: adapter(date(2022, 12, 28)))
    source.down, source.hanging = fault == "down", fault == "a hang"
    form = account("POST", f"/api/portfolios/{portfolio_id}/upload", function="portfolios").body
    browser_upload(form, BOOK + b"NEWCO,10\n")
    assert invoke(lambda_handler, notifications(lambda_env), lambda_context)[0] == {"batchItemFailures": []}
    # when the worker takes the default analysis the re-upload queued
    job = notifications(lambda_env)
    answer, lines = invoke(lambda_handler, job, lambda_context)
    # then the job is not acknowledged (SQS retries it), the analysis is queued again saying why
    assert [f["itemIdentifier"] for f in answer["batchItemFailures"]] == [r["messageId"] for r in job["Records"]]
    old, new = analyses(database_url)
    assert (new.status, new.attempts) == ("queued", 1)
    assert "market data unavailable for NEWCO" in (new.last_error or "")
    assert any(line.get("message") == "analysis interrupted, will be retried" for line in lines)
    assert metric(lines, "AnalysisRetried") == 1
    # and the previous analysis is untouched
    assert (old.analysis_id, old.status, old.result, old.finished_at) == (
        previous.analysis_id,
        "ready",
        previous.result,
        previous.finished_at,
    )
    # once the source is back, the retry prices the new holding and the analysis is ready
    source.down, source.hanging = False, False
    source.released.set()
    assert invoke(lambda_handler, job, lambda_context)[0] == {"batchItemFailures": []}
    new = analyses(database_url)[1]
    assert (new.status, new.attempts) == ("ready", 2)
    assert "NEWCO" in new.result["data_quality"]["coverage"]


def test_a_ticker_the_source_does_not_know_is_dropped_and_the_analysis_says_so(
    analysed: tuple[Account, str, Analysis],
    lambda_env: LocalResources,
    database_url: str,
    lambda_context: Any,
    source: Source,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from analysis import service
    from analysis.worker import lambda_handler

    account, portfolio_id, _ = analysed
    monkeypatch.setattr(service, "market_data", lambda _: adapter(date(2022, 12, 28)))
    source.missing = {"GONECO"}
    form = account("POST", f"/api/portfolios/{portfolio_id}/upload", function="portfolios").body
    browser_upload(form, BOOK + b"GONECO,10\n")
    assert invoke(lambda_handler, notifications(lambda_env), lambda_context)[0] == {"batchItemFailures": []}
    # the upload keeps the ticker with a warning naming the source's reason
    found = account("GET", f"/api/portfolios/{portfolio_id}", function="portfolios").body
    assert any("GONECO" in w["message"] and "possibly delisted" in w["message"] for w in found["warnings"])
    # and its analysis is ready without it, saying so
    answer, _ = invoke(lambda_handler, notifications(lambda_env), lambda_context)
    assert answer == {"batchItemFailures": []}
    new = analyses(database_url)[1]
    assert new.status == "ready"
    dropped = {d["ticker"]: d["reason"] for d in new.result["data_quality"]["dropped"]}
    assert "GONECO" in dropped and "GONECO" not in new.result.get("weights", {})
    assert set(new.result.get("weights", {})) == {"AAPL", "MSFT", "KO"}
