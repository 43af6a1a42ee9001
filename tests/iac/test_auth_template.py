"""template.yaml's auth parts: the generated JWT signing key, who may read it, and API Gateway's throttling."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.iac

HTTP_FUNCTIONS = {"AuthFunction", "PortfoliosFunction", "AnalysisFunction"}
SECRET_REF = {"Ref": "JwtSigningKeySecret"}


def secret_readers(functions: dict[str, dict[str, Any]]) -> set[str]:
    readers = set()
    for name, props in functions.items():
        for policy in props.get("Policies", []):
            if isinstance(policy, dict) and "AWSSecretsManagerGetSecretValuePolicy" in policy:
                assert policy["AWSSecretsManagerGetSecretValuePolicy"] == {"SecretArn": SECRET_REF}, name
                readers.add(name)
    return readers


def test_signing_key_is_generated_at_deploy_and_never_written_in_the_template(resources: dict[str, Any]) -> None:
    secret = resources["JwtSigningKeySecret"]
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    props = secret["Properties"]
    assert "SecretString" not in props
    assert props["GenerateSecretString"]["PasswordLength"] >= 64  # >= 256 bits of [A-Za-z0-9] for HS256
    assert props["GenerateSecretString"]["ExcludePunctuation"] is True


def test_only_the_http_functions_may_read_the_signing_key(
    template: dict[str, Any], functions: dict[str, dict[str, Any]]
) -> None:
    assert secret_readers(functions) == HTTP_FUNCTIONS
    assert template["Globals"]["Function"]["Environment"]["Variables"]["JWT_SECRET_ARN"] == SECRET_REF
    assert not [o for o in template["Outputs"].values() if o["Value"] == SECRET_REF]


def test_api_has_a_default_throttle_and_tighter_ones_on_login_and_signup(
    resources: dict[str, Any], functions: dict[str, dict[str, Any]]
) -> None:
    default = resources["HttpApi"]["Properties"]["DefaultRouteSettings"]
    assert default["ThrottlingRateLimit"] > 0 and default["ThrottlingBurstLimit"] >= default["ThrottlingRateLimit"]
    events = {ev["Properties"]["Path"]: ev["Properties"] for ev in functions["AuthFunction"]["Events"].values()}
    for path in ("/api/auth/login", "/api/auth/signup"):
        tight = events[path]["RouteSettings"]
        assert tight["ThrottlingRateLimit"] < default["ThrottlingRateLimit"], path
        assert tight["ThrottlingBurstLimit"] < default["ThrottlingBurstLimit"], path
