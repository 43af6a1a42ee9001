"""Declarative models of the database: the seed's schema (migrations/seed_schema.sql) plus labfolio's own tables.

Table, column and key names are the seed's. Constraint names follow PostgreSQL's own defaults (`accounts_pkey`,
`accounts_username_key`, `returns_factor_id_fkey`...), so a database made by the seed's SQL and one made by the
migrations carry the same names. Ids are uuid4 made by the application (`default=uuid.uuid4`); the migrations add a
`gen_random_uuid()` server default on PostgreSQL only, as the seed has. Timestamps are UTC, stored without zone,
and come back timezone-aware. Every schema change goes through an Alembic migration (migrations/versions/).
"""

from __future__ import annotations

import datetime as dt
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

USER_SCHEMA: Final = "user_management"
FACTOR_SCHEMA: Final = "factor"

# PostgreSQL's default constraint names, so seed-made and migration-made databases agree.
NAMING_CONVENTION: Final[dict[str, str]] = {
    "pk": "%(table_name)s_pkey",
    "uq": "%(table_name)s_%(column_0_N_name)s_key",
    "fk": "%(table_name)s_%(column_0_N_name)s_fkey",
    "ck": "%(table_name)s_%(constraint_name)s_check",
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
}

NOW: Final = text("CURRENT_TIMESTAMP")


def utcnow() -> datetime:
    """The current time in UTC, timezone-aware."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """TIMESTAMP (without time zone) holding UTC: aware values are converted, naive ones are taken as UTC."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _created_at() -> Mapped[datetime | None]:
    return mapped_column(UTCDateTime(), default=utcnow, server_default=NOW)


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (Index("idx_accounts_username", "username"), {"schema": USER_SCHEMA})

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True, default=uuid.uuid4)
    username: Mapped[str] = mapped_column(String(255), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime | None] = _created_at()


# Usernames are unique case-insensitively (the seed's UNIQUE alone is case-sensitive).
Index("accounts_username_lower_key", func.lower(Account.username), unique=True)


# A portfolio's life: created awaiting its first upload; processing while an upload of a portfolio without holdings is
# ingested; ready with holdings; failed when its uploads so far were all invalid. A re-upload of a ready portfolio
# leaves it ready (and its holdings untouched unless the new file is valid); the upload's own state is in `uploads`.
PORTFOLIO_STATUSES: Final = ("awaiting_upload", "processing", "ready", "failed")
PORTFOLIO_KINDS: Final = ("quantity", "weight")
# received: recorded, not yet claimed; processing: claimed by a worker until lease_until; ready: its holdings were
# stored; failed: invalid (errors say why); ignored: no portfolio of that owner (or gone); superseded: older than the
# holdings already stored; abandoned: the retries ran out (the sweep's verdict; a redriven message may retry it).
UPLOAD_STATUSES: Final = ("received", "processing", "ready", "failed", "ignored", "superseded", "abandoned")


_PROBLEMS: Final = JSON(none_as_null=True)  # a list of {row, column, message}; None is SQL NULL


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Portfolio(Base):
    __tablename__ = "portfolios"
    __table_args__ = (
        Index("idx_portfolios_name", "portfolio_name"),
        CheckConstraint(_in("status", PORTFOLIO_STATUSES), name="status"),
        CheckConstraint(_in("kind", PORTFOLIO_KINDS), name="kind"),
        {"schema": USER_SCHEMA},
    )

    portfolio_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True, default=uuid.uuid4)
    portfolio_name: Mapped[str] = mapped_column(String(255))
    # The S3 address (key in the uploads bucket) of the file behind the current holdings; None before the first.
    portfolio_address: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[datetime | None] = _created_at()
    status: Mapped[str] = mapped_column(String(20), default="awaiting_upload", server_default="awaiting_upload")
    kind: Mapped[str | None] = mapped_column(String(10))  # quantity | weight, once there are holdings
    errors: Mapped[list[dict[str, Any]] | None] = mapped_column(_PROBLEMS)  # why it failed: {row, column, message}
    warnings: Mapped[list[dict[str, Any]] | None] = mapped_column(_PROBLEMS)  # about the current holdings
    holdings_count: Mapped[int] = mapped_column(Integer(), default=0, server_default="0")
    holdings_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # when they were stored
    holdings_uploaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # when their file reached S3
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Holding(Base):
    """One position of a portfolio: a quantity (shares, negative = short) or a weight (fraction of gross exposure)."""

    __tablename__ = "holdings"
    __table_args__ = (
        CheckConstraint("quantity IS NOT NULL OR weight IS NOT NULL", name="amount"),
        CheckConstraint("price > 0", name="price"),
        {"schema": USER_SCHEMA},
    )

    portfolio_id: Mapped[uuid.UUID] = mapped_column(
        Uuid(), ForeignKey(f"{USER_SCHEMA}.portfolios.portfolio_id", ondelete="CASCADE"), primary_key=True
    )
    ticker: Mapped[str] = mapped_column(String(50), primary_key=True)
    position: Mapped[int] = mapped_column(Integer())  # order in the file, from 0
    quantity: Mapped[float | None] = mapped_column(Double())
    weight: Mapped[float | None] = mapped_column(Double())
    price: Mapped[float | None] = mapped_column(Double())  # the file's own price column, if any


class UserPortfolio(Base):
    """Ownership: labfolio writes exactly one owner row per portfolio."""

    __tablename__ = "user_portfolios"
    __table_args__ = ({"schema": USER_SCHEMA},)

    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid(), ForeignKey(f"{USER_SCHEMA}.accounts.user_id", ondelete="CASCADE"), primary_key=True
    )
    portfolio_id: Mapped[uuid.UUID] = mapped_column(
        Uuid(), ForeignKey(f"{USER_SCHEMA}.portfolios.portfolio_id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime | None] = _created_at()


class Upload(Base):
    """One object that arrived in the uploads bucket and its ingestion; (bucket, key, etag) makes an SQS redelivery
    (or moto's second event for a multipart upload) a no-op once the object reached a final status."""

    __tablename__ = "uploads"
    __table_args__ = (
        UniqueConstraint("bucket", "object_key", "etag"),
        CheckConstraint("size_bytes >= 0", name="size_bytes"),
        Index("idx_uploads_portfolio_id", "portfolio_id", "received_at"),
        Index("idx_uploads_status", "status"),
        {"schema": USER_SCHEMA},
    )

    upload_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True, default=uuid.uuid4)
    bucket: Mapped[str] = mapped_column(String(63))
    object_key: Mapped[str] = mapped_column(String(1024))
    size_bytes: Mapped[int] = mapped_column(BigInteger())
    etag: Mapped[str] = mapped_column(String(128), server_default="")
    event_time: Mapped[datetime | None] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, server_default=NOW)
    status: Mapped[str] = mapped_column(String(32), default="received", server_default="received")
    # The owner and portfolio the key names, once checked against the database (None: ignored).
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid())
    portfolio_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid(), ForeignKey(f"{USER_SCHEMA}.portfolios.portfolio_id", ondelete="CASCADE")
    )
    attempts: Mapped[int] = mapped_column(Integer(), default=0, server_default="0")  # claims by a worker
    claim_id: Mapped[uuid.UUID | None] = mapped_column(Uuid())  # the current claim; only its holder may finish
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the claim holds until then
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    errors: Mapped[list[dict[str, Any]] | None] = mapped_column(_PROBLEMS)
    warnings: Mapped[list[dict[str, Any]] | None] = mapped_column(_PROBLEMS)
    last_error: Mapped[str | None] = mapped_column(Text())  # the last transient failure (retried)


class UploadGrant(Base):
    """An upload key the portfolios function issued (a presigned POST, or a PUT it wrote itself): the worker ingests
    an object only at a key issued to the owner and portfolio the key names, before the grant expired, and only the
    first object at that key (`used_etag`); any other object is ignored and deleted. A portfolio's grants go with it,
    and issuing one prunes its expired and surplus ones (at most MAX_LIVE_GRANTS per portfolio)."""

    __tablename__ = "upload_grants"
    __table_args__ = (Index("idx_upload_grants_portfolio_id", "portfolio_id", "issued_at"), {"schema": USER_SCHEMA})

    object_key: Mapped[str] = mapped_column(String(1024), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid(), ForeignKey(f"{USER_SCHEMA}.accounts.user_id", ondelete="CASCADE")
    )
    portfolio_id: Mapped[uuid.UUID] = mapped_column(
        Uuid(), ForeignKey(f"{USER_SCHEMA}.portfolios.portfolio_id", ondelete="CASCADE")
    )
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_etag: Mapped[str | None] = mapped_column(String(128))  # the object that consumed it (None: not yet)


# An analysis's life: queued (its job message is on the analysis queue) → running (claimed by a worker until
# lease_until; a crashed worker's claim ends with its lease and the redelivered message runs it again) → ready (result)
# or failed (error: a message for people). The sweep fails what stays queued or running after the queue's retries.
ANALYSIS_STATUSES: Final = ("queued", "running", "ready", "failed")
ANALYSIS_TRIGGERS: Final = ("upload", "request")  # queued after an ingested upload, or asked for through the API


class Analysis(Base):
    """One factor analysis of a portfolio: its parameters, state, result, and what it used (`inputs`: the holdings
    as they were, and where the prices it used are stored - a gzip CSV under analyses/ in the uploads bucket)."""

    __tablename__ = "analyses"
    __table_args__ = (
        CheckConstraint(_in("status", ANALYSIS_STATUSES), name="status"),
        CheckConstraint(_in("trigger", ANALYSIS_TRIGGERS), name="trigger"),
        Index("idx_analyses_portfolio_id", "portfolio_id", "created_at"),
        Index("idx_analyses_status", "status"),
        Index("idx_analyses_user_id", "user_id"),
        {"schema": USER_SCHEMA},
    )

    analysis_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True, default=uuid.uuid4)
    portfolio_id: Mapped[uuid.UUID] = mapped_column(
        Uuid(), ForeignKey(f"{USER_SCHEMA}.portfolios.portfolio_id", ondelete="CASCADE")
    )
    # The portfolio's owner when it was queued: names the folder of its stored inputs (analyses/{user_id}/...).
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid(), ForeignKey(f"{USER_SCHEMA}.accounts.user_id", ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(String(16), default="queued", server_default="queued")
    trigger: Mapped[str] = mapped_column(String(16), default="request", server_default="request")
    upload_id: Mapped[uuid.UUID | None] = mapped_column(Uuid())  # the upload whose ingestion queued it, if any
    params: Mapped[dict[str, Any]] = mapped_column(JSON())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, server_default=NOW)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the latest claim by a worker
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    attempts: Mapped[int] = mapped_column(Integer(), default=0, server_default="0")  # claims by a worker
    claim_id: Mapped[uuid.UUID | None] = mapped_column(Uuid())  # the current claim; only its holder may finish
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))  # {message, field?} when failed
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))  # when ready
    inputs: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))  # when ready
    last_error: Mapped[str | None] = mapped_column(Text())  # the last transient failure (retried)


class AuthSession(Base):
    """One login: the `sid` claim of its tokens. Logout, a password change or an operator reset revoke it (in the
    database, so every Lambda instance sees it); an expired or revoked session authenticates nothing."""

    __tablename__ = "sessions"
    __table_args__ = (Index("idx_sessions_user_id", "user_id"), {"schema": USER_SCHEMA})

    session_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid(), ForeignKey(f"{USER_SCHEMA}.accounts.user_id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, server_default=NOW)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LoginFailure(Base):
    """One failed login, counted per account and per client address within the throttle window.

    `subject` is the SHA-256 (hex) of the case-folded username or of the client address, never the text itself.
    """

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("idx_login_failures_subject", "scope", "subject", "failed_at"),
        Index("idx_login_failures_failed_at", "failed_at"),
        CheckConstraint("scope IN ('account', 'address')", name="scope"),
        {"schema": USER_SCHEMA},
    )

    failure_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True, default=uuid.uuid4)
    scope: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(64))
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, server_default=NOW)


class LoginLockout(Base):
    """An account or client address that answers 429 to every login until `locked_until`."""

    __tablename__ = "login_lockouts"
    __table_args__ = (
        CheckConstraint("scope IN ('account', 'address')", name="scope"),
        {"schema": USER_SCHEMA},
    )

    scope: Mapped[str] = mapped_column(String(16), primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    locked_until: Mapped[datetime] = mapped_column(UTCDateTime())


class Factor(Base):
    __tablename__ = "factors"
    # The seed says `PRIMARY KEY NOT NULL UNIQUE`; PostgreSQL drops a UNIQUE that repeats the primary key.
    __table_args__ = (Index("idx_factors_id", "factor_id"), {"schema": FACTOR_SCHEMA})

    factor_id: Mapped[str] = mapped_column(String(50), primary_key=True)  # e.g. 'MKT'
    factor_name: Mapped[str] = mapped_column(String(255))
    factor_description: Mapped[str | None] = mapped_column(Text())
    factor_category: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime | None] = _created_at()
    last_updated: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, server_default=NOW
    )
    # How the factor enters a model by default (the catalogue's `entry`: raw | spread against the market factor).
    entry: Mapped[str] = mapped_column(String(10), default="raw", server_default="raw")
    # The market-data provider that last wrote its returns: "offline" is demo data; None: no returns yet.
    data_source: Mapped[str | None] = mapped_column(String(20))


class FactorReturn(Base):
    """Daily factor returns; upserted on (factor_id, date), never deleted and re-inserted."""

    __tablename__ = "returns"
    __table_args__ = (Index("idx_factor_returns_date", "date"), {"schema": FACTOR_SCHEMA})

    factor_id: Mapped[str] = mapped_column(
        String(50), ForeignKey(f"{FACTOR_SCHEMA}.factors.factor_id", ondelete="CASCADE"), primary_key=True
    )
    date: Mapped[dt.date] = mapped_column(Date(), primary_key=True)
    return_value: Mapped[Decimal] = mapped_column(Numeric(10, 6))


class PriceTicker(Base):
    """A ticker whose daily prices factor_update keeps fresh (registered when a portfolio first needs it)."""

    __tablename__ = "price_tickers"
    __table_args__ = (Index("idx_price_tickers_added_by", "added_by", "added_at"), {"schema": FACTOR_SCHEMA})

    ticker: Mapped[str] = mapped_column(String(50), primary_key=True)
    data_source: Mapped[str | None] = mapped_column(String(20))  # provider of the cached prices; "offline" = demo
    added_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, server_default=NOW)
    last_updated: Mapped[datetime | None] = mapped_column(UTCDateTime())  # last successful refresh
    last_error: Mapped[str | None] = mapped_column(Text())  # why the last refresh failed; None after a success
    # the account whose upload brought it in (None: a factor's ETF, or the account is gone), for its daily cap
    added_by: Mapped[uuid.UUID | None] = mapped_column(Uuid())


class Price(Base):
    """The price cache: daily dividend-adjusted close per ticker (full float precision), upserted on (ticker, date)."""

    __tablename__ = "prices"
    __table_args__ = (CheckConstraint("adj_close > 0", name="adj_close"), {"schema": FACTOR_SCHEMA})

    ticker: Mapped[str] = mapped_column(
        String(50), ForeignKey(f"{FACTOR_SCHEMA}.price_tickers.ticker", ondelete="CASCADE"), primary_key=True
    )
    date: Mapped[dt.date] = mapped_column(Date(), primary_key=True)
    adj_close: Mapped[float] = mapped_column(Double())


SEED_TABLES: Final = (
    f"{USER_SCHEMA}.accounts",
    f"{USER_SCHEMA}.portfolios",
    f"{USER_SCHEMA}.user_portfolios",
    f"{FACTOR_SCHEMA}.factors",
    f"{FACTOR_SCHEMA}.returns",
)
