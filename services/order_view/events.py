"""What order-view does with each CloudEvent Dapr delivers (declared in components/subscriptions/)."""

import logging
from typing import Any, Literal

from pymongo.errors import PyMongoError

from services.order_view.store import ReadModelStore

log = logging.getLogger(__name__)

# Dapr's pub/sub contract: SUCCESS acks, RETRY redelivers, DROP discards (we log why).
Outcome = Literal["SUCCESS", "RETRY", "DROP"]


def handle(store: ReadModelStore, topic: str, envelope: dict[str, Any]) -> Outcome:
    """Applies one event at most once; a database failure asks Dapr to redeliver."""
    event_id = envelope.get("id")
    event_type = envelope.get("type")
    if not isinstance(event_id, str) or not event_id or not isinstance(event_type, str):
        log.warning("dropping event without id or type", extra={"topic": topic, "reason": "malformed"})
        return "DROP"
    try:
        data = envelope.get("data")
        entity_id = data.get("id") if isinstance(data, dict) else None
        first_time = store.record_event(
            event_id=event_id,
            topic=topic,
            event_type=event_type,
            entity_id=entity_id if isinstance(entity_id, str) else None,
        )
    except PyMongoError as exc:
        log.warning(
            "read model unavailable, asking for redelivery", extra={"event_id": event_id, "error": str(exc)}
        )
        return "RETRY"
    log.info(
        "event applied" if first_time else "duplicate event ignored",
        extra={"event_id": event_id, "event_type": event_type, "topic": topic},
    )
    return "SUCCESS"
