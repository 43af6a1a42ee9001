"""`make dev` as a newcomer runs it: `python -m local` in its own process, with nothing but the defaults (SQLite,
offline market data, the demo account), on ports of its own. It serves, the demo portfolio arrives analysed, and
Ctrl-C, which a terminal sends to the whole foreground process group, or SIGTERM to the process alone (`kill`,
`timeout`, a supervisor) stops every part of it: exit 0, no process of its session left, moto's port free again, the S3
objects saved for the next start."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.polling import wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def session_members(sid: int) -> list[str]:
    """The processes of session `sid` (what `ps -s` lists): their pid and command line."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == sid:  # after the command: state, ppid, pgrp, session
                command = (stat.parent / "cmdline").read_bytes().replace(b"\x00", b" ").decode(errors="replace")
                found.append(f"{stat.parent.name}: {command}")
        except (OSError, IndexError, ValueError):
            continue  # it ended while being read
    return found


def call(base: str, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    headers = {"content-type": "application/json"} if body is not None else {}
    if token:
        headers["authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")
    except OSError:  # refused, reset or timed out (URLError is one): not answering yet
        return 0, None


@pytest.mark.parametrize(
    "stop",
    [
        pytest.param(lambda pid: os.killpg(pid, signal.SIGINT), id="ctrl-c"),  # a terminal: the foreground group
        pytest.param(lambda pid: os.kill(pid, signal.SIGTERM), id="sigterm"),  # `kill`, `timeout`, a supervisor
    ],
)
def test_python_m_local_serves_the_analysed_demo_and_stops_cleanly(tmp_path: Path, stop: Any) -> None:
    port, moto_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("AWS_")}
    env.update(LABFOLIO_PORT=str(port), LABFOLIO_MOTO_PORT=str(moto_port), LABFOLIO_DATA_DIR=str(tmp_path))
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "stack.log").open("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "local"], cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True
    )
    try:
        # "ready" is printed once the stack answers: from then on, the first request gets its answer
        ready = "labfolio local stack ready in "
        wait_for(lambda: ready in (tmp_path / "stack.log").read_text(), 180, every=0.1)
        assert re.search(rf"{ready}[\d.]+ s: {base}/", (tmp_path / "stack.log").read_text())
        assert call(base, "GET", "/api/health") == (200, {"status": "ok"})

        password = (tmp_path / "demo_password").read_text().strip()
        status, login = call(base, "POST", "/api/auth/login", {"username": "demo", "password": password})
        assert status == 200, login
        token = login["access_token"]
        status, health = call(base, "GET", "/api/health/detail", token=token)
        assert status == 200 and set(health["parts"]) == {"database", "bucket", "queue"}, health

        def analysed() -> Any:
            _, page = call(base, "GET", "/api/portfolios", token=token)
            items = (page or {}).get("items") or []
            if items and items[0]["status"] == "ready" and items[0].get("latest_analysis_id"):
                _, analysis = call(base, "GET", f"/api/analyses/{items[0]['latest_analysis_id']}", token=token)
                return analysis if analysis and analysis["status"] in ("ready", "failed") else None
            return None

        analysis = wait_for(analysed, 180, every=0.5)
        assert analysis["status"] == "ready", analysis
        assert analysis["result"]["portfolio"]["betas"], analysis["result"]["portfolio"]

        stop(process.pid)
        assert process.wait(timeout=60) == 0
        assert wait_for(lambda: not session_members(process.pid), 10, every=0.2)
    finally:
        if process.poll() is None or session_members(process.pid):
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.seek(0)
        output = log.read()
        log.close()
    assert "labfolio local stack stopped" in output, output[-3000:]
    assert not listening(port) and not listening(moto_port), "a part of the stack outlived its stop"
    assert (tmp_path / "labfolio.db").stat().st_size > 0
    saved = [p.name for p in (tmp_path / "s3").rglob("*") if p.is_file()]
    assert any(name.endswith(".csv") for name in saved), f"the demo upload was not saved for the next start: {saved}"
