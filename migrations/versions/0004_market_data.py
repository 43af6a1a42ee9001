"""Market data: how each factor enters the model and where its returns came from; the price cache of held tickers.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25

- factor.factors gains `entry` (raw | spread: the catalogue's default way into the model) and `data_source` (the
  market-data provider that last wrote its returns: `offline` is demo data, `yfinance` real; NULL = no data yet).
- factor.price_tickers: every ticker whose prices factor_update keeps fresh (registered when a portfolio first needs
  it), with the provider, when it was last refreshed and its last failure.
- factor.prices: daily dividend-adjusted close per ticker, full float precision (DOUBLE PRECISION / REAL), upserted
  on (ticker, date) like the factor returns.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.helpers import now_default, ref, schema

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FACTOR = "factor"


def upgrade() -> None:
    op.add_column(
        "factors", sa.Column("entry", sa.String(10), server_default="raw", nullable=False), schema=schema(FACTOR)
    )
    op.add_column("factors", sa.Column("data_source", sa.String(20), nullable=True), schema=schema(FACTOR))
    op.create_table(
        "price_tickers",
        sa.Column("ticker", sa.String(50), nullable=False),
        sa.Column("data_source", sa.String(20), nullable=True),
        sa.Column("added_at", sa.DateTime(), server_default=now_default(), nullable=False),
        sa.Column("last_updated", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("ticker", name="price_tickers_pkey"),
        schema=schema(FACTOR),
    )
    op.create_table(
        "prices",
        sa.Column("ticker", sa.String(50), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("adj_close", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("ticker", "date", name="prices_pkey"),
        sa.ForeignKeyConstraint(
            ["ticker"], [ref(FACTOR, "price_tickers", "ticker")], name="prices_ticker_fkey", ondelete="CASCADE"
        ),
        sa.CheckConstraint("adj_close > 0", name=op.f("prices_adj_close_check")),
        schema=schema(FACTOR),
    )


def downgrade() -> None:
    op.drop_table("prices", schema=schema(FACTOR))
    op.drop_table("price_tickers", schema=schema(FACTOR))
    # Plain ALTER TABLE .. DROP COLUMN (SQLite >= 3.35): a batch rebuild of factors would cascade to its returns.
    op.drop_column("factors", "data_source", schema=schema(FACTOR))
    op.drop_column("factors", "entry", schema=schema(FACTOR))
