"""Market data costs nothing at cold start: the functions that fetch it (factor_update, the analysis worker) and the
analysis HTTP function import pandas, numpy and yfinance only when a fetch or a correlation runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
LAZY = ("numpy", "pandas", "yfinance", "skfolio")


@pytest.mark.parametrize(
    ("module", "folder"),
    [
        ("analysis.handler", "functions/analysis"),
        ("analysis.worker", "functions/analysis"),
        ("factor_update.handler", "functions/factor_update"),
        ("labfolio_common.market.refresh", "layers/common"),
    ],
)
def test_module_imports_without_numeric_or_market_libraries(module: str, folder: str) -> None:
    code = f"import sys, json; import {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": f"{ROOT / folder}:{ROOT / 'layers/common'}"},
        capture_output=True,
        text=True,
        check=True,
        cwd="/",
    )
    loaded = {name.split(".")[0] for name in json.loads(out.stdout)}
    assert not loaded & set(LAZY)
