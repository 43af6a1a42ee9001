"""PostgreSQL stops in the middle of an ingestion and of a factor update, then comes back (issue 9).

The server is a throwaway cluster of this module's own (Debian's pg_createcluster / pg_ctlcluster over the
installed PostgreSQL 15 binaries: they run pg_ctl as the postgres user), stopped with `pg_ctlcluster ... stop -m
fast` - which ends every session, rolling back open transactions - at a chosen point inside the code, then started
again. The shared server on 5432 is never touched.

What must hold: nothing half-written (a portfolio's holdings are the old file's or the new file's, a factor's
returns are yesterday's or today's, never a mix), the SQS message is not acknowledged but retried and succeeds, and
nothing stays `processing`.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest
from labfolio_common.db.engine import dispose_engine, session_scope
from labfolio_common.db.models import FactorReturn, Holding, Portfolio, Upload
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from local.aws_resources import LocalResources
from local.events import scheduled_event
from local.model import load_model
from local.moto import MotoServer
from local.poller import SqsPoller
from local.runtime import InvocationError
from migrations import runner
from tests.fixtures.db import PG_VERSION, throwaway_cluster, unpooled_engine
from tests.fixtures.pipeline import key_of, make_portfolio

pytestmark = pytest.mark.integration

FIRST = b"ticker,quantity\nAAPL,10\nMSFT,5\n"
SECOND = b"ticker,quantity\nKO,100\nPEP,40\nJNJ,25\n"


class Cluster:
    """A throwaway PostgreSQL cluster this module may stop and start."""

    def __init__(self, url: str, name: str) -> None:
        self.url, self.name = url, name
        self.stops = 0

    def _ctl(self, action: str, *args: str) -> None:
        command = ["pg_ctlcluster", "--skip-systemctl-redirect", PG_VERSION, self.name, action, *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"pg_ctlcluster {action}: {done.stderr.strip()}"

    def stop(self) -> None:
        self._ctl("stop", "-m", "fast")  # every session ends; open transactions are rolled back
        self.stops += 1

    def start(self) -> None:
        self._ctl("start")

    def database(self) -> str:
        """A new database on the cluster, copied from the migrated template."""
        name = f"lf_fault_{uuid.uuid4().hex[:12]}"
        admin = unpooled_engine(self.url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE lf_fault_template')
        finally:
            admin.dispose()
        return make_url(self.url).set(database=name).render_as_string(hide_password=False)


def kept(key: str) -> str:
    """Where the worker keeps the file of an ingested upload (the key the holdings name)."""
    from labfolio_common.uploads import kept_file_key, parse_upload_key

    return kept_file_key(parse_upload_key(key))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with throwaway_cluster() as (url, name, _):
        admin = unpooled_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql("CREATE DATABASE lf_fault_template")
        admin.dispose()
        template = make_url(url).set(database="lf_fault_template").render_as_string(hide_password=False)
        runner.upgrade(template)
        dispose_engine(template)
        yield Cluster(url, name)


@pytest.fixture
def database(cluster: Cluster) -> Iterator[str]:
    url = cluster.database()
    yield url
    dispose_engine(url)


@pytest.fixture
def env(
    aws: MotoServer, database: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[LocalResources, SqsPoller, list[dict[str, Any]]]]:
    """The template's resources with a 1 s visibility timeout (so a retry comes quickly) and room for retries, the
    functions' environment on the cluster's database, and the event source mapping invoking the worker in-process
    with a context whose invocation ends in 1 s (so the claim of a failed attempt ends soon after)."""
    from labfolio_common.settings import get_settings

    resources = LocalResources(
        load_model({"QueueVisibilityTimeout": "1", "QueueMaxReceiveCount": "20"}), aws.endpoint
    ).create()
    variables = resources.model.template["Globals"]["Function"]["Environment"]["Variables"]
    for name, value in resources.resolver.resolve({**variables, "DATABASE_URL": database}).items():
        monkeypatch.setenv(name, str(value))
    get_settings.cache_clear()
    invocations: list[dict[str, Any]] = []

    def invoke(event: dict[str, Any]) -> Any:
        from analysis.worker import lambda_handler

        try:
            result = lambda_handler(event, ShortContext())
        except Exception as exc:  # as Lambda reports it: the whole batch is retried
            invocations.append({"event": event, "failed": [r["messageId"] for r in event["Records"]]})
            raise InvocationError({"errorType": type(exc).__name__, "errorMessage": str(exc)}) from exc
        failed = [f["itemIdentifier"] for f in result["batchItemFailures"]]
        invocations.append({"event": event, "failed": failed})
        return result

    poller = SqsPoller(
        resources.sqs,
        resources.queue_url("AnalysisQueue"),
        resources.physical["AnalysisQueue"]["Arn"],
        invoke,
        batch_size=10,
        wait_seconds=0,
    )
    yield resources, poller, invocations
    get_settings.cache_clear()


class ShortContext:
    function_name = "labfolio-fault-worker"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:labfolio-fault-worker"
    aws_request_id = "00000000-0000-4000-8000-000000000009"

    def get_remaining_time_in_millis(self) -> int:
        return 1000


def drain_until(poller: SqsPoller, done: Callable[[], bool], timeout: float = 90.0) -> None:
    """Run the event source mapping (one batch at a time) until `done()`; fail after `timeout` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"not done within {timeout} s"
        if not poller.poll_once():
            time.sleep(0.2)  # nothing visible yet: a retried message comes back after the visibility timeout


def holdings(database: str, portfolio_id: uuid.UUID) -> list[tuple[str, float]]:
    with session_scope(database) as session:
        rows = session.execute(
            select(Holding.ticker, Holding.quantity)
            .where(Holding.portfolio_id == portfolio_id)
            .order_by(Holding.position)
        ).all()
    return [(t, float(q)) for t, q in rows]


def portfolio(database: str, portfolio_id: uuid.UUID) -> Portfolio:
    with session_scope(database) as session:
        found = session.get(Portfolio, portfolio_id)
        assert found is not None
        return found


def uploads(database: str) -> dict[str, tuple[str, int]]:
    with session_scope(database) as session:
        return {u.object_key: (u.status, u.attempts) for u in session.scalars(select(Upload)).all()}


def in_flight(database: str) -> tuple[int, int]:
    with session_scope(database) as session:
        portfolios = session.scalar(select(func.count()).where(Portfolio.status == "processing"))
        pending = session.scalar(select(func.count()).where(Upload.status.in_(("received", "processing"))))
    return int(portfolios or 0), int(pending or 0)


def depth(resources: LocalResources, queue: str) -> int:
    attrs = resources.sqs.get_queue_attributes(
        QueueUrl=resources.queue_url(queue),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def test_postgres_stops_inside_the_holdings_transaction_and_the_retry_succeeds(
    env: tuple[LocalResources, SqsPoller, list[dict[str, Any]]],
    database: str,
    cluster: Cluster,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    resources, poller, invocations = env
    bucket = resources.bucket_names()[0]
    from analysis import ingestion

    # the default analysis an ingestion queues is not this test's subject (its own retries are tested elsewhere)
    monkeypatch.setattr(ingestion, "on_portfolio_ready", lambda *_: None)
    user_id, portfolio_id = make_portfolio(database)
    first = key_of(user_id, portfolio_id)
    resources.s3.put_object(Bucket=bucket, Key=first, Body=FIRST)
    drain_until(poller, lambda: uploads(database).get(first, ("", 0))[0] == "ready")
    assert holdings(database, portfolio_id) == [("AAPL", 10.0), ("MSFT", 5.0)]

    # given PostgreSQL stopping right after the new holdings were written, before their transaction commits
    from analysis.adapters import sql_uploads

    replace = sql_uploads.replace_holdings

    def replace_then_stop(session: Any, *args: Any, **kwargs: Any) -> None:
        replace(session, *args, **kwargs)
        if not cluster.stops:
            cluster.stop()

    monkeypatch.setattr(sql_uploads, "replace_holdings", replace_then_stop)
    second = key_of(user_id, portfolio_id)
    resources.s3.put_object(Bucket=bucket, Key=second, Body=SECOND)
    seen = len(invocations)
    # when the worker handles the re-upload's event
    drain_until(poller, lambda: cluster.stops > 0, timeout=30)
    [message_id] = [m for i in invocations[seen:] for m in i["failed"]]
    cluster.start()
    # then nothing of the new file was written: the old holdings, the portfolio still ready, the upload in flight
    assert holdings(database, portfolio_id) == [("AAPL", 10.0), ("MSFT", 5.0)]
    found = portfolio(database, portfolio_id)
    assert (found.status, found.holdings_count, found.portfolio_address) == ("ready", 2, kept(first))
    assert uploads(database)[second] == ("processing", 1)  # the claim could not be given back: its lease ends it
    # and the message was not acknowledged: it comes back and the retry stores the new file, once
    drain_until(poller, lambda: uploads(database)[second][0] == "ready" and depth(resources, "AnalysisQueue") == 0)
    assert holdings(database, portfolio_id) == [("KO", 100.0), ("PEP", 40.0), ("JNJ", 25.0)]
    found = portfolio(database, portfolio_id)
    assert (found.status, found.holdings_count, found.portfolio_address) == ("ready", 3, kept(second))
    assert uploads(database) == {first: ("ready", 1), second: ("ready", 2)}
    retried = [r for i in invocations[seen:] for r in i["event"]["Records"] if r["messageId"] == message_id]
    assert int(retried[0]["attributes"]["ApproximateReceiveCount"]) == 1
    assert int(retried[-1]["attributes"]["ApproximateReceiveCount"]) > 1
    assert in_flight(database) == (0, 0)
    assert depth(resources, "AnalysisDeadLetterQueue") == 0


class EarlierOffline:
    """The offline provider as it was on `as_of` (yesterday's data, so that today's run has something to add)."""

    def __init__(self, as_of: date) -> None:
        from labfolio_common.market.offline import OfflineMarketData

        self.inner, self._as_of = OfflineMarketData(), as_of
        self.name, self.demo = self.inner.name, self.inner.demo

    def as_of(self) -> date:
        return self._as_of

    def covers(self, ticker: str) -> bool:
        return self.inner.covers(ticker)

    def fetch(self, starts: Any, end: date) -> Any:
        return self.inner.fetch(starts, min(end, self._as_of))


def factor_returns(database: str) -> dict[str, tuple[int, date, float]]:
    """Per factor: rows, last date and the sum of the returns (a half-written factor changes at least one)."""
    with session_scope(database) as session:
        rows = session.execute(
            select(
                FactorReturn.factor_id,
                func.count(),
                func.max(FactorReturn.date),
                func.sum(FactorReturn.return_value),
            ).group_by(FactorReturn.factor_id)
        ).all()
    return {f: (int(n), last, float(total)) for f, n, last, total in rows}


def test_postgres_stops_in_the_middle_of_a_factor_update_and_the_next_run_completes(
    database: str, cluster: Cluster, monkeypatch: pytest.MonkeyPatch, lambda_context: Any
) -> None:
    from factor_update import service
    from factor_update.handler import lambda_handler
    from labfolio_common.market import refresh
    from labfolio_common.market.offline import OfflineMarketData
    from labfolio_common.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", database)
    monkeypatch.setenv("UPLOADS_BUCKET", "unused-bucket")
    monkeypatch.setenv("ANALYSIS_QUEUE_URL", "http://127.0.0.1:1/unused")
    monkeypatch.setenv("MARKET_DATA_PROVIDER", "offline")
    get_settings.cache_clear()
    event = scheduled_event("arn:aws:events:us-east-1:123456789012:rule/labfolio-FactorUpdate")
    # given yesterday's factor returns (the offline data as it was on 2022-06-30)
    monkeypatch.setattr(service, "market_data", lambda _: EarlierOffline(date(2022, 6, 30)))
    lambda_handler(event, lambda_context)
    yesterday = factor_returns(database)
    assert len(yesterday) == 6 and {last for _, last, _ in yesterday.values()} == {date(2022, 6, 30)}

    # when PostgreSQL stops while the third factor's new returns are being written (before its commit)
    write = refresh.write_factor_returns
    written: list[str] = []

    def write_then_stop(session: Any, factor_id: str, *args: Any, **kwargs: Any) -> int:
        changed = write(session, factor_id, *args, **kwargs)
        written.append(factor_id)
        if len(written) == 3:
            cluster.stop()
        return int(changed)

    monkeypatch.setattr(refresh, "write_factor_returns", write_then_stop)
    monkeypatch.setattr(service, "market_data", lambda _: OfflineMarketData())
    stops = cluster.stops
    with pytest.raises(Exception) as failure:  # the invocation fails: EventBridge's asynchronous invoke retries it
        lambda_handler(event, lambda_context)
    assert cluster.stops == stops + 1, failure.value
    cluster.start()
    # then each factor is whole: the two committed before the stop have today's returns, every other one yesterday's
    interrupted = factor_returns(database)
    assert {f for f in interrupted if interrupted[f] != yesterday[f]} == set(written[:2])
    assert all(interrupted[f][1] == date(2022, 12, 28) for f in written[:2])

    # and the next run (the retry) completes from there
    monkeypatch.setattr(refresh, "write_factor_returns", write)
    summary = lambda_handler(event, lambda_context)
    assert summary["failed"] == {} and set(summary["updated"]) == set(yesterday)
    today = factor_returns(database)
    assert {last for _, last, _ in today.values()} == {date(2022, 12, 28)}
    assert {f: today[f] for f in written[:2]} == {f: interrupted[f] for f in written[:2]}
    assert all(today[f][0] > yesterday[f][0] for f in today)
    # the same data as two runs that were never interrupted
    clean = cluster.database()
    try:
        service.run(clean, EarlierOffline(date(2022, 6, 30)))
        service.run(clean, OfflineMarketData())
        assert factor_returns(clean) == today
    finally:
        dispose_engine(clean)
