"""Every route of every HTTP function answers 401 without credentials, except an explicit allow-list of public ones.

Routes are read from template.yaml (what API Gateway serves), not listed by hand, so a new route that forgets
`CurrentUser` fails here. Each is invoked through its function's real Lambda entry point with an API Gateway
HTTP API (payload 2.0) event.
"""

from __future__ import annotations

import importlib
import re
import uuid
from typing import Any

import pytest
from fastapi.routing import APIRoute
from labfolio_common.auth.deps import authenticate

from local.model import load_model
from tests.fixtures.auth import AuthClient, call, event

pytestmark = pytest.mark.functional

# The public routes, on purpose. Anything else must authenticate.
PUBLIC = {
    ("GET", "/api/health"),
    ("POST", "/api/auth/signup"),
    ("POST", "/api/auth/login"),
    ("GET", "/api/portfolios/template.csv"),  # issue 5: the portfolio template (the demo holdings)
}
PUBLIC_PATTERNS = (
    re.compile(r"GET /api/[a-z_]+/(health|openapi\.json)"),
    re.compile(r"GET /api/factors(/.*)?"),  # the factor library (issue 4): public market data, read only
)
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

MODEL = load_model()
ROUTES = sorted((r.method, r.path, r.function) for r in MODEL.routes)


def is_public(method: str, path: str) -> bool:
    return (method, path) in PUBLIC or any(p.fullmatch(f"{method} {path}") for p in PUBLIC_PATTERNS)


def handler_module(logical_id: str) -> str:
    return MODEL.functions[logical_id].handler.rsplit(".", 1)[0]


def concrete(path: str) -> str:
    """A request path for a route path: every {param} becomes a uuid, {proxy+} a segment."""
    return re.sub(r"\{[^}]+\}", lambda m: "x" if m.group(0).endswith("+}") else str(uuid.uuid4()), path)


def invoke(logical_id: str, method: str, path: str, context: Any, **kwargs: Any) -> Any:
    module = importlib.import_module(handler_module(logical_id))
    body = None if method in SAFE_METHODS else {}
    return call_module(module, event(method, concrete(path), body, **kwargs), context)


def call_module(module: Any, ev: dict[str, Any], context: Any) -> Any:
    from tests.fixtures.auth import HANDLERS

    function = next(name for name, mod in HANDLERS.items() if mod == module.__name__)
    return call(function, ev, context)


@pytest.fixture
def env(lambda_env: Any) -> Any:
    return lambda_env


def test_the_walk_sees_every_http_function() -> None:
    assert {handler_module(fn) for _, _, fn in ROUTES} == {"auth.handler", "portfolios.handler", "analysis.handler"}
    assert len([r for r in ROUTES if not is_public(r[0], r[1])]) >= 5


@pytest.mark.parametrize(("method", "path", "function"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_route_without_credentials_is_401_unless_public(
    method: str, path: str, function: str, env: Any, lambda_context: Any
) -> None:
    answer = invoke(function, method, path, lambda_context)
    if is_public(method, path):
        assert answer.status != 401, answer.body
        return
    assert answer.status == 401, answer.body
    assert answer.body["error"] == "unauthorized"
    assert answer.headers.get("www-authenticate") == "Bearer"
    forged = invoke(function, method, path, lambda_context, headers={"authorization": "Bearer not.a.token"})
    assert forged.status == 401, forged.body


def test_a_path_with_a_trailing_slash_is_404_never_a_redirect(env: Any, lambda_context: Any) -> None:
    """The red-team round: GET /api/portfolios/{id}/ answered 307 before authentication, with a Location built from
    the Host header (https://evil.example/...). Paths match exactly, as API Gateway matches them."""
    for method, path, function in ROUTES:
        if path.endswith("+}"):
            continue  # {proxy+} takes the slash as part of its value
        headers = {"host": "evil.example", "x-forwarded-host": "evil.example"}
        answer = call_module(
            importlib.import_module(handler_module(function)),
            event(method, concrete(path) + "/", None if method in SAFE_METHODS else {}, headers=headers),
            lambda_context,
        )
        assert (answer.status, answer.headers.get("location")) == (404, None), (method, path, answer.status)


def test_every_state_changing_route_refuses_a_cookie_without_the_csrf_header(env: Any, lambda_context: Any) -> None:
    signed = AuthClient(lambda_context).signup("csrf.walker")
    cookie = f"labfolio_session={signed.cookie('labfolio_session')}"
    checked = []
    for method, path, function in ROUTES:
        if is_public(method, path) or method in SAFE_METHODS:
            continue
        answer = invoke(function, method, path, lambda_context, cookies=[cookie])
        assert answer.status == 403, (method, path, answer.body)
        checked.append((method, path))
    assert ("POST", "/api/auth/logout") in checked and ("DELETE", "/api/auth/me") in checked
    assert AuthClient(lambda_context).me(signed.body["access_token"]).status == 200  # nothing was changed


def _depends_on_authenticate(dependant: Any) -> bool:
    return any(d.call is authenticate or _depends_on_authenticate(d) for d in dependant.dependencies)


@pytest.mark.parametrize("module", ["auth.api", "portfolios.api", "analysis.api"])
def test_every_protected_route_declares_current_user(module: str) -> None:
    app = importlib.import_module(module).app
    for route in app.routes:
        if not isinstance(route, APIRoute):
            continue
        for method in route.methods:
            protected = _depends_on_authenticate(route.dependant)
            assert protected != is_public(method, route.path), f"{method} {route.path}"
