"""Analysis benchmarks (issue 6): the worker's import time, end to end through the local stack, peak memory.

1. Import time of the worker (cold-start proxy, fresh interpreter, empty bytecode cache and filled): the module
   itself (what an S3 upload event needs), and what the first job message adds (numpy, pandas, the engine).
2. End to end on the local stack (moto server, gateway, functions in their own processes, the SQS poller), SQLite and
   PostgreSQL when DATABASE_URL names a server: the demo portfolio uploaded on a fresh stack until its default
   analysis is ready (ingestion, the first job's imports and the factor ETFs' backfill included); then re-runs asked
   for through the API (POST → queue → worker → stored result → GET sees `ready`), against the 2 s target. Both the
   client's view (POST to ready) and the server's (the analysis's created_at to finished_at).
3. Peak memory (VmHWM) of one process running the worker's use case (analysis.runner: load from the database,
   engine, gzip CSV, store) for N synthetic holdings with cached prices, against the 500 MB target at N=500.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.common import ROOT, on_path, scratch_databases

TARGET_S = 2.0
MEMORY_TARGET_MB = 500.0
RERUNS = 7


def _paths() -> None:
    on_path("layers/common", "functions/analysis", "functions/factor_update")


# ------------------------------------------------------------------ 1. import time

_IMPORT = (
    "import sys, time, json; t = time.perf_counter(); import analysis.worker; w = time.perf_counter() - t; "
    "t = time.perf_counter(); import analysis.runner, analysis.domain.engine, pandas; j = time.perf_counter() - t; "
    "print(json.dumps([w, j]))"
)


def _import_once(cache_dir: str) -> tuple[float, float]:
    env = {
        "PYTHONPATH": f"{ROOT / 'functions/analysis'}:{ROOT / 'layers/common'}",
        "PYTHONPYCACHEPREFIX": cache_dir,
        "PATH": os.environ.get("PATH", ""),
        "OPENBLAS_NUM_THREADS": "1",
    }
    out = subprocess.run([sys.executable, "-c", _IMPORT], env=env, capture_output=True, text=True, check=True, cwd="/")
    worker, job = json.loads(out.stdout.strip().splitlines()[-1])
    return float(worker), float(job)


def bench_worker_imports(runs: int = 5) -> None:
    print(f"\nAnalysis worker import time, fresh interpreter (median of {runs})")
    print(f"{'':<44}{'no .pyc (s)':>13}{'with .pyc (s)':>15}")
    cold: list[tuple[float, float]] = []
    warm: list[tuple[float, float]] = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as cache:
            cold.append(_import_once(cache))
            warm.append(_import_once(cache))
    rows = [("import analysis.worker (an upload event)", 0), ("+ first job: numpy, pandas, the engine", 1)]
    for label, i in rows:
        c, w = statistics.median(s[i] for s in cold), statistics.median(s[i] for s in warm)
        print(f"{label:<44}{c:>13.3f}{w:>15.3f}")


# ------------------------------------------------------------------ 2. end to end on the local stack


def _stack(database_url: str, data_dir: Path) -> Any:
    from local.events import scheduled_event
    from local.stack import LocalConfig, LocalStack

    config = LocalConfig(port=0, moto_port=0, data_dir=data_dir, database_url=database_url, max_instances=2)
    config.run_scheduler = False
    stack = LocalStack(config).start()
    rule = "arn:aws:events:us-east-1:123456789012:rule/labfolio-local-FactorUpdateFunctionDaily"
    stack.invoke("FactorUpdateFunction", scheduled_event(rule))
    return stack


def _server_seconds(database_url: str, analysis_id: str) -> float:
    from labfolio_common.db.engine import session_scope
    from labfolio_common.db.models import Analysis

    with session_scope(database_url) as db:
        row = db.get(Analysis, uuid.UUID(analysis_id))
        assert row is not None and row.finished_at is not None
        return (row.finished_at - row.created_at).total_seconds()


def _wait(session: Any, url: str, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        found: dict[str, Any] = session.get(url, timeout=30).json()
        if found.get("status") in ("ready", "failed"):
            if found["status"] == "failed":
                raise RuntimeError(f"analysis failed: {found['error']}")
            return found
        time.sleep(0.01)
    raise RuntimeError(f"not ready within {timeout:.0f} s")


def _end_to_end(label: str, database_url: str, data_dir: Path) -> None:
    import requests
    from labfolio_common.portfolio_csv import template_csv

    stack = _stack(database_url, data_dir)
    try:
        base = stack.start_http()
        session = requests.Session()
        signed = session.post(
            f"{base}/api/auth/signup", json={"username": "bench-analysis", "password": "correct horse battery"}
        )
        signed.raise_for_status()
        session.headers["authorization"] = f"Bearer {signed.json()['access_token']}"
        created = session.post(f"{base}/api/portfolios", json={"portfolio_name": "demo"}).json()
        form, portfolio_id = created["upload"], created["portfolio_id"]
        start = time.perf_counter()
        requests.post(form["url"], data=form["fields"], files={"file": ("d.csv", template_csv(), "text/csv")})
        listing = f"{base}/api/portfolios/{portfolio_id}/analyses"
        while not (items := session.get(listing).json().get("items")) or items[0]["status"] not in ("ready", "failed"):
            time.sleep(0.01)
        first = time.perf_counter() - start
        first_server = _server_seconds(database_url, items[0]["analysis_id"])
        client, server = [], []
        for i in range(RERUNS):
            factors = ["SP500", "MTUM", "QUAL", "SIZE", "USMV", "VLUE"][: 2 + i % 5]
            start = time.perf_counter()
            asked = session.post(listing, json={"factor_ids": factors})
            asked.raise_for_status()
            _wait(session, f"{base}/api/analyses/{asked.json()['analysis_id']}")
            client.append(time.perf_counter() - start)
            server.append(_server_seconds(database_url, asked.json()["analysis_id"]))
    finally:
        stack.stop_http()
        stack.stop(save=False)
    med, worst, srv = statistics.median(client), max(client), statistics.median(server)
    print(
        f"{label:<12}{first:>16.2f}{first_server:>12.2f}{med:>14.2f}{worst:>10.2f}{srv:>13.2f}"
        f"{'  within' if worst <= TARGET_S else '  OVER'} {TARGET_S:.0f} s"
    )


def bench_end_to_end(server_url: str | None) -> None:
    _paths()

    print(
        "\nAnalysis end to end on the local stack, the demo portfolio (12 holdings, offline data, 2-year window):\n"
        "upload → ingestion → default analysis ready (fresh stack: the worker's first job imports numpy/pandas and\n"
        f"backfills the factor ETFs), then {RERUNS} re-runs POSTed through the API until GET says ready (warm worker)"
    )
    print(
        f"{'database':<12}{'upload→ready':>16}{'(server)':>12}{'re-run p50':>14}{'max':>10}{'(server p50)':>13}  target"
    )
    with (
        tempfile.TemporaryDirectory() as tmp,
        scratch_databases(server_url, Path(tmp), "analysis", migrate=False) as databases,
    ):
        for label, url in databases:
            _end_to_end(label, url, Path(tmp) / label)


# ------------------------------------------------------------------ 3. peak memory


def _seed(database_url: str, n: int, days: int) -> str:
    """A migrated database with the offline factor library, N synthetic holdings with `days` of cached prices to
    2022-12-28 (a random walk each), and one queued analysis of them; the analysis id."""
    from analysis import analyses
    from analysis.adapters import sql_analyses
    from analysis.domain.params import AnalysisParams
    from factor_update import service as factor_update
    from labfolio_common.db.engine import session_scope
    from labfolio_common.db.models import Account, Holding, Portfolio, Price, PriceTicker, UserPortfolio, utcnow
    from labfolio_common.market import market_data
    from labfolio_common.market.refresh import ensure_prices
    from sqlalchemy import insert

    from migrations import runner

    runner.upgrade(database_url)
    factor_update.run(database_url, "offline")
    with session_scope(database_url) as db:
        params = analyses.default_params(db)
    ensure_prices(database_url, market_data("offline"), params["factor_ids"])  # the ETFs' closes, as a first run
    rng = random.Random(n)
    end = date(2022, 12, 28)
    calendar = [end - timedelta(days=i) for i in range(int(days * 7 / 5) + 10)]
    calendar = sorted(d for d in calendar if d.weekday() < 5)[-days:]
    tickers = [f"SYN{i:05d}" for i in range(n)]
    with session_scope(database_url) as db:
        user, portfolio = uuid.uuid4(), uuid.uuid4()
        db.add(Account(user_id=user, username=f"mem{n}", password_hash="x"))
        db.add(Portfolio(portfolio_id=portfolio, portfolio_name="synthetic", status="ready", holdings_count=n))
        db.flush()
        db.add(UserPortfolio(user_id=user, portfolio_id=portfolio))
        db.execute(insert(PriceTicker), [{"ticker": t, "data_source": "offline"} for t in tickers])
        db.execute(
            insert(Holding),
            [{"portfolio_id": portfolio, "ticker": t, "position": i, "quantity": 100.0} for i, t in enumerate(tickers)],
        )
    for ticker in tickers:
        price, rows = 100.0, []
        for day in calendar:
            price *= 1.0 + rng.gauss(0.0003, 0.018)
            rows.append({"ticker": ticker, "date": day, "adj_close": price})
        with session_scope(database_url) as db:
            db.execute(insert(Price), rows)
    start = None if days < 600 else calendar[1]
    with session_scope(database_url) as db:
        chosen = AnalysisParams.from_json(params)
        if start is not None:
            chosen = AnalysisParams.from_json({**params, "start": start.isoformat()})
        row = sql_analyses.create(
            db, portfolio_id=portfolio, user_id=user, params=chosen.to_json(), trigger="request", now=utcnow()
        )
        return str(row.analysis_id)


_MEASURE = """
import json, sys, time, uuid
sys.path[:0] = {paths!r}
from labfolio_common.market.refresh import Outcome
from analysis import runner
import analysis.domain.engine, pandas

class Bucket:
    stored = 0
    def put_object(self, **kw): Bucket.stored = len(kw["Body"])
    def delete_object(self, **kw): pass

def status_mb(field):  # VmHWM: this process's peak RSS (ru_maxrss would carry the parent's over fork + exec)
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024

before = status_mb("VmHWM")
ports = runner.Ports({url!r}, Bucket(), "bench", backfill=lambda tickers: Outcome())
start = time.perf_counter()
outcome = runner.run(uuid.UUID({analysis_id!r}), ports)
seconds = time.perf_counter() - start
peak = status_mb("VmHWM")
print(json.dumps({{"outcome": outcome, "seconds": seconds, "before_mb": before, "peak_mb": peak,
                   "stored_bytes": Bucket.stored}}))
"""


def _measure(database_url: str, analysis_id: str) -> dict[str, Any]:
    paths = [str(ROOT / p) for p in ("layers/common", "functions/analysis")]
    code = _MEASURE.format(paths=paths, url=database_url, analysis_id=analysis_id)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "OPENBLAS_NUM_THREADS": "1",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "bench",
        "POWERTOOLS_METRICS_NAMESPACE": "labfolio",
    }
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd="/")
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def bench_worker_memory(cases: tuple[tuple[int, int], ...] = ((500, 520), (500, 1262), (5000, 520))) -> None:
    _paths()
    import logging

    logging.disable(logging.INFO)
    print(
        "\nAnalysis worker peak memory: one job (load from SQLite, engine, gzip CSV, store) in a fresh process,"
        f"\nN synthetic holdings with cached prices (target {MEMORY_TARGET_MB:.0f} MB at N=500)"
    )
    header = f"{'N':>6}{'price days':>12}{'seed (s)':>10}{'run (s)':>9}{'after imports (MB)':>20}{'peak (MB)':>11}"
    print(f"{header}  stored")
    for n, days in cases:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/memory.db"
            started = time.perf_counter()
            analysis_id = _seed(url, n, days)
            seeded = time.perf_counter() - started
            found = _measure(url, analysis_id)
            assert found["outcome"] == "ready", found
            print(
                f"{n:>6}{days:>12}{seeded:>10.1f}{found['seconds']:>9.2f}{found['before_mb']:>20.0f}"
                f"{found['peak_mb']:>11.0f}  {found['stored_bytes'] / 1e6:.1f} MB gzip CSV"
            )
    logging.disable(logging.NOTSET)


def bench_analysis(server_url: str | None) -> None:
    """Issue 6: the worker's import time, end to end through the local stack, peak memory."""
    _paths()
    bench_worker_imports()
    bench_end_to_end(server_url)
    bench_worker_memory()


if __name__ == "__main__":
    bench_analysis(os.environ.get("DATABASE_URL"))
