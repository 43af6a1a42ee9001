"""Auth: sessions (the revocable `sid` of every token) and the login throttle (failures and lockouts).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

Ids are uuid4 made by the application (no server default), timestamps UTC without zone, as in 0001/0002.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.helpers import now_default, ref, schema

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

USERS = "user_management"
SCOPES = "scope IN ('account', 'address')"


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=now_default(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("session_id", name="sessions_pkey"),
        sa.ForeignKeyConstraint(
            ["user_id"], [ref(USERS, "accounts", "user_id")], name="sessions_user_id_fkey", ondelete="CASCADE"
        ),
        schema=schema(USERS),
    )
    op.create_index("idx_sessions_user_id", "sessions", ["user_id"], schema=schema(USERS))
    op.create_table(
        "login_failures",
        sa.Column("failure_id", sa.Uuid(), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("failed_at", sa.DateTime(), server_default=now_default(), nullable=False),
        sa.PrimaryKeyConstraint("failure_id", name="login_failures_pkey"),
        sa.CheckConstraint(SCOPES, name=op.f("login_failures_scope_check")),
        schema=schema(USERS),
    )
    op.create_index(
        "idx_login_failures_subject", "login_failures", ["scope", "subject", "failed_at"], schema=schema(USERS)
    )
    op.create_index("idx_login_failures_failed_at", "login_failures", ["failed_at"], schema=schema(USERS))
    op.create_table(
        "login_lockouts",
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "subject", name="login_lockouts_pkey"),
        sa.CheckConstraint(SCOPES, name=op.f("login_lockouts_scope_check")),
        schema=schema(USERS),
    )


def downgrade() -> None:
    op.drop_table("login_lockouts", schema=schema(USERS))
    op.drop_table("login_failures", schema=schema(USERS))
    op.drop_table("sessions", schema=schema(USERS))
