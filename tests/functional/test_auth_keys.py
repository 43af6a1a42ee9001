"""The JWT signing key: read from the Secrets Manager secret the template declares (moto here), once per process;
a missing or broken configuration fails loudly and names the setting."""

from __future__ import annotations

from typing import Any

import pytest
from labfolio_common.auth.keys import signing_key
from labfolio_common.errors import ConfigurationError
from labfolio_common.settings import get_settings

from local.aws_resources import LocalResources, aws_client
from tests.fixtures.auth import AuthClient

pytestmark = pytest.mark.functional


@pytest.fixture
def env(lambda_env: LocalResources) -> LocalResources:
    return lambda_env


def secrets_client(resources: LocalResources) -> Any:
    return aws_client("secretsmanager", resources.endpoint)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_key_is_the_templates_secret_read_once(env: LocalResources, database_url: str) -> None:
    arn = env.physical["JwtSigningKeySecret"]["Ref"]
    assert get_settings().jwt_secret_arn == arn
    value = secrets_client(env).get_secret_value(SecretId=arn)["SecretString"]
    assert len(value) == 64 and value.isalnum()
    assert signing_key(get_settings()) == value.encode()
    # cached: the secret is not read again by a warm instance
    secrets_client(env).delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    assert signing_key(get_settings()) == value.encode()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_missing_key_configuration_names_the_setting(
    env: LocalResources, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JWT_SECRET_ARN")
    get_settings.cache_clear()
    with pytest.raises(ConfigurationError, match="JWT_SECRET_ARN: missing"):
        signing_key(get_settings())


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_unreachable_secret_is_503_not_a_crash(
    env: LocalResources, database_url: str, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JWT_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope-AbCdEf")
    get_settings.cache_clear()
    answer = AuthClient(lambda_context).request(
        "POST", "/api/auth/signup", {"username": "early.bird", "password": "correct horse battery"}
    )
    assert answer.status == 503
    assert answer.body == {"error": "unavailable", "detail": "signing key unavailable (ResourceNotFoundException)"}
    # nothing was kept of the failed sign-up: the name is still free once the key is back
    monkeypatch.setenv("JWT_SECRET_ARN", env.physical["JwtSigningKeySecret"]["Ref"])
    get_settings.cache_clear()
    assert AuthClient(lambda_context).signup("early.bird").status == 201


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_short_secret_is_refused(env: LocalResources, database_url: str) -> None:
    secrets_client(env).put_secret_value(SecretId=env.physical["JwtSigningKeySecret"]["Ref"], SecretString="short")
    with pytest.raises(ConfigurationError, match="at least 32"):
        signing_key(get_settings())


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_tokens_of_one_key_fail_under_another(
    env: LocalResources, database_url: str, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = AuthClient(lambda_context)
    token = client.signup("rotated").body["access_token"]
    monkeypatch.setenv("JWT_SIGNING_KEY", "n" * 64)  # the direct key (tests, benchmarks) wins over the secret
    get_settings.cache_clear()
    assert signing_key(get_settings()) == b"n" * 64
    assert client.me(token).status == 401
    assert client.me(client.login("rotated").body["access_token"]).status == 200
