"""The security headers CloudFront adds in AWS (template.yaml's SecurityHeadersPolicy), for the local gateway to send
on every answer, so the local stack behaves as deployed and the browser tests run under the real policy.

Read from the template, not repeated: the Content-Security-Policy as deployed, with the two changes a plain-HTTP
stack on one machine needs - `connect-src` names the local object store (moto) where the deployed policy names the
uploads bucket's S3 endpoints, and `upgrade-insecure-requests` is left out (the stack serves http://127.0.0.1).
Strict-Transport-Security is left out too: browsers ignore it over HTTP."""

from __future__ import annotations

import re
from typing import Any

from local.model import StackModel

POLICY = "SecurityHeadersPolicy"


def security_headers(model: StackModel, resolved: Any, object_store: str) -> dict[str, str]:
    """Header name -> value. `resolved` resolves the template's intrinsics (local.model.Resolver.resolve);
    `object_store` is the origin the browser uploads to (the moto server's)."""
    config = model.template["Resources"][POLICY]["Properties"]["ResponseHeadersPolicyConfig"]
    security = config["SecurityHeadersConfig"]
    csp = " ".join(str(resolved(security["ContentSecurityPolicy"]["ContentSecurityPolicy"])).split())
    directives = [d.strip() for d in csp.split(";") if d.strip()]
    local = []
    for directive in directives:
        name = directive.split()[0]
        if name == "upgrade-insecure-requests":
            continue
        if name == "connect-src":
            kept = [s for s in directive.split()[1:] if not re.match(r"https://[^ ]+\.amazonaws\.com$", s)]
            directive = " ".join([name, *kept, object_store])
        local.append(directive)
    headers = {
        "Content-Security-Policy": "; ".join(local),
        "X-Frame-Options": security["FrameOptions"]["FrameOption"],
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": security["ReferrerPolicy"]["ReferrerPolicy"],
    }
    for item in config.get("CustomHeadersConfig", {}).get("Items", []):
        headers[item["Header"]] = item["Value"]
    return headers
