"""uv.lock as the single source of versions for the requirements.txt files that `sam build` installs.

`closure()` follows uv.lock's dependency graph (with extras, markers evaluated for the Lambda python3.12 x86_64
runtime) so a test can check that a requirements file pins every package pip would install, at the locked version.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from packaging.markers import Marker
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
LOCK_PATH = ROOT / "uv.lock"

# The environment markers of the AWS Lambda python3.12 runtime on x86_64 (Amazon Linux 2023).
LAMBDA_ENV = {
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "platform_machine": "x86_64",
    "platform_system": "Linux",
    "sys_platform": "linux",
    "os_name": "posix",
    "python_version": "3.12",
    "python_full_version": "3.12.0",
}


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_packages(path: Path = LOCK_PATH) -> dict[str, dict[str, Any]]:
    """{normalized name: uv.lock [[package]] entry}."""
    lock = tomllib.loads(path.read_text(encoding="utf-8"))
    return {normalize(p["name"]): p for p in lock["package"]}


def locked_versions(path: Path = LOCK_PATH) -> dict[str, str]:
    return {name: p["version"] for name, p in locked_packages(path).items() if "version" in p}


def _applies(dep: dict[str, Any], extra: str = "") -> bool:
    marker = dep.get("marker")
    return marker is None or Marker(marker).evaluate({**LAMBDA_ENV, "extra": extra})


def closure(requirements: list[Requirement], path: Path = LOCK_PATH) -> dict[str, str]:
    """Every package (normalized name -> locked version) that installing `requirements` pulls in, per uv.lock."""
    packages = locked_packages(path)
    seen: dict[str, set[str]] = {}
    todo = [(normalize(r.name), set(r.extras)) for r in requirements]
    while todo:
        name, extras = todo.pop()
        done = seen.get(name)
        if done is not None and extras <= done:
            continue
        seen[name] = (done or set()) | extras
        entry = packages[name]
        deps = [d for d in entry.get("dependencies", []) if _applies(d)]
        for extra in extras:
            deps += [d for d in entry.get("optional-dependencies", {}).get(extra, []) if _applies(d, extra)]
        todo += [(normalize(d["name"]), set(d.get("extra", []))) for d in deps]
    return {name: packages[name]["version"] for name in seen}


def read_requirements(path: Path) -> list[Requirement]:
    """The requirements of a pip requirements file (comments and blank lines skipped; no options expected)."""
    reqs = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            reqs.append(Requirement(line))
    return reqs


def pinned_version(req: Requirement) -> str | None:
    """The version of an exact `==` pin, else None."""
    specs = list(req.specifier)
    if len(specs) == 1 and specs[0].operator == "==" and "*" not in specs[0].version:
        return specs[0].version
    return None
