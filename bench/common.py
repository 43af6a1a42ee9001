"""What several benchmarks need: the import path, a Lambda context, and the databases to measure on."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def on_path(*folders: str) -> None:
    """Put the repository root and these folders of it (e.g. "layers/common", "functions/auth") on sys.path."""
    for sub in (".", *folders):
        path = str(ROOT / sub)
        if path not in sys.path:
            sys.path.insert(0, path)


class LambdaContext:
    """The context object Lambda passes a handler, as far as Powertools and Mangum read it."""

    function_name = "bench"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def is_postgres(url: str | None) -> bool:
    on_path("layers/common")
    from labfolio_common.db.engine import normalize_url

    return bool(url) and normalize_url(url).get_backend_name() == "postgresql"  # type: ignore[arg-type]


@contextmanager
def scratch_databases(
    server_url: str | None, tmp: Path, stem: str, *, migrate: bool
) -> Iterator[list[tuple[str, str]]]:
    """[(label, url)]: an SQLite file under `tmp`, and a throwaway database on `server_url` when it names a
    PostgreSQL server (dropped on exit); migrated to head when `migrate` (else whoever uses them migrates)."""
    on_path("layers/common")
    from labfolio_common.db.engine import dispose_engine

    from tests.fixtures.db import scratch_database

    found = [("sqlite", f"sqlite:///{tmp / f'{stem}.db'}")]
    with ExitStack() as stack:
        if is_postgres(server_url):
            found.append(("postgresql", stack.enter_context(scratch_database(server_url))))  # type: ignore[arg-type]
        stack.callback(dispose_engine, found[0][1])
        if migrate:
            from migrations.runner import upgrade

            for _, url in found:
                upgrade(url)
        yield found
