"""The local gateway sends the security headers CloudFront adds in AWS (template.yaml's SecurityHeadersPolicy), over
whatever a function sent, and says nothing of itself; its API docs load nothing from a CDN and run no inline script.
The red-team round found `server: uvicorn`, no CSP, no X-Frame-Options, no nosniff, and Swagger UI from a public CDN
at a floating version without integrity."""

from __future__ import annotations

import re
from typing import Any

import pytest

from local.gateway import create_gateway
from local.headers import security_headers
from local.model import HttpRoute, Resolver, load_model
from tests.functional.test_gateway_limits import _get

pytestmark = pytest.mark.functional

MOTO = "http://127.0.0.1:4566"
MODEL = load_model()


def _headers() -> dict[str, str]:
    return security_headers(MODEL, Resolver(MODEL, {}).resolve, MOTO)


def _directives(csp: str) -> dict[str, str]:
    return {d.split()[0]: d.strip() for d in csp.split(";") if d.strip()}


def test_the_policy_is_the_deployed_one_but_for_what_plain_http_on_one_machine_needs() -> None:
    deployed = MODEL.template["Resources"]["SecurityHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]
    template_csp = " ".join(
        str(
            Resolver(MODEL, {}).resolve(
                deployed["SecurityHeadersConfig"]["ContentSecurityPolicy"]["ContentSecurityPolicy"]
            )
        ).split()
    )
    local, aws = _directives(_headers()["Content-Security-Policy"]), _directives(template_csp)
    assert set(aws) - set(local) == {"upgrade-insecure-requests"}  # the local stack serves http://127.0.0.1
    assert local["connect-src"] == f"connect-src 'self' {MOTO}"  # uploads go to the local object store
    assert re.search(r"https://\S+\.s3\.\S*amazonaws\.com", aws["connect-src"])
    assert {k: v for k, v in local.items() if k != "connect-src"} == {
        k: v for k, v in aws.items() if k not in ("connect-src", "upgrade-insecure-requests")
    }
    assert local["frame-ancestors"] == "frame-ancestors 'none'" and local["script-src"] == "script-src 'self'"
    assert {k: v for k, v in _headers().items() if k != "Content-Security-Policy"} == {
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    }


def _gateway(result: dict[str, Any]) -> Any:
    return create_gateway([HttpRoute("GET", "/api/things", "Fn")], lambda function, event: result, None, _headers())


def test_every_answer_carries_them_over_what_the_function_sent() -> None:
    result = {"statusCode": 200, "headers": {"x-frame-options": "ALLOWALL", "server": "mine"}, "body": "{}"}
    gateway = _gateway(result)
    for path in ("/api/things", "/api/nothing-here", "/api/docs"):
        answer = _get(gateway, path)
        assert {k.lower(): v for k, v in _headers().items()}.items() <= answer.headers.items(), path
        assert "server" not in answer.headers


def test_the_api_docs_load_swagger_ui_from_the_installed_package_and_run_no_inline_script() -> None:
    gateway = _gateway({"statusCode": 200, "body": "{}"})
    page = _get(gateway, "/api/docs").body.decode()
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S)
    assert scripts and all('src="/api/docs/assets/' in attrs and not body.strip() for attrs, body in scripts)
    assert not re.search(r"https?://", page)  # nothing from elsewhere
    bundle = _get(gateway, "/api/docs/assets/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and len(bundle.body) > 500_000 and b"SwaggerUIBundle" in bundle.body
    assert _get(gateway, "/api/docs/assets/swagger-ui.css").status_code == 200
    assert b"SwaggerUIBundle(" in _get(gateway, "/api/docs/assets/docs.js").body
    assert _get(gateway, "/api/docs/assets/..%2Fcore.py").status_code == 404
    assert _get(gateway, "/api/docs/assets/favicon.png").status_code == 404  # only what the page loads
