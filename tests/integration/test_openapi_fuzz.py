"""schemathesis against the OpenAPI document of every HTTP function, through the local gateway (the functions in
their own processes, moto, PostgreSQL), authenticated as a real account: no answer is a 500, and every answer is one
its operation documents (status code and body schema).

Cases are generated from each function's own `/api/<function>/openapi.json` (positive and negative data), with a
fixed budget per operation and a derandomized Hypothesis, so a run is reproducible and bounded. Path parameters are
either generated or the account's real portfolio / analysis ids, so the operations are exercised on real data and
not only on 404s. Half the cases authenticate with the Bearer token, half as a browser does (the session cookie and
`X-Requested-With`). Every failure of every operation is collected and reported at once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from labfolio_common.db.engine import dispose_engine
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance
from sqlalchemy import Engine

from local.stack import LocalConfig, LocalStack
from tests.fixtures.db import _postgres_database
from tests.fixtures.polling import wait_for

pytestmark = pytest.mark.integration

FUNCTIONS = ["auth", "portfolios", "analysis"]
PASSWORD = "correct horse battery"
BOOK = b"ticker,quantity\nAAPL,120\nMSFT,60\nJPM,-80\nKO,150\nXOM,100\n"
EXAMPLES = 12  # per operation and generation mode: ~30 operations x 2 modes x 12, about a minute
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same cases on every run (CI is reproducible)
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: failures are collected, not minimised
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def fuzz_database(postgres_admin_engine: Engine, postgres_server_url: str, _migrated_postgres_template: str) -> Any:
    with _postgres_database(postgres_admin_engine, postgres_server_url, template=_migrated_postgres_template) as url:
        yield url


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory, fuzz_database: str) -> Iterator[str]:
    """The local stack on PostgreSQL with the factor data loaded (factor_update's first run)."""
    config = LocalConfig(
        port=0,
        moto_port=0,
        data_dir=tmp_path_factory.mktemp("fuzz-stack"),
        database_url=fuzz_database,
        max_instances=1,
        demo_portfolio=False,
    )
    stack = LocalStack(config).start()
    try:
        base = stack.start_http()

        def loaded() -> bool:  # a cold start may time out on a busy machine: asked again
            answer = requests.get(f"{base}/api/factors", timeout=120)
            return answer.status_code == 200 and any(f["observations"] > 0 for f in answer.json())

        wait_for(loaded, timeout=300)
        yield base
    finally:
        stack.stop_http()
        stack.stop(save=False)
        dispose_engine(fuzz_database)


def signup(base: str, username: str) -> dict[str, Any]:
    answer = requests.post(f"{base}/api/auth/signup", json={"username": username, "password": PASSWORD}, timeout=120)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


class Owner:
    """The account the cases run as: a ready portfolio with a ready analysis, and a portfolio awaiting its file."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.token = signup(base, "fuzz.owner")["access_token"]
        headers = {"authorization": f"Bearer {self.token}"}
        created = requests.post(
            f"{base}/api/portfolios", json={"portfolio_name": "Fuzzed"}, headers=headers, timeout=120
        )
        assert created.status_code == 201, created.text
        form = created.json()["upload"]
        sent = requests.post(form["url"], data=form["fields"], files={"file": ("b.csv", BOOK, "text/csv")}, timeout=120)
        assert sent.status_code in (200, 201, 204), sent.text
        self.portfolio_id = created.json()["portfolio_id"]

        def analysed() -> str | None:
            found = requests.get(f"{base}/api/portfolios/{self.portfolio_id}", headers=headers, timeout=120).json()
            analysis = found.get("latest_analysis_id")
            if not analysis:
                return None
            state = requests.get(f"{base}/api/analyses/{analysis}", headers=headers, timeout=120).json()
            return str(analysis) if state["status"] in ("ready", "failed") else None

        self.analysis_id = wait_for(analysed, timeout=300)
        empty = requests.post(f"{base}/api/portfolios", json={"portfolio_name": "Empty"}, headers=headers, timeout=120)
        self.empty_portfolio_id = empty.json()["portfolio_id"]

    def path_parameters(self) -> dict[str, str]:
        return {"portfolio_id": self.portfolio_id, "analysis_id": self.analysis_id, "factor_id": "SP500"}


@pytest.fixture(scope="module")
def owner(base_url: str) -> Owner:
    return Owner(base_url)


def _strategy(operation: Any, owner: Owner) -> Any:
    """Generated cases, half of them (for operations with path parameters) on the owner's real ids."""
    names = {p.name for p in operation.path_parameters}
    real = {k: v for k, v in owner.path_parameters().items() if k in names}
    modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    strategies = [operation.as_strategy(generation_mode=mode) for mode in modes]
    if real and operation.method.upper() != "DELETE":  # the real portfolio stays for the other operations
        strategies += [operation.as_strategy(generation_mode=GenerationMode.POSITIVE, path_parameters=real)]
    return st.one_of(strategies)


def _session_for(operation: Any, owner: Owner, counter: Counter[str]) -> str:
    """The token to send: the owner's, except for logout, which ends the session it is sent with."""
    if operation.path == "/api/auth/logout":
        counter["logout"] += 1
        return str(signup(owner.base, f"fuzz.leaver.{counter['logout']}")["access_token"])
    return owner.token


class Tally:
    """What the cases of one document did: cases per operation, answers per status, the first failure of each."""

    def __init__(self) -> None:
        self.cases: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.failures: dict[str, str] = {}
        self.sessions: Counter[str] = Counter()


def fuzz(operation: Any, owner: Owner, base_url: str, tally: Tally) -> None:
    """Run the operation's generated cases, authenticated by Bearer or by cookie + X-Requested-With."""

    @FUZZ_SETTINGS
    @given(case=_strategy(operation, owner), by_cookie=st.booleans())
    def run(case: Any, by_cookie: bool) -> None:
        token = _session_for(operation, owner, tally.sessions)
        case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() not in ("authorization", "cookie")}
        cookies = {k: v for k, v in (case.cookies or {}).items() if k != "labfolio_session"}
        if by_cookie:
            case.cookies = {**cookies, "labfolio_session": token}
            extra = {"X-Requested-With": "XMLHttpRequest"}
        else:
            case.cookies = cookies
            extra = {"Authorization": f"Bearer {token}"}
        tally.cases[operation.label] += 1
        try:
            response = case.call(base_url=base_url, headers=extra, timeout=120)
            tally.statuses[response.status_code] += 1
            case.validate_response(response, checks=CHECKS, headers=extra)
        except (Exception, BaseExceptionGroup) as exc:  # collected: every operation runs, each failure is reported
            tally.failures.setdefault(operation.label, str(exc)[:2000])

    run()


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_operation_answers_as_documented_and_never_500(function: str, base_url: str, owner: Owner) -> None:
    schema = schemathesis.openapi.from_url(f"{base_url}/api/{function}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, f"no operation in the {function} document"
    tally = Tally()
    # destructive operations last: the others keep the real ids they were given
    for operation in sorted(operations, key=lambda op: op.method.upper() == "DELETE"):
        fuzz(operation, owner, base_url, tally)
    cases = sum(tally.cases.values())
    print(f"\n{function}: {cases} cases over {len(tally.cases)} operations; statuses {dict(tally.statuses)}")
    assert len(tally.cases) == len(operations)
    assert tally.statuses[500] == 0
    assert tally.failures == {}, "\n\n".join(f"{k}: {v}" for k, v in tally.failures.items())
    # the cases reached the handlers, not only the gateway's 404 or the authentication's 401
    assert sum(n for code, n in tally.statuses.items() if code < 300) > 0


def test_the_owner_is_still_whole(base_url: str, owner: Owner) -> None:
    """The fuzzing ran as the owner without breaking its session (what logout would have done)."""
    me = requests.get(f"{base_url}/api/auth/me", headers={"authorization": f"Bearer {owner.token}"}, timeout=120)
    assert me.status_code == 200
