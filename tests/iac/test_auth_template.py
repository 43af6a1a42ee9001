"""template.yaml's auth parts: the generated JWT signing key, who may read it, and API Gateway's throttling."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.iac

HTTP_FUNCTIONS = {"AuthFunction", "PortfoliosFunction", "AnalysisFunction"}
SECRET_REF = {"Ref": "JwtSigningKeySecret"}


ORIGIN_REF = {"Ref": "OriginVerifySecret"}


def secret_readers(functions: dict[str, dict[str, Any]], secret: dict[str, str] = SECRET_REF) -> set[str]:
    readers = set()
    for name, props in functions.items():
        for policy in props.get("Policies", []):
            if isinstance(policy, dict) and "AWSSecretsManagerGetSecretValuePolicy" in policy:
                assert policy["AWSSecretsManagerGetSecretValuePolicy"]["SecretArn"] in (SECRET_REF, ORIGIN_REF), name
                if policy["AWSSecretsManagerGetSecretValuePolicy"] == {"SecretArn": secret}:
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


def test_behind_cloudfront_only_auth_reads_the_origin_secret_cloudfront_sends(
    resources: dict[str, Any], functions: dict[str, dict[str, Any]]
) -> None:
    """The login throttle's viewer address (labfolio_common.auth.viewer): CloudFront's function writes it on every
    /api/* request and the API origin carries the generated secret that makes the auth function believe it."""
    props = resources["OriginVerifySecret"]["Properties"]
    assert "SecretString" not in props and props["GenerateSecretString"]["PasswordLength"] >= 32
    assert secret_readers(functions, ORIGIN_REF) == {"AuthFunction"}
    assert functions["AuthFunction"]["Environment"]["Variables"]["ORIGIN_VERIFY_SECRET_ARN"] == ORIGIN_REF
    config = resources["Distribution"]["Properties"]["DistributionConfig"]
    (api,) = [origin for origin in config["Origins"] if origin["Id"] == "api"]
    (header,) = api["OriginCustomHeaders"]
    assert header["HeaderName"] == "x-labfolio-origin-verify"
    assert header["HeaderValue"] == {"Fn::Sub": "{{resolve:secretsmanager:${OriginVerifySecret}:SecretString}}"}
    (behaviour,) = [b for b in config["CacheBehaviors"] if b["PathPattern"] == "/api/*"]
    (association,) = behaviour["FunctionAssociations"]
    assert association["EventType"] == "viewer-request"
    code = resources["ViewerAddressFunction"]["Properties"]["FunctionCode"]
    assert "request.headers['x-labfolio-viewer-address'] = { value: event.viewer.ip }" in code
