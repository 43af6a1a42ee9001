"""Who is calling, by network address — for the login and signup throttles.

Straight to API Gateway, the address is `requestContext.http.sourceIp` (never X-Forwarded-For, which the caller
writes). Through the stack's CloudFront distribution (the site's `/api/*`), sourceIp is a CloudFront edge server's
address shared by many people, so throttling it would let one attacker lock everyone behind that edge out. There a
CloudFront Function (template.yaml: ViewerAddressFunction) writes the viewer's own address into
`x-labfolio-viewer-address`, over any value the caller sent, and the distribution adds `x-labfolio-origin-verify`
with a secret only it and the auth function know (ORIGIN_VERIFY_SECRET_ARN, read once per instance). The viewer
address is believed only when that secret matches; anyone calling API Gateway directly is judged by sourceIp.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Any, Final

from labfolio_common.auth.keys import clear_key_cache, secret_bytes

VIEWER_ADDRESS_HEADER: Final = "x-labfolio-viewer-address"
ORIGIN_VERIFY_HEADER: Final = "x-labfolio-origin-verify"
MIN_TOKEN_LENGTH: Final = 32


def caller_address(event: dict[str, Any], headers: Any, verify_secret_arn: str | None, fallback: str) -> str:
    """The caller's address: the CloudFront viewer's when the request provably came through the distribution, else
    API Gateway's sourceIp (else `fallback`, a server's peer address outside Lambda)."""
    viewer = headers.get(VIEWER_ADDRESS_HEADER)
    if viewer and verify_secret_arn and _through_distribution(headers.get(ORIGIN_VERIFY_HEADER), verify_secret_arn):
        try:
            return str(ipaddress.ip_address(viewer.strip()))
        except ValueError:
            pass  # CloudFront writes a bare address; anything else is not it
    source = event.get("requestContext", {}).get("http", {}).get("sourceIp")
    return source if isinstance(source, str) and source else fallback


def _through_distribution(given: str | None, secret_arn: str) -> bool:
    if not given:
        return False
    return hmac.compare_digest(given.encode("utf-8"), _origin_token(secret_arn))


def _origin_token(secret_arn: str) -> bytes:
    return secret_bytes(
        secret_arn, "the origin verification", unavailable="origin verification secret", min_length=MIN_TOKEN_LENGTH
    )


def clear_token_cache() -> None:
    """Forget cached secrets (tests that recreate the secret)."""
    clear_key_cache()
