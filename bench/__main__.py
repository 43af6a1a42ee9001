"""labfolio benchmarks: `make bench` (one BLAS thread). Prints tables; nothing here passes or fails.

1. Cold start as Lambda starts (bench/cold_start.py): a cold `sam build` (timed; `--build-dir` reuses one), each
   function's unzipped size with its layers against Lambda's limit, and each handler imported from the build output
   alone in a fresh interpreter, with the bytecode the build ships and without it, median of several runs; what the
   first use adds (numpy, pandas, yfinance) and whether the import loaded them.
2. Warm latency: each HTTP handler invoked in-process with its health event (API Gateway v2) N times: p50/p99.
3. Market data (bench/market.py): 50 factors x 10 years of returns into PostgreSQL (DATABASE_URL), bulk vs row by
   row, an incremental day, peak memory.
4. Auth (bench/auth.py): one argon2id hash; warm p50/p99 of the auth routes that do not hash (me, refresh; SQLite
   and PostgreSQL); the auth handler's import time and first request in a fresh interpreter.
5. The factor engine (bench/engine.py): run_analysis at N=20 (real demo data) and N=500 (synthetic) against
   linearmodels' LinearFactorModel.fit() and a statsmodels OLS loop, in one run; peak memory at N=500 and N=5,000.
6. Portfolios (bench/portfolios.py): parse + validate a 5,000-row CSV against its 100 ms budget; ingestion on the
   local stack: the demo portfolio from upload to ready, and 200 portfolios uploaded through presigned POSTs until
   all are ready (portfolios per second), on SQLite and PostgreSQL.
7. Analyses (bench/analysis.py): the worker's import time (and what its first job adds); end to end on the local
   stack for the demo portfolio (upload → default analysis ready; re-runs POST → queue → worker → stored result,
   against 2 s), on SQLite and PostgreSQL; the worker's peak memory for one job at N=500 and N=5,000.
8. Load (bench/load.py; alone: `python -m bench load [--seconds S] [--clients 10 50] [--burst N]`): 10 and 50
   concurrent clients on list-portfolios and get-analysis through the local gateway on PostgreSQL (req/s, p50/p99,
   errors), and a burst of 500 uploads until all are ready (none lost, none duplicated).
9. `make dev` itself (bench/dev_start.py; alone only: `python -m bench dev-start`): seconds from the command to
   "ready", the first answered health check and the demo portfolio analysed, on a fresh clone and warm restarts.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from pathlib import Path

from bench.analysis import bench_analysis
from bench.auth import bench_auth
from bench.cold_start import bench_cold_start
from bench.common import LambdaContext
from bench.market import bench_market_data
from bench.portfolios import bench_portfolios

ROOT = Path(__file__).resolve().parent.parent
HTTP = {"auth": "auth.handler", "portfolios": "portfolios.handler", "analysis": "analysis.handler"}


def health_event(path: str) -> dict:
    event = copy.deepcopy(json.loads((ROOT / "events/http_api_get_health.json").read_text()))
    event["routeKey"] = event["requestContext"]["routeKey"] = f"GET {path}"
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    return event


def bench_warm(iterations: int) -> None:
    import importlib
    import logging

    for sub in ("functions/auth", "functions/portfolios", "functions/analysis", "layers/common"):
        sys.path.insert(0, str(ROOT / sub))
    os.environ.update(
        {
            "DATABASE_URL": "sqlite://",
            "UPLOADS_BUCKET": "bench-bucket",
            "ANALYSIS_QUEUE_URL": "http://localhost/q",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
    )
    logging.disable(logging.INFO)
    print(f"\nWarm latency: health route through the real handler (Mangum + FastAPI), in-process, {iterations} calls")
    print(f"{'route':<28}{'p50 (ms)':>10}{'p99 (ms)':>10}{'max (ms)':>10}")
    context = LambdaContext()
    for function, module in HTTP.items():
        handler = importlib.import_module(module).lambda_handler
        path = f"/api/{function}/health"
        event = health_event(path)
        for _ in range(50):
            assert handler(copy.deepcopy(event), context)["statusCode"] == 200
        samples = []
        for _ in range(iterations):
            ev = copy.deepcopy(event)
            start = time.perf_counter()
            handler(ev, context)
            samples.append((time.perf_counter() - start) * 1000)
        samples.sort()
        p50, p99 = samples[len(samples) // 2], samples[int(len(samples) * 0.99) - 1]
        print(f"{path:<28}{p50:>10.3f}{p99:>10.3f}{samples[-1]:>10.3f}")


def bench_engine() -> None:
    """5. The factor engine (issue 6): timings and ratios against linearmodels and statsmodels, peak memory."""
    from bench.engine import run

    run()


def main() -> None:
    if sys.argv[1:2] == ["load"]:  # the load run alone
        from bench.load import main as load_main

        load_main(sys.argv[2:])
        return
    if sys.argv[1:2] == ["dev-start"]:  # make dev timed on a fresh clone and warm restarts (not part of the whole run)
        from bench.dev_start import main as dev_start_main

        dev_start_main(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--import-runs", type=int, default=3)
    parser.add_argument("--build-dir", type=Path, help="an existing `sam build` output (default: a fresh build)")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    database_url = os.environ.get("DATABASE_URL")  # read before bench_warm sets its own
    bench_cold_start(args.import_runs, args.build_dir)
    bench_warm(args.iterations)
    bench_market_data(database_url)
    bench_auth(database_url, args.iterations, args.import_runs)
    bench_engine()
    bench_portfolios(database_url)
    bench_analysis(database_url)
    from bench.load import bench_load

    bench_load(database_url)


if __name__ == "__main__":
    main()
