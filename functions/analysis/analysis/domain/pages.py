"""Keyset pagination of a portfolio's analyses: newest first, the cursor an opaque token of the last one shown."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from labfolio_common.errors import ValidationFailedError

DEFAULT_LIMIT: Final = 20
MAX_LIMIT: Final = 100


@dataclass(frozen=True, slots=True)
class Cursor:
    """The sort key of the last analysis of a page: the next page starts strictly after it."""

    created_at: datetime
    analysis_id: uuid.UUID


def encode_cursor(cursor: Cursor) -> str:
    raw = json.dumps([cursor.created_at.isoformat(), str(cursor.analysis_id)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(token: str) -> Cursor:
    """The cursor a previous page gave; 422 naming `cursor` when it is not one."""
    try:
        padded = token + "=" * (-len(token) % 4)
        created, ident = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return Cursor(datetime.fromisoformat(created), uuid.UUID(ident))
    except (binascii.Error, ValueError, TypeError, UnicodeError, RecursionError):
        raise ValidationFailedError(
            [{"field": "query.cursor", "message": "not a cursor given by a previous page", "type": "value_error"}]
        ) from None
