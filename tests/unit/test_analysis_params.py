"""The analysis parameters and the rules checked before an analysis is queued (analysis.domain.params), the job
message (analysis.domain.jobs) and the page cursor: pure, stdlib only."""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta

import pytest
from analysis.domain.errors import AnalysisInputError
from analysis.domain.jobs import is_job, job_body, parse_job
from analysis.domain.pages import Cursor, decode_cursor, encode_cursor
from analysis.domain.params import (
    LOAD_MARGIN,
    AnalysisParams,
    FactorInfo,
    check_window,
    load_range,
    make_params,
    window_of,
)
from labfolio_common.errors import ValidationFailedError

pytestmark = pytest.mark.unit

CATALOGUE = {
    "SPY": FactorInfo("SPY", "Market", "raw"),
    "SP500": FactorInfo("SP500", "Market", "raw"),
    **{f: FactorInfo(f, "Style", "spread") for f in ("MTUM", "QUAL", "SIZE", "USMV", "VLUE")},
    "XLK": FactorInfo("XLK", "Sector", "spread"),
    "TLT": FactorInfo("TLT", "Rates/Credit", "raw"),
}


def business_days(start: date, count: int) -> list[date]:
    days, day = [], start
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def test_the_default_is_the_market_factor_and_the_five_styles_as_spreads() -> None:
    params = make_params(None, CATALOGUE, "SP500")
    assert params.factor_ids == ("SP500", "MTUM", "QUAL", "SIZE", "USMV", "VLUE")
    assert params.market_factor == "SP500"
    assert params.modes() == {"SP500": "market", **dict.fromkeys(["MTUM", "QUAL", "SIZE", "USMV", "VLUE"], "spread")}
    assert (params.start, params.end, params.hac_lags, params.risk_free_rate) == (None, None, None, 0.0)


def test_chosen_factors_are_upper_cased_and_the_first_market_factor_leads() -> None:
    params = make_params([" xlk", "spy", "tlt"], CATALOGUE, "SP500")
    assert params.factor_ids == ("XLK", "SPY", "TLT")
    assert params.market_factor == "SPY"
    assert params.modes() == {"XLK": "spread", "SPY": "market", "TLT": "raw"}  # TLT enters raw (the catalogue)
    assert params.read_factors == ["XLK", "SPY", "TLT"]


def test_without_a_chosen_market_factor_spreads_use_the_default_one_which_is_read_too() -> None:
    params = make_params(["MTUM"], CATALOGUE, "SP500")
    assert (params.market_factor, params.modes(), params.read_factors) == (
        "SP500",
        {"MTUM": "spread"},
        ["MTUM", "SP500"],
    )
    assert make_params(["MTUM"], CATALOGUE, "SP500", factor_mode="raw").modes() == {"MTUM": "raw"}


@pytest.mark.parametrize(
    ("requested", "message"),
    [
        (["NOPE"], "unknown factor(s): NOPE"),
        (["MTUM", "mtum"], "factor(s) chosen more than once: MTUM"),
        ([], "choose at least one factor"),
        (list(CATALOGUE) * 2, "factor(s) chosen more than once"),
    ],
)
def test_bad_factor_choices_name_the_field(requested: list[str], message: str) -> None:
    with pytest.raises(AnalysisInputError) as caught:
        make_params(requested, CATALOGUE, "SP500")
    assert caught.value.field == "factor_ids" and message in caught.value.message


def test_more_than_fifteen_factors_are_refused() -> None:
    many = {f"F{i}": FactorInfo(f"F{i}", "Sector", "spread") for i in range(16)}
    with pytest.raises(AnalysisInputError, match="16 factors chosen; at most 15"):
        make_params(list(many), many, "F0")


def test_without_any_market_data_the_default_is_refused_plainly() -> None:
    with pytest.raises(AnalysisInputError, match="no market factor has returns yet"):
        make_params(None, CATALOGUE, None)


def test_a_window_that_ends_before_it_starts_is_refused_first() -> None:
    with pytest.raises(AnalysisInputError) as caught:
        make_params(None, CATALOGUE, None, start=date(2022, 2, 1), end=date(2022, 1, 1))
    assert caught.value.field == "start"


def test_the_default_window_is_the_last_two_years_of_common_dates() -> None:
    common = business_days(date(2019, 1, 1), 1000)
    window = window_of(common, None, None)
    assert window is not None
    assert window.last == common[-1]
    assert window.first > common[-1].replace(year=common[-1].year - 2)
    assert window.observations == sum(d > common[-1].replace(year=common[-1].year - 2) for d in common)


def test_a_given_window_counts_the_common_dates_inside_it() -> None:
    common = business_days(date(2022, 1, 3), 100)
    window = window_of(common, date(2022, 2, 1), date(2022, 3, 31))
    assert window is not None
    assert (window.first, window.last) == (date(2022, 2, 1), date(2022, 3, 31))
    assert window.observations == len([d for d in common if date(2022, 2, 1) <= d <= date(2022, 3, 31)])


def test_too_few_common_dates_for_the_factors_is_said_with_the_numbers() -> None:
    params = make_params(None, CATALOGUE, "SP500", start=date(2022, 1, 3))
    with pytest.raises(AnalysisInputError) as caught:
        check_window(params, business_days(date(2022, 1, 3), 59))
    assert caught.value.field == "start"
    assert "has only 59 days with returns for every factor" in caught.value.message
    assert "6 factor(s) needs at least 60" in caught.value.message
    assert check_window(params, business_days(date(2022, 1, 3), 60)).observations == 60


def test_no_common_date_at_all_names_the_factors() -> None:
    params = make_params(["XLK"], CATALOGUE, "SP500")
    with pytest.raises(AnalysisInputError, match=r"no date on which every chosen factor \(XLK, SP500\) has a return"):
        check_window(params, [])


def test_hac_lags_must_leave_degrees_of_freedom() -> None:
    params = make_params(["MTUM"], CATALOGUE, "SP500", start=date(2022, 1, 3), hac_lags=58)
    with pytest.raises(AnalysisInputError, match="hac_lags must be between 0 and 57"):
        check_window(params, business_days(date(2022, 1, 3), 60))


def test_the_worker_reads_the_window_and_a_margin_before_it() -> None:
    default = make_params(None, CATALOGUE, "SP500")
    assert load_range(default, date(2022, 12, 28)) == (date(2020, 12, 28) - LOAD_MARGIN, date(2022, 12, 28))
    given = make_params(None, CATALOGUE, "SP500", start=date(2021, 3, 1), end=date(2021, 9, 30))
    assert load_range(given, date(2022, 12, 28)) == (date(2021, 3, 1) - LOAD_MARGIN, date(2021, 9, 30))
    ends_early = make_params(None, CATALOGUE, "SP500", end=date(2021, 9, 30))
    assert load_range(ends_early, date(2022, 12, 28))[0] == date(2019, 9, 30) - LOAD_MARGIN


def test_params_survive_the_round_trip_through_json() -> None:
    params = make_params(
        ["SPY", "XLK"], CATALOGUE, "SP500", factor_mode="raw", start=date(2021, 1, 4), hac_lags=3, gross=5e5
    )
    stored = json.loads(json.dumps(params.to_json()))
    again = AnalysisParams.from_json(stored)
    assert again.to_json() == params.to_json()
    assert again.modes() == {"SPY": "market", "XLK": "raw"}


def test_job_messages_name_their_analysis_only() -> None:
    ident = uuid.uuid4()
    body = job_body(ident)
    assert json.loads(body) == {"type": "analysis.run", "analysis_id": str(ident)}
    assert (is_job(body), parse_job(body)) == (True, ident)
    bad = json.dumps({"type": "analysis.run", "analysis_id": "x"})
    assert (is_job(bad), parse_job(bad)) == (True, None)
    s3_event = json.dumps({"Records": [{"eventSource": "aws:s3"}]})
    assert (is_job(s3_event), parse_job(s3_event), is_job("not json")) == (False, None, False)


def test_cursors_round_trip_and_junk_is_422() -> None:
    from datetime import UTC, datetime

    cursor = Cursor(datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC), uuid.uuid4())
    assert decode_cursor(encode_cursor(cursor)) == cursor
    with pytest.raises(ValidationFailedError):
        decode_cursor("junk!")
