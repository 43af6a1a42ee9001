"""The authorization matrix: two accounts x every protected route x every resource id of the other account → 404,
exactly as for an id that does not exist, and the owner's data untouched.

The routes come from template.yaml (what API Gateway serves), so a new route is in the matrix without anyone adding
it; each `{path parameter}` is filled from the ids the owner really has, and a route whose parameter the matrix does
not know how to fill fails `test_the_matrix_knows_every_path_parameter` instead of being skipped. Each request goes
through the function's real Lambda entry point as an API Gateway HTTP API (payload 2.0) event.
"""

from __future__ import annotations

import itertools
import json
import re
import uuid
from typing import Any

import pytest
from labfolio_common.db.engine import session_scope
from labfolio_common.db.models import Analysis, Holding, Portfolio, Upload, UserPortfolio
from sqlalchemy import func, select

from local.aws_resources import LocalResources
from local.model import load_model
from tests.fixtures.analyses import Account, browser_upload, drain, ready_portfolio, worker
from tests.fixtures.pipeline import notifications
from tests.functional.test_route_protection import is_public

pytestmark = pytest.mark.functional

FUNCTIONS = {"AuthFunction": "auth", "PortfoliosFunction": "portfolios", "AnalysisFunction": "analysis"}
BOOK = b"ticker,quantity\nAAPL,120\nMSFT,60\nJPM,-80\nKO,150\nXOM,100\n"
ROUTES = sorted((r.method, r.path, FUNCTIONS[r.function]) for r in load_model().routes)
PROTECTED = [r for r in ROUTES if not is_public(r[0], r[1])]
WITH_IDS = [r for r in PROTECTED if "{" in r[1]]
WITHOUT_IDS = [r for r in PROTECTED if "{" not in r[1]]
PARAMETER = re.compile(r"\{([^}]+)\}")
# What each path parameter names, and so which of the owner's ids fill it. A route with any other parameter fails
# test_the_matrix_knows_every_path_parameter until it is added here.
RESOURCES = {"portfolio_id": "portfolios", "analysis_id": "analyses"}
# A body each state-changing route would accept from its owner: the 404 must not depend on the body being wrong.
BODIES: dict[tuple[str, str], Any] = {
    ("PATCH", "/api/portfolios/{portfolio_id}"): {"portfolio_name": "taken over"},
    ("POST", "/api/portfolios/{portfolio_id}/analyses"): {},
}
RAW: dict[tuple[str, str], bytes] = {("PUT", "/api/portfolios/{portfolio_id}/csv"): BOOK}


def test_the_matrix_knows_every_path_parameter() -> None:
    unknown = {
        (method, path, name)
        for method, path, _ in WITH_IDS
        for name in PARAMETER.findall(path)
        if name not in RESOURCES
    }
    assert unknown == set(), f"routes with a path parameter the authorization matrix cannot fill: {sorted(unknown)}"
    assert len(WITH_IDS) >= 12  # the walk sees the portfolios and the analyses routes


@pytest.fixture
def env(factor_env: LocalResources) -> LocalResources:
    return factor_env


class Owned:
    """Alice's resources in every state the routes can meet: portfolios ready (with a ready and a queued analysis),
    awaiting their file, and failed; Bob's own portfolio, so his requests run the per-user paths with data."""

    def __init__(self, alice: Account, bob: Account, env: LocalResources, context: Any) -> None:
        ready = ready_portfolio(alice, env, context, BOOK)
        assert drain(env, context) == [{"batchItemFailures": []}]  # its default analysis, ready
        awaiting = alice.portfolio("Awaiting").body["portfolio_id"]
        failed = alice.portfolio("Failed")
        browser_upload(failed.body["upload"], b"ticker,quantity\n=cmd|' /C calc'!A0,1\n")
        assert worker(notifications(env), context) == {"batchItemFailures": []}
        queued = alice("POST", f"/api/portfolios/{ready}/analyses", {"factor_ids": ["SP500", "MTUM"]})
        assert queued.status == 202, queued.body
        listed = alice("GET", f"/api/portfolios/{ready}/analyses").body["items"]
        self.ids = {
            "portfolios": [ready, awaiting, failed.body["portfolio_id"]],
            "analyses": [item["analysis_id"] for item in listed],
        }
        assert len(self.ids["analyses"]) == 2 and {i["status"] for i in listed} == {"ready", "queued"}
        bob.portfolio("Bob's own")

    def fillings(self, path: str) -> list[dict[str, str]]:
        names = PARAMETER.findall(path)
        choices = [self.ids[RESOURCES[name]] for name in names]
        return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*choices)]


def snapshot(database_url: str, env: LocalResources, user_id: str) -> dict[str, Any]:
    """Everything of an account that a request could change: its rows and its objects."""
    owner = uuid.UUID(user_id)
    with session_scope(database_url) as db:
        portfolio_ids = list(db.scalars(select(UserPortfolio.portfolio_id).where(UserPortfolio.user_id == owner)))
        portfolios = sorted(
            (str(p.portfolio_id), p.portfolio_name, p.status, str(p.updated_at))
            for p in db.scalars(select(Portfolio).where(Portfolio.portfolio_id.in_(portfolio_ids)))
        )
        counts = {
            model.__name__: int(
                db.scalar(select(func.count()).select_from(model).where(model.portfolio_id.in_(portfolio_ids))) or 0
            )
            for model in (Holding, Upload, Analysis)
        }
    listed = env.s3.list_objects_v2(Bucket=env.bucket_names()[0], Prefix=f"uploads/{user_id}/")
    keys = sorted(o["Key"] for o in listed.get("Contents", []))
    return {"portfolios": portfolios, "counts": counts, "objects": keys}


def fill(path: str, values: dict[str, str]) -> str:
    return PARAMETER.sub(lambda m: values[m.group(1)], path)


def test_every_route_answers_404_for_every_id_of_another_account(
    env: LocalResources, database_url: str, lambda_context: Any
) -> None:
    alice, bob = Account(lambda_context, "alice"), Account(lambda_context, "bob")
    owned = Owned(alice, bob, env, lambda_context)
    notifications(env)  # what the setup queued is not Bob's doing
    before = snapshot(database_url, env, alice.user_id)
    tried = []
    for method, path, function in WITH_IDS:
        body, raw = BODIES.get((method, path)), RAW.get((method, path))
        missing = bob(
            method,
            fill(path, {n: str(uuid.uuid4()) for n in PARAMETER.findall(path)}),
            body,
            function=function,
            raw=raw,
        )
        assert missing.status == 404, (method, path, missing.body)
        for values in owned.fillings(path):
            answer = bob(method, fill(path, values), body, function=function, raw=raw)
            assert (answer.status, answer.body) == (missing.status, missing.body), (method, path, values)
            tried.append((method, path, tuple(values.values())))
    print(f"\nauthorization matrix: {len(WITH_IDS)} routes x the other account's ids = {len(tried)} requests, all 404")
    assert len(tried) == sum(len(owned.fillings(p)) for _, p, _ in WITH_IDS)
    # nothing of Alice's changed, nothing was queued for her portfolios, and Bob wrote nothing under her name
    assert snapshot(database_url, env, alice.user_id) == before
    assert notifications(env)["Records"] == []
    # her own requests still work on every one of those ids
    for portfolio_id in owned.ids["portfolios"]:
        assert alice("GET", f"/api/portfolios/{portfolio_id}", function="portfolios").status == 200
    for analysis_id in owned.ids["analyses"]:
        assert alice("GET", f"/api/analyses/{analysis_id}").status == 200
    # and the routes without ids (lists, the caller's account) show Bob nothing of hers
    secrets = [alice.user_id, *owned.ids["portfolios"], *owned.ids["analyses"], "alice"]
    reads = [(path, function) for method, path, function in WITHOUT_IDS if method == "GET"]
    assert len(reads) >= 2  # GET /api/portfolios and GET /api/auth/me at least
    for path, function in reads:
        answer = bob("GET", path, function=function)
        assert answer.status == 200, (path, answer.body)
        text = json.dumps(answer.body)
        assert not [s for s in secrets if s in text], (path, text[:500])
