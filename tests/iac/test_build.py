"""`sam build` of template.yaml succeeds without a container and produces the expected layer and functions."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from local.template import load_template

from .conftest import ROOT, SAM, VENV_BIN, run, tool_env
from .lockfile import normalize, pinned_version, read_requirements

pytestmark = pytest.mark.iac

LAMBDA_UNZIPPED_LIMIT = 262_144_000  # bytes, function code + all layers
HEAVY = {"numpy", "pandas", "statsmodels", "scipy"}


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _dists(site: Path) -> dict[str, str]:
    out = {}
    for info in site.glob("*.dist-info"):
        name, version = info.name.removesuffix(".dist-info").rsplit("-", 1)
        out[normalize(name)] = version
    return out


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run `sam build` once into a temporary directory (its caches too, so every run builds from scratch)."""
    work = tmp_path_factory.mktemp("sam-build")
    # sam's python builder runs `python3.12 -m pip`; the uv-made .venv has no pip, so give it a throwaway venv with
    # pip (ensurepip, offline) built from this interpreter, first on PATH.
    python = work / "python"
    made = run([sys.executable, "-m", "venv", str(python)], timeout=120)
    assert made.returncode == 0, made.stderr
    env = tool_env(PATH=os.pathsep.join([str(python / "bin"), str(VENV_BIN), os.environ.get("PATH", "")]))
    build_dir = work / "build"
    started = time.perf_counter()
    result = run(
        [
            SAM,
            "build",
            "--template-file",
            str(ROOT / "template.yaml"),
            "--base-dir",
            str(ROOT),
            "--build-dir",
            str(build_dir),
            "--cached",
            "--cache-dir",
            str(work / "cache"),
            "--parallel",
        ],
        cwd=work,  # sam keeps its dependency cache in ./.aws-sam/deps: keep it out of the repository
        env=env,
        timeout=280,
    )
    seconds = time.perf_counter() - started
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    print(f"sam build took {seconds:.1f} s")
    return {"dir": build_dir, "seconds": seconds, "output": result.stdout + result.stderr}


def test_sam_build_succeeds_offline(build: dict[str, Any]) -> None:
    """slow: a cold `sam build` of the layer and five functions (pip installs the layer): ~11 s measured here.

    Kept in the default suite on purpose - CI must prove the application builds."""
    built = load_template(build["dir"] / "template.yaml")
    for name, resource in built["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            assert (build["dir"] / resource["Properties"]["CodeUri"]).is_dir(), name
    assert built["Resources"]["CommonLayer"]["Properties"]["ContentUri"] == "CommonLayer"


def test_built_layer_holds_labfolio_common_and_exactly_the_pins(build: dict[str, Any]) -> None:
    site = build["dir"] / "CommonLayer" / "python"
    assert (site / "labfolio_common" / "__init__.py").is_file()
    assert not any((site / name).exists() for name in HEAVY | {"boto3"})
    expected = {
        normalize(r.name): pinned_version(r) for r in read_requirements(ROOT / "layers/common/requirements.txt")
    }
    assert _dists(site) == expected


def test_built_functions_are_light_and_fit_lambda(build: dict[str, Any]) -> None:
    layer = _size(build["dir"] / "CommonLayer")
    for name in (
        "AuthFunction",
        "PortfoliosFunction",
        "AnalysisFunction",
        "AnalysisWorkerFunction",
        "FactorUpdateFunction",
    ):
        code = build["dir"] / name
        if name in ("AuthFunction", "PortfoliosFunction"):
            assert not any((code / heavy).exists() for heavy in HEAVY), name
        assert not (code / "fastapi").exists(), f"{name} duplicates the layer"
        assert layer + _size(code) < LAMBDA_UNZIPPED_LIMIT, name
