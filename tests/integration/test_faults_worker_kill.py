"""The analysis worker's process is killed (SIGKILL) while it handles a batch (issue 9): on the local stack (moto
server, the worker in its own process, the emulated event source mapping), once in the middle of a batch of upload
events and once in the middle of a batch of analysis jobs. The messages it did not acknowledge come back after the
visibility timeout and are processed exactly once in effect: one upload row and one set of holdings per portfolio,
one analysis per portfolio, each ready; nothing dead-lettered, nothing left processing or running.

The worker's timeout is shortened to 45 s here (a killed invocation's claims last as long as the invocation could
have: its remaining time, plus a margin), the visibility timeout to 2 s, and maxReceiveCount raised so that the
retries that find the claim still held are not dead-lettered meanwhile (with the local defaults, visibility 5 s x 3
receives, they would be: on AWS the visibility timeout, 360 s, is longer than the worker's 60 s).
"""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from factor_update import service as factor_update
from labfolio_common.db.engine import dispose_engine, session_scope
from labfolio_common.db.models import Analysis, Holding, Portfolio, Upload
from sqlalchemy import func, select

from local import runtime
from local.stack import LocalConfig, LocalStack
from tests.fixtures.pipeline import key_of, make_portfolio
from tests.fixtures.polling import wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]

WORKER = "AnalysisWorkerFunction"
UNIVERSE = ["AAPL", "MSFT", "JPM", "KO", "XOM", "PFE", "WMT", "PG"]
PORTFOLIOS = 4


class ShortWorkerStack(LocalStack):
    def _start_functions(self) -> None:
        assert self.model is not None
        self.model.functions[WORKER].timeout = 45  # the template: 60 s; an analysis job needs 20 s left to start
        super()._start_functions()


@pytest.fixture
def busy(monkeypatch: pytest.MonkeyPatch) -> list[runtime.FunctionInstance]:
    """The worker instances handling an invocation right now (the pool does not keep track of them)."""
    running: list[runtime.FunctionInstance] = []
    invoke = runtime.FunctionInstance.invoke

    def tracked(self: runtime.FunctionInstance, event: Any) -> Any:
        if self.spec.logical_id != WORKER:
            return invoke(self, event)
        running.append(self)
        try:
            return invoke(self, event)
        finally:
            running.remove(self)

    monkeypatch.setattr(runtime.FunctionInstance, "invoke", tracked)
    return running


@pytest.fixture
def stack(tmp_path: Path, database_url: str, busy: list[runtime.FunctionInstance]) -> Iterator[LocalStack]:
    # one instance per function and one batch at a time: the killed instance is the only one holding claims
    config = LocalConfig(port=0, moto_port=0, data_dir=tmp_path / "data", database_url=database_url, max_instances=1)
    config.overrides = {"QueueVisibilityTimeout": "2", "QueueMaxReceiveCount": "40"}
    config.run_scheduler = False
    config.run_poller = False  # started once the first batch is waiting, so that it is one batch
    config.warm = False
    running = ShortWorkerStack(config).start()
    try:
        factor_update.run(database_url, "offline")  # the factor data the default analyses need (in-process: faster)
        yield running
    finally:
        running.stop(save=False)
        dispose_engine(database_url)


def kill_mid_batch(
    busy: list[runtime.FunctionInstance], in_flight: Callable[[], bool], finished: Callable[[], int], total: int
) -> int:
    """Freeze the busy worker while `in_flight()` (an item claimed, not finished), then SIGKILL it; returns how many
    items had finished by then."""

    def frozen() -> int | None:
        if busy and in_flight():
            pid = busy[0].process.pid
            assert pid is not None
            os.kill(pid, signal.SIGSTOP)
            if in_flight():  # still claimed now that it cannot move: killed in the middle of that item
                return pid
            os.kill(pid, signal.SIGCONT)  # it finished the item meanwhile: let it go on and try again
        return None

    pid = wait_for(frozen, timeout=120, every=0.01)
    done = finished()
    assert done < total, "the batch finished before the worker could be stopped"
    os.kill(pid, signal.SIGKILL)
    return done


def count(database_url: str, query: Any) -> int:
    with session_scope(database_url) as session:
        return int(session.scalar(query) or 0)


def test_a_worker_killed_mid_batch_loses_nothing_and_does_nothing_twice(
    stack: LocalStack, database_url: str, busy: list[runtime.FunctionInstance]
) -> None:
    resources = stack.resources
    assert resources is not None
    # given a batch of uploads for portfolios of one account, waiting on the queue
    user_id, _ = make_portfolio(database_url)
    files: dict[uuid.UUID, dict[str, float]] = {}
    for i in range(PORTFOLIOS):
        _, portfolio_id = make_portfolio(database_url, user_id)
        rows = {t: float(10 * i + j + 1) for j, t in enumerate((UNIVERSE * 2)[i : i + 5])}
        files[portfolio_id] = rows
        body = "ticker,quantity\n" + "".join(f"{t},{q:g}\n" for t, q in rows.items())
        resources.s3.put_object(Bucket=resources.bucket_names()[0], Key=key_of(user_id, portfolio_id), Body=body)
    ids = list(files)
    uploads_claimed = select(func.count()).where(Upload.status == "processing")
    uploads_done = select(func.count()).where(Upload.status == "ready")

    # when the worker is killed while it ingests them
    stack.pollers[0].start()
    ingested = kill_mid_batch(
        busy, lambda: count(database_url, uploads_claimed) > 0, lambda: count(database_url, uploads_done), PORTFOLIOS
    )
    # and again while it runs the default analyses those uploads queued
    analyses_running = select(func.count()).where(Analysis.status == "running")
    analyses_done = select(func.count()).where(Analysis.status == "ready")
    analysed = kill_mid_batch(
        busy, lambda: count(database_url, analyses_running) > 0, lambda: count(database_url, analyses_done), PORTFOLIOS
    )

    # then every message comes back and everything is done, once
    def settled() -> bool:
        ready = count(database_url, select(func.count()).where(Analysis.status == "ready"))
        return ready == PORTFOLIOS and depth("AnalysisQueue") == 0

    def depth(queue: str) -> int:
        attrs = resources.sqs.get_queue_attributes(
            QueueUrl=resources.queue_url(queue),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])

    wait_for(settled, timeout=300, every=0.5)
    assert depth("AnalysisDeadLetterQueue") == 0
    with session_scope(database_url) as session:
        uploads = session.execute(select(Upload.portfolio_id, Upload.status, Upload.attempts)).all()
        held: dict[uuid.UUID, dict[str, float]] = {i: {} for i in ids}
        for pid, ticker, quantity in session.execute(select(Holding.portfolio_id, Holding.ticker, Holding.quantity)):
            held[pid][ticker] = float(quantity)
        statuses = dict(session.execute(select(Portfolio.portfolio_id, Portfolio.status)).all())
        analyses = session.execute(select(Analysis.portfolio_id, Analysis.status, Analysis.attempts)).all()
    assert sorted(p for p, _, _ in uploads) == sorted(ids)  # one upload row per portfolio
    assert {s for _, s, _ in uploads} == {"ready"}
    assert held == files
    assert {statuses[i] for i in ids} == {"ready"}
    assert sorted(p for p, _, _ in analyses) == sorted(ids)  # one analysis per portfolio
    assert {s for _, s, _ in analyses} == {"ready"}
    # the upload and the analysis the killed worker had claimed were run again, by the retry, once
    assert max(a for _, _, a in uploads) == 2 and max(a for _, _, a in analyses) == 2
    assert ingested < PORTFOLIOS and analysed < PORTFOLIOS
