"""Engines and sessions: PostgreSQL through pg8000 (AWS) or an SQLite file (the local stack's default).

One engine per URL per process (`get_engine`), sized for Lambda: one warm connection, pinged before use and
recycled before RDS or a proxy drops it. On SQLite the `user_management` and `factor` schemas are mapped away
(their table names are distinct), foreign keys are enforced, and the journal is WAL so readers never block the writer.

Passwords never leave this module: URLs are logged and shown with `***`, and driver errors are not echoed.
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, ExceptionContext, make_url
from sqlalchemy.exc import ArgumentError, DataError, DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from labfolio_common.errors import ConfigurationError, DependencyUnavailableError

logger = logging.getLogger(__name__)

PG_DRIVER: Final = "postgresql+pg8000"
SQLITE_SCHEMA_TRANSLATE_MAP: Final[dict[str | None, str | None]] = {"user_management": None, "factor": None}
SQLITE_BUSY_TIMEOUT_S: Final = 15.0
PG_SOCKET_TIMEOUT_S: Final = 30.0  # pg8000 applies it to connect and to every later read on the socket
PG_POOL_RECYCLE_S: Final = 280  # below the usual idle cut-offs of RDS Proxy and NAT gateways (350 s)

_PG_ALIASES: Final = frozenset({"postgres", "postgresql", "postgres+pg8000", PG_DRIVER})
_SQLITE_DRIVERS: Final = frozenset({"sqlite", "sqlite+pysqlite"})

_lock = threading.Lock()
_engines: dict[str, Engine] = {}
_sessionmakers: dict[str, sessionmaker[Session]] = {}


def normalize_url(url: str | URL) -> URL:
    """Parse a database URL; `postgres://` and `postgresql://` become `postgresql+pg8000://`."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise ConfigurationError("DATABASE_URL is not a valid SQLAlchemy URL") from None
    if parsed.drivername in _PG_ALIASES:
        return parsed.set(drivername=PG_DRIVER)
    if parsed.drivername in _SQLITE_DRIVERS:
        return parsed
    raise ConfigurationError(f"DATABASE_URL: unsupported database {parsed.drivername!r} (use postgresql or sqlite)")


def safe_url(url: str | URL) -> str:
    """The URL as text with the password replaced by `***`, for logs and messages."""
    return normalize_url(url).render_as_string(hide_password=True)


def is_sqlite(url: str | URL) -> bool:
    return normalize_url(url).get_backend_name() == "sqlite"


def create_engine_for(url: str | URL) -> Engine:
    """A new engine for `url` (not cached; see `get_engine`). Bound parameters never appear in error messages."""
    parsed = normalize_url(url)
    engine = _create_sqlite(parsed) if parsed.get_backend_name() == "sqlite" else _create_postgres(parsed)
    logger.debug("database engine created", extra={"database_url": safe_url(parsed)})
    return engine


def _create_postgres(url: URL) -> Engine:
    url, ssl_args = pg_ssl_args(url)
    connect_args: dict[str, Any] = {"timeout": PG_SOCKET_TIMEOUT_S, "startup_params": {"TimeZone": "UTC"}, **ssl_args}
    if "application_name" not in url.query:
        connect_args["application_name"] = "labfolio"
    engine = create_engine(
        url,
        pool_size=1,
        max_overflow=1,
        pool_timeout=10,
        pool_pre_ping=True,
        pool_recycle=PG_POOL_RECYCLE_S,
        hide_parameters=True,
        connect_args=connect_args,
    )
    event.listen(engine, "handle_error", _pg8000_error_class, retval=True)
    return engine


_SQLSTATE_CLASSES: Final[dict[str, type[DBAPIError]]] = {"23": IntegrityError, "22": DataError}


def _pg8000_error_class(context: ExceptionContext) -> BaseException | None:
    """pg8000 raises IntegrityError for unique violations only (a foreign-key or NOT NULL violation comes as
    ProgrammingError): map SQLSTATE classes 23 (integrity) and 22 (data) to their DB-API errors, as psycopg does."""
    original, wrapped = context.original_exception, context.sqlalchemy_exception
    details = original.args[0] if original.args else None
    if wrapped is None or not isinstance(details, dict):
        return None
    error_class = _SQLSTATE_CLASSES.get(str(details.get("C", ""))[:2])
    if error_class is None or isinstance(wrapped, error_class):
        return None
    return error_class(context.statement, context.parameters, original, hide_parameters=True)


def pg_ssl_args(url: URL) -> tuple[URL, dict[str, Any]]:
    """Translate libpq's `sslmode`/`sslrootcert` query options (pg8000 knows neither) into pg8000's `ssl_context`:
    `disable` no TLS at all; `allow`/`prefer` (libpq's default, also when the URL names none) TLS when the server
    offers it, unverified, else plain (pg8000's own behaviour without a context); `require` TLS, unverified;
    `verify-ca`/`verify-full` TLS verified against `sslrootcert` (or the system's CAs), and the host name for
    verify-full. Returns the URL without those options and the connect arguments."""
    mode = url.query.get("sslmode", "prefer")
    root = url.query.get("sslrootcert")
    url = url.difference_update_query(["sslmode", "sslrootcert"])
    if isinstance(mode, tuple) or isinstance(root, tuple):
        raise ConfigurationError("DATABASE_URL: sslmode and sslrootcert may be given once")
    if mode == "disable":  # pg8000 asks for TLS unless told not to (and loads the CA bundle for it, ~25 ms each time)
        return url, {"ssl_context": False}
    if mode in ("allow", "prefer"):
        return url, {}
    if mode not in ("require", "verify-ca", "verify-full"):
        raise ConfigurationError(f"DATABASE_URL: unsupported sslmode {mode!r}")
    context = ssl.create_default_context(cafile=root)
    if mode == "require":  # libpq semantics: encrypted, server not verified
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif mode == "verify-ca":
        context.check_hostname = False
    return url, {"ssl_context": context}


def _create_sqlite(url: URL) -> Engine:
    engine = create_engine(
        url,
        hide_parameters=True,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
    )
    event.listen(engine, "connect", _sqlite_on_connect)
    return engine.execution_options(schema_translate_map=SQLITE_SCHEMA_TRANSLATE_MAP)


def _sqlite_on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; a power cut may lose the last commits only
    finally:
        cursor.close()


def _key(url: str | URL) -> str:
    return normalize_url(url).render_as_string(hide_password=False)


def get_engine(url: str | URL) -> Engine:
    """The process-wide engine for `url`, created on first use."""
    key = _key(url)
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = create_engine_for(key)
        return engine


def session_factory(url: str | URL) -> sessionmaker[Session]:
    """The process-wide sessionmaker for `url`; objects stay readable after commit (`expire_on_commit=False`)."""
    key = _key(url)
    engine = get_engine(key)
    with _lock:
        factory = _sessionmakers.get(key)
        if factory is None:
            factory = _sessionmakers[key] = sessionmaker(bind=engine, expire_on_commit=False)
        return factory


@contextmanager
def session_scope(url: str | URL) -> Iterator[Session]:
    """A session that commits when the block ends and rolls back if it raises."""
    session = session_factory(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def dispose_engine(url: str | URL) -> None:
    """Close the pooled connections of `url`'s cached engine and forget it (tests, before DROP DATABASE)."""
    key = _key(url)
    with _lock:
        engine = _engines.pop(key, None)
        _sessionmakers.pop(key, None)
    if engine is not None:
        engine.dispose()


def dispose_all_engines() -> None:
    with _lock:
        engines = list(_engines.values())
        _engines.clear()
        _sessionmakers.clear()
    for engine in engines:
        engine.dispose()


def ping(engine: Engine) -> None:
    """Run `SELECT 1`; if it fails, raise DependencyUnavailableError (no password, no driver text in the message)."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        where = engine.url.get_backend_name()
        if engine.url.host:
            where += f" at {engine.url.host}:{engine.url.port or 5432}"
        raise DependencyUnavailableError(f"database unavailable: {where} ({type(exc).__name__})") from exc
