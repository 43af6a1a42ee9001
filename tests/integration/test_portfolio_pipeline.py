"""The upload pipeline whole, on the local stack (moto server, gateway, functions in their own processes, the SQS
poller): sign-up over HTTP, a presigned POST made as a browser makes it → S3 event → SQS → worker → holdings in the
database (SQLite and PostgreSQL); other accounts, duplicate events, oversized objects, a poison message that ends in
the dead-letter queue, deletion."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest
import requests
from labfolio_common.db.engine import dispose_engine, session_scope
from labfolio_common.db.models import Holding, Upload, utcnow
from labfolio_common.uploads import kept_file_key, parse_upload_key
from sqlalchemy import select

from local.model import load_model
from local.stack import LocalConfig, LocalStack
from tests.fixtures.polling import wait_for

pytestmark = pytest.mark.integration

DEMO = b"ticker,quantity\nAAPL,120\nMSFT,60\nJPM,80\nKO,150\nXOM,100\n"


@pytest.fixture
def stack(tmp_path: Path, database_url: str) -> Iterator[tuple[LocalStack, str]]:
    config = LocalConfig(port=0, moto_port=0, data_dir=tmp_path / "data", database_url=database_url, max_instances=2)
    config.run_scheduler = False  # the sweep is called below when the test wants it
    running = LocalStack(config).start()
    try:
        yield running, running.start_http()
    finally:
        running.stop_http()
        running.stop(save=False)
        dispose_engine(database_url)


class User:
    """An account signed up through the gateway, calling the API as a programmatic client (Bearer token)."""

    def __init__(self, base: str, username: str) -> None:
        self.base = base
        answer = requests.post(
            f"{base}/api/auth/signup", json={"username": username, "password": "correct horse battery"}, timeout=30
        )
        assert answer.status_code == 201, answer.text
        self.user_id = answer.json()["user_id"]
        self.headers = {"authorization": f"Bearer {answer.json()['access_token']}"}

    def __call__(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(method, f"{self.base}{path}", headers=self.headers, timeout=30, **kwargs)

    def status(self, portfolio_id: str) -> str:
        return str(self("GET", f"/api/portfolios/{portfolio_id}").json()["status"])


def browser_upload(form: dict[str, Any], content: bytes) -> None:
    answer = requests.post(
        form["url"], data=form["fields"], files={"file": ("book.csv", content, "text/csv")}, timeout=30
    )
    assert answer.status_code in (200, 201, 204), answer.text


def objects(stack: LocalStack, prefix: str) -> list[str]:
    listed = stack.resources.s3.list_objects_v2(Bucket=stack.resources.bucket_names()[0], Prefix=prefix)
    return [o["Key"] for o in listed.get("Contents", [])]


def queue_depth(stack: LocalStack, queue: str) -> int:
    attrs = stack.resources.sqs.get_queue_attributes(
        QueueUrl=stack.resources.queue_url(queue),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def notification(bucket: str, key: str, etag: str, size: int) -> str:
    """An S3 ObjectCreated notification as S3 sends it to SQS (the key form-encoded)."""
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "eventName": "ObjectCreated:Post",
        "s3": {"bucket": {"name": bucket}, "object": {"key": quote_plus(key), "size": size, "eTag": etag}},
    }
    return json.dumps({"Records": [record]})


def upload_rows(database_url: str, portfolio_id: str) -> list[Upload]:
    with session_scope(database_url) as session:
        query = select(Upload).where(Upload.portfolio_id == uuid.UUID(portfolio_id))
        return list(session.scalars(query).all())


def test_browser_upload_becomes_holdings_once_and_only_for_its_owner(
    stack: tuple[LocalStack, str], database_url: str
) -> None:
    local, base = stack
    alice, bob = User(base, "alice"), User(base, "bob")
    # given a portfolio created through the gateway, and its file POSTed to S3 as a browser does
    created = alice("POST", "/api/portfolios", json={"portfolio_name": "Core"})
    assert created.status_code == 201, created.text
    portfolio_id = created.json()["portfolio_id"]
    browser_upload(created.json()["upload"], DEMO)
    # then the S3 event reaches the worker through SQS and the holdings are in the database
    wait_for(lambda: alice.status(portfolio_id) == "ready", timeout=60)
    with session_scope(database_url) as session:
        stored = session.execute(
            select(Holding.ticker, Holding.quantity).where(Holding.portfolio_id == uuid.UUID(portfolio_id))
        ).all()
    assert sorted(stored) == [("AAPL", 120.0), ("JPM", 80.0), ("KO", 150.0), ("MSFT", 60.0), ("XOM", 100.0)]
    holdings = alice("GET", f"/api/portfolios/{portfolio_id}/holdings").json()
    assert sum(abs(h["weight"]) for h in holdings) == pytest.approx(1.0)
    assert alice("GET", f"/api/portfolios/{portfolio_id}/file").content == DEMO

    # when S3 delivers the same notification again (at-least-once)
    [row] = upload_rows(database_url, portfolio_id)
    batches = local.pollers[0].batches
    local.resources.sqs.send_message(
        QueueUrl=local.resources.queue_url("AnalysisQueue"),
        MessageBody=notification(row.bucket, row.object_key, row.etag, row.size_bytes),
    )
    wait_for(lambda: local.pollers[0].batches > batches and queue_depth(local, "AnalysisQueue") == 0)
    # then it was one ingestion
    [again] = upload_rows(database_url, portfolio_id)
    assert (again.status, again.attempts, again.finished_at) == ("ready", 1, row.finished_at)

    # and another account gets 404 on every route of the portfolios function, exactly as for a missing portfolio
    routes = [r for r in load_model().routes if r.function == "PortfoliosFunction" and "{portfolio_id}" in r.path]
    assert len(routes) == 7
    before = alice("GET", f"/api/portfolios/{portfolio_id}").json()
    for route in routes:
        kwargs: dict[str, Any] = {"json": {"portfolio_name": "mine"}} if route.method == "PATCH" else {}
        if route.method == "PUT":
            kwargs = {"data": DEMO, "headers": {**bob.headers, "content-type": "text/csv"}}
        path = route.path.replace("{portfolio_id}", portfolio_id)
        if "headers" in kwargs:
            answer = requests.request(route.method, f"{base}{path}", timeout=30, **kwargs)
        else:
            answer = bob(route.method, path, **kwargs)
        assert (answer.status_code, answer.json()) == (404, {"error": "not_found", "detail": "portfolio not found"})
    assert alice("GET", f"/api/portfolios/{portfolio_id}").json() == before
    assert objects(local, f"uploads/{bob.user_id}/") == []

    # and the file behind the holdings is kept under files/ (the uploaded object is gone), until the portfolio is
    # deleted with its S3 objects and rows
    kept = kept_file_key(parse_upload_key(row.object_key))  # type: ignore[arg-type]
    assert objects(local, f"uploads/{alice.user_id}/{portfolio_id}/") == []
    assert objects(local, f"files/{alice.user_id}/{portfolio_id}/") == [kept]
    assert alice("DELETE", f"/api/portfolios/{portfolio_id}").status_code == 204
    assert objects(local, f"files/{alice.user_id}/{portfolio_id}/") == []
    assert upload_rows(database_url, portfolio_id) == []
    assert alice("GET", f"/api/portfolios/{portfolio_id}").status_code == 404


def test_oversized_object_and_poison_message(stack: tuple[LocalStack, str], database_url: str) -> None:
    local, base = stack
    alice = User(base, "alice")
    # given an object over 1 MB POSTed with a valid form (moto does not enforce content-length-range)
    big = alice("POST", "/api/portfolios", json={"portfolio_name": "Big"}).json()
    browser_upload(big["upload"], b"ticker,quantity\n" + b"AAPL,1\n" * 150_000)
    # then the worker checks the real size: failed, object deleted
    wait_for(lambda: alice.status(big["portfolio_id"]) == "failed")
    found = alice("GET", f"/api/portfolios/{big['portfolio_id']}").json()
    assert "the limit is 1,000,000" in found["errors"][0]["message"]
    assert objects(local, f"uploads/{alice.user_id}/{big['portfolio_id']}/") == []

    # given a message that keeps failing for a transient reason (S3 cannot serve the object: it is archived, and
    # GetObject answers InvalidObjectState)
    created = alice("POST", "/api/portfolios", json={"portfolio_name": "Stuck"}).json()
    stuck, key = created["portfolio_id"], created["upload"]["fields"]["key"]  # a key issued for it
    local.resources.s3.put_object(Bucket=local.resources.bucket_names()[0], Key=key, Body=DEMO, StorageClass="GLACIER")
    # then SQS retries it maxReceiveCount (3) times, then moves it to the dead-letter queue
    wait_for(lambda: queue_depth(local, "AnalysisDeadLetterQueue") == 1, timeout=90, every=0.5)
    assert queue_depth(local, "AnalysisQueue") == 0
    [row] = upload_rows(database_url, stuck)
    assert (row.status, row.attempts) == ("received", 3) and "InvalidObjectState" in (row.last_error or "")
    assert alice.status(stuck) == "processing"
    # and the sweep, once the queue's retry window has passed, fails the portfolio with the reason
    from analysis.adapters.sqs_queue import retry_window
    from analysis.sweep import sweep

    window = retry_window(local.resources.sqs, local.resources.queue_url("AnalysisQueue"), timedelta(seconds=60))
    assert window == timedelta(seconds=5 * 3 + 60)
    assert sweep(database_url, window)["abandoned_uploads"] == 0
    assert sweep(database_url, window, now=utcnow() + window)["abandoned_uploads"] == 1
    failed = alice("GET", f"/api/portfolios/{stuck}").json()
    assert failed["status"] == "failed" and failed["last_upload"]["status"] == "failed"
    assert "3 attempt(s)" in failed["errors"][0]["message"]
