"""The local stack's demo account: `demo` with a generated password, printed at start and kept under the data folder
(`demo_password`, mode 0600) so it is the same at the next start, and a demo portfolio already analysed (DESIGN.md
§3): when the account has no portfolio, one is created and the demo CSV (the portfolio template,
labfolio_common/demo_portfolio.csv) is put in the uploads bucket - the real pipeline does the rest (S3 event →
queue → worker: ingestion, then the default analysis). A demo portfolio that never got its holdings gets the file
again at the next start."""

from __future__ import annotations

import logging
import os
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

log = logging.getLogger("labfolio.local")

DEMO_USERNAME: Final = "demo"
PASSWORD_FILE: Final = "demo_password"  # noqa: S105 - a file name
DEMO_PORTFOLIO_NAME: Final = "Demo portfolio (offline demo data)"
DEMO_UPLOAD_TTL: Final = timedelta(minutes=10)  # as a browser's upload form


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


def ensure_demo_portfolio(database_url: str, s3: Any, bucket: str) -> uuid.UUID | None:
    """Give `demo` its demo portfolio, analysed: the id of the portfolio uploaded now, None when nothing was needed.

    With no portfolio at all, one is created from the demo CSV. A demo portfolio that never got its holdings (a
    crash, or a stop before the worker took its upload: moto keeps no queue across restarts) gets the file again.
    The file goes into the bucket as a browser's upload would (its own key under uploads/): the bucket notifies the
    queue and the worker ingests it and queues the default analysis, as for anyone's upload."""
    from labfolio_common.db.engine import session_scope
    from labfolio_common.db.models import Account, Portfolio, UserPortfolio, utcnow
    from labfolio_common.db.queries import grant_upload, new_portfolio
    from labfolio_common.portfolio_csv import template_csv
    from labfolio_common.uploads import CSV_CONTENT_TYPE, new_upload_key
    from sqlalchemy import func, select

    with session_scope(database_url) as db:
        user_id = db.scalar(select(Account.user_id).where(func.lower(Account.username) == DEMO_USERNAME))
        if user_id is None:
            return None
        owned = db.scalars(
            select(Portfolio)
            .join(UserPortfolio, UserPortfolio.portfolio_id == Portfolio.portfolio_id)
            .where(UserPortfolio.user_id == user_id)
        ).all()
        stuck = next((p for p in owned if p.portfolio_name == DEMO_PORTFOLIO_NAME and p.holdings_count == 0), None)
        if owned and stuck is None:
            return None
        portfolio = stuck or new_portfolio(db, user_id, DEMO_PORTFOLIO_NAME, utcnow())
        portfolio_id, status = portfolio.portfolio_id, portfolio.status
        key = str(new_upload_key(user_id, portfolio_id))
        grant_upload(db, key, user_id, portfolio_id, utcnow(), DEMO_UPLOAD_TTL)  # as the portfolios function grants
    s3.put_object(Bucket=bucket, Key=key, Body=template_csv(), ContentType=CSV_CONTENT_TYPE)
    if stuck is not None:
        log.warning("demo portfolio %s had no holdings (status %s): its file is uploaded again", portfolio_id, status)
    else:
        log.info("demo portfolio created and uploaded (%s): the worker ingests and analyses it", portfolio_id)
    return portfolio_id


def latest_analysis_status(database_url: str, portfolio_id: uuid.UUID) -> str | None:
    """The status of the portfolio's latest analysis (queued, running, ready, failed); None before the first."""
    from labfolio_common.db.engine import session_scope
    from labfolio_common.db.models import Analysis
    from sqlalchemy import select

    with session_scope(database_url) as db:
        return db.scalar(
            select(Analysis.status)
            .where(Analysis.portfolio_id == portfolio_id)
            .order_by(Analysis.created_at.desc())
            .limit(1)
        )
