"""What the customers service publishes, on the `customers` topic: the customer after each
change (services/shared/integration_events.py), queued in the transaction that made it."""

from typing import Any

from sqlalchemy import Connection

from services.customers.models import outbox
from services.shared.integration_events import CustomerEvent, CustomerRegistered, CustomerUpdated
from services.shared.outbox import queue_event

PUBLISHED = (CustomerRegistered, CustomerUpdated)


def publish(conn: Connection, kind: type[CustomerEvent], customer: dict[str, Any]) -> None:
    """Queues `kind` of event with the customer as shown (`service.snapshot`)."""
    queue_event(conn, outbox, kind.model_validate(customer))
