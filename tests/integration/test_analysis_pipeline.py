"""Analyses whole, on the local stack (moto server, gateway, functions in their own processes, the SQS poller, on
SQLite and PostgreSQL): an upload ingested and its default analysis made ready with nobody asking; a re-run with
other factors through the API → queue → worker → stored result; the exports; and the demo account's portfolio,
uploaded and analysed at start through the same pipeline."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from labfolio_common.db.engine import dispose_engine

from local.events import scheduled_event
from local.stack import LocalConfig, LocalStack
from tests.fixtures.polling import wait_for

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery"
BOOK = b"ticker,quantity\nAAPL,120\nMSFT,60\nJPM,80\nKO,150\nXOM,100\n"
FACTOR_UPDATE_RULE = "arn:aws:events:us-east-1:123456789012:rule/labfolio-local-FactorUpdateFunctionDaily"


class User:
    """An account calling the gateway as a programmatic client (Bearer token)."""

    def __init__(self, base: str, username: str, password: str = PASSWORD, *, login: bool = False):
        self.base = base
        path = "/api/auth/login" if login else "/api/auth/signup"
        answer = requests.post(f"{base}{path}", json={"username": username, "password": password}, timeout=30)
        assert answer.status_code in (200, 201), answer.text
        self.headers = {"authorization": f"Bearer {answer.json()['access_token']}"}

    def __call__(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(method, f"{self.base}{path}", headers=self.headers, timeout=30, **kwargs)

    def analyses(self, portfolio_id: str) -> list[dict[str, Any]]:
        answer = self("GET", f"/api/portfolios/{portfolio_id}/analyses")
        assert answer.status_code == 200, answer.text
        items: list[dict[str, Any]] = answer.json()["items"]
        return items

    def settled(self, analysis_id: str) -> dict[str, Any] | None:
        found: dict[str, Any] = self("GET", f"/api/analyses/{analysis_id}").json()
        return found if found["status"] in ("ready", "failed") else None


@pytest.fixture
def stack(tmp_path: Path, database_url: str) -> Iterator[tuple[LocalStack, str]]:
    config = LocalConfig(port=0, moto_port=0, data_dir=tmp_path / "data", database_url=database_url, max_instances=2)
    config.run_scheduler = False  # factor_update is invoked below, as the scheduler would at start
    running = LocalStack(config).start()
    try:
        running.invoke("FactorUpdateFunction", scheduled_event(FACTOR_UPDATE_RULE))
        yield running, running.start_http()
    finally:
        running.stop_http()
        running.stop(save=False)
        dispose_engine(database_url)


def test_an_upload_is_analysed_and_a_rerun_with_other_factors_is_ready_too(stack: tuple[LocalStack, str]) -> None:
    local, base = stack
    alice = User(base, "alice")
    # given a portfolio uploaded as a browser uploads it
    created = alice("POST", "/api/portfolios", json={"portfolio_name": "Core"}).json()
    form = created["upload"]
    posted = requests.post(form["url"], data=form["fields"], files={"file": ("b.csv", BOOK, "text/csv")}, timeout=30)
    assert posted.status_code in (200, 201, 204), posted.text
    portfolio_id = created["portfolio_id"]
    # then, with nobody asking, it is ingested and its default analysis becomes ready
    default = wait_for(lambda: [a for a in alice.analyses(portfolio_id) if a["status"] == "ready"], timeout=90)[0]
    assert default["trigger"] == "upload"
    result = alice("GET", f"/api/analyses/{default['analysis_id']}").json()["result"]
    assert [f["factor_id"] for f in result["factors"]] == ["SP500", "MTUM", "QUAL", "SIZE", "USMV", "VLUE"]
    assert result["window"]["demo_data"] is True and result["window"]["observations"] == 504
    # when Alice asks for a re-run with other factors
    asked = alice("POST", f"/api/portfolios/{portfolio_id}/analyses", json={"factor_ids": ["SP500", "QUAL", "VLUE"]})
    assert asked.status_code == 202, asked.text
    rerun = wait_for(lambda: alice.settled(asked.json()["analysis_id"]), timeout=90)
    # then the worker ran it through the queue, with those factors
    assert rerun["status"] == "ready", rerun["error"]
    assert rerun["trigger"] == "request"
    assert list(rerun["result"]["portfolio"]["betas"]) == ["SP500", "QUAL", "VLUE"]
    assert rerun["inputs"]["prices"]["rows"] == 505
    # and its exports download
    exported = alice("GET", f"/api/analyses/{rerun['analysis_id']}/export.csv")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert ["[portfolio_exposures]"] in rows
    assert alice("GET", f"/api/analyses/{rerun['analysis_id']}/export.json").json()["tables"]["hedges"]["rows"]
    # and the prices it used are stored beside it
    bucket = local.resources.bucket_names()[0]
    stored = local.resources.s3.list_objects_v2(Bucket=bucket, Prefix="analyses/")
    assert stored["KeyCount"] == 2
    # and another account sees none of it
    bob = User(base, "bob")
    assert bob("GET", f"/api/analyses/{rerun['analysis_id']}").status_code == 404
    assert bob("GET", f"/api/portfolios/{portfolio_id}/analyses").status_code == 404


def test_the_demo_account_gets_a_portfolio_already_analysed(stack: tuple[LocalStack, str]) -> None:
    local, base = stack
    # when the stack gives the demo account its portfolio (at start, after the first factor update)
    portfolio_id = str(local.ensure_demo_portfolio())
    assert local.ensure_demo_portfolio() is None  # once only
    # then the pipeline ingests and analyses it
    assert local.demo_password is not None
    demo = User(base, "demo", local.demo_password, login=True)
    (portfolio,) = demo("GET", "/api/portfolios").json()["items"]
    assert portfolio["portfolio_id"] == portfolio_id
    analysis = wait_for(lambda: [a for a in demo.analyses(portfolio_id) if a["status"] == "ready"], timeout=90)[0]
    result = demo("GET", f"/api/analyses/{analysis['analysis_id']}").json()["result"]
    holdings = demo("GET", f"/api/portfolios/{portfolio_id}/holdings").json()
    assert set(result["weights"]) == {h["ticker"] for h in holdings} and len(holdings) == 12
    assert result["window"]["demo_data"] is True
