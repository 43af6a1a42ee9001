"""The bulk upsert's PostgreSQL array path and `only_changed`, on SQLite and PostgreSQL: values of every kind the
models use survive the trip (quotes, backslashes, commas, NULL, uuids, UTC datetimes), and unchanged rows are not
counted."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from labfolio_common.db.engine import session_scope
from labfolio_common.db.models import Factor, FactorReturn, Upload
from labfolio_common.db.upsert import insert_ignore, upsert
from sqlalchemy import select

from tests.fixtures.db import both_databases

pytestmark = both_databases

KEY = ["factor_id", "date"]
DAY = date(2024, 1, 2)


def test_upsert_keeps_awkward_text_and_nulls(database_url: str) -> None:
    # given names an array literal must quote and escape, and a NULL
    awkward = ['a "quoted" name', "back\\slash", "comma, {braces}", "NULL", "", "  spaced  ", "ünïcode ✓"]
    rows = [
        {"factor_id": f"F{i}", "factor_name": name, "factor_description": None if i % 2 else name}
        for i, name in enumerate(awkward)
    ]
    # when
    with session_scope(database_url) as session:
        written = upsert(session, Factor, rows, ["factor_id"])
    # then
    with session_scope(database_url) as session:
        stored = {f.factor_id: (f.factor_name, f.factor_description) for f in session.scalars(select(Factor))}
    assert written == len(awkward)
    assert stored == {r["factor_id"]: (r["factor_name"], r["factor_description"]) for r in rows}


def test_upsert_fills_python_defaults_of_columns_left_out(database_url: str) -> None:
    with session_scope(database_url) as session:
        upsert(session, Factor, [{"factor_id": "MKT", "factor_name": "Market"}], ["factor_id"])
    with session_scope(database_url) as session:
        factor = session.get_one(Factor, "MKT")
    assert factor.created_at is not None
    assert abs(factor.created_at - datetime.now(UTC)) < timedelta(minutes=5)


def test_only_changed_counts_new_and_revised_rows_only(database_url: str) -> None:
    # given 100 stored returns
    with session_scope(database_url) as session:
        upsert(session, Factor, [{"factor_id": "MKT", "factor_name": "Market"}], ["factor_id"])
    rows = [
        {"factor_id": "MKT", "date": DAY + timedelta(days=i), "return_value": round(i / 7000, 6)} for i in range(100)
    ]
    with session_scope(database_url) as session:
        first = upsert(session, FactorReturn, rows, KEY, only_changed=True)
    # when the same rows come again with two revised values and one new day
    again = [dict(r) for r in rows]
    again[3]["return_value"] = 0.5
    again[50]["return_value"] = -0.25
    again.append({"factor_id": "MKT", "date": DAY + timedelta(days=100), "return_value": 0.001})
    with session_scope(database_url) as session:
        second = upsert(session, FactorReturn, again, KEY, only_changed=True, chunk_rows=30)
    with session_scope(database_url) as session:
        third = upsert(session, FactorReturn, again, KEY, only_changed=True)
    # then
    with session_scope(database_url) as session:
        stored = {day: value for day, value in session.execute(select(FactorReturn.date, FactorReturn.return_value))}
    assert (first, second, third) == (100, 3, 0)
    assert stored[DAY + timedelta(days=3)] == Decimal("0.5")
    assert stored[DAY + timedelta(days=50)] == Decimal("-0.25")
    assert len(stored) == 101


def test_values_rounded_by_the_column_compare_equal_on_the_next_run(database_url: str) -> None:
    # NUMERIC(10,6) rounds 0.0123456789 on PostgreSQL; the caller rounds to 6 places so both databases agree
    with session_scope(database_url) as session:
        upsert(session, Factor, [{"factor_id": "MKT", "factor_name": "Market"}], ["factor_id"])
    row = {"factor_id": "MKT", "date": DAY, "return_value": round(0.0123456789, 6)}
    with session_scope(database_url) as session:
        assert upsert(session, FactorReturn, [row], KEY, only_changed=True) == 1
    with session_scope(database_url) as session:
        assert upsert(session, FactorReturn, [row], KEY, only_changed=True) == 0
        assert session.scalar(select(FactorReturn.return_value)) == Decimal("0.012346")


def test_insert_ignore_keeps_uuids_and_utc_datetimes(database_url: str) -> None:
    ids = [uuid.uuid4() for _ in range(3)]
    when = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    rows = [
        {
            "upload_id": upload_id,
            "bucket": "labfolio-uploads",
            "object_key": f"uploads/u/p/{i}.csv",
            "size_bytes": 10**12 + i,
            "etag": "",
            "event_time": None if i else when.astimezone(UTC),
        }
        for i, upload_id in enumerate(ids)
    ]
    with session_scope(database_url) as session:
        assert insert_ignore(session, Upload, rows, ["bucket", "object_key", "etag"]) == 3
    with session_scope(database_url) as session:
        stored = {u.upload_id: u for u in session.scalars(select(Upload))}
    assert set(stored) == set(ids)
    assert stored[ids[0]].event_time == when
    assert stored[ids[1]].event_time is None
    assert stored[ids[2]].size_bytes == 10**12 + 2
    assert stored[ids[0]].etag == ""
    assert stored[ids[0]].received_at is not None
