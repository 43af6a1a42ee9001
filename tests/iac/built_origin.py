"""pytest plugin for tests/iac/test_build.py: the run stops unless the engine's code and libraries are imported from
the built folders named in LABFOLIO_BUILT_PATHS (and not from the source tree or the development environment)."""

from __future__ import annotations

import importlib
import os

import pytest

CHECKED = pytest.StashKey[str]()
MODULES = ("analysis.domain.engine", "numpy", "pandas", "labfolio_common")


def pytest_configure(config: pytest.Config) -> None:
    built = [p for p in os.environ.get("LABFOLIO_BUILT_PATHS", "").split(os.pathsep) if p]
    if not built:
        raise pytest.UsageError("built_origin: LABFOLIO_BUILT_PATHS is not set")
    for name in MODULES:
        origin = importlib.import_module(name).__file__ or ""
        if not any(origin.startswith(path + os.sep) for path in built):
            raise pytest.UsageError(f"built_origin: {name} comes from {origin}, not from {built}")
    config.stash[CHECKED] = f"built_origin: ok ({', '.join(MODULES)} imported from the build)"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    terminalreporter.write_line(config.stash[CHECKED])
