"""`make dev` as a newcomer meets it: seconds from the command to "ready" printed, to the first answered
GET /api/health, and to the demo portfolio analysed; on a fresh clone (the virtualenv made from uv.lock included) and
on a warm restart (the same clone and data again).

    python -m bench dev-start [--runs N] [--keep-clone]

Each run is `make dev` in its own process group on free ports (LABFOLIO_PORT, LABFOLIO_MOTO_PORT=0), stopped with
Ctrl-C to the group once the demo portfolio's analysis is ready. Nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, None
    except OSError:
        return 0, None


def _demo_analysed(base: str, data_dir: Path) -> bool:
    password = (data_dir / "demo_password").read_text().strip()
    status, login = _get(f"{base}/api/auth/login", body={"username": "demo", "password": password})
    if status != 200:
        return False
    _, page = _get(f"{base}/api/portfolios", login["access_token"])
    items = (page or {}).get("items") or []
    if not items or not items[0].get("latest_analysis_id"):
        return False
    _, analysis = _get(f"{base}/api/analyses/{items[0]['latest_analysis_id']}", login["access_token"])
    return bool(analysis) and analysis["status"] == "ready"


def run_once(checkout: Path, data_dir: Path, timeout: float = 600.0) -> dict[str, float]:
    """Seconds from `make dev` to: "ready" printed, health answered 200, demo portfolio analysed."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith(("AWS_", "VIRTUAL_ENV"))}
    env.update(LABFOLIO_PORT=str(port), LABFOLIO_MOTO_PORT="0", LABFOLIO_DATA_DIR=str(data_dir))
    log_path = data_dir.parent / f"{data_dir.name}-{port}.log"
    base, marks = f"http://127.0.0.1:{port}", {}
    started = time.perf_counter()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            ["make", "dev"], cwd=checkout, env=env, stdout=log, stderr=log, start_new_session=True
        )
        try:
            while len(marks) < 3 and time.perf_counter() - started < timeout:
                elapsed = time.perf_counter() - started
                if "ready" not in marks and "labfolio local stack ready in" in log_path.read_text(errors="replace"):
                    marks["ready"] = elapsed
                if "health" not in marks and _get(f"{base}/api/health")[0] == 200:
                    marks["health"] = elapsed
                if "health" in marks and "analysed" not in marks and _demo_analysed(base, data_dir):
                    marks["analysed"] = time.perf_counter() - started
                time.sleep(0.1)
        finally:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    return marks


def bench_dev_start(runs: int = 2, keep_clone: bool = False) -> None:
    work = Path(tempfile.mkdtemp(prefix="labfolio-dev-start-"))
    clone = work / "labfolio"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    rows = []
    try:
        for attempt in range(1 + runs):
            kind = "fresh clone (venv from uv.lock, new data)" if attempt == 0 else "warm restart (same data)"
            marks = run_once(clone, clone / ".local")
            rows.append((kind, marks))
    finally:
        if not keep_clone:
            shutil.rmtree(work, ignore_errors=True)
    print("\nmake dev: seconds from the command to ...")
    print(f"{'run':45s} {'ready printed':>14s} {'health 200':>11s} {'demo analysed':>14s}")
    for kind, marks in rows:
        cells = [f"{marks[k]:.1f}" if k in marks else "-" for k in ("ready", "health", "analysed")]
        print(f"{kind:45s} {cells[0]:>14s} {cells[1]:>11s} {cells[2]:>14s}")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench dev-start")
    parser.add_argument("--runs", type=int, default=2, help="warm restarts after the fresh clone")
    parser.add_argument("--keep-clone", action="store_true")
    args = parser.parse_args(argv)
    bench_dev_start(args.runs, args.keep_clone)
