"""Analyses: one row per factor analysis of a portfolio - parameters, state, result and what it used.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26

- user_management.analyses: `portfolio_id` (ON DELETE CASCADE: a portfolio's analyses go with it) and `user_id` (the
  owner when it was queued, ON DELETE CASCADE; it names the S3 folder of the stored inputs), `status` (queued |
  running | ready | failed), `trigger` (upload | request), `params` (JSON), timestamps (created, started, finished,
  updated), the worker's claim (`attempts`, `claim_id`, `lease_until`), `error` ({message, field?}), `result` and
  `inputs` (JSON; the prices used are a gzip CSV in S3 under analyses/{user_id}/{portfolio_id}/{analysis_id}/) and
  `last_error` (the last transient failure).

A new table: its CHECK and foreign-key constraints are created inline, on SQLite too.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.helpers import now_default, ref, schema

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

USERS = "user_management"


def upgrade() -> None:
    op.create_table(
        "analyses",
        sa.Column("analysis_id", sa.Uuid(), nullable=False),
        sa.Column("portfolio_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(16), server_default="queued", nullable=False),
        sa.Column("trigger", sa.String(16), server_default="request", nullable=False),
        sa.Column("upload_id", sa.Uuid(), nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=now_default(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("claim_id", sa.Uuid(), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("inputs", sa.JSON(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("analysis_id", name="analyses_pkey"),
        sa.ForeignKeyConstraint(
            ["portfolio_id"],
            [ref(USERS, "portfolios", "portfolio_id")],
            name="analyses_portfolio_id_fkey",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], [ref(USERS, "accounts", "user_id")], name="analyses_user_id_fkey", ondelete="CASCADE"
        ),
        sa.CheckConstraint("status IN ('queued', 'running', 'ready', 'failed')", name=op.f("analyses_status_check")),
        sa.CheckConstraint("trigger IN ('upload', 'request')", name=op.f("analyses_trigger_check")),
        schema=schema(USERS),
    )
    op.create_index("idx_analyses_portfolio_id", "analyses", ["portfolio_id", "created_at"], schema=schema(USERS))
    op.create_index("idx_analyses_status", "analyses", ["status"], schema=schema(USERS))
    op.create_index("idx_analyses_user_id", "analyses", ["user_id"], schema=schema(USERS))


def downgrade() -> None:
    op.drop_table("analyses", schema=schema(USERS))
