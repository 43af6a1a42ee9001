"""The requirements.txt files `sam build` installs agree with uv.lock (the versions the tests ran against)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import ROOT
from .lockfile import closure, locked_versions, normalize, pinned_version, read_requirements

pytestmark = pytest.mark.iac

LAYER = ROOT / "layers/common/requirements.txt"
FUNCTIONS = {p.parent.name: p for p in sorted((ROOT / "functions").glob("*/requirements.txt"))}
# Heavy numerics and the market-data source only where the computing happens (the analysis folder holds the worker,
# factor_update fetches market data) - never in the layer.
HEAVY = {"numpy", "pandas", "statsmodels", "scipy", "patsy", "yfinance"}
MAY_COMPUTE = {"analysis", "factor_update"}


def pins(path: Path) -> dict[str, str]:
    out = {}
    for req in read_requirements(path):
        version = pinned_version(req)
        assert version is not None, f"{path.relative_to(ROOT)}: {req} is not an exact == pin"
        assert not req.marker and not req.url, f"{path.relative_to(ROOT)}: {req}"
        name = normalize(req.name)
        assert name not in out, f"{path.relative_to(ROOT)}: {name} listed twice"
        out[name] = version
    return out


def test_every_function_has_a_requirements_file() -> None:
    assert set(FUNCTIONS) == {"auth", "portfolios", "analysis", "factor_update", "migrate"}


@pytest.mark.parametrize("path", [LAYER, *FUNCTIONS.values()], ids=lambda p: str(p.relative_to(ROOT)))
def test_pins_equal_uv_lock(path: Path) -> None:
    locked = locked_versions()
    for name, version in pins(path).items():
        assert name in locked, f"{path.relative_to(ROOT)}: {name} is not in uv.lock"
        assert version == locked[name], f"{path.relative_to(ROOT)}: {name}=={version}, uv.lock has {locked[name]}"


def test_layer_lists_the_shared_runtime_and_nothing_heavy() -> None:
    layer = pins(LAYER)
    assert {
        "aws-lambda-powertools",
        "pydantic",
        "pydantic-settings",
        "sqlalchemy",
        "pg8000",
        "fastapi",
        "mangum",
    } <= set(layer)
    assert "boto3" not in layer  # the Lambda runtime provides it
    assert not HEAVY & set(layer)
    (powertools,) = [r for r in read_requirements(LAYER) if normalize(r.name) == "aws-lambda-powertools"]
    assert "tracer" in powertools.extras


def test_layer_pins_its_whole_dependency_closure() -> None:
    """pip must find nothing unpinned to choose (it would take the newest release, not uv.lock's)."""
    assert pins(LAYER) == closure(read_requirements(LAYER))


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_function_requirements_only_add_to_the_layer(name: str) -> None:
    layer, own = pins(LAYER), pins(FUNCTIONS[name])
    assert not set(own) & set(layer), f"{name} repeats layer packages: {sorted(set(own) & set(layer))}"
    combined = {**layer, **own}
    assert closure(read_requirements(LAYER) + read_requirements(FUNCTIONS[name])) == combined
    if name not in MAY_COMPUTE:
        assert not HEAVY & set(own), f"{name} must not install {sorted(HEAVY & set(own))}"
