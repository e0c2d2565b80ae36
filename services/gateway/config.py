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
    # Orders being placed at once through this gateway: enough to keep the shop busy, few enough
    # that an order in progress does not wait behind many others. One more waits up to
    # orders_admission_wait_s for a slot, then is refused with 503; the wait lets a burst through,
    # such as many orders at once for one product, which place one at a time on its row lock
    # (the figures that chose both: docs/performance.md, Admission control).
    orders_in_flight_limit: int = Field(default=8, ge=1)
    orders_admission_wait_s: float = Field(default=3.0, ge=0)
    # Once orders have been waiting for a slot longer than a burst lasts, without a break, more
    # are offered than the shop completes: a new one waits this much at most (admission.py,
    # InFlightLimit), so the orders placed are answered in about the time placing takes.
    orders_overloaded_after_s: float = Field(default=1.0, ge=0)
    orders_overloaded_wait_s: float = Field(default=0.2, ge=0)
    # GET /api/products/{id} answers from the gateway's cache at most this old (0: no cache).
    # One second keeps a product page honest to a shopper and spares the products service and
    # its database all but one read per product per second (docs/decisions/0007-gateway-product-cache.md).
    product_cache_ttl_s: float = Field(default=1.0, ge=0, le=60)
    # Products kept at most (least recently read dropped first); each is one product's JSON.
    product_cache_max_entries: int = Field(default=10_000, ge=1)
    # The storefront (storefront.py) connects the browser to the notifications WebSocket: by
    # default on this port of the host the page was loaded from, or at this URL when set
    # (e.g. wss://shop.example.com/ws behind a proxy).
    notifications_public_port: int = Field(default=8001, ge=1, le=65535)
    storefront_notifications_url: str | None = Field(default=None, pattern=r"^wss?://[^\s;,']+$")
    # Addresses of the proxies in front of the gateway (HAProxy with REPLICAS>1, a load
    # balancer): from them the client's address is read off X-Forwarded-For (clients.py). From
    # anyone else the header is ignored, so a client cannot choose the address it is counted by.
    trusted_proxies: frozenset[str] = frozenset()
    # The public API's request budget (budget.py): requests each client may make in a sliding
    # window, shared by every gateway replica. A client is the user of a valid bearer token, else
    # its address; an address can stand for many people (an office, a mobile carrier), hence the
    # larger budget. Generous: a shopper browsing quickly makes a few requests a second at most.
    rate_limit_window_s: int = Field(default=60, ge=1, le=3600)
    rate_limit_per_user: int = Field(default=600, ge=1)
    rate_limit_per_address: int = Field(default=1200, ge=1)
    # Where the budget is counted: the Redis of the Dapr state store (the same variable its
    # component reads; host:port). Straight, not through Dapr: docs/decisions/0010-rate-limits-in-redis.md.
    redis_host: str = "127.0.0.1:6379"


@lru_cache
def get_settings() -> Settings:
    return Settings()  # type: ignore[call-arg]
