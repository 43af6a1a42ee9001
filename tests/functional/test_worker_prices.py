"""The analysis worker's price backfill (analysis.service.backfill_prices) with the function's own settings: a newly
seen ticker is fetched through labfolio_common.market, as factor_update does, and cached in the database."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from labfolio_common.db.engine import session_scope
from labfolio_common.market import store

pytestmark = pytest.mark.functional


def test_worker_backfills_new_tickers_from_the_configured_provider(lambda_env: Any, database_url: str) -> None:
    from analysis import service

    # when a portfolio holding two demo-data stocks and one unknown ticker is seen (offline provider: local stack)
    outcome = service.backfill_prices(["AAPL", "msft", "NOTATICKER"])
    again = service.backfill_prices(["AAPL"])
    # then the two are cached from 2012-12-28 (10 years back from the demo data's last day), the unknown one failed
    assert set(outcome.updated) == {"AAPL", "MSFT"}
    assert list(outcome.failed) == ["NOTATICKER"]
    assert (again.updated, again.failed) == ({}, {})
    with session_scope(database_url) as session:
        aapl = store.read_prices(session, ["AAPL"], date(2000, 1, 1), date(2030, 1, 1))["AAPL"]
    assert (aapl.dates[0], aapl.dates[-1]) == (date(2012, 12, 28), date(2022, 12, 28))
    assert aapl.closes[-1] == 125.674  # skfolio's AAPL close on 2022-12-28


def test_an_account_brings_at_most_its_daily_share_of_new_tickers_into_the_cache(
    lambda_env: Any, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The red-team round: one account's uploads could add any number of tickers to the shared price cache, which the
    daily refresh then fetches for ever. Each account brings at most MAX_NEW_TICKERS_PER_DAY new ones in a day."""
    import uuid

    from analysis import service
    from labfolio_common.db.models import PriceTicker
    from labfolio_common.settings import get_settings
    from sqlalchemy import select

    monkeypatch.setenv("MAX_NEW_TICKERS_PER_DAY", "2")
    get_settings.cache_clear()
    mallory, alice = uuid.uuid4(), uuid.uuid4()
    first = service.backfill_prices(["AAPL", "KO", "MSFT"], mallory)  # taken in alphabetical order
    assert set(first.updated) == {"AAPL", "KO"}
    assert first.failed == {"MSFT": "not priced: this account brought 2 new tickers in within a day (the most allowed)"}
    again = service.backfill_prices(["AAPL", "JPM"], mallory)  # AAPL is cached (not new); JPM is over her share
    assert (again.updated, list(again.failed)) == ({}, ["JPM"])
    assert set(service.backfill_prices(["MSFT", "JPM"], alice).updated) == {"MSFT", "JPM"}  # another account's share
    with session_scope(database_url) as session:
        added = {ticker: by for ticker, by in session.execute(select(PriceTicker.ticker, PriceTicker.added_by))}
    assert added == {"AAPL": mallory, "KO": mallory, "MSFT": alice, "JPM": alice}
    get_settings.cache_clear()
