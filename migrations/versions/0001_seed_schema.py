"""The seed's schema (migrations/seed_schema.sql), plus case-insensitively unique usernames.

Revision ID: 0001
Revises:
Create Date: 2026-11-25

Tables that already exist because the seed's SQL was applied by hand are adopted (kept, checked for their columns)
and get the indexes they lack. Constraint names are PostgreSQL's defaults, the ones the seed's SQL produces.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.helpers import create_indexes, create_or_adopt, is_sqlite, now_default, ref, schema, uuid_default

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

USERS = "user_management"
FACTOR = "factor"


def upgrade() -> None:
    if not is_sqlite():
        op.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {USERS}"))
        op.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {FACTOR}"))
    _user_tables()
    _factor_tables()


def _user_tables() -> None:
    create_or_adopt(
        "accounts",
        USERS,
        sa.Column("user_id", sa.Uuid(), server_default=uuid_default(), nullable=False),
        sa.Column("username", sa.String(255), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=now_default(), nullable=True),
        sa.PrimaryKeyConstraint("user_id", name="accounts_pkey"),
        sa.UniqueConstraint("username", name="accounts_username_key"),
    )
    create_indexes(
        "accounts",
        USERS,
        [
            ("idx_accounts_username", ["username"], False),
            ("accounts_username_lower_key", [sa.text("lower(username)")], True),
        ],
    )
    create_or_adopt(
        "portfolios",
        USERS,
        sa.Column("portfolio_id", sa.Uuid(), server_default=uuid_default(), nullable=False),
        sa.Column("portfolio_name", sa.String(255), nullable=False),
        sa.Column("portfolio_address", sa.String(512), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=now_default(), nullable=True),
        sa.PrimaryKeyConstraint("portfolio_id", name="portfolios_pkey"),
    )
    create_indexes("portfolios", USERS, [("idx_portfolios_name", ["portfolio_name"], False)])
    create_or_adopt(
        "user_portfolios",
        USERS,
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("portfolio_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=now_default(), nullable=True),
        sa.PrimaryKeyConstraint("user_id", "portfolio_id", name="user_portfolios_pkey"),
        sa.ForeignKeyConstraint(
            ["user_id"], [ref(USERS, "accounts", "user_id")], name="user_portfolios_user_id_fkey", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["portfolio_id"],
            [ref(USERS, "portfolios", "portfolio_id")],
            name="user_portfolios_portfolio_id_fkey",
            ondelete="CASCADE",
        ),
    )


def _factor_tables() -> None:
    create_or_adopt(
        "factors",
        FACTOR,
        sa.Column("factor_id", sa.String(50), nullable=False),
        sa.Column("factor_name", sa.String(255), nullable=False),
        sa.Column("factor_description", sa.Text(), nullable=True),
        sa.Column("factor_category", sa.String(100), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=now_default(), nullable=True),
        sa.Column("last_updated", sa.DateTime(), server_default=now_default(), nullable=True),
        sa.PrimaryKeyConstraint("factor_id", name="factors_pkey"),
        # The seed adds UNIQUE to this PRIMARY KEY; PostgreSQL drops such a duplicate, so it is left out here.
    )
    create_indexes("factors", FACTOR, [("idx_factors_id", ["factor_id"], False)])
    create_or_adopt(
        "returns",
        FACTOR,
        sa.Column("factor_id", sa.String(50), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("return_value", sa.Numeric(10, 6), nullable=False),
        sa.PrimaryKeyConstraint("factor_id", "date", name="returns_pkey"),
        sa.ForeignKeyConstraint(
            ["factor_id"], [ref(FACTOR, "factors", "factor_id")], name="returns_factor_id_fkey", ondelete="CASCADE"
        ),
    )
    create_indexes("returns", FACTOR, [("idx_factor_returns_date", ["date"], False)])


def downgrade() -> None:
    op.drop_table("returns", schema=schema(FACTOR))
    op.drop_table("factors", schema=schema(FACTOR))
    op.drop_table("user_portfolios", schema=schema(USERS))
    op.drop_table("portfolios", schema=schema(USERS))
    op.drop_table("accounts", schema=schema(USERS))
    if not is_sqlite():
        op.execute(sa.text(f"DROP SCHEMA IF EXISTS {FACTOR}"))
        op.execute(sa.text(f"DROP SCHEMA IF EXISTS {USERS}"))
