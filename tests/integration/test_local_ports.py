"""Local stacks that never cross: each talks only to the moto server it started (DESIGN.md §3), two `make dev` on one
machine each analyse their own demo portfolio, and a demo portfolio left without holdings is repaired at the next
start."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from labfolio_common.db.engine import dispose_engine, session_scope
from labfolio_common.db.models import Account, Portfolio
from sqlalchemy import func, select

from local.aws_resources import aws_client
from local.demo import DEMO_PORTFOLIO_NAME, DEMO_USERNAME, ensure_demo_account, latest_analysis_status
from local.moto import MotoServer, PortTakenError
from local.stack import LocalConfig, LocalStack
from tests.fixtures.polling import wait_for
from tests.integration.test_make_dev import ROOT, call, free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def first_moto() -> Iterator[MotoServer]:
    server = MotoServer().start()
    yield server
    server.stop()


def test_moto_server_refuses_a_port_it_was_given_that_another_server_holds(first_moto: MotoServer) -> None:
    with pytest.raises(PortTakenError, match=rf"port {first_moto.port} .* is taken .* LABFOLIO_MOTO_PORT"):
        MotoServer(port=first_moto.port).start()


def test_moto_server_on_a_taken_default_port_takes_a_free_one_of_its_own(first_moto: MotoServer) -> None:
    # given a bucket in the first server
    aws_client("s3", first_moto.endpoint).create_bucket(Bucket="first-stacks-bucket")
    # when a second server is asked for the same port, with fallback (the default port of `make dev`)
    second = MotoServer(port=first_moto.port, fallback=True).start()
    try:
        # then it answers on another port, and what answers there is the second server, empty
        assert second.port != first_moto.port
        assert aws_client("s3", second.endpoint).list_buckets()["Buckets"] == []
        assert [b["Name"] for b in aws_client("s3", first_moto.endpoint).list_buckets()["Buckets"]] == [
            "first-stacks-bucket"
        ]
    finally:
        second.stop()


def _make_dev(port: int, data_dir: Path) -> subprocess.Popen[bytes]:
    """`make dev` with its defaults, moto's port included (4566, or a free one when that is taken)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "LABFOLIO_MOTO_PORT")}
    env = {k: v for k, v in env.items() if not k.startswith("AWS_")}
    env.update(LABFOLIO_PORT=str(port), LABFOLIO_DATA_DIR=str(data_dir))
    log = (data_dir.parent / f"{data_dir.name}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "local"], cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True
    )


def _analysed_demo(base: str, data_dir: Path) -> Any:
    """The demo portfolio's latest analysis once it has finished (None before)."""
    password_file = data_dir / "demo_password"
    if not password_file.is_file():
        return None
    status, login = call(
        base, "POST", "/api/auth/login", {"username": "demo", "password": password_file.read_text().strip()}
    )
    if status != 200:
        return None
    _, page = call(base, "GET", "/api/portfolios", token=login["access_token"])
    items = (page or {}).get("items") or []
    if len(items) == 1 and items[0].get("latest_analysis_id"):
        _, analysis = call(base, "GET", f"/api/analyses/{items[0]['latest_analysis_id']}", token=login["access_token"])
        if analysis and analysis["status"] in ("ready", "failed"):
            return {"portfolio": items[0], "analysis": analysis}
    return None


def test_two_stacks_started_together_each_analyse_their_own_demo_portfolio(tmp_path: Path) -> None:
    stacks = [(free_port(), tmp_path / name) for name in ("one", "two")]
    for _, data_dir in stacks:
        data_dir.mkdir()
    processes = [_make_dev(port, data_dir) for port, data_dir in stacks]
    logs = [tmp_path / f"{data_dir.name}.log" for _, data_dir in stacks]
    try:
        for log in logs:  # the address is printed once the stack answers
            wait_for(lambda log=log: "labfolio local stack ready in" in log.read_text(errors="replace"), 180, 0.25)
        done = [
            wait_for(lambda p=port, d=data_dir: _analysed_demo(f"http://127.0.0.1:{p}", d), 240, every=0.5)
            for port, data_dir in stacks
        ]
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGINT)
        for process in processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    outputs = [log.read_text(errors="replace") for log in logs]
    for answer, log in zip(done, outputs, strict=True):
        assert answer["analysis"]["status"] == "ready", (answer, log[-3000:])
        assert answer["portfolio"]["portfolio_name"] == DEMO_PORTFOLIO_NAME
    assert done[0]["portfolio"]["portfolio_id"] != done[1]["portfolio"]["portfolio_id"]
    endpoints = [re.findall(r"AWS_ENDPOINT_URL=(http://[\d.:]+)", log) for log in outputs]
    assert all(len(found) == 1 for found in endpoints), endpoints
    assert endpoints[0] != endpoints[1], "both stacks named one moto server"
    assert not any("names no portfolio of its owner" in log for log in outputs), "a stack took the other's upload"


def _break_demo_portfolio(data_dir: Path) -> tuple[str, uuid.UUID]:
    """The state a crash (or a stolen upload) leaves: the demo account and its demo portfolio, never uploaded."""
    from labfolio_common.db.models import utcnow
    from labfolio_common.db.queries import new_portfolio

    from migrations.runner import upgrade

    url = f"sqlite:///{data_dir / 'labfolio.db'}"
    upgrade(url)
    ensure_demo_account(url, data_dir)
    with session_scope(url) as db:
        user_id = db.scalar(select(Account.user_id).where(func.lower(Account.username) == DEMO_USERNAME))
        portfolio_id = new_portfolio(db, user_id, DEMO_PORTFOLIO_NAME, utcnow()).portfolio_id
    dispose_engine(url)
    return url, portfolio_id


def test_a_demo_portfolio_without_holdings_is_uploaded_again_at_the_next_start(tmp_path: Path) -> None:
    # given a demo portfolio stuck awaiting its upload
    url, stuck = _break_demo_portfolio(tmp_path)
    # when the stack starts again (scheduler on: factor data first, then the demo step)
    config = LocalConfig(port=0, moto_port=0, data_dir=tmp_path, database_url=url, max_instances=1)
    stack = LocalStack(config).start()
    try:

        def portfolio() -> Any:
            with session_scope(url) as db:
                row = db.get(Portfolio, stuck)
                return (row.status, row.holdings_count) if row and row.status in ("ready", "failed") else None

        # then the same portfolio gets its holdings and its default analysis
        assert wait_for(portfolio, 240, every=0.25) == ("ready", 12)
        finished = ("ready", "failed")
        assert wait_for(lambda: (status := latest_analysis_status(url, stuck)) in finished and status, 120) == "ready"
        with session_scope(url) as db:
            assert db.scalar(select(func.count()).select_from(Portfolio)) == 1  # repaired, not duplicated
    finally:
        stack.stop(save=False)
        dispose_engine(url)
