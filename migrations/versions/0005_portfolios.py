"""Portfolios: status, problems and timestamps of each portfolio, its holdings, and the ingestion state of uploads.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25

- user_management.portfolios keeps the seed's columns and gains `status` (awaiting_upload | processing | ready |
  failed), `kind` (quantity | weight), `errors` / `warnings` (JSON lists of {row, column, message}),
  `holdings_count`, `holdings_updated_at` / `holdings_uploaded_at` (when the current holdings were stored, and when
  their file reached S3: an older file never replaces newer holdings), `status_changed_at` and `updated_at`.
  `portfolio_address` (the seed's "S3 address") holds the key of the file behind the current holdings.
- user_management.holdings: one row per (portfolio, ticker), a quantity or a weight, the file's optional price.
- user_management.uploads (0002) carries the ingestion state, still keyed by (bucket, key, etag): the owner and
  portfolio the key names, the worker's claim (claim_id, claimed_at, lease_until, attempts), the outcome (errors,
  warnings, finished_at) and the last transient failure.

SQLite cannot add a constraint to an existing table (and a batch rebuild of `portfolios` would cascade-delete its
children): the CHECKs on portfolios exist on PostgreSQL only, and uploads.portfolio_id gets its foreign key inline
in SQLite's own ALTER TABLE .. ADD COLUMN (which Alembic does not emit).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.helpers import is_sqlite, ref, schema

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

USERS = "user_management"
PORTFOLIO_STATUSES = "status IN ('awaiting_upload', 'processing', 'ready', 'failed')"
PORTFOLIO_KINDS = "kind IN ('quantity', 'weight')"


def _portfolio_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("status", sa.String(20), server_default="awaiting_upload", nullable=False),
        sa.Column("kind", sa.String(10), nullable=True),
        sa.Column("errors", sa.JSON(), nullable=True),
        sa.Column("warnings", sa.JSON(), nullable=True),
        sa.Column("holdings_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("holdings_updated_at", sa.DateTime(), nullable=True),
        sa.Column("holdings_uploaded_at", sa.DateTime(), nullable=True),
        sa.Column("status_changed_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),  # SQLite adds no column defaulting to a clock
    ]


def _upload_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("claim_id", sa.Uuid(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("errors", sa.JSON(), nullable=True),
        sa.Column("warnings", sa.JSON(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
    ]


def upgrade() -> None:
    for column in _portfolio_columns():
        op.add_column("portfolios", column, schema=schema(USERS))
    portfolios = sa.table("portfolios", sa.column("created_at"), sa.column("updated_at"), schema=schema(USERS))
    op.execute(portfolios.update().values(updated_at=portfolios.c.created_at))
    if not is_sqlite():
        op.create_check_constraint("portfolios_status_check", "portfolios", PORTFOLIO_STATUSES, schema=USERS)
        op.create_check_constraint("portfolios_kind_check", "portfolios", PORTFOLIO_KINDS, schema=USERS)
    _add_upload_portfolio_id()
    for column in _upload_columns():
        op.add_column("uploads", column, schema=schema(USERS))
    op.create_index("idx_uploads_portfolio_id", "uploads", ["portfolio_id", "received_at"], schema=schema(USERS))
    op.create_index("idx_uploads_status", "uploads", ["status"], schema=schema(USERS))
    op.create_table(
        "holdings",
        sa.Column("portfolio_id", sa.Uuid(), nullable=False),
        sa.Column("ticker", sa.String(50), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Double(), nullable=True),
        sa.Column("weight", sa.Double(), nullable=True),
        sa.Column("price", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("portfolio_id", "ticker", name="holdings_pkey"),
        sa.ForeignKeyConstraint(
            ["portfolio_id"],
            [ref(USERS, "portfolios", "portfolio_id")],
            name="holdings_portfolio_id_fkey",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint("quantity IS NOT NULL OR weight IS NOT NULL", name=op.f("holdings_amount_check")),
        sa.CheckConstraint("price > 0", name=op.f("holdings_price_check")),
        schema=schema(USERS),
    )


def _add_upload_portfolio_id() -> None:
    if is_sqlite():
        op.execute(
            sa.text(
                "ALTER TABLE uploads ADD COLUMN portfolio_id CHAR(32) "
                "REFERENCES portfolios (portfolio_id) ON DELETE CASCADE"
            )
        )
        return
    op.add_column("uploads", sa.Column("portfolio_id", sa.Uuid(), nullable=True), schema=USERS)
    op.create_foreign_key(
        "uploads_portfolio_id_fkey",
        "uploads",
        "portfolios",
        ["portfolio_id"],
        ["portfolio_id"],
        source_schema=USERS,
        referent_schema=USERS,
        ondelete="CASCADE",
    )


def downgrade() -> None:
    op.drop_table("holdings", schema=schema(USERS))
    op.drop_index("idx_uploads_status", "uploads", schema=schema(USERS))
    op.drop_index("idx_uploads_portfolio_id", "uploads", schema=schema(USERS))
    # Plain ALTER TABLE .. DROP COLUMN (SQLite >= 3.35), never a batch rebuild that would cascade to child rows.
    for column in reversed(_upload_columns()):
        op.drop_column("uploads", column.name, schema=schema(USERS))
    if is_sqlite():
        # SQLite refuses to drop a column with a foreign key: the uploads table (no children) is rebuilt instead.
        _rebuild_sqlite_uploads_without_portfolio_id()
    else:
        op.drop_constraint("uploads_portfolio_id_fkey", "uploads", schema=USERS, type_="foreignkey")
        op.drop_column("uploads", "portfolio_id", schema=USERS)
    if not is_sqlite():
        op.drop_constraint("portfolios_kind_check", "portfolios", schema=USERS, type_="check")
        op.drop_constraint("portfolios_status_check", "portfolios", schema=USERS, type_="check")
    for column in reversed(_portfolio_columns()):
        op.drop_column("portfolios", column.name, schema=schema(USERS))


def _rebuild_sqlite_uploads_without_portfolio_id() -> None:
    with op.batch_alter_table("uploads", recreate="always") as batch:
        batch.drop_column("portfolio_id")
