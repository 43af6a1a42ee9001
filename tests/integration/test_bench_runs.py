"""The benchmarks still run (`make bench` is not part of CI, so without this they could rot unseen).

Each is run at a tiny size in its own interpreter, as `make bench` runs it, on this suite's PostgreSQL server. Nothing
here asserts a timing: the figures belong to `make bench`. What is asserted is what each run reports besides its
timings: no errors, nothing lost, every table printed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def run_bench(code: list[str], database_url: str, timeout: float = 300) -> str:
    env = {**os.environ, "DATABASE_URL": database_url, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, *code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{code} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def test_the_load_bench_runs_without_errors_or_losses(postgres_server_url: str) -> None:
    out = run_bench(["-m", "bench", "load", "--seconds", "1", "--clients", "1", "--burst", "3"], postgres_server_url)
    rows = [line.split() for line in out.splitlines() if line.startswith(("list-portfolios", "get-analysis"))]
    assert [row[0] for row in rows] == ["list-portfolios", "get-analysis"], out
    assert all(row[1] == "1" and int(row[2]) > 0 and row[-1] == "0" for row in rows), out  # clients, requests, errors
    assert "portfolio statuses: {'ready': 3}" in out, out
    assert "0 not ready, 0 with wrong holdings" in out, out
    assert "duplicated: 0 portfolio(s) without exactly one upload row, 0 upload(s) processed more than once" in out


def test_the_auth_and_warm_benches_run_on_both_databases(postgres_server_url: str) -> None:
    code = (
        "import sys; from bench.auth import bench_auth; from bench.__main__ import bench_warm; "
        "bench_auth(sys.argv[1], 5, 1); bench_warm(5)"
    )
    out = run_bench(["-c", code, postgres_server_url], postgres_server_url)
    for database in ("sqlite", "postgresql"):
        assert f"{database:<12}GET /api/auth/me (Bearer)" in out, out
    assert "with .pyc" in out and "/api/analysis/health" in out, out
