"""Settings of the orders service."""

from functools import lru_cache

from services.shared.settings import DatabaseSettings


class Settings(DatabaseSettings):
    """Owns the `orders` database (user `orders`, password from the secret store)."""

    db_name: str = "orders"


@lru_cache
def get_settings() -> Settings:
    return Settings()  # type: ignore[call-arg]
