"""Settings of the order-view service."""

from functools import lru_cache

from pydantic import Field

from services.shared.settings import ServiceSettings


class Settings(ServiceSettings):
    """order-view keeps its read model in MongoDB (FerretDB locally, MongoDB in docker-compose)."""

    mongo_url: str = "mongodb://127.0.0.1:27017"
    mongo_db: str = "order_view"
    # Fail a Mongo call fast, so a handler can answer RETRY instead of hanging the delivery.
    mongo_timeout_ms: int = Field(default=2000, ge=100, le=30000)


@lru_cache
def get_settings() -> Settings:
    return Settings()  # type: ignore[call-arg]
