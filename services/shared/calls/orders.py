"""orders' answers: an order as placed, read or cancelled (the gateway forwards them, and reads
the lines of a cancelled one), and the listing the gateway's live reads and order-view's
rebuild page through."""

from typing import Literal

from pydantic import BaseModel, Field

from services.shared.calls.base import Page
from services.shared.contracts import Cents, Id, IsoTime, Version


class SoldLine(BaseModel):
    """Price, name and seller are fixed by the stock reservation: null while the order is
    pending, and in orders placed before lines kept names and sellers."""

    product_id: Id
    quantity: int = Field(ge=1)
    unit_price_cents: Cents | None
    product_name: str | None
    seller_id: Id | None


class Order(BaseModel):
    """An order as orders shows it (services/orders/service.py `snapshot`): the data of its
    events too (services/shared/integration_events.py OrderEvent)."""

    id: Id
    customer_id: Id
    status: Literal["pending", "confirmed", "rejected", "cancelled"] = Field(
        description="`confirmed`, `rejected` or `cancelled` (`pending` only in between)."
    )
    items: list[SoldLine]
    total_cents: Cents
    created_at: IsoTime
    updated_at: IsoTime
    version: Version


class OrderPage(Page):
    items: list[Order]
