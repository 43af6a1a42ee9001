"""`sam build` of template.yaml succeeds without a container and produces what Lambda can run, fast.

One build per run (the `build` fixture); on its output: every function + its layers within Lambda's unzipped limit,
exactly the pinned packages each needs (the analysis HTTP function without pandas/yfinance), no test suites or stubs,
bytecode for every module; each handler imports from the build alone (no source tree, no development environment),
and the trimmed worker build passes the engine's tests. Timings are in bench/cold_start.py, not here."""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from local.template import load_template
from tools.lambda_env import RUNTIME_PACKAGES, built_functions, run_in, runtime_folder, tree_size

from .conftest import ROOT, SAM, VENV_BIN, run, tool_env
from .lockfile import normalize, pinned_version, read_requirements

pytestmark = pytest.mark.iac

LAMBDA_UNZIPPED_LIMIT = 262_144_000  # bytes, function code + all layers
HEAVY = {"numpy", "pandas", "statsmodels", "scipy"}


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
        timeout=600,
    )
    seconds = time.perf_counter() - started
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    print(f"sam build took {seconds:.1f} s")
    return {"dir": build_dir, "seconds": seconds, "output": result.stdout + result.stderr}


def test_sam_build_succeeds_offline(build: dict[str, Any]) -> None:
    """slow: a cold `sam build` of the layer and every function: 1.5-3 min measured here (each Makefile target
    pip-installs its wheels; pip keeps no cache on these machines), most of it downloads and bytecode compilation.

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


def test_every_function_with_its_layers_fits_lambda(build: dict[str, Any]) -> None:
    """Lambda's hard limit on the unzipped size: a function's code plus every layer it uses (from the built template,
    Globals included), for every function of the template."""
    functions = built_functions(build["dir"])
    assert {"AuthFunction", "AnalysisWorkerFunction", "FactorUpdateFunction"} <= set(functions)
    report, layer_sizes = [], {layer: tree_size(layer) for f in functions.values() for layer in set(f.layers)}
    for name, function in sorted(functions.items()):
        assert function.layers, f"{name} uses no layer"
        layers = sum(layer_sizes[layer] for layer in function.layers)
        total = function.size + layers
        report.append(f"{name}: {function.size:,} + layers {layers:,} = {total:,} bytes")
        assert total <= LAMBDA_UNZIPPED_LIMIT, f"{name}: {total:,} bytes unzipped > {LAMBDA_UNZIPPED_LIMIT:,}"
    print("\n".join(report))


def test_built_functions_carry_only_what_they_import(build: dict[str, Any]) -> None:
    functions = built_functions(build["dir"])
    for name, function in functions.items():
        assert not (function.code / "fastapi").exists(), f"{name} duplicates the layer"
        assert not (function.code / "Makefile").exists(), name
    for name in ("AuthFunction", "PortfoliosFunction"):
        assert not any((functions[name].code / heavy).exists() for heavy in HEAVY | {"yfinance"}), name
    # The analysis HTTP function computes factor correlations (numpy) and never fetches prices or runs the engine.
    http = functions["AnalysisFunction"].code
    assert (http / "numpy").is_dir()
    assert not any((http / other).exists() for other in ("pandas", "yfinance", "curl_cffi", "lxml"))
    for name in ("AnalysisWorkerFunction", "FactorUpdateFunction"):
        assert all((functions[name].code / pkg).is_dir() for pkg in ("numpy", "pandas", "yfinance")), name
        assert not any((functions[name].code / pkg).exists() for pkg in ("statsmodels", "scipy")), name


def test_built_folders_are_trimmed_and_compiled(build: dict[str, Any]) -> None:
    """No test suites, type stubs or pydantic.v1; every module has bytecode for the runtime's Python (python3.12
    here), which Python uses whatever the files' timestamps (unchecked hash): a cold start loads it, not the source."""
    tag = sys.implementation.cache_tag
    assert tag == "cpython-312"
    folders = {f.code for f in built_functions(build["dir"]).values()} | {build["dir"] / "CommonLayer"}
    for folder in folders:
        sources = [p for p in folder.rglob("*.py") if p.is_file()]
        assert sources, folder
        assert not [p for p in folder.rglob("tests") if p.is_dir()], folder
        assert not list(folder.rglob("*.pyi")), folder
        assert not (folder / "python" / "pydantic" / "v1").exists(), folder  # FastAPI only probes it (TRIM_PARTS)
        missing, stale = [], []
        for source in sources:
            pyc = Path(importlib.util.cache_from_source(str(source)))
            if not pyc.is_file():
                missing.append(source)
                continue
            # PEP 552 header: magic, flags 0b01 (hash-based, not checked at import), the source's hash.
            expected = (
                importlib.util.MAGIC_NUMBER
                + (1).to_bytes(4, "little")
                + importlib.util.source_hash(source.read_bytes())
            )
            if pyc.read_bytes()[:16] != expected:
                stale.append(pyc)
        assert not missing, f"{folder}: {len(missing)} modules without {tag} bytecode, e.g. {missing[:3]}"
        assert not stale, f"{folder}: {len(stale)} .pyc not unchecked-hash ones of their source, e.g. {stale[:3]}"


IMPORT_CHECK = """
import importlib, json, sys
module = importlib.import_module(sys.argv[1] if len(sys.argv) > 1 else {module!r})
assert callable(module.lambda_handler)
files = {{name: getattr(m, "__file__", None) for name, m in list(sys.modules.items())}}
print(json.dumps({{"files": files, "stdlib": [sys.base_prefix, sys.prefix]}}))
"""


def test_built_handlers_import_from_the_build_alone(build: dict[str, Any], tmp_path: Path) -> None:
    """Each handler module imports in a fresh interpreter that sees only the function's built code, its layers and
    the runtime's boto3 (no site-packages, no source tree), with no environment set - as a Lambda cold start."""
    runtime = runtime_folder(tmp_path / "runtime")
    for name, function in built_functions(build["dir"]).items():
        result = run_in(function, runtime, IMPORT_CHECK.format(module=function.handler_module))
        assert result.returncode == 0, f"{name}: {result.stderr[-3000:]}"
        report = json.loads(result.stdout.strip().splitlines()[-1])
        allowed = [*function.sys_path(runtime), *report["stdlib"]]
        for module, file in report["files"].items():
            if file is None:
                continue
            assert not Path(file).is_relative_to(ROOT), f"{name}: {module} came from the source tree ({file})"
            assert any(file.startswith(prefix) for prefix in allowed), f"{name}: {module} from {file}"


def _imports(path: Path, module: str) -> list[tuple[str, bool]]:
    """(absolute name, inside a function?) of each run-time import of a module (TYPE_CHECKING blocks skipped)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: list[tuple[str, bool]] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            inner = lazy or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                out.extend((alias.name, inner) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parent = package.rsplit(".", child.level - 1)[0] if child.level > 1 else package
                    base = f"{parent}.{base}" if base else parent
                out.append((base, inner))
                out.extend((f"{base}.{alias.name}", inner) for alias in child.names)
            visit(child, inner)

    visit(ast.parse(path.read_text()), False)
    return out


def _module_file(roots: list[Path], name: str) -> Path | None:
    for root in roots:
        for candidate in (
            root.joinpath(*name.split(".")) / "__init__.py",
            root.joinpath(*name.split(".")).with_suffix(".py"),
        ):
            if candidate.is_file():
                return candidate
    return None


def _top_level_present(roots: list[Path], name: str) -> bool:
    return any(
        (root / name).is_dir() or (root / f"{name}.py").is_file() or any(root.glob(f"{name}.*.so")) for root in roots
    )


def test_built_functions_hold_every_package_their_code_may_import(build: dict[str, Any]) -> None:
    """Statically, beyond what importing the handler proves: every import anywhere in a function's own package that
    its handler can reach - including those inside functions, run only on some requests or jobs - names a package
    the built function, its layers or the runtime provides. (labfolio_common is followed through its module-level
    imports: its market-data code imports pandas/yfinance lazily, only where a function fetches prices.)"""
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    for name, function in built_functions(build["dir"]).items():
        roots = [function.code, *(layer / "python" for layer in function.layers)]
        own = function.handler_module.split(".")[0]
        seen: set[str] = set()
        queue = [function.handler_module]
        external: dict[str, str] = {}
        while queue:
            module = queue.pop()
            if module in seen:
                continue
            seen.add(module)
            path = _module_file(roots, module)
            if path is None:
                continue
            for target, lazy in _imports(path, module):
                top = target.split(".")[0]
                if top == own or (top == "labfolio_common" and not lazy):
                    queue.append(target)
                elif top not in stdlib and top != "labfolio_common":
                    external.setdefault(top, module)
        assert external, name
        missing = {
            top: by
            for top, by in external.items()
            if not _top_level_present(roots, top) and top not in RUNTIME_PACKAGES
        }
        assert not missing, f"{name} lacks what its code imports ({{package: imported by}}): {missing}"


CORRELATION = """
import json
import numpy as np
from analysis.domain.correlation import correlation_matrix
rng = np.random.default_rng(7)
series = rng.normal(size=(4, 300)).tolist() + [[0.01] * 300]  # the last never moves: no correlation
print(json.dumps({{"numpy": np.__file__, "result": correlation_matrix(series)}}))
"""


def test_built_http_analysis_function_computes_factor_correlations(build: dict[str, Any], tmp_path: Path) -> None:
    """The HTTP function ships numpy alone: its correlation route computes from the build as from the source tree."""
    function = built_functions(build["dir"])["AnalysisFunction"]
    result = run_in(function, runtime_folder(tmp_path / "runtime"), CORRELATION.format())
    assert result.returncode == 0, result.stderr[-3000:]
    built = json.loads(result.stdout)
    assert built["numpy"].startswith(str(function.code))
    here = subprocess.run(
        [sys.executable, "-c", CORRELATION.format()],
        env={**os.environ, "PYTHONPATH": str(ROOT / "functions/analysis") + os.pathsep + str(ROOT / "layers/common")},
        capture_output=True,
        text=True,
        check=True,
    )
    expected = json.loads(here.stdout)["result"]
    # the same numbers up to the last bits: the built function's BLAS runs with the runtime's threads (the tests pin
    # one), and a matrix product summed in another order may differ in its last place
    assert [[v is None for v in row] for row in built["result"]] == [[v is None for v in row] for row in expected]
    flat = [(a, b) for got, want in zip(built["result"], expected, strict=True) for a, b in zip(got, want, strict=True)]
    assert all(a == pytest.approx(b, rel=1e-12, abs=1e-15) for a, b in flat if b is not None)


def test_trimmed_worker_build_passes_the_engine_tests(build: dict[str, Any]) -> None:
    """slow (~30 s): the factor engine's tests (statsmodels/linearmodels references, real demo data, properties) run
    against the worker's built folder - its trimmed numpy and pandas, its compiled analysis package - not the source.

    tests/iac/built_origin.py stops the run unless analysis, numpy, pandas and labfolio_common come from the build."""
    worker = built_functions(build["dir"])["AnalysisWorkerFunction"]
    paths = [str(worker.code), *(str(layer / "python") for layer in worker.layers)]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([*paths, str(ROOT)]),
        "LABFOLIO_BUILT_PATHS": os.pathsep.join(paths),
    }
    env.update(PYTHONDONTWRITEBYTECODE="1", OPENBLAS_NUM_THREADS="1")
    tests = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests/unit").glob("test_engine_*.py"))
    assert len(tests) >= 5
    pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.iac.built_origin"]
    result = run(
        [*pytest, "-o", "pythonpath=", "-o", "addopts=", *tests],
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "built_origin: ok" in result.stdout, result.stdout[-2000:]
