"""The orders service's tables and the shapes of its internal API."""

from pydantic import Field, model_validator
from sqlalchemy import BigInteger, Column, ForeignKey, Integer, MetaData, String, Table

from services.shared.contracts import Strict
from services.shared.db import Timestamp
from services.shared.outbox import outbox_table

metadata = MetaData()

# status: pending (stock not settled yet) -> confirmed | rejected; confirmed -> cancelled.
orders = Table(
    "orders",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("customer_id", String(36), nullable=False),
    Column("status", String(16), nullable=False),
    Column("total_cents", BigInteger, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    Column("version", Integer, nullable=False),
    # When it was confirmed or rejected: what a repeated Idempotency-Key is answered with is the
    # order as of then (services/orders/placing.py), even after a cancel.
    Column("settled_at", Timestamp, nullable=True),
)
order_lines = Table(
    "order_lines",
    metadata,
    Column("order_id", String(36), ForeignKey("orders.id"), primary_key=True),
    Column("product_id", String(36), primary_key=True),
    Column("quantity", Integer, nullable=False),
    # Fixed when the stock is reserved; unknown while the order is pending.
    Column("unit_price_cents", BigInteger, nullable=True),
    # The product as it was sold (from the reservation), so the order's events say who sold
    # what without anyone asking products again; order-view still shows current names.
    Column("product_name", String(200), nullable=True),
    Column("seller_id", String(36), nullable=True),
)
outbox = outbox_table(metadata)


class OrderLine(Strict):
    product_id: str = Field(min_length=1, max_length=36)
    quantity: int = Field(ge=1, le=100)


class NewOrder(Strict):
    items: list[OrderLine] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def distinct_products(self) -> "NewOrder":
        if len({line.product_id for line in self.items}) != len(self.items):
            raise ValueError("each product may appear once per order")
        return self
