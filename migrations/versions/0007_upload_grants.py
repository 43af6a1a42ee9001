"""Upload grants: every upload key the portfolios function issues, so the worker ingests only objects it issued.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08

- user_management.upload_grants: `object_key` (the key issued), `user_id` and `portfolio_id` (ON DELETE CASCADE),
  `issued_at`, `expires_at` (the form's end) and `used_etag` (the object that consumed the grant; a second object at
  the same key is refused).

A new table: its foreign-key constraints are created inline, on SQLite too. Portfolios uploaded before it keep their
holdings; their next upload needs a new form (or PUT), as every upload does.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.helpers import ref, schema

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

USERS = "user_management"


def upgrade() -> None:
    op.create_table(
        "upload_grants",
        sa.Column("object_key", sa.String(1024), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("portfolio_id", sa.Uuid(), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_etag", sa.String(128), nullable=True),
        sa.PrimaryKeyConstraint("object_key", name="upload_grants_pkey"),
        sa.ForeignKeyConstraint(
            ["user_id"], [ref(USERS, "accounts", "user_id")], name="upload_grants_user_id_fkey", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["portfolio_id"],
            [ref(USERS, "portfolios", "portfolio_id")],
            name="upload_grants_portfolio_id_fkey",
            ondelete="CASCADE",
        ),
        schema=schema(USERS),
    )
    op.create_index(
        "idx_upload_grants_portfolio_id", "upload_grants", ["portfolio_id", "issued_at"], schema=schema(USERS)
    )


def downgrade() -> None:
    op.drop_table("upload_grants", schema=schema(USERS))
