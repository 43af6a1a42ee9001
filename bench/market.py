"""Market-data benchmark (issue 4): bulk upsert of 50 factors x 10 years of daily returns (~126,000 rows) into
PostgreSQL through factor_update's real code path, then one incremental day, against a naive row-by-row insert
measured in the same run; peak memory of the backfill.

Needs PostgreSQL: DATABASE_URL names a server on which a throwaway database is created and dropped.
"""

from __future__ import annotations

import math
import os
import resource
import sys
import time
from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

FACTORS = 50
YEARS = 10
NAIVE_ROWS = 12_600  # 10% of the backfill in one transaction: row by row is slow; its rate is what is compared
NAIVE_COMMITTED_ROWS = 2_000  # committing every row is slower still


class SyntheticMarketData:
    """A provider with a random-walk price for each of `count` tickers on every business day up to `as_of`."""

    name = "yfinance"
    demo = False

    def __init__(self, count: int, start: date, as_of: date) -> None:
        self.tickers = [f"F{i:03d}" for i in range(count)]
        self._as_of = as_of
        self.days = [start + timedelta(days=i) for i in range((as_of - start).days + 370)]
        self.days = [d for d in self.days if d.weekday() < 5]
        self.prices = {
            t: [100.0 * math.exp(0.01 * math.sin(i * (k + 1) * 0.37) + 0.0002 * i) for i in range(len(self.days))]
            for k, t in enumerate(self.tickers)
        }

    def as_of(self) -> date:
        return self._as_of

    def covers(self, ticker: str) -> bool:
        return True

    def fetch(self, starts: Mapping[str, date], end: date):  # type: ignore[no-untyped-def]
        from labfolio_common.market import FetchResult, PriceSeries

        result = FetchResult()
        for ticker, start in starts.items():
            keep = [i for i, d in enumerate(self.days) if start <= d <= end]
            dates = tuple(self.days[i] for i in keep)
            result.prices[ticker] = PriceSeries(ticker, dates, tuple(self.prices[ticker][i] for i in keep))
        return result


def bench_market_data(server_url: str | None) -> None:
    print("\nMarket data: factor returns into PostgreSQL (50 factors x 10 years), bulk vs row by row")
    if not server_url or not server_url.split(":", 1)[0].startswith("postgres"):
        print(
            "  skipped: set DATABASE_URL to a PostgreSQL server (e.g. postgresql+pg8000://postgres@127.0.0.1:5432/test)"
        )
        return
    for path in (str(ROOT), str(ROOT / "layers/common")):
        if path not in sys.path:
            sys.path.insert(0, path)
    from tests.fixtures.db import scratch_database

    with scratch_database(server_url) as url:
        _run(url)


def _run(url: str) -> None:
    from labfolio_common.db.engine import session_scope
    from labfolio_common.db.models import Factor
    from labfolio_common.db.upsert import upsert
    from labfolio_common.market.refresh import refresh
    from labfolio_common.market.returns import rounded, simple_returns
    from sqlalchemy import text

    from migrations import runner

    runner.upgrade(url)
    as_of = date(2024, 12, 31)
    provider = SyntheticMarketData(FACTORS, date(2014, 12, 1), as_of)
    with session_scope(url) as session:
        upsert(session, Factor, [{"factor_id": t, "factor_name": t} for t in provider.tickers], ["factor_id"])

    # the naive ways, on a sample (row by row is slow; its rate is what is compared): the prototype's (delete the
    # factor's returns, then one INSERT per row, each committed: a failure in between lost the data), and the best a
    # row-by-row insert can do (every row in one transaction)
    sample = provider.fetch({t: date(2014, 12, 31) for t in provider.tickers[:5]}, as_of)
    rows = [(t, d, r) for t, s in sample.prices.items() for d, r in rounded(simple_returns(s))][:NAIVE_ROWS]
    per_commit_rate = _row_by_row(url, rows[:NAIVE_COMMITTED_ROWS], commit_each=True)
    one_tx_rate = _row_by_row(url, rows, commit_each=False)

    # the real code path: one fetch, one transaction and one upsert statement per factor
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    summary = refresh(url, provider, provider.tickers, history_years=YEARS)
    backfill_s = time.perf_counter() - started
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    written = sum(summary.factors.updated.values())
    bulk_rate = written / backfill_s

    # one more day
    provider._as_of = as_of + timedelta(days=1)
    started = time.perf_counter()
    day = refresh(url, provider, provider.tickers, history_years=YEARS)
    incremental_s = time.perf_counter() - started
    new_rows = sum(day.factors.updated.values())
    with session_scope(url) as session:
        stored = session.scalar(text("SELECT count(*) FROM factor.returns"))

    print(f"  {'':<36}{'rows':>10}{'seconds':>9}{'rows/s':>10}")
    print(f"  {'row by row, commit each (prototype)':<36}{NAIVE_COMMITTED_ROWS:>10,}{'':>9}{per_commit_rate:>10,.0f}")
    print(f"  {'row by row, one transaction':<36}{len(rows):>10,}{'':>9}{one_tx_rate:>10,.0f}")
    print(f"  {'bulk backfill through refresh()':<36}{written:>10,}{backfill_s:>9.2f}{bulk_rate:>10,.0f}")
    day_rate = new_rows / incremental_s
    print(f"  {'incremental day (7-day overlap)':<36}{new_rows:>10,}{incremental_s:>9.2f}{day_rate:>10,.0f}")
    print(
        f"  bulk vs row by row: {bulk_rate / per_commit_rate:.0f}x the prototype's, {bulk_rate / one_tx_rate:.1f}x "
        f"a single-transaction row-by-row insert (target >= 20x)"
    )
    print(
        f"  full backfill {backfill_s:.2f} s (target < 5 s; row by row: ~{written / per_commit_rate:.0f} s "
        f"committing each row, ~{written / one_tx_rate:.0f} s in one transaction); {stored:,} rows stored"
    )
    print(f"  peak RSS of this process {rss_after:.0f} MB (before the backfill {rss_before:.0f} MB; target <= 300 MB)")


def _row_by_row(url: str, rows: list[tuple[str, date, float]], *, commit_each: bool) -> float:
    """Rows per second of DELETE + one INSERT per row (through the raw pg8000 connection: no ORM overhead)."""
    from labfolio_common.db.engine import get_engine

    raw = get_engine(url).raw_connection()
    try:
        cursor = raw.cursor()
        started = time.perf_counter()
        for factor_id in sorted({r[0] for r in rows}):
            cursor.execute("DELETE FROM factor.returns WHERE factor_id = %s", (factor_id,))
            raw.commit()
        for row in rows:
            cursor.execute("INSERT INTO factor.returns (factor_id, date, return_value) VALUES (%s, %s, %s)", row)
            if commit_each:
                raw.commit()
        raw.commit()
        seconds = time.perf_counter() - started
        cursor.execute("DELETE FROM factor.returns")
        raw.commit()
    finally:
        raw.close()
    return len(rows) / seconds


if __name__ == "__main__":  # python -m bench.market: this section alone
    bench_market_data(os.environ.get("DATABASE_URL"))
