"""Settings of the products service."""

from functools import lru_cache

from services.shared.settings import DatabaseSettings


class Settings(DatabaseSettings):
    """Owns the `products` database (user `products`, password from the secret store)."""

    db_name: str = "products"


@lru_cache
def get_settings() -> Settings:
    return Settings()  # type: ignore[call-arg]
