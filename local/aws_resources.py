"""Create the template's buckets, queues (redrive, notifications) and secrets in the moto server, and keep S3 objects
and secret values across restarts (moto keeps nothing: objects are saved under the data folder at shutdown and
restored before notifications are configured, so restoring fires no events; a generated secret value is written
under the data folder once and reused, as AWS keeps a secret across deploys)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import string
import threading
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from local.model import ACCOUNT_ID, REGION, Resolver, StackModel, TemplateError

log = logging.getLogger("labfolio.local")

_QUEUE_ATTRIBUTES = {
    "VisibilityTimeout": "VisibilityTimeout",
    "MessageRetentionPeriod": "MessageRetentionPeriod",
    "DelaySeconds": "DelaySeconds",
    "MaximumMessageSize": "MaximumMessageSize",
    "ReceiveMessageWaitTimeSeconds": "ReceiveMessageWaitTimeSeconds",
}


_session_lock = threading.Lock()


@cache
def _session() -> boto3.session.Session:
    """One session for the stack's own clients (local/ runs before the layer is on sys.path, so not the layer's
    labfolio_common.aws): its loader reads each service model once per process."""
    return boto3.session.Session()


@cache
def aws_client(service: str, endpoint: str) -> Any:
    """The stack's client of one service at `endpoint`, made once (clients are thread-safe; the tests build the
    stack's resources again for every test)."""
    with _session_lock:  # a session is not thread-safe; the clients it makes are
        return _session().client(
            service,
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto's dummy credentials
            config=Config(signature_version="s3v4", retries={"mode": "standard"}),
        )


class LocalResources:
    """The physical names of what the template defines, created in moto."""

    def __init__(self, model: StackModel, endpoint: str) -> None:
        self.model = model
        self.endpoint = endpoint
        self.physical: dict[str, dict[str, str]] = {}
        self.resolver = Resolver(model, self.physical)
        self.s3 = aws_client("s3", endpoint)
        self.sqs = aws_client("sqs", endpoint)
        self.secretsmanager = aws_client("secretsmanager", endpoint)

    # ------------------------------------------------------------------ creation
    def create(self, restore_from: Path | None = None, secrets_dir: Path | None = None) -> LocalResources:
        """Create everything; `secrets_dir` keeps generated secret values across restarts (fresh ones without it)."""
        for logical_id, res in self.model.resources_of_type("AWS::SecretsManager::Secret").items():
            self._create_secret(logical_id, res.get("Properties", {}), secrets_dir)
        queues = self.model.resources_of_type("AWS::SQS::Queue")
        for logical_id, res in queues.items():
            self._create_queue(logical_id, res.get("Properties", {}))
        for logical_id, res in queues.items():
            redrive = res.get("Properties", {}).get("RedrivePolicy")
            if redrive:
                policy = self.resolver.resolve(redrive)
                policy = {
                    "deadLetterTargetArn": policy["deadLetterTargetArn"],
                    "maxReceiveCount": str(policy["maxReceiveCount"]),
                }
                self.sqs.set_queue_attributes(
                    QueueUrl=self.physical[logical_id]["Ref"], Attributes={"RedrivePolicy": json.dumps(policy)}
                )
        buckets = self.model.resources_of_type("AWS::S3::Bucket")
        for logical_id, res in buckets.items():
            self._create_bucket(logical_id, res.get("Properties", {}))
        if restore_from is not None:
            self.restore_objects(restore_from)
        for logical_id, res in buckets.items():
            self._configure_notifications(logical_id, res.get("Properties", {}))
        return self

    def _create_queue(self, logical_id: str, props: dict[str, Any]) -> None:
        name = self.resolver.resolve(props.get("QueueName")) or f"{self.model.stack_name}-{logical_id}"
        attributes = {
            attr: str(self.resolver.resolve(props[key])) for key, attr in _QUEUE_ATTRIBUTES.items() if key in props
        }
        url = self.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}"
        self.physical[logical_id] = {"Ref": url, "Arn": arn, "QueueName": name, "QueueUrl": url}

    def _create_secret(self, logical_id: str, props: dict[str, Any], secrets_dir: Path | None) -> None:
        name = self.resolver.resolve(props.get("Name")) or f"{self.model.stack_name}-{logical_id}"
        value = _secret_value(logical_id, props, secrets_dir)
        try:
            arn = self.secretsmanager.create_secret(Name=name, SecretString=value)["ARN"]
        except self.secretsmanager.exceptions.ResourceExistsException:
            arn = self.secretsmanager.put_secret_value(SecretId=name, SecretString=value)["ARN"]
        self.physical[logical_id] = {"Ref": arn, "Id": arn}

    def _create_bucket(self, logical_id: str, props: dict[str, Any]) -> None:
        name = self.resolver.resolve(props.get("BucketName")) or f"{self.model.stack_name}-{logical_id}".lower()
        with contextlib.suppress(self.s3.exceptions.BucketAlreadyOwnedByYou):
            self.s3.create_bucket(Bucket=name)
        encryption = props.get("BucketEncryption")
        if encryption:
            self.s3.put_bucket_encryption(
                Bucket=name,
                ServerSideEncryptionConfiguration={
                    "Rules": [
                        _encryption_rule(rule)
                        for rule in self.resolver.resolve(encryption)["ServerSideEncryptionConfiguration"]
                    ]
                },
            )
        cors = props.get("CorsConfiguration")
        if cors:
            self.s3.put_bucket_cors(Bucket=name, CORSConfiguration=_cors(self.resolver.resolve(cors)))
        self.physical[logical_id] = {
            "Ref": name,
            "Arn": f"arn:aws:s3:::{name}",
            "DomainName": f"{name}.s3.amazonaws.com",
            "RegionalDomainName": f"{name}.s3.{REGION}.amazonaws.com",
        }

    def _configure_notifications(self, logical_id: str, props: dict[str, Any]) -> None:
        config = props.get("NotificationConfiguration")
        if not config:
            return
        config = self.resolver.resolve(config)
        queue_configs = []
        for i, qc in enumerate(config.get("QueueConfigurations", [])):
            rules = qc.get("Filter", {}).get("S3Key", {}).get("Rules", [])
            entry: dict[str, Any] = {"Id": f"{logical_id}-{i}", "QueueArn": qc["Queue"], "Events": [qc["Event"]]}
            if rules:
                entry["Filter"] = {
                    "Key": {"FilterRules": [{"Name": r["Name"].lower(), "Value": r["Value"]} for r in rules]}
                }
            queue_configs.append(entry)
        if set(config) - {"QueueConfigurations"}:
            raise TemplateError(f"{logical_id}: only QueueConfigurations notifications are emulated locally")
        self.s3.put_bucket_notification_configuration(
            Bucket=self.physical[logical_id]["Ref"],
            NotificationConfiguration={"QueueConfigurations": queue_configs},
        )

    # ------------------------------------------------------------------ lookups
    def queue_url(self, logical_id: str) -> str:
        return self.physical[logical_id]["Ref"]

    def bucket_names(self) -> list[str]:
        return [self.physical[k]["Ref"] for k in self.model.resources_of_type("AWS::S3::Bucket")]

    # ------------------------------------------------------------------ persistence
    def save_objects(self, folder: Path) -> int:
        """Write every object of every template bucket under folder/<bucket>/<key>; return how many. A key that
        cannot be a file path (`..`, an absolute or non-normal path) is skipped and logged, as is an object that
        cannot be read or written: one bad object never costs the others. Each bucket's manifest lists what was
        written, and is written even when saving stops halfway."""
        count = 0
        for bucket in self.bucket_names():
            manifest: dict[str, dict[str, str]] = {}
            try:
                for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                    for item in page.get("Contents", []):
                        if self._save_object(bucket, item["Key"], folder, manifest):
                            count += 1
            finally:
                (folder / f"{bucket}.manifest.json").parent.mkdir(parents=True, exist_ok=True)
                (folder / f"{bucket}.manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        return count

    def _save_object(self, bucket: str, key: str, folder: Path, manifest: dict[str, dict[str, str]]) -> bool:
        target = _safe_path(folder / bucket, key)
        if target is None:
            log.warning("S3 object %r of %s not saved: its key cannot be a file path", key, bucket)
            return False
        try:
            obj = self.s3.get_object(Bucket=bucket, Key=key)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(obj["Body"].read())
        except (OSError, ClientError) as exc:
            log.warning("S3 object %r of %s not saved: %s", key, bucket, exc)
            return False
        manifest[key] = {"ContentType": obj.get("ContentType", "binary/octet-stream")}
        return True

    def restore_objects(self, folder: Path) -> int:
        """Put back what save_objects wrote (before notifications exist, so nothing is re-processed)."""
        count = 0
        for bucket in self.bucket_names():
            manifest_path = folder / f"{bucket}.manifest.json"
            if not manifest_path.exists():
                continue
            for key, meta in json.loads(manifest_path.read_text(encoding="utf-8")).items():
                source = _safe_path(folder / bucket, key)
                if source is not None and source.is_file():
                    self.s3.put_object(
                        Bucket=bucket, Key=key, Body=source.read_bytes(), ContentType=meta["ContentType"]
                    )
                    count += 1
        return count


def _safe_path(base: Path, key: str) -> Path | None:
    """Where `key` is saved under `base`, or None when it cannot be a file there: a `..`, an absolute path, or any
    key a path would normalise into another's (`a//b`, `a/./b`), or a NUL."""
    parts = PurePosixPath(key).parts
    if not parts or "\x00" in key or "/".join(parts) != key or any(p in ("..", ".") for p in parts):
        return None
    return base.joinpath(*parts)


def _secret_value(logical_id: str, props: dict[str, Any], secrets_dir: Path | None) -> str:
    """SecretString, or a value made as GenerateSecretString says (kept in secrets_dir/<logical id> when given)."""
    if "SecretString" in props:
        return str(props["SecretString"])
    saved = secrets_dir / logical_id if secrets_dir is not None else None
    if saved is not None and saved.is_file():
        return saved.read_text(encoding="utf-8")
    value = _generate(props.get("GenerateSecretString"), logical_id)
    if saved is not None:
        saved.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(saved, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as fh:
            fh.write(value)
    return value


def _generate(spec: dict[str, Any] | None, logical_id: str) -> str:
    if not spec:
        raise TemplateError(f"{logical_id}: a secret needs SecretString or GenerateSecretString")
    unsupported = set(spec) - {"PasswordLength", "ExcludePunctuation", "ExcludeCharacters"}
    if unsupported:
        raise TemplateError(f"{logical_id}: GenerateSecretString {sorted(unsupported)} not emulated locally")
    alphabet = string.ascii_letters + string.digits + ("" if spec.get("ExcludePunctuation") else string.punctuation)
    alphabet = "".join(c for c in alphabet if c not in str(spec.get("ExcludeCharacters", "")))
    return "".join(secrets.choice(alphabet) for _ in range(int(spec.get("PasswordLength", 32))))


def _encryption_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's ServerSideEncryptionRule as the S3 API names it."""
    renamed = {"ServerSideEncryptionByDefault": "ApplyServerSideEncryptionByDefault"}
    return {renamed.get(k, k): v for k, v in rule.items()}


def _cors(cors: dict[str, Any]) -> dict[str, Any]:
    return {
        "CORSRules": [
            {
                {
                    "AllowedHeaders": "AllowedHeaders",
                    "AllowedMethods": "AllowedMethods",
                    "AllowedOrigins": "AllowedOrigins",
                    "ExposedHeaders": "ExposeHeaders",
                    "MaxAge": "MaxAgeSeconds",
                    "Id": "ID",
                }.get(k, k): v
                for k, v in rule.items()
            }
            for rule in cors.get("CorsRules", [])
        ]
    }
