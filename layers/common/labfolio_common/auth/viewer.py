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
from functools import lru_cache
from typing import Any, Final

from labfolio_common.errors import ConfigurationError, DependencyUnavailableError

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


@lru_cache(maxsize=4)
def _origin_token(secret_arn: str) -> bytes:
    from botocore.exceptions import BotoCoreError, ClientError

    from labfolio_common.aws import client

    try:
        value = client("secretsmanager").get_secret_value(SecretId=secret_arn).get("SecretString")
    except (BotoCoreError, ClientError) as exc:
        raise DependencyUnavailableError(f"origin verification secret unavailable ({type(exc).__name__})") from None
    if not isinstance(value, str) or len(value) < MIN_TOKEN_LENGTH:
        raise ConfigurationError(f"the origin verification secret must be at least {MIN_TOKEN_LENGTH} characters")
    return value.encode("utf-8")


def clear_token_cache() -> None:
    """Forget cached tokens (tests that recreate the secret)."""
    _origin_token.cache_clear()
