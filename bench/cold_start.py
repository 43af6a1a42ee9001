"""Cold start as Lambda starts a function (issue 8): sizes and handler import times measured on the `sam build` output.

1. `sam build` (into a temporary folder, timed; `--build-dir` reuses an existing build instead).
2. Unzipped size of each function + its layers against Lambda's 262,144,000 bytes.
3. Import of each handler module in a fresh interpreter that sees only the function's built folder, its layers and
   the runtime's boto3 (tools/lambda_env.py: `python -S`, PYTHONDONTWRITEBYTECODE=1, no environment, as /var/task is
   read-only), median of N runs: with the bytecode the build ships, and from a copy of the build without it (what
   sam's python builder shipped: every module compiled on every cold start). Wall time and the child's CPU time
   (the CPU time is the steadier figure on a shared machine). Targets: auth, portfolios <= 0.5 s; analysis worker,
   factor_update <= 2 s. Then what the first use adds where it imports more lazily (the worker's first job: numpy,
   pandas and the engine; factor_update's first fetch: yfinance and pandas; the HTTP function's correlations: numpy).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tools.lambda_env import LAMBDA_LIMIT, BuiltFunction, built_functions, run_in, runtime_folder, tree_size

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {
    "auth.handler": 0.5,
    "portfolios.handler": 0.5,
    "analysis.worker": 2.0,
    "factor_update.handler": 2.0,
}
FIRST_USE = {
    "analysis.worker": ["analysis.runner", "analysis.domain.engine", "pandas"],
    "factor_update.handler": ["labfolio_common.market.yahoo", "yfinance", "pandas"],
    "analysis.handler": ["analysis.domain.correlation"],
}
HEAVY = ("numpy", "pandas", "yfinance", "scipy", "statsmodels")
# A yardstick for the machine's state: the web/database libraries alone, 0.42 s with .pyc on a quiet machine of this
# kind (shared FACTS.md); on a busy one everything above scales up by about the same ratio.
REFERENCE = ["fastapi", "mangum", "sqlalchemy", "pg8000", "jwt", "argon2", "aws_lambda_powertools.logging"]
REFERENCE_QUIET_S = 0.42
CHILD = """
import importlib, json, sys, time
w0, c0 = time.perf_counter(), time.process_time()
for name in {modules!r}:
    importlib.import_module(name)
w1, c1 = time.perf_counter(), time.process_time()
heavy = sorted({{name.split(".")[0] for name in sys.modules}} & set({heavy!r}))
for name in {first_use!r}:
    importlib.import_module(name)
w2, c2 = time.perf_counter(), time.process_time()
print(json.dumps([w1 - w0, c1 - c0, w2 - w1, c2 - c1, heavy]))
"""


def sam_build(out: Path) -> float:
    """A cold `sam build` of template.yaml into `out` (its own caches); returns the seconds it took."""
    pyvenv = out.parent / "pyvenv"  # sam and the Makefiles run `python3.12 -m pip`: a venv that has pip
    subprocess.run([sys.executable, "-m", "venv", str(pyvenv)], check=True)
    env = dict(os.environ, SAM_CLI_TELEMETRY="0")
    env["PATH"] = os.pathsep.join([str(pyvenv / "bin"), str(Path(sys.executable).parent), env.get("PATH", "")])
    started = time.perf_counter()
    cmd = [str(Path(sys.executable).parent / "sam"), "build", "--template-file", str(ROOT / "template.yaml")]
    cmd += ["--base-dir", str(ROOT), "--build-dir", str(out), "--cache-dir", str(out.parent / "cache"), "--parallel"]
    done = subprocess.run(cmd, cwd=out.parent, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"sam build failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return time.perf_counter() - started


def without_bytecode(function: BuiltFunction, where: Path) -> BuiltFunction:
    """A hard-linked copy of the function and its layers minus every __pycache__ (as sam's python builder ships)."""

    def copy(source: Path) -> Path:
        target = where / source.name
        if not target.exists():
            shutil.copytree(source, target, copy_function=os.link, ignore=shutil.ignore_patterns("__pycache__"))
        return target

    return BuiltFunction(
        function.name, function.handler_module, copy(function.code), tuple(copy(layer) for layer in function.layers)
    )


def measure(
    function: BuiltFunction, runtime: Path, runs: int, modules: list[str] | None = None
) -> tuple[list[float], list[str]]:
    """Medians of (import wall, import CPU, first-use wall, first-use CPU) over `runs` fresh interpreters, and the
    heavy packages the handler's import (or `modules`') loaded."""
    first_use = [] if modules else FIRST_USE.get(function.handler_module, [])
    code = CHILD.format(modules=modules or [function.handler_module], first_use=first_use, heavy=HEAVY)
    samples = []
    for _ in range(runs):
        result = run_in(function, runtime, code)
        if result.returncode != 0:
            raise SystemExit(f"{function.name}: {result.stderr[-2000:]}")
        *times, heavy = json.loads(result.stdout.strip().splitlines()[-1])
        samples.append(times)
    return [statistics.median(column) for column in zip(*samples, strict=True)], heavy


def bench_cold_start(runs: int = 5, build_dir: Path | None = None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if build_dir is None:
            build_dir = work / "build"
            print(f"\nCold start: `sam build` (cold, no cache) took {sam_build(build_dir):.0f} s")
        else:
            print(f"\nCold start: the build in {build_dir}")
        functions = built_functions(build_dir)
        print(f"\nUnzipped size of each function + its layers (Lambda's limit: {LAMBDA_LIMIT:,} bytes)")
        print(f"{'function':<26}{'code (MB)':>11}{'layers (MB)':>13}{'total (MB)':>12}{'of limit':>10}")
        for name, function in sorted(functions.items()):
            layers = sum(tree_size(layer) for layer in function.layers)
            total = function.size + layers
            sizes = f"{function.size / 1e6:>11.1f}{layers / 1e6:>13.1f}{total / 1e6:>12.1f}"
            print(f"{name:<26}{sizes}{total / LAMBDA_LIMIT:>10.0%}")

        runtime = runtime_folder(work / "runtime")
        print(
            f"\nHandler import from the build, fresh interpreter, no bytecode writing (median of {runs}; wall / CPU"
            " seconds; load average {:.1f})".format(os.getloadavg()[0])
        )
        print(f"{'handler':<24}{'.pyc shipped':>14}{'no .pyc':>14}{'target':>8}{'met':>9}  loaded  first use adds")
        for name, function in sorted(functions.items(), key=lambda item: item[1].handler_module):
            module = function.handler_module
            with_pyc, heavy = measure(function, runtime, runs)
            bare, _ = measure(without_bytecode(function, work / "nopyc" / name), runtime, runs)
            target = TARGETS.get(module)
            met = "" if target is None else "/".join("yes" if t <= target else "NO" for t in with_pyc[:2])
            first = ""
            if module in FIRST_USE:
                first = f"{with_pyc[2]:.2f}/{with_pyc[3]:.2f} (no .pyc {bare[2]:.2f}/{bare[3]:.2f}): "
                first += ", ".join(FIRST_USE[module])
            times = f"{with_pyc[0]:>8.2f}/{with_pyc[1]:<5.2f}{bare[0]:>8.2f}/{bare[1]:<5.2f}"
            goal = "" if target is None else f"{target:.1f}"
            print(f"{module:<24}{times}{goal:>8}{met:>9}  {','.join(heavy) or '-':<6}  {first}")
        auth = next(f for f in functions.values() if f.handler_module == "auth.handler")
        reference, _ = measure(auth, runtime, runs, REFERENCE)
        print("(met: wall/CPU within the target; loaded: heavy packages the import itself loaded)")
        print(
            f"Yardstick, the libraries alone ({', '.join(REFERENCE)}): {reference[0]:.2f}/{reference[1]:.2f} s here,"
            f" {REFERENCE_QUIET_S} s on a quiet machine: x{reference[0] / REFERENCE_QUIET_S:.1f} wall,"
            f" x{reference[1] / REFERENCE_QUIET_S:.1f} CPU"
        )


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--build-dir", type=Path, help="an existing `sam build` output (default: build afresh)")
    args = parser.parse_args()
    bench_cold_start(args.runs, args.build_dir)
