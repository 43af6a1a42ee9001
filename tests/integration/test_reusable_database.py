"""The suite's reusable PostgreSQL database (tests/fixtures/db.py: ReusableDatabase) gives every test the state it
promises: the user tables empty, and the kept market data exactly as loaded, whatever the previous test wrote."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text

from tests.fixtures.db import ReusableDatabase, unpooled_engine

pytestmark = pytest.mark.integration

KEPT = ("factor.factors", "factor.returns", "factor.price_tickers", "factor.prices")
FINGERPRINT = "SELECT count(*), coalesce(sum(hashtext(t::text)::bigint), 0) FROM {} AS t"


@pytest.fixture
def market(
    postgres_admin_engine: Engine, postgres_server_url: str, _market_postgres_template: str
) -> Iterator[tuple[ReusableDatabase, Engine]]:
    reusable = ReusableDatabase(postgres_admin_engine, postgres_server_url, _market_postgres_template, keep="factor")
    engine = unpooled_engine(reusable.url)
    yield reusable, engine
    engine.dispose()
    reusable.close()


def _state(engine: Engine) -> dict[str, Any]:
    with engine.connect() as connection:
        state = {name: tuple(connection.execute(text(FINGERPRINT.format(name))).one()) for name in KEPT}
        state["accounts"] = connection.execute(text("SELECT count(*) FROM user_management.accounts")).scalar()
    return state


def _write(engine: Engine, *statements: str) -> None:
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))


def _written(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return {name for name in KEPT if connection.execute(text(f"SELECT is_called FROM {_sequence(name)}")).scalar()}


def _sequence(table: str) -> str:
    return f"{ReusableDatabase.PRISTINE}.{table.split('.')[1]}_writes"


ACCOUNT = (
    "INSERT INTO user_management.accounts (user_id, username, password_hash) VALUES (gen_random_uuid(), 'someone', 'x')"
)


def test_the_kept_tables_come_back_as_loaded_after_any_write(market: tuple[ReusableDatabase, Engine]) -> None:
    reusable, engine = market
    reusable.checkout()
    loaded = _state(engine)
    assert all(loaded[name][0] > 0 for name in KEPT) and loaded["accounts"] == 0
    _write(
        engine,
        ACCOUNT,
        "UPDATE factor.prices SET adj_close = adj_close * 2 WHERE ticker = (SELECT min(ticker) FROM factor.prices)",
        "DELETE FROM factor.returns WHERE date = (SELECT max(date) FROM factor.returns)",
    )
    assert _written(engine) == {"factor.prices", "factor.returns"}
    assert _state(engine) != loaded
    reusable.checkout()
    assert _state(engine) == loaded and not _written(engine)

    _write(engine, "TRUNCATE factor.factors CASCADE")  # empties the returns that reference them too
    reusable.checkout()
    assert _state(engine) == loaded and not _written(engine)


def test_a_write_that_changes_no_row_restores_nothing(market: tuple[ReusableDatabase, Engine]) -> None:
    """The analyses register their tickers with INSERT ... ON CONFLICT DO NOTHING: no row changes, no restore."""
    reusable, engine = market
    reusable.checkout()
    _write(
        engine,
        "INSERT INTO factor.price_tickers SELECT * FROM factor.price_tickers ON CONFLICT DO NOTHING",
        "UPDATE factor.prices SET adj_close = 1 WHERE false",
    )
    assert not _written(engine)
    _write(engine, "INSERT INTO factor.price_tickers (ticker) VALUES ('ZZZZ')")
    assert _written(engine) == {"factor.price_tickers"}
