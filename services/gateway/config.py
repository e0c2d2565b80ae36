"""Gateway settings."""

from functools import lru_cache

from pydantic import Field

from services.shared.settings import ServiceSettings

# Every app the gateway reports on in /api/health (Dapr app-ids).
BACKEND_APPS = ("auth", "customers", "products", "orders", "order-view", "notifications")


class Settings(ServiceSettings):
    """The gateway owns no data: it routes public requests to the apps behind it."""

    # Each backend's health probe must answer within this, so /api/health stays under 2 s.
    health_probe_timeout_s: float = Field(default=1.5, gt=0, lt=2)


@lru_cache
def get_settings() -> Settings:
    return Settings()  # type: ignore[call-arg]
