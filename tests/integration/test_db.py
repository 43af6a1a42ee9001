"""The database layer on a migrated database, on SQLite and on PostgreSQL: upserts, keys, cascades, timestamps."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from labfolio_common.db.engine import session_scope
from labfolio_common.db.models import Account, Factor, FactorReturn, Portfolio, Upload, UserPortfolio
from labfolio_common.db.upsert import insert_ignore, upsert
from sqlalchemy import func, select, text
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from tests.fixtures.db import both_databases

pytestmark = both_databases

RETURN_KEY = ["factor_id", "date"]
DAY = date(2024, 1, 2)


def _returns(session: Session) -> dict[tuple[str, date], Decimal]:
    rows = session.execute(select(FactorReturn.factor_id, FactorReturn.date, FactorReturn.return_value))
    return {(factor_id, day): value for factor_id, day, value in rows}


def _factors(database_url: str, *ids: str) -> None:
    with session_scope(database_url) as session:
        upsert(session, Factor, [{"factor_id": i, "factor_name": i} for i in ids], ["factor_id"])


def test_upsert_inserts_then_updates_the_same_key(database_url: str) -> None:
    # given
    _factors(database_url, "MKT")
    with session_scope(database_url) as session:
        first = upsert(
            session, FactorReturn, [{"factor_id": "MKT", "date": DAY, "return_value": Decimal("0.0125")}], RETURN_KEY
        )
    # when
    with session_scope(database_url) as session:
        second = upsert(
            session, FactorReturn, [{"factor_id": "MKT", "date": DAY, "return_value": Decimal("-0.003141")}], RETURN_KEY
        )
    # then
    with session_scope(database_url) as session:
        assert _returns(session) == {("MKT", DAY): Decimal("-0.003141")}
        assert session.scalar(select(func.count()).select_from(FactorReturn)) == 1
    assert (first, second) == (1, 1)


def test_upsert_updates_only_the_named_columns(database_url: str) -> None:
    with session_scope(database_url) as session:
        upsert(
            session, Factor, [{"factor_id": "MKT", "factor_name": "Market", "factor_category": "Core"}], ["factor_id"]
        )
    with session_scope(database_url) as session:
        upsert(
            session,
            Factor,
            [{"factor_id": "MKT", "factor_name": "Renamed", "factor_category": "Style"}],
            ["factor_id"],
            update_columns=["factor_category"],
        )
    with session_scope(database_url) as session:
        factor = session.get_one(Factor, "MKT")
        assert (factor.factor_name, factor.factor_category) == ("Market", "Style")


def test_upsert_chunks_large_inputs_and_keeps_values(database_url: str) -> None:
    _factors(database_url, "MKT", "MTUM")
    rows = [
        {"factor_id": factor_id, "date": DAY + timedelta(days=i), "return_value": Decimal(i % 2000 - 1000) / 100_000}
        for factor_id in ("MKT", "MTUM")
        for i in range(1_250)
    ]
    with session_scope(database_url) as session:
        written = upsert(session, FactorReturn.__table__, rows, RETURN_KEY, chunk_rows=400)
    with session_scope(database_url) as session:
        stored = _returns(session)
    assert written == 2_500
    assert stored == {(r["factor_id"], r["date"]): r["return_value"] for r in rows}


def test_upsert_failing_batch_leaves_earlier_data_intact(database_url: str) -> None:
    # given yesterday's data, committed
    _factors(database_url, "MKT")
    with session_scope(database_url) as session:
        upsert(session, FactorReturn, [{"factor_id": "MKT", "date": DAY, "return_value": Decimal("0.01")}], RETURN_KEY)
    # when today's update writes a first chunk, then fails on a later one (an unknown factor)
    rows = [{"factor_id": "MKT", "date": DAY, "return_value": Decimal("0.99")}] + [
        {"factor_id": "MKT" if i < 5 else "NOPE", "date": DAY + timedelta(days=i + 1), "return_value": Decimal("0.5")}
        for i in range(10)
    ]
    with pytest.raises(IntegrityError), session_scope(database_url) as session:
        upsert(session, FactorReturn, rows, RETURN_KEY, chunk_rows=3)
    # then nothing of the failed batch remains
    with session_scope(database_url) as session:
        assert _returns(session) == {("MKT", DAY): Decimal("0.010000")}


def test_upsert_rejects_rows_with_different_columns(database_url: str) -> None:
    with pytest.raises(ValueError, match="row 1"), session_scope(database_url) as session:
        upsert(session, Factor, [{"factor_id": "A", "factor_name": "a"}, {"factor_id": "B"}], ["factor_id"])


def test_insert_ignore_counts_only_new_rows(database_url: str) -> None:
    _factors(database_url, "MKT")
    rows = [{"factor_id": "MKT", "date": DAY + timedelta(days=i), "return_value": Decimal("0.001")} for i in range(4)]
    with session_scope(database_url) as session:
        first = insert_ignore(session, FactorReturn, rows[:3], RETURN_KEY)
    with session_scope(database_url) as session:
        changed = [{**row, "return_value": Decimal("0.5")} for row in rows]
        second = insert_ignore(session, FactorReturn, changed, RETURN_KEY, chunk_rows=2)
    with session_scope(database_url) as session:
        stored = _returns(session)
    assert (first, second) == (3, 1)
    assert stored[("MKT", DAY)] == Decimal("0.001")  # existing rows are left alone
    assert stored[("MKT", DAY + timedelta(days=3))] == Decimal("0.5")


def test_insert_ignore_records_an_upload_once(database_url: str) -> None:
    upload = {
        "upload_id": uuid.uuid4(),
        "bucket": "labfolio-uploads",
        "object_key": "uploads/u/p/holdings.csv",
        "size_bytes": 1234,
        "etag": "9b2cf535f27731c974343645a3985328",
        "event_time": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
    }
    with session_scope(database_url) as session:
        first = insert_ignore(session, Upload, [upload], ["bucket", "object_key", "etag"])
    with session_scope(database_url) as session:
        again = insert_ignore(
            session, Upload, [{**upload, "upload_id": uuid.uuid4()}], ["bucket", "object_key", "etag"]
        )
    with session_scope(database_url) as session:
        stored = session.scalars(select(Upload)).one()
    assert (first, again) == (1, 0)
    assert (stored.status, stored.size_bytes) == ("received", 1234)
    assert stored.event_time == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert stored.received_at is not None
    assert abs(stored.received_at - datetime.now(UTC)) < timedelta(minutes=5)


@pytest.mark.parametrize("second", ["ADA", "Ada", "ada"])
def test_username_is_unique_case_insensitively(database_url: str, second: str) -> None:
    with session_scope(database_url) as session:
        session.add(Account(username="ada", password_hash="x"))
    with pytest.raises(IntegrityError), session_scope(database_url) as session:
        session.add(Account(username=second, password_hash="y"))
    with session_scope(database_url) as session:
        assert session.scalars(select(Account.username)).all() == ["ada"]


def test_deleting_an_account_deletes_its_ownership_rows(database_url: str) -> None:
    # given two accounts, each owning a portfolio
    with session_scope(database_url) as session:
        ada, bob = Account(username="ada", password_hash="x"), Account(username="bob", password_hash="y")
        one, two = Portfolio(portfolio_name="one"), Portfolio(portfolio_name="two")
        session.add_all([ada, bob, one, two])
        session.flush()
        session.add_all(
            [
                UserPortfolio(user_id=ada.user_id, portfolio_id=one.portfolio_id),
                UserPortfolio(user_id=bob.user_id, portfolio_id=two.portfolio_id),
            ]
        )
    # when
    with session_scope(database_url) as session:
        session.delete(session.get_one(Account, ada.user_id))
    # then only bob's ownership row is left; the portfolios themselves stay
    with session_scope(database_url) as session:
        owners = session.execute(select(UserPortfolio.user_id, UserPortfolio.portfolio_id)).all()
        portfolios = session.scalar(select(func.count()).select_from(Portfolio))
    assert owners == [(bob.user_id, two.portfolio_id)]
    assert portfolios == 2


def test_deleting_a_factor_deletes_its_returns(database_url: str) -> None:
    _factors(database_url, "MKT", "MTUM")
    rows = [{"factor_id": f, "date": DAY, "return_value": Decimal("0.1")} for f in ("MKT", "MTUM")]
    with session_scope(database_url) as session:
        upsert(session, FactorReturn, rows, RETURN_KEY)
    with session_scope(database_url) as session:
        session.delete(session.get_one(Factor, "MKT"))
    with session_scope(database_url) as session:
        assert list(_returns(session)) == [("MTUM", DAY)]


def test_ownership_row_needs_an_existing_account(database_url: str) -> None:
    with pytest.raises(IntegrityError), session_scope(database_url) as session:
        session.add(Portfolio(portfolio_id=(pid := uuid.uuid4()), portfolio_name="orphan"))
        session.flush()
        session.add(UserPortfolio(user_id=uuid.uuid4(), portfolio_id=pid))


def test_timestamps_are_utc_and_aware(database_url: str) -> None:
    with session_scope(database_url) as session:
        account = Account(username="ada", password_hash="x")
        session.add(account)
    with session_scope(database_url) as session:
        created = session.get_one(Account, account.user_id).created_at
    assert created is not None
    assert created.tzinfo == UTC
    assert abs(created - datetime.now(UTC)) < timedelta(minutes=5)


def test_server_default_timestamp_is_utc(db_session: Session) -> None:
    # given a row written without the application's timestamp, as the seed's SQL or psql would write it
    table = "factors" if db_session.get_bind().dialect.name == "sqlite" else "factor.factors"
    db_session.execute(text(f"INSERT INTO {table} (factor_id, factor_name) VALUES ('MKT', 'Market')"))
    db_session.commit()
    # then the database's CURRENT_TIMESTAMP is UTC, as the application's timestamps are
    if db_session.get_bind().dialect.name == "postgresql":
        assert db_session.scalar(text("SHOW TimeZone")) == "UTC"
    created = db_session.scalar(select(Factor.created_at))
    assert created is not None
    assert abs(created - datetime.now(UTC)) < timedelta(minutes=5)


def test_not_null_violation_is_an_integrity_error(database_url: str) -> None:
    # pg8000 alone reports it as ProgrammingError; the engine maps SQLSTATE class 23 to IntegrityError
    _factors(database_url, "MKT")
    with pytest.raises(IntegrityError), session_scope(database_url) as session:
        upsert(session, FactorReturn, [{"factor_id": "MKT", "date": DAY, "return_value": None}], RETURN_KEY)


def test_numeric_overflow_is_a_data_error_on_postgres_only(database_url: str) -> None:
    # NUMERIC(10,6) holds at most 9999.999999; SQLite enforces neither precision nor VARCHAR lengths
    _factors(database_url, "MKT")
    row = {"factor_id": "MKT", "date": DAY, "return_value": Decimal("12345.5")}
    if database_url.startswith("sqlite"):
        with session_scope(database_url) as session:
            upsert(session, FactorReturn, [row], RETURN_KEY)
        with session_scope(database_url) as session:
            assert _returns(session) == {("MKT", DAY): Decimal("12345.5")}
        return
    with pytest.raises(DataError), session_scope(database_url) as session:
        upsert(session, FactorReturn, [row], RETURN_KEY)
