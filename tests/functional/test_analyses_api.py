"""The analyses API through the analysis function's real entry point (API Gateway payload 2.0 events), on a factor
library filled by factor_update from the offline demo data, with portfolios uploaded as browsers upload them and the
worker fed what the template's queue (in moto) really received: S3 events and job messages."""

from __future__ import annotations

import csv
import gzip
import io
import json
import uuid
from datetime import date
from typing import Any

import pytest
from labfolio_common.db.engine import session_scope
from labfolio_common.db.models import Analysis, Price
from sqlalchemy import select, update

from local.aws_resources import LocalResources
from tests.fixtures.analyses import Account, drain, ready_portfolio
from tests.fixtures.pipeline import notifications

pytestmark = pytest.mark.functional

BOOK = b"ticker,quantity\nAAPL,120\nMSFT,60\nJPM,-80\nKO,150\nXOM,100\n"
STYLES = ["MTUM", "QUAL", "SIZE", "USMV", "VLUE"]


@pytest.fixture
def env(factor_env: LocalResources) -> LocalResources:
    return factor_env


@pytest.fixture
def alice(env: LocalResources, lambda_context: Any) -> Account:
    return Account(lambda_context, "alice")


@pytest.fixture
def bob(env: LocalResources, lambda_context: Any) -> Account:
    return Account(lambda_context, "bob")


@pytest.fixture
def book(alice: Account, env: LocalResources, lambda_context: Any) -> str:
    """Alice's portfolio, ingested, with its default analysis run."""
    portfolio_id = ready_portfolio(alice, env, lambda_context, BOOK)
    assert drain(env, lambda_context) == [{"batchItemFailures": []}]
    return portfolio_id


def analyses_of(account: Account, portfolio_id: str, **query: str) -> Any:
    answer = account("GET", f"/api/portfolios/{portfolio_id}/analyses", query=query or None)
    assert answer.status == 200, answer.body
    return answer.body


def stored_keys(env: LocalResources, prefix: str) -> list[str]:
    listed = env.s3.list_objects_v2(Bucket=env.bucket_names()[0], Prefix=prefix)
    return [o["Key"] for o in listed.get("Contents", [])]


# ----------------------------------------------------------------------------------------------- the default analysis


def test_an_ingested_upload_queues_the_default_analysis_which_the_worker_makes_ready(
    alice: Account, env: LocalResources, lambda_context: Any
) -> None:
    # given a portfolio whose file was just ingested
    portfolio_id = ready_portfolio(alice, env, lambda_context, BOOK)
    # then its default analysis is queued, with the default parameters
    (queued,) = analyses_of(alice, portfolio_id)["items"]
    assert (queued["status"], queued["trigger"], queued["error"], queued["finished_at"]) == (
        "queued",
        "upload",
        None,
        None,
    )
    portfolio = alice("GET", f"/api/portfolios/{portfolio_id}", function="portfolios").body
    assert portfolio["latest_analysis_id"] == queued["analysis_id"]
    params = queued["params"]
    assert params["factor_ids"] == ["SP500", *STYLES]  # the offline market factor, then the five styles
    assert (params["market_factor"], params["factor_mode"], params["start"], params["end"]) == (
        "SP500",
        "spread",
        None,
        None,
    )
    assert params["factor_modes"] == {"SP500": "market", **dict.fromkeys(STYLES, "spread")}
    # when the worker takes the job message from the queue
    assert drain(env, lambda_context) == [{"batchItemFailures": []}]
    # then it is ready, with the result the issue names
    found = alice("GET", f"/api/analyses/{queued['analysis_id']}")
    assert found.status == 200, found.body
    body = found.body
    assert (body["status"], body["error"]) == ("ready", None)
    assert body["created_at"] <= body["started_at"] <= body["finished_at"]
    result = body["result"]
    window = result["window"]
    assert (window["end"], window["as_of"], window["data_source"], window["demo_data"]) == (
        "2022-12-28",
        "2022-12-28",
        "offline",
        True,
    )
    assert window["start"] == "2020-12-29" and window["observations"] == 504  # the last 2 years of common data
    assert [f["factor_id"] for f in result["factors"]] == ["SP500", *STYLES]
    assert set(result["weights"]) == {"AAPL", "MSFT", "JPM", "KO", "XOM"}
    assert sum(abs(w) for w in result["weights"].values()) == pytest.approx(1.0)
    assert result["weights"]["JPM"] < 0
    assert set(result["portfolio"]["betas"]) == {"SP500", *STYLES}
    for section in ("holdings", "risk", "hedges", "attribution", "rolling_betas", "performance", "correlations"):
        assert result[section], section
    assert "NaN" not in json.dumps(result)


def test_the_prices_an_analysis_used_are_stored_with_it(
    book: str, alice: Account, env: LocalResources, database_url: str
) -> None:
    (analysis,) = analyses_of(alice, book)["items"]
    body = alice("GET", f"/api/analyses/{analysis['analysis_id']}").body
    inputs = body["inputs"]
    # the holdings as they were, and the shape of the stored prices (where they are stays inside)
    assert [h["ticker"] for h in inputs["holdings"]] == ["AAPL", "MSFT", "JPM", "KO", "XOM"]
    assert inputs["holdings"][2]["quantity"] == -80
    assert "key" not in inputs["prices"] and "bucket" not in inputs["prices"]
    assert inputs["prices"]["rows"] == 505  # the base day of the first return, then one per return
    assert (inputs["prices"]["first_date"], inputs["prices"]["last_date"]) == ("2020-12-28", "2022-12-28")
    # stored as a gzip CSV under analyses/{user}/{portfolio}/{analysis}/, outside uploads/
    key = f"analyses/{alice.user_id}/{book}/{analysis['analysis_id']}/prices.csv.gz"
    assert stored_keys(env, f"analyses/{alice.user_id}/") == [key]
    raw = env.s3.get_object(Bucket=env.bucket_names()[0], Key=key)["Body"].read()
    rows = list(csv.reader(io.StringIO(gzip.decompress(raw).decode())))
    assert rows[0] == ["date", *inputs["prices"]["tickers"]]
    assert len(rows) == 506
    # with the price cache's closes at full precision
    with session_scope(database_url) as db:
        close = db.scalar(select(Price.adj_close).where(Price.ticker == "AAPL", Price.date == date(2022, 12, 28)))
    aapl = rows[0].index("AAPL")
    assert float(rows[-1][aapl]) == close and rows[-1][0] == "2022-12-28"
    assert notifications(env)["Records"] == []  # writing there notified nothing


# ----------------------------------------------------------------------------------------------- re-runs


def test_a_rerun_with_other_factors_goes_through_the_queue(
    book: str, alice: Account, env: LocalResources, lambda_context: Any
) -> None:
    # when Alice asks for another analysis (other factors, raw mode, a window of her own)
    asked = {"factor_ids": ["sp500", " mtum "], "factor_mode": "raw", "start": "2021-01-04", "end": "2022-06-30"}
    answer = alice("POST", f"/api/portfolios/{book}/analyses", asked)
    # then it is queued (202), and its job message is on the queue
    assert answer.status == 202, answer.body
    assert answer.body == {"analysis_id": answer.body["analysis_id"], "portfolio_id": book, "status": "queued"}
    assert answer.headers["location"] == f"/api/analyses/{answer.body['analysis_id']}"
    batch = notifications(env)
    assert [json.loads(r["body"]) for r in batch["Records"]] == [
        {"type": "analysis.run", "analysis_id": answer.body["analysis_id"]}
    ]
    # and once the worker ran it, it is ready with those factors and that window
    from tests.fixtures.analyses import worker

    assert worker(batch, lambda_context) == {"batchItemFailures": []}
    result = alice("GET", f"/api/analyses/{answer.body['analysis_id']}").body["result"]
    assert [(f["factor_id"], f["mode"]) for f in result["factors"]] == [("SP500", "market"), ("MTUM", "raw")]
    assert result["window"]["start"] >= "2021-01-04" and result["window"]["end"] <= "2022-06-30"
    assert result["window"]["end"] == "2022-06-30"


def test_an_empty_body_asks_for_the_default_analysis(book: str, alice: Account) -> None:
    answer = alice("POST", f"/api/portfolios/{book}/analyses")
    assert answer.status == 202, answer.body
    newest = analyses_of(alice, book)["items"][0]
    assert (newest["analysis_id"], newest["trigger"], newest["status"]) == (
        answer.body["analysis_id"],
        "request",
        "queued",
    )
    assert newest["params"]["factor_ids"] == ["SP500", *STYLES]


# ----------------------------------------------------------------------------------------------- bad input


def _many_factors() -> list[str]:
    from labfolio_common.catalogue import load_catalogue

    return [f.factor_id for f in load_catalogue()][:16]


BAD = [
    ({"factor_ids": ["NOPE", "MTUM"]}, "body.factor_ids", "unknown factor(s): NOPE"),
    ({"factor_ids": ["MTUM", "mtum"]}, "body.factor_ids", "factor(s) chosen more than once: MTUM"),
    ({"factor_ids": _many_factors()}, "body.factor_ids", "16 factors chosen; at most 15 are allowed"),
    ({"factor_ids": []}, "body.factor_ids", "choose at least one factor"),
    ({"start": "2022-11-01"}, "body.start", "needs at least 60"),
    ({"start": "2022-06-01", "end": "2022-01-01"}, "body.start", "starts (2022-06-01) after it ends (2022-01-01)"),
    ({"factor_ids": ["SP500", "XLK"]}, "body.factor_ids", "no date on which every chosen factor (SP500, XLK)"),
    ({"end": "1985-01-01"}, "body.start", "no date up to 1985-01-01"),
    ({"start": "2022-01-03", "end": "2022-04-29", "hac_lags": 200}, "body.hac_lags", "hac_lags must be between 0 and"),
    ({"factor_mode": "both"}, "body.factor_mode", "Input should be 'spread' or 'raw'"),
    ({"factors": ["MTUM"]}, "body.factors", "Extra inputs are not permitted"),
    ({"start": "last year"}, "body.start", "Input should be a valid date"),
    ({"risk_free_rate": 5}, "body.risk_free_rate", "less than or equal to 1"),
    # the red-team round's dates: 0001-01-01 was queued, then overflowed in the worker and was retried as transient
    ({"start": "0001-01-01"}, "body.start", "greater than or equal to 1900-01-01"),
    ({"end": "9999-12-31"}, "body.end", "less than or equal to 2199-12-31"),
]


@pytest.mark.parametrize(("body", "field", "message"), BAD, ids=[b[2][:40] for b in BAD])
def test_bad_parameters_are_422_said_plainly(
    book: str, alice: Account, env: LocalResources, body: dict[str, Any], field: str, message: str
) -> None:
    answer = alice("POST", f"/api/portfolios/{book}/analyses", body)
    assert answer.status == 422, answer.body
    assert answer.body["error"] == "validation_error"
    (problem,) = answer.body["detail"]
    assert problem["field"] == field
    assert message in problem["message"]
    assert len(analyses_of(alice, book)["items"]) == 1  # nothing was queued
    assert notifications(env)["Records"] == []


def test_a_body_that_is_not_json_is_422(book: str, alice: Account) -> None:
    answer = alice("POST", f"/api/portfolios/{book}/analyses", raw=b"factor_ids=MTUM")
    assert answer.status == 422 and answer.body["detail"][0]["field"].startswith("body")


def test_a_portfolio_without_holdings_cannot_be_analysed_yet(alice: Account) -> None:
    portfolio_id = alice.portfolio().body["portfolio_id"]
    answer = alice("POST", f"/api/portfolios/{portfolio_id}/analyses")
    assert (answer.status, answer.body["error"]) == (409, "conflict")
    assert "no holdings yet" in answer.body["detail"]


# ----------------------------------------------------------------------------------------------- owner only


def test_another_accounts_portfolio_and_analysis_answer_404_as_missing_ones(
    book: str, alice: Account, bob: Account
) -> None:
    analysis_id = analyses_of(alice, book)["items"][0]["analysis_id"]
    missing = str(uuid.uuid4())
    paths = [
        ("POST", "/api/portfolios/{}/analyses"),
        ("GET", "/api/portfolios/{}/analyses"),
    ]
    for method, path in paths:
        theirs, nobodys = bob(method, path.format(book)), bob(method, path.format(missing))
        assert (theirs.status, theirs.body) == (nobodys.status, nobodys.body) == (404, _not_found("portfolio"))
        assert bob(method, path.format("not-a-uuid")).status == 404
    for path in ("/api/analyses/{}", "/api/analyses/{}/export.csv", "/api/analyses/{}/export.json"):
        theirs, nobodys = bob("GET", path.format(analysis_id)), bob("GET", path.format(missing))
        assert (theirs.status, theirs.body) == (nobodys.status, nobodys.body) == (404, _not_found("analysis"))
    # 404 comes before the body is even read (401 → 404 → 422)
    assert bob("POST", f"/api/portfolios/{book}/analyses", {"factor_ids": "junk"}).status == 404
    assert alice("GET", f"/api/analyses/{analysis_id}").status == 200


def _not_found(what: str) -> dict[str, str]:
    return {"error": "not_found", "detail": f"{what} not found"}


# ----------------------------------------------------------------------------------------------- listing


def test_analyses_are_listed_newest_first_a_page_at_a_time(book: str, alice: Account) -> None:
    asked = [alice("POST", f"/api/portfolios/{book}/analyses").body["analysis_id"] for _ in range(4)]
    first = analyses_of(alice, book, limit="3")
    second = analyses_of(alice, book, limit="3", cursor=first["next_cursor"])
    ids = [a["analysis_id"] for a in first["items"] + second["items"]]
    assert ids[:4] == asked[::-1]
    assert len(ids) == len(set(ids)) == 5 and second["next_cursor"] is None
    assert all("result" not in a for a in first["items"])
    bad = alice("GET", f"/api/portfolios/{book}/analyses", query={"cursor": "nonsense"})
    assert (bad.status, bad.body["detail"][0]["field"]) == (422, "query.cursor")


# ----------------------------------------------------------------------------------------------- exports


def test_the_csv_export_holds_every_table_and_no_formula(book: str, alice: Account) -> None:
    analysis_id = analyses_of(alice, book)["items"][0]["analysis_id"]
    answer = alice("GET", f"/api/analyses/{analysis_id}/export.csv")
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["content-disposition"] == f'attachment; filename="analysis-{analysis_id}.csv"'
    rows = list(csv.reader(io.StringIO(answer.body)))
    names = [r[0] for r in rows if len(r) == 1 and r[0].startswith("[")]
    assert names[:4] == ["[summary]", "[factors]", "[portfolio_exposures]", "[holdings]"]
    assert "[attribution_cumulative]" in names and "[notes]" in names
    holdings = rows[rows.index(["[holdings]"]) + 1 :]
    assert holdings[0][:5] == ["ticker", "quantity", "price", "value", "weight"]
    assert {r[0] for r in holdings[1:6]} == {"AAPL", "MSFT", "JPM", "KO", "XOM"}
    jpm = next(r for r in holdings if r[0] == "JPM")
    assert float(jpm[1]) == -80.0  # a negative number stays a number
    assert not [c for r in rows for c in r if c[:1] in ("=", "+", "@")]


def test_the_json_export_holds_the_same_tables(book: str, alice: Account) -> None:
    analysis_id = analyses_of(alice, book)["items"][0]["analysis_id"]
    answer = alice("GET", f"/api/analyses/{analysis_id}/export.json")
    assert answer.status == 200 and answer.headers["content-type"] == "application/json"
    tables = answer.body["tables"]
    assert answer.body["params"]["factor_ids"] == ["SP500", *STYLES]
    exposures = tables["portfolio_exposures"]
    assert exposures["columns"] == ["term", "estimate", "se", "se_hac", "t_hac", "p_hac", "ci95_low", "ci95_high"]
    assert [r[0] for r in exposures["rows"]] == ["alpha (daily)", "SP500", *STYLES]
    found = alice("GET", f"/api/analyses/{analysis_id}").body["result"]
    assert exposures["rows"][1][1] == found["portfolio"]["betas"]["SP500"]
    assert len(tables["attribution_cumulative"]["rows"]) == found["window"]["observations"]


def test_an_analysis_that_is_not_ready_has_no_export(book: str, alice: Account) -> None:
    queued = alice("POST", f"/api/portfolios/{book}/analyses").body["analysis_id"]
    for kind in ("csv", "json"):
        answer = alice("GET", f"/api/analyses/{queued}/export.{kind}")
        assert (answer.status, answer.body["error"]) == (409, "conflict")
        assert "the analysis is queued" in answer.body["detail"]


# ----------------------------------------------------------------------------------------------- failures


def test_an_analysis_the_data_cannot_support_fails_with_a_readable_message(
    alice: Account, env: LocalResources, lambda_context: Any, database_url: str
) -> None:
    # given a single holding whose cached prices are constant (a stale feed)
    portfolio_id = ready_portfolio(alice, env, lambda_context, b"ticker,quantity\nKO,100\n")
    with session_scope(database_url) as db:
        db.execute(update(Price).where(Price.ticker == "KO").values(adj_close=60.0))
    # when its default analysis runs
    assert drain(env, lambda_context) == [{"batchItemFailures": []}]
    # then it failed, saying why in words, with no result and no stored prices
    (analysis,) = analyses_of(alice, portfolio_id)["items"]
    assert analysis["status"] == "failed" and analysis["finished_at"] is not None
    assert analysis["error"] == {
        "message": "the portfolio's return is the same every day in the window (constant prices?): there is nothing "
        "to explain",
        "field": "holdings",
    }
    body = alice("GET", f"/api/analyses/{analysis['analysis_id']}").body
    assert body["result"] is None and body["inputs"] is None
    assert stored_keys(env, "analyses/") == []
    with session_scope(database_url) as db:
        assert db.scalar(select(Analysis.attempts).where(Analysis.portfolio_id == uuid.UUID(portfolio_id))) == 1


def test_a_job_that_cannot_be_queued_fails_the_analysis_and_answers_503(
    book: str, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    from labfolio_common.settings import get_settings

    monkeypatch.setenv("ANALYSIS_QUEUE_URL", "http://127.0.0.1:9/000000000000/missing")
    get_settings.cache_clear()
    answer = alice("POST", f"/api/portfolios/{book}/analyses")
    get_settings.cache_clear()
    assert (answer.status, answer.body["error"]) == (503, "unavailable")
    newest = analyses_of(alice, book)["items"][0]
    assert newest["status"] == "failed"
    assert newest["error"]["message"] == "the analysis could not be queued (the queue did not answer): run it again"
