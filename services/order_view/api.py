"""order-view's routes: Dapr event deliveries, the order reads, rebuild and progress."""

import logging
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pymongo.errors import PyMongoError
from starlette.concurrency import run_in_threadpool

from services.order_view import events, replay
from services.shared.errors import ApiError
from services.shared.events import read_envelope
from services.shared.identity import Actor, customer_scope, require_actor
from services.shared.metrics import record_event
from services.shared.paging import Limit, Offset

log = logging.getLogger(__name__)
router = APIRouter()
Caller = Annotated[Actor, Depends(require_actor)]

TOPICS = ("orders", "customers", "products")


def _route_for(topic: str) -> Any:
    async def deliver(request: Request) -> dict[str, str]:
        envelope = await read_envelope(request)
        if envelope is None:
            record_event(topic, None, "DROP")
            return {"status": "DROP"}
        outcome = await events.handle(request.app.state.dapr, request.app.state.store, topic, envelope)
        record_event(topic, envelope.get("type"), outcome)
        if outcome == "SUCCESS":
            request.app.state.last_event = {"at": datetime.now(UTC), "time": envelope.get("time")}
        return {"status": outcome}

    deliver.__name__ = f"deliver_{topic}"
    deliver.__doc__ = f"Dapr delivers `{topic}` events here (components/subscriptions/order-view.yaml)."
    return deliver


for _topic in TOPICS:
    router.add_api_route(f"/events/{_topic}", _route_for(_topic), methods=["POST"], tags=["events"])


def _dead_letter_route(subscriber: str) -> Any:
    topic = f"{subscriber}-deadletters"  # components/subscriptions/dead-letters.yaml

    async def keep(request: Request) -> dict[str, str]:
        envelope = await read_envelope(request)
        if envelope is None:
            log.warning("dead letter without a readable body", extra={"reason": "malformed"})
            record_event(topic, None, "DROP")
            return {"status": "DROP"}
        store = request.app.state.store
        try:
            kept = await run_in_threadpool(store.keep_dead_letter, envelope, subscriber=subscriber)
        except PyMongoError as exc:
            log.warning(
                "cannot keep dead letter yet", extra={"event_id": envelope.get("id"), "error": str(exc)}
            )
            record_event(topic, envelope.get("type"), "RETRY")
            return {"status": "RETRY"}
        log.warning(
            "dead letter kept",
            extra={
                "event_id": envelope.get("id"),
                "event_type": envelope.get("type"),
                "subscriber": subscriber,
                "first_time": kept,
            },
        )
        record_event(topic, envelope.get("type"), "SUCCESS")
        return {"status": "SUCCESS"}

    keep.__name__ = f"keep_dead_letter_of_{subscriber.replace('-', '_')}"
    keep.__doc__ = f"Dapr delivers here what {subscriber} could not apply (subscriptions/dead-letters.yaml)."
    return keep


for _subscriber in sorted(replay.SUBSCRIBERS):
    router.add_api_route(
        f"/dead-letters/{_subscriber}", _dead_letter_route(_subscriber), methods=["POST"], tags=["events"]
    )


class ReplayRequest(BaseModel):
    """Which dead letters to replay: these ids, or (none given) the oldest ones."""

    model_config = ConfigDict(extra="forbid")
    ids: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] | None = Field(
        default=None, min_length=1, max_length=replay.MAX_PER_REPLAY
    )


@router.post("/dead-letters/replay", tags=["events"])
async def replay_dead_letters(
    request: Request, actor: Caller, body: ReplayRequest | None = None
) -> dict[str, Any]:
    """Redelivers dead letters to the subscriber that could not apply them (admins only)."""
    if not actor.is_admin:
        raise ApiError(403, "forbidden", "admins only")
    ids = body.ids if body is not None else None
    return await replay.replay(request.app.state.dapr, request.app.state.store, ids)


@router.get("/dead-letters", tags=["events"])
async def list_dead_letters(
    request: Request,
    actor: Caller,
    limit: Limit = 20,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Dead letters, newest first (admins only)."""
    if not actor.is_admin:
        raise ApiError(403, "forbidden", "admins only")
    return await run_in_threadpool(request.app.state.store.list_dead_letters, limit=limit, offset=offset)


# --- reads ------------------------------------------------------------------------------------


@router.get("/orders", tags=["orders"])
async def list_orders(
    request: Request,
    actor: Caller,
    limit: Limit = 20,
    offset: Offset = 0,
    customer_id: Annotated[str | None, Query(max_length=36)] = None,
) -> dict[str, Any]:
    """Order documents newest first: the caller's own; an admin's choice of one customer or all."""
    scope = customer_scope(actor, customer_id)
    items, total = await run_in_threadpool(
        request.app.state.store.list_orders, customer_id=scope, limit=limit, offset=offset
    )
    return {"items": items, "total": total, "limit": limit, "offset": offset}


@router.get("/orders/{order_id}", tags=["orders"])
async def get_order(order_id: str, request: Request, actor: Caller) -> dict[str, Any]:
    document = await run_in_threadpool(request.app.state.store.get_order, order_id)
    if document is None or (document["customer"]["id"] != actor.id and not actor.is_admin):
        raise ApiError(404, "not_found", "order not found")
    return document


# --- rebuild and progress ---------------------------------------------------------------------


@router.post("/rebuild", status_code=202, tags=["read model"])
async def rebuild(request: Request, actor: Caller) -> JSONResponse:
    """Rebuilds every document from the source services, in the background (admins only)."""
    if not actor.is_admin:
        raise ApiError(403, "forbidden", "admins only")
    rebuilder = request.app.state.rebuilder
    restarted = await rebuilder.request()
    progress = await run_in_threadpool(rebuilder.progress)
    return JSONResponse(jsonable_encoder({"restarted": restarted, **progress}), status_code=202)


@router.get("/rebuild", tags=["read model"])
async def status(request: Request) -> dict[str, Any]:
    """Documents built, total, the last event this replica applied and how far behind it was.
    Cheap enough to poll while a rebuild runs: nothing here reads the documents themselves."""
    last = getattr(request.app.state, "last_event", None)
    return {
        **await run_in_threadpool(request.app.state.rebuilder.progress),
        "documents": await run_in_threadpool(request.app.state.store.count_orders),
        "last_event_at": last["at"] if last else None,
        "lag_ms": _lag_ms(last),
    }


def _lag_ms(last: dict[str, Any] | None) -> float | None:
    """Time from the last applied event's publication to its application."""
    if not last or not isinstance(last.get("time"), str):
        return None
    try:
        published = datetime.fromisoformat(last["time"].replace("Z", "+00:00"))
    except ValueError:
        return None
    return round((last["at"] - published).total_seconds() * 1000, 1)


@router.get("/known/{kind}/{entity_id}", tags=["read model"])
async def known(kind: str, entity_id: str, request: Request) -> dict[str, Any]:
    """The newest customer or product snapshot order-view has applied (operators and tests)."""
    if kind not in ("customer", "product"):
        raise ApiError(404, "not_found", "unknown kind")
    found = (await run_in_threadpool(request.app.state.store.known, kind, [entity_id])).get(entity_id)
    if found is None:
        raise ApiError(404, "not_found", f"{kind} not known")
    return {k: v for k, v in found.items() if k != "_id"}


# --- the inbox, for operators and tests -------------------------------------------------------


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
    entity_id: Annotated[list[str] | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Applied events of one type, optionally for some entities (`entity_id` repeated)."""
    found = await run_in_threadpool(
        request.app.state.store.find_events, event_type=type, entity_ids=entity_id or [], limit=limit
    )
    return {"items": [_public(item) for item in found]}


@router.get("/events/{event_id}", tags=["events"])
async def processed_event(event_id: str, request: Request) -> dict[str, Any]:
    """Whether (and when) an event id was applied."""
    found = await run_in_threadpool(request.app.state.store.find_event, event_id)
    if found is None:
        raise ApiError(404, "not_found", "event not processed")
    return _public(found)
