"""Gateway logic: aggregate the health of every backend app, forward requests through Dapr."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Response
from fastapi.responses import JSONResponse

from services.gateway.cache import Answer
from services.shared import instances
from services.shared.dapr import DaprSidecar, ServiceUnavailable, batch_lookup
from services.shared.identity import Actor
from services.shared.order_document import compose


async def probe(dapr: DaprSidecar, app_id: str, *, timeout_s: float) -> str:
    """'up' when the app answers its liveness endpoint through Dapr in time, else 'down'."""
    try:
        response = await asyncio.wait_for(
            dapr.invoke(app_id, "GET", "healthz", timeout_s=timeout_s), timeout_s
        )
    except (ServiceUnavailable, TimeoutError):
        return "down"
    return "up" if response.status_code == 200 else "down"


async def system_health(dapr: DaprSidecar, apps: tuple[str, ...], *, timeout_s: float) -> dict[str, object]:
    """Probes every app at once, and counts each app's running replicas (the gateway's too);
    the whole report takes at most one probe timeout."""
    states, replicas = await asyncio.gather(
        asyncio.gather(*(probe(dapr, app, timeout_s=timeout_s) for app in apps)),
        _replicas(dapr, ("gateway", *apps), timeout_s=timeout_s),
    )
    services = dict(zip(apps, states, strict=True))
    status = "ok" if all(state == "up" for state in states) else "degraded"
    return {"status": status, "services": services, "replicas": replicas}


async def _replicas(dapr: DaprSidecar, apps: tuple[str, ...], *, timeout_s: float) -> dict[str, int] | None:
    """Running replicas by app; None when the list cannot be read (health does not depend on it)."""
    try:
        return await asyncio.wait_for(instances.count(dapr, apps), timeout_s)
    except (ServiceUnavailable, TimeoutError):
        return None


async def call(
    dapr: DaprSidecar,
    app_id: str,
    method: str,
    path: str,
    *,
    actor: Actor | None = None,
    json: Any = None,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any] | None]:
    """Calls an internal app through Dapr as `actor`; returns its status and JSON body (None for 204)."""
    sent_headers = {**(actor.headers() if actor else {}), **(headers or {})}
    response = await dapr.invoke(app_id, method, path, json=json, params=params, headers=sent_headers)
    if response.status_code == 204:
        return 204, None
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ServiceUnavailable(app_id, f"unreadable answer ({response.status_code})")
    return response.status_code, body


async def forward(dapr: DaprSidecar, app_id: str, method: str, path: str, **kwargs: Any) -> Response:
    """Hands an internal app's answer to the client unchanged (internal apps already speak the
    public error shape)."""
    return respond(*await call(dapr, app_id, method, path, **kwargs))


def respond(status: int, body: dict[str, Any] | None) -> Response:
    return Response(status_code=204) if body is None else JSONResponse(body, status_code=status)


async def fetch(dapr: DaprSidecar, app_id: str, path: str) -> Answer:
    """A GET through Dapr kept as the client gets it (status and JSON bytes), for the cache."""
    response = await dapr.invoke(app_id, "GET", path)
    if not response.headers.get("content-type", "").startswith("application/json"):
        raise ServiceUnavailable(app_id, f"unreadable answer ({response.status_code})")
    return Answer(response.status_code, response.content)


class InFlightLimit:
    """Admission control: at most `limit` calls of one kind in progress at once. A call beyond
    that waits for a slot, then is refused (503 with Retry-After) rather than queued further.
    Queued past the callers' and Dapr's timeouts, an overload made every call time out and
    opened the circuit breakers, and almost no order was placed.

    How long a call may wait depends on the queue (CoDel's idea, as servers at Facebook apply it
    to request queues): a burst, calls waiting for less than `overloaded_after_s`, waits up to
    `wait_s`; once calls have been waiting longer than that without a break, the shop is taking
    more than it completes, and a new call waits only `overloaded_wait_s`. A long wait then would
    not get more orders placed, only make every one placed later (docs/performance.md,
    Admission control)."""

    def __init__(
        self,
        target: str,
        limit: int,
        *,
        wait_s: float,
        overloaded_after_s: float = float("inf"),
        overloaded_wait_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.target = target
        self.limit = limit
        self.wait_s = wait_s
        self.overloaded_after_s = overloaded_after_s
        self.overloaded_wait_s = overloaded_wait_s
        self.clock = clock
        self.in_flight = 0
        self.waiting = 0
        self._waiting_since = 0.0  # when the queue last went from empty to not empty
        self._slots = asyncio.Semaphore(limit)

    def overloaded(self) -> bool:
        """Calls have been waiting for a slot, without a break, for longer than a burst lasts."""
        return self.waiting > 0 and self.clock() - self._waiting_since > self.overloaded_after_s

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self._slots.locked():  # none free: wait a little for one
            wait_s = self.overloaded_wait_s if self.overloaded() else self.wait_s
            if self.waiting == 0:
                self._waiting_since = self.clock()
            self.waiting += 1
            try:
                await asyncio.wait_for(self._slots.acquire(), wait_s)
            except TimeoutError:
                raise ServiceUnavailable(
                    self.target, f"overloaded: {self.limit} calls in progress for {wait_s} s"
                ) from None
            finally:
                self.waiting -= 1
        else:
            await self._slots.acquire()  # returns at once
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1
            self._slots.release()


def is_uuid(value: str) -> bool:
    """Ids are UUIDs; anything else cannot name a resource (and never reaches a path downstream)."""
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


# --- order reads: the read model first, live aggregation when it is unavailable ----------------

VIEW, LIVE = "view", "live"


async def read_orders(
    dapr: DaprSidecar, actor: Actor, path: str, params: dict[str, Any] | None
) -> tuple[int, dict[str, Any] | None, str]:
    """Reads order documents from order-view; when it is down (or its circuit is open), or has
    not seen an order yet, aggregates the same documents live. Returns (status, body, source)."""
    try:
        status, body = await call(dapr, "order-view", "GET", path, actor=actor, params=params)
        if status < 500 and not (status == 404 and path != "orders"):
            return status, body, VIEW
    except ServiceUnavailable:
        pass
    status, body = await _live(dapr, actor, path, params)
    return status, body, LIVE


async def _live(
    dapr: DaprSidecar, actor: Actor, path: str, params: dict[str, Any] | None
) -> tuple[int, dict[str, Any] | None]:
    status, body = await call(dapr, "orders", "GET", path, actor=actor, params=params)
    if status != 200 or body is None:
        return status, body
    orders = body["items"] if path == "orders" else [body]
    customers, products = await _related(dapr, orders)
    documents = [compose(order, customers.get(order["customer_id"]), products) for order in orders]
    return 200, ({**body, "items": documents} if path == "orders" else documents[0])


async def _related(
    dapr: DaprSidecar, orders: list[dict[str, Any]]
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Customers and products of some orders, one batch call each. A lookup that fails leaves
    names empty rather than failing the read: orders stay readable when customers is down."""
    customer_ids = sorted({o["customer_id"] for o in orders})
    product_ids = sorted({line["product_id"] for o in orders for line in o["items"]})
    customers, products = await asyncio.gather(
        _names(dapr, "customers", customer_ids),
        _names(dapr, "products", product_ids),
    )
    return customers, products


async def _names(dapr: DaprSidecar, app_id: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    try:
        return await batch_lookup(dapr, app_id, ids)
    except ServiceUnavailable:
        return {}
