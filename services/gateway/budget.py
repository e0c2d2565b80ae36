"""The public API's request budget: each client may make so many requests in a window, counted
in Redis so that every gateway replica draws on the same budget; one more is answered 429
`too_many_requests`, with Retry-After and the IETF draft's RateLimit and RateLimit-Policy
fields (draft-ietf-httpapi-ratelimit-headers-11), before any work is done for it.

A client is the subject of a valid bearer token (`user`), else the client's address
(`address`, as clients.py reads it): each partition has its own budget (settings). Health,
readiness, metrics, the OpenAPI page and the storefront's pages and assets are not counted; only
`/api/...` is, but `/api/health`.

Counted by the `limits` library's sliding window counter, one Lua script per request straight
to Redis: the Dapr state store costs fifteen times the CPU per decision, as two calls through the
sidecar (docs/decisions/0010-rate-limits-in-redis.md has the figures). A refused request costs one
more script, for the time to wait, and the replica remembers the refusal until then: a client
flooding past its budget is refused from memory, at no cost to Redis, for that long. A served
request carries no RateLimit field, which the draft allows (section 6.2), so that it costs
nothing more.

When Redis cannot be reached, requests are served uncounted (and a warning logged every
few seconds): the budget is about fairness between clients, and the expensive work behind it
has bounds of its own (orders' admission control, auth's hashing slots)."""

import json
import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from starlette.types import Receive, Scope, Send

from services.shared.asgi import HttpMiddleware
from services.shared.client_address import address_of
from services.shared.errors import error_body
from services.shared.identity import Actor
from services.shared.tokens import InvalidToken, verify

log = logging.getLogger(__name__)

COUNTED_PREFIX = "/api/"
NOT_COUNTED = frozenset({"/api/health"})
# Where the verified caller is left for the route (security.current_actor): verified once.
ACTOR_STATE = "verified_actor"
# After Redis failed, requests go uncounted this long before it is tried again, so that a Redis
# that is down costs a refused connection a second, not one per request.
STORAGE_RETRY_S = 1.0
WARN_EVERY_S = 10.0
# Refusals remembered at once (one per client over its budget); past it, the lapsed are dropped,
# and if none has lapsed, all: a client forgotten early is asked about in Redis again.
REMEMBERED_REFUSALS = 10_000
_REFUSED = json.dumps(error_body("too many requests, try again later", "too_many_requests")).encode()


@dataclass(frozen=True)
class Policy:
    """`requests` per `window_s` seconds for each client of one partition."""

    partition: str  # "user" or "address": the policy's name in the RateLimit fields
    requests: int
    window_s: int

    @property
    def item(self) -> RateLimitItem:
        return RateLimitItemPerSecond(self.requests, self.window_s)

    @property
    def header(self) -> str:
        """Its RateLimit-Policy item, e.g. `"user";q=600;w=60`."""
        return f'"{self.partition}";q={self.requests};w={self.window_s}'


class RequestBudget:
    """Counts a client's requests against its partition's policy."""

    def __init__(
        self,
        storage: Storage,
        *,
        per_user: Policy,
        per_address: Policy,
        trusted_proxies: frozenset[str],
        jwt_key: str,
    ) -> None:
        self.limiter = SlidingWindowCounterRateLimiter(storage)
        self.policies = {"user": per_user, "address": per_address}
        self.items = {name: policy.item for name, policy in self.policies.items()}
        self.trusted_proxies = trusted_proxies
        self.jwt_key = jwt_key
        self._skip_until = 0.0
        self._warned_at = -math.inf
        self._refused_until: dict[tuple[str, str], float] = {}  # (partition, client) -> monotonic

    def client(self, scope: Scope) -> tuple[str, str] | None:
        """(partition, client id) of a request; the verified caller is kept in the scope's
        state for the route. None when there is no telling who it is (no address)."""
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer" and token:
                    try:
                        actor = verify(token, self.jwt_key)
                    except InvalidToken:
                        break  # the route answers 401; counted by address until then
                    scope.setdefault("state", {})[ACTOR_STATE] = actor
                    return "user", actor.id
                break
        address = address_of(scope, self.trusted_proxies)
        return ("address", address) if address else None

    async def refusal(self, partition: str, client: str) -> int | None:
        """None when the client may go on (the request is counted); otherwise the seconds to
        wait. None too while Redis is unreachable."""
        now = time.monotonic()
        until = self._refused_until.get((partition, client))
        if until is not None and until > now:
            return math.ceil(until - now)
        if now < self._skip_until:
            return None
        item = self.items[partition]
        try:
            if await self.limiter.hit(item, "gateway", partition, client):
                return None
            stats = await self.limiter.get_window_stats(item, "gateway", partition, client)
        except Exception as exc:  # any failure of the storage: served uncounted (module docstring)
            self._skip_until = now + STORAGE_RETRY_S
            if now - self._warned_at > WARN_EVERY_S:
                self._warned_at = now
                log.warning(
                    "request budget not counted: Redis unreachable", extra={"error_type": type(exc).__name__}
                )
            return None
        wait_s = max(1, math.ceil(stats.reset_time - time.time()))
        self._remember(partition, client, now + wait_s)
        return wait_s

    def _remember(self, partition: str, client: str, until: float) -> None:
        if len(self._refused_until) >= REMEMBERED_REFUSALS:
            now = time.monotonic()
            self._refused_until = {key: t for key, t in self._refused_until.items() if t > now}
            if len(self._refused_until) >= REMEMBERED_REFUSALS:
                self._refused_until.clear()
        self._refused_until[(partition, client)] = until

    def refused_headers(self, partition: str, wait_s: int) -> list[tuple[bytes, bytes]]:
        policy = self.policies[partition]
        return [
            (b"content-type", b"application/json"),
            (b"retry-after", str(wait_s).encode()),
            (b"ratelimit", f'"{partition}";r=0;t={wait_s}'.encode()),
            (b"ratelimit-policy", policy.header.encode()),
        ]


class BudgetMiddleware(HttpMiddleware):
    """Refuses a request over its client's budget with 429 before the app sees it. The budget
    itself (RequestBudget) is built at start-up: app.state.budget."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        budget: RequestBudget | None = getattr(scope["app"].state, "budget", None)
        if budget is None or not path.startswith(COUNTED_PREFIX) or path in NOT_COUNTED:
            await self.app(scope, receive, send)
            return
        client = budget.client(scope)
        wait_s = await budget.refusal(*client) if client else None
        if wait_s is None:
            await self.app(scope, receive, send)
            return
        assert client is not None
        headers = budget.refused_headers(client[0], wait_s)
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": _REFUSED})


def verified_actor(scope: Scope) -> Actor | None:
    """The caller BudgetMiddleware verified for this request, if any."""
    state = scope.get("state")
    return state.get(ACTOR_STATE) if state else None
