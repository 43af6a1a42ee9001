"""Alembic environment for labfolio: PostgreSQL (pg8000) or SQLite, URL from the caller, never from alembic.ini.

Where the URL comes from, first match wins: `migrations.runner` (config.attributes["url"]), `alembic -x url=...`,
the DATABASE_URL environment variable. On PostgreSQL the whole upgrade runs in one transaction holding an advisory
lock, so two deploys (or the local stack and a test) never migrate the same database at once.
"""

from __future__ import annotations

import os
import sys
from logging.config import fileConfig
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
for _path in (_ROOT, _ROOT / "layers" / "common"):
    if _path.is_dir() and str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from alembic import context  # noqa: E402
from alembic.util import CommandError  # noqa: E402
from labfolio_common.db.engine import create_engine_for, normalize_url  # noqa: E402
from labfolio_common.db.models import Base  # noqa: E402
from sqlalchemy import Connection, text  # noqa: E402

from migrations.helpers import MIGRATION_LOCK_KEY, include_name  # noqa: E402

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def database_url() -> str:
    url = (
        config.attributes.get("url")
        or context.get_x_argument(as_dictionary=True).get("url")
        or os.environ.get("DATABASE_URL")
    )
    if not url:
        raise CommandError(
            "no database URL: set DATABASE_URL (e.g. postgresql+pg8000://user@host:5432/db or "
            "sqlite:///.local/labfolio.db) or pass `alembic -x url=...`"
        )
    return str(url)


def run_migrations_offline() -> None:
    """`alembic upgrade head --sql`: print the DDL instead of running it."""
    url = normalize_url(database_url())
    context.configure(
        url=url,
        target_metadata=Base.metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.get_backend_name() == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=sqlite,
        include_schemas=not sqlite,
        include_name=include_name,
        compare_type=True,
    )
    with context.begin_transaction():
        if not sqlite:
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    engine = create_engine_for(database_url())
    try:
        with engine.connect() as connection:
            run_migrations(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
