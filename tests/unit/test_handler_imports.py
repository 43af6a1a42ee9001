"""Handler modules import with no environment set (so cold start can be measured), and the functions that do not
compute never load numpy or pandas."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
MODULES = {
    "auth.handler": "functions/auth",
    "portfolios.handler": "functions/portfolios",
    "analysis.handler": "functions/analysis",
    "analysis.worker": "functions/analysis",
    "factor_update.handler": "functions/factor_update",
}
HEAVY = ("numpy", "pandas", "statsmodels", "scipy", "yfinance")


@cache
def imported_modules(module: str) -> frozenset[str]:
    """The modules a fresh interpreter holds after importing `module` with an empty environment (one process per
    module, shared by the tests that read it: each import is 1-3 s of CPU)."""
    code = f"import sys, json; import {module}; print(json.dumps(sorted(sys.modules)))"
    paths = f"{ROOT / MODULES[module]}:{ROOT / 'layers/common'}"
    out = subprocess.run(
        [sys.executable, "-c", code], env={"PYTHONPATH": paths}, capture_output=True, text=True, check=True, cwd="/"
    )
    return frozenset(json.loads(out.stdout))


@pytest.mark.parametrize("module", sorted(MODULES))
def test_handler_module_imports_with_an_empty_environment(module: str) -> None:
    assert module in imported_modules(module)


@pytest.mark.parametrize("module", ["auth.handler", "portfolios.handler", "analysis.handler", "analysis.worker"])
def test_http_functions_do_not_load_numeric_libraries(module: str) -> None:
    """The analysis HTTP function checks parameters with the engine's stdlib rules (numpy only in the correlations
    route); the worker imports pandas/numpy when it runs an analysis (or downloads a newly seen ticker from yfinance),
    not to handle an upload."""
    loaded = imported_modules(module)
    assert not [m for m in loaded if m.split(".")[0] in HEAVY]


@pytest.mark.parametrize("module", ["auth.handler", "portfolios.handler"])
def test_database_only_functions_do_not_load_boto3(module: str) -> None:
    """boto3 is ~0.1 s of a cold start: auth reads its keys and portfolios signs uploads or deletes objects through
    labfolio_common.aws.client, which imports boto3 on first use, so sign-in and listing never pay for it."""
    loaded = imported_modules(module)
    # Powertools imports the botocore package itself (its __init__, for a user agent: under a millisecond)
    assert not [m for m in loaded if m.split(".")[0] in ("boto3", "s3transfer")]
    assert not {"botocore.session", "botocore.client", "botocore.endpoint"} & loaded
