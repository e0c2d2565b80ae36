"""Settings of the notifications service."""

from functools import lru_cache

from services.shared.settings import ServiceSettings


class Settings(ServiceSettings):
    """Notifications serves its WebSocket on its own public port (8001), since WebSocket cannot
    pass through Dapr service invocation."""


@lru_cache
def get_settings() -> Settings:
    return Settings()  # type: ignore[call-arg]
