"""The analysis worker's real entry point with the SQS batch events Lambda's event source mapping sends: objects put
in the template's bucket on the moto server, their notifications read from the queue they really went to."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from labfolio_common.db.engine import session_scope
from labfolio_common.db.models import Holding, Portfolio, Upload, utcnow
from labfolio_common.uploads import kept_file_key, parse_upload_key
from sqlalchemy import select

from local.aws_resources import LocalResources
from local.events import scheduled_event
from tests.fixtures.aws import load_event
from tests.fixtures.pipeline import key_of, make_portfolio, notifications

pytestmark = pytest.mark.functional

GOOD = b"ticker,quantity\nAAPL,10\nmsft,5\n"


def worker(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from analysis.worker import lambda_handler

    return lambda_handler(event, context)


def bucket(env: LocalResources) -> str:
    return env.bucket_names()[0]


def upload(env: LocalResources, key: str, body: bytes, context: Any) -> dict[str, Any]:
    """Put the object, then hand the worker what S3 sent; return the worker's answer."""
    env.s3.put_object(Bucket=bucket(env), Key=key, Body=body, ContentType="text/csv")
    event = notifications(env)
    result = worker(event, context)
    return result


def portfolio(database_url: str, portfolio_id: uuid.UUID) -> Portfolio:
    with session_scope(database_url) as session:
        found = session.get(Portfolio, portfolio_id)
        assert found is not None
        return found


def holdings(database_url: str, portfolio_id: uuid.UUID) -> list[tuple[str, float | None]]:
    with session_scope(database_url) as session:
        rows = session.execute(
            select(Holding.ticker, Holding.quantity)
            .where(Holding.portfolio_id == portfolio_id)
            .order_by(Holding.position)
        ).all()
    return [(t, q) for t, q in rows]


def uploads(database_url: str) -> list[Upload]:
    with session_scope(database_url) as session:
        return list(session.scalars(select(Upload).order_by(Upload.received_at)).all())


def exists(env: LocalResources, key: str) -> bool:
    return env.s3.list_objects_v2(Bucket=bucket(env), Prefix=key).get("KeyCount", 0) > 0


# ----------------------------------------------------------------------------------------------- valid files


def test_worker_stores_the_holdings_of_a_valid_upload(
    lambda_env: LocalResources, database_url: str, lambda_context: Any
) -> None:
    # given a portfolio awaiting its first upload
    user_id, portfolio_id = make_portfolio(database_url)
    key = key_of(user_id, portfolio_id)
    # when its CSV lands in the bucket (a ticker the demo data does not have among two it has)
    result = upload(lambda_env, key, b"ticker,quantity\nAAPL,10\nmsft,5\nZZZZ,1\n", lambda_context)
    # then the portfolio is ready with its holdings, the unknown ticker a warning on its row
    assert result == {"batchItemFailures": []}
    found = portfolio(database_url, portfolio_id)
    kept = kept_file_key(parse_upload_key(key))  # type: ignore[arg-type]
    assert (found.status, found.kind, found.holdings_count, found.portfolio_address) == ("ready", "quantity", 3, kept)
    assert found.errors is None
    assert found.warnings == [{"row": 4, "column": "ticker", "message": found.warnings[0]["message"]}]
    assert found.warnings[0]["message"].startswith("ZZZZ: no price data")
    assert found.status_changed_at is not None and found.holdings_updated_at is not None
    assert holdings(database_url, portfolio_id) == [("AAPL", 10.0), ("MSFT", 5.0), ("ZZZZ", 1.0)]
    [row] = uploads(database_url)
    assert (row.status, row.attempts, row.user_id, row.portfolio_id, row.object_key) == (
        "ready",
        1,
        user_id,
        portfolio_id,
        key,
    )
    # the file is kept where no form or PUT can write; the uploaded object is gone
    assert (exists(lambda_env, kept), exists(lambda_env, key)) == (True, False)


def test_worker_processes_a_redelivered_message_once(
    lambda_env: LocalResources, database_url: str, lambda_context: Any
) -> None:
    user_id, portfolio_id = make_portfolio(database_url)
    lambda_env.s3.put_object(Bucket=bucket(lambda_env), Key=key_of(user_id, portfolio_id), Body=GOOD)
    event = notifications(lambda_env)
    assert worker(event, lambda_context) == {"batchItemFailures": []}
    changed = portfolio(database_url, portfolio_id).holdings_updated_at
    # when SQS delivers the same message again
    assert worker(copy.deepcopy(event), lambda_context) == {"batchItemFailures": []}
    # then nothing was ingested twice
    [row] = uploads(database_url)
    assert (row.status, row.attempts) == ("ready", 1)
    assert portfolio(database_url, portfolio_id).holdings_updated_at == changed


def test_worker_ingests_a_multipart_upload_once_despite_two_events(
    lambda_env: LocalResources, database_url: str, lambda_context: Any
) -> None:
    # given a multipart upload (moto sends ObjectCreated:Put and ObjectCreated:CompleteMultipartUpload)
    user_id, portfolio_id = make_portfolio(database_url)
    key, s3, name = key_of(user_id, portfolio_id), lambda_env.s3, bucket(lambda_env)
    started = s3.create_multipart_upload(Bucket=name, Key=key, ContentType="text/csv")
    part = s3.upload_part(Bucket=name, Key=key, UploadId=started["UploadId"], PartNumber=1, Body=GOOD)
    s3.complete_multipart_upload(
        Bucket=name,
        Key=key,
        UploadId=started["UploadId"],
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
    )
    event = notifications(lambda_env)
    names = [json.loads(r["body"]).get("Records", [{}])[0].get("eventName") for r in event["Records"]]
    assert names.count("ObjectCreated:CompleteMultipartUpload") == 1 and len([n for n in names if n]) == 2
    # when the worker gets both events
    assert worker(event, lambda_context) == {"batchItemFailures": []}
    # then one ingestion
    [row] = uploads(database_url)
    assert (row.status, row.attempts) == ("ready", 1)
    assert holdings(database_url, portfolio_id) == [("AAPL", 10.0), ("MSFT", 5.0)]


def test_valid_reupload_replaces_the_holdings_and_deletes_the_previous_file(
    lambda_env: LocalResources, database_url: str, lambda_context: Any
) -> None:
    user_id, portfolio_id = make_portfolio(database_url)
    first, second = key_of(user_id, portfolio_id), key_of(user_id, portfolio_id)
    upload(lambda_env, first, GOOD, lambda_context)
    # when a new valid file arrives
    upload(lambda_env, second, b"symbol,shares\nKO,100\n", lambda_context)
    # then it replaced the holdings, and only its file is kept
    assert holdings(database_url, portfolio_id) == [("KO", 100.0)]
    kept_first, kept_second = (kept_file_key(parse_upload_key(k)) for k in (first, second))  # type: ignore[arg-type]
    assert portfolio(database_url, portfolio_id).portfolio_address == kept_second
    assert [exists(lambda_env, k) for k in (first, second, kept_first, kept_second)] == [False, False, False, True]


# ----------------------------------------------------------------------------------------------- invalid files


def test_invalid_first_upload_fails_the_portfolio_with_every_problem(
    lambda_env: LocalResources, database_url: str, lambda_context: Any
) -> None:
    user_id, portfolio_id = make_portfolio(database_url)
    key = key_of(user_id, portfolio_id)
    result = upload(lambda_env, key, b"ticker,quantity\n=cmd(),1\nAAPL,abc\n", lambda_context)
    # a bad file is not a transient failure: acknowledged
    assert result == {"batchItemFailures": []}
    found = portfolio(database_url, portfolio_id)
    assert found.status == "failed"
    assert [(p["row"], p["column"]) for p in found.errors] == [(2, "ticker"), (3, "quantity")]
    assert holdings(database_url, portfolio_id) == []
    [row] = uploads(database_url)
    assert (row.status, row.errors) == ("failed", found.errors)
    assert not exists(lambda_env, key)  # an invalid file is not kept


def test_invalid_reupload_keeps_the_holdings_and_reports_under_the_upload(
    lambda_env: LocalResources, database_url: str, lambda_context: Any
) -> None:
    user_id, portfolio_id = make_portfolio(database_url)
    good = key_of(user_id, portfolio_id)
    upload(lambda_env, good, GOOD, lambda_context)
    before = portfolio(database_url, portfolio_id)
    # when an invalid file replaces it
    upload(lambda_env, key_of(user_id, portfolio_id), b"ticker,quantity\nAAPL,0\n", lambda_context)
    # then the portfolio is still ready with the same holdings; the upload failed with its errors
    after = portfolio(database_url, portfolio_id)
    kept = kept_file_key(parse_upload_key(good))  # type: ignore[arg-type]
    assert (after.status, after.errors, after.portfolio_address) == ("ready", None, kept)
    assert exists(lambda_env, kept)
    assert after.holdings_updated_at == before.holdings_updated_at
    assert holdings(database_url, portfolio_id) == [("AAPL", 10.0), ("MSFT", 5.0)]
    last = uploads(database_url)[-1]
    assert last.status == "failed" and last.errors == [{"row": 2, "column": "quantity", "message": "must not be zero"}]


def test_oversized_object_fails_and_is_deleted(
    lambda_env: LocalResources, database_url: str, lambda_context: Any
) -> None:
    # given an object over 1 MB (moto does not enforce the presigned POST's content-length-range)
    user_id, portfolio_id = make_portfolio(database_url)
    key = key_of(user_id, portfolio_id)
    body = b"ticker,quantity\n" + b"AAPL,1\n" * 150_000
    assert upload(lambda_env, key, body, lambda_context) == {"batchItemFailures": []}
    found = portfolio(database_url, portfolio_id)
    assert found.status == "failed"
    assert found.errors == [
        {"row": None, "column": "*", "message": f"the file is {len(body):,} bytes; the limit is 1,000,000"}
    ]
    assert not exists(lambda_env, key)


def test_no_ticker_with_price_data_is_an_error(
    lambda_env: LocalResources, database_url: str, lambda_context: Any
) -> None:
    user_id, portfolio_id = make_portfolio(database_url)
    upload(lambda_env, key_of(user_id, portfolio_id), b"ticker,quantity\nZZZZ,1\nQQQQQ,2\n", lambda_context)
    found = portfolio(database_url, portfolio_id)
    assert found.status == "failed"
    assert [(p["row"], p["column"]) for p in found.errors] == [(2, "ticker"), (3, "ticker"), (None, "ticker")]
    assert found.errors[-1]["message"] == "none of the tickers has price data"


# ----------------------------------------------------------------------------------------------- ownership


def test_object_whose_key_names_another_users_portfolio_is_ignored(
    lambda_env: LocalResources, database_url: str, lambda_context: Any
) -> None:
    # given Alice's ready portfolio, and Mallory's object whose key names Alice's portfolio under Mallory's id
    alice, portfolio_id = make_portfolio(database_url)
    upload(lambda_env, key_of(alice, portfolio_id), GOOD, lambda_context)
    mallory, _ = make_portfolio(database_url)
    forged = key_of(mallory, portfolio_id)
    # when it is processed
    assert upload(lambda_env, forged, b"ticker,quantity\nKO,1\n", lambda_context) == {"batchItemFailures": []}
    # then Alice's portfolio is untouched, the object recorded as ignored and deleted
    assert holdings(database_url, portfolio_id) == [("AAPL", 10.0), ("MSFT", 5.0)]
    last = uploads(database_url)[-1]
    assert (last.object_key, last.status, last.portfolio_id, last.user_id) == (forged, "ignored", None, None)
    assert not exists(lambda_env, forged)


# The red-team round: on the local stack moto enforces no presigned-POST policy or signature, so B's form with A's
# key, an expired form, a zeroed signature and an unsigned PUT all stored files, and A's holdings became B's CSV.
# The worker now takes an object only at a key issued to its owner and portfolio, once, before the grant expired.


def test_an_object_at_a_key_nobody_issued_is_refused_and_deleted(
    lambda_env: LocalResources, database_url: str, lambda_context: Any
) -> None:
    user_id, portfolio_id = make_portfolio(database_url)
    upload(lambda_env, key_of(user_id, portfolio_id), GOOD, lambda_context)
    made_up = f"uploads/{user_id}/{portfolio_id}/{uuid.uuid4()}.csv"  # an unsigned PUT of a key of one's own
    assert upload(lambda_env, made_up, b"ticker,quantity\nXOM,999\n", lambda_context) == {"batchItemFailures": []}
    assert holdings(database_url, portfolio_id) == [("AAPL", 10.0), ("MSFT", 5.0)]
    last = uploads(database_url)[-1]
    assert (last.object_key, last.status) == (made_up, "failed")
    assert last.errors == [{"row": None, "column": "*", "message": "no upload form or PUT issued this key"}]
    assert not exists(lambda_env, made_up)


def test_a_second_file_posted_with_a_used_form_changes_nothing_and_loses_nothing(
    lambda_env: LocalResources, database_url: str, lambda_context: Any
) -> None:
    """Re-posting an upload form (a good file, then an empty one with the same form) deleted the object behind the
    current holdings. Now the accepted file is kept under files/, and the form's second object is refused."""
    user_id, portfolio_id = make_portfolio(database_url)
    key = key_of(user_id, portfolio_id)
    upload(lambda_env, key, GOOD, lambda_context)
    kept = portfolio(database_url, portfolio_id).portfolio_address
    for second in (b"", b"ticker,quantity\nXOM,999\n"):  # invalid, then valid: neither is taken
        assert upload(lambda_env, key, second, lambda_context) == {"batchItemFailures": []}
        found = portfolio(database_url, portfolio_id)
        assert (found.status, found.portfolio_address) == ("ready", kept)
        assert holdings(database_url, portfolio_id) == [("AAPL", 10.0), ("MSFT", 5.0)]
        last = uploads(database_url)[-1]
        assert last.status == "failed" and "an upload form is used once" in last.errors[0]["message"]
    body = lambda_env.s3.get_object(Bucket=bucket(lambda_env), Key=kept)["Body"].read()
    assert body == GOOD  # the file behind the holdings is still the one they came from


def test_a_file_that_arrives_after_its_form_expired_is_refused(
    lambda_env: LocalResources, database_url: str, lambda_context: Any
) -> None:
    user_id, portfolio_id = make_portfolio(database_url)
    key = key_of(user_id, portfolio_id, ttl=timedelta(minutes=-5))  # expired five minutes ago
    assert upload(lambda_env, key, GOOD, lambda_context) == {"batchItemFailures": []}
    assert (portfolio(database_url, portfolio_id).status, holdings(database_url, portfolio_id)) == (
        "awaiting_upload",
        [],
    )
    assert uploads(database_url)[-1].errors[0]["message"] == "the upload form had expired"
    assert not exists(lambda_env, key)


@pytest.mark.parametrize("key", ["uploads/not-a-uuid/x/y.csv", "uploads/{user}/{portfolio}/../../other.csv"])
def test_malformed_keys_are_ignored(
    key: str, lambda_env: LocalResources, database_url: str, lambda_context: Any
) -> None:
    user_id, portfolio_id = make_portfolio(database_url)
    key = key.format(user=user_id, portfolio=portfolio_id)
    assert upload(lambda_env, key, GOOD, lambda_context) == {"batchItemFailures": []}
    assert portfolio(database_url, portfolio_id).status == "awaiting_upload"
    assert [u.status for u in uploads(database_url)] == ["ignored"]
    assert not exists(lambda_env, key)  # the red-team round: nothing can use it, and a `..` key broke the local save


def test_worker_ignores_objects_outside_uploads(
    lambda_env: LocalResources, database_url: str, lambda_context: Any
) -> None:
    event = load_event("sqs_s3_object_created.json")
    body = json.loads(event["Records"][0]["body"])
    body["Records"][0]["s3"]["object"]["key"] = "elsewhere/file.csv"
    event["Records"][0]["body"] = json.dumps(body)
    assert worker(event, lambda_context) == {"batchItemFailures": []}
    assert uploads(database_url) == []


@pytest.mark.parametrize("body", ["sqs_s3_test_event.json", "not json at all", '{"Records": "nope"}', "[]"])
def test_worker_acknowledges_messages_that_are_not_s3_events(
    body: str, lambda_env: LocalResources, database_url: str, lambda_context: Any
) -> None:
    event = load_event("sqs_s3_test_event.json") if body.endswith(".json") else _with_body(body)
    assert worker(event, lambda_context) == {"batchItemFailures": []}
    assert uploads(database_url) == []


def test_sample_event_of_a_foreign_key_is_recorded_as_ignored(
    lambda_env: LocalResources, database_url: str, lambda_context: Any
) -> None:
    # events/sqs_s3_object_created.json (in this stack's bucket): a form-encoded key that names no portfolio
    assert worker(sample_upload_event(lambda_env), lambda_context) == {"batchItemFailures": []}
    [row] = uploads(database_url)
    assert (row.object_key.rsplit("/", 1)[-1], row.status) == ("my portfolio(2).csv", "ignored")


# ----------------------------------------------------------------------------------------------- failures, sweep


def test_worker_reports_only_the_failed_record_when_the_database_is_down(
    lambda_env: LocalResources, lambda_context: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from labfolio_common.settings import get_settings

    # given a batch of a test event (fine) and an upload notification, with the database unreachable
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/missing-dir/db.sqlite")
    get_settings.cache_clear()
    event = load_event("sqs_s3_test_event.json")
    upload_record = sample_upload_event(lambda_env)["Records"][0]
    upload_record["messageId"] = "upload-message"
    event["Records"].append(upload_record)
    # when
    result = worker(event, lambda_context)
    # then only the upload is retried
    assert result == {"batchItemFailures": [{"itemIdentifier": "upload-message"}]}


def test_transient_failure_releases_the_claim_and_the_sweep_settles_what_is_left(
    lambda_env: LocalResources, database_url: str, lambda_context: Any
) -> None:
    # given a notification for a portfolio's object that S3 cannot serve (archived: GetObject answers
    # InvalidObjectState)
    user_id, portfolio_id = make_portfolio(database_url)
    key = key_of(user_id, portfolio_id)
    lambda_env.s3.put_object(Bucket=bucket(lambda_env), Key=key, Body=GOOD, StorageClass="GLACIER")
    event = notifications(lambda_env)
    # when the worker tries twice
    for _ in range(2):
        failures = worker(copy.deepcopy(event), lambda_context)["batchItemFailures"]
        assert len(failures) == 1
    # then the portfolio is processing, the upload released for the next attempt with the reason
    assert portfolio(database_url, portfolio_id).status == "processing"
    [row] = uploads(database_url)
    assert (row.status, row.attempts, row.lease_until) == ("received", 2, None)
    assert "InvalidObjectState" in (row.last_error or "")
    # and once the retries ran out, the sweep abandons it and fails the portfolio with the reason
    from analysis.sweep import sweep

    assert sweep(database_url, timedelta(minutes=10))["abandoned_uploads"] == 0  # not stale yet
    summary = sweep(database_url, timedelta(minutes=10), now=utcnow() + timedelta(minutes=11))
    assert summary == {"abandoned_uploads": 1, "settled_portfolios": 1, "stale_after_s": 600}
    found = portfolio(database_url, portfolio_id)
    assert found.status == "failed"
    [error] = found.errors
    assert "could not be processed after repeated attempts" in error["message"]
    assert "InvalidObjectState" in error["message"]
    # a redriven message may still claim the abandoned upload
    assert worker(copy.deepcopy(event), lambda_context)["batchItemFailures"]
    assert [u.attempts for u in uploads(database_url)] == [3]


def test_sweep_returns_a_ready_portfolio_to_ready(
    lambda_env: LocalResources, database_url: str, lambda_context: Any
) -> None:
    user_id, portfolio_id = make_portfolio(database_url)
    upload(lambda_env, key_of(user_id, portfolio_id), GOOD, lambda_context)
    with session_scope(database_url) as session:  # as if a crash had left it processing
        session.get(Portfolio, portfolio_id).status = "processing"
    from analysis.sweep import sweep

    assert sweep(database_url, timedelta(minutes=10))["settled_portfolios"] == 1
    assert portfolio(database_url, portfolio_id).status == "ready"


def test_scheduled_event_runs_the_sweep_with_the_queues_retry_window(
    lambda_env: LocalResources, database_url: str, lambda_context: Any
) -> None:
    result = worker(scheduled_event("arn:aws:events:us-east-1:123456789012:rule/sweep"), lambda_context)
    # local timings: visibility 5 s x maxReceiveCount 3, plus one invocation (the context's 30 s + 5 s margin)
    assert result == {"abandoned_uploads": 0, "settled_portfolios": 0, "stale_after_s": 15 + 35, "failed_analyses": 0}


def test_out_of_order_older_file_does_not_replace_newer_holdings(
    lambda_env: LocalResources, database_url: str, lambda_context: Any
) -> None:
    user_id, portfolio_id = make_portfolio(database_url)
    old_key = key_of(user_id, portfolio_id)
    lambda_env.s3.put_object(Bucket=bucket(lambda_env), Key=old_key, Body=b"ticker,quantity\nKO,1\n")
    old_event = notifications(lambda_env)
    upload(lambda_env, key_of(user_id, portfolio_id), GOOD, lambda_context)
    # when the older file's event arrives last
    for record in old_event["Records"]:
        body = json.loads(record["body"])
        for s3_record in body.get("Records", []):
            s3_record["eventTime"] = "2000-01-01T00:00:00.000Z"
        record["body"] = json.dumps(body)
    assert worker(old_event, lambda_context) == {"batchItemFailures": []}
    # then it is superseded
    assert holdings(database_url, portfolio_id) == [("AAPL", 10.0), ("MSFT", 5.0)]
    assert [u.status for u in uploads(database_url) if u.object_key == old_key] == ["superseded"]
    assert not exists(lambda_env, old_key)


def sample_upload_event(env: LocalResources) -> dict[str, Any]:
    """events/sqs_s3_object_created.json with this stack's bucket (the worker ignores any other bucket's events)."""
    event = load_event("sqs_s3_object_created.json")
    for record in event["Records"]:
        record["body"] = record["body"].replace("labfolio-dev-uploads-123456789012", bucket(env))
    return event


def _with_body(body: str) -> dict[str, Any]:
    event = load_event("sqs_s3_test_event.json")
    event["Records"][0]["body"] = body
    return event


def test_an_object_another_worker_holds_is_retried_until_its_lease_ends(
    lambda_env: LocalResources, database_url: str, lambda_context: Any
) -> None:
    # given an object whose claim another worker holds (a concurrent delivery of the same event)
    user_id, portfolio_id = make_portfolio(database_url)
    key = key_of(user_id, portfolio_id)
    lambda_env.s3.put_object(Bucket=bucket(lambda_env), Key=key, Body=GOOD)
    event = notifications(lambda_env)
    s3_record = next(json.loads(r["body"])["Records"][0] for r in event["Records"] if "Records" in r["body"])
    with session_scope(database_url) as session:
        session.add(
            Upload(
                bucket=bucket(lambda_env),
                object_key=key,
                etag=s3_record["s3"]["object"]["eTag"],
                size_bytes=len(GOOD),
                status="processing",
                user_id=user_id,
                portfolio_id=portfolio_id,
                attempts=1,
                claim_id=uuid.uuid4(),
                lease_until=utcnow() + timedelta(minutes=1),
            )
        )
    # when this worker gets the event, it leaves it for later
    assert len(worker(copy.deepcopy(event), lambda_context)["batchItemFailures"]) == 1
    assert holdings(database_url, portfolio_id) == []
    # and once the other's lease has ended (it died), the retry takes the object over
    with session_scope(database_url) as session:
        session.scalars(select(Upload)).one().lease_until = utcnow() - timedelta(seconds=1)
    assert worker(copy.deepcopy(event), lambda_context) == {"batchItemFailures": []}
    [row] = uploads(database_url)
    assert (row.status, row.attempts) == ("ready", 2)
    assert holdings(database_url, portfolio_id) == [("AAPL", 10.0), ("MSFT", 5.0)]
