"""The service's own errors. `labfolio_common.http` maps them to HTTP answers in one place."""

from __future__ import annotations

from typing import Any


class LabfolioError(Exception):
    """Base of every error the service raises on purpose."""

    status_code = 500
    code = "internal_error"

    def __init__(self, detail: Any = None, *, headers: dict[str, str] | None = None) -> None:
        if detail is None or isinstance(detail, str):
            message = detail or self.code
        else:
            message = f"{self.code}: {detail!r}"[:2000]
        super().__init__(message)
        self.detail = detail if detail is not None else self.code
        self.headers = headers  # sent with the HTTP answer (WWW-Authenticate, Retry-After)


class ConfigurationError(LabfolioError):
    """A missing or invalid setting: a deployment problem, never the caller's."""


class NotFoundError(LabfolioError):
    status_code = 404
    code = "not_found"


class AuthenticationError(LabfolioError):
    status_code = 401
    code = "unauthorized"


class PermissionDeniedError(LabfolioError):
    status_code = 403
    code = "forbidden"


class TooManyRequestsError(LabfolioError):
    """Throttled (e.g. too many failed logins); `headers` carries Retry-After."""

    status_code = 429
    code = "too_many_requests"


class ConflictError(LabfolioError):
    status_code = 409
    code = "conflict"


class ValidationFailedError(LabfolioError):
    """Input that parsed but breaks a rule; `detail` lists each problem with where it is (field, row, column)."""

    status_code = 422
    code = "validation_error"


class DependencyUnavailableError(LabfolioError):
    """A database, bucket, queue or market-data source did not answer."""

    status_code = 503
    code = "unavailable"
