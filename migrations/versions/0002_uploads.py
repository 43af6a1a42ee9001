"""Uploads: one row per object that arrived in the uploads bucket; (bucket, key, etag) makes redeliveries no-ops.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.helpers import now_default, schema, uuid_default

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

USERS = "user_management"


def upgrade() -> None:
    op.create_table(
        "uploads",
        sa.Column("upload_id", sa.Uuid(), server_default=uuid_default(), nullable=False),
        sa.Column("bucket", sa.String(63), nullable=False),
        sa.Column("object_key", sa.String(1024), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("etag", sa.String(128), server_default="", nullable=False),
        sa.Column("event_time", sa.DateTime(), nullable=True),
        sa.Column("received_at", sa.DateTime(), server_default=now_default(), nullable=False),
        sa.Column("status", sa.String(32), server_default="received", nullable=False),
        sa.PrimaryKeyConstraint("upload_id", name="uploads_pkey"),
        sa.UniqueConstraint("bucket", "object_key", "etag", name="uploads_bucket_object_key_etag_key"),
        sa.CheckConstraint("size_bytes >= 0", name=op.f("uploads_size_bytes_check")),
        schema=schema(USERS),
    )


def downgrade() -> None:
    op.drop_table("uploads", schema=schema(USERS))
