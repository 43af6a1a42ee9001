"""One settings object for every function, read from the environment once, on first use.

Handler modules import with no environment set (so their import time can be measured); the first invocation calls
`get_settings()`, which fails with a message naming every missing or invalid setting.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from labfolio_common.errors import ConfigurationError


class Settings(BaseSettings):
    """Environment variables (names are the upper-case field names) that template.yaml sets on every function."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    stage: str = Field(default="local", min_length=1, max_length=32, pattern=r"^[a-z0-9-]+$")
    # The database: DATABASE_URL (the local stack, tests, a database of your own), or in AWS the RDS credentials
    # secret and its companions, from which the URL is built on first use (labfolio_common.db.credentials).
    database_url: str = Field(
        min_length=1, repr=False, description="SQLAlchemy URL: postgresql+pg8000://... or sqlite:///..."
    )
    database_secret_arn: str | None = Field(default=None, min_length=1)
    database_host: str | None = Field(default=None, min_length=1)
    database_port: int | None = Field(default=None, ge=1, le=65535)
    database_name: str | None = Field(default=None, min_length=1)
    database_sslmode: Literal["disable", "require", "verify-ca", "verify-full"] = "require"
    database_sslrootcert: str | None = Field(default=None, min_length=1)
    uploads_bucket: str = Field(min_length=3, max_length=63)
    analysis_queue_url: str = Field(min_length=1)
    # Market data (labfolio_common.market): MARKET_DATA_PROVIDER (set by template.yaml) or its alias
    # LABFOLIO_MARKET_DATA; MARKET_HISTORY_YEARS is the history factor_update backfills for a new factor or ticker.
    market_data_provider: Literal["yfinance", "offline"] = Field(
        default="yfinance", validation_alias=AliasChoices("MARKET_DATA_PROVIDER", "LABFOLIO_MARKET_DATA")
    )
    market_history_years: int = Field(default=10, ge=1, le=30)
    # One account's share of the analysis queue: at most this many of its analyses queued or running at once (a
    # request beyond it is a 429); so another account's job waits behind at most this many of its (DESIGN.md §6).
    max_active_analyses: int = Field(default=10, ge=1, le=1000)
    # New tickers (not yet in the shared price cache) one account's uploads may bring in per day; beyond it they are
    # warnings, unpriced, so no account fills the cache's list or the daily refresh.
    max_new_tickers_per_day: int = Field(default=500, ge=1, le=100_000)
    # The analyses a portfolio keeps: the newest, finished ones beyond this many are deleted (the latest ready one
    # never is), with the prices they stored.
    analysis_history: int = Field(default=20, ge=1, le=1000)

    # Auth (labfolio_common.auth). The JWT signing key is a Secrets Manager secret (template: JwtSigningKeySecret;
    # the local stack creates it in moto); JWT_SIGNING_KEY gives the key itself, for tests and benchmarks only.
    jwt_secret_arn: str | None = Field(default=None, min_length=1)
    jwt_signing_key: SecretStr | None = Field(default=None, min_length=32)
    # The secret CloudFront adds to every /api/* request it forwards (template: OriginVerifySecret): with it, the
    # viewer's address it passes is believed (labfolio_common.auth.viewer). Unset (local stack): sourceIp only.
    origin_verify_secret_arn: str | None = Field(default=None, min_length=1)
    access_token_ttl_seconds: int = Field(default=3600, ge=60, le=3600)
    session_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=300, le=90 * 24 * 3600)
    login_account_max_failures: int = Field(default=5, ge=1)
    login_address_max_failures: int = Field(default=50, ge=1)
    login_failure_window_seconds: int = Field(default=900, ge=1)
    login_lockout_seconds: int = Field(default=900, ge=1)
    signup_address_max: int = Field(default=30, ge=1)  # accounts created per client address within the window

    @model_validator(mode="before")
    @classmethod
    def _database_url_from_secret(cls, data: Any) -> Any:
        """Without DATABASE_URL, build it from DATABASE_SECRET_ARN (one Secrets Manager read, on first use)."""
        if not isinstance(data, dict):
            return data
        data = {k: v for k, v in data.items() if not (k.startswith("database_") and v == "")}
        if data.get("database_url") or not data.get("database_secret_arn"):
            return data
        from labfolio_common.db.credentials import url_from_secret_arn

        url = url_from_secret_arn(
            str(data["database_secret_arn"]),
            host=data.get("database_host"),
            port=data.get("database_port"),
            name=data.get("database_name"),
            sslmode=data.get("database_sslmode"),
            sslrootcert=data.get("database_sslrootcert"),
        )
        return {**data, "database_url": url}


def _describe(exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        name = "_".join(str(part) for part in err["loc"]).upper() or "settings"
        problems.append(f"{name}: {'missing' if err['type'] == 'missing' else err['msg']}")
    return "invalid configuration: " + "; ".join(problems)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Read and validate the environment; raise ConfigurationError naming each bad variable."""
    try:
        return Settings()  # type: ignore[call-arg]  # values come from the environment
    except ValidationError as exc:
        raise ConfigurationError(_describe(exc)) from None
