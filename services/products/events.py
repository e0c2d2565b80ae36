"""What the products service publishes, on the `products` topic: a product after each change
its seller makes (services/shared/integration_events.py), queued in the transaction that made
it. Stock an order takes or gives back is no product event: the order's events tell it."""

from typing import Any

from sqlalchemy import Connection

from services.products.models import outbox
from services.shared.integration_events import (
    ProductCreated,
    ProductDeleted,
    ProductEvent,
    ProductUpdated,
)
from services.shared.outbox import queue_event

PUBLISHED = (ProductCreated, ProductUpdated, ProductDeleted)


def publish(conn: Connection, kind: type[ProductEvent], product: dict[str, Any]) -> None:
    """Queues `kind` of event with the product as shown (`service.snapshot`)."""
    queue_event(conn, outbox, kind.model_validate(product))
