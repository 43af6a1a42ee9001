"""Shared pytest configuration: fixtures live in tests/fixtures/, one module per concern."""

import os

# As on Lambda, the Powertools variables exist before any handler module is imported (the singletons read them then).
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "labfolio")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "labfolio-tests")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")

pytest_plugins = [
    "tests.fixtures.db",
    "tests.fixtures.aws",
    "tests.fixtures.hashing",
]
