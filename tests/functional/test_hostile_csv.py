"""A corpus of hostile CSV files through the real upload path: the presigned POST a browser sends to S3 (moto), the
notification S3 queued, the worker's real entry point with that SQS batch, and the API reading the outcome.

Every file is answered with problems that name their row and column in a bounded list of short messages, never a
500, never a retry (a bad file is not a passing fault), and nothing half-written: a first upload leaves the portfolio
`failed` without holdings, a re-upload leaves the holdings as they were. Files that are odd but valid (BOM, CRLF,
CR-only line ends) become holdings, and the file handed back (`GET /{id}/file`) carries no cell a spreadsheet runs.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import uuid
from typing import Any

import pytest
from labfolio_common.db.engine import session_scope
from labfolio_common.db.models import Holding, Upload
from labfolio_common.portfolio_csv import MAX_PROBLEMS, TICKER_PATTERN
from sqlalchemy import func, select

from local.aws_resources import LocalResources
from tests.fixtures.analyses import Account, browser_upload, worker
from tests.fixtures.pipeline import notifications

pytestmark = pytest.mark.functional

GOOD = b"ticker,quantity\nAAPL,120\nMSFT,-60\nKO,150\n"
MB = 1_000_000


def _rows(count: int) -> bytes:
    return b"ticker,quantity\n" + b"".join(f"T{i:05d},1\n".encode() for i in range(count))


# name -> (file, (row, column) of a problem it must report; None: any row/column)
NASTY: dict[str, tuple[bytes, tuple[int, str] | None]] = {
    "zip-bomb-like repetition under 1 MB": (
        b"ticker,quantity\n" + b"AAPL,1\n" * ((MB - 20) // 7),
        (5_002, "*"),
    ),
    "repetition over 1 MB": (b"ticker,quantity\n" + b"AAPL,1\n" * (MB // 7 + 10), None),
    "1 MB in one cell": (b"ticker,quantity\n" + b"A" * (MB - 40) + b",1\n", (2, "*")),
    "1 MB quoted cell with newlines": (b'ticker,quantity\n"' + b"\n" * (MB - 40) + b'",1\n', None),
    "nul bytes": (b"ticker,quantity\nAAPL\x00,1\nMSFT,2\n", (1, "*")),
    "latin-1 after a UTF-8 BOM": (
        codecs.BOM_UTF8 + "ticker,quantity\nNESN.SW,1\nCaf\u00e9,2\n".encode("latin-1"),
        (3, "*"),
    ),
    "UTF-16 LE with BOM": ("ticker,quantity\nAAPL,1\n".encode("utf-16"), (1, "*")),
    "UTF-16 BE without BOM": ("ticker,quantity\nAAPL,1\n".encode("utf-16-be"), (1, "*")),
    "5,001 rows": (_rows(5_001), (5_002, "*")),
    "formula in the ticker": (b"ticker,quantity\n=cmd|' /C calc'!A0,1\n", (2, "ticker")),
    "formula in the quantity": (b"ticker,quantity\nAAPL,=1+2\nMSFT,+1+cmd|' /C calc'!A0\n", (2, "quantity")),
    "@ and - formulas": (b"ticker,quantity\n@SUM(A1:A2),1\n-2+3,1\n", (3, "ticker")),
    "formula under a column without a name": (b'ticker,quantity,\nAAPL,1,=HYPERLINK("http://x")\n', (2, "*")),
    "formula in the currency": (b"ticker,quantity,currency\nAAPL,1,=DDE()\n", (2, "currency")),
    "tab-prefixed formula": (b"ticker;quantity\n\t=1+1;1\n", (2, "ticker")),
    "script in a ticker": (b"ticker,quantity\n<script>alert(1)</script>,1\n", (2, "ticker")),
    "html in the header": (
        b"ticker,quantity,<img src=x onerror=alert(1)>\nAAPL,1,2\n",
        (1, "<img src=x onerror=alert(1)>"),
    ),
    "svg in a quantity": (b"ticker,quantity\nAAPL,<svg/onload=alert(1)>\n", (2, "quantity")),
    "very wide row": (b"ticker,quantity\nAAPL,1" + b",x" * 200_000 + b"\n", (2, "*")),
    "very wide header": (b",".join([b"ticker", b"quantity", *(b"c%d" % i for i in range(50_000))]) + b"\n", (1, "c0")),
    "a problem on every one of 100,000 rows": (b"ticker,quantity\n" + b"!,1\n" * 100_000, (2, "ticker")),
    "unterminated quote": (b'ticker,quantity\n"AAPL,1\nMSFT,2\n', None),
    "only a header": (b"ticker,quantity\n", (2, "*")),
    "blank": (b" \r\n\t\n", (1, "*")),
    "no header, only numbers": (b"1,2\n3,4\n", (1, "ticker")),
    "zero-width and bidi characters": ("ticker,quantity\nAA\u200bPL,1\n\u202eLPAA,2\n".encode(), (2, "ticker")),
    "NaN and infinities": (b"ticker,quantity\nAAPL,NaN\nMSFT,inf\nKO,-Infinity\nXOM,1e999999\n", (2, "quantity")),
}
ODD_BUT_VALID: dict[str, bytes] = {
    "UTF-8 BOM and CRLF": codecs.BOM_UTF8 + b"ticker,quantity\r\nAAPL,120\r\nMSFT,-60\r\n",
    "CR-only line ends": b"ticker,quantity\rAAPL,120\rMSFT,-60\r",
    "semicolons, decimal commas and spaces": b" Ticker ; Shares \n aapl ; 1,5 \n msft ; -2,25 \n",
}


@pytest.fixture
def env(lambda_env: LocalResources) -> LocalResources:
    return lambda_env


def upload(account: Account, env: LocalResources, context: Any, portfolio_id: str, content: bytes) -> None:
    """A browser's re-upload of the portfolio, handed to the worker as the event source mapping would."""
    form = account("POST", f"/api/portfolios/{portfolio_id}/upload", function="portfolios")
    assert form.status == 201, form.body
    browser_upload(form.body, content)
    assert worker(notifications(env), context) == {"batchItemFailures": []}  # acknowledged: not retried


def holdings_rows(database_url: str, portfolio_id: str) -> list[tuple[str, float | None]]:
    with session_scope(database_url) as db:
        rows = db.scalars(select(Holding).where(Holding.portfolio_id == uuid.UUID(portfolio_id)))
        return sorted((h.ticker, h.quantity) for h in rows)


def assert_clear(problems: list[dict[str, Any]], where: tuple[int, str] | None, name: str) -> None:
    assert problems, name
    assert len(problems) <= MAX_PROBLEMS + 1, (name, len(problems))
    for problem in problems:
        # a row as a spreadsheet numbers it; None only for the file as a whole (its size, read by the worker)
        file_level = problem["row"] is None and problem["column"] == "*"
        assert file_level or (isinstance(problem["row"], int) and problem["row"] >= 1), (name, problem)
        assert isinstance(problem["column"], str) and problem["column"], (name, problem)
        assert 0 < len(problem["message"]) <= 200, (name, problem["message"][:300])
    if where is not None:
        assert [p for p in problems if (p["row"], p["column"]) == where], (name, where, problems[:3])


def test_every_nasty_file_is_refused_clearly_and_nothing_is_half_written(
    env: LocalResources, database_url: str, lambda_context: Any
) -> None:
    alice = Account(lambda_context, "alice")
    ready = alice.portfolio("Ready").body["portfolio_id"]
    upload(alice, env, lambda_context, ready, GOOD)
    kept = holdings_rows(database_url, ready)
    assert len(kept) == 3
    outcomes = {}
    for name, (content, where) in NASTY.items():
        # a first upload: the portfolio fails with the problems, and has no holdings
        created = alice.portfolio(name[:60])
        fresh = created.body["portfolio_id"]
        browser_upload(created.body["upload"], content)
        assert worker(notifications(env), lambda_context) == {"batchItemFailures": []}, name
        answer = alice("GET", f"/api/portfolios/{fresh}", function="portfolios")
        assert answer.status == 200, (name, answer.body)
        assert (answer.body["status"], answer.body["holdings_count"]) == ("failed", 0), name
        assert_clear(answer.body["errors"], where, name)
        assert holdings_rows(database_url, fresh) == []
        assert len(json.dumps(answer.body)) < 100_000, name  # a bounded answer, whatever the file
        # a re-upload of a ready portfolio: its holdings stay, the problems are under last_upload
        upload(alice, env, lambda_context, ready, content)
        again = alice("GET", f"/api/portfolios/{ready}", function="portfolios").body
        assert (again["status"], again["last_upload"]["status"]) == ("ready", "failed"), name
        assert_clear(again["last_upload"]["errors"], where, name)
        assert holdings_rows(database_url, ready) == kept, name
        outcomes[name] = answer.body["errors"][0]["message"]
    # the holdings still answer, and the file behind them is the good one
    assert alice("GET", f"/api/portfolios/{ready}/holdings", function="portfolios").status == 200
    assert alice("GET", f"/api/portfolios/{ready}/file", function="portfolios").body == GOOD.decode()
    with session_scope(database_url) as db:
        failed = db.scalar(select(func.count()).select_from(Upload).where(Upload.status == "failed"))
    assert failed == 2 * len(NASTY)
    print(f"\nCSV corpus: {len(NASTY)} nasty files, each refused on a first upload and on a re-upload:")
    for name, message in outcomes.items():
        print(f"  {name}: {message[:100]}")


def _spreadsheet_would_run(cell: str) -> bool:
    """A cell a spreadsheet treats as a formula: = + - @ (or a tab/CR) first, unless it is just a number."""
    text = cell.strip()
    if not text.startswith(("=", "+", "-", "@", "\t", "\r")):
        return False
    try:
        float(text.replace(",", "."))
    except ValueError:
        return True
    return False


@pytest.mark.parametrize("name", sorted(ODD_BUT_VALID))
def test_odd_but_valid_files_become_holdings_and_come_back_formula_free(
    name: str, env: LocalResources, database_url: str, lambda_context: Any
) -> None:
    alice = Account(lambda_context, "alice")
    created = alice.portfolio("Odd")
    portfolio_id = created.body["portfolio_id"]
    browser_upload(created.body["upload"], ODD_BUT_VALID[name])
    assert worker(notifications(env), lambda_context) == {"batchItemFailures": []}
    found = alice("GET", f"/api/portfolios/{portfolio_id}", function="portfolios").body
    assert (found["status"], found["holdings_count"], found["errors"]) == ("ready", 2, []), found
    assert [t for t, _ in holdings_rows(database_url, portfolio_id)] == ["AAPL", "MSFT"]
    downloaded = alice("GET", f"/api/portfolios/{portfolio_id}/file", function="portfolios")
    assert downloaded.status == 200
    text = downloaded.body if isinstance(downloaded.body, str) else json.dumps(downloaded.body)
    delimiter = ";" if ";" in text.splitlines()[0] else ","
    cells = [c for row in csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""), delimiter=delimiter) for c in row]
    assert not [c for c in cells if _spreadsheet_would_run(c)], cells
    tickers = [c.strip().upper() for c in cells[2::2]]
    assert all(TICKER_PATTERN.fullmatch(t) for t in tickers), tickers


def test_the_put_route_refuses_what_is_too_big_before_storing_it(env: LocalResources, lambda_context: Any) -> None:
    alice = Account(lambda_context, "alice")
    portfolio_id = alice.portfolio("Put").body["portfolio_id"]
    over = alice("PUT", f"/api/portfolios/{portfolio_id}/csv", function="portfolios", raw=b"AAPL,1\n" * (MB // 7 + 1))
    assert over.status == 413, over.body
    listed = env.s3.list_objects_v2(Bucket=env.bucket_names()[0], Prefix=f"uploads/{alice.user_id}/")
    assert listed.get("KeyCount", 0) == 0
    nasty = alice("PUT", f"/api/portfolios/{portfolio_id}/csv", function="portfolios", raw=NASTY["nul bytes"][0])
    assert nasty.status == 202, nasty.body
    assert worker(notifications(env), lambda_context) == {"batchItemFailures": []}
    found = alice("GET", f"/api/portfolios/{portfolio_id}", function="portfolios").body
    assert found["status"] == "failed" and found["errors"][0]["row"] == 1
