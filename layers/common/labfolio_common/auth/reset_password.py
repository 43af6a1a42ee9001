"""Reset a forgotten password (there is no email): the operator's tool.

    python -m labfolio_common.auth.reset_password USERNAME            # prints a generated password
    python -m labfolio_common.auth.reset_password USERNAME --password-stdin < file
    make reset-password USERNAME=alice                                  # the local stack's database

The database is DATABASE_URL (or --database-url). Every session of the account ends and its login lockout is
lifted. The new password is printed only when it was generated, and only to this terminal.
"""

from __future__ import annotations

import argparse
import os
import sys

from labfolio_common.auth.admin import generate_password, reset_password
from labfolio_common.db.engine import safe_url, session_scope
from labfolio_common.errors import LabfolioError


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="reset_password", description="Set a new password for a labfolio account.")
    parser.add_argument("username")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"), help="default: $DATABASE_URL")
    parser.add_argument(
        "--password-stdin", action="store_true", help="read the new password from the first line of stdin"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    if not args.database_url:
        print("error: no database: set DATABASE_URL or pass --database-url", file=sys.stderr)
        return 2
    generated = not args.password_stdin
    password = generate_password() if generated else sys.stdin.readline().rstrip("\r\n")
    try:
        with session_scope(args.database_url) as db:
            account, ended = reset_password(db, args.username, password)
            username = account.username
    except LabfolioError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 1
    print(f"password of {username!r} reset in {safe_url(args.database_url)}; {ended} session(s) ended")
    if generated:
        print(f"new password: {password}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
