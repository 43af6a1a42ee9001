"""The local stack's demo account: `demo` with a generated password, printed at start and kept under the data folder
(`demo_password`, mode 0600) so it is the same at the next start. Later issues give it a portfolio."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Final

log = logging.getLogger("labfolio.local")

DEMO_USERNAME: Final = "demo"
PASSWORD_FILE: Final = "demo_password"  # noqa: S105 - a file name


def demo_password(data_dir: Path) -> str:
    """The demo password kept in `data_dir`, generated and saved the first time."""
    from labfolio_common.auth.admin import generate_password

    path = data_dir / PASSWORD_FILE
    if path.is_file():
        saved = path.read_text(encoding="utf-8").strip()
        if saved:
            return saved
    password = generate_password()
    data_dir.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as fh:
        fh.write(password + "\n")
    return password


def ensure_demo_account(database_url: str, data_dir: Path) -> str:
    """Make sure `demo` exists with the kept password (reset to it if it was changed); return the password."""
    from labfolio_common.auth.admin import ensure_account
    from labfolio_common.db.engine import dispose_engine, session_scope

    password = demo_password(data_dir)
    try:
        with session_scope(database_url) as db:
            _, changed = ensure_account(db, DEMO_USERNAME, password)
    finally:
        dispose_engine(database_url)
    log.info("demo account %s", "created or reset" if changed else "ready")
    return password
