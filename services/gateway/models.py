"""The public API's request bodies: unknown fields rejected, every field bounded. Fields a
client must never set (seller, role, status, prices) are simply not here. The apps behind the
gateway declare their own bodies (no service imports another): the public contract is this one."""

from typing import Annotated

from pydantic import EmailStr, Field, StringConstraints

from services.shared.contracts import Strict


class Registration(Strict):
    email: EmailStr = Field(max_length=254)
    password: str = Field(min_length=8, max_length=128)
    name: str = Field(min_length=1, max_length=100)


class Login(Strict):
    email: EmailStr = Field(max_length=254)
    password: str = Field(min_length=1, max_length=128)


class ProfileChanges(Strict):
    name: str = Field(min_length=1, max_length=100)


class NewProduct(Strict):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    price_cents: int = Field(ge=1, le=100_000_000)
    stock: int = Field(ge=0, le=1_000_000)


class ProductChanges(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    price_cents: int | None = Field(default=None, ge=1, le=100_000_000)
    stock: int | None = Field(default=None, ge=0, le=1_000_000)


class OrderLine(Strict):
    product_id: str = Field(min_length=1, max_length=36)
    quantity: int = Field(ge=1, le=100)


class NewOrder(Strict):
    items: list[OrderLine] = Field(min_length=1, max_length=50)


class DeadLetterReplay(Strict):
    """Dead-letter ids from GET /api/admin/dead-letters; none given: the oldest 100."""

    ids: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] | None = Field(
        default=None, min_length=1, max_length=100
    )
