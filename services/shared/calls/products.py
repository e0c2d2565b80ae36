"""products' API: the product pages the gateway forwards (and caches), the batch lookup, and
the stock reservations orders makes."""

from typing import Literal

from pydantic import BaseModel, Field, model_validator

from services.shared.calls.base import Answer, Page
from services.shared.contracts import Cents, Id, IsoTime, Strict, Version


class Product(BaseModel):
    """A product as products shows it (services/products/service.py `snapshot`)."""

    id: Id
    seller_id: Id
    name: str = Field(min_length=1)
    description: str
    price_cents: Cents
    stock: int = Field(ge=0)
    created_at: IsoTime
    updated_at: IsoTime
    version: Version
    deleted: bool


class ProductPage(Page):
    items: list[Product]


class ProductSnapshot(Answer):
    """What a batch lookup's readers read of a product: what order documents and notifications
    show of it, and its version to tell the newer of two (the rest of `Product` carried as sent)."""

    id: Id
    name: str
    seller_id: Id
    version: Version


class ProductsFound(Answer):
    items: list[ProductSnapshot]


# --- stock reservations: orders -> products -----------------------------------------------------


class ReservationLine(Strict):
    product_id: Id
    quantity: int = Field(ge=1, le=100)


class Reservation(Strict):
    """`POST reservations`: the stock an order takes, all lines or none; keyed by the order,
    so a retry reserves nothing twice and gets the same answer."""

    order_id: str = Field(min_length=36, max_length=36)
    lines: list[ReservationLine] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def distinct_products(self) -> "Reservation":
        if len({line.product_id for line in self.lines}) != len(self.lines):
            raise ValueError("each product may appear once")
        return self


class ReservedLine(Answer):
    """A line as reserved: the price it fixed, and its product's name and seller, so the order
    (and whoever reads its events) need not ask products again."""

    product_id: Id
    quantity: int = Field(ge=1)
    unit_price_cents: Cents
    name: str
    seller_id: Id


class ReservationOutcome(Answer):
    """What a reservation (or its release, `POST reservations/{order_id}/release`) answers:
    `reserved`, or `rejected` when a line is short (with the prices, so the order records what
    was asked), or `released` once its stock went back."""

    order_id: Id
    status: Literal["reserved", "rejected", "released"]
    lines: list[ReservedLine]
