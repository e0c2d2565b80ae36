"""W3C trace context: parsed from requests, carried on every sidecar call, kept with outbox rows."""

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.testclient import TestClient

from services.customers.models import metadata, outbox
from services.shared import tracing
from services.shared.app import create_app
from services.shared.dapr import DaprSidecar
from services.shared.logging import JsonFormatter
from services.shared.outbox import OutboxRelay, add_event

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def test_a_valid_traceparent_is_kept_with_its_tracestate() -> None:
    context = tracing.parse(TRACEPARENT, "congo=t61rcWkgMzE")

    assert context is not None
    assert context.trace_id == TRACE_ID
    assert context.headers() == {"traceparent": TRACEPARENT, "tracestate": "congo=t61rcWkgMzE"}


def test_malformed_traceparents_are_ignored() -> None:
    for bad in (
        "",
        "garbage",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # all-zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # all-zero parent id
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # forbidden version
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\nx",
    ):
        assert tracing.parse(bad) is None, bad


def test_a_new_trace_is_valid_and_sampled() -> None:
    context = tracing.new_trace()

    assert tracing.parse(context.traceparent) == context
    assert context.traceparent.endswith("-01")
    assert context.trace_id != tracing.new_trace().trace_id


router = APIRouter()


@router.get("/seen")
async def seen(request: Request) -> dict[str, str | None]:
    logging.getLogger("test").info("handling")
    return {"traceparent": tracing.current_traceparent(), "trace_id": tracing.current_trace_id()}


@asynccontextmanager
async def nothing_to_open(_: FastAPI) -> AsyncIterator[None]:
    yield


def traced_app() -> FastAPI:
    return create_app(title="test", lifespan=nothing_to_open, routers=[router])


def test_a_request_runs_in_the_trace_its_caller_sent() -> None:
    with TestClient(traced_app()) as client:
        body = client.get("/seen", headers={"traceparent": TRACEPARENT}).json()

    assert body == {"traceparent": TRACEPARENT, "trace_id": TRACE_ID}


def test_a_request_without_a_trace_starts_one() -> None:
    with TestClient(traced_app()) as client:
        first = client.get("/seen").json()
        second = client.get("/seen", headers={"traceparent": "not-a-traceparent"}).json()

    assert tracing.parse(first["traceparent"]) is not None
    assert first["trace_id"] != second["trace_id"]


def test_log_lines_name_the_trace() -> None:
    record = logging.makeLogRecord({"msg": "hello", "levelname": "INFO"})
    with tracing.continued(TRACEPARENT):
        line = json.loads(JsonFormatter("orders").format(record))
    outside = json.loads(JsonFormatter("orders").format(record))

    assert line["trace_id"] == TRACE_ID
    assert line["service"] == "orders"
    assert "trace_id" not in outside


def recording_sidecar(seen: list[httpx.Request], status: int = 200) -> DaprSidecar:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json={})

    client = httpx.AsyncClient(base_url="http://sidecar", transport=httpx.MockTransport(answer))
    return DaprSidecar(app_id="test", timeout_s=1, client=client)


def test_invocations_and_publishes_carry_the_current_trace() -> None:
    seen: list[httpx.Request] = []

    async def calls() -> None:
        with tracing.continued(TRACEPARENT):
            await recording_sidecar(seen).invoke("products", "GET", "products")
        publisher = recording_sidecar(seen, status=204)
        with tracing.continued(TRACEPARENT):
            await publisher.publish("orders", event_id="e-1", event_type="order.confirmed", data={})
        await publisher.publish("orders", event_id="e-2", event_type="order.confirmed", data={})

    asyncio.run(calls())

    assert [r.headers.get("traceparent") for r in seen] == [TRACEPARENT, TRACEPARENT, None]
    assert "traceparent" not in json.loads(seen[1].content)  # Dapr puts its publish span there


def test_an_outbox_row_is_published_in_the_trace_of_the_request_that_wrote_it(make_db) -> None:  # type: ignore[no-untyped-def]
    engine = make_db(metadata)
    with tracing.continued(TRACEPARENT), engine.begin() as conn:
        add_event(conn, outbox, topic="customers", event_type="customer.registered", data={"id": "c"})
    with engine.begin() as conn:  # written outside any request
        add_event(conn, outbox, topic="customers", event_type="customer.updated", data={"id": "c"})
    seen: list[httpx.Request] = []

    published = asyncio.run(
        OutboxRelay(engine, outbox, recording_sidecar(seen, status=204)).publish_pending()
    )

    assert published == 2
    assert [r.headers.get("traceparent") for r in seen] == [TRACEPARENT, None]
