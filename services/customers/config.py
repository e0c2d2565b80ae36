"""Settings of the customers service."""

from functools import lru_cache

from services.shared.settings import DatabaseSettings


class Settings(DatabaseSettings):
    """Owns the `customers` database (user `customers`, password from the secret store)."""

    db_name: str = "customers"


@lru_cache
def get_settings() -> Settings:
    return Settings()  # type: ignore[call-arg]
