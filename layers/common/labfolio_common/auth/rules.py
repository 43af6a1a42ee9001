"""Username and password rules (pure): what sign-up, password change and the operator tool accept.

Usernames are ASCII letters, digits and `._-`, so Python's `lower()` and SQL's `lower()` (ASCII-only on SQLite)
agree and the unique index on lower(username) is the case-insensitive uniqueness rule.
"""

from __future__ import annotations

import re
from typing import Final

USERNAME_MIN: Final = 3
USERNAME_MAX: Final = 64
PASSWORD_MIN: Final = 10
PASSWORD_MAX: Final = 256
USERNAME_RE: Final = re.compile(r"[A-Za-z0-9._-]{3,64}")


def normalize_username(username: str) -> str:
    """The case-folded form usernames are compared (and throttled) by."""
    return username.lower()


def is_encodable(text: str) -> bool:
    """False for strings that cannot be UTF-8 (lone surrogates that JSON's \\ud800 escapes can produce)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def username_problem(username: str) -> str | None:
    """Why `username` cannot be a new account's name, or None if it can."""
    if not USERNAME_RE.fullmatch(username):
        return f"{USERNAME_MIN} to {USERNAME_MAX} characters: letters, digits, '.', '_' or '-'"
    return None


def password_problem(password: str, username: str | None = None) -> str | None:
    """Why `password` cannot be a password (of `username`), or None if it can."""
    if not is_encodable(password):
        return "must be valid Unicode text"
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        return f"{PASSWORD_MIN} to {PASSWORD_MAX} characters"
    if username is not None and normalize_username(password) == normalize_username(username):
        return "must not be the username"
    return None
