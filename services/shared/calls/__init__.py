"""The bodies services exchange through Dapr service invocation, requests and answers, one
model each, shared by the caller and the callee.

A caller builds its request from the model and sends `model_dump(mode="json")`; the callee
declares the same model as its body, so a field one side renames or retypes fails the
contract test (tests/unit/test_internal_calls.py), not a call at run time. Requests are
`Strict`: a field the callee does not know is refused.

Answers are read with `services.shared.dapr.answer_of`, which turns an answer that does not
fit into ServiceUnavailable: a peer that answers nonsense is broken, and its caller answers
503 as for a peer that is down, never a 500. An answer declares the fields its callers read;
the callee builds it from the model, which checks those fields and carries the entity's other
fields unchanged (`extra="allow"`): the wire format stays the entity's whole snapshot, and a
reader that keeps whole snapshots (order-view, through `batch_lookup`) still gets them.

- orders -> products `POST reservations`: Reservation, answered by ReservationOutcome;
  `POST reservations/{order_id}/release`: no body, answered by ReservationOutcome.
- auth -> customers `POST customers`: NewCustomer, answered (201) by CustomerCreated.
- gateway -> auth `POST login`, `POST register`: the public bodies, with the client's address
  in CLIENT_ADDRESS_HEADER (auth counts attempts per address: services/auth/guard.py).
- gateway, notifications, order-view -> `POST products/batch` and `POST customers/batch`:
  Lookup, answered by ProductsFound and CustomersFound.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

from services.shared.contracts import Cents, Id, IsoTime, Strict, Version

# The public client's address, as the gateway sees it (services/gateway/clients.py).
CLIENT_ADDRESS_HEADER = "x-shop-client-address"

# Ids per batch lookup: a callee reads them in one query, so it bounds them.
MAX_LOOKUP = 200


class Answer(BaseModel):
    """An answer: the fields its callers read, declared and checked; the others carried as sent."""

    model_config = ConfigDict(extra="allow")


# --- batch lookups: `POST products/batch`, `POST customers/batch` -------------------------------


class Lookup(Strict):
    """Entities by id; unknown ids are left out of the answer."""

    ids: list[Id] = Field(min_length=1, max_length=MAX_LOOKUP)


class ProductSnapshot(Answer):
    """A product as products shows it (services/products/service.py `snapshot`): what order
    documents and notifications show of it, and its version to tell the newer of two."""

    id: Id
    name: str
    seller_id: Id
    version: Version


class CustomerSnapshot(Answer):
    """A customer as customers shows it (services/customers/service.py `snapshot`): what order
    documents show of it, and its version to tell the newer of two."""

    id: Id
    email: str
    name: str
    version: Version


class ProductsFound(Answer):
    items: list[ProductSnapshot]


class CustomersFound(Answer):
    items: list[CustomerSnapshot]


# --- stock reservations: orders -> products -----------------------------------------------------


class ReservationLine(Strict):
    product_id: Id
    quantity: int = Field(ge=1, le=100)


class Reservation(Strict):
    """The stock an order takes, all lines or none; keyed by the order, so a retry reserves
    nothing twice and gets the same answer."""

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
    """What a reservation (or its release) answers: `reserved`, or `rejected` when a line is
    short (with the prices, so the order records what was asked), or `released` once its
    stock went back."""

    order_id: Id
    status: Literal["reserved", "rejected", "released"]
    lines: list[ReservedLine]


# --- customer creation: auth -> customers -------------------------------------------------------


class NewCustomer(Strict):
    """Sent by auth when someone registers; auth chose the id (from the email, so a retry
    creates the same customer)."""

    id: str = Field(min_length=36, max_length=36)
    email: EmailStr = Field(max_length=254)
    name: str = Field(min_length=1, max_length=100)


class CustomerCreated(CustomerSnapshot):
    """The customer just created (or, for a retry, created before), with what auth tells the
    one who registered."""

    created_at: IsoTime
