"""labfolio_common.db.engine: URL handling, SQLite connection settings, engine cache, sessions, ping."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from labfolio_common.db import engine as db
from labfolio_common.db.models import Account, Base, Factor
from labfolio_common.errors import ConfigurationError, DependencyUnavailableError
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import QueuePool

pytestmark = pytest.mark.unit

PASSWORD = "s3cret-Pa55word"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'engine.db'}"
    yield url
    db.dispose_engine(url)


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Engine:
    engine = db.get_engine(sqlite_url)
    Base.metadata.create_all(engine)
    return engine


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    "given",
    [
        f"postgres://app:{PASSWORD}@db.example:5432/labfolio",
        f"postgresql://app:{PASSWORD}@db.example:5432/labfolio",
        f"postgresql+pg8000://app:{PASSWORD}@db.example:5432/labfolio",
    ],
)
def test_normalize_url_rewrites_postgres_to_pg8000(given: str) -> None:
    url = db.normalize_url(given)
    assert url.drivername == "postgresql+pg8000"
    assert (url.username, url.password, url.host, url.port, url.database) == (
        "app",
        PASSWORD,
        "db.example",
        5432,
        "labfolio",
    )


def test_normalize_url_keeps_sqlite() -> None:
    assert db.normalize_url("sqlite:////tmp/x.db").render_as_string() == "sqlite:////tmp/x.db"


@pytest.mark.parametrize("given", ["mysql://u:p@h/db", "not a url", ""])
def test_normalize_url_rejects_other_databases_without_echoing(given: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        db.normalize_url(given)
    assert "DATABASE_URL" in str(caught.value)
    assert "u:p" not in str(caught.value)


def test_create_engine_for_postgres_uses_pg8000_small_pool_and_hides_password() -> None:
    engine = db.create_engine_for(f"postgres://app:{PASSWORD}@db.example:5432/labfolio")
    assert engine.dialect.driver == "pg8000"
    assert isinstance(engine.pool, QueuePool)
    assert engine.pool.size() == 1
    assert engine.pool._pre_ping is True
    assert 0 < engine.pool._recycle <= 300
    assert PASSWORD not in repr(engine)
    assert PASSWORD not in str(engine.url)
    assert PASSWORD not in db.safe_url(f"postgres://app:{PASSWORD}@db.example/labfolio")
    engine.dispose()


@pytest.mark.parametrize(
    ("mode", "verify", "check_hostname"),
    [
        ("require", ssl.CERT_NONE, False),
        ("verify-ca", ssl.CERT_REQUIRED, False),
        ("verify-full", ssl.CERT_REQUIRED, True),
    ],
)
def test_pg_ssl_args_translate_sslmode_for_pg8000(mode: str, verify: int, check_hostname: bool) -> None:
    url, args = db.pg_ssl_args(db.normalize_url(f"postgresql://app@db.example/labfolio?sslmode={mode}&x=1"))
    assert dict(url.query) == {"x": "1"}  # pg8000 would reject sslmode
    context = args["ssl_context"]
    assert (context.verify_mode, context.check_hostname) == (verify, check_hostname)


def test_pg_ssl_args_disable_means_no_tls_and_prefer_is_the_default() -> None:
    """pg8000 without a context asks the server for TLS and takes it when offered (libpq's `prefer`); `disable`
    must say `ssl_context=False`, or pg8000 still negotiates TLS (and loads the CA bundle for every connection)."""
    _, disabled = db.pg_ssl_args(db.normalize_url("postgresql://app@127.0.0.1/labfolio?sslmode=disable"))
    assert disabled == {"ssl_context": False}
    for query in ("", "?sslmode=prefer", "?sslmode=allow"):
        url, args = db.pg_ssl_args(db.normalize_url(f"postgresql://app@db.example/labfolio{query}"))
        assert args == {} and "sslmode" not in url.query


def test_create_engine_for_postgres_rejects_unknown_sslmode() -> None:
    with pytest.raises(ConfigurationError, match="sslmode"):
        db.create_engine_for("postgresql://app@db.example/labfolio?sslmode=sometimes")


def test_sqlite_engine_sets_foreign_keys_wal_and_busy_timeout(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as connection:
        pragmas = {
            name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("foreign_keys", "journal_mode", "busy_timeout")
        }
    assert pragmas == {"foreign_keys": 1, "journal_mode": "wal", "busy_timeout": 15000}


def test_sqlite_engine_maps_schemas_away(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as connection:
        names = set(connection.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='table'").scalars())
        count = connection.execute(select(Factor)).all()
    assert {"accounts", "portfolios", "user_portfolios", "factors", "returns", "uploads"} <= names
    assert count == []


def test_sqlite_engine_enforces_foreign_keys(sqlite_url: str, sqlite_engine: Engine) -> None:
    with pytest.raises(IntegrityError), db.session_scope(sqlite_url) as session:
        session.execute(text("INSERT INTO returns (factor_id, date, return_value) VALUES ('NOPE', '2024-01-02', 0.1)"))


def test_get_engine_caches_per_url(sqlite_url: str, tmp_path: Path) -> None:
    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert db.get_engine(sqlite_url) is db.get_engine(sqlite_url)
    assert db.get_engine(sqlite_url) is not db.get_engine(other)
    db.dispose_engine(other)


def test_session_scope_commits_on_success(sqlite_url: str, sqlite_engine: Engine) -> None:
    with db.session_scope(sqlite_url) as session:
        session.add(Factor(factor_id="MKT", factor_name="Market"))
    with db.session_scope(sqlite_url) as session:
        assert session.scalars(select(Factor.factor_name)).all() == ["Market"]


def test_session_scope_rolls_back_on_error(sqlite_url: str, sqlite_engine: Engine) -> None:
    with pytest.raises(RuntimeError), db.session_scope(sqlite_url) as session:
        session.add(Factor(factor_id="MKT", factor_name="Market"))
        session.flush()
        raise RuntimeError("boom")
    with db.session_scope(sqlite_url) as session:
        assert session.scalars(select(Factor)).all() == []


def test_integrity_error_hides_bound_parameters(sqlite_url: str, sqlite_engine: Engine) -> None:
    with db.session_scope(sqlite_url) as session:
        session.add(Account(username="ada", password_hash="first"))
    with pytest.raises(IntegrityError) as caught, db.session_scope(sqlite_url) as session:
        session.add(Account(username="ada", password_hash=PASSWORD))
    assert "UNIQUE" in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_ping_succeeds_on_sqlite(sqlite_engine: Engine) -> None:
    assert db.ping(sqlite_engine) is None


def test_ping_raises_unavailable_without_leaking_the_password() -> None:
    engine = db.create_engine_for(f"postgresql://app:{PASSWORD}@127.0.0.1:{_closed_port()}/labfolio")
    with pytest.raises(DependencyUnavailableError) as caught:
        db.ping(engine)
    engine.dispose()
    error = caught.value
    assert error.status_code == 503
    assert "127.0.0.1" in str(error)
    for text_ in (str(error), repr(error), str(error.detail), str(error.__cause__)):
        assert PASSWORD not in text_
