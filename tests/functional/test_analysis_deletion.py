"""The prices an analysis stored (analyses/{user}/{portfolio}/{analysis}/prices.csv.gz) go with their portfolio and
with their account, in S3 and in the database; another portfolio's and another account's stay. Through the real
handlers (portfolios, auth, the worker), the template's bucket and queue in moto, SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from labfolio_common.db.engine import session_scope
from labfolio_common.db.models import Analysis
from sqlalchemy import func, select

from local.aws_resources import LocalResources
from tests.fixtures.analyses import Account, drain, ready_portfolio
from tests.fixtures.auth import PASSWORD

pytestmark = pytest.mark.functional

BOOK = b"ticker,quantity\nAAPL,120\nKO,150\n"


@pytest.fixture
def env(factor_env: LocalResources) -> LocalResources:
    return factor_env


def analysed(account: Account, env: LocalResources, context: Any) -> str:
    portfolio_id = ready_portfolio(account, env, context, BOOK)
    assert drain(env, context) == [{"batchItemFailures": []}]
    return portfolio_id


def keys(env: LocalResources, prefix: str) -> list[str]:
    listed = env.s3.list_objects_v2(Bucket=env.bucket_names()[0], Prefix=prefix)
    return [o["Key"] for o in listed.get("Contents", [])]


def analyses(database_url: str, **where: Any) -> int:
    query = select(func.count()).select_from(Analysis)
    for name, value in where.items():
        query = query.where(getattr(Analysis, name) == uuid.UUID(value))
    with session_scope(database_url) as db:
        return int(db.scalar(query) or 0)


def test_deleting_a_portfolio_removes_its_analyses_and_their_stored_prices(
    env: LocalResources, lambda_context: Any, database_url: str
) -> None:
    # given two analysed portfolios of one account
    dan = Account(lambda_context, "dan")
    gone, kept = analysed(dan, env, lambda_context), analysed(dan, env, lambda_context)
    assert len(keys(env, f"analyses/{dan.user_id}/{gone}/")) == 1
    # when one is deleted
    assert dan("DELETE", f"/api/portfolios/{gone}", function="portfolios").status == 204
    # then its analyses and stored prices are gone, the other's stay
    assert keys(env, f"analyses/{dan.user_id}/{gone}/") == []
    assert analyses(database_url, portfolio_id=gone) == 0
    assert len(keys(env, f"analyses/{dan.user_id}/{kept}/")) == 1
    assert analyses(database_url, portfolio_id=kept) == 1


def test_deleting_an_account_removes_its_analyses_and_their_stored_prices(
    env: LocalResources, lambda_context: Any, database_url: str
) -> None:
    erin, frank = Account(lambda_context, "erin"), Account(lambda_context, "frank")
    analysed(erin, env, lambda_context)
    analysed(frank, env, lambda_context)
    assert len(keys(env, f"analyses/{erin.user_id}/")) == 1
    answer = erin("DELETE", "/api/auth/me", {"password": PASSWORD}, function="auth")
    assert answer.status == 204, answer.body
    assert keys(env, f"analyses/{erin.user_id}/") == []
    assert analyses(database_url, user_id=erin.user_id) == 0
    assert len(keys(env, f"analyses/{frank.user_id}/")) == 1
    assert analyses(database_url, user_id=frank.user_id) == 1
