"""order-view's routes: Dapr event deliveries and dead letters, the order reads, the rebuild and
its progress, the inbox. Each parses, calls services/order_view/service.py, and answers."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field, StringConstraints

from services.order_view import replay, service
from services.order_view.events import TOPICS
from services.shared import calls
from services.shared.contracts import Strict
from services.shared.errors import ApiError
from services.shared.events import Delivered, read_envelope
from services.shared.identity import Actor, require_actor
from services.shared.paging import Limit, Offset

Caller = Annotated[Actor, Depends(require_actor)]


async def require_admin(actor: Caller) -> None:
    """Refuses anyone but an admin (operators, the gateway's admin API)."""
    if not actor.is_admin:
        raise ApiError(403, "forbidden", "admins only")


router = APIRouter()
# Every route on this one is for admins only.
admin = APIRouter(dependencies=[Depends(require_admin)])


# --- events -----------------------------------------------------------------------------------


def _route_for(topic: str) -> Any:
    async def deliver(request: Request) -> Delivered:
        state = request.app.state
        outcome = await service.deliver(
            state.dapr, state.store, state.last_applied, topic, await read_envelope(request)
        )
        return Delivered(status=outcome)

    deliver.__name__ = f"deliver_{topic}"
    deliver.__doc__ = f"Dapr delivers `{topic}` events here (components/subscriptions/order-view.yaml)."
    return deliver


for _topic in TOPICS:
    router.add_api_route(f"/events/{_topic}", _route_for(_topic), methods=["POST"], tags=["events"])


def _dead_letter_route(subscriber: str) -> Any:
    async def keep(request: Request) -> Delivered:
        outcome = await service.keep_dead_letter(
            request.app.state.store.dead_letters,
            subscriber=subscriber,
            envelope=await read_envelope(request),
        )
        return Delivered(status=outcome)

    keep.__name__ = f"keep_dead_letter_of_{subscriber.replace('-', '_')}"
    keep.__doc__ = f"Dapr delivers here what {subscriber} could not apply (subscriptions/dead-letters.yaml)."
    return keep


for _subscriber in sorted(replay.SUBSCRIBERS):
    router.add_api_route(
        f"/dead-letters/{_subscriber}", _dead_letter_route(_subscriber), methods=["POST"], tags=["events"]
    )


class ReplayRequest(Strict):
    """Which dead letters to replay: these ids, or (none given) the oldest ones."""

    ids: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] | None = Field(
        default=None, min_length=1, max_length=replay.MAX_PER_REPLAY
    )


@admin.post("/dead-letters/replay", tags=["events"])
async def replay_dead_letters(request: Request, body: ReplayRequest | None = None) -> calls.ReplayReport:
    """Redelivers dead letters to the subscriber that could not apply them (admins only)."""
    ids = body.ids if body is not None else None
    return await replay.replay(request.app.state.dapr, request.app.state.store.dead_letters, ids)


@admin.get("/dead-letters", tags=["events"])
async def list_dead_letters(request: Request, limit: Limit = 20, offset: Offset = 0) -> calls.DeadLetterPage:
    """Dead letters, newest first (admins only)."""
    return await service.dead_letters_page(request.app.state.store.dead_letters, limit=limit, offset=offset)


# --- reads ------------------------------------------------------------------------------------


@router.get("/orders", tags=["orders"])
async def list_orders(
    request: Request,
    actor: Caller,
    limit: Limit = 20,
    offset: Offset = 0,
    customer_id: Annotated[str | None, Query(max_length=36)] = None,
) -> calls.OrderDocumentPage:
    """Order documents newest first: the caller's own; an admin's choice of one customer or all."""
    return await service.orders_page(
        request.app.state.store.documents, actor=actor, customer_id=customer_id, limit=limit, offset=offset
    )


@router.get("/orders/{order_id}", tags=["orders"])
async def get_order(order_id: str, request: Request, actor: Caller) -> calls.OrderDocument:
    return await service.visible_order(request.app.state.store.documents, actor=actor, order_id=order_id)


@router.get("/known/{kind}/{entity_id}", tags=["read model"])
async def known(kind: str, entity_id: str, request: Request) -> calls.KnownSnapshot:
    """The newest customer or product snapshot order-view has applied (operators and tests)."""
    return await service.known_snapshot(request.app.state.store.snapshots, kind=kind, entity_id=entity_id)


# --- rebuild and progress ---------------------------------------------------------------------


# The progress leaves out what a pass has not reached yet (a `finished_at`, an `error`).
@admin.post("/rebuild", status_code=202, tags=["read model"], response_model_exclude_unset=True)
async def rebuild(request: Request) -> calls.RebuildRequested:
    """Rebuilds every document from the source services, in the background (admins only)."""
    return await service.request_rebuild(request.app.state.rebuilder)


@router.get("/rebuild", tags=["read model"], response_model_exclude_unset=True)
async def status(request: Request) -> calls.RebuildStatus:
    """Documents built, total, the last event this replica applied and how far behind it was.
    Cheap enough to poll while a rebuild runs: nothing here reads the documents themselves."""
    state = request.app.state
    return await service.rebuild_status(state.rebuilder, state.store.documents, state.last_applied)


# --- the inbox, for operators and tests -------------------------------------------------------


@router.get("/events", tags=["events"])
async def processed_events(
    request: Request,
    type: Annotated[str, Query(min_length=1, max_length=64)],
    entity_id: Annotated[list[str] | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> calls.AppliedEvents:
    """Applied events of one type, optionally for some entities (`entity_id` repeated)."""
    return await service.applied_events(
        request.app.state.store.inbox, event_type=type, entity_ids=entity_id or [], limit=limit
    )


@router.get("/events/{event_id}", tags=["events"])
async def processed_event(event_id: str, request: Request) -> calls.AppliedEvent:
    """Whether (and when) an event id was applied."""
    return await service.applied_event(request.app.state.store.inbox, event_id)


router.include_router(admin)
