"""What the public API answers on success, as the OpenAPI document declares it: a generated
client gets these types, and tests/e2e/test_api_contract.py checks every answer against them.

The apps behind the gateway build these bodies (the gateway forwards most of them unchanged);
fields are required where every answer carries them, and a client must accept fields it does
not know (an app may add one)."""

from pydantic import BaseModel, Field


class Page(BaseModel):
    total: int = Field(ge=0, description="All there are, not only this page.")
    limit: int
    offset: int


class Product(BaseModel):
    id: str
    seller_id: str
    name: str
    description: str
    price_cents: int
    stock: int
    created_at: str
    updated_at: str
    version: int
    deleted: bool


class ProductPage(Page):
    items: list[Product]


class Registered(BaseModel):
    id: str
    email: str
    name: str
    role: str
    created_at: str


class Token(BaseModel):
    access_token: str
    token_type: str = Field(description="Always `bearer`.")
    expires_in: int = Field(description="Seconds until it expires.")


class Profile(BaseModel):
    id: str
    email: str
    name: str
    role: str
    created_at: str
    updated_at: str
    version: int


class SoldLine(BaseModel):
    product_id: str
    quantity: int
    unit_price_cents: int | None
    product_name: str | None
    seller_id: str | None


class Order(BaseModel):
    """An order as the orders service records it (placing and cancelling answer it)."""

    id: str
    customer_id: str
    status: str = Field(description="`confirmed`, `rejected` or `cancelled` (`pending` only in between).")
    items: list[SoldLine]
    total_cents: int
    created_at: str
    updated_at: str
    version: int


class Named(BaseModel):
    id: str
    name: str | None = Field(description="Null while its service has not told it yet.")


class DocumentCustomer(Named):
    email: str | None


class DocumentProduct(Named):
    seller_id: str | None


class DocumentLine(BaseModel):
    product: DocumentProduct
    quantity: int
    unit_price_cents: int | None
    line_total_cents: int | None


class OrderDocument(BaseModel):
    """An order joined with its customer and products (services/shared/order_document.py)."""

    id: str
    status: str
    customer: DocumentCustomer
    items: list[DocumentLine]
    total_cents: int
    created_at: str
    updated_at: str
    version: int


class OrderDocumentPage(Page):
    items: list[OrderDocument]


class Notification(BaseModel):
    id: str
    type: str
    text: str
    order_id: str | None
    created_at: str
    read: bool


class NotificationPage(Page):
    items: list[Notification]
    unread: int = Field(ge=0)


class Customer(BaseModel):
    id: str
    email: str
    name: str
    created_at: str
    updated_at: str
    version: int


class CustomerPage(Page):
    items: list[Customer]


class Marked(BaseModel):
    id: str
    read: bool
