"""template.yaml passes cfn-lint (which applies the SAM transform) and `sam validate --lint`."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import CFN_LINT, ROOT, SAM, run, tool_env

pytestmark = pytest.mark.iac

TEMPLATE = ROOT / "template.yaml"


def test_cfn_lint_has_no_findings() -> None:
    result = run([CFN_LINT, "--format", "parseable", str(TEMPLATE)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "", result.stdout


def test_sam_validate_lint_passes() -> None:
    result = run([SAM, "validate", "--lint", "--template-file", str(TEMPLATE)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


def test_plain_sam_validate_passes_offline_without_credentials(tmp_path: Path) -> None:
    """`sam validate --region us-east-1` (the SAM transform by SAM CLI itself), with no AWS credentials or config:
    every managed policy the template names must be one SAM knows, or it would ask IAM."""
    env = {k: v for k, v in tool_env().items() if not k.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    result = run([SAM, "validate", "--region", "us-east-1", "--template-file", str(TEMPLATE)], env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


MUTANTS = {
    # A wrong ApiId is only seen after the SAM transform (cfn-lint >= 1.54 checks schemas only and misses it).
    "bad-api-id": ("ApiId: !Ref HttpApi\n", "ApiId: !Ref HttpApiTypo\n", "ApiId must be a valid reference"),
    "response-type-typo": (
        "FunctionResponseTypes: [ReportBatchItemFailures]",
        "FunctionResponseTypes: [ReportBatchItemFailure]",
        "'ReportBatchItemFailure' is not one of",
    ),
    "visibility-below-timeout": (
        "VisibilityTimeout: !Ref QueueVisibilityTimeout",
        "VisibilityTimeout: 30",
        "less than Function timeout",
    ),
}


def test_cfn_lint_still_catches_sam_mistakes(tmp_path: Path) -> None:
    """Guards the guard: if a cfn-lint upgrade stops applying the SAM transform, these broken copies would pass."""
    source = TEMPLATE.read_text(encoding="utf-8")
    paths = {}
    for name, (before, after, _) in MUTANTS.items():
        assert before in source, name
        paths[name] = tmp_path / f"{name}.yaml"
        paths[name].write_text(source.replace(before, after), encoding="utf-8")
    result = run([CFN_LINT, "--format", "parseable", *map(str, paths.values())])
    assert result.returncode != 0
    for name, (_, _, expected) in MUTANTS.items():
        findings = [line for line in result.stdout.splitlines() if line.startswith(str(paths[name]))]
        assert any(expected in line for line in findings), f"{name}: {findings or result.stdout + result.stderr}"
