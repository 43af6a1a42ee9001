"""The portfolio CSV parser against a corpus of real-world good and bad files (tests/data/portfolios)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from labfolio_common.portfolio_csv import (
    MAX_BYTES,
    MAX_HOLDINGS,
    PortfolioCsvError,
    parse_number,
    parse_portfolio_csv,
    template_csv,
)

pytestmark = pytest.mark.unit

CORPUS = Path(__file__).resolve().parents[1] / "data" / "portfolios"


def parse(name: str):
    return parse_portfolio_csv((CORPUS / name).read_bytes())


def problems(name: str) -> list[dict]:
    with pytest.raises(PortfolioCsvError) as info:
        parse(name)
    return info.value.detail


def test_basic_file() -> None:
    parsed = parse("good/basic.csv")
    assert parsed.kind == "quantity"
    assert [(h.ticker, h.quantity) for h in parsed.holdings] == [("AAPL", 10.0), ("MSFT", 5.0)]
    assert parsed.warnings == []


def test_bom_semicolons_crlf_decimal_comma_spaces_and_lower_case() -> None:
    parsed = parse("good/bom_semicolon_crlf.csv")
    assert [(h.ticker, h.quantity) for h in parsed.holdings] == [("AAPL", 1234.5), ("MSFT", 10.0)]


def test_thousands_separators_shorts_and_exchange_suffixes() -> None:
    parsed = parse("good/thousands_short.csv")
    assert [(h.ticker, h.quantity) for h in parsed.holdings] == [("BRK-B", 1250.0), ("JPM", -300.5), ("7203.T", 100.0)]


def test_percent_weights_become_fractions_of_gross() -> None:
    parsed = parse("good/weights_percent.csv")
    assert parsed.kind == "weight"
    assert {h.ticker: h.weight for h in parsed.holdings} == pytest.approx({"AAPL": 0.4, "MSFT": 0.35, "JPM": -0.25})


def test_fraction_weights_with_currency_usd() -> None:
    parsed = parse("good/weights_fraction.csv")
    assert {h.ticker: h.weight for h in parsed.holdings} == pytest.approx({"AAPL": 0.5, "KO": 0.5})


def test_duplicates_are_merged_with_a_warning_and_prices_kept() -> None:
    parsed = parse("good/duplicates_price.csv")
    assert [(h.ticker, h.quantity, h.price, h.rows) for h in parsed.holdings] == [
        ("AAPL", 15.0, 189.5, (2, 3)),
        ("XOM", 20.0, None, (4,)),
    ]
    assert parsed.warnings == [{"row": 3, "column": "ticker", "message": "AAPL also on row 2: the rows were added up"}]


def test_tab_delimited() -> None:
    assert [h.ticker for h in parse("good/tabs.csv").holdings] == ["PG"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("bad/empty.csv", [(1, "*", "the file is empty")]),
        ("bad/header_only.csv", [(2, "*", "the file has a header but no holdings")]),
        ("bad/binary.csv", [(1, "*", "this is a binary file, not a CSV text file")]),
        ("bad/both_quantity_weight.csv", [(1, "weight", "give either quantity or weight, not both")]),
        ("bad/currency.csv", [(2, "currency", "'EUR': only USD holdings are supported for now")]),
        ("bad/extra_values.csv", [(2, "*", "3 values but the header has 2 columns")]),
        ("bad/unnamed_column.csv", [(3, "*", "a value under a column without a name in the header row")]),
    ],
)
def test_bad_file_says_what_and_where(name: str, expected: list[tuple[int, str, str]]) -> None:
    assert [(p["row"], p["column"], p["message"]) for p in problems(name)] == expected


def test_template_is_a_valid_portfolio_of_the_offline_universe() -> None:
    offline = {"AAPL", "AMD", "BAC", "BBY", "CVX", "GE", "HD", "JNJ", "JPM", "KO", "LLY", "MRK", "MSFT", "PEP", "PFE"}
    offline |= {"PG", "RRC", "UNH", "WMT", "XOM"}
    parsed = parse_portfolio_csv(template_csv())
    assert parsed.kind == "quantity" and parsed.warnings == []
    assert 10 <= len(parsed.holdings) <= 20
    assert {h.ticker for h in parsed.holdings} <= offline
    assert all(h.quantity and h.quantity > 0 for h in parsed.holdings)


def test_unknown_columns_are_named() -> None:
    found = problems("bad/unknown_columns.csv")
    assert {(p["row"], p["column"]) for p in found} == {(1, "name"), (1, "amount"), (1, "ticker"), (1, "quantity")}


def test_every_problem_of_a_file_is_reported_with_its_row_and_column() -> None:
    found = {(p["row"], p["column"]) for p in problems("bad/many_problems.csv")}
    assert found == {
        (2, "ticker"),  # =HYPERLINK(...): formula
        (3, "ticker"),  # @SUM: formula
        (4, "ticker"),  # +AAPL: formula
        (5, "ticker"),  # -MSFT: formula
        (6, "quantity"),  # abc
        (7, "quantity"),  # zero
        (8, "quantity"),  # inf
        (9, "quantity"),  # NaN
        (10, "ticker"),  # empty
        (11, "ticker"),  # not plausible
    }


def test_magnitudes_beyond_a_trillion_are_refused_with_row_and_column() -> None:
    """The red-team round: a quantity of 1e308 was accepted, and the analysis came back "ready" with every
    portfolio figure null. Quantities, weights and prices are bounded at 1e12 in size; the bound itself passes."""
    found = _problems(b"ticker,quantity,price\nAAPL,1e308,10\nMSFT,-1e13,10\nKO,1,1e300\nXOM,1e12,1e12\n")
    assert {(p["row"], p["column"]) for p in found} == {(2, "quantity"), (3, "quantity"), (4, "price")}
    assert all("too large: at most 1,000,000,000,000" in p["message"] for p in found)
    assert {(p["row"], p["column"]) for p in _problems(b"ticker,weight\nAAPL,1e13\nMSFT,1\n")} == {(2, "weight")}


def _problems(content: bytes) -> list[dict[str, Any]]:
    with pytest.raises(PortfolioCsvError) as caught:
        parse_portfolio_csv(content)
    return list(caught.value.detail)


def test_formula_cells_are_refused_as_formulas() -> None:
    messages = [p["message"] for p in problems("bad/many_problems.csv") if p["row"] in (2, 3, 4, 5)]
    assert all("formula" in m for m in messages)


def test_non_utf8_file_names_the_line() -> None:
    [problem] = problems("bad/latin1.csv")
    assert problem["row"] == 2 and "not UTF-8" in problem["message"]


def test_weights_that_do_not_sum_to_one_or_a_hundred() -> None:
    [problem] = problems("bad/weights_bad_sum.csv")
    assert problem["column"] == "weight" and "add up to 0.6" in problem["message"]


def test_unterminated_quote_is_a_malformed_csv() -> None:
    assert any(
        "malformed" in p["message"] or "plausible" in p["message"] for p in problems("bad/unterminated_quote.csv")
    )


def test_size_and_row_limits() -> None:
    with pytest.raises(PortfolioCsvError, match="limit"):
        parse_portfolio_csv(b"ticker,quantity\n" + b"A,1\n" * (MAX_BYTES // 4 + 1))
    rows = "".join(f"T{i},1\n" for i in range(MAX_HOLDINGS + 1))
    with pytest.raises(PortfolioCsvError) as info:
        parse_portfolio_csv(f"ticker,quantity\n{rows}".encode())
    assert "more than 5,000 holdings" in info.value.detail[0]["message"]


@pytest.mark.parametrize(
    ("text", "delimiter", "value"),
    [
        ("1,234", ",", 1234.0),
        ("1,234,567.5", ",", 1234567.5),
        ("12,5", ";", 12.5),
        (" -3 ", ",", -3.0),
        ("1 000", ",", 1000.0),
        ("1e3", ",", 1000.0),
    ],
)
def test_parse_number(text: str, delimiter: str, value: float) -> None:
    assert parse_number(text, delimiter) == value


@pytest.mark.parametrize("text", ["abc", "inf", "-Infinity", "nan", "1,2,3", "", "1e999"])
def test_parse_number_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_number(text)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_parse_or_fail_with_a_validation_error(data: bytes) -> None:
    try:
        parse_portfolio_csv(data)
    except PortfolioCsvError as exc:
        assert exc.detail and all({"row", "column", "message"} <= set(p) for p in exc.detail)


cells = st.text(alphabet=st.sampled_from(list("AaBz019.,;-+=@% \"\t'\n\r€")), max_size=12)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(cells, cells), max_size=20), st.sampled_from([",", ";", "\t"]))
def test_any_table_parses_or_fails_with_a_validation_error(rows: list[tuple[str, str]], delimiter: str) -> None:
    text = f"ticker{delimiter}quantity\n" + "\n".join(f"{a}{delimiter}{b}" for a, b in rows)
    try:
        parsed = parse_portfolio_csv(text.encode())
    except PortfolioCsvError as exc:
        assert all(isinstance(p["row"], int) and p["row"] >= 1 for p in exc.detail)
    else:
        assert all(h.quantity not in (None, 0) for h in parsed.holdings)
        assert all(not h.ticker.startswith(("=", "+", "-", "@")) for h in parsed.holdings)
