"""Pagination of a portfolio's analyses (newest first): the limits; the cursor is labfolio_common.pages'."""

from __future__ import annotations

from typing import Final

from labfolio_common.pages import Cursor, decode_cursor, encode_cursor

DEFAULT_LIMIT: Final = 20
MAX_LIMIT: Final = 100

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "Cursor", "decode_cursor", "encode_cursor"]
