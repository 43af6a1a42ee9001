"""The local stack, whole: moto server, template resources, migrations, functions in their own processes, the
gateway, the SQS poller and the scheduler — driven over HTTP and S3 as a user and AWS would."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from labfolio_common.db.engine import dispose_engine, session_scope
from labfolio_common.db.models import Factor, Upload
from sqlalchemy import func, select

from local.aws_resources import aws_client
from local.model import load_model
from local.stack import LocalConfig, LocalStack
from tests.fixtures.polling import wait_for
from tests.fixtures.stacks import serving

pytestmark = pytest.mark.integration


def http(url: str, method: str = "GET") -> tuple[int, Any, dict[str, str]]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
            status, headers = response.status, dict(response.headers)
    except urllib.error.HTTPError as exc:
        body, status, headers = exc.read(), exc.code, dict(exc.headers)
    try:
        return status, json.loads(body), headers
    except ValueError:
        return status, body.decode(), headers


def make_stack(data_dir: Path, database_url: str) -> LocalStack:
    # port 0: the gateway and moto take free ports themselves (no race between picking a port and binding it)
    # no demo portfolio: these tests count the uploads and objects they make themselves
    config = LocalConfig(
        port=0, moto_port=0, data_dir=data_dir, database_url=database_url, max_instances=1, demo_portfolio=False
    )
    return LocalStack(config)


@pytest.fixture
def running(tmp_path: Path, database_url: str) -> Iterator[tuple[LocalStack, str]]:
    with serving(make_stack(tmp_path / "data", database_url), database_url) as running:
        yield running


@pytest.fixture(scope="module")
def shared(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalStack, str]]:
    """One stack per database for the tests below that only read it (health, routes, documents, pages, CORS)."""
    data_dir = tmp_path_factory.mktemp("shared-stack") / "data"
    with serving(make_stack(data_dir, module_database_url), module_database_url) as running:
        yield running


def count(database_url: str, model: Any) -> int:
    with session_scope(database_url) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_health_reports_every_part_healthy(shared: tuple[LocalStack, str]) -> None:
    _, base = shared
    status, body, _ = http(f"{base}/api/health")
    assert (status, body) == (200, {"status": "ok"})  # the parts are for signed-in callers: /api/health/detail


def test_every_answer_carries_the_deployed_security_headers(shared: tuple[LocalStack, str]) -> None:
    """As CloudFront sends them in AWS (local.headers), on the page, the API and a 404; no Server header."""
    stack, base = shared
    for path in ("/", "/api/health", "/api/nothing-here", "/api/docs"):
        _, _, headers = http(f"{base}{path}")
        headers = {k.lower(): v for k, v in headers.items()}
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path
        assert f"connect-src 'self' {stack.moto.endpoint}" in headers["content-security-policy"], path
        assert (headers["x-frame-options"], headers["x-content-type-options"]) == ("DENY", "nosniff"), path
        assert "server" not in headers, path


def test_gateway_serves_exactly_the_template_routes(shared: tuple[LocalStack, str]) -> None:
    stack, base = shared
    declared = {(r.method, r.path) for r in load_model().routes}
    assert {(r.method, r.path) for r in stack.model.routes} == declared
    for method, path in declared:
        status, body, _ = http(f"{base}{path}", method)
        # routed to its function: not API Gateway's 404 (bodiless requests to protected routes answer 401 or 422)
        assert body != {"message": "Not Found"} and status < 500, (method, path, status, body)
    # what the template does not declare is API Gateway's 404, whatever the method
    assert http(f"{base}/api/nope")[:2] == (404, {"message": "Not Found"})
    assert http(f"{base}/api/health", "POST")[:2] == (404, {"message": "Not Found"})
    assert http(f"{base}/api/auth/health", "DELETE")[:2] == (404, {"message": "Not Found"})


def test_merged_openapi_document_has_every_function(shared: tuple[LocalStack, str]) -> None:
    _, base = shared
    status, doc, _ = http(f"{base}/api/openapi.json")
    assert status == 200
    assert {"/api/health", "/api/auth/health", "/api/analysis/health", "/api/portfolios/health"} <= set(doc["paths"])


def test_frontend_is_served_at_the_root(shared: tuple[LocalStack, str]) -> None:
    _, base = shared
    status, body, headers = http(f"{base}/")
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    assert "labfolio" in body


def test_the_uploads_bucket_allows_the_gateways_real_origin(shared: tuple[LocalStack, str]) -> None:
    """Port 0 (any free port): the CORS rule names the port the gateway got, so a browser's presigned POST from the
    gateway's pages passes the preflight."""
    stack, base = shared
    assert stack.resources is not None and not base.endswith(":0")
    uploads = stack.resources.bucket_names()[0]
    rules = stack.resources.s3.get_bucket_cors(Bucket=uploads)["CORSRules"]
    assert [origin for rule in rules for origin in rule["AllowedOrigins"]] == [base]


def test_upload_reaches_the_worker_through_sqs(running: tuple[LocalStack, str], database_url: str) -> None:
    stack, _ = running
    # given the bucket from the template
    bucket = stack.resources.bucket_names()[0]
    s3 = aws_client("s3", stack.moto.endpoint)
    # when a CSV lands under uploads/
    content = b"ticker,quantity\nAAPL,10\n"
    s3.put_object(Bucket=bucket, Key="uploads/u1/p1/my holdings.csv", Body=content)
    # then the worker records it, via the S3 notification, the queue and the poller
    wait_for(lambda: count(database_url, Upload) == 1)
    with session_scope(database_url) as session:
        upload = session.scalars(select(Upload)).one()
    assert (upload.bucket, upload.object_key, upload.size_bytes) == (
        bucket,
        "uploads/u1/p1/my holdings.csv",
        len(content),
    )
    # and objects outside uploads/ raise no event
    s3.put_object(Bucket=bucket, Key="other/x.csv", Body=b"x")
    time.sleep(1.5)
    assert count(database_url, Upload) == 1


def test_scheduler_runs_factor_update_at_start(running: tuple[LocalStack, str], database_url: str) -> None:
    stack, base = running
    (scheduler,) = [s for s in stack.schedulers if "FactorUpdateFunction" in s.rule_arn]  # the worker's sweep too
    wait_for(lambda: scheduler.runs >= 1)
    # the offline demo data is backfilled: the S&P 500 index and the five style ETFs
    summary = scheduler.last_result
    assert (summary["provider"], summary["demo_data"], summary["failed"]) == ("offline", True, {})
    assert set(summary["updated"]) == {"SP500", "MTUM", "QUAL", "SIZE", "USMV", "VLUE"}
    assert count(database_url, Factor) >= 30
    status, factors, _ = http(f"{base}/api/factors")
    assert status == 200
    mtum = next(f for f in factors if f["factor_id"] == "MTUM")
    assert (mtum["last_date"], mtum["demo_data"]) == ("2022-12-28", True)


def test_restart_keeps_database_and_objects_without_reprocessing(tmp_path: Path, database_url: str) -> None:
    data_dir = tmp_path / "data"
    first = make_stack(data_dir, database_url).start()
    try:
        bucket = first.resources.bucket_names()[0]
        s3 = aws_client("s3", first.moto.endpoint)
        s3.put_object(Bucket=bucket, Key="files/u/p/a.csv", Body=b"a,b\n")  # a kept file: no event
        s3.put_object(Bucket=bucket, Key="uploads/u/p/a.csv", Body=b"a,b\n")  # recorded as ignored, and deleted
        wait_for(lambda: count(database_url, Upload) == 1)
    finally:
        first.stop()
    second = make_stack(data_dir, database_url).start()
    try:
        body = aws_client("s3", second.moto.endpoint).get_object(Bucket=bucket, Key="files/u/p/a.csv")["Body"]
        assert body.read() == b"a,b\n"
        time.sleep(2)  # the poller would have seen a re-sent notification by now
        assert count(database_url, Upload) == 1
    finally:
        second.stop()
        dispose_engine(database_url)
