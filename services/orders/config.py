"""Settings of the orders service."""

from functools import lru_cache

from pydantic import Field

from services.shared.settings import DatabaseSettings


class Settings(DatabaseSettings):
    """Owns the `orders` database (user `orders`, password from the secret store)."""

    db_name: str = "orders"
    # A pending order older than this is settled by the background task (its request failed).
    settle_pending_after_s: float = Field(default=10, gt=0)


@lru_cache
def get_settings() -> Settings:
    return Settings()  # type: ignore[call-arg]
