"""The analysis worker on job messages, through its real entry point with the SQS batch events Lambda's event source
mapping sends (read from the template's queue in moto): duplicates, unknown and malformed messages, transient
failures given back and retried, a claim left by a crashed worker, the sweep, and an internal error."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from labfolio_common.db.engine import session_scope
from labfolio_common.db.models import Analysis, utcnow
from labfolio_common.settings import get_settings
from sqlalchemy import update

from local.aws_resources import LocalResources
from local.events import scheduled_event
from tests.fixtures.analyses import Account, drain, ready_portfolio, worker
from tests.fixtures.aws import load_event
from tests.fixtures.pipeline import notifications

pytestmark = pytest.mark.functional

BOOK = b"ticker,quantity\nAAPL,120\nMSFT,60\nKO,150\n"


@pytest.fixture
def env(factor_env: LocalResources) -> LocalResources:
    return factor_env


@pytest.fixture
def queued(env: LocalResources, lambda_context: Any) -> tuple[Account, str, str]:
    """An account, its ingested portfolio, and its default analysis, still queued (its job message taken off the
    queue: each test hands it to the worker as it wants)."""
    account = Account(lambda_context, "carol")
    portfolio_id = ready_portfolio(account, env, lambda_context, BOOK)
    (message,) = notifications(env)["Records"]
    analysis_id = json.loads(message["body"])["analysis_id"]
    return account, portfolio_id, analysis_id


def job(env: LocalResources, analysis_id: str | None, body: str | None = None) -> dict[str, Any]:
    """Send a job message to the queue and read it back as the event source mapping would hand it over."""
    text = body if body is not None else json.dumps({"type": "analysis.run", "analysis_id": analysis_id})
    env.sqs.send_message(QueueUrl=env.queue_url("AnalysisQueue"), MessageBody=text)
    return notifications(env)


def row(database_url: str, analysis_id: str) -> Analysis:
    with session_scope(database_url) as db:
        found = db.get(Analysis, uuid.UUID(analysis_id))
        assert found is not None
        db.expunge(found)
        return found


def set_row(database_url: str, analysis_id: str, **values: Any) -> None:
    with session_scope(database_url) as db:
        db.execute(update(Analysis).where(Analysis.analysis_id == uuid.UUID(analysis_id)).values(**values))


def test_a_job_message_runs_its_analysis_once_and_a_redelivery_changes_nothing(
    queued: tuple[Account, str, str], env: LocalResources, lambda_context: Any, database_url: str
) -> None:
    _, _, analysis_id = queued
    assert worker(job(env, analysis_id), lambda_context) == {"batchItemFailures": []}
    first = row(database_url, analysis_id)
    assert (first.status, first.attempts) == ("ready", 1)
    # when SQS delivers the same job again
    assert worker(job(env, analysis_id), lambda_context) == {"batchItemFailures": []}
    # then it is acknowledged, and the analysis is as it was
    again = row(database_url, analysis_id)
    assert (again.status, again.attempts, again.finished_at) == ("ready", 1, first.finished_at)


@pytest.mark.parametrize(
    "body",
    [
        json.dumps({"type": "analysis.run", "analysis_id": str(uuid.uuid4())}),  # no such analysis (deleted)
        json.dumps({"type": "analysis.run", "analysis_id": "not-a-uuid"}),
        json.dumps({"type": "analysis.run"}),
    ],
    ids=["unknown", "malformed-id", "no-id"],
)
def test_a_job_message_naming_no_analysis_is_acknowledged(env: LocalResources, lambda_context: Any, body: str) -> None:
    assert worker(job(env, None, body), lambda_context) == {"batchItemFailures": []}


def test_a_batch_mixes_upload_events_and_job_messages(
    queued: tuple[Account, str, str], env: LocalResources, lambda_context: Any, database_url: str
) -> None:
    account, _, analysis_id = queued
    # given a job message and, in the same batch, a browser upload of another portfolio
    env.sqs.send_message(
        QueueUrl=env.queue_url("AnalysisQueue"),
        MessageBody=json.dumps({"type": "analysis.run", "analysis_id": analysis_id}),
    )
    from tests.fixtures.analyses import browser_upload

    other = account.portfolio("Other")
    browser_upload(other.body["upload"], b"ticker,weight\nAAPL,0.5\nKO,0.5\n")
    batch = notifications(env)
    assert len(batch["Records"]) == 2
    # when the worker takes it: both handled (the upload queues its own default analysis, run next)
    assert worker(batch, lambda_context) == {"batchItemFailures": []}
    assert row(database_url, analysis_id).status == "ready"
    assert drain(env, lambda_context) == [{"batchItemFailures": []}]
    answer = account("GET", f"/api/portfolios/{other.body['portfolio_id']}/analyses")
    (weights,) = answer.body["items"]
    assert weights["status"] == "ready"
    found = account("GET", f"/api/analyses/{weights['analysis_id']}").body["result"]
    assert found["gross"] == 1_000_000.0  # a weight-only portfolio is sized per 1,000,000 of gross


def test_a_transient_failure_gives_the_claim_back_and_the_retry_finishes_it(
    queued: tuple[Account, str, str],
    env: LocalResources,
    lambda_context: Any,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, _, analysis_id = queued
    # given S3 refusing to store the prices (the bucket is not there)
    monkeypatch.setenv("UPLOADS_BUCKET", "no-such-bucket-here")
    get_settings.cache_clear()
    batch = job(env, analysis_id)
    # then the message fails (alone in its batch, the invocation fails: SQS retries the batch) ...
    with pytest.raises(BatchProcessingError):
        worker(batch, lambda_context)
    # ... and the analysis is queued again, saying why
    failed_once = row(database_url, analysis_id)
    assert (failed_once.status, failed_once.attempts, failed_once.lease_until) == ("queued", 1, None)
    assert failed_once.last_error is not None and "S3 PutObject failed" in failed_once.last_error
    # when the retry comes with S3 back
    monkeypatch.setenv("UPLOADS_BUCKET", env.bucket_names()[0])
    get_settings.cache_clear()
    assert worker(batch, lambda_context) == {"batchItemFailures": []}
    done = row(database_url, analysis_id)
    assert (done.status, done.attempts) == ("ready", 2)


def test_a_claim_left_by_a_crashed_worker_is_taken_over_once_its_lease_is_over(
    queued: tuple[Account, str, str], env: LocalResources, lambda_context: Any, database_url: str
) -> None:
    _, _, analysis_id = queued
    now = utcnow()
    # given a worker that claimed the analysis and is still within its lease
    set_row(
        database_url, analysis_id, status="running", attempts=1, started_at=now, lease_until=now + timedelta(seconds=60)
    )
    batch = job(env, analysis_id)
    batch["Records"].append(load_event("sqs_s3_test_event.json")["Records"][0])  # with a message that succeeds
    # then a redelivery is busy: reported failed, retried later, nothing changed
    assert worker(batch, lambda_context)["batchItemFailures"] == [{"itemIdentifier": batch["Records"][0]["messageId"]}]
    assert row(database_url, analysis_id).status == "running"
    # given the lease is over (the worker was killed at its timeout)
    set_row(database_url, analysis_id, lease_until=now - timedelta(seconds=1))
    # then the redelivered message runs it to the end
    assert worker(batch, lambda_context) == {"batchItemFailures": []}
    done = row(database_url, analysis_id)
    assert (done.status, done.attempts) == ("ready", 2)


def test_the_sweep_fails_analyses_whose_retries_ran_out(
    queued: tuple[Account, str, str], env: LocalResources, lambda_context: Any, database_url: str
) -> None:
    account, portfolio_id, stuck = queued
    long_ago = utcnow() - timedelta(hours=2)
    # given an analysis left running by a dead worker, one whose job message was lost, and a fresh one
    set_row(database_url, stuck, status="running", attempts=3, started_at=long_ago, lease_until=long_ago)
    set_row(database_url, stuck, last_error="DependencyUnavailableError: database down")
    lost = account("POST", f"/api/portfolios/{portfolio_id}/analyses").body["analysis_id"]
    set_row(database_url, lost, created_at=long_ago)
    fresh = account("POST", f"/api/portfolios/{portfolio_id}/analyses").body["analysis_id"]
    # when the worker's scheduled sweep runs
    swept = worker(scheduled_event("arn:aws:events:us-east-1:123456789012:rule/sweep"), lambda_context)
    # then the two stale ones failed, saying why; the fresh one is still queued
    assert swept["failed_analyses"] == 2
    assert row(database_url, stuck).error == {
        "message": "the analysis could not be completed after 3 attempt(s) (DependencyUnavailableError: database "
        "down): run it again"
    }
    assert row(database_url, lost).error == {
        "message": "the analysis was never started (its job was lost): run it again"
    }
    assert (row(database_url, stuck).status, row(database_url, lost).status) == ("failed", "failed")
    assert row(database_url, fresh).status == "queued"


def test_an_internal_error_in_the_computation_fails_the_analysis_without_retrying(
    queued: tuple[Account, str, str],
    env: LocalResources,
    lambda_context: Any,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, _, analysis_id = queued

    def broken(inputs: Any) -> Any:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr("analysis.domain.engine.run_analysis", broken)
    assert worker(job(env, analysis_id), lambda_context) == {"batchItemFailures": []}
    failed = row(database_url, analysis_id)
    assert failed.status == "failed"
    assert failed.error == {
        "message": "the analysis could not be computed because of an internal error (it has been logged): run it again"
    }


def test_a_bug_outside_the_computation_fails_the_analysis_instead_of_retrying_it(
    queued: tuple[Account, str, str], env: LocalResources, lambda_context: Any, database_url: str
) -> None:
    """The red-team round: {"start": "0001-01-01"} was queued (the API bounds dates now), then the window arithmetic
    overflowed while loading, and the OverflowError was retried as if it were a passing fault - three times locally,
    five and the dead-letter alarm in AWS. A row stored with such a start (by an older version) fails at once."""
    _, _, analysis_id = queued
    stored = row(database_url, analysis_id).params
    set_row(database_url, analysis_id, params={**stored, "start": "0001-01-01"})
    assert worker(job(env, analysis_id), lambda_context) == {"batchItemFailures": []}
    failed = row(database_url, analysis_id)
    assert (failed.status, failed.attempts) == ("failed", 1)
    assert failed.error == {
        "message": "the analysis could not be computed because of an internal error (it has been logged): run it again"
    }
    assert not notifications(env)["Records"]  # nothing left to retry


def test_an_analysis_deleted_with_its_portfolio_before_it_ran_is_acknowledged(
    queued: tuple[Account, str, str], env: LocalResources, lambda_context: Any
) -> None:
    account, portfolio_id, analysis_id = queued
    assert account("DELETE", f"/api/portfolios/{portfolio_id}", function="portfolios").status == 204
    assert worker(job(env, analysis_id), lambda_context) == {"batchItemFailures": []}
    listed = env.s3.list_objects_v2(Bucket=env.bucket_names()[0], Prefix="analyses/")
    assert listed.get("KeyCount", 0) == 0


def test_a_job_is_left_for_another_invocation_when_too_little_time_is_left(
    queued: tuple[Account, str, str], env: LocalResources, lambda_context: Any, database_url: str
) -> None:
    _, _, analysis_id = queued

    class LateContext(type(lambda_context)):  # type: ignore[misc]
        def get_remaining_time_in_millis(self) -> int:
            return 8_000

    # given a batch whose job arrives with 8 s left in the invocation (after earlier records of the batch)
    batch = job(env, analysis_id)
    batch["Records"].append(load_event("sqs_s3_test_event.json")["Records"][0])
    # then the job is not started: its message is retried, the analysis still queued and never claimed
    answer = worker(batch, LateContext())
    assert answer["batchItemFailures"] == [{"itemIdentifier": batch["Records"][0]["messageId"]}]
    untouched = row(database_url, analysis_id)
    assert (untouched.status, untouched.attempts) == ("queued", 0)
