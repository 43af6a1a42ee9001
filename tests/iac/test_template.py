"""Structural checks of template.yaml and samconfig.toml: what cfn-lint cannot know about labfolio's design."""

from __future__ import annotations

import re
import tomllib
from typing import Any

import pytest

from local.template import SAMCONFIG_PATH, parameter_overrides

from .conftest import ROOT

pytestmark = pytest.mark.iac

LAYER_REF = {"Ref": "CommonLayer"}
SERVICE_NAMES = {
    "AuthFunction": "auth",
    "PortfoliosFunction": "portfolios",
    "AnalysisFunction": "analysis",
    "AnalysisWorkerFunction": "analysis-worker",
    "FactorUpdateFunction": "factor-update",
    "MigrateFunction": "migrate",
}
# docs/CONTRACT.md, "HTTP routes": the gateway serves exactly these.
ROUTES = {
    ("GET", "/api/auth/health"): "AuthFunction",
    ("GET", "/api/auth/openapi.json"): "AuthFunction",
    ("POST", "/api/auth/signup"): "AuthFunction",
    ("POST", "/api/auth/login"): "AuthFunction",
    ("POST", "/api/auth/refresh"): "AuthFunction",
    ("POST", "/api/auth/logout"): "AuthFunction",
    ("GET", "/api/auth/me"): "AuthFunction",
    ("DELETE", "/api/auth/me"): "AuthFunction",
    ("POST", "/api/auth/password"): "AuthFunction",
    ("GET", "/api/health"): "PortfoliosFunction",
    ("GET", "/api/health/detail"): "PortfoliosFunction",
    ("GET", "/api/portfolios/health"): "PortfoliosFunction",
    ("GET", "/api/portfolios/openapi.json"): "PortfoliosFunction",
    ("GET", "/api/portfolios/template.csv"): "PortfoliosFunction",
    ("POST", "/api/portfolios"): "PortfoliosFunction",
    ("GET", "/api/portfolios"): "PortfoliosFunction",
    ("GET", "/api/portfolios/{portfolio_id}"): "PortfoliosFunction",
    ("PATCH", "/api/portfolios/{portfolio_id}"): "PortfoliosFunction",
    ("DELETE", "/api/portfolios/{portfolio_id}"): "PortfoliosFunction",
    ("PUT", "/api/portfolios/{portfolio_id}/csv"): "PortfoliosFunction",
    ("POST", "/api/portfolios/{portfolio_id}/upload"): "PortfoliosFunction",
    ("GET", "/api/portfolios/{portfolio_id}/holdings"): "PortfoliosFunction",
    ("GET", "/api/portfolios/{portfolio_id}/file"): "PortfoliosFunction",
    ("GET", "/api/analysis/health"): "AnalysisFunction",
    ("GET", "/api/analysis/openapi.json"): "AnalysisFunction",
    ("GET", "/api/factors"): "AnalysisFunction",
    ("GET", "/api/factors/correlations"): "AnalysisFunction",
    ("GET", "/api/factors/{factor_id}/returns"): "AnalysisFunction",
    ("POST", "/api/portfolios/{portfolio_id}/analyses"): "AnalysisFunction",
    ("GET", "/api/portfolios/{portfolio_id}/analyses"): "AnalysisFunction",
    ("GET", "/api/analyses/{analysis_id}"): "AnalysisFunction",
    ("GET", "/api/analyses/{analysis_id}/export.csv"): "AnalysisFunction",
    ("GET", "/api/analyses/{analysis_id}/export.json"): "AnalysisFunction",
}
UPLOADS_BUCKET_NAME = "${AWS::StackName}-uploads-${AWS::AccountId}-${AWS::Region}"
NO_VALUE = {"Ref": "AWS::NoValue"}
GLOBAL_ENV = {
    "STAGE": {"Ref": "Stage"},
    "DATABASE_URL": {"Fn::If": ["HasDatabaseUrl", {"Ref": "DatabaseUrl"}, NO_VALUE]},
    "DATABASE_SECRET_ARN": {"Fn::If": ["CreateDatabase", {"Ref": "DatabaseSecret"}, NO_VALUE]},
    "DATABASE_HOST": {
        "Fn::If": [
            "CreateDatabase",
            {
                "Fn::If": [
                    "UseRdsProxy",
                    {"Fn::GetAtt": ["DatabaseProxy", "Endpoint"]},
                    {"Fn::GetAtt": ["Database", "Endpoint.Address"]},
                ]
            },
            NO_VALUE,
        ]
    },
    "DATABASE_NAME": {"Fn::If": ["CreateDatabase", "labfolio", NO_VALUE]},
    "UPLOADS_BUCKET": {"Fn::Sub": UPLOADS_BUCKET_NAME},
    "ANALYSIS_QUEUE_URL": {"Ref": "AnalysisQueue"},
    "MARKET_DATA_PROVIDER": {"Ref": "MarketDataProvider"},
    "JWT_SECRET_ARN": {"Ref": "JwtSigningKeySecret"},
    "POWERTOOLS_METRICS_NAMESPACE": "labfolio",
    "POWERTOOLS_LOG_LEVEL": {"Ref": "LogLevel"},
}
# Every IAM action each function's own policies grant (SAM adds logging, X-Ray, SQS polling and the factor update's
# failure destination itself, and AWSLambdaVPCAccessExecutionRole for the VPC). Every function reads the database
# secret when the stack creates RDS.
IN_VPC = {"AWSSecretsManagerGetSecretValuePolicy"}
GRANTS = {
    "AuthFunction": IN_VPC
    | {"AWSSecretsManagerGetSecretValuePolicy", "s3:ListBucketVersions", "s3:DeleteObject", "s3:DeleteObjectVersion"},
    "PortfoliosFunction": IN_VPC
    | {
        "AWSSecretsManagerGetSecretValuePolicy",
        "s3:ListBucket",
        "s3:ListBucketVersions",
        "s3:PutObject",
        "s3:GetObject",
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        "sqs:GetQueueAttributes",
    },
    "AnalysisFunction": IN_VPC | {"AWSSecretsManagerGetSecretValuePolicy", "SQSSendMessagePolicy"},
    "AnalysisWorkerFunction": IN_VPC | {"SQSSendMessagePolicy", "s3:GetObject", "s3:DeleteObject", "s3:PutObject"},
    "FactorUpdateFunction": IN_VPC,
    "MigrateFunction": IN_VPC,
}


def effective(template: dict[str, Any], props: dict[str, Any], key: str) -> Any:
    """A function property after Globals are applied (SAM: the function's own value wins)."""
    return props.get(key, template.get("Globals", {}).get("Function", {}).get(key))


def events_of(props: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: ev["Properties"] for name, ev in props.get("Events", {}).items() if ev["Type"] == kind}


def policies(props: dict[str, Any]) -> list[Any]:
    """The function's policies, both branches of a Fn::If taken (AWS::NoValue dropped)."""
    out = []
    for policy in props.get("Policies", []):
        if isinstance(policy, dict) and "Fn::If" in policy:
            out += [branch for branch in policy["Fn::If"][1:] if branch != NO_VALUE]
        else:
            out.append(policy)
    return out


def statements(props: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for policy in policies(props):
        if isinstance(policy, dict) and "Statement" in policy:
            out += policy["Statement"]
    return out


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# ----------------------------------------------------------------------------------------------- functions


def test_contract_logical_ids_exist(resources: dict[str, Any]) -> None:
    expected = {
        "HttpApi": "AWS::Serverless::HttpApi",
        "CommonLayer": "AWS::Serverless::LayerVersion",
        **{name: "AWS::Serverless::Function" for name in SERVICE_NAMES},
        "UploadsBucket": "AWS::S3::Bucket",
        "AnalysisQueue": "AWS::SQS::Queue",
        "AnalysisDeadLetterQueue": "AWS::SQS::Queue",
        "AnalysisQueuePolicy": "AWS::SQS::QueuePolicy",
    }
    assert {k: resources[k]["Type"] for k in expected if k in resources} == expected
    assert {k for k, v in resources.items() if v["Type"] == "AWS::Serverless::Function"} == set(SERVICE_NAMES)


def test_every_function_runs_python312_x86_with_the_common_layer(template: dict[str, Any], functions: Any) -> None:
    for name, props in functions.items():
        assert effective(template, props, "Runtime") == "python3.12", name
        assert effective(template, props, "Architectures") == ["x86_64"], name
        assert LAYER_REF in effective(template, props, "Layers"), name
        assert effective(template, props, "Tracing") == "Active", name


def test_layer_is_built_by_sam_for_python312(resources: dict[str, Any]) -> None:
    layer = resources["CommonLayer"]
    assert layer["Properties"]["ContentUri"].rstrip("/") == "layers/common"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.12"]
    # layers/common/Makefile (tools/lambda_build.py): pinned wheels, trimmed, with python3.12 bytecode.
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    assert "build-CommonLayer:" in (ROOT / "layers/common/Makefile").read_text()
    assert (ROOT / "layers/common/labfolio_common/__init__.py").is_file()


def test_functions_with_a_makefile_build_have_their_target(resources: dict[str, Any]) -> None:
    for name, resource in resources.items():
        if resource["Type"] == "AWS::Serverless::Function" and resource.get("Metadata", {}).get("BuildMethod") == (
            "makefile"
        ):
            makefile = ROOT / resource["Properties"]["CodeUri"] / "Makefile"
            assert f"build-{name}:" in makefile.read_text(), f"{name}: no build-{name} target in {makefile}"


def test_handlers_live_in_their_code_folders(functions: dict[str, dict[str, Any]]) -> None:
    for name, props in functions.items():
        code = ROOT / props["CodeUri"]
        package, *_ = props["Handler"].split(".")
        assert props["Handler"].endswith(".lambda_handler"), name
        assert (code / package).is_dir(), f"{name}: {code / package} missing"
        assert (code / "requirements.txt").is_file(), name
    assert functions["AnalysisWorkerFunction"]["CodeUri"] == functions["AnalysisFunction"]["CodeUri"]
    assert functions["AnalysisWorkerFunction"]["Handler"] == "analysis.worker.lambda_handler"


def test_environment_of_every_function(template: dict[str, Any], functions: dict[str, dict[str, Any]]) -> None:
    assert template["Globals"]["Function"]["Environment"]["Variables"] == GLOBAL_ENV
    for name, props in functions.items():
        own = {"POWERTOOLS_SERVICE_NAME": SERVICE_NAMES[name]}
        if name == "AuthFunction":  # the throttles' viewer address behind CloudFront (labfolio_common.auth.viewer)
            own["ORIGIN_VERIFY_SECRET_ARN"] = {"Ref": "OriginVerifySecret"}
        assert props["Environment"]["Variables"] == own, name


def test_http_routes_are_exactly_the_contract(functions: dict[str, dict[str, Any]]) -> None:
    routes = {}
    for name, props in functions.items():
        for event_name, ev in events_of(props, "HttpApi").items():
            assert ev.get("ApiId") == {"Ref": "HttpApi"}, f"{name}.{event_name}"
            assert ev.get("PayloadFormatVersion") == "2.0", f"{name}.{event_name}"
            # path parameters ({factor_id}) are fine; a greedy {proxy+} or $default would hide undeclared routes
            assert "+}" not in ev["Path"] and "$default" not in ev["Path"], f"greedy route {ev['Path']}"
            key = (ev["Method"].upper(), ev["Path"])
            assert key not in routes, f"duplicate route {key}"
            routes[key] = name
    assert routes == ROUTES


def test_worker_drains_the_queue_with_partial_batch_failures(
    template: dict[str, Any], functions: dict[str, dict[str, Any]]
) -> None:
    worker = functions["AnalysisWorkerFunction"]
    (sqs,) = events_of(worker, "SQS").values()
    assert sqs["Queue"] == {"Fn::GetAtt": ["AnalysisQueue", "Arn"]}
    assert sqs["BatchSize"] == 10
    assert sqs["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert worker["Timeout"] == 60
    # Only the worker consumes the queue.
    assert [n for n, p in functions.items() if events_of(p, "SQS")] == ["AnalysisWorkerFunction"]


def test_visibility_timeout_covers_the_worker_timeout(template: dict[str, Any], functions: Any) -> None:
    """AWS: visibility >= function timeout (else the event source mapping is refused); advice: 6x."""
    worker_timeout = functions["AnalysisWorkerFunction"]["Timeout"]
    default = int(template["Parameters"]["QueueVisibilityTimeout"]["Default"])
    assert default >= 6 * worker_timeout
    config = tomllib.loads(SAMCONFIG_PATH.read_text(encoding="utf-8"))
    for environment in config:
        if environment in ("version", "local"):  # "local" is never deployed: short timings on purpose
            continue
        override = parameter_overrides(environment).get("QueueVisibilityTimeout")
        assert override is None or int(override) >= worker_timeout, environment


def test_http_functions_fit_the_api_gateway_timeout(template: dict[str, Any], functions: Any) -> None:
    for name, props in functions.items():
        if events_of(props, "HttpApi"):
            assert effective(template, props, "Timeout") <= 30, name


def test_factor_update_runs_daily(functions: dict[str, dict[str, Any]]) -> None:
    props = functions["FactorUpdateFunction"]
    (schedule,) = events_of(props, "Schedule").values()
    expression = schedule["Schedule"]
    match = re.fullmatch(r"cron\((\d+) (\d+) (\S+) (\S+) (\S+) (\S+)\)", expression)
    if match:
        minute, hour, dom, month, dow, year = match.groups()
        assert 0 <= int(minute) < 60 and 0 <= int(hour) < 24
        assert (dom, month, dow, year) in {("*", "*", "?", "*"), ("?", "*", "*", "*")}, expression
        assert 21 <= int(hour) <= 23, "after the US close (UTC)"
    else:
        assert expression == "rate(1 day)", expression
    assert schedule.get("Enabled", True) is True
    assert props["Timeout"] >= 300  # a download of every factor and held ticker


# ----------------------------------------------------------------------------------------------- least privilege


def test_each_function_gets_only_its_own_grants(functions: dict[str, dict[str, Any]]) -> None:
    for name, props in functions.items():
        granted = set()
        for policy in policies(props):
            if isinstance(policy, dict) and "Statement" in policy:
                for st in policy["Statement"]:
                    assert st["Effect"] == "Allow", name
                    granted |= set(as_list(st["Action"]))
            elif isinstance(policy, dict):
                granted |= set(policy)  # a SAM policy template
            else:
                pytest.fail(f"{name}: managed policy {policy!r} is too broad")
        assert granted == GRANTS[name], name
        assert not any("*" in action for action in granted), name


def test_s3_grants_are_scoped_to_the_uploads_bucket(functions: dict[str, dict[str, Any]]) -> None:
    """Object grants name one of the bucket's three folders: uploads/ (what clients upload), analyses/ (the prices
    each analysis used) or files/ (the file kept behind a portfolio's holdings); the last two written only by the
    worker, and all deleted with their portfolio or account."""
    bucket = "arn:${AWS::Partition}:s3:::" + UPLOADS_BUCKET_NAME
    folders = [{"Fn::Sub": bucket + f"/{folder}/*"} for folder in ("uploads", "analyses", "files")]
    for name, props in functions.items():
        for st in statements(props):
            actions = as_list(st["Action"])
            if not any(a.startswith("s3:") for a in actions):
                continue
            (resource,) = as_list(st["Resource"])
            if actions in (["s3:ListBucket"], ["s3:ListBucketVersions"]):
                assert resource == {"Fn::Sub": bucket}, name
            else:
                assert resource in folders, name
            if resource in folders[1:] and "s3:PutObject" in actions:
                assert name == "AnalysisWorkerFunction", name
    assert not any(
        a.startswith("s3:") for st in statements(functions["FactorUpdateFunction"]) for a in as_list(st["Action"])
    )


# ----------------------------------------------------------------------------------------------- queue and bucket


def test_queue_redrives_to_the_dead_letter_queue(resources: dict[str, Any]) -> None:
    queue = resources["AnalysisQueue"]["Properties"]
    assert queue["VisibilityTimeout"] == {"Ref": "QueueVisibilityTimeout"}
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["AnalysisDeadLetterQueue", "Arn"]},
        "maxReceiveCount": {"Ref": "QueueMaxReceiveCount"},
    }
    assert queue["SqsManagedSseEnabled"] is True
    dlq = resources["AnalysisDeadLetterQueue"]["Properties"]
    assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert dlq["SqsManagedSseEnabled"] is True


def test_bucket_is_private_and_encrypted(resources: dict[str, Any]) -> None:
    bucket = resources["UploadsBucket"]["Properties"]
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    algorithm = rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"]
    assert algorithm == "AES256" or (algorithm == "aws:kms" and rule.get("BucketKeyEnabled") is True)
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert "AccessControl" not in bucket
    # TLS only.
    (policy,) = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::S3::BucketPolicy" and r["Properties"]["Bucket"] == {"Ref": "UploadsBucket"}
    ]
    (deny,) = policy["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_bucket_cors_lets_only_the_frontend_post(template: dict[str, Any], resources: dict[str, Any]) -> None:
    (rule,) = resources["UploadsBucket"]["Properties"]["CorsConfiguration"]["CorsRules"]
    assert rule["AllowedMethods"] == ["POST"]
    # The given origin (a custom domain; the local stack's gateway), else the stack's own distribution.
    assert rule["AllowedOrigins"] == [
        {"Fn::If": ["HasFrontendOrigin", {"Ref": "FrontendOrigin"}, {"Fn::Sub": "https://${Distribution.DomainName}"}]}
    ]
    assert template["Conditions"]["HasFrontendOrigin"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "FrontendOrigin"}, ""]}]}
    pattern = template["Parameters"]["FrontendOrigin"]["AllowedPattern"]
    assert re.fullmatch(pattern, "https://d111111abcdef8.cloudfront.net")
    assert template["Parameters"]["FrontendOrigin"]["Default"] == ""
    assert not re.fullmatch(pattern, "*") and not re.fullmatch(pattern, "https://x.example/path")


def test_worker_sweeps_uploads_left_in_flight_on_a_schedule(functions: dict[str, dict[str, Any]]) -> None:
    (sweep,) = events_of(functions["AnalysisWorkerFunction"], "Schedule").values()
    minutes = re.fullmatch(r"rate\((\d+) minutes\)", sweep["Schedule"])
    assert minutes and 1 <= int(minutes.group(1)) <= 60
    assert sweep.get("Enabled", True) is True


def test_uploads_notify_the_queue(resources: dict[str, Any]) -> None:
    bucket = resources["UploadsBucket"]
    (notification,) = bucket["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    assert notification["Event"] == "s3:ObjectCreated:*"
    assert notification["Queue"] == {"Fn::GetAtt": ["AnalysisQueue", "Arn"]}
    assert notification["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": "uploads/"}]
    # S3 checks it may send when the notification is configured: the queue policy must exist first.
    assert "AnalysisQueuePolicy" in as_list(bucket["DependsOn"])


def test_queue_policy_admits_only_this_bucket(resources: dict[str, Any]) -> None:
    policy = resources["AnalysisQueuePolicy"]["Properties"]
    assert policy["Queues"] == [{"Ref": "AnalysisQueue"}]
    allows = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    (allow,) = allows
    assert allow["Principal"] == {"Service": "s3.amazonaws.com"}
    assert as_list(allow["Action"]) == ["sqs:SendMessage"]
    assert allow["Resource"] == {"Fn::GetAtt": ["AnalysisQueue", "Arn"]}
    bucket_name = resources["UploadsBucket"]["Properties"]["BucketName"]["Fn::Sub"]
    source_arn = next(v["aws:SourceArn"] for k, v in allow["Condition"].items() if "aws:SourceArn" in v)
    assert source_arn == {"Fn::Sub": "arn:${AWS::Partition}:s3:::" + bucket_name}
    assert allow["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}


def test_the_uploads_bucket_is_the_first_bucket(resources: dict[str, Any]) -> None:
    """The local stack creates every bucket of the template in moto (the frontend bucket too, unused there) and its
    helpers and tests take the first as the uploads bucket: keep UploadsBucket declared first."""
    buckets = [k for k, v in resources.items() if v["Type"] == "AWS::S3::Bucket"]
    assert buckets[0] == "UploadsBucket", buckets


def test_bucket_name_is_lower_case_by_construction(resources: dict[str, Any]) -> None:
    """Only pseudo parameters and lower-case literals: the stack name (the user's choice) must be lower-case."""
    name = resources["UploadsBucket"]["Properties"]["BucketName"]["Fn::Sub"]
    assert name == UPLOADS_BUCKET_NAME  # the functions' environment and policies name it the same way
    literal = re.sub(r"\$\{AWS::(StackName|AccountId|Region)\}", "", name)
    assert re.fullmatch(r"[a-z0-9-]+", literal), name
    assert "${AWS::AccountId}" in name and "${AWS::Region}" in name  # bucket names are global


# ----------------------------------------------------------------------------------------------- parameters, config


def test_parameters(template: dict[str, Any]) -> None:
    params = template["Parameters"]
    assert set(params) == {
        "Stage",
        "DatabaseUrl",
        "QueueVisibilityTimeout",
        "QueueMaxReceiveCount",
        "MarketDataProvider",
        "LogLevel",
        "FrontendOrigin",
        "ExistingVpcId",
        "ExistingPrivateSubnetIds",
        "InternetAccess",
        "NatInstanceType",
        "InterfaceEndpoints",
        "DatabaseInstanceClass",
        "DatabaseEngineVersion",
        "DatabaseAllocatedStorage",
        "DatabaseBackupRetentionDays",
        "DatabaseDeletionProtection",
        "DatabaseMultiAz",
        "EnableRdsProxy",
        "WorkerMaxConcurrency",
        "WorkerReservedConcurrency",
        "CloudFrontPriceClass",
        "AlarmEmail",
    }
    assert params["Stage"]["Default"] == "dev"
    assert re.fullmatch(params["Stage"]["AllowedPattern"], "dev")
    assert not re.fullmatch(params["Stage"]["AllowedPattern"], "Dev")
    assert params["DatabaseUrl"]["NoEcho"] is True
    assert params["DatabaseUrl"]["Default"] == ""  # empty: the stack creates RDS
    # The cheapest settings are the defaults (docs/deploy.md, "What it costs"): the smallest instance, no proxy, no
    # standby, a NAT instance rather than a NAT gateway, no interface endpoints; deletion protection on.
    assert params["DatabaseInstanceClass"]["Default"] == "db.t4g.micro"
    assert params["EnableRdsProxy"]["Default"] == "false"
    assert params["DatabaseMultiAz"]["Default"] == "false"
    assert params["InternetAccess"]["Default"] == "NatInstance"
    assert params["InterfaceEndpoints"]["Default"] == "false"
    assert params["DatabaseDeletionProtection"]["Default"] == "true"
    assert params["QueueVisibilityTimeout"]["Type"] == "Number"
    assert int(params["QueueMaxReceiveCount"]["Default"]) == 5
    assert params["MarketDataProvider"]["AllowedValues"] == ["yfinance", "offline"]
    assert params["MarketDataProvider"]["Default"] == "yfinance"
    assert params["LogLevel"]["Default"] == "INFO"


def test_outputs(template: dict[str, Any]) -> None:
    assert set(template["Outputs"]) == {
        "SiteUrl",
        "ApiUrl",
        "DistributionId",
        "FrontendBucketName",
        "UploadsBucketName",
        "AnalysisQueueUrl",
        "AnalysisDeadLetterQueueUrl",
        "FactorUpdateFunctionName",
        "DatabaseEndpoint",
        "DatabaseSecretArn",
        "AlarmTopicArn",
    }
    assert template["Outputs"]["SiteUrl"]["Value"] == {"Fn::Sub": "https://${Distribution.DomainName}"}


def test_samconfig_local_overrides(template: dict[str, Any]) -> None:
    assert parameter_overrides("local") == {
        "Stage": "local",
        "QueueVisibilityTimeout": "5",
        "QueueMaxReceiveCount": "3",
        "MarketDataProvider": "offline",
        # The local stack passes its own; with them, no RDS or CloudFront is part of the local model.
        "DatabaseUrl": "sqlite:///.local/labfolio.db",
        "FrontendOrigin": "http://127.0.0.1:8000",
    }
    params = template["Parameters"]
    config = tomllib.loads(SAMCONFIG_PATH.read_text(encoding="utf-8"))
    for environment in (e for e in config if e != "version"):
        for key, value in parameter_overrides(environment).items():
            spec = params[key]  # every override names a real parameter
            if "AllowedValues" in spec:
                assert value in spec["AllowedValues"], (environment, key)
            if "AllowedPattern" in spec:
                assert re.fullmatch(spec["AllowedPattern"], value), (environment, key)
            if spec["Type"] == "Number":
                assert int(spec.get("MinValue", 0)) <= int(value) <= int(spec.get("MaxValue", 10**9))


def test_samconfig_default_deploy() -> None:
    config = tomllib.loads(SAMCONFIG_PATH.read_text(encoding="utf-8"))
    assert config["version"] == 0.1
    default = config["default"]
    assert default["global"]["parameters"]["stack_name"] == "labfolio-dev"
    deploy = default["deploy"]["parameters"]
    assert set(deploy["capabilities"].split()) == {"CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"}
    assert deploy["confirm_changeset"] is True and deploy["resolve_s3"] is True
    assert parameter_overrides("default") == {"Stage": "dev"}
    build = default["build"]["parameters"]
    assert build["cached"] is True and build["parallel"] is True
