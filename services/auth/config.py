"""Settings of the auth service."""

from functools import lru_cache

from pydantic import Field

from services.shared.settings import DatabaseSettings


class Settings(DatabaseSettings):
    """Owns the `auth` database: credentials (argon2 hashes) and roles."""

    db_name: str = "auth"
    token_ttl_s: int = Field(default=3600, ge=60, le=86400)
    # Failed logins counted in fixed windows in the shared state store (throttle.py); past a
    # limit, 429 with Retry-After until the window ends. Per account: few enough to stop a
    # guesser (10 guesses per 15 min), many enough for a person who mistypes. Per address: a
    # whole office behind one NAT mistyping, yet not a credential-stuffing run over accounts.
    login_failures_per_account: int = Field(default=10, ge=1)
    login_failures_per_address: int = Field(default=100, ge=1)
    login_window_s: int = Field(default=900, ge=1, le=86400)
    # Registrations per client address in a window: a shop's sign-ups from one place, not a
    # script making tens of thousands a day (the e2e suite registers hundreds from one address).
    registrations_per_address: int = Field(default=1000, ge=1)
    registration_window_s: int = Field(default=3600, ge=1, le=86400)
    # Password hashes (argon2id, one core each) in progress at once; unset: one per core.
    hashing_slots: int | None = Field(default=None, ge=1)


@lru_cache
def get_settings() -> Settings:
    return Settings()  # type: ignore[call-arg]
