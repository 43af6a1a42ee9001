"""No account can take the analysis queue or the database from the others (the red-team round: 200 requests from
20 threads were all accepted, another account's upload waited 243 s instead of 0.1 s, and results were kept for
ever). Each account has a share of the queue (at most `max_active_analyses` queued or running: a 429 with
Retry-After beyond it), so another account's job waits behind at most that many of its; and each portfolio keeps
at most `analysis_history` analyses, never losing its latest ready one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from labfolio_common.settings import get_settings

from local.aws_resources import LocalResources
from tests.fixtures.analyses import Account, browser_upload, drain, ready_portfolio, worker
from tests.fixtures.pipeline import notifications

pytestmark = pytest.mark.functional

BOOK = b"ticker,quantity\nAAPL,120\nMSFT,60\nKO,150\n"
SHARE = 3


@pytest.fixture
def env(factor_env: LocalResources, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalResources]:
    monkeypatch.setenv("MAX_ACTIVE_ANALYSES", str(SHARE))
    monkeypatch.setenv("ANALYSIS_HISTORY", "2")
    get_settings.cache_clear()
    yield factor_env
    get_settings.cache_clear()


def ask(account: Account, portfolio_id: str, body: Any = None) -> Any:
    return account("POST", f"/api/portfolios/{portfolio_id}/analyses", body or {})


def statuses(account: Account, portfolio_id: str) -> list[str]:
    answer = account("GET", f"/api/portfolios/{portfolio_id}/analyses")
    assert answer.status == 200, answer.body
    return [item["status"] for item in answer.body["items"]]


def test_an_account_beyond_its_share_of_the_queue_is_told_to_wait(env: LocalResources, lambda_context: Any) -> None:
    alice = Account(lambda_context, "alice")
    portfolio_id = ready_portfolio(alice, env, lambda_context, BOOK)  # its default analysis: one queued
    assert [ask(alice, portfolio_id).status for _ in range(SHARE - 1)] == [202] * (SHARE - 1)
    refused = ask(alice, portfolio_id)
    assert (refused.status, refused.body["error"], refused.headers["retry-after"]) == (429, "too_many_requests", "30")
    assert refused.body["detail"] == (
        f"{SHARE} analyses of yours are queued or running (at most {SHARE} at once): ask again when one has finished"
    )
    assert statuses(alice, portfolio_id).count("queued") == SHARE  # nothing more was queued
    drain(env, lambda_context)
    assert ask(alice, portfolio_id).status == 202  # once they ran, the share is free again


def test_another_accounts_upload_is_analysed_behind_at_most_the_floods_share(
    env: LocalResources, lambda_context: Any
) -> None:
    alice, bob = Account(lambda_context, "alice"), Account(lambda_context, "bob")
    flooded = ready_portfolio(alice, env, lambda_context, BOOK)
    answers = [ask(alice, flooded, {"hac_lags": 5}).status for _ in range(20)]  # the flood: 20 more at once
    assert answers.count(202) == SHARE - 1 and answers.count(429) == 20 - (SHARE - 1)
    # bob uploads while alice's backlog waits
    created = bob.portfolio()
    browser_upload(created.body["upload"], BOOK)
    batch = notifications(env)["Records"]
    assert len(batch) == SHARE + 1  # alice's SHARE jobs, then bob's upload: the queue holds no more of hers
    handled = 0
    for record in batch:  # one message at a time, in the queue's order
        assert worker({"Records": [record]}, lambda_context) == {"batchItemFailures": []}
        handled += 1
    for record in notifications(env)["Records"]:  # bob's default analysis, queued by his ingestion
        assert worker({"Records": [record]}, lambda_context) == {"batchItemFailures": []}
        handled += 1
    assert statuses(bob, str(created.body["portfolio_id"])) == ["ready"]
    assert handled == SHARE + 2  # bob's analysis was ready after alice's share of jobs, not after her whole flood


def test_a_portfolio_keeps_a_bounded_history_and_always_its_latest_ready_analysis(
    env: LocalResources, lambda_context: Any
) -> None:
    alice = Account(lambda_context, "alice")
    portfolio_id = ready_portfolio(alice, env, lambda_context, BOOK)
    drain(env, lambda_context)
    for lags in (1, 2):
        assert ask(alice, portfolio_id, {"hac_lags": lags}).status == 202
        drain(env, lambda_context)
    items = alice("GET", f"/api/portfolios/{portfolio_id}/analyses").body["items"]
    assert [(i["status"], i["params"]["hac_lags"]) for i in items] == [("ready", 2), ("ready", 1)]  # history = 2
    prices = env.s3.list_objects_v2(Bucket=env.bucket_names()[0], Prefix=f"analyses/{alice.user_id}/")
    assert len(prices.get("Contents", [])) == 2  # the oldest's stored prices went with it
    # two newer analyses that fail: the latest ready one stays, beyond the history
    for _ in range(2):
        assert ask(alice, portfolio_id, {"gross": 1.0}).status == 202  # gross only applies to weights: kept
    from labfolio_common.db.engine import session_scope
    from labfolio_common.db.models import Analysis
    from sqlalchemy import update

    with session_scope(get_settings().database_url) as db:  # make them fail in the worker (an unknown factor)
        db.execute(update(Analysis).where(Analysis.status == "queued").values(params={"factor_ids": ["NOPE"]}))
    drain(env, lambda_context)
    assert statuses(alice, portfolio_id) == ["failed", "failed", "ready"]


def test_an_upload_beyond_the_accounts_share_gets_no_queued_analysis_but_says_so(
    env: LocalResources, lambda_context: Any
) -> None:
    alice = Account(lambda_context, "alice")
    first = ready_portfolio(alice, env, lambda_context, BOOK)
    assert [ask(alice, first).status for _ in range(SHARE - 1)] == [202] * (SHARE - 1)  # her share is used
    created = alice.portfolio("Second")
    browser_upload(created.body["upload"], BOOK)
    records = notifications(env)["Records"]
    jobs = [r for r in records if '"analysis.run"' in r["body"]]
    (upload,) = [r for r in records if r not in jobs]
    assert len(jobs) == SHARE and worker({"Records": [upload]}, lambda_context) == {"batchItemFailures": []}
    second = str(created.body["portfolio_id"])  # ingested; its default analysis is not queued
    (item,) = alice("GET", f"/api/portfolios/{second}/analyses").body["items"]
    assert item["status"] == "failed"
    assert (
        item["error"]["message"]
        == f"not run: {SHARE} analyses of yours were queued or running (at most {SHARE}): run it again"
    )
    assert notifications(env)["Records"] == []  # nothing more was queued
