"""The throttles' caller address (labfolio_common.auth.viewer): API Gateway's sourceIp, except behind the stack's
CloudFront distribution, whose viewer address is believed only with the origin verification secret."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from labfolio_common.auth.viewer import (
    ORIGIN_VERIFY_HEADER,
    VIEWER_ADDRESS_HEADER,
    caller_address,
    clear_token_cache,
)
from labfolio_common.errors import ConfigurationError

from tests.fixtures.aws import MotoServer

pytestmark = pytest.mark.functional

TOKEN = "t" * 48
EDGE = "130.176.1.10"  # a CloudFront edge server, as API Gateway sees it
VIEWER = "203.0.113.7"


@pytest.fixture
def secret(aws: MotoServer) -> Iterator[str]:
    clear_token_cache()
    made = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name=f"origin-{uuid.uuid4().hex[:8]}", SecretString=TOKEN
    )
    yield str(made["ARN"])
    clear_token_cache()


def event(source: str = EDGE) -> dict[str, Any]:
    return {"requestContext": {"http": {"sourceIp": source}}}


def test_through_the_distribution_the_viewer_counts(secret: str) -> None:
    headers = {VIEWER_ADDRESS_HEADER: VIEWER, ORIGIN_VERIFY_HEADER: TOKEN}
    assert caller_address(event(), headers, secret, "unknown") == VIEWER
    assert caller_address(event(), {**headers, VIEWER_ADDRESS_HEADER: "2001:DB8::1"}, secret, "x") == "2001:db8::1"


@pytest.mark.parametrize(
    "headers",
    [
        {VIEWER_ADDRESS_HEADER: VIEWER},  # a caller straight to API Gateway writing the header itself
        {VIEWER_ADDRESS_HEADER: VIEWER, ORIGIN_VERIFY_HEADER: "t" * 47},  # a guess
        {VIEWER_ADDRESS_HEADER: VIEWER, ORIGIN_VERIFY_HEADER: TOKEN + "x"},
        {VIEWER_ADDRESS_HEADER: VIEWER, ORIGIN_VERIFY_HEADER: ""},
        {ORIGIN_VERIFY_HEADER: TOKEN},  # no viewer address
        {VIEWER_ADDRESS_HEADER: "not an address", ORIGIN_VERIFY_HEADER: TOKEN},
        {VIEWER_ADDRESS_HEADER: f"{VIEWER}, 10.0.0.1", ORIGIN_VERIFY_HEADER: TOKEN},
    ],
    ids=["no-secret", "short-guess", "longer", "empty", "no-viewer", "junk-viewer", "list"],
)
def test_otherwise_api_gateways_source_ip_counts(secret: str, headers: dict[str, str]) -> None:
    assert caller_address(event(), headers, secret, "unknown") == EDGE


def test_without_the_setting_the_header_is_never_believed(aws: MotoServer) -> None:
    headers = {VIEWER_ADDRESS_HEADER: VIEWER, ORIGIN_VERIFY_HEADER: TOKEN}
    assert caller_address(event(), headers, None, "unknown") == EDGE


def test_outside_lambda_the_peer_address_counts() -> None:
    assert caller_address({}, {}, None, "127.0.0.1") == "127.0.0.1"


def test_a_short_secret_is_a_configuration_error(aws: MotoServer) -> None:
    clear_token_cache()
    arn = boto3.client("secretsmanager", region_name="us-east-1").create_secret(Name="short", SecretString="abc")["ARN"]
    with pytest.raises(ConfigurationError, match="origin verification secret"):
        caller_address(event(), {VIEWER_ADDRESS_HEADER: VIEWER, ORIGIN_VERIFY_HEADER: "abc"}, arn, "unknown")
    clear_token_cache()
