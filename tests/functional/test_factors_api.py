"""The factor library API through the analysis function's real entry point (API Gateway HTTP API payload 2.0 events),
on a database filled by factor_update from the offline demo data."""

from __future__ import annotations

import json
import statistics
from datetime import date
from typing import Any
from urllib.parse import urlencode

import pytest
from labfolio_common.catalogue import load_catalogue

from tests.functional.test_http_handlers import http_event

pytestmark = pytest.mark.functional


@pytest.fixture
def library(factor_env: Any, database_url: str) -> str:
    """The factor library with the offline demo data loaded (factor_update's run, done once per session)."""
    return database_url


def get(path: str, context: Any, **query: str) -> tuple[int, Any]:
    from analysis.handler import lambda_handler

    event = http_event("GET", path)
    if query:
        event["rawQueryString"] = urlencode(query)
        event["queryStringParameters"] = dict(query)
    result = lambda_handler(event, context)
    return result["statusCode"], json.loads(result["body"])


def test_list_factors_gives_every_catalogue_factor_with_its_coverage(library: str, lambda_context: Any) -> None:
    status, body = get("/api/factors", lambda_context)
    assert status == 200
    assert [f["factor_id"] for f in body][:2] == ["SPY", "SP500"]  # catalogue order: Market first
    assert {f["factor_id"] for f in body} == {f.factor_id for f in load_catalogue()}
    mtum = next(f for f in body if f["factor_id"] == "MTUM")
    assert mtum["first_date"] == "2014-01-03"
    assert mtum["last_date"] == "2022-12-28"
    assert mtum["observations"] == 2263
    assert (mtum["factor_category"], mtum["entry"], mtum["data_source"], mtum["demo_data"]) == (
        "Style",
        "spread",
        "offline",
        True,
    )
    assert mtum["last_updated"].endswith(("Z", "+00:00"))
    spy = next(f for f in body if f["factor_id"] == "SPY")
    assert (spy["observations"], spy["first_date"], spy["last_updated"], spy["demo_data"]) == (0, None, None, False)


def test_factor_returns_in_a_window_are_numbers_computed_from_the_prices(library: str, lambda_context: Any) -> None:
    status, body = get("/api/factors/MTUM/returns", lambda_context, start="2022-12-20", end="2022-12-28")
    assert status == 200
    assert (body["factor_id"], body["start"], body["end"], body["demo_data"]) == (
        "MTUM",
        "2022-12-20",
        "2022-12-28",
        True,
    )
    days = [r["date"] for r in body["returns"]]
    assert days == ["2022-12-20", "2022-12-21", "2022-12-22", "2022-12-23", "2022-12-27", "2022-12-28"]
    # skfolio's MTUM closes: 145.443 on 2022-12-27, 143.73 on 2022-12-28
    assert body["returns"][-1]["return_value"] == pytest.approx(round(143.73 / 145.443 - 1, 6), abs=1e-12)
    assert all(isinstance(r["return_value"], float) for r in body["returns"])


def test_factor_returns_default_to_the_last_ten_years_of_its_data(library: str, lambda_context: Any) -> None:
    status, body = get("/api/factors/sp500/returns", lambda_context)
    assert status == 200
    assert (body["factor_id"], body["end"], body["start"]) == ("SP500", "2022-12-28", "2012-12-29")
    assert body["returns"][0]["date"] >= "2012-12-29"


def test_factor_returns_of_an_unknown_factor_are_404(library: str, lambda_context: Any) -> None:
    assert get("/api/factors/NOPE/returns", lambda_context) == (
        404,
        {"error": "not_found", "detail": "unknown factor 'NOPE'"},
    )
    # the unknown factor is reported before the bad query
    assert get("/api/factors/NOPE/returns", lambda_context, start="yesterday")[0] == 404


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"start": "2022-02-30"}, "query.start"),
        ({"end": "soon"}, "query.end"),
        ({"start": "2022-12-28", "end": "2022-01-01"}, "query.start"),
        ({"start": "2010-01-01", "end": "2022-12-28"}, "query.start"),
        ({"end": "0001-01-05"}, "query.end"),  # was a 500: ten years before it is not a date
        ({"start": "1899-12-31", "end": "1900-01-05"}, "query.start"),
        ({"end": "2200-01-01"}, "query.end"),
    ],
    ids=["bad-date", "not-a-date", "start-after-end", "more-than-ten-years", "year-1", "before-1900", "after-2199"],
)
def test_factor_returns_with_bad_dates_are_422(
    library: str, lambda_context: Any, query: dict[str, str], field: str
) -> None:
    status, body = get("/api/factors/MTUM/returns", lambda_context, **query)
    assert status == 422
    assert body["error"] == "validation_error"
    assert [problem["field"] for problem in body["detail"]] == [field]


def test_factor_with_no_returns_yet_has_an_empty_series(library: str, lambda_context: Any) -> None:
    status, body = get("/api/factors/SPY/returns", lambda_context)
    assert status == 200
    assert (body["returns"], body["demo_data"]) == ([], False)


def test_correlations_match_an_independent_computation(library: str, lambda_context: Any) -> None:
    # given the returns of three factors over 2022
    ids = ["SP500", "MTUM", "USMV"]
    series = {}
    for factor_id in ids:
        _, body = get(f"/api/factors/{factor_id}/returns", lambda_context, start="2022-01-01", end="2022-12-31")
        series[factor_id] = {r["date"]: r["return_value"] for r in body["returns"]}
    # when
    status, body = get("/api/factors/correlations", lambda_context, ids="sp500, MTUM,USMV", start="2022-01-01")
    # then
    assert status == 200, body
    common = sorted(set.intersection(*(set(s) for s in series.values())))
    assert (body["ids"], body["start"], body["end"], body["observations"]) == (ids, common[0], common[-1], len(common))
    assert body["demo_data"] is True
    for i, a in enumerate(ids):
        for j, b in enumerate(ids):
            expected = statistics.correlation([series[a][d] for d in common], [series[b][d] for d in common])
            assert body["matrix"][i][j] == pytest.approx(expected, abs=1e-12)


def test_correlations_default_to_the_last_two_years_of_common_data(library: str, lambda_context: Any) -> None:
    status, body = get("/api/factors/correlations", lambda_context, ids="QUAL,VLUE")
    assert status == 200
    assert body["end"] == "2022-12-28"
    assert date.fromisoformat(body["start"]) >= date(2020, 12, 28)
    assert body["observations"] > 450
    assert body["matrix"][0][0] == 1.0
    assert 0.5 < body["matrix"][0][1] < 1.0


@pytest.mark.parametrize(
    ("query", "status", "error"),
    [
        ({"ids": "MTUM"}, 422, "validation_error"),
        ({"ids": "MTUM,MTUM"}, 422, "validation_error"),
        ({"ids": "MTUM,NOPE"}, 404, "not_found"),
        ({"ids": "MTUM,SPY"}, 422, "validation_error"),  # SPY has no offline data
        ({"ids": "MTUM,QUAL", "start": "2022-12-28", "end": "2022-12-01"}, 422, "validation_error"),
        ({"ids": "MTUM,QUAL", "start": "2030-01-01", "end": "2030-02-01"}, 422, "validation_error"),
        ({}, 422, "validation_error"),
        ({"ids": "MTUM,QUAL", "end": "0005-01-05"}, 422, "validation_error"),  # was a 500 and a traceback
    ],
    ids=["one-id", "repeated", "unknown", "no-data", "start-after-end", "no-common-dates", "no-ids", "year-5"],
)
def test_correlation_errors(library: str, lambda_context: Any, query: dict[str, str], status: int, error: str) -> None:
    got_status, body = get("/api/factors/correlations", lambda_context, **query)
    assert (got_status, body["error"]) == (status, error), body
