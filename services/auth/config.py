"""Settings of the auth service."""

from functools import lru_cache

from pydantic import Field

from services.shared.settings import DatabaseSettings


class Settings(DatabaseSettings):
    """Owns the `auth` database: credentials (argon2 hashes) and roles."""

    db_name: str = "auth"
    token_ttl_s: int = Field(default=3600, ge=60, le=86400)


@lru_cache
def get_settings() -> Settings:
    return Settings()  # type: ignore[call-arg]
