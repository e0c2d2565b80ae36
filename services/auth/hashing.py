"""A bound on password hashing at once, so a login flood cannot take the CPU every other
request needs. argon2id (service.py) keeps one core busy for tens of milliseconds a hash: past
as many hashes as there are slots, a login or registration is refused at once (503 with
Retry-After) instead of waiting in a queue that only makes every answer later."""

from collections.abc import Iterator
from contextlib import contextmanager

from services.shared.errors import ApiError


class HashingBusy(ApiError):
    """503 `service_unavailable`, marked as shed load so it does not count against Dapr's
    circuit breaker for auth (services/shared/app.py, SHED_HEADER)."""

    def __init__(self) -> None:
        super().__init__(
            503,
            "service_unavailable",
            "too many sign-ins at once, try again shortly",
            headers={"Retry-After": "1", "x-shop-shed": "1"},
        )


class HashingSlots:
    """At most `slots` password hashes in progress. Used from the event loop only (taken before
    the hash goes to a worker thread), so a plain counter is enough."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self.in_use = 0

    @contextmanager
    def slot(self) -> Iterator[None]:
        if self.in_use >= self.slots:
            raise HashingBusy()
        self.in_use += 1
        try:
            yield
        finally:
            self.in_use -= 1
