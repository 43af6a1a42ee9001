"""The account that brought each ticker into the price cache, so an account's new tickers per day can be capped.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08

- factor.price_tickers.added_by (nullable; no foreign key: the market data is shared, and the tag only counts an
  account's additions - account deletion clears it) and an index on (added_by, added_at).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.helpers import schema

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FACTOR = "factor"


def upgrade() -> None:
    op.add_column("price_tickers", sa.Column("added_by", sa.Uuid(), nullable=True), schema=schema(FACTOR))
    op.create_index("idx_price_tickers_added_by", "price_tickers", ["added_by", "added_at"], schema=schema(FACTOR))


def downgrade() -> None:
    op.drop_index("idx_price_tickers_added_by", "price_tickers", schema=schema(FACTOR))
    op.drop_column("price_tickers", "added_by", schema=schema(FACTOR))
