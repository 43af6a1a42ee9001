"""Build one Lambda artifact for `sam build` (BuildMethod: makefile): code, pinned wheels, trimmed, compiled.

Each function folder and layers/common has a `Makefile` whose `build-<LogicalId>` target runs this script with
ARTIFACTS_DIR (sam runs make in a scratch copy of the CodeUri folder; ARTIFACTS_DIR is the folder sam zips and
deploys, and the one `sam build` leaves under .aws-sam/build/<LogicalId>). Why not sam's own python3.12 builder:

- Wheels: the requirements file's exact pins only (`--no-deps`), as wheels for Lambda's platform (manylinux up to
  glibc 2.34, CPython 3.12, x86_64) whatever this machine is. A function's file lists what it adds to the layer
  (tests/iac/test_requirements.py checks that the two together are closed under uv.lock), so the function does not
  get a second, unpinned copy of what the layer has (sam's builder resolved python-dateutil 4 into the analysis
  function, shadowing the layer's locked 2.9).
- `--only NAME ...` installs a subset of the file: the analysis HTTP function needs numpy (factor correlations) but
  never pandas or yfinance, which only its worker (same folder) imports.
- Trim: test suites (`tests/` folders), type stubs (`*.pyi`) and Cython sources (`*.pyx`, `*.pxd`, `*.pxi`) are
  never imported at run time (~26 MB of numpy + pandas); nor is `pydantic.v1`, which FastAPI would import only to
  ask whether a model is a Pydantic 1 one (TRIM_PARTS).
- Bytecode: every module is compiled for this interpreter (which must be the runtime's Python: the build stops if
  it is not) with unchecked-hash invalidation, so Lambda (read-only /var/task, no .pyc otherwise) loads bytecode
  instead of compiling every module on each cold start, whatever the files' timestamps in the zip.

`sam build --cached` hashes only the CodeUri folder: after changing this script, build once without --cached.
"""

from __future__ import annotations

import argparse
import compileall
import py_compile
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PLATFORMS = ["manylinux2014_x86_64", *(f"manylinux_2_{minor}_x86_64" for minor in range(17, 35))]  # AL2023: 2.34
TRIM_DIRS = {"tests", "__pycache__"}
TRIM_SUFFIXES = {".pyi", ".pyx", ".pxd", ".pxi"}
# Packages' parts that nothing shipped imports: pydantic.v1 (the Pydantic 1 copy, 1.2 MB) is only probed, by FastAPI at
# route registration ("is this a v1 model?", answered False when it cannot be imported): 16 ms of every cold start.
TRIM_PARTS = ("pydantic/v1",)
NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_lines(path: Path, only: set[str] | None) -> list[str]:
    """The file's requirement lines (comments dropped), or those naming a package in `only`."""
    pins: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = NAME.match(line)
        if match is None:
            raise SystemExit(f"{path}: cannot read {raw!r}")
        pins[normalize(match.group(1))] = line
    if only is None:
        return list(pins.values())
    if missing := only - set(pins):
        raise SystemExit(f"{path}: --only names packages it does not pin: {sorted(missing)}")
    return [line for name, line in pins.items() if name in only]


def pip_install(lines: list[str], target: Path, python_version: str) -> None:
    if not lines:
        return
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write("\n".join(lines) + "\n")
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps"]
    cmd += ["--no-compile", "--only-binary=:all:", "--implementation", "cp", "--python-version", python_version]
    cmd += [item for platform in PLATFORMS for item in ("--platform", platform)]
    cmd += ["--target", str(target), "-r", handle.name]
    try:
        subprocess.run(cmd, check=True)
    finally:
        Path(handle.name).unlink()


def trim(root: Path) -> int:
    """Remove what is never imported at run time; returns the bytes removed."""
    removed = 0
    for path in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_dir() and path.name in TRIM_DIRS and not path.is_symlink():
            removed += sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
            shutil.rmtree(path)
        elif path.is_file() and path.suffix in TRIM_SUFFIXES:
            removed += path.stat().st_size
            path.unlink()
    for part in TRIM_PARTS:
        if (path := root / part).is_dir():
            removed += sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
            shutil.rmtree(path)
    return removed


def copy_code(source: Path, packages: list[str], target: Path) -> None:
    for package in packages:
        shutil.copytree(
            source / package, target / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyi")
        )


def compile_all(root: Path, runtime_dir: str) -> None:
    """Bytecode for every module, naming its source where Lambda unpacks it (/var/task, /opt/python) rather than
    this build folder; hash-based, so no timestamp is recorded or compared."""
    ok = compileall.compile_dir(
        root, quiet=1, workers=0, ddir=runtime_dir, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH
    )
    if not ok:
        raise SystemExit(f"compileall failed under {root}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("artifacts_dir", type=Path, help="sam's ARTIFACTS_DIR")
    parser.add_argument("--source", type=Path, default=Path.cwd(), help="the CodeUri folder (default: here)")
    parser.add_argument("--package", action="append", required=True, help="code package to ship (repeatable)")
    parser.add_argument("--requirements", type=Path, help="pinned requirements file (default: none)")
    parser.add_argument("--only", nargs="+", help="install only these packages of the requirements file")
    parser.add_argument("--subdir", default="", help="install under this folder of ARTIFACTS_DIR (layers: python)")
    parser.add_argument("--python", default="3.12", help="the Lambda runtime's Python version")
    args = parser.parse_args(argv)

    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    if running != args.python:
        raise SystemExit(f"this is Python {running}; the bytecode must be compiled by Python {args.python}")
    target = (args.artifacts_dir / args.subdir).resolve()
    target.mkdir(parents=True, exist_ok=True)
    copy_code(args.source.resolve(), args.package, target)
    if args.requirements is not None:
        only = {normalize(name) for name in args.only} if args.only else None
        pip_install(requirement_lines(args.source / args.requirements, only), target, args.python)
    removed = trim(target)
    compile_all(target, f"/opt/{args.subdir}" if args.subdir else "/var/task")
    size = sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
    print(f"{target}: {size / 1e6:.1f} MB with bytecode, {removed / 1e6:.1f} MB of tests/stubs removed")


if __name__ == "__main__":
    main()
