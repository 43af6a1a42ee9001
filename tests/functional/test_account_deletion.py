"""DELETE /api/auth/me: the account and everything it owns disappear from the database and from S3; nothing of
another account is touched. Through the real handler, with the template's bucket in moto, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from labfolio_common.auth.deletion import delete_user_objects
from labfolio_common.db.engine import session_scope
from labfolio_common.db.models import Account, Base, Portfolio, Upload, UserPortfolio
from sqlalchemy import Table, func, select

from local.aws_resources import LocalResources, aws_client
from tests.fixtures.auth import PASSWORD, AuthClient
from tests.fixtures.aws import put_objects

pytestmark = pytest.mark.functional


@pytest.fixture
def client(lambda_env: LocalResources, lambda_context: Any) -> AuthClient:
    return AuthClient(lambda_context)


def s3_of(resources: LocalResources) -> tuple[Any, str]:
    return aws_client("s3", resources.endpoint), resources.bucket_names()[0]


def give_portfolios(database_url: str, resources: LocalResources, user_id: str, count: int = 2) -> list[uuid.UUID]:
    """Portfolios with their ownership rows, upload rows and uploaded objects, as the portfolios function makes."""
    s3, bucket = s3_of(resources)
    owner = uuid.UUID(user_id)
    ids = []
    with session_scope(database_url) as db:
        for number in range(count):
            portfolio = Portfolio(portfolio_id=uuid.uuid4(), portfolio_name=f"book {number}")
            key = f"uploads/{owner}/{portfolio.portfolio_id}/holdings.csv"
            portfolio.portfolio_address = key
            db.add(portfolio)
            db.flush()
            db.add(UserPortfolio(user_id=owner, portfolio_id=portfolio.portfolio_id))
            db.add(Upload(bucket=bucket, object_key=key, size_bytes=24, etag=f"etag-{number}"))
            s3.put_object(Bucket=bucket, Key=key, Body=b"ticker,quantity\nAAPL,10\n")
            ids.append(portfolio.portfolio_id)
    return ids


def keys_under(resources: LocalResources, prefix: str) -> list[str]:
    s3, bucket = s3_of(resources)
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]


def residue(database_url: str, user_id: uuid.UUID, portfolio_ids: list[uuid.UUID]) -> dict[str, int]:
    """Rows anywhere in the schema that still name the user, one of its portfolios or one of its objects."""
    found: dict[str, int] = {}
    with session_scope(database_url) as db:
        for table in Base.metadata.sorted_tables:
            assert isinstance(table, Table)
            conditions = []
            if "user_id" in table.c:
                conditions.append(table.c.user_id == user_id)
            if "portfolio_id" in table.c:
                conditions.append(table.c.portfolio_id.in_(portfolio_ids))
            for column in ("object_key", "portfolio_address"):
                if column in table.c:
                    conditions.append(table.c[column].startswith(f"uploads/{user_id}/"))
            for condition in conditions:
                rows = int(db.scalar(select(func.count()).select_from(table).where(condition)) or 0)
                if rows:
                    found[table.fullname] = found.get(table.fullname, 0) + rows
    return found


def test_deleting_the_account_removes_its_rows_and_objects_only(
    client: AuthClient, lambda_env: LocalResources, database_url: str
) -> None:
    # given two accounts, each with portfolios, upload rows and objects, and sessions
    ada = client.signup("ada.deletes")
    bob = client.signup("bob.stays")
    ada_id, bob_id = uuid.UUID(ada.body["user_id"]), uuid.UUID(bob.body["user_id"])
    ada_portfolios = give_portfolios(database_url, lambda_env, str(ada_id))
    bob_portfolios = give_portfolios(database_url, lambda_env, str(bob_id))
    client.login("ada.deletes")
    s3, bucket = s3_of(lambda_env)
    s3.put_object(Bucket=bucket, Key=f"uploads/{ada_id}x/not-hers.csv", Body=b"x")  # a look-alike prefix
    assert residue(database_url, ada_id, ada_portfolios)
    # when Ada deletes her account
    answer = client.request("DELETE", "/api/auth/me", {"password": PASSWORD}, token=ada.body["access_token"])
    # then nothing of hers remains, in the database or in S3
    assert answer.status == 204, answer.body
    assert "max-age=0" in answer.cookies[0].lower()
    assert residue(database_url, ada_id, ada_portfolios) == {}
    assert keys_under(lambda_env, f"uploads/{ada_id}/") == []
    assert client.me(ada.body["access_token"]).status == 401
    assert client.login("ada.deletes").status == 401
    # and Bob's account, portfolios, rows and objects are untouched
    assert client.me(bob.body["access_token"]).status == 200
    assert set(residue(database_url, bob_id, bob_portfolios)) >= {
        "user_management.accounts",
        "user_management.sessions",
        "user_management.portfolios",
        "user_management.user_portfolios",
        "user_management.uploads",
    }
    assert len(keys_under(lambda_env, f"uploads/{bob_id}/")) == 2
    assert keys_under(lambda_env, f"uploads/{ada_id}x/") == [f"uploads/{ada_id}x/not-hers.csv"]


def test_the_name_is_free_again_after_deletion(client: AuthClient) -> None:
    first = client.signup("phoenix")
    client.request("DELETE", "/api/auth/me", {"password": PASSWORD}, token=first.body["access_token"])
    second = client.signup("Phoenix")
    assert second.body["user_id"] != first.body["user_id"]


def test_deletion_needs_the_password(client: AuthClient, lambda_env: LocalResources, database_url: str) -> None:
    signed = client.signup("careful")
    portfolios = give_portfolios(database_url, lambda_env, signed.body["user_id"], count=1)
    token = signed.body["access_token"]
    wrong = client.request("DELETE", "/api/auth/me", {"password": "not the password"}, token=token)
    missing = client.request("DELETE", "/api/auth/me", token=token)
    assert (wrong.status, missing.status) == (403, 422)
    assert client.me(token).status == 200
    assert "user_management.portfolios" in residue(database_url, uuid.UUID(signed.body["user_id"]), portfolios)
    assert len(keys_under(lambda_env, f"uploads/{signed.body['user_id']}/")) == 1


def test_object_deletion_pages_through_more_than_one_batch(stack_resources: LocalResources) -> None:
    s3, bucket = s3_of(stack_resources)
    user = uuid.uuid4()
    # the thousand and more under analyses/ (stored prices): under uploads/ each put is also an S3 event to the queue,
    # which made the moto server three times slower
    put_objects(s3, bucket, [f"analyses/{user}/p/{number:04d}/prices.csv.gz" for number in range(1003)])
    put_objects(s3, bucket, [f"uploads/{user}/p/{number}.csv" for number in range(2)])
    put_objects(s3, bucket, ["uploads/someone-else/p/a.csv", "analyses/someone-else/p/a/prices.csv.gz"])
    assert delete_user_objects(s3, bucket, user) == 1005
    assert keys_under(stack_resources, f"uploads/{user}/") == keys_under(stack_resources, f"analyses/{user}/") == []
    assert keys_under(stack_resources, "uploads/someone-else/") == ["uploads/someone-else/p/a.csv"]
    assert keys_under(stack_resources, "analyses/someone-else/") == ["analyses/someone-else/p/a/prices.csv.gz"]


def test_accounts_table_keeps_others(client: AuthClient, database_url: str) -> None:
    keep = client.signup("keeper")
    gone = client.signup("goner")
    client.request("DELETE", "/api/auth/me", {"password": PASSWORD}, token=gone.body["access_token"])
    with session_scope(database_url) as db:
        assert [str(a) for a in db.scalars(select(Account.user_id))] == [keep.body["user_id"]]
