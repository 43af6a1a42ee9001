"""The migration custom resource (functions/migrate) with CloudFormation's real event shapes: Create and Update
migrate an empty database to head (SQLite and PostgreSQL), Delete always succeeds, and a failure is answered FAILED
with its reason - always by a PUT to the event's ResponseURL, served here by a local HTTP server."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from labfolio_common.db.engine import dispose_engine
from sqlalchemy import inspect

from migrations.runner import current_revision, head_revision
from tests.fixtures.aws import load_event

pytestmark = pytest.mark.functional

MIGRATE_CODE = Path(__file__).resolve().parents[2] / "functions" / "migrate"


class _Recorder(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append({"path": self.path, "headers": dict(self.headers), "body": json.loads(body)})
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def cloudformation() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A stand-in for the pre-signed S3 response URL: (base URL, the PUT requests received)."""
    received: list[dict[str, Any]] = []
    handler = type("Recorder", (_Recorder,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


@pytest.fixture
def invoke(
    monkeypatch: pytest.MonkeyPatch, lambda_context: Any, cloudformation: tuple[str, list[dict[str, Any]]]
) -> Callable[[str, dict[str, str]], tuple[dict[str, Any], dict[str, Any]]]:
    """Send the named sample event, its ResponseURL pointed at the local server; (handler result, PUT received)."""
    monkeypatch.syspath_prepend(str(MIGRATE_CODE))
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    base, received = cloudformation

    def run(event_name: str, environment: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
        from migrate.handler import lambda_handler

        for name in ("DATABASE_URL", "DATABASE_SECRET_ARN", "DATABASE_HOST", "DATABASE_NAME"):
            monkeypatch.delenv(name, raising=False)
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        event = load_event(event_name)
        original = urlsplit(event["ResponseURL"])
        event["ResponseURL"] = f"{base}{original.path}?{original.query}"
        count = len(received)
        result = lambda_handler(event, lambda_context)
        assert len(received) == count + 1, "exactly one answer per event"
        put = received[-1]
        assert put["path"] == f"{original.path}?{original.query}"  # the pre-signed URL, untouched
        assert put["headers"].get("Content-Type", "") == ""  # the signature covers no content type
        for key in ("StackId", "RequestId", "LogicalResourceId"):
            assert put["body"][key] == event[key], key
        return result, put["body"]

    return run


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'deploy.db'}"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    yield url
    dispose_engine(url)


def test_create_then_update_migrate_an_empty_database_to_head(invoke: Any, empty_database: str) -> None:
    assert current_revision(empty_database) is None
    result, answer = invoke("cloudformation_custom_resource_create.json", {"DATABASE_URL": empty_database})
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert answer["Data"] == {"Revision": head_revision(), "PreviousRevision": "none"}
    assert answer["PhysicalResourceId"] == "DatabaseMigration-database"
    assert result["Status"] == "SUCCESS"
    assert current_revision(empty_database) == head_revision()
    dispose_engine(empty_database)
    tables = set(inspect(_engine(empty_database)).get_table_names(schema=_schema(empty_database)))
    assert {"accounts", "portfolios", "user_portfolios"} <= tables

    # An Update (a new code version) on a database already at head: nothing to do, still SUCCESS, same resource.
    _, answer = invoke("cloudformation_custom_resource_update.json", {"DATABASE_URL": empty_database})
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert answer["Data"] == {"Revision": head_revision(), "PreviousRevision": head_revision()}
    assert answer["PhysicalResourceId"] == "DatabaseMigration-database"


def test_a_failed_migration_answers_failed_with_the_reason_and_no_password(invoke: Any, tmp_path: Path) -> None:
    # Nothing listens on port 9: the connection is refused, as when the security groups are wrong.
    url = "postgresql+pg8000://labfolio:s3cretPassw0rd@127.0.0.1:9/labfolio"
    result, answer = invoke("cloudformation_custom_resource_create.json", {"DATABASE_URL": url})
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith("migration failed: ")
    assert "s3cretPassw0rd" not in json.dumps(answer) and "s3cretPassw0rd" not in json.dumps(result)
    assert answer["Data"] == {}
    assert result["Status"] == "FAILED"


def test_missing_configuration_fails_the_deploy_naming_the_setting(invoke: Any) -> None:
    _, answer = invoke("cloudformation_custom_resource_update.json", {})
    assert answer["Status"] == "FAILED"
    assert "DATABASE_URL" in answer["Reason"]


def test_delete_keeps_the_database_and_always_succeeds(invoke: Any, database_url: str) -> None:
    _, answer = invoke("cloudformation_custom_resource_delete.json", {"DATABASE_URL": database_url})
    assert answer["Status"] == "SUCCESS"
    assert answer["PhysicalResourceId"] == "DatabaseMigration-database"
    assert current_revision(database_url) == head_revision()  # untouched
    # Even with no database configured at all (a stack rolled back before the database existed).
    _, answer = invoke("cloudformation_custom_resource_delete.json", {})
    assert answer["Status"] == "SUCCESS"


def test_create_reads_the_rds_secret(
    invoke: Any, aws: Any, fresh_postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As deployed: no DATABASE_URL, the generated secret (as attached to the instance) plus host and name."""
    import boto3
    from sqlalchemy.engine import make_url

    server = make_url(fresh_postgres_url)
    secret = {"username": server.username, "password": "any/pass@word", "engine": "postgres", "port": server.port}
    arn = boto3.client("secretsmanager").create_secret(Name="labfolio-db", SecretString=json.dumps(secret))["ARN"]
    environment = {
        "DATABASE_SECRET_ARN": arn,
        "DATABASE_HOST": str(server.host),
        "DATABASE_NAME": str(server.database),
        "DATABASE_SSLMODE": "disable",  # the test server speaks no TLS; RDS gets "require"
    }
    _, answer = invoke("cloudformation_custom_resource_create.json", environment)
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert current_revision(fresh_postgres_url) == head_revision()


def _engine(url: str) -> Any:
    from labfolio_common.db.engine import get_engine

    return get_engine(url)


def _schema(url: str) -> str | None:
    return None if url.startswith("sqlite") else "user_management"


# ------------------------------------------------------------------ the operator's password reset in a deployed stack


@pytest.fixture
def operator(
    monkeypatch: pytest.MonkeyPatch, lambda_context: Any, database_url: str
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Invoke the migrate function directly, as `aws lambda invoke` does, on a migrated database with account alice
    (one open session)."""
    from datetime import timedelta

    from labfolio_common.auth.admin import ensure_account
    from labfolio_common.auth.sessions import open_session
    from labfolio_common.db.engine import session_scope
    from labfolio_common.db.models import utcnow

    monkeypatch.syspath_prepend(str(MIGRATE_CODE))
    for name in ("DATABASE_SECRET_ARN", "DATABASE_HOST", "DATABASE_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", database_url)
    with session_scope(database_url) as db:
        account, _ = ensure_account(db, "alice", "correct horse battery")
        open_session(db, account.user_id, utcnow(), timedelta(hours=1))

    def run(event: dict[str, Any]) -> dict[str, Any]:
        from migrate.handler import lambda_handler

        return dict(lambda_handler(event, lambda_context))

    return run


def _password_of(database_url: str, username: str) -> str:
    from labfolio_common.auth.accounts import find_by_username
    from labfolio_common.db.engine import session_scope

    with session_scope(database_url) as db:
        account = find_by_username(db, username)
        assert account is not None
        return str(account.password_hash)


def test_operator_reset_gives_a_new_password_and_ends_the_sessions(
    operator: Any, database_url: str, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    from labfolio_common.auth.passwords import verify_password

    before = _password_of(database_url, "alice")
    answer = operator({"operator": "reset-password", "username": " alice "})
    assert set(answer) == {"username", "password", "sessions_ended"}, answer
    assert answer["username"] == "alice" and answer["sessions_ended"] == 1
    after = _password_of(database_url, "alice")
    assert after != before and verify_password(after, answer["password"])
    assert not verify_password(after, "correct horse battery")
    assert len(answer["password"]) >= 20
    printed = capsys.readouterr()
    logged = printed.out + printed.err + "".join(repr(vars(record)) for record in caplog.records)  # extras too
    assert answer["password"] not in logged  # the answer is the invoker's alone
    assert "password reset by the operator" in caplog.text


@pytest.mark.parametrize(
    ("event", "error"),
    [
        ({"operator": "reset-password", "username": "nobody"}, "no account named 'nobody'"),
        ({"operator": "reset-password"}, "username: required, the account's name"),
        ({"operator": "reset-password", "username": ["alice"]}, "username: required, the account's name"),
        ({"operator": "drop-database", "username": "alice"}, "operator: unknown action 'drop-database'"),
    ],
)
def test_operator_mistakes_answer_an_error_and_change_nothing(
    operator: Any, database_url: str, event: dict[str, Any], error: str
) -> None:
    before = _password_of(database_url, "alice")
    answer = operator(event)
    assert list(answer) == ["error"] and answer["error"].startswith(error), answer
    assert _password_of(database_url, "alice") == before


FAKE_AWS = """#!/bin/sh
# The AWS CLI as `make reset-password-aws` calls it: the stack's MigrateFunction, then `lambda invoke`, which runs
# the real handler here (its answer written to the outfile, as the CLI does).
echo "$@" >> "{calls}"
case "$1 $2" in
  "cloudformation describe-stack-resource") echo "labfolio-dev-MigrateFunction-AbC123" ;;
  "lambda invoke") exec "{python}" "{runner}" "$@" ;;
  *) echo "unexpected: $@" >&2; exit 2 ;;
esac
"""
FAKE_INVOKE = """
import json, sys
from types import SimpleNamespace
sys.path[:0] = [{migrate!r}, {layer!r}]
from migrate.handler import lambda_handler
args = sys.argv[1:]
payload = json.loads(args[args.index("--payload") + 1])
context = SimpleNamespace(function_name="MigrateFunction", memory_limit_in_mb=512, aws_request_id="r-1",
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:MigrateFunction")
with open(args[-1], "w") as out:
    json.dump(lambda_handler(payload, context), out)
print(json.dumps({{"StatusCode": 200, "ExecutedVersion": "$LATEST"}}))
"""


@pytest.mark.parametrize("username", ["alice", "nobody"])
def test_make_reset_password_aws_invokes_the_stacks_migrate_function(
    operator: Any, database_url: str, tmp_path: Path, username: str
) -> None:
    """The Makefile recipe end to end, with the AWS CLI replaced at its boundary by one that runs the real handler."""
    import os
    import subprocess
    import sys

    from labfolio_common.auth.passwords import verify_password

    root = MIGRATE_CODE.parents[1]
    runner, calls = tmp_path / "invoke.py", tmp_path / "calls.txt"
    runner.write_text(FAKE_INVOKE.format(migrate=str(MIGRATE_CODE), layer=str(root / "layers" / "common")))
    fake = tmp_path / "bin" / "aws"
    fake.parent.mkdir()
    fake.write_text(FAKE_AWS.format(calls=calls, python=sys.executable, runner=runner))
    fake.chmod(0o755)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = dict(os.environ, PATH=f"{fake.parent}:{os.environ['PATH']}", DATABASE_URL=database_url, TMPDIR=str(scratch))
    done = subprocess.run(
        ["make", "-s", "-C", str(root), "reset-password-aws", f"ACCOUNT={username}", "STACK=labfolio-dev"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    describe, invoke = calls.read_text().splitlines()
    assert "--stack-name labfolio-dev --logical-resource-id MigrateFunction" in describe
    assert "--function-name labfolio-dev-MigrateFunction-AbC123" in invoke
    assert f'{{"operator": "reset-password", "username": "{username}"}}' in invoke
    if username == "nobody":
        assert done.returncode != 0 and "error: no account named 'nobody'" in done.stdout, done
        return
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.splitlines()[-2:]
    assert first == "password of 'alice' reset; 1 session(s) ended"
    password = second.removeprefix("new password: ")
    assert verify_password(_password_of(database_url, "alice"), password)
    assert not list(scratch.iterdir())  # the answer (with the password) is not left on disk
