"""Keyset pagination shared by every list endpoint: newest first, ties broken by id (descending), and the cursor an
opaque token of the last item shown — the next page starts strictly after it. Each function keeps its own limits
(its domain/pages.py)."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from labfolio_common.errors import ValidationFailedError


@dataclass(frozen=True, slots=True)
class Cursor:
    """The sort key of the last item of a page: its creation time and its id."""

    created_at: datetime
    item_id: uuid.UUID


def encode_cursor(cursor: Cursor) -> str:
    raw = json.dumps([cursor.created_at.isoformat(), str(cursor.item_id)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(token: str) -> Cursor:
    """The cursor a previous page gave; 422 naming `cursor` when it is not one (junk, a truncated or a hostile
    token — including JSON nested past the interpreter's stack)."""
    try:
        padded = token + "=" * (-len(token) % 4)
        created, ident = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return Cursor(datetime.fromisoformat(created), uuid.UUID(ident))
    except (binascii.Error, ValueError, TypeError, UnicodeError, RecursionError):
        raise ValidationFailedError(
            [{"field": "query.cursor", "message": "not a cursor given by a previous page", "type": "value_error"}]
        ) from None
