"""template.yaml after the SAM transform (samtranslator, offline): the wiring the application needs, checked on the
CloudFormation resources AWS would create - roles, event source mapping, schedule rule, HTTP API, CloudFront, RDS.

Each function's role must reach exactly what its code uses: the code's boto3 calls are found by walking the imports
from the function's handler through its package and the common layer (ast, no import), mapped to IAM actions, and
compared with the role's grants; the resources each grant names are pinned in ACCESS below.
"""

from __future__ import annotations

import ast
import copy
import os
import re
from pathlib import Path
from typing import Any

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.iac

BUCKET = "${AWS::StackName}-uploads-${AWS::AccountId}-${AWS::Region}"
NO_VALUE = {"Ref": "AWS::NoValue"}
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"

# (IAM action, resource) each function's own grants give; resources as tokens (see `token`).
SECRETS = {("secretsmanager:GetSecretValue", "secret:JwtSigningKeySecret")}
DATABASE = {("secretsmanager:GetSecretValue", "secret:DatabaseSecret")}
ACCESS: dict[str, set[tuple[str, str]]] = {
    "AuthFunction": SECRETS
    | DATABASE
    | {
        ("secretsmanager:GetSecretValue", "secret:OriginVerifySecret"),  # the viewer address behind CloudFront
        ("s3:ListBucketVersions", "bucket"),
        ("s3:DeleteObject", "uploads/*"),
        ("s3:DeleteObjectVersion", "uploads/*"),
        ("s3:DeleteObject", "files/*"),
        ("s3:DeleteObjectVersion", "files/*"),
        ("s3:DeleteObject", "analyses/*"),
        ("s3:DeleteObjectVersion", "analyses/*"),
    },
    "PortfoliosFunction": SECRETS
    | DATABASE
    | {
        ("s3:ListBucket", "bucket"),
        ("s3:ListBucketVersions", "bucket"),
        ("s3:PutObject", "uploads/*"),
        ("s3:GetObject", "uploads/*"),
        ("s3:DeleteObject", "uploads/*"),
        ("s3:DeleteObjectVersion", "uploads/*"),
        ("s3:GetObject", "files/*"),
        ("s3:DeleteObject", "files/*"),
        ("s3:DeleteObjectVersion", "files/*"),
        ("s3:DeleteObject", "analyses/*"),
        ("s3:DeleteObjectVersion", "analyses/*"),
        ("sqs:GetQueueAttributes", "queue:AnalysisQueue"),
    },
    "AnalysisFunction": SECRETS | DATABASE | {("sqs:SendMessage*", "queue:AnalysisQueue")},
    "AnalysisWorkerFunction": DATABASE
    | {
        ("sqs:SendMessage*", "queue:AnalysisQueue"),
        ("s3:GetObject", "uploads/*"),
        ("s3:DeleteObject", "uploads/*"),
        ("s3:PutObject", "files/*"),
        ("s3:DeleteObject", "files/*"),
        ("s3:PutObject", "analyses/*"),
        ("s3:DeleteObject", "analyses/*"),
    },
    "FactorUpdateFunction": DATABASE,
    "MigrateFunction": DATABASE,
}
# Policies SAM adds for the platform, not for the code: logs, X-Ray, network interfaces in the VPC, the worker's
# queue polling (which also covers the sweep's GetQueueAttributes), and factor_update's failure destination.
MANAGED = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
}
SQS_POLLING = "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"
PLATFORM_GRANTS = {"FactorUpdateFunction": {("sqs:SendMessage", "queue:FactorUpdateDeadLetterQueue")}}
HANDLERS = {
    "AuthFunction": ("auth", "auth.handler"),
    "PortfoliosFunction": ("portfolios", "portfolios.handler"),
    "AnalysisFunction": ("analysis", "analysis.handler"),
    "AnalysisWorkerFunction": ("analysis", "analysis.worker"),
    "FactorUpdateFunction": ("factor_update", "factor_update.handler"),
    "MigrateFunction": ("migrate", "migrate.handler"),
}
# boto3 calls -> the IAM actions S3/SQS/Secrets Manager check for them.
CALLS = {
    "list_object_versions": {"s3:ListBucketVersions"},
    "list_objects_v2": {"s3:ListBucket"},
    "head_bucket": {"s3:ListBucket"},
    "get_object": {"s3:GetObject"},
    "head_object": {"s3:GetObject"},
    "put_object": {"s3:PutObject"},
    "generate_presigned_post": {"s3:PutObject"},
    "delete_object": {"s3:DeleteObject"},
    "delete_objects": {"s3:DeleteObject", "s3:DeleteObjectVersion"},  # labfolio_common.storage passes VersionId
    "send_message": {"sqs:SendMessage*"},
    "get_queue_attributes": {"sqs:GetQueueAttributes"},
    "get_secret_value": {"secretsmanager:GetSecretValue"},
}
# Reachable through imports but never called by that function (the worker imports labfolio_common.uploads and
# analysis_store for their key helpers; only the portfolios and auth functions delete whole folders).
NOT_CALLED = {"AnalysisWorkerFunction": {"s3:ListBucketVersions", "s3:DeleteObjectVersion"}}


@pytest.fixture(scope="module")
def transformed(template: dict[str, Any]) -> dict[str, Any]:
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    sam = copy.deepcopy(template)
    for resource in sam["Resources"].values():  # as `sam package` leaves them
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://artifacts/" + resource["Properties"]["CodeUri"]
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            resource["Properties"]["ContentUri"] = "s3://artifacts/layer"
    saved = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    try:
        out: dict[str, Any] = Translator(managed_policy_map={}, sam_parser=Parser()).translate(
            sam_template=sam, parameter_values={}
        )
    finally:
        if saved is None:
            os.environ.pop("AWS_DEFAULT_REGION", None)
        else:
            os.environ["AWS_DEFAULT_REGION"] = saved
    assert not any(r["Type"].startswith("AWS::Serverless::") for r in out["Resources"].values())
    return out


@pytest.fixture(scope="module")
def cfn(transformed: dict[str, Any]) -> dict[str, Any]:
    resources: dict[str, Any] = transformed["Resources"]
    return resources


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def branches(value: Any) -> list[Any]:
    """Both branches of a Fn::If (AWS::NoValue dropped); the value itself otherwise."""
    if isinstance(value, dict) and "Fn::If" in value:
        return [b for branch in value["Fn::If"][1:] if branch != NO_VALUE for b in branches(branch)]
    return [value]


def token(resource: Any) -> str:
    """A policy resource as a short token: bucket, uploads/*, analyses/*, queue:<id>, secret:<id>, *."""
    if resource == "*":
        return "*"
    if isinstance(resource, dict) and "Fn::GetAtt" in resource and resource["Fn::GetAtt"][1] == "Arn":
        return f"queue:{resource['Fn::GetAtt'][0]}"
    if isinstance(resource, dict) and "Fn::Sub" in resource:
        sub = resource["Fn::Sub"]
        if isinstance(sub, list):  # a SAM policy template: ["...${name}", {"name": <ref>}]
            (ref,) = sub[1].values()
            if "Ref" in ref:
                return f"secret:{ref['Ref']}"
            if ref.get("Fn::GetAtt", [None, None])[1] == "QueueName":
                return f"queue:{ref['Fn::GetAtt'][0]}"
        elif isinstance(sub, str) and sub.startswith(f"arn:${{AWS::Partition}}:s3:::{BUCKET}"):
            rest = sub.removeprefix(f"arn:${{AWS::Partition}}:s3:::{BUCKET}")
            return "bucket" if rest == "" else rest.removeprefix("/")
    raise AssertionError(f"unexpected policy resource {resource!r}")


def role_of(cfn: dict[str, Any], function: str) -> dict[str, Any]:
    role_ref = cfn[function]["Properties"]["Role"]
    props: dict[str, Any] = cfn[role_ref["Fn::GetAtt"][0]]["Properties"]
    return props


def grants(cfn: dict[str, Any], function: str) -> tuple[set[tuple[str, str]], set[tuple[str, str]], set[str]]:
    """(the code's grants, the platform's inline grants, managed policy ARNs) of the function's role."""
    role = role_of(cfn, function)
    own: set[tuple[str, str]] = set()
    platform: set[tuple[str, str]] = set()
    for policy in [p for entry in role.get("Policies", []) for p in branches(entry)]:
        for statement in policy["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow", function
            pairs = {(a, token(r)) for a in as_list(statement["Action"]) for r in as_list(statement["Resource"])}
            if all(a.startswith("ec2:") for a, _ in pairs):
                pytest.fail(f"{function}: the VPC permissions come with SAM's managed policy, not inline")
            (platform if "EventInvokeConfig" in policy["PolicyName"] else own).update(pairs)
    return own, platform, set(role.get("ManagedPolicyArns", []))


def functions_of(cfn: dict[str, Any]) -> set[str]:
    return {k for k, v in cfn.items() if v["Type"] == "AWS::Lambda::Function"}


# ------------------------------------------------------------------------------------------- what the code calls


def _module_file(name: str, roots: list[Path]) -> Path | None:
    for root in roots:
        base = root.joinpath(*name.split("."))
        if (base / "__init__.py").is_file():
            return base / "__init__.py"
        if base.with_suffix(".py").is_file():
            return base.with_suffix(".py")
    return None


def code_actions(folder: str, entry: str) -> dict[str, set[str]]:
    """IAM action -> the modules calling for it, over every module reachable from `entry` by imports."""
    roots = [ROOT / "functions" / folder, ROOT / "layers" / "common", ROOT]
    ours = {entry.split(".")[0], "labfolio_common", "migrations"}
    seen: set[str] = set()
    todo = [entry]
    found: dict[str, set[str]] = {}
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        path = _module_file(module, roots)
        if path is None:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join([*module.split(".")[: -node.level], *([base] if base else [])])
                names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            for name in names:
                if name.split(".")[0] in ours:
                    parts = name.split(".")
                    todo += [".".join(parts[: i + 1]) for i in range(len(parts))]
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                call = node.func.attr
                if call == "get_paginator" and node.args and isinstance(node.args[0], ast.Constant):
                    call = str(node.args[0].value)
                for action in CALLS.get(call, ()):
                    found.setdefault(action, set()).add(module)
    assert len(seen) > 3, f"{entry}: the import walk found nothing"
    return found


@pytest.mark.parametrize("function", sorted(HANDLERS))
def test_each_role_reaches_exactly_what_its_code_uses(cfn: dict[str, Any], function: str) -> None:
    own, platform, managed = grants(cfn, function)
    assert own == ACCESS[function], function
    assert platform == PLATFORM_GRANTS.get(function, set()), function
    assert managed == MANAGED | ({SQS_POLLING} if function == "AnalysisWorkerFunction" else set()), function
    assert all(resource != "*" for _, resource in own | platform), function

    used = code_actions(*HANDLERS[function])
    granted = {action for action, _ in own}
    assert set(used) - NOT_CALLED.get(function, set()) <= granted | (
        {"sqs:GetQueueAttributes"} if function == "AnalysisWorkerFunction" else set()  # the polling policy's
    ), f"{function}: the code calls for more than its role grants"
    assert granted <= set(used), f"{function}: grants its code never calls for: {sorted(granted - set(used))}"
    # The secrets: the signing key only where the token code is reachable, the database secret everywhere.
    keys_used = any(m == "labfolio_common.auth.keys" for m in used.get("secretsmanager:GetSecretValue", ()))
    assert (("secretsmanager:GetSecretValue", "secret:JwtSigningKeySecret") in own) == keys_used, function


def test_every_function_is_covered(cfn: dict[str, Any]) -> None:
    assert functions_of(cfn) == set(HANDLERS)
    for function in HANDLERS:
        props = cfn[function]["Properties"]
        assert props["Handler"] == HANDLERS[function][1] + ".lambda_handler"
        vpc = props["VpcConfig"]
        assert vpc["SecurityGroupIds"] == [{"Ref": "FunctionSecurityGroup"}], function
        assert vpc["SubnetIds"]["Fn::If"][1] == [{"Ref": "PrivateSubnetA"}, {"Ref": "PrivateSubnetB"}], function


# ------------------------------------------------------------------------------------------- queue, bucket, schedule


def test_queue_visibility_covers_six_worker_timeouts(template: dict[str, Any], cfn: dict[str, Any]) -> None:
    (mapping,) = [r["Properties"] for r in cfn.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    assert mapping["FunctionName"] == {"Ref": "AnalysisWorkerFunction"}
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["AnalysisQueue", "Arn"]}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "WorkerMaxConcurrency"}}
    visibility = cfn["AnalysisQueue"]["Properties"]["VisibilityTimeout"]
    assert visibility == {"Ref": "QueueVisibilityTimeout"}
    default = int(template["Parameters"]["QueueVisibilityTimeout"]["Default"])
    assert default >= 6 * cfn["AnalysisWorkerFunction"]["Properties"]["Timeout"]


def test_uploads_notify_the_queue_the_worker_drains(cfn: dict[str, Any]) -> None:
    (notification,) = cfn["UploadsBucket"]["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    assert notification["Queue"] == {"Fn::GetAtt": ["AnalysisQueue", "Arn"]}
    assert notification["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": "uploads/"}]
    (allow,) = [
        s for s in cfn["AnalysisQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"
    ]
    assert allow["Condition"]["ArnEquals"]["aws:SourceArn"] == {"Fn::Sub": f"arn:${{AWS::Partition}}:s3:::{BUCKET}"}
    assert allow["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    assert cfn["UploadsBucket"]["Properties"]["BucketName"] == {"Fn::Sub": BUCKET}
    redrive = cfn["AnalysisQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["AnalysisDeadLetterQueue", "Arn"]}


def test_the_daily_schedule_targets_factor_update_with_retries_and_a_dead_letter_queue(cfn: dict[str, Any]) -> None:
    rules = {k: r["Properties"] for k, r in cfn.items() if r["Type"] == "AWS::Events::Rule"}
    (daily,) = [k for k, r in rules.items() if r["ScheduleExpression"].startswith("cron(")]
    (target,) = rules[daily]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["FactorUpdateFunction", "Arn"]}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["FactorUpdateDeadLetterQueue", "Arn"]}}
    permissions = [r["Properties"] for r in cfn.values() if r["Type"] == "AWS::Lambda::Permission"]
    assert any(
        p["FunctionName"] == {"Ref": "FactorUpdateFunction"}
        and p["Principal"] == "events.amazonaws.com"
        and p["SourceArn"] == {"Fn::GetAtt": [daily, "Arn"]}
        for p in permissions
    )
    invoke = next(r["Properties"] for r in cfn.values() if r["Type"] == "AWS::Lambda::EventInvokeConfig")
    assert invoke["FunctionName"] == {"Ref": "FactorUpdateFunction"}
    assert invoke["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["FactorUpdateDeadLetterQueue", "Arn"]
    }
    # The queue only accepts the rule's dead letters.
    (policy,) = [
        r["Properties"]
        for r in cfn.values()
        if r["Type"] == "AWS::SQS::QueuePolicy"
        and r["Properties"]["Queues"] == [{"Ref": "FactorUpdateDeadLetterQueue"}]
    ]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == {"Fn::GetAtt": [daily, "Arn"]}


def test_every_http_route_reaches_a_function(cfn: dict[str, Any], functions: dict[str, dict[str, Any]]) -> None:
    declared = {
        (ev["Properties"]["Method"].lower(), ev["Properties"]["Path"]): name
        for name, props in functions.items()
        for ev in props.get("Events", {}).values()
        if ev["Type"] == "HttpApi"
    }
    (api,) = [r["Properties"] for r in cfn.values() if r["Type"] == "AWS::ApiGatewayV2::Api"]
    routed = {}
    for path, methods in api["Body"]["paths"].items():
        for method, operation in methods.items():
            uri = operation["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
            (function,) = re.findall(r"\$\{(\w+)\.Arn\}", uri)
            assert function in functions_of(cfn), (method, path)
            routed[(method, path)] = function
    assert routed == declared
    assert "$default" not in str(api["Body"]["paths"])
    permitted = {
        p["Properties"]["FunctionName"]["Ref"]
        for p in cfn.values()
        if p["Type"] == "AWS::Lambda::Permission" and p["Properties"]["Principal"] == "apigateway.amazonaws.com"
    }
    assert permitted == set(routed.values())


# ------------------------------------------------------------------------------------------- CloudFront, database


def test_cloudfront_serves_the_site_from_the_private_bucket_and_routes_api_to_the_http_api(cfn: dict[str, Any]) -> None:
    config = cfn["Distribution"]["Properties"]["DistributionConfig"]
    origins = {o["Id"]: o for o in config["Origins"]}
    behaviours = {b["PathPattern"]: b for b in config["CacheBehaviors"]}
    assert set(behaviours) == {"/api/*"}
    api = behaviours["/api/*"]
    assert origins[api["TargetOriginId"]]["DomainName"] == {
        "Fn::Sub": "${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"
    }
    assert origins[api["TargetOriginId"]]["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert sorted(api["AllowedMethods"]) == sorted(["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"])
    assert api["CachePolicyId"] == CACHING_DISABLED
    assert api["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST  # cookies, Authorization, query; not Host
    site = config["DefaultCacheBehavior"]
    s3 = origins[site["TargetOriginId"]]
    assert s3["DomainName"] == {"Fn::GetAtt": ["FrontendBucket", "RegionalDomainName"]}
    assert s3["OriginAccessControlId"] == {"Fn::GetAtt": ["FrontendOriginAccessControl", "Id"]}
    assert site["CachePolicyId"] == CACHING_OPTIMIZED and site["ViewerProtocolPolicy"] == "redirect-to-https"
    for behaviour in (site, api):
        assert behaviour["ResponseHeadersPolicyId"] == {"Ref": "SecurityHeadersPolicy"}
    # Only this distribution reads the bucket, which blocks every public access.
    (policy,) = [
        r["Properties"]
        for r in cfn.values()
        if r["Type"] == "AWS::S3::BucketPolicy" and r["Properties"]["Bucket"] == {"Ref": "FrontendBucket"}
    ]
    (allow,) = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"} and allow["Action"] == "s3:GetObject"
    assert allow["Condition"]["StringEquals"]["AWS:SourceArn"] == {
        "Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${Distribution}"
    }
    assert all(cfn["FrontendBucket"]["Properties"]["PublicAccessBlockConfiguration"].values())


def test_security_headers_forbid_inline_scripts_and_framing(cfn: dict[str, Any]) -> None:
    headers = cfn["SecurityHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    csp = " ".join(headers["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"].split())
    directives = {d.split()[0]: d.split()[1:] for d in (p.strip() for p in csp.split(";")) if d}
    assert directives["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval', no CDN
    assert directives["default-src"] == ["'self'"] and directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in directives["style-src"]
    assert f"https://{BUCKET}.s3.amazonaws.com" in directives["connect-src"]  # the presigned POST
    assert headers["FrameOptions"]["FrameOption"] == "DENY"
    assert headers["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
    assert headers["ContentTypeOptions"]["Override"] is True
    assert headers["ReferrerPolicy"]["ReferrerPolicy"] in {"no-referrer", "strict-origin-when-cross-origin"}
    # The frontend must keep its side of the policy: no inline script or handler in the HTML.
    for page in (ROOT / "frontend").glob("*.html"):
        tree = page.read_text(encoding="utf-8")
        for tag in tree.split("<script")[1:]:
            assert " src=" in tag.split(">", 1)[0], f"{page.name}: inline script"
        assert "<style" not in tree and " onclick=" not in tree and " onload=" not in tree, page.name


def test_the_database_is_private_encrypted_and_reached_only_from_the_functions(cfn: dict[str, Any]) -> None:
    db = cfn["Database"]
    props = db["Properties"]
    assert db["Condition"] == "CreateDatabase"
    assert props["PubliclyAccessible"] is False and props["StorageEncrypted"] is True
    assert props["Engine"] == "postgres" and props["BackupRetentionPeriod"] == {"Ref": "DatabaseBackupRetentionDays"}
    assert props["DeletionProtection"] == {"Ref": "DatabaseDeletionProtection"}
    assert db["DeletionPolicy"] == "Snapshot" and db["UpdateReplacePolicy"] == "Snapshot"
    assert "{{resolve:secretsmanager:${DatabaseSecret}:SecretString:password}}" in str(props["MasterUserPassword"])
    subnets = cfn["DatabaseSubnetGroup"]["Properties"]["SubnetIds"]["Fn::If"][1]
    assert subnets == [{"Ref": "PrivateSubnetA"}, {"Ref": "PrivateSubnetB"}]
    # The private subnets route to the internet only through the NAT, never an internet gateway.
    private_routes = [
        r["Properties"]
        for r in cfn.values()
        if r["Type"] == "AWS::EC2::Route" and r["Properties"]["RouteTableId"] == {"Ref": "PrivateRouteTable"}
    ]
    assert private_routes and all("GatewayId" not in r for r in private_routes)
    ingress = [
        r["Properties"]
        for r in cfn.values()
        if r["Type"] == "AWS::EC2::SecurityGroupIngress"
        and r["Properties"]["GroupId"] == {"Ref": "DatabaseSecurityGroup"}
    ]
    assert {i["SourceSecurityGroupId"]["Ref"] for i in ingress} == {"FunctionSecurityGroup", "DatabaseSecurityGroup"}
    assert all(i["FromPort"] == i["ToPort"] == 5432 and "CidrIp" not in i for i in ingress)
    assert "SecurityGroupIngress" not in cfn["DatabaseSecurityGroup"]["Properties"]
    proxy = cfn["DatabaseProxy"]["Properties"]
    assert proxy["RequireTLS"] is True and cfn["DatabaseProxy"]["Condition"] == "UseRdsProxy"
    assert cfn["DatabaseParameterGroup"]["Properties"]["Parameters"] == {"rds.force_ssl": "1"}


def test_the_migration_runs_on_deploy_with_the_database(cfn: dict[str, Any]) -> None:
    props = cfn["DatabaseMigration"]["Properties"]
    assert cfn["DatabaseMigration"]["Type"] == "Custom::DatabaseMigration"
    assert props["ServiceToken"] == {"Fn::GetAtt": ["MigrateFunction", "Arn"]}
    # A new function version (migrations/ is part of its code), layer or database changes the properties: an Update.
    (version,) = [k for k, r in cfn.items() if r["Type"] == "AWS::Lambda::Version"]
    assert cfn[version]["Properties"]["FunctionName"] == {"Ref": "MigrateFunction"}
    assert props["CodeVersion"] == {"Ref": version}
    assert props["CommonLayer"]["Ref"].startswith("CommonLayer")
    assert props["Database"] == {
        "Fn::If": ["CreateDatabase", {"Fn::GetAtt": ["Database", "Endpoint.Address"]}, "external"]
    }
    # It runs once the function can answer and read the secret: S3 endpoint, NAT route (the NAT instance signals
    # when it forwards) or Secrets Manager endpoint.
    assert props["Network"]["Fn::If"][1] == {"Ref": "S3GatewayEndpoint"}
    assert "PrivateRouteViaNatInstance" in str(props["InternetRoute"]) and "PrivateRouteViaNatGateway" in str(
        props["InternetRoute"]
    )
    assert props["SecretsEndpoint"]["Fn::If"][1] == {"Ref": "SecretsManagerEndpoint"}
    assert cfn["NatInstance"]["CreationPolicy"]["ResourceSignal"]["Count"] == 1
    assert (ROOT / "functions" / "migrate" / "migrations" / "runner.py").is_file()  # the symlink to migrations/
    assert (ROOT / "functions" / "migrate" / "migrations").resolve() == (ROOT / "migrations").resolve()


def test_alarms_watch_errors_throttles_dead_letters_and_the_schedule(cfn: dict[str, Any]) -> None:
    alarms = [r["Properties"] for r in cfn.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    watched = {(a["Namespace"], a["MetricName"], str(a["Dimensions"][0]["Value"])) for a in alarms}
    for function in HANDLERS.keys() - {"MigrateFunction"}:  # the migration's failures fail the deploy itself
        for metric in ("Errors", "Throttles"):
            assert ("AWS/Lambda", metric, str({"Ref": function})) in watched, (function, metric)
    for queue in ("AnalysisDeadLetterQueue", "FactorUpdateDeadLetterQueue"):
        dims = str({"Fn::GetAtt": [queue, "QueueName"]})
        assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible", dims) in watched, queue
    assert any(a["MetricName"] == "FailedInvocations" and a["Namespace"] == "AWS/Events" for a in alarms)
    assert all({"Ref": "AlarmTopic"} in a["AlarmActions"] for a in alarms)
