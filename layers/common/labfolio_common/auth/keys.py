"""The JWT signing key: a Secrets Manager secret (JWT_SECRET_ARN), read once per process and cached.

In AWS the template generates the secret at deploy; the local stack creates it in moto with a key it keeps under
its data folder, so both run this same code. JWT_SIGNING_KEY (the key itself) exists for tests and benchmarks.
A rotated secret reaches a warm instance when it is recycled; tokens live at most an hour.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

from labfolio_common.errors import ConfigurationError, DependencyUnavailableError
from labfolio_common.settings import Settings

MIN_KEY_LENGTH: Final = 32


def signing_key(settings: Settings) -> bytes:
    """The key that signs and verifies tokens; ConfigurationError when neither setting names one."""
    if settings.jwt_signing_key is not None:
        return settings.jwt_signing_key.get_secret_value().encode("utf-8")
    if settings.jwt_secret_arn:
        return _secret_key(settings.jwt_secret_arn)
    raise ConfigurationError("invalid configuration: JWT_SECRET_ARN: missing (the JWT signing key secret)")


def _secret_key(secret_arn: str) -> bytes:
    return secret_bytes(secret_arn, "the JWT signing key", unavailable="signing key", min_length=MIN_KEY_LENGTH)


@lru_cache(maxsize=8)
def secret_bytes(secret_arn: str, name: str, *, unavailable: str, min_length: int) -> bytes:
    """A Secrets Manager string secret, read once per process; DependencyUnavailableError ("<unavailable>
    unavailable") when it cannot be read, ConfigurationError naming `name` when it is shorter than `min_length`."""
    from botocore.exceptions import BotoCoreError, ClientError

    from labfolio_common.aws import client

    try:
        value = client("secretsmanager").get_secret_value(SecretId=secret_arn).get("SecretString")
    except (BotoCoreError, ClientError) as exc:
        raise DependencyUnavailableError(f"{unavailable} unavailable ({type(exc).__name__})") from None
    if not isinstance(value, str) or len(value) < min_length:
        raise ConfigurationError(f"{name} secret must be a string of at least {min_length} characters")
    return value.encode("utf-8")


def clear_key_cache() -> None:
    """Forget cached secrets (tests that recreate them)."""
    secret_bytes.cache_clear()
