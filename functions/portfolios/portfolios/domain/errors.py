"""Errors of the portfolios function (labfolio_common.http maps them to HTTP answers by their status code)."""

from __future__ import annotations

from labfolio_common.errors import LabfolioError, NotFoundError


class PortfolioNotFoundError(NotFoundError):
    """Not a portfolio of the caller: missing, or another account's (the same answer for both)."""

    def __init__(self) -> None:
        super().__init__("portfolio not found")


class FileNotStoredError(NotFoundError):
    """The portfolio has no stored file yet (no upload became its holdings)."""

    def __init__(self) -> None:
        super().__init__("this portfolio has no stored file yet")


class UploadTooLargeError(LabfolioError):
    status_code = 413
    code = "payload_too_large"
