"""The database URL in AWS: built from the RDS credentials secret (Secrets Manager on the moto server) when
DATABASE_URL is not given; DATABASE_URL keeps working as before (the local stack, the tests, a database of your own)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from labfolio_common.db.credentials import database_url_from_environment, url_from_secret
from labfolio_common.db.engine import dispose_engine, get_engine
from labfolio_common.errors import ConfigurationError
from labfolio_common.settings import get_settings
from sqlalchemy import text
from sqlalchemy.engine import make_url

pytestmark = pytest.mark.functional

PASSWORD = "p@ss/word:with%odd#chars"  # RDS forbids some of these; the URL must survive any of them


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """What every function has besides the database (template.yaml's Globals), and no database setting."""
    monkeypatch.setenv("UPLOADS_BUCKET", "labfolio-test-uploads")
    monkeypatch.setenv("ANALYSIS_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/analysis")
    for name in ("DATABASE_URL", "DATABASE_SECRET_ARN", "DATABASE_HOST", "DATABASE_PORT", "DATABASE_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("DATABASE_SSLMODE", raising=False)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def _secret(aws: Any, value: Any) -> str:
    import boto3

    string = value if isinstance(value, str) else json.dumps(value)
    arn: str = boto3.client("secretsmanager").create_secret(Name="labfolio-db", SecretString=string)["ARN"]
    return arn


def test_settings_build_the_url_from_the_attached_secret_with_the_proxy_host(aws: Any, settings_env: Any) -> None:
    # The secret as SecretTargetAttachment leaves it: credentials plus the instance's host, port and engine.
    attached = {"username": "labfolio", "password": PASSWORD, "engine": "postgres", "host": "db.internal", "port": 5432}
    settings_env.setenv("DATABASE_SECRET_ARN", _secret(aws, attached))
    settings_env.setenv("DATABASE_HOST", "proxy.internal")  # RDS Proxy, when enabled, wins over the instance
    settings_env.setenv("DATABASE_NAME", "labfolio")
    settings = get_settings()
    url = make_url(settings.database_url)
    assert url.drivername == "postgresql+pg8000"
    assert (url.username, url.password, url.host, url.port, url.database) == (
        "labfolio",
        PASSWORD,
        "proxy.internal",
        5432,
        "labfolio",
    )
    assert url.query == {"sslmode": "require"}  # TLS to RDS by default
    assert PASSWORD not in repr(settings)


def test_the_secret_host_is_used_without_database_host(aws: Any, settings_env: Any) -> None:
    attached = {"username": "u", "password": "pw", "host": "db.internal", "port": "6543", "dbname": "appdb"}
    settings_env.setenv("DATABASE_SECRET_ARN", _secret(aws, attached))
    settings_env.setenv("DATABASE_SSLMODE", "verify-full")
    url = make_url(get_settings().database_url)
    assert (url.host, url.port, url.database, url.query["sslmode"]) == ("db.internal", 6543, "appdb", "verify-full")


def test_database_url_wins_and_the_secret_is_not_read(settings_env: Any) -> None:
    settings_env.setenv("DATABASE_URL", "sqlite:///tmp/x.db")
    settings_env.setenv("DATABASE_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:nowhere")
    assert get_settings().database_url == "sqlite:///tmp/x.db"  # no moto server here: a read would fail


def test_a_missing_secret_names_the_setting_not_a_value(aws: Any, settings_env: Any) -> None:
    settings_env.setenv("DATABASE_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:gone-AbCdEf")
    with pytest.raises(ConfigurationError, match=r"DATABASE_SECRET_ARN: cannot read the secret \(ResourceNotFound"):
        get_settings()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"username": "labfolio"}, "the secret has no password"),
        ({"password": "pw", "host": "h"}, "the secret has no username"),
        ({"username": "u", "password": "pw"}, "DATABASE_HOST: missing"),
        ("not json", "not a JSON object"),
    ],
)
def test_an_incomplete_secret_is_a_configuration_error(aws: Any, settings_env: Any, value: Any, message: str) -> None:
    settings_env.setenv("DATABASE_SECRET_ARN", _secret(aws, value))
    settings_env.setenv("DATABASE_NAME", "labfolio")
    with pytest.raises(ConfigurationError, match=message) as caught:
        get_settings()
    assert "pw" not in str(caught.value).replace("password", "")


def test_neither_url_nor_secret_names_database_url(settings_env: Any) -> None:
    with pytest.raises(ConfigurationError, match="DATABASE_URL: missing"):
        get_settings()
    with pytest.raises(ConfigurationError, match="DATABASE_URL: missing"):
        database_url_from_environment({})


def test_bad_ssl_mode_and_port_are_refused() -> None:
    secret = {"username": "u", "password": "pw", "host": "h"}
    with pytest.raises(ConfigurationError, match="DATABASE_SSLMODE"):
        url_from_secret(secret, name="d", sslmode="prefer-maybe")
    with pytest.raises(ConfigurationError, match="DATABASE_PORT"):
        url_from_secret(secret, name="d", port="54x")


@pytest.mark.integration
def test_the_url_from_the_secret_connects_to_postgresql(aws: Any, fresh_postgres_url: str) -> None:
    server = make_url(fresh_postgres_url)
    arn = _secret(aws, {"username": server.username, "password": PASSWORD, "host": server.host, "port": server.port})
    environment = {"DATABASE_SECRET_ARN": arn, "DATABASE_NAME": str(server.database), "DATABASE_SSLMODE": "disable"}
    url = database_url_from_environment(environment)
    try:
        with get_engine(url).connect() as connection:
            assert connection.execute(text("SELECT current_database()")).scalar() == server.database
    finally:
        dispose_engine(url)
