"""order-view's routes: Dapr event deliveries and the inbox lookup."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from services.order_view import events
from services.shared.errors import ApiError

router = APIRouter()

TOPICS = ("orders", "customers", "products")


async def _deliver(request: Request, topic: str) -> dict[str, str]:
    try:
        envelope = await request.json()
    except ValueError:
        envelope = None
    if not isinstance(envelope, dict):
        return {"status": "DROP"}
    outcome = await run_in_threadpool(events.handle, request.app.state.store, topic, envelope)
    return {"status": outcome}


def _route_for(topic: str) -> Any:
    async def deliver(request: Request) -> dict[str, str]:
        return await _deliver(request, topic)

    deliver.__name__ = f"deliver_{topic}"
    deliver.__doc__ = f"Dapr delivers `{topic}` events here (components/subscriptions/order-view.yaml)."
    return deliver


for _topic in TOPICS:
    router.add_api_route(f"/events/{_topic}", _route_for(_topic), methods=["POST"], tags=["events"])


def _public(found: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": found["_id"],
        "topic": found["topic"],
        "type": found["type"],
        "entity_id": found.get("entity_id"),
        "received_at": found["received_at"],
    }


@router.get("/events", tags=["events"])
async def processed_events(
    request: Request,
    type: Annotated[str, Query(min_length=1, max_length=64)],
    entity_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Applied events of one type, optionally for one entity (operators and tests)."""
    found = await run_in_threadpool(
        request.app.state.store.find_events, event_type=type, entity_id=entity_id, limit=limit
    )
    return {"items": [_public(item) for item in found]}


@router.get("/events/{event_id}", tags=["events"])
async def processed_event(event_id: str, request: Request) -> dict[str, Any]:
    """Whether (and when) an event id was applied: for operators and tests."""
    found = await run_in_threadpool(request.app.state.store.find_event, event_id)
    if found is None:
        raise ApiError(404, "not_found", "event not processed")
    return {
        "id": found["_id"],
        "topic": found["topic"],
        "type": found["type"],
        "received_at": found["received_at"],
    }
