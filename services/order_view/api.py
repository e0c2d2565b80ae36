"""order-view's routes: Dapr event deliveries and the inbox lookup."""

from typing import Any

from fastapi import APIRouter, Request
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
