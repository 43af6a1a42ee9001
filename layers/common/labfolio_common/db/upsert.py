"""Bulk INSERT .. ON CONFLICT for PostgreSQL and SQLite: `upsert` (DO UPDATE) and `insert_ignore` (DO NOTHING).

Both run inside the caller's transaction and never commit: if any chunk fails, the caller's rollback leaves the
table as it was before the call (factor returns are upserted, never deleted and re-inserted).

One statement per chunk, never a round trip per row:
- PostgreSQL: `INSERT .. SELECT * FROM unnest($1::type[], $2::type[], ..) ON CONFLICT ..` with one array literal per
  column, written here as text. pg8000 would turn a multi-row VALUES list into one bound parameter per value (slow to
  compile, send and plan) and its own list-to-array conversion is slow in pure Python; the text literals make a
  126,000-row load ~25x faster than a row-by-row insert (see `make bench`).
- SQLite: one compiled statement run over the chunk with the driver's executemany (a C loop in the same process).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import ARRAY, Column, Connection, FromClause, String, Table, bindparam, cast, func, or_, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Session

if TYPE_CHECKING:  # imported where used: the Lambda functions never load SQLite's dialect
    from sqlalchemy.dialects import sqlite

DEFAULT_CHUNK_ROWS: Final = 10_000

Row = Mapping[str, Any]


def upsert(
    session_or_conn: Session | Connection,
    table: FromClause | type[DeclarativeBase],
    rows: Sequence[Row],
    key_columns: Sequence[str],
    update_columns: Sequence[str] | None = None,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    only_changed: bool = False,
) -> int:
    """Insert `rows`, updating `update_columns` (default: every non-key column given) where `key_columns` clash.

    `key_columns` must be the primary key or a unique constraint. Returns how many rows were inserted or updated;
    with `only_changed`, a clashing row whose update columns already hold the same values is left alone and not
    counted (so running the same upsert twice reports 0 the second time).
    """
    target = _table(table)
    if not rows:
        return 0
    updates = _update_columns(rows, key_columns, update_columns)
    connection = _connection(session_or_conn)
    columns = _insert_columns(target, rows[0])
    insert = _insert(connection, target, columns)
    if updates:
        where = None
        if only_changed:
            checks = [target.c[name].is_distinct_from(insert.excluded[name]) for name in updates]
            where = checks[0] if len(checks) == 1 else or_(*checks)
        stmt = insert.on_conflict_do_update(
            index_elements=list(key_columns), set_={name: insert.excluded[name] for name in updates}, where=where
        )
    else:
        stmt = insert.on_conflict_do_nothing(index_elements=list(key_columns))
    return _run(connection, stmt, target, columns, rows, chunk_rows)


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
    columns = _insert_columns(target, rows[0])
    insert = _insert(connection, target, columns)
    stmt = insert.on_conflict_do_nothing(index_elements=list(key_columns) if key_columns else None)
    return _run(connection, stmt, target, columns, rows, chunk_rows)


def _table(table: FromClause | type[DeclarativeBase]) -> Table:
    """A Table, a model class, or a model's `__table__`."""
    local = table if isinstance(table, FromClause) else table.__table__
    if not isinstance(local, Table):
        raise TypeError(f"{table!r} is not a table")
    return local


def _connection(session_or_conn: Session | Connection) -> Connection:
    return session_or_conn.connection() if isinstance(session_or_conn, Session) else session_or_conn


def _insert_columns(table: Table, first: Row) -> list[Column[Any]]:
    """The columns given in the rows, then those with a Python-side default the rows leave out (filled per row)."""
    given = [table.c[name] for name in first]
    defaulted = [c for c in table.c if c.name not in first and _python_default(c) is not None]
    return given + defaulted


def _python_default(column: Column[Any]) -> Callable[[], Any] | None:
    default = column.default
    if default is None or not (default.is_scalar or default.is_callable):
        return None
    arg = default.arg  # type: ignore[attr-defined]
    if default.is_callable:
        return lambda: arg(None)  # SQLAlchemy wraps a zero-argument default to take the execution context
    return lambda: arg


def _insert(connection: Connection, table: Table, columns: list[Column[Any]]) -> postgresql.Insert | sqlite.Insert:
    name = connection.dialect.name
    if name == "postgresql":
        arrays = [cast(bindparam(f"p{i}", type_=String()), ARRAY(c.type)) for i, c in enumerate(columns)]
        names = [c.name for c in columns]
        values = func.unnest(*arrays).table_valued(*names).render_derived(name="v")
        return postgresql.insert(table).from_select(names, select(*[values.c[n] for n in names]))
    if name == "sqlite":
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(table)
    raise NotImplementedError(f"upsert does not support the {name} dialect")


def _run(
    connection: Connection,
    stmt: Any,
    table: Table,
    columns: list[Column[Any]],
    rows: Sequence[Row],
    chunk_rows: int,
) -> int:
    fill = {c.name: f for c in columns if c.name not in rows[0] and (f := _python_default(c)) is not None}
    written = 0
    for chunk in _chunks(rows, chunk_rows):
        if fill:
            chunk = [{**row, **{name: f() for name, f in fill.items()}} for row in chunk]
        if connection.dialect.name == "postgresql":
            params = {f"p{i}": _array_literal(connection, c, chunk) for i, c in enumerate(columns)}
            written += connection.execute(stmt, params).rowcount
        else:
            written += connection.execute(stmt, list(chunk)).rowcount
    return written


def _array_literal(connection: Connection, column: Column[Any], chunk: Sequence[Row]) -> str:
    """A PostgreSQL array literal of the column's values, after SQLAlchemy's own bind processing (UTC datetimes...);
    PostgreSQL parses each element with the column's type."""
    process = column.type.dialect_impl(connection.dialect).bind_processor(connection.dialect)
    name = column.name
    values = (row[name] for row in chunk) if process is None else (process(row[name]) for row in chunk)
    return "{" + ",".join(map(_element, values)) + "}"


_BARE: Final = frozenset({int, float, Decimal, date})  # their str() never needs quoting inside an array literal


def _element(value: Any) -> str:
    """One array element: numbers and dates bare, None as NULL, anything else quoted (and escaped if needed)."""
    if value is None:
        return "NULL"
    if type(value) in _BARE:
        return str(value)
    text = value if isinstance(value, str) else str(value)
    if "\\" in text or '"' in text:
        text = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + text + '"'


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
    size = max(1, chunk_rows)
    for start in range(0, len(rows), size):
        yield rows[start : start + size]
