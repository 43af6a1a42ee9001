"""Load on the local stack (issue 9), loopback only, bounded in count and time. Run alone: `python -m bench load`.

The local stack whole (moto server, gateway, the functions in their own processes, the SQS poller) on PostgreSQL:
DATABASE_URL's server (a throwaway database on it) or, without it, a throwaway cluster started for the run.

1. HTTP: 10 and 50 concurrent clients (threads of a separate load-generator process, one keep-alive connection
   each, Bearer token) for a fixed time each on list-portfolios (`GET /api/portfolios`, an account with 20
   portfolios) and get-analysis (`GET /api/analyses/{id}`, the demo portfolio's default analysis with its whole
   result): requests/s, p50/p99/max, errors (any status but 200, or no answer within 30 s). Targets: zero errors;
   p99 <= 250 ms at 10 clients.
2. Ingestion burst: N portfolios created through the API, then their files POSTed to S3 at once through their
   presigned forms (16 at a time); the time until every portfolio is `ready`, and a check that none was lost
   (all ready, each with its file's holdings) and none duplicated (one upload row per portfolio, processed once;
   one default analysis queued per portfolio).

Nothing here passes or fails; the figures are printed.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from bench.common import is_postgres, on_path

UNIVERSE = ["AAPL", "AMD", "BAC", "BBY", "CVX", "GE", "HD", "JNJ", "JPM", "KO"]
UNIVERSE += ["LLY", "MRK", "MSFT", "PEP", "PFE", "PG", "RRC", "UNH", "WMT", "XOM"]  # the offline demo stocks
RULE = "arn:aws:events:us-east-1:123456789012:rule/labfolio-local-FactorUpdateFunctionDaily"
PASSWORD = "correct horse battery"


def _paths() -> None:
    on_path("layers/common", "functions/analysis")


# ------------------------------------------------------------------ the database and the stack


@contextmanager
def _postgres(server_url: str | None) -> Iterator[str]:
    """A throwaway database on DATABASE_URL's PostgreSQL server, or on a throwaway cluster started here."""
    from tests.fixtures.db import scratch_database, throwaway_cluster

    with ExitStack() as stack:
        if not is_postgres(server_url):
            server_url, name, seconds = stack.enter_context(throwaway_cluster())
            print(f"(no PostgreSQL DATABASE_URL: throwaway cluster {name}, up in {seconds:.1f} s)")
        yield stack.enter_context(scratch_database(server_url))  # type: ignore[arg-type]


@contextmanager
def _stack(database_url: str, data_dir: Path, instances: int) -> Iterator[tuple[Any, str]]:
    from local.events import scheduled_event
    from local.stack import LocalConfig, LocalStack

    config = LocalConfig(
        port=0,
        moto_port=0,
        data_dir=data_dir,
        database_url=database_url,
        max_instances=instances,
        overrides={"LogLevel": "WARNING"},  # the functions' INFO lines (one or more per request) would drown the table
    )
    config.run_scheduler = False
    stack = LocalStack(config).start()
    try:
        stack.invoke("FactorUpdateFunction", scheduled_event(RULE))  # the factor data the analyses need
        yield stack, stack.start_http()
    finally:
        stack.stop_http()
        stack.stop(save=False)


class _Client:
    """The set-up's API client. A 5xx is retried: on a busy machine a cold function instance may not finish its init
    within the function's timeout (the gateway answers 500, as Lambda would), and the next one usually does."""

    def __init__(self, base: str, username: str) -> None:
        import requests

        self.session = requests.Session()
        self.base = base
        self.token = self._call("POST", "/api/auth/signup", json={"username": username, "password": PASSWORD})[
            "access_token"
        ]
        self.session.headers["authorization"] = f"Bearer {self.token}"

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        for attempt in range(20):
            answer = self.session.request(method, f"{self.base}{path}", timeout=60, **kwargs)
            if answer.status_code < 500 or attempt == 19:
                break
            time.sleep(2.0)
        answer.raise_for_status()
        return answer.json()

    def create(self, name: str) -> dict[str, Any]:
        return dict(self._call("POST", "/api/portfolios", json={"portfolio_name": name}))

    def get(self, path: str) -> Any:
        return self._call("GET", path)


def _post(form: dict[str, Any], content: bytes) -> None:
    import requests

    for attempt in range(3):
        try:
            answer = requests.post(
                form["url"], data=form["fields"], files={"file": ("p.csv", content, "text/csv")}, timeout=60
            )
            answer.raise_for_status()
            return
        except requests.RequestException:
            if attempt == 2:
                raise
            time.sleep(0.5)


# ------------------------------------------------------------------ 1. HTTP load


def _load_worker(url: str, token: str, clients: int, seconds: float, out: Any) -> None:
    """In its own process: `clients` threads, each a keep-alive connection, GET `url` until the time is up."""
    import requests

    stop_at = time.perf_counter() + seconds
    lock = threading.Lock()
    latencies: list[float] = []
    errors: dict[str, int] = {}

    def client() -> None:
        session = requests.Session()
        session.headers["authorization"] = f"Bearer {token}"
        mine: list[float] = []
        while time.perf_counter() < stop_at:
            start = time.perf_counter()
            try:
                answer = session.get(url, timeout=30)
                _ = answer.content
                failed = None if answer.status_code == 200 else str(answer.status_code)
            except Exception as exc:
                failed = type(exc).__name__
            if failed:
                with lock:
                    errors[failed] = errors.get(failed, 0) + 1
            else:
                mine.append(time.perf_counter() - start)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.put({"latencies": latencies, "errors": errors, "elapsed": time.perf_counter() - started})


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def _run_load(url: str, token: str, clients: int, seconds: float) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    process = ctx.Process(target=_load_worker, args=(url, token, clients, seconds, out))
    process.start()
    result: dict[str, Any] = out.get(timeout=seconds + 120)
    process.join(timeout=30)
    return result


def bench_http(base: str, token: str, analysis_id: str, seconds: float, levels: tuple[int, ...]) -> None:
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nHTTP load through the local gateway (real handlers, PostgreSQL), {seconds:.0f} s per row")
    print(f"(machine: {os.cpu_count()} CPUs, load average {load} before the run; the load generator runs on it too)")
    print(
        f"{'route':<20}{'clients':>8}{'requests':>10}{'req/s':>9}{'p50 (ms)':>10}{'p99 (ms)':>10}{'max (ms)':>10}"
        "  errors"
    )
    routes = {"list-portfolios": "/api/portfolios", "get-analysis": f"/api/analyses/{analysis_id}"}
    for label, path in routes.items():
        # warm-up, not counted: every instance the pool may start is started (a cold start takes seconds here)
        _run_load(f"{base}{path}", token, max(levels), min(10.0, seconds))
        for clients in levels:
            found = _run_load(f"{base}{path}", token, clients, seconds)
            ok = found["latencies"]
            errors = sum(found["errors"].values())
            rate = (len(ok) + errors) / found["elapsed"]
            p50 = _percentile(ok, 0.50) * 1000 if ok else float("nan")
            p99 = _percentile(ok, 0.99) * 1000 if ok else float("nan")
            top = max(ok) * 1000 if ok else float("nan")
            detail = f"{errors} {found['errors']}" if errors else "0"
            print(
                f"{label:<20}{clients:>8}{len(ok) + errors:>10}{rate:>9.1f}{p50:>10.1f}{p99:>10.1f}{top:>10.1f}"
                f"  {detail}",
                flush=True,
            )


def _setup_http(base: str) -> tuple[str, str, int]:
    """An account with 20 portfolios, one of them the demo portfolio with its default analysis ready."""
    from labfolio_common.portfolio_csv import template_csv

    client = _Client(base, "bench-load")
    demo = client.create("demo")
    _post(demo["upload"], template_csv())
    for i in range(19):
        client.create(f"empty {i}")
    listing = f"/api/portfolios/{demo['portfolio_id']}/analyses"
    deadline = time.monotonic() + 300
    while True:
        items = client.get(listing)["items"]
        if items and items[0]["status"] in ("ready", "failed"):
            break
        if time.monotonic() > deadline:
            raise RuntimeError("the demo portfolio's analysis was not ready within 300 s")
        time.sleep(0.1)
    if items[0]["status"] != "ready":
        raise RuntimeError(f"the demo portfolio's analysis failed: {items[0]['error']}")
    size = len(client.session.get(f"{base}/api/analyses/{items[0]['analysis_id']}", timeout=60).content)
    return client.token, items[0]["analysis_id"], size


# ------------------------------------------------------------------ 2. ingestion burst


def _portfolio(rng: random.Random) -> tuple[bytes, dict[str, int]]:
    tickers = rng.sample(UNIVERSE, rng.randint(5, 15))
    rows = {t: rng.randint(1, 500) for t in tickers}
    return ("ticker,quantity\n" + "".join(f"{t},{q}\n" for t, q in rows.items())).encode(), rows


def _counts(database_url: str, ids: list[uuid.UUID]) -> dict[str, Any]:
    from labfolio_common.db.engine import session_scope
    from labfolio_common.db.models import Analysis, Portfolio, Upload
    from sqlalchemy import func, select

    with session_scope(database_url) as session:
        statuses = dict(
            session.execute(
                select(Portfolio.status, func.count()).where(Portfolio.portfolio_id.in_(ids)).group_by(Portfolio.status)
            ).all()
        )
        uploads = session.execute(
            select(Upload.portfolio_id, func.count(), func.max(Upload.attempts), func.min(Upload.status))
            .where(Upload.portfolio_id.in_(ids))
            .group_by(Upload.portfolio_id)
        ).all()
        analyses = session.execute(
            select(Analysis.portfolio_id, func.count())
            .where(Analysis.portfolio_id.in_(ids))
            .group_by(Analysis.portfolio_id)
        ).all()
        analysis_statuses = dict(
            session.execute(
                select(Analysis.status, func.count()).where(Analysis.portfolio_id.in_(ids)).group_by(Analysis.status)
            ).all()
        )
    return {"statuses": statuses, "uploads": uploads, "analyses": analyses, "analysis_statuses": analysis_statuses}


def _holdings(database_url: str, ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, float]]:
    from labfolio_common.db.engine import session_scope
    from labfolio_common.db.models import Holding
    from sqlalchemy import select

    found: dict[uuid.UUID, dict[str, float]] = {i: {} for i in ids}
    with session_scope(database_url) as session:
        for pid, ticker, quantity in session.execute(
            select(Holding.portfolio_id, Holding.ticker, Holding.quantity).where(Holding.portfolio_id.in_(ids))
        ):
            found[pid][ticker] = float(quantity)
    return found


def bench_ingestion(stack: Any, base: str, database_url: str, count: int, timeout: float) -> None:
    rng = random.Random(9)
    client = _Client(base, "bench-burst")
    start = time.perf_counter()
    created = [client.create(f"burst {i}") for i in range(count)]
    creating = time.perf_counter() - start
    ids = [uuid.UUID(c["portfolio_id"]) for c in created]
    files = [_portfolio(rng) for _ in created]
    batches = stack.pollers[0].batches
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(_post, [c["upload"] for c in created], [f for f, _ in files]))
    posted = time.perf_counter() - start
    done = None
    while time.perf_counter() - start < timeout:
        counts = _counts(database_url, ids)
        if counts["statuses"].get("ready", 0) + counts["statuses"].get("failed", 0) >= count:
            done = time.perf_counter() - start
            break
        time.sleep(0.2)
    counts = _counts(database_url, ids)
    held = _holdings(database_url, ids)
    wrong = sum(held[i] != {t: float(q) for t, q in rows.items()} for i, (_, rows) in zip(ids, files, strict=True))
    uploads = {pid: (n, attempts, status) for pid, n, attempts, status in counts["uploads"]}
    one_row = sum(1 for pid in ids if uploads.get(pid, (0,))[0] == 1)
    extra_attempts = sum(1 for pid in ids if pid in uploads and uploads[pid][1] > 1)
    analyses = dict(counts["analyses"])
    one_analysis = sum(1 for pid in ids if analyses.get(pid, 0) == 1)
    print(
        f"\nIngestion burst on the local stack (PostgreSQL): {count} portfolios created through the API in "
        f"{creating:.1f} s,\nthen their files POSTed to S3 through presigned forms, 16 at a time, in {posted:.1f} s"
    )
    if done is None:
        print(f"  NOT all ready within {timeout:.0f} s: {counts['statuses']}")
    else:
        print(
            f"  all {count} settled {done:.1f} s after the first POST ({count / done:.1f} portfolios/s; "
            f"{stack.pollers[0].batches - batches} worker batches, default analyses queued behind them)"
        )
    print(f"  portfolio statuses: {dict(counts['statuses'])}")
    print(
        f"  lost (not ready, or holdings differing from the file): {count - counts['statuses'].get('ready', 0)}"
        f" not ready, {wrong} with wrong holdings"
    )
    print(
        f"  duplicated: {count - one_row} portfolio(s) without exactly one upload row, "
        f"{extra_attempts} upload(s) processed more than once, {count - one_analysis} portfolio(s) without exactly "
        f"one default analysis"
    )
    print(f"  default analyses by then: {dict(counts['analysis_statuses'])}")


# ------------------------------------------------------------------ entry point


def bench_load(
    server_url: str | None,
    *,
    seconds: float = 60.0,
    levels: tuple[int, ...] = (10, 50),
    burst: int = 500,
    instances: int | None = None,
) -> None:
    _paths()
    import logging

    logging.getLogger("labfolio.local").setLevel(logging.ERROR)
    from local.stack import LocalConfig

    instances = instances or int(os.environ.get("LABFOLIO_MAX_INSTANCES", str(LocalConfig.max_instances)))
    print(f"\nLoad (issue 9): local stack on PostgreSQL, {instances} warm instance(s) per function at most")
    with (
        tempfile.TemporaryDirectory() as tmp,
        _postgres(server_url) as database_url,
        _stack(database_url, Path(tmp) / "load", instances) as (stack, base),
    ):
        token, analysis_id, size = _setup_http(base)
        print(f"(get-analysis answers {size:,} bytes of JSON; list-portfolios 20 portfolios)")
        bench_http(base, token, analysis_id, seconds, levels)
        if burst:
            bench_ingestion(stack, base, database_url, burst, timeout=900.0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench load", description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0, help="per route and client count (default 60)")
    parser.add_argument("--clients", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--burst", type=int, default=500, help="portfolios in the ingestion burst (0: none)")
    parser.add_argument(
        "--instances", type=int, default=None, help="instances per function (the local stack's default)"
    )
    args = parser.parse_args(argv)
    bench_load(
        os.environ.get("DATABASE_URL"),
        seconds=args.seconds,
        levels=tuple(args.clients),
        burst=args.burst,
        instances=args.instances,
    )


if __name__ == "__main__":
    main()
