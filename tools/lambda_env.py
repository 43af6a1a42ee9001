"""The `sam build` output as Lambda sees it: each function's code folder, its layers, and a Python process that
imports from them alone (tests/iac/test_build.py checks the built handlers with it; bench/cold_start.py times them).

On Lambda, sys.path is the function's code (/var/task), then each layer's python/ (/opt/python), then the runtime's
own packages (boto3, s3transfer, botocore...). Here the interpreter runs with `-S` (no site-packages: nothing from
the development environment, nor the source tree) and PYTHONPATH = function dir, layer python/ dirs, and a folder
standing for the runtime's packages, linked from this environment. /var/task is read-only on Lambda, so no bytecode
is written (PYTHONDONTWRITEBYTECODE=1): what the build does not ship is compiled again on every cold start.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LAMBDA_LIMIT = 262_144_000  # bytes unzipped: a function's code plus all its layers (Lambda's hard limit)
# What the python3.12 Lambda runtime provides and the layer does not necessarily ship (the layer's own copies win).
RUNTIME_PACKAGES = ("boto3", "s3transfer", "botocore", "jmespath", "dateutil", "six", "urllib3")


@dataclass(frozen=True)
class BuiltFunction:
    name: str
    handler_module: str
    code: Path
    layers: tuple[Path, ...]  # each layer's built folder (the zip's root; Python imports from its python/)

    @property
    def size(self) -> int:
        return tree_size(self.code)

    def sys_path(self, runtime: Path) -> list[str]:
        return [str(self.code), *(str(layer / "python") for layer in self.layers), str(runtime)]


def tree_size(path: Path | str) -> int:
    """Bytes of the files under `path`, as Lambda counts the unzipped size (directories and links weigh nothing).
    os.scandir's entries carry their type and size: one system call a file, not three."""
    total = 0
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.is_symlink():
                continue
            if entry.is_dir():
                total += tree_size(entry.path)
            elif entry.is_file():
                total += entry.stat().st_size
    return total


def _layer_refs(template: dict[str, Any], props: dict[str, Any]) -> list[Any]:
    # SAM puts the Globals' layers first, then the function's own.
    refs = list(template.get("Globals", {}).get("Function", {}).get("Layers", [])) + list(props.get("Layers", []))
    return [ref for i, ref in enumerate(refs) if ref not in refs[:i]]


def built_functions(build_dir: Path) -> dict[str, BuiltFunction]:
    """{logical id: BuiltFunction} for every AWS::Serverless::Function of the built template."""
    from local.template import load_template

    template = load_template(build_dir / "template.yaml")
    resources = template["Resources"]
    out = {}
    for name, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        layers = []
        for ref in _layer_refs(template, props):
            target = ref.get("Ref") if isinstance(ref, dict) else None
            if target not in resources or resources[target]["Type"] != "AWS::Serverless::LayerVersion":
                raise ValueError(f"{name}: layer {ref!r} is not a layer of this template: its size cannot be measured")
            layers.append(build_dir / resources[target]["Properties"]["ContentUri"])
        handler_module = props["Handler"].rsplit(".", 1)[0]
        out[name] = BuiltFunction(name, handler_module, build_dir / props["CodeUri"], tuple(layers))
    return out


def runtime_folder(where: Path) -> Path:
    """A folder of links to this environment's copies of what the Lambda runtime provides (boto3...)."""
    where.mkdir(parents=True, exist_ok=True)
    for package in RUNTIME_PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            raise RuntimeError(f"{package} is not installed here: it stands for the Lambda runtime's copy")
        source = Path(spec.origin)
        if spec.submodule_search_locations is not None:  # a package: link its folder
            source = source.parent
        link = where / source.name
        if not link.exists():
            link.symlink_to(source, target_is_directory=source.is_dir())
    return where


def python_command(code: str) -> list[str]:
    return [sys.executable, "-S", "-c", code]


def lambda_env(function: BuiltFunction, runtime: Path, **extra: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "PYTHONPATH": os.pathsep.join(function.sys_path(runtime)),
        "PYTHONDONTWRITEBYTECODE": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }
    env.update(extra)
    return env


def run_in(
    function: BuiltFunction, runtime: Path, code: str, timeout: float = 120, **extra: str
) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh interpreter that sees only `function`'s built code, its layers and the runtime."""
    return subprocess.run(
        python_command(code),
        env=lambda_env(function, runtime, **extra),
        cwd="/",
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
