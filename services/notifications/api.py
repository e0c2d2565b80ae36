"""The notifications service's routes: the public WebSocket, Dapr event deliveries, and the
inbox API the gateway exposes."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, WebSocket
from starlette.concurrency import run_in_threadpool

from services.notifications import channel, service
from services.shared.calls import Marked, NotificationPage
from services.shared.events import Delivered, read_envelope
from services.shared.identity import Actor, require_actor
from services.shared.metrics import record_event
from services.shared.paging import Limit, Offset

router = APIRouter()
Caller = Annotated[Actor, Depends(require_actor)]


@router.websocket("/ws")
async def notifications_socket(websocket: WebSocket, token: str | None = None) -> None:
    """Push channel: authorize, receive unread notifications oldest first, then live ones."""
    await channel.serve(websocket, token)


@router.post("/events/orders", tags=["events"])
async def deliver_orders(request: Request) -> Delivered:
    """Dapr delivers `orders` events here (components/subscriptions/notifications.yaml)."""
    envelope = await read_envelope(request)
    state = request.app.state
    outcome = (
        "DROP" if envelope is None else await service.handle(state.dapr, state.store, state.hub, envelope)
    )
    record_event("orders", envelope and envelope.get("type"), outcome)
    return Delivered(status=outcome)


# A notification naming no product leaves `product_id` and `quantity` out (store.public).
@router.get("/notifications", tags=["notifications"], response_model_exclude_none=True)
async def list_notifications(
    request: Request,
    actor: Caller,
    limit: Limit = 20,
    offset: Offset = 0,
) -> NotificationPage:
    """The caller's notifications, newest first, with the number still unread."""
    page = await run_in_threadpool(request.app.state.store.page, actor.id, limit=limit, offset=offset)
    return NotificationPage.model_validate(page)


@router.post("/notifications/{notification_id}/read", tags=["notifications"])
async def mark_read(notification_id: str, request: Request, actor: Caller) -> Marked:
    await run_in_threadpool(service.mark_read, request.app.state.store, actor.id, notification_id)
    return Marked(id=notification_id, read=True)
