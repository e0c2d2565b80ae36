"""The public API's request bodies: unknown fields rejected, every field bounded. Fields a
client must never set (seller, role, status, prices) are simply not here. Numbers are JSON
numbers: `true`, `1.0` or `"5"` is refused, not read as 1 or 5. The apps behind the
gateway declare their own bodies (no service imports another): the public contract is this one."""

from typing import Annotated
from uuid import UUID

from pydantic import ConfigDict, EmailStr, Field, StrictInt, StringConstraints

from services.shared.contracts import Strict, Text


class Registration(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"email": "ada@example.com", "password": "correct-horse-battery", "name": "Ada Lovelace"}
            ]
        }
    )

    email: EmailStr = Field(max_length=254)
    password: Text = Field(min_length=8, max_length=128)
    name: Text = Field(min_length=1, max_length=100)


class Login(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"email": "ada@example.com", "password": "correct-horse-battery"}]}
    )

    email: EmailStr = Field(max_length=254)
    password: Text = Field(min_length=1, max_length=128)


class ProfileChanges(Strict):
    name: Text = Field(min_length=1, max_length=100)


class NewProduct(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"name": "Teapot ☕", "description": "Holds 1 l.", "price_cents": 2500, "stock": 10}]
        }
    )

    name: Text = Field(min_length=1, max_length=200)
    description: Text = Field(default="", max_length=2000)
    price_cents: StrictInt = Field(ge=1, le=100_000_000)
    stock: StrictInt = Field(ge=0, le=1_000_000)


class ProductChanges(Strict):
    name: Text | None = Field(default=None, min_length=1, max_length=200)
    description: Text | None = Field(default=None, max_length=2000)
    price_cents: StrictInt | None = Field(default=None, ge=1, le=100_000_000)
    stock: StrictInt | None = Field(default=None, ge=0, le=1_000_000)


class OrderLine(Strict):
    product_id: UUID
    quantity: StrictInt = Field(ge=1, le=100)


class NewOrder(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"items": [{"product_id": "9b2f5c1e-3a4d-4f6b-8c7d-2e1f0a9b8c7d", "quantity": 2}]}]
        }
    )

    items: list[OrderLine] = Field(min_length=1, max_length=50)


class DeadLetterReplay(Strict):
    """Dead-letter ids from GET /api/admin/dead-letters; none given: the oldest 100."""

    ids: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] | None = Field(
        default=None, min_length=1, max_length=100
    )
