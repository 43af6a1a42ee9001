"""The portfolios API through its real Lambda entry point (API Gateway HTTP API payload 2.0 events), with sessions
from the auth function, the template's bucket and queue in moto, and the worker fed what S3 really sent."""

from __future__ import annotations

import base64
import json
import re
import uuid
from typing import Any

import pytest
import requests
from labfolio_common.db.engine import session_scope
from labfolio_common.db.models import Holding, Upload, UploadGrant
from sqlalchemy import func, select

from local.aws_resources import LocalResources
from local.model import load_model
from tests.fixtures.auth import XRW, Answer, AuthClient, call, event
from tests.fixtures.pipeline import run_worker

pytestmark = pytest.mark.functional

DEMO = b"ticker,quantity\nAAPL,10\nMSFT,-5\nKO,20\n"
KEY = re.compile(r"uploads/([0-9a-f-]{36})/([0-9a-f-]{36})/[0-9a-f-]{36}\.csv")


class Client:
    """One account: its token, and requests to the portfolios function."""

    def __init__(self, context: Any, username: str) -> None:
        self.context = context
        signed = AuthClient(context).signup(username)
        self.token = signed.body["access_token"]
        self.user_id = signed.body["user_id"]

    def __call__(
        self, method: str, path: str, body: Any = None, *, raw: bytes | None = None, token: str | None = ""
    ) -> Answer:
        headers = {} if token is None else {"authorization": f"Bearer {token or self.token}"}
        path, _, query = path.partition("?")
        ev = event(method, path, body, headers=headers)
        if query:
            ev["rawQueryString"] = query
            ev["queryStringParameters"] = dict(pair.split("=", 1) for pair in query.split("&"))
        if raw is not None:
            ev["body"] = base64.b64encode(raw).decode()
            ev["isBase64Encoded"] = True
            ev["headers"].update({"content-type": "text/csv", "content-length": str(len(raw))})
        return call("portfolios", ev, self.context)

    def create(self, name: str = "Retirement") -> Answer:
        answer = self("POST", "/api/portfolios", {"portfolio_name": name})
        assert answer.status == 201, answer.body
        return answer


@pytest.fixture
def env(lambda_env: LocalResources) -> LocalResources:
    return lambda_env


@pytest.fixture
def alice(env: LocalResources, lambda_context: Any) -> Client:
    return Client(lambda_context, "alice")


@pytest.fixture
def bob(env: LocalResources, lambda_context: Any) -> Client:
    return Client(lambda_context, "bob")


def browser_upload(form: dict[str, Any], content: bytes, filename: str = "my portfolio.csv") -> int:
    """What a browser does with the presigned POST: a multipart form to S3 (here the moto server)."""
    answer = requests.post(
        form["url"], data=form["fields"], files={"file": (filename, content, "text/csv")}, timeout=30
    )
    return answer.status_code


def ready_portfolio(client: Client, env: LocalResources, context: Any, content: bytes = DEMO) -> str:
    created = client.create()
    assert browser_upload(created.body["upload"], content) in (200, 201, 204)
    assert run_worker(env, context) == {"batchItemFailures": []}
    return str(created.body["portfolio_id"])


def count(database_url: str, model: Any, portfolio_id: str) -> int:
    with session_scope(database_url) as session:
        query = select(func.count()).select_from(model).where(model.portfolio_id == uuid.UUID(portfolio_id))
        return int(session.scalar(query) or 0)


def objects(env: LocalResources, prefix: str = "uploads/") -> list[str]:
    listed = env.s3.list_objects_v2(Bucket=env.bucket_names()[0], Prefix=prefix)
    return [o["Key"] for o in listed.get("Contents", [])]


# ----------------------------------------------------------------------------------------------- create, upload


def test_create_answers_a_presigned_post_for_the_callers_own_key(alice: Client) -> None:
    answer = alice.create("  Retirement  ")
    body = answer.body
    assert (body["portfolio_name"], body["status"], body["holdings_count"]) == ("Retirement", "awaiting_upload", 0)
    assert body["errors"] == [] and body["last_upload"] is None and body["latest_analysis_id"] is None
    form = body["upload"]
    assert (form["expires_in"], form["max_bytes"], form["content_type"]) == (600, 1_000_000, "text/csv")
    match = KEY.fullmatch(form["fields"]["key"])
    assert match and match.groups() == (alice.user_id, body["portfolio_id"])
    assert form["fields"]["x-amz-algorithm"] == "AWS4-HMAC-SHA256"  # SigV4
    policy = json.loads(base64.b64decode(form["fields"]["policy"]))
    assert ["content-length-range", 1, 1_000_000] in policy["conditions"]
    assert {"Content-Type": "text/csv"} in policy["conditions"]
    assert {"key": form["fields"]["key"]} in policy["conditions"]


def test_browser_upload_becomes_valued_holdings(
    alice: Client, env: LocalResources, lambda_context: Any, database_url: str
) -> None:
    # given a portfolio uploaded as a browser would, and processed by the worker
    portfolio_id = ready_portfolio(alice, env, lambda_context)
    # when
    found = alice("GET", f"/api/portfolios/{portfolio_id}").body
    holdings = alice("GET", f"/api/portfolios/{portfolio_id}/holdings").body
    # then it is ready with its holdings at the demo data's last prices (2022-12-28)
    assert (found["status"], found["kind"], found["holdings_count"]) == ("ready", "quantity", 3)
    assert found["last_upload"]["status"] == "ready" and found["last_upload"]["errors"] == []
    assert [h["ticker"] for h in holdings] == ["AAPL", "MSFT", "KO"]
    assert {h["price_date"] for h in holdings} == {"2022-12-28"}
    aapl = holdings[0]
    assert aapl["last_price"] == 125.674 and aapl["market_value"] == pytest.approx(1256.74)
    gross = sum(abs(h["market_value"]) for h in holdings)
    assert [h["weight"] for h in holdings] == pytest.approx([h["market_value"] / gross for h in holdings])
    assert holdings[1]["weight"] < 0  # the short
    assert count(database_url, Holding, portfolio_id) == 3


def test_put_csv_goes_through_the_same_pipeline(alice: Client, env: LocalResources, lambda_context: Any) -> None:
    portfolio_id = alice.create().body["portfolio_id"]
    answer = alice("PUT", f"/api/portfolios/{portfolio_id}/csv", raw=b"symbol;shares\r\nko;1.000,5\r\n")
    assert answer.status == 202, answer.body
    assert answer.body["portfolio_id"] == portfolio_id
    run_worker(env, lambda_context)
    holdings = alice("GET", f"/api/portfolios/{portfolio_id}/holdings").body
    assert [(h["ticker"], h["quantity"], h["weight"]) for h in holdings] == [("KO", 1000.5, 1.0)]


def test_put_csv_refuses_an_empty_or_oversized_body(alice: Client, env: LocalResources) -> None:
    portfolio_id = alice.create().body["portfolio_id"]
    too_big = alice("PUT", f"/api/portfolios/{portfolio_id}/csv", raw=b"x" * 1_000_001)
    assert (too_big.status, too_big.body["error"]) == (413, "payload_too_large")
    empty = alice("PUT", f"/api/portfolios/{portfolio_id}/csv", raw=b" \n")
    assert (empty.status, empty.body["error"]) == (422, "validation_error")
    assert objects(env) == []


def test_invalid_first_upload_fails_with_row_level_errors(
    alice: Client, env: LocalResources, lambda_context: Any
) -> None:
    portfolio_id = alice.create().body["portfolio_id"]
    alice("PUT", f"/api/portfolios/{portfolio_id}/csv", raw=b"ticker,quantity\nAAPL,ten\n@SUM(A1),1\n")
    run_worker(env, lambda_context)
    found = alice("GET", f"/api/portfolios/{portfolio_id}").body
    assert found["status"] == "failed"
    assert [(p["row"], p["column"]) for p in found["errors"]] == [(2, "quantity"), (3, "ticker")]
    assert found["last_upload"]["status"] == "failed" and found["last_upload"]["errors"] == found["errors"]
    assert alice("GET", f"/api/portfolios/{portfolio_id}/file").status == 404


def test_invalid_reupload_leaves_holdings_and_reports_under_last_upload(
    alice: Client, env: LocalResources, lambda_context: Any
) -> None:
    portfolio_id = ready_portfolio(alice, env, lambda_context)
    form = alice("POST", f"/api/portfolios/{portfolio_id}/upload").body
    browser_upload(form, b"ticker,weight\nAAPL,0.5\n")
    run_worker(env, lambda_context)
    found = alice("GET", f"/api/portfolios/{portfolio_id}").body
    assert (found["status"], found["holdings_count"], found["errors"]) == ("ready", 3, [])
    last = found["last_upload"]
    assert last["status"] == "failed" and "add up to 0.5" in last["errors"][0]["message"]
    assert last["at"].endswith("Z") or "+00:00" in last["at"]
    assert len(alice("GET", f"/api/portfolios/{portfolio_id}/holdings").body) == 3


def test_file_is_the_original_csv_of_the_holdings(alice: Client, env: LocalResources, lambda_context: Any) -> None:
    portfolio_id = ready_portfolio(alice, env, lambda_context)
    alice("PATCH", f"/api/portfolios/{portfolio_id}", {"portfolio_name": 'Q3 "book"/2024'})
    answer = alice("GET", f"/api/portfolios/{portfolio_id}/file")
    assert answer.status == 200
    assert answer.body.encode() == DEMO
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["content-disposition"] == 'attachment; filename="Q3-book-2024.csv"'
    assert answer.headers["cache-control"] == "private, no-store"


def test_template_is_public_csv(env: LocalResources, lambda_context: Any) -> None:
    answer = call("portfolios", event("GET", "/api/portfolios/template.csv"), lambda_context)
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.body.startswith("ticker,quantity\nAAPL,")


# ----------------------------------------------------------------------------------------------- list, rename, delete


def test_list_is_paginated_newest_first(alice: Client, bob: Client) -> None:
    names = [f"book {i}" for i in range(5)]
    for name in names:
        alice.create(name)
    bob.create("not alice's")
    first = alice("GET", "/api/portfolios?limit=2")
    assert first.status == 200
    seen, cursor = [p["portfolio_name"] for p in first.body["items"]], first.body["next_cursor"]
    while cursor:
        page = alice("GET", f"/api/portfolios?limit=2&cursor={cursor}").body
        seen += [p["portfolio_name"] for p in page["items"]]
        cursor = page["next_cursor"]
    assert sorted(seen) == names and len(seen) == 5
    assert alice("GET", "/api/portfolios").body["items"][0]["holdings_count"] == 0


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=x", "cursor=bm9wZQ", "cursor=%%%"])
def test_list_refuses_bad_paging(query: str, alice: Client) -> None:
    answer = alice("GET", f"/api/portfolios?{query}")
    assert (answer.status, answer.body["error"]) == (422, "validation_error")


def test_rename_validates_the_name(alice: Client) -> None:
    portfolio_id = alice.create().body["portfolio_id"]
    renamed = alice("PATCH", f"/api/portfolios/{portfolio_id}", {"portfolio_name": "Growth"})
    assert (renamed.status, renamed.body["portfolio_name"]) == (200, "Growth")
    for bad in ({"portfolio_name": "  "}, {"portfolio_name": "x" * 256}, {"name": "x"}, {"portfolio_name": "a\x00"}):
        answer = alice("PATCH", f"/api/portfolios/{portfolio_id}", bad)
        assert answer.status == 422, bad
        assert answer.body["detail"][0]["field"].startswith("body")


# The red-team round: names that show something else than they are, or nothing at all, were accepted.
DECEPTIVE = {
    "invoice\u202egpj.exe": "invisible formatting characters (U+202E)",  # shows as invoice...exe.jpg
    "\u200b\u200b": "invisible formatting characters (U+200B)",
    "\ufeffCore": "invisible formatting characters (U+FEFF)",
    "Core\u2066x\u2069": "invisible formatting characters (U+2066)",
    "Core\u2028Two": "line-break characters (U+2028)",
    "Core\ue000": "private-use characters (U+E000)",
    "\u200c \u200d": "must not be blank",
}


@pytest.mark.parametrize("name", list(DECEPTIVE), ids=[repr(n) for n in DECEPTIVE])
def test_names_that_show_something_else_or_nothing_are_refused(alice: Client, name: str) -> None:
    created = alice("POST", "/api/portfolios", {"portfolio_name": name})
    assert created.status == 422
    assert created.body["detail"][0]["field"] == "body.portfolio_name"
    assert DECEPTIVE[name] in created.body["detail"][0]["message"]
    portfolio_id = alice.create().body["portfolio_id"]
    assert alice("PATCH", f"/api/portfolios/{portfolio_id}", {"portfolio_name": name}).status == 422


def test_names_keep_the_joiners_scripts_and_emoji_need(alice: Client) -> None:
    for name in (
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
        "Family \U0001f468\u200d\U0001f469\u200d\U0001f467",
    ):
        created = alice("POST", "/api/portfolios", {"portfolio_name": f"  {name} "})
        assert (created.status, created.body["portfolio_name"]) == (201, name)


def test_delete_removes_rows_and_objects(
    alice: Client, env: LocalResources, lambda_context: Any, database_url: str
) -> None:
    portfolio_id = ready_portfolio(alice, env, lambda_context)
    other = ready_portfolio(alice, env, lambda_context)
    alice("POST", f"/api/portfolios/{portfolio_id}/upload")  # a form issued, not used: its grant goes too
    env.s3.put_object(Bucket=env.bucket_names()[0], Key=f"uploads/{alice.user_id}/{portfolio_id}/late.csv", Body=b"x")
    assert objects(env, f"files/{alice.user_id}/{portfolio_id}/")  # the file kept behind the holdings
    answer = alice("DELETE", f"/api/portfolios/{portfolio_id}")
    assert answer.status == 204 and answer.body is None
    assert objects(env, f"files/{alice.user_id}/{portfolio_id}/") == []
    assert objects(env, f"uploads/{alice.user_id}/{portfolio_id}/") == []
    assert (count(database_url, Holding, portfolio_id), count(database_url, Upload, portfolio_id)) == (0, 0)
    assert count(database_url, UploadGrant, portfolio_id) == 0
    assert alice("GET", f"/api/portfolios/{portfolio_id}").status == 404
    # the other portfolio is intact
    assert objects(env, f"files/{alice.user_id}/{other}/") and count(database_url, Holding, other) == 3


def test_account_deletion_takes_holdings_and_files_with_it(
    alice: Client, env: LocalResources, lambda_context: Any, database_url: str
) -> None:
    portfolio_id = ready_portfolio(alice, env, lambda_context)
    answer = AuthClient(lambda_context).request(
        "DELETE", "/api/auth/me", {"password": "correct horse battery"}, token=alice.token
    )
    assert answer.status == 204, answer.body
    assert (count(database_url, Holding, portfolio_id), count(database_url, Upload, portfolio_id)) == (0, 0)
    assert objects(env, f"uploads/{alice.user_id}/") == objects(env, f"files/{alice.user_id}/") == []


# ----------------------------------------------------------------------------------------------- ownership, order


PORTFOLIO_ROUTES = sorted(
    (r.method, r.path) for r in load_model().routes if r.function == "PortfoliosFunction" and "{portfolio_id}" in r.path
)


def test_every_portfolio_route_is_walked() -> None:
    assert len(PORTFOLIO_ROUTES) == 7


@pytest.mark.parametrize(("method", "path"), PORTFOLIO_ROUTES, ids=[f"{m} {p}" for m, p in PORTFOLIO_ROUTES])
def test_another_accounts_portfolio_is_404_on_every_route(
    method: str, path: str, alice: Client, bob: Client, env: LocalResources, lambda_context: Any
) -> None:
    # given Alice's ready portfolio
    portfolio_id = ready_portfolio(alice, env, lambda_context)
    before = alice("GET", f"/api/portfolios/{portfolio_id}").body
    target = path.replace("{portfolio_id}", portfolio_id)
    body = {"portfolio_name": "mine now"} if method in ("PATCH",) else None
    # when Bob tries the route on it (with a valid body), and on a portfolio that does not exist
    answer = bob(method, target, body, raw=DEMO if method == "PUT" else None)
    missing = bob(method, path.replace("{portfolio_id}", str(uuid.uuid4())), body)
    # then both are the same 404, and Alice's portfolio is untouched
    assert (answer.status, answer.body) == (404, {"error": "not_found", "detail": "portfolio not found"})
    assert (missing.status, missing.body) == (answer.status, answer.body)
    assert alice("GET", f"/api/portfolios/{portfolio_id}").body == before
    assert objects(env, f"uploads/{bob.user_id}/") == []


def test_answers_come_in_the_order_401_404_422(alice: Client, bob: Client) -> None:
    portfolio_id = alice.create().body["portfolio_id"]
    path = f"/api/portfolios/{portfolio_id}"
    malformed = "{not json"

    def patch(client: Client, token: str | None) -> int:
        headers = {} if token is None else {"authorization": f"Bearer {token}"}
        ev = event("PATCH", path, headers=headers, raw_body=malformed)
        return call("portfolios", ev, client.context).status

    assert patch(alice, None) == 401  # no session, malformed body
    assert patch(bob, bob.token) == 404  # not Bob's, malformed body
    assert patch(alice, alice.token) == 422  # Alice's, malformed body
    assert alice("GET", "/api/portfolios/not-a-uuid").status == 404
    post = call("portfolios", event("POST", "/api/portfolios", raw_body=malformed), alice.context)
    assert post.status == 401


def test_cookie_sessions_need_the_csrf_header_to_change_a_portfolio(alice: Client, lambda_context: Any) -> None:
    portfolio_id = alice.create().body["portfolio_id"]
    login = AuthClient(lambda_context).login("alice")
    cookie = login.cookie("labfolio_session")
    client = AuthClient(lambda_context, function="portfolios")
    body = {"portfolio_name": "by cookie"}
    refused = client.request("PATCH", f"/api/portfolios/{portfolio_id}", body, cookie=cookie)
    done = client.request("PATCH", f"/api/portfolios/{portfolio_id}", body, cookie=cookie, headers=XRW)
    assert (refused.status, done.status) == (403, 200)
    assert client.request("GET", f"/api/portfolios/{portfolio_id}", cookie=cookie).status == 200


def test_template_path_is_never_taken_for_a_portfolio_id(alice: Client) -> None:
    # the exact path wins for GET (as in API Gateway); other methods reach {portfolio_id} and find no portfolio
    assert alice("GET", "/api/portfolios/template.csv").body.startswith("ticker,quantity")
    for method in ("PATCH", "DELETE"):
        answer = alice(method, "/api/portfolios/template.csv", {"portfolio_name": "x"})
        assert (answer.status, answer.body["detail"]) == (404, "portfolio not found")
