"""The database URL in AWS: built at run time from the RDS credentials secret, never passed in plain text.

template.yaml gives every function either DATABASE_URL (bring your own database; the local stack and the tests) or,
when the stack creates RDS, DATABASE_SECRET_ARN (the generated secret: `{"username", "password"}`, plus `host`,
`port` and `engine` once attached to the instance), DATABASE_HOST (the instance, or RDS Proxy when enabled: it wins
over the secret's host) and DATABASE_NAME. The URL is `postgresql+pg8000://` with TLS (DATABASE_SSLMODE, default
`require`: encrypted; `verify-full` with DATABASE_SSLROOTCERT pointing at the RDS CA bundle also checks the server).

The password only ever lives in the returned URL (which the engine module never logs); errors name the variable or the
secret's missing key, never a value.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any, Final

from sqlalchemy.engine import URL

from labfolio_common.errors import ConfigurationError

SSL_MODES: Final = ("disable", "require", "verify-ca", "verify-full")
DEFAULT_SSL_MODE: Final = "require"


def url_from_secret(
    secret: Mapping[str, Any],
    *,
    host: str | None = None,
    port: int | str | None = None,
    name: str | None = None,
    sslmode: str | None = None,
    sslrootcert: str | None = None,
) -> str:
    """A postgresql+pg8000 URL from the secret's fields; explicit host/port/name win over the secret's."""
    username = secret.get("username")
    password = secret.get("password")
    for key, value in (("username", username), ("password", password)):
        if not isinstance(value, str) or not value:
            raise ConfigurationError(f"invalid configuration: DATABASE_SECRET_ARN: the secret has no {key}")
    host = host or secret.get("host")
    if not host:
        raise ConfigurationError("invalid configuration: DATABASE_HOST: missing (and the secret has no host)")
    raw_port = port or secret.get("port") or 5432
    try:
        port_number = int(raw_port)
    except (TypeError, ValueError):
        raise ConfigurationError("invalid configuration: DATABASE_PORT: not a number") from None
    if not 0 < port_number < 65536:
        raise ConfigurationError("invalid configuration: DATABASE_PORT: out of range")
    database = name or secret.get("dbname")
    if not database:
        raise ConfigurationError("invalid configuration: DATABASE_NAME: missing (and the secret has no dbname)")
    mode = sslmode or DEFAULT_SSL_MODE
    if mode not in SSL_MODES:
        raise ConfigurationError(f"invalid configuration: DATABASE_SSLMODE: one of {', '.join(SSL_MODES)}")
    query = {"sslmode": mode} | ({"sslrootcert": sslrootcert} if sslrootcert else {})
    url = URL.create(
        "postgresql+pg8000",
        username=username,
        password=password,
        host=str(host),
        port=port_number,
        database=str(database),
        query=query,
    )
    return url.render_as_string(hide_password=False)


def read_secret(secret_arn: str) -> dict[str, Any]:
    """The secret's JSON value (Secrets Manager, through the shared boto3 client)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from labfolio_common.aws import client

    try:
        value = client("secretsmanager").get_secret_value(SecretId=secret_arn).get("SecretString")
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise ConfigurationError(
            f"invalid configuration: DATABASE_SECRET_ARN: cannot read the secret ({code})"
        ) from None
    except BotoCoreError as exc:
        raise ConfigurationError(
            f"invalid configuration: DATABASE_SECRET_ARN: cannot read the secret ({type(exc).__name__})"
        ) from None
    try:
        secret = json.loads(value or "")
    except ValueError:
        secret = None
    if not isinstance(secret, dict):
        raise ConfigurationError("invalid configuration: DATABASE_SECRET_ARN: the secret is not a JSON object")
    return secret


def url_from_secret_arn(
    secret_arn: str,
    *,
    host: str | None = None,
    port: int | str | None = None,
    name: str | None = None,
    sslmode: str | None = None,
    sslrootcert: str | None = None,
) -> str:
    return url_from_secret(
        read_secret(secret_arn), host=host, port=port, name=name, sslmode=sslmode, sslrootcert=sslrootcert
    )


def database_url_from_environment(environ: Mapping[str, str] | None = None) -> str:
    """DATABASE_URL when set (and not empty), else the URL built from DATABASE_SECRET_ARN and its companions."""
    env = os.environ if environ is None else environ
    if env.get("DATABASE_URL"):
        return env["DATABASE_URL"]
    secret_arn = env.get("DATABASE_SECRET_ARN")
    if not secret_arn:
        raise ConfigurationError("invalid configuration: DATABASE_URL: missing (or DATABASE_SECRET_ARN)")
    return url_from_secret_arn(
        secret_arn,
        host=env.get("DATABASE_HOST") or None,
        port=env.get("DATABASE_PORT") or None,
        name=env.get("DATABASE_NAME") or None,
        sslmode=env.get("DATABASE_SSLMODE") or None,
        sslrootcert=env.get("DATABASE_SSLROOTCERT") or None,
    )
