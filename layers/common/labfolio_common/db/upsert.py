"""Bulk INSERT .. ON CONFLICT for PostgreSQL and SQLite: `upsert` (DO UPDATE) and `insert_ignore` (DO NOTHING).

Both run inside the caller's transaction and never commit: if any chunk fails, the caller's rollback leaves the
table as it was before the call (factor returns are upserted, never deleted and re-inserted).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

from sqlalchemy import Connection, FromClause, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Session

# Both databases cap bound parameters per statement (PostgreSQL's protocol at 65,535, SQLite at 32,766).
MAX_PARAMETERS: Final = 30_000
DEFAULT_CHUNK_ROWS: Final = 1_000

Row = Mapping[str, Any]


def upsert(
    session_or_conn: Session | Connection,
    table: FromClause | type[DeclarativeBase],
    rows: Sequence[Row],
    key_columns: Sequence[str],
    update_columns: Sequence[str] | None = None,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> int:
    """Insert `rows`, updating `update_columns` (default: every non-key column given) where `key_columns` clash.

    `key_columns` must be the primary key or a unique constraint. Returns how many rows were inserted or updated.
    """
    target = _table(table)
    if not rows:
        return 0
    updates = _update_columns(rows, key_columns, update_columns)
    connection = _connection(session_or_conn)
    written = 0
    for chunk in _chunks(rows, chunk_rows):
        insert = _insert(connection, target).values(list(chunk))
        if updates:
            stmt = insert.on_conflict_do_update(
                index_elements=list(key_columns), set_={name: insert.excluded[name] for name in updates}
            )
        else:
            stmt = insert.on_conflict_do_nothing(index_elements=list(key_columns))
        written += connection.execute(stmt).rowcount
    return written


def insert_ignore(
    session_or_conn: Session | Connection,
    table: FromClause | type[DeclarativeBase],
    rows: Sequence[Row],
    key_columns: Sequence[str] | None = None,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> int:
    """Insert `rows`, skipping those that clash on `key_columns` (default: any unique key); return how many are new."""
    target = _table(table)
    if not rows:
        return 0
    _check_same_keys(rows)
    connection = _connection(session_or_conn)
    inserted = 0
    for chunk in _chunks(rows, chunk_rows):
        insert = _insert(connection, target).values(list(chunk))
        stmt = insert.on_conflict_do_nothing(index_elements=list(key_columns) if key_columns else None)
        inserted += connection.execute(stmt).rowcount
    return inserted


def _table(table: FromClause | type[DeclarativeBase]) -> Table:
    """A Table, a model class, or a model's `__table__`."""
    local = table if isinstance(table, FromClause) else table.__table__
    if not isinstance(local, Table):
        raise TypeError(f"{table!r} is not a table")
    return local


def _connection(session_or_conn: Session | Connection) -> Connection:
    return session_or_conn.connection() if isinstance(session_or_conn, Session) else session_or_conn


def _insert(connection: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    name = connection.dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"upsert does not support the {name} dialect")


def _check_same_keys(rows: Sequence[Row]) -> frozenset[str]:
    keys = frozenset(rows[0])
    for index, row in enumerate(rows):
        if frozenset(row) != keys:
            raise ValueError(f"row {index} has columns {sorted(row)}, expected {sorted(keys)}")
    return keys


def _update_columns(rows: Sequence[Row], key_columns: Sequence[str], update_columns: Sequence[str] | None) -> list[str]:
    if not key_columns:
        raise ValueError("key_columns must name the primary key or a unique constraint")
    given = _check_same_keys(rows)
    missing = [name for name in key_columns if name not in given]
    if missing:
        raise ValueError(f"rows lack key columns {missing}")
    if update_columns is None:
        return [name for name in rows[0] if name not in key_columns]
    unknown = [name for name in update_columns if name not in given]
    if unknown:
        raise ValueError(f"rows lack update columns {unknown}")
    return list(update_columns)


def _chunks(rows: Sequence[Row], chunk_rows: int) -> Iterator[Sequence[Row]]:
    size = max(1, min(chunk_rows, MAX_PARAMETERS // max(1, len(rows[0]))))
    for start in range(0, len(rows), size):
        yield rows[start : start + size]
