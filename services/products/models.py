"""The products service's tables and the bodies of its own API (the bodies other services send
it are in services/shared/calls/products.py)."""

from pydantic import Field, model_validator
from sqlalchemy import BigInteger, Column, ForeignKey, Integer, MetaData, String, Table

from services.shared.contracts import Strict
from services.shared.db import Timestamp
from services.shared.outbox import outbox_table

metadata = MetaData()

products = Table(
    "products",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("seller_id", String(36), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", String(2000), nullable=False),
    Column("price_cents", BigInteger, nullable=False),
    Column("stock", Integer, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    Column("deleted_at", Timestamp, nullable=True),
    Column("version", Integer, nullable=False),
)
# One reservation per order: reserved, released, or rejected (kept so a retry gets the same answer).
reservations = Table(
    "reservations",
    metadata,
    Column("order_id", String(36), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
)
reservation_lines = Table(
    "reservation_lines",
    metadata,
    Column("order_id", String(36), ForeignKey("reservations.order_id"), primary_key=True),
    Column("product_id", String(36), primary_key=True),
    Column("quantity", Integer, nullable=False),
    Column("unit_price_cents", BigInteger, nullable=False),
)
outbox = outbox_table(metadata)

MAX_PRICE_CENTS = 100_000_000  # 1,000,000.00
MAX_STOCK = 1_000_000


class NewProduct(Strict):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    price_cents: int = Field(ge=1, le=MAX_PRICE_CENTS)
    stock: int = Field(ge=0, le=MAX_STOCK)


class ProductChanges(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    price_cents: int | None = Field(default=None, ge=1, le=MAX_PRICE_CENTS)
    stock: int | None = Field(default=None, ge=0, le=MAX_STOCK)

    @model_validator(mode="after")
    def not_empty(self) -> "ProductChanges":
        if not self.model_fields_set:
            raise ValueError("nothing to change")
        for field in self.model_fields_set:
            if getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        return self
