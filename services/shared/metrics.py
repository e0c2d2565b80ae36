"""Prometheus metrics every app serves at GET /metrics: requests by route, pub/sub deliveries
by outcome, the outbox of services that publish (its backlog, when it last published), and the
gateway's cache lookups. Apps add their own beside them (services/order_view/metrics.py,
services/notifications/hub.py).

Labels stay bounded on purpose: a request is counted under its route template
(`/orders/{order_id}`), never its raw path, and an event type that does not look like one of ours
is counted as "other", so neither a crawler nor a bad publisher can grow the series without end.
(daprd serves its own metrics on the 91xx ports of dapr.yaml.)
"""

import math
import re
import time
from collections.abc import Callable

from fastapi import APIRouter, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from starlette.concurrency import run_in_threadpool
from starlette.types import Message, Receive, Scope, Send

from services.shared.asgi import HttpMiddleware

disable_created_metrics()  # a *_created series beside every counter doubles the output for nothing

REQUESTS = Counter(
    "shop_http_requests",
    "HTTP requests answered, by method, route template and status",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "shop_http_request_duration_seconds",
    "Time to answer an HTTP request, by method, route template and status",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENTS = Counter(
    "shop_events_handled",
    "Pub/sub deliveries handled, by topic, event type and the answer given to Dapr",
    ["topic", "type", "outcome"],
)
CACHE_LOOKUPS = Counter(
    "shop_cache_lookups",
    "Lookups in an in-process read cache, by cache and result (hit, miss, bypass)",
    ["cache", "result"],
)
OUTBOX_BACKLOG = Gauge("shop_outbox_backlog", "Outbox rows not yet published to the broker")
# Compared with the read model's newest applied event (monitoring/alerts.yaml, the read model's
# lag): labelled by topic, so it appears only in the apps that publish, once they have.
OUTBOX_LAST_PUBLISHED = Gauge(
    "shop_outbox_last_published_timestamp_seconds",
    "When the outbox relay last published an event to the topic (Unix time, taken just before)",
    ["topic"],
)

UNMATCHED = "unmatched"  # every path no route serves: one series, whatever was asked
_EVENT_TYPE = re.compile(r"^[a-z]+(\.[a-z_]+){1,3}$")
_OUTCOMES = {"SUCCESS", "RETRY", "DROP"}

router = APIRouter(tags=["health"])


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    """Every metric in the Prometheus text format. Rendered off the event loop: the outbox
    gauge asks the database."""
    body = await run_in_threadpool(generate_latest, REGISTRY)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def route_template(scope: Scope) -> str:
    """The template of the route that served a request (set in the scope by the router)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


class RequestMetricsMiddleware(HttpMiddleware):
    """Counts and times every HTTP request under its method, route template and status."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status = 500  # what the client gets when nothing answered (the server error handler)

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            labels = (scope["method"], route_template(scope), str(status))
            REQUESTS.labels(*labels).inc()
            LATENCY.labels(*labels).observe(time.perf_counter() - started)


def record_event(topic: str, event_type: object, outcome: str) -> None:
    """Counts one delivery with the answer a subscriber gave Dapr (SUCCESS, RETRY or DROP)."""
    kind = event_type if isinstance(event_type, str) and _EVENT_TYPE.match(event_type) else "other"
    EVENTS.labels(topic, kind, outcome if outcome in _OUTCOMES else "other").inc()


def read_at_scrape(gauge: Gauge, count: Callable[[], int]) -> None:
    """Makes a gauge read `count()` at each scrape; NaN while it cannot be read (database down),
    so a scrape never fails for it."""

    def read() -> float:
        try:
            return float(count())
        except Exception:
            return math.nan

    gauge.set_function(read)


def track_outbox_backlog(backlog: Callable[[], int]) -> None:
    """Makes the backlog gauge read `backlog()` at each scrape."""
    read_at_scrape(OUTBOX_BACKLOG, backlog)
