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
