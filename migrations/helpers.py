"""What every revision needs to run on both PostgreSQL and SQLite (SQLite has no schemas: tables go unqualified)."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from alembic import context, op

SCHEMAS = ("user_management", "factor")
# The pg_advisory_xact_lock key env.py holds while migrating: an arbitrary constant shared by every migrator.
MIGRATION_LOCK_KEY = int.from_bytes(b"labfolio", "big") >> 1


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """For autogenerate: look only at labfolio's schemas (and the default one) on PostgreSQL."""
    return type_ != "schema" or name is None or name in SCHEMAS


def is_sqlite() -> bool:
    return op.get_context().dialect.name == "sqlite"


def schema(name: str) -> str | None:
    """The schema to pass to `op.*(..., schema=...)`: `name` on PostgreSQL, None on SQLite."""
    return None if is_sqlite() else name


def ref(schema_name: str, table: str, column: str) -> str:
    """A foreign-key target, schema-qualified on PostgreSQL only."""
    qualifier = schema(schema_name)
    return f"{qualifier}.{table}.{column}" if qualifier else f"{table}.{column}"


def uuid_default() -> sa.TextClause | None:
    """The seed's `DEFAULT gen_random_uuid()` on PostgreSQL; none on SQLite (the application makes uuid4 ids)."""
    return None if is_sqlite() else sa.text("gen_random_uuid()")


def now_default() -> sa.TextClause:
    return sa.text("CURRENT_TIMESTAMP")


def existing_columns(table: str, schema_name: str) -> set[str] | None:
    """The column names of an existing table, or None if it does not exist (always None in offline mode)."""
    if context.is_offline_mode():
        return None
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table(table, schema=schema(schema_name)):
        return None
    return {column["name"] for column in inspector.get_columns(table, schema=schema(schema_name))}


def create_or_adopt(table: str, schema_name: str, *elements: sa.schema.SchemaItem) -> None:
    """Create `table`, or keep it if it exists already (the seed's SQL applied by hand) with every column we need."""
    found = existing_columns(table, schema_name)
    if found is None:
        op.create_table(table, *elements, schema=schema(schema_name))
        return
    wanted = {element.name for element in elements if isinstance(element, sa.Column)}
    missing = sorted(wanted - found)
    if missing:
        raise RuntimeError(f"cannot adopt existing table {schema_name}.{table}: it lacks columns {missing}")


def create_indexes(
    table: str, schema_name: str, indexes: Iterable[tuple[str, list[str | sa.TextClause], bool]]
) -> None:
    """CREATE [UNIQUE] INDEX IF NOT EXISTS for each (name, columns or expressions, unique)."""
    for name, columns, unique in indexes:
        op.create_index(name, table, columns, unique=unique, schema=schema(schema_name), if_not_exists=True)
