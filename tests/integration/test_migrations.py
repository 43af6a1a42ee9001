"""Alembic migrations: the seed's schema is the floor, upgrades are idempotent, downgrades work, SQLite matches."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from labfolio_common.db.engine import create_engine_for
from labfolio_common.db.models import Base
from sqlalchemy import inspect, text

from migrations import runner
from migrations.helpers import MIGRATION_LOCK_KEY, include_name

ROOT = Path(__file__).resolve().parents[2]
SEED_SQL = ROOT / "migrations" / "seed_schema.sql"
SCHEMAS = ("user_management", "factor")
SEED_TABLES = {
    "user_management": ("accounts", "portfolios", "user_portfolios"),
    "factor": ("factors", "returns"),
}
SEED_INDEXES = ("idx_accounts_username", "idx_portfolios_name", "idx_factor_returns_date", "idx_factors_id")
SEED_TABLE_NAMES = {"accounts", "portfolios", "user_portfolios", "factors", "returns"}
AUTH_TABLES = {"sessions", "login_failures", "login_lockouts"}
MARKET_TABLES = {"price_tickers", "prices"}
PORTFOLIO_TABLES = {"holdings"}
ANALYSIS_TABLES = {"analyses", "upload_grants"}  # 0006 and 0007
ALL_TABLES = SEED_TABLE_NAMES | {"uploads"} | AUTH_TABLES | MARKET_TABLES | PORTFOLIO_TABLES | ANALYSIS_TABLES


def apply_sql_file(url: str, path: Path) -> None:
    """Run a plain SQL script (no functions or quoted semicolons) statement by statement, as psql would."""
    script = re.sub(r"--[^\n]*", "", path.read_text(encoding="utf-8"))
    engine = create_engine_for(url)
    with engine.begin() as connection:
        for statement in filter(None, (part.strip() for part in script.split(";"))):
            connection.exec_driver_sql(statement)
    engine.dispose()


def _query(url: str, sql: str) -> list[tuple[Any, ...]]:
    engine = create_engine_for(url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql), {"schemas": list(SCHEMAS)})]
    finally:
        engine.dispose()


def pg_schema(url: str) -> dict[str, set[tuple[Any, ...]]]:
    """The labfolio schemas of a PostgreSQL database, from information_schema and pg_catalog."""
    return {
        "columns": set(
            _query(
                url,
                """SELECT table_schema, table_name, column_name, data_type, character_maximum_length,
                          numeric_precision, numeric_scale, is_nullable, column_default
                   FROM information_schema.columns WHERE table_schema = ANY(:schemas)""",
            )
        ),
        "constraints": set(
            _query(
                url,
                """SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid)
                   FROM pg_constraint WHERE connamespace::regnamespace::text = ANY(:schemas)""",
            )
        ),
        "foreign_keys": set(
            _query(
                url,
                """SELECT k.table_schema, k.table_name, k.column_name, t.table_schema, t.table_name, t.column_name,
                          r.delete_rule
                   FROM information_schema.referential_constraints r
                   JOIN information_schema.key_column_usage k
                     ON k.constraint_schema = r.constraint_schema AND k.constraint_name = r.constraint_name
                   JOIN information_schema.constraint_column_usage t
                     ON t.constraint_schema = r.unique_constraint_schema
                    AND t.constraint_name = r.unique_constraint_name
                   WHERE k.table_schema = ANY(:schemas)""",
            )
        ),
        "indexes": set(
            _query(
                url,
                "SELECT schemaname, tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = ANY(:schemas)",
            )
        ),
        "tables": set(
            _query(
                url, "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema = ANY(:schemas)"
            )
        ),
    }


def _seed_only(snapshot: dict[str, set[tuple[Any, ...]]]) -> dict[str, set[tuple[Any, ...]]]:
    tables = {f"{schema}.{table}" for schema, names in SEED_TABLES.items() for table in names}
    return {
        "columns": {row for row in snapshot["columns"] if f"{row[0]}.{row[1]}" in tables},
        "constraints": {row for row in snapshot["constraints"] if row[0] in tables},
        "foreign_keys": {row for row in snapshot["foreign_keys"] if f"{row[0]}.{row[1]}" in tables},
        "indexes": {row for row in snapshot["indexes"] if f"{row[0]}.{row[1]}" in tables},
        "tables": {row for row in snapshot["tables"] if f"{row[0]}.{row[1]}" in tables},
    }


def sqlite_columns(url: str) -> dict[str, dict[str, tuple[bool, tuple[str, ...]]]]:
    """{table: {column: (nullable, primary key columns)}} of a database, schemas ignored."""
    engine = create_engine_for(url)
    try:
        inspector = inspect(engine)
        schemas = [None] if engine.dialect.name == "sqlite" else list(SCHEMAS)
        return {
            table: {
                column["name"]: (
                    bool(column["nullable"]),
                    tuple(inspector.get_pk_constraint(table, schema=schema)["constrained_columns"]),
                )
                for column in inspector.get_columns(table, schema=schema)
            }
            for schema in schemas
            for table in inspector.get_table_names(schema=schema)
            if table != "alembic_version"
        }
    finally:
        engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'migrations.db'}"


@pytest.mark.integration
def test_migrations_reproduce_the_seed_schema(postgres_database_factory: Callable[[], str]) -> None:
    # given one database made by the seed's own SQL and one made by the migrations
    seed_url, migrated_url = postgres_database_factory(), postgres_database_factory()
    apply_sql_file(seed_url, SEED_SQL)
    runner.upgrade(migrated_url)
    # when
    seed, migrated = pg_schema(seed_url), pg_schema(migrated_url)
    # then everything the seed made is in the migrated database, exactly (extra tables, columns, indexes allowed)
    assert len(seed["tables"]) == 5
    assert {row[2] for row in seed["indexes"]} >= set(SEED_INDEXES)
    assert {(row[0], row[2], row[6]) for row in seed["foreign_keys"]} == {
        ("user_management", "user_id", "CASCADE"),
        ("user_management", "portfolio_id", "CASCADE"),
        ("factor", "factor_id", "CASCADE"),
    }
    for part in ("tables", "columns", "constraints", "foreign_keys", "indexes"):
        assert seed[part] - migrated[part] == set(), f"{part} of the seed missing from the migrated database"


@pytest.mark.integration
def test_migrations_add_case_insensitive_username_index(fresh_postgres_url: str) -> None:
    runner.upgrade(fresh_postgres_url)
    indexes = {row[2]: row[3] for row in pg_schema(fresh_postgres_url)["indexes"]}
    assert "UNIQUE INDEX accounts_username_lower_key" in indexes["accounts_username_lower_key"]
    assert "lower((username)::text)" in indexes["accounts_username_lower_key"]


@pytest.mark.integration
def test_upgrade_head_twice_is_a_no_op_on_postgres(fresh_postgres_url: str) -> None:
    runner.upgrade(fresh_postgres_url)
    before = pg_schema(fresh_postgres_url)
    runner.upgrade(fresh_postgres_url)
    assert pg_schema(fresh_postgres_url) == before
    assert runner.current_revision(fresh_postgres_url) == runner.head_revision()


@pytest.mark.unit
def test_upgrade_head_twice_is_a_no_op_on_sqlite(sqlite_url: str) -> None:
    runner.upgrade(sqlite_url)
    before = sqlite_columns(sqlite_url)
    runner.upgrade(sqlite_url)
    assert sqlite_columns(sqlite_url) == before
    assert set(before) == ALL_TABLES
    assert runner.current_revision(sqlite_url) == runner.head_revision()


@pytest.mark.integration
def test_upgrade_adopts_a_database_made_by_the_seed_sql(
    fresh_postgres_url: str, postgres_database_factory: Callable[[], str]
) -> None:
    # given a database made by hand with the seed's SQL, holding an account
    apply_sql_file(fresh_postgres_url, SEED_SQL)
    engine = create_engine_for(fresh_postgres_url)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO user_management.accounts (username, password_hash) VALUES ('ada', 'h')"))
    engine.dispose()
    # when
    runner.upgrade(fresh_postgres_url)
    # then it is at head, has the same schema as a migrated one, and kept its data
    reference = postgres_database_factory()
    runner.upgrade(reference)
    assert runner.current_revision(fresh_postgres_url) == runner.head_revision()
    assert pg_schema(fresh_postgres_url) == pg_schema(reference)
    assert _query(fresh_postgres_url, "SELECT username FROM user_management.accounts") == [("ada",)]


@pytest.mark.integration
def test_downgrade_to_base_and_upgrade_again_on_postgres(fresh_postgres_url: str) -> None:
    runner.upgrade(fresh_postgres_url)
    migrated = pg_schema(fresh_postgres_url)
    runner.downgrade(fresh_postgres_url, "base")
    gone = _query(fresh_postgres_url, "SELECT nspname FROM pg_namespace WHERE nspname = ANY(:schemas)")
    assert (gone, runner.current_revision(fresh_postgres_url)) == ([], None)
    runner.upgrade(fresh_postgres_url)
    assert pg_schema(fresh_postgres_url) == migrated


@pytest.mark.integration
def test_downgrade_to_0003_removes_the_market_data_tables_and_columns_only(fresh_postgres_url: str) -> None:
    runner.upgrade(fresh_postgres_url)
    runner.downgrade(fresh_postgres_url, "0003")
    schema = pg_schema(fresh_postgres_url)
    tables = {table for _schema, table in schema["tables"]}
    factor_columns = {column for _s, table, column, *_ in schema["columns"] if table == "factors"}
    assert tables == SEED_TABLE_NAMES | {"uploads"} | AUTH_TABLES
    assert {"entry", "data_source"} & factor_columns == set()
    assert runner.current_revision(fresh_postgres_url) == "0003"


@pytest.mark.unit
def test_downgrade_to_0003_on_sqlite_keeps_the_factor_returns(sqlite_url: str) -> None:
    # given factor returns stored at head
    runner.upgrade(sqlite_url)
    engine = create_engine_for(sqlite_url)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO factors (factor_id, factor_name) VALUES ('SPY', 'S&P 500')"))
        connection.execute(
            text("INSERT INTO returns (factor_id, date, return_value) VALUES ('SPY', '2024-01-02', 0.01)")
        )
    engine.dispose()
    # when the market-data columns are dropped again
    runner.downgrade(sqlite_url, "0003")
    # then the returns survive (no table rebuild cascading to them)
    assert set(sqlite_columns(sqlite_url)) == ALL_TABLES - MARKET_TABLES - PORTFOLIO_TABLES - ANALYSIS_TABLES
    assert _query(sqlite_url, "SELECT factor_id, return_value FROM returns") == [("SPY", 0.01)]


@pytest.mark.integration
def test_downgrade_to_0004_removes_holdings_and_the_ingestion_columns_only(fresh_postgres_url: str) -> None:
    runner.upgrade(fresh_postgres_url)
    runner.downgrade(fresh_postgres_url, "0004")
    schema = pg_schema(fresh_postgres_url)
    tables = {table for _schema, table in schema["tables"]}
    columns = {(table, column) for _s, table, column, *_ in schema["columns"]}
    assert tables == ALL_TABLES - PORTFOLIO_TABLES - ANALYSIS_TABLES
    assert {c for t, c in columns if t == "portfolios"} == {
        "portfolio_id",
        "portfolio_name",
        "portfolio_address",
        "created_at",
    }
    assert {c for t, c in columns if t == "uploads"} == {
        "upload_id",
        "bucket",
        "object_key",
        "size_bytes",
        "etag",
        "event_time",
        "received_at",
        "status",
    }
    assert runner.current_revision(fresh_postgres_url) == "0004"


@pytest.mark.integration
def test_downgrade_to_0005_removes_the_analyses_and_the_upload_grants_only(fresh_postgres_url: str) -> None:
    runner.upgrade(fresh_postgres_url)
    runner.downgrade(fresh_postgres_url, "0005")
    tables = {table for _schema, table in pg_schema(fresh_postgres_url)["tables"]}
    assert tables == ALL_TABLES - ANALYSIS_TABLES
    assert runner.current_revision(fresh_postgres_url) == "0005"
    runner.upgrade(fresh_postgres_url)
    assert {table for _schema, table in pg_schema(fresh_postgres_url)["tables"]} == ALL_TABLES


SEED_PORTFOLIO = (
    "INSERT INTO portfolios (portfolio_id, portfolio_name) VALUES ('0123456789abcdef0123456789abcdef', 'kept')",
    "INSERT INTO uploads (upload_id, bucket, object_key, size_bytes) "
    "VALUES ('fedcba9876543210fedcba9876543210', 'b', 'uploads/u/p/x.csv', 3)",
)


@pytest.mark.unit
def test_upgrade_to_0005_on_sqlite_gives_existing_portfolios_a_status(sqlite_url: str) -> None:
    # given a portfolio and an upload stored before 0005
    runner.upgrade(sqlite_url, "0004")
    engine = create_engine_for(sqlite_url)
    with engine.begin() as connection:
        for statement in SEED_PORTFOLIO:
            connection.execute(text(statement))
    engine.dispose()
    # when
    runner.upgrade(sqlite_url)
    # then they are awaiting an upload, without holdings; and a downgrade keeps both rows
    assert _query(sqlite_url, "SELECT portfolio_name, status, holdings_count FROM portfolios") == [
        ("kept", "awaiting_upload", 0)
    ]
    assert _query(sqlite_url, "SELECT status, attempts, portfolio_id FROM uploads") == [("received", 0, None)]
    runner.downgrade(sqlite_url, "0004")
    assert _query(sqlite_url, "SELECT portfolio_name FROM portfolios") == [("kept",)]
    assert _query(sqlite_url, "SELECT object_key FROM uploads") == [("uploads/u/p/x.csv",)]
    assert set(sqlite_columns(sqlite_url)) == ALL_TABLES - PORTFOLIO_TABLES - ANALYSIS_TABLES


@pytest.mark.integration
def test_downgrade_to_0002_removes_the_auth_tables_only(fresh_postgres_url: str) -> None:
    runner.upgrade(fresh_postgres_url)
    runner.downgrade(fresh_postgres_url, "0002")
    tables = {table for _schema, table in pg_schema(fresh_postgres_url)["tables"]}
    assert tables == SEED_TABLE_NAMES | {"uploads"}
    assert runner.current_revision(fresh_postgres_url) == "0002"


@pytest.mark.integration
def test_downgrade_to_0001_removes_uploads_too(fresh_postgres_url: str) -> None:
    runner.upgrade(fresh_postgres_url)
    runner.downgrade(fresh_postgres_url, "0001")
    tables = {table for _schema, table in pg_schema(fresh_postgres_url)["tables"]}
    assert tables == SEED_TABLE_NAMES
    assert runner.current_revision(fresh_postgres_url) == "0001"


@pytest.mark.unit
def test_downgrade_to_base_and_upgrade_again_on_sqlite(sqlite_url: str) -> None:
    runner.upgrade(sqlite_url)
    migrated = sqlite_columns(sqlite_url)
    runner.downgrade(sqlite_url, "base")
    assert sqlite_columns(sqlite_url) == {}
    runner.upgrade(sqlite_url)
    assert sqlite_columns(sqlite_url) == migrated


@pytest.mark.integration
def test_sqlite_gets_the_same_tables_and_columns_as_postgres(fresh_postgres_url: str, sqlite_url: str) -> None:
    runner.upgrade(fresh_postgres_url)
    runner.upgrade(sqlite_url)
    assert sqlite_columns(sqlite_url) == sqlite_columns(fresh_postgres_url)


@pytest.mark.integration
def test_models_match_the_migrated_postgres_schema(fresh_postgres_url: str) -> None:
    runner.upgrade(fresh_postgres_url)
    engine = create_engine_for(fresh_postgres_url)
    with engine.connect() as connection:
        options = {"include_schemas": True, "include_name": include_name, "compare_server_default": True}
        diff = compare_metadata(MigrationContext.configure(connection, opts=options), Base.metadata)
    engine.dispose()
    # the only difference allowed: gen_random_uuid() defaults, which only the PostgreSQL migrations declare
    unexplained = [d for d in diff if not (d[0][0] == "modify_default" and "gen_random_uuid" in str(d[0][-2].arg))]
    assert unexplained == []
    assert len(diff) == 3


def _wait_for_lock_waiter(connection: Any, process: subprocess.Popen[bytes], timeout_s: float = 60) -> bool:
    deadline = time.monotonic() + timeout_s
    waiting = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
    while time.monotonic() < deadline and process.poll() is None:
        if connection.execute(waiting).scalar():
            return True
        connection.rollback()
        time.sleep(0.05)
    return False


@pytest.mark.integration
def test_upgrade_waits_for_the_migration_lock(fresh_postgres_url: str) -> None:
    # given another migrator (a deploy, the local stack) holding the migration lock
    engine = create_engine_for(fresh_postgres_url)
    holder = engine.connect()
    holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    holder.commit()
    code = "import sys; from migrations import runner; runner.upgrade(sys.argv[1])"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "layers" / "common")])}
    process = subprocess.Popen([sys.executable, "-c", code, fresh_postgres_url], env=env, stderr=subprocess.PIPE)
    try:
        # when an upgrade starts, it waits for the lock
        assert _wait_for_lock_waiter(holder, process)
        assert runner.current_revision(fresh_postgres_url) is None
        # then it proceeds once the lock is released
        holder.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
        holder.commit()
        assert process.wait(timeout=60) == 0, process.stderr.read() if process.stderr else ""
    finally:
        process.kill()
        holder.close()
        engine.dispose()
    assert runner.current_revision(fresh_postgres_url) == runner.head_revision()


@pytest.mark.unit
def test_runner_works_from_any_directory_and_leaves_logging_alone(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = logging.getLogger()
    before = (root.level, list(root.handlers), logging.getLogger("alembic").level)
    monkeypatch.chdir(tmp_path)
    runner.upgrade(sqlite_url)
    assert runner.current_revision(sqlite_url) == runner.head_revision()
    assert (root.level, list(root.handlers), logging.getLogger("alembic").level) == before


def _alembic(tmp_path: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "alembic", "-c", str(ROOT / "alembic.ini"), *args]
    clean = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.run(command, cwd=tmp_path, env={**clean, **env}, capture_output=True, text=True, timeout=120)


@pytest.mark.unit
def test_alembic_cli_takes_database_url_from_the_environment(sqlite_url: str, tmp_path: Path) -> None:
    done = _alembic(tmp_path, "upgrade", "head", env={"DATABASE_URL": sqlite_url})
    assert done.returncode == 0, done.stderr
    assert runner.current_revision(sqlite_url) == runner.head_revision()


@pytest.mark.unit
def test_alembic_cli_takes_the_url_from_x_argument(sqlite_url: str, tmp_path: Path) -> None:
    done = _alembic(tmp_path, "-x", f"url={sqlite_url}", "upgrade", "0001", env={})
    assert done.returncode == 0, done.stderr
    assert runner.current_revision(sqlite_url) == "0001"


@pytest.mark.unit
def test_alembic_cli_without_a_url_names_database_url(tmp_path: Path) -> None:
    done = _alembic(tmp_path, "upgrade", "head", env={})
    assert done.returncode != 0
    assert "DATABASE_URL" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.unit
def test_alembic_cli_offline_sql_for_postgres(tmp_path: Path) -> None:
    done = _alembic(tmp_path, "upgrade", "head", "--sql", env={"DATABASE_URL": "postgres://u@localhost/none"})
    assert done.returncode == 0, done.stderr
    assert "CREATE TABLE user_management.accounts" in done.stdout
    assert "CREATE UNIQUE INDEX IF NOT EXISTS accounts_username_lower_key" in done.stdout
