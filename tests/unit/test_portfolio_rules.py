"""Pure rules of the portfolio pipeline: upload keys, ingestion verdicts, holdings valuation, list cursors."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
from analysis.domain.ingestion import is_older, judge, status_after_failure, status_while_processing, too_large
from hypothesis import given
from hypothesis import strategies as st
from labfolio_common.errors import ValidationFailedError
from labfolio_common.portfolio_csv import parse_portfolio_csv
from labfolio_common.uploads import new_upload_key, parse_upload_key, portfolio_prefix
from portfolios.domain.pages import Cursor, decode_cursor, encode_cursor
from portfolios.domain.valuation import Position, value_holdings

pytestmark = pytest.mark.unit

USER, PORTFOLIO = uuid.uuid4(), uuid.uuid4()


# ----------------------------------------------------------------------------------------------- keys


def test_upload_key_round_trips() -> None:
    key = new_upload_key(USER, PORTFOLIO)
    assert str(key).startswith(portfolio_prefix(USER, PORTFOLIO)) and str(key).endswith(".csv")
    assert parse_upload_key(str(key)) == key


@pytest.mark.parametrize(
    "key",
    [
        "uploads/{u}/{p}/x.csv",
        "uploads/{u}/{p}/{x}.CSV",
        "uploads/{u}/{p}/{x}.csv/extra",
        "uploads/{u}/../{p}/{x}.csv",
        "uploads/{U}/{p}/{x}.csv",  # upper-case: not how the API writes keys
        "other/{u}/{p}/{x}.csv",
        "uploads/{u}/{x}.csv",
    ],
)
def test_only_exact_upload_keys_name_an_owner(key: str) -> None:
    text = key.format(u=USER, U=str(USER).upper(), p=PORTFOLIO, x=uuid.uuid4())
    assert parse_upload_key(text) is None


@given(st.text(max_size=200))
def test_any_text_is_a_key_or_none(text: str) -> None:
    parsed = parse_upload_key(text)
    assert parsed is None or str(parsed) == text


# ----------------------------------------------------------------------------------------------- ingestion


def test_unpriced_tickers_are_warnings_when_others_are_priced() -> None:
    parsed = parse_portfolio_csv(b"ticker,quantity\nAAPL,1\nZZZZ,2\n")
    verdict = judge(parsed, frozenset({"AAPL"}), {"ZZZZ": "not in the offline demo data"})
    assert verdict.valid and [h["ticker"] for h in verdict.holdings] == ["AAPL", "ZZZZ"]
    assert verdict.warnings == [
        {"row": 3, "column": "ticker", "message": "ZZZZ: no price data (not in the offline demo data)"}
    ]


def test_no_priced_ticker_is_an_error_per_row_and_one_for_the_file() -> None:
    parsed = parse_portfolio_csv(b"ticker,weight\nZZZZ,50%\nYYYY,50%\n")
    verdict = judge(parsed, frozenset(), {})
    assert not verdict.valid and verdict.holdings == []
    assert [(p["row"], p["column"]) for p in verdict.errors] == [(2, "ticker"), (3, "ticker"), (None, "ticker")]


def test_merged_duplicates_keep_their_warning() -> None:
    parsed = parse_portfolio_csv(b"ticker,quantity\nAAPL,1\naapl,2\n")
    verdict = judge(parsed, frozenset({"AAPL"}), {})
    assert verdict.holdings == [{"ticker": "AAPL", "position": 0, "quantity": 3.0, "weight": None, "price": None}]
    assert "added up" in verdict.warnings[0]["message"]


def test_size_cap() -> None:
    assert too_large(1_000_000) is None
    assert too_large(1_000_001) == [
        {"row": None, "column": "*", "message": "the file is 1,000,001 bytes; the limit is 1,000,000"}
    ]


@pytest.mark.parametrize(
    ("current", "during", "holdings", "after_failure"),
    [
        ("awaiting_upload", "processing", 0, "failed"),
        ("failed", "processing", 0, "failed"),
        ("ready", None, 3, "ready"),
    ],
)
def test_status_moves(current: str, during: str | None, holdings: int, after_failure: str) -> None:
    assert status_while_processing(current) == during
    assert status_after_failure(holdings) == after_failure


def test_an_older_file_is_one_that_reached_s3_first() -> None:
    earlier, later = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    assert is_older(earlier, later) and not is_older(later, earlier)
    assert not is_older(None, later) and not is_older(earlier, None)


# ----------------------------------------------------------------------------------------------- valuation


def test_quantities_are_valued_by_market_value_over_gross_exposure() -> None:
    day = date(2022, 12, 28)
    valued = value_holdings(
        [Position("A", 10, None, None), Position("B", -5, None, None), Position("C", 3, None, 7.0)],
        {"A": (day, 100.0), "B": (day, 40.0)},
    )
    # market values 1000, -200 and 21 (the file's price, no date): gross 1221
    assert [(v.market_value, v.price_date) for v in valued] == [(1000.0, day), (-200.0, day), (21.0, None)]
    assert [v.weight for v in valued] == pytest.approx([1000 / 1221, -200 / 1221, 21 / 1221])
    assert sum(abs(v.weight or 0) for v in valued) == pytest.approx(1.0)


def test_a_holding_without_any_price_has_no_value_or_weight() -> None:
    [valued] = value_holdings([Position("Z", 1, None, None)], {})
    assert (valued.last_price, valued.market_value, valued.weight) == (None, None, None)


def test_weights_are_shown_as_given() -> None:
    valued = value_holdings([Position("A", None, 0.6, None), Position("B", None, -0.4, None)], {})
    assert [(v.quantity, v.market_value, v.weight) for v in valued] == [(None, None, 0.6), (None, None, -0.4)]


# ----------------------------------------------------------------------------------------------- cursors


def test_cursor_round_trips() -> None:
    cursor = Cursor(datetime(2026, 11, 25, 12, 0, 1, 123456, tzinfo=UTC), uuid.uuid4())
    assert decode_cursor(encode_cursor(cursor)) == cursor


@given(st.text(max_size=100))
def test_any_other_text_is_a_422_naming_the_cursor(text: str) -> None:
    try:
        decode_cursor(text)
    except ValidationFailedError as exc:
        assert exc.detail[0]["field"] == "query.cursor"
