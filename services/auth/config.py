"""Settings of the auth service."""

from functools import lru_cache

from services.shared.settings import DatabaseSettings


class Settings(DatabaseSettings):
    """Owns the `auth` database (user `auth`, password from the secret store)."""

    db_name: str = "auth"


@lru_cache
def get_settings() -> Settings:
    return Settings()  # type: ignore[call-arg]
