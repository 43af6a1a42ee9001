"""The factor catalogue: the shipped file, and every rule the loader enforces (rows: header = 1, first factor = 2)."""

from __future__ import annotations

import csv
import dataclasses
import io
from importlib import resources

import pytest
from labfolio_common.catalogue import (
    CATEGORIES,
    COLUMNS,
    MARKET_FACTOR_IDS,
    CatalogueFactor,
    by_id,
    load_catalogue,
)
from labfolio_common.errors import ValidationFailedError

pytestmark = pytest.mark.unit

HEADER = ",".join(COLUMNS)
GOOD_ROW = "SPY,SPDR S&P 500 ETF Trust,The US market.,Market,raw"

REQUIRED: dict[str, tuple[str, str]] = {
    **dict.fromkeys(["SPY", "SP500"], ("Market", "raw")),
    **dict.fromkeys(["MTUM", "QUAL", "SIZE", "USMV", "VLUE"], ("Style", "spread")),
    **dict.fromkeys(
        ["XLB", "XLC", "XLE", "XLF", "XLI", "XLK", "XLP", "XLRE", "XLU", "XLV", "XLY"], ("Sector", "spread")
    ),
    **dict.fromkeys(["EFA", "EEM", "EWJ", "EWU", "EWG", "EWC", "EWZ", "FXI", "INDA"], ("Country", "spread")),
    **dict.fromkeys(["TLT", "IEF", "SHY", "HYG", "LQD"], ("Rates/Credit", "raw")),
}


def packaged_text() -> str:
    return resources.files("labfolio_common.catalogue").joinpath("factors.csv").read_text(encoding="utf-8")


def problems_of(text: str) -> list[dict[str, object]]:
    with pytest.raises(ValidationFailedError) as caught:
        load_catalogue(text)
    detail = caught.value.detail
    assert isinstance(detail, list)
    return detail


def where(problems: list[dict[str, object]]) -> list[tuple[object, object]]:
    return [(p["row"], p["field"]) for p in problems]


# --- the shipped catalogue ---------------------------------------------------------------------------------------


def test_catalogue_shipped_file_loads() -> None:
    factors = load_catalogue()

    assert len(factors) >= len(REQUIRED)
    assert all(isinstance(f, CatalogueFactor) for f in factors)


@pytest.mark.parametrize(("factor_id", "expected"), sorted(REQUIRED.items()))
def test_catalogue_has_required_ticker_with_category_and_entry(factor_id: str, expected: tuple[str, str]) -> None:
    factor = by_id()[factor_id]

    assert (factor.factor_category, factor.entry) == expected


def test_catalogue_has_all_eleven_spdr_sectors() -> None:
    sectors = {f.factor_id for f in load_catalogue() if f.factor_category == "Sector"}

    assert sectors == {"XLB", "XLC", "XLE", "XLF", "XLI", "XLK", "XLP", "XLRE", "XLU", "XLV", "XLY"}


def test_catalogue_sp500_is_labelled_demo_data() -> None:
    sp500 = by_id()["SP500"]

    assert "DEMO DATA" in sp500.factor_name
    assert "DEMO DATA" in sp500.factor_description
    assert "without dividends" in sp500.factor_description
    assert "offline" in sp500.factor_description


def test_catalogue_market_factor_ids_match_market_rows() -> None:
    markets = {f.factor_id for f in load_catalogue() if f.factor_category == "Market"}

    assert markets == MARKET_FACTOR_IDS


def test_catalogue_entries_follow_category_defaults() -> None:
    for factor in load_catalogue():
        expected = "raw" if factor.factor_category in ("Market", "Rates/Credit") else "spread"
        assert factor.entry == expected, factor.factor_id


def test_catalogue_every_category_is_used() -> None:
    assert {f.factor_category for f in load_catalogue()} == set(CATEGORIES)


def test_catalogue_descriptions_are_one_or_two_sentences() -> None:
    for factor in load_catalogue():
        sentences = [s for s in factor.factor_description.split(". ") if s]
        assert 1 <= len(sentences) <= 2, factor.factor_id
        assert factor.factor_description.endswith("."), factor.factor_id


def test_catalogue_packaged_file_is_clean_csv() -> None:
    text = packaged_text()
    records = list(csv.reader(io.StringIO(text, newline=""), strict=True))

    assert text.endswith("\n") and not text.endswith("\n\n")
    assert "\r" not in text and not text.startswith("\ufeff")
    assert records[0] == list(COLUMNS)
    assert all(len(r) == len(COLUMNS) for r in records)
    assert all(v == v.strip() and "  " not in v for r in records for v in r)
    assert all(line == line.rstrip() for line in text.splitlines())


def test_catalogue_factor_is_frozen() -> None:
    factor = by_id()["SPY"]

    with pytest.raises(dataclasses.FrozenInstanceError):
        factor.factor_id = "QQQ"  # type: ignore[misc]


def test_by_id_keys_given_factors() -> None:
    factors = load_catalogue(f"{HEADER}\n{GOOD_ROW}\n")

    assert list(by_id(factors)) == ["SPY"]


# --- validation: each rule names its row and field ---------------------------------------------------------------


def test_load_catalogue_accepts_minimal_text() -> None:
    factors = load_catalogue(f"{HEADER}\n{GOOD_ROW}\n")

    assert factors == [CatalogueFactor("SPY", "SPDR S&P 500 ETF Trust", "The US market.", "Market", "raw")]


def test_load_catalogue_accepts_quoted_fields_and_bom() -> None:
    text = f'\ufeff{HEADER}\r\nXLK,"Tech, ""SPDR""","Line one,\nline two.",Sector,spread\r\n'

    [factor] = load_catalogue(text)

    assert factor.factor_name == 'Tech, "SPDR"'
    assert factor.factor_description == "Line one,\nline two."


def test_load_catalogue_reports_missing_header_column() -> None:
    text = "factor_id,factor_name,factor_description,factor_category\nSPY,S,D,Market\n"

    assert where(problems_of(text)) == [(1, "entry")]


def test_load_catalogue_reports_extra_header_column() -> None:
    text = f"{HEADER},weight\n{GOOD_ROW},1\n"

    assert where(problems_of(text)) == [(1, "weight")]


def test_load_catalogue_reports_duplicate_header_column() -> None:
    text = f"{HEADER},entry\n{GOOD_ROW},raw\n"

    assert where(problems_of(text)) == [(1, "entry")]


def test_load_catalogue_reports_empty_file() -> None:
    assert where(problems_of("")) == [(1, "*")]


@pytest.mark.parametrize(
    ("row", "field"),
    [
        (",Name,Desc,Market,raw", "factor_id"),
        ("SPY,,Desc,Market,raw", "factor_name"),
        ("SPY,   ,Desc,Market,raw", "factor_name"),
        ("SPY,Name,,Market,raw", "factor_description"),
    ],
)
def test_load_catalogue_reports_empty_value(row: str, field: str) -> None:
    [problem] = problems_of(f"{HEADER}\n{row}\n")

    assert (problem["row"], problem["field"]) == (2, field)
    assert "empty" in str(problem["message"])


@pytest.mark.parametrize("bad_id", ["spy", "SP Y", "SPY!", "Á", "A" * 51])
def test_load_catalogue_reports_bad_factor_id(bad_id: str) -> None:
    [problem] = problems_of(f"{HEADER}\n{GOOD_ROW}\n{bad_id},Name,Desc,Style,spread\n")

    assert (problem["row"], problem["field"]) == (3, "factor_id")


@pytest.mark.parametrize("good_id", ["^GSPC", "BRK.B", "BF-B", "A" * 50])
def test_load_catalogue_accepts_id_characters(good_id: str) -> None:
    [factor] = load_catalogue(f"{HEADER}\n{good_id},Name,Desc,Style,spread\n")

    assert factor.factor_id == good_id


def test_load_catalogue_reports_name_too_long() -> None:
    [problem] = problems_of(f"{HEADER}\nSPY,{'n' * 256},Desc,Market,raw\n")

    assert (problem["row"], problem["field"]) == (2, "factor_name")
    assert "256" in str(problem["message"])


def test_load_catalogue_accepts_name_of_255() -> None:
    [factor] = load_catalogue(f"{HEADER}\nSPY,{'n' * 255},Desc,Market,raw\n")

    assert len(factor.factor_name) == 255


@pytest.mark.parametrize("category", ["Bonds", "market", "Rates", ""])
def test_load_catalogue_reports_unknown_category(category: str) -> None:
    [problem] = problems_of(f"{HEADER}\nSPY,Name,Desc,{category},raw\n")

    assert (problem["row"], problem["field"]) == (2, "factor_category")


@pytest.mark.parametrize("entry", ["Raw", "long", "spreads"])
def test_load_catalogue_reports_unknown_entry(entry: str) -> None:
    [problem] = problems_of(f"{HEADER}\nMTUM,Name,Desc,Style,{entry}\n")

    assert (problem["row"], problem["field"]) == (2, "entry")


def test_load_catalogue_reports_market_factor_as_spread() -> None:
    [problem] = problems_of(f"{HEADER}\nSPY,Name,Desc,Market,spread\n")

    assert (problem["row"], problem["field"]) == (2, "entry")


def test_load_catalogue_reports_duplicate_factor_id_with_first_row() -> None:
    [problem] = problems_of(f"{HEADER}\n{GOOD_ROW}\nQUAL,Q,D,Style,spread\n{GOOD_ROW}\n")

    assert (problem["row"], problem["field"]) == (4, "factor_id")
    assert "row 2" in str(problem["message"])


def test_load_catalogue_reports_surrounding_whitespace() -> None:
    [problem] = problems_of(f"{HEADER}\nSPY,Name ,Desc,Market,raw\n")

    assert (problem["row"], problem["field"]) == (2, "factor_name")
    assert "whitespace" in str(problem["message"])


def test_load_catalogue_reports_wrong_value_count() -> None:
    problems = problems_of(f"{HEADER}\nSPY,Name,Desc,Market,raw,extra\nQUAL,Name,Desc,Style\n")

    assert where(problems) == [(2, "*"), (3, "*"), (3, "entry")]


def test_load_catalogue_reports_blank_row() -> None:
    assert where(problems_of(f"{HEADER}\n{GOOD_ROW}\n\nQUAL,Q,D,Style,spread\n")) == [(3, "*")]


def test_load_catalogue_reports_malformed_quoting() -> None:
    [problem] = problems_of(f'{HEADER}\n{GOOD_ROW}\nQUAL,"Q"x,D,Style,spread\n')

    assert (problem["row"], problem["field"]) == (3, "*")
    assert "CSV" in str(problem["message"])


def test_load_catalogue_reports_all_problems_together() -> None:
    text = (
        "factor_id,factor_name,factor_description,factor_category,bogus\n"  # row 1: entry missing, bogus extra
        f"spy,{'n' * 300},Desc,Market,x\n"  # row 2: bad id, long name
        "QUAL,,Desc,Styles,x\n"  # row 3: empty name, unknown category
        "QUAL,Quality,Desc,Style,x\n"  # row 4: duplicate id
    )

    problems = problems_of(text)

    assert where(problems) == [
        (1, "bogus"),
        (1, "entry"),
        (2, "factor_id"),
        (2, "factor_name"),
        (3, "factor_name"),
        (3, "factor_category"),
        (4, "factor_id"),
    ]
    assert all(set(p) == {"row", "field", "message"} and p["message"] for p in problems)


def test_load_catalogue_error_is_a_422() -> None:
    with pytest.raises(ValidationFailedError) as caught:
        load_catalogue("")

    assert caught.value.status_code == 422
    assert caught.value.code == "validation_error"
