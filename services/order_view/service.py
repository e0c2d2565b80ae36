"""What order-view does: applies each delivered event to the read model, keeps dead letters, and
answers the reads (orders, snapshots, the inbox, the rebuild's progress).

Delivery is at least once and in no guaranteed order, so every write is guarded by the entity's
version: a duplicate, or an event older than what is stored, changes nothing. A dependency that is
down answers RETRY (Dapr redelivers, then dead-letters); an event that can never be applied
answers DROP, which Dapr forwards to the dead-letter topic; every DROP is logged with its reason.
"""

import logging
from datetime import UTC, datetime
from typing import Any

from pymongo.errors import PyMongoError
from starlette.concurrency import run_in_threadpool

from services.order_view import metrics
from services.order_view.events import Delivery, Unprocessable, parse
from services.order_view.projection import apply
from services.order_view.rebuild import Rebuilder
from services.order_view.store import ReadModelStore
from services.order_view.store.documents import OrderDocuments
from services.order_view.store.inbox import DeadLetters, Inbox
from services.order_view.store.snapshots import Snapshots
from services.shared.calls import (
    AppliedEvent,
    AppliedEvents,
    DeadLetterPage,
    KnownSnapshot,
    OrderDocument,
    OrderDocumentPage,
    RebuildRequested,
    RebuildStatus,
)
from services.shared.dapr import DaprSidecar, ServiceUnavailable
from services.shared.errors import ApiError
from services.shared.events import Outcome
from services.shared.identity import Actor, customer_scope
from services.shared.metrics import record_event

log = logging.getLogger(__name__)


class LastApplied:
    """The last event this replica applied: when, and when it was published (its CloudEvent
    `time`), so the rebuild's status shows how far behind the replica is (and its metrics, by
    topic: services/order_view/metrics.py)."""

    def __init__(self) -> None:
        self.at: datetime | None = None
        self.published: Any = None

    def note(self, topic: str, envelope: dict[str, Any]) -> None:
        self.at, self.published = datetime.now(UTC), envelope.get("time")
        published = self.published_at()
        if published is not None:
            metrics.applied(topic, published.timestamp(), self.at.timestamp())

    def published_at(self) -> datetime | None:
        if not isinstance(self.published, str):
            return None
        try:
            published = datetime.fromisoformat(self.published.replace("Z", "+00:00"))
        except ValueError:
            return None
        return published if published.tzinfo else published.replace(tzinfo=UTC)

    def lag_ms(self) -> float | None:
        """Time from the last applied event's publication to its application."""
        published = self.published_at()
        if self.at is None or published is None:
            return None
        return round((self.at - published).total_seconds() * 1000, 1)


# --- events -----------------------------------------------------------------------------------


async def deliver(
    dapr: DaprSidecar,
    store: ReadModelStore,
    last: LastApplied,
    topic: str,
    envelope: dict[str, Any] | None,
) -> Outcome:
    """One delivery of a topic (None: a body that is no JSON object), counted by outcome."""
    if envelope is None:
        record_event(topic, None, "DROP")
        return "DROP"
    outcome = await handle(dapr, store, topic, envelope)
    record_event(topic, envelope.get("type"), outcome)
    if outcome == "SUCCESS":
        last.note(topic, envelope)
    return outcome


async def handle(dapr: DaprSidecar, store: ReadModelStore, topic: str, envelope: dict[str, Any]) -> Outcome:
    """Applies one delivery and says what Dapr should do with it."""
    context = {"event_id": envelope.get("id"), "event_type": envelope.get("type"), "topic": topic}
    try:
        delivery = parse(topic, envelope)
        # Applied before it is looked up: every write is guarded by version, so a redelivery
        # changes nothing, and finding that out costs no read of the inbox first (a lookup in
        # FerretDB per event, for the rare redelivery).
        await apply(dapr, store, delivery)
        if not await _record(store.inbox, delivery):
            log.info("duplicate event: changed nothing", extra=context)
            return "SUCCESS"
    except Unprocessable as exc:
        log.warning("dropping event (to the dead-letter topic)", extra={**context, "reason": str(exc)})
        return "DROP"
    except (ServiceUnavailable, PyMongoError) as exc:
        log.warning("cannot apply event yet, asking for redelivery", extra={**context, "error": str(exc)})
        return "RETRY"
    log.info("event applied", extra=context)
    return "SUCCESS"


async def _record(inbox: Inbox, delivery: Delivery) -> bool:
    """Records an applied event in the inbox; False when it was there already (a redelivery)."""
    return await run_in_threadpool(
        inbox.record_event,
        event_id=delivery.id,
        topic=delivery.topic,
        event_type=delivery.type,
        entity_id=delivery.data.get("id"),
    )


async def keep_dead_letter(
    dead_letters: DeadLetters, *, subscriber: str, envelope: dict[str, Any] | None
) -> Outcome:
    """Keeps what a subscriber could not apply, for a replay; RETRY while MongoDB is down."""
    topic = f"{subscriber}-deadletters"  # components/subscriptions/dead-letters.yaml
    if envelope is None:
        log.warning("dead letter without a readable body", extra={"reason": "malformed"})
        record_event(topic, None, "DROP")
        return "DROP"
    try:
        kept = await run_in_threadpool(dead_letters.keep_dead_letter, envelope, subscriber=subscriber)
    except PyMongoError as exc:
        log.warning("cannot keep dead letter yet", extra={"event_id": envelope.get("id"), "error": str(exc)})
        record_event(topic, envelope.get("type"), "RETRY")
        return "RETRY"
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
    return "SUCCESS"


async def dead_letters_page(dead_letters: DeadLetters, *, limit: int, offset: int) -> DeadLetterPage:
    """Dead letters, newest first."""
    page = await run_in_threadpool(dead_letters.list_dead_letters, limit=limit, offset=offset)
    return DeadLetterPage.model_validate(page)


# --- reads ------------------------------------------------------------------------------------


async def orders_page(
    documents: OrderDocuments, *, actor: Actor, customer_id: str | None, limit: int, offset: int
) -> OrderDocumentPage:
    """Order documents newest first: the caller's own; an admin's choice of one customer or all."""
    scope = customer_scope(actor, customer_id)
    items, total = await run_in_threadpool(
        documents.list_orders, customer_id=scope, limit=limit, offset=offset
    )
    return OrderDocumentPage.model_validate(
        {"items": items, "total": total, "limit": limit, "offset": offset}
    )


async def visible_order(documents: OrderDocuments, *, actor: Actor, order_id: str) -> OrderDocument:
    """An order's document, for its customer or an admin; 404 for anyone else, as if absent."""
    document = await run_in_threadpool(documents.get_order, order_id)
    if document is None or (document["customer"]["id"] != actor.id and not actor.is_admin):
        raise ApiError(404, "not_found", "order not found")
    return OrderDocument.model_validate(document)


async def known_snapshot(snapshots: Snapshots, *, kind: str, entity_id: str) -> KnownSnapshot:
    """The newest customer or product snapshot order-view has applied, on any replica."""
    if kind not in ("customer", "product"):
        raise ApiError(404, "not_found", "unknown kind")
    found = await run_in_threadpool(snapshots.stored, kind, entity_id)
    if found is None:
        raise ApiError(404, "not_found", f"{kind} not known")
    return KnownSnapshot.model_validate({k: v for k, v in found.items() if k != "_id"})


async def applied_events(
    inbox: Inbox, *, event_type: str, entity_ids: list[str], limit: int
) -> AppliedEvents:
    """Applied events of one type, optionally for some entities, oldest first."""
    found = await run_in_threadpool(
        inbox.find_events, event_type=event_type, entity_ids=entity_ids, limit=limit
    )
    return AppliedEvents(items=[_public(item) for item in found])


async def applied_event(inbox: Inbox, event_id: str) -> AppliedEvent:
    """Whether (and when) an event id was applied; 404 when it was not."""
    found = await run_in_threadpool(inbox.find_event, event_id)
    if found is None:
        raise ApiError(404, "not_found", "event not processed")
    return _public(found)


def _public(found: dict[str, Any]) -> AppliedEvent:
    return AppliedEvent(
        id=found["_id"],
        topic=found["topic"],
        type=found["type"],
        entity_id=found.get("entity_id"),
        received_at=found["received_at"],
    )


# --- rebuild ----------------------------------------------------------------------------------


async def request_rebuild(rebuilder: Rebuilder) -> RebuildRequested:
    """Asks for a complete pass: whether one was running (it restarts), and the progress."""
    restarted = await rebuilder.request()
    return RebuildRequested.model_validate(
        {"restarted": restarted, **await run_in_threadpool(rebuilder.progress)}
    )


async def rebuild_status(rebuilder: Rebuilder, documents: OrderDocuments, last: LastApplied) -> RebuildStatus:
    """The rebuild's progress, the documents there are, and this replica's last event."""
    return RebuildStatus.model_validate(
        {
            **await run_in_threadpool(rebuilder.progress),
            "documents": await run_in_threadpool(documents.count_orders),
            "last_event_at": last.at,
            "lag_ms": last.lag_ms(),
        }
    )
