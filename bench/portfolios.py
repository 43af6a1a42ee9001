"""Portfolio benchmarks (issue 5).

1. Parse + validate a 5,000-row CSV (the row cap) with labfolio_common.portfolio_csv: median of several runs,
   against the 100 ms budget.
2. Ingestion throughput on the local stack (moto server, gateway, functions in their own processes, the SQS
   poller): one account creates 200 portfolios of 10-20 holdings of the offline demo universe through the API and
   uploads each through its presigned POST, as browsers would; the time until every one is `ready`, and the rate.
   Also the demo portfolio alone (upload to ready) on a fresh stack, where its tickers are backfilled first.
   On SQLite, and on PostgreSQL when DATABASE_URL names a server (a throwaway database).
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.common import on_path, scratch_databases

UNIVERSE = ["AAPL", "AMD", "BAC", "BBY", "CVX", "GE", "HD", "JNJ", "JPM", "KO"]
UNIVERSE += ["LLY", "MRK", "MSFT", "PEP", "PFE", "PG", "RRC", "UNH", "WMT", "XOM"]  # the offline demo stocks
PORTFOLIOS = 200
BUDGET_MS = 100.0


def _paths() -> None:
    on_path("layers/common", "functions/analysis")


def bench_parse(runs: int = 15) -> None:
    _paths()
    from labfolio_common.portfolio_csv import MAX_HOLDINGS, parse_portfolio_csv

    rng = random.Random(5)
    files = {
        "quantity": "ticker,quantity,price\n"
        + "".join(f'T{i},"{rng.uniform(-5000, 5000):,.2f}",{rng.uniform(1, 500):.2f}\n' for i in range(MAX_HOLDINGS)),
        "weight (%)": "symbol;weight\n" + "".join(f"t{i};{100 / MAX_HOLDINGS:.6f}%\n" for i in range(MAX_HOLDINGS)),
    }
    print(f"\nPortfolio CSV: parse + validate {MAX_HOLDINGS:,} rows (median of {runs}; budget {BUDGET_MS:.0f} ms)")
    print(f"{'file':<14}{'bytes':>10}{'median (ms)':>14}{'max (ms)':>10}{'of budget':>11}")
    for name, text in files.items():
        data = text.encode()
        parsed = parse_portfolio_csv(data)
        assert len(parsed.holdings) == MAX_HOLDINGS, name
        samples = []
        for _ in range(runs):
            start = time.perf_counter()
            parse_portfolio_csv(data)
            samples.append((time.perf_counter() - start) * 1000)
        median = statistics.median(samples)
        print(f"{name:<14}{len(data):>10,}{median:>14.1f}{max(samples):>10.1f}{median / BUDGET_MS:>10.0%}")


def _portfolio(rng: random.Random) -> bytes:
    tickers = rng.sample(UNIVERSE, rng.randint(10, 20))
    return ("ticker,quantity\n" + "".join(f"{t},{rng.randint(1, 500)}\n" for t in tickers)).encode()


@contextmanager
def _stack(database_url: str, data_dir: Path) -> Iterator[tuple[Any, str]]:
    from local.stack import LocalConfig, LocalStack

    config = LocalConfig(port=0, moto_port=0, data_dir=data_dir, database_url=database_url, max_instances=2)
    config.run_scheduler = False
    stack = LocalStack(config).start()
    try:
        yield stack, stack.start_http()
    finally:
        stack.stop_http()
        stack.stop(save=False)


class _Client:
    def __init__(self, base: str, username: str) -> None:
        import requests

        self.session = requests.Session()
        self.base = base
        answer = self.session.post(
            f"{base}/api/auth/signup", json={"username": username, "password": "correct horse battery"}, timeout=30
        )
        answer.raise_for_status()
        self.session.headers["authorization"] = f"Bearer {answer.json()['access_token']}"

    def create(self, name: str) -> dict[str, Any]:
        answer = self.session.post(f"{self.base}/api/portfolios", json={"portfolio_name": name}, timeout=30)
        answer.raise_for_status()
        return dict(answer.json())


def _post(form: dict[str, Any], content: bytes) -> None:
    import requests

    answer = requests.post(form["url"], data=form["fields"], files={"file": ("p.csv", content, "text/csv")}, timeout=60)
    answer.raise_for_status()


def _statuses(database_url: str) -> dict[str, int]:
    from labfolio_common.db.engine import session_scope
    from labfolio_common.db.models import Portfolio
    from sqlalchemy import func, select

    with session_scope(database_url) as session:
        rows = session.execute(select(Portfolio.status, func.count()).group_by(Portfolio.status)).all()
    return {status: int(n) for status, n in rows}


def _wait_ready(database_url: str, expected: int, timeout: float = 900.0) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        statuses = _statuses(database_url)
        if statuses.get("ready", 0) + statuses.get("failed", 0) >= expected:
            if statuses.get("failed"):
                raise RuntimeError(f"some portfolios failed: {statuses}")
            return time.perf_counter()
        time.sleep(0.05)
    raise RuntimeError(f"not ready within {timeout:.0f} s: {_statuses(database_url)}")


def _run(label: str, database_url: str, tmp: Path) -> None:
    from labfolio_common.portfolio_csv import template_csv

    rng = random.Random(200)
    with _stack(database_url, tmp / f"{label}-demo") as (_, base):
        client = _Client(base, "bench-demo")
        form = client.create("demo")["upload"]
        start = time.perf_counter()
        _post(form, template_csv())
        demo = _wait_ready(database_url, 1) - start
    with _stack(database_url, tmp / f"{label}-many") as (stack, base):
        client = _Client(base, "bench-many")
        warm = client.create("warm-up")
        _post(warm["upload"], ("ticker,quantity\n" + "".join(f"{t},1\n" for t in UNIVERSE)).encode())
        _wait_ready(database_url, 2)  # the demo portfolio of the first stack counts (same database)
        start = time.perf_counter()
        created = [client.create(f"p{i}") for i in range(PORTFOLIOS)]
        creating = time.perf_counter() - start
        files = [_portfolio(rng) for _ in created]
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(_post, [c["upload"] for c in created], files))
        posted = time.perf_counter() - start
        done = _wait_ready(database_url, PORTFOLIOS + 2) - start
        batches = stack.pollers[0].batches
    rate = PORTFOLIOS / done
    print(f"{label:<12}{demo:>10.2f}{creating:>12.2f}{posted:>10.2f}{done:>12.2f}{rate:>10.1f}{batches:>9}")


def bench_ingestion(server_url: str | None) -> None:
    _paths()
    print(
        f"\nIngestion on the local stack: the demo portfolio alone on a fresh stack (its tickers backfilled first);\n"
        f"then {PORTFOLIOS} portfolios of 10-20 holdings (offline universe, tickers already cached): created through"
        f" the API,\nPOSTed to S3 with their presigned forms (8 at a time), until all are ready"
    )
    header = f"{'database':<12}{'demo (s)':>10}{'create (s)':>12}{'POST (s)':>10}{'ready (s)':>12}{'per s':>10}"
    print(f"{header}{'batches':>9}")
    with (
        tempfile.TemporaryDirectory() as tmp,
        scratch_databases(server_url, Path(tmp), "portfolios", migrate=False) as databases,
    ):
        for label, url in databases:
            _run(label, url, Path(tmp))


def bench_portfolios(server_url: str | None) -> None:
    bench_parse()
    bench_ingestion(server_url)


if __name__ == "__main__":
    import os

    bench_portfolios(os.environ.get("DATABASE_URL"))
