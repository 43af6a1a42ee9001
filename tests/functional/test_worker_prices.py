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
