"""What stands between a client and password hashing: the login and registration limits
(throttle.py) and the bound on hashes at once (hashing.py).

The client's address comes from the gateway (CLIENT_ADDRESS_HEADER, services/gateway/clients.py),
the only app allowed to call auth's API; a call without it (the admin made at start-up) is
counted per account only."""

from collections.abc import Awaitable, Callable
from typing import TypeVar

from services.auth.config import Settings
from services.auth.hashing import HashingSlots
from services.auth.throttle import Limit, WindowCounters
from services.shared.errors import ApiError

T = TypeVar("T")


class SignInGuard:
    def __init__(self, counters: WindowCounters, slots: HashingSlots, settings: Settings) -> None:
        self.counters = counters
        self.slots = slots
        window = settings.login_window_s
        self.per_account = Limit("login-account", settings.login_failures_per_account, window)
        self.per_address = Limit("login-address", settings.login_failures_per_address, window)
        self.registrations = Limit(
            "register-address", settings.registrations_per_address, settings.registration_window_s
        )

    async def login(self, email: str, address: str | None, attempt: Callable[[], Awaitable[T]]) -> T:
        """Runs `attempt` (checking the password) unless this account or address has failed too
        often; a failure (401 `invalid_credentials`) is counted against both. The account is
        counted by the email given, so an unknown one is refused exactly like a known one."""
        counted = [(self.per_account, email.lower())]
        if address:
            counted.append((self.per_address, address))
        await self.counters.check(*counted)
        try:
            with self.slots.slot():
                return await attempt()
        except ApiError as exc:
            if exc.code == "invalid_credentials":
                for limit, subject in counted:
                    await self.counters.add(limit, subject)
            raise

    async def register(self, address: str | None) -> None:
        """Counts a registration from this address; TooManyAttempts when it is one too many.
        (The registration hashes its password in one of `slots`: service.register.)"""
        if address:
            await self.counters.hit(self.registrations, address)
