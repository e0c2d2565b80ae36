"""customers' API: the profile the gateway reads and changes, the listing order-view rebuilds
from, creation by auth, and the batch lookup."""

from pydantic import BaseModel, EmailStr, Field

from services.shared.calls.base import Answer, Page
from services.shared.contracts import Id, IsoTime, Strict, Version


class Customer(BaseModel):
    """A customer as customers shows it (services/customers/service.py `snapshot`)."""

    id: Id
    email: str
    name: str
    created_at: IsoTime
    updated_at: IsoTime
    version: Version


class CustomerPage(Page):
    items: list[Customer]


class NewCustomer(Strict):
    """Sent by auth when someone registers; auth chose the id (from the email, so a retry
    creates the same customer)."""

    id: str = Field(min_length=36, max_length=36)
    email: EmailStr = Field(max_length=254)
    name: str = Field(min_length=1, max_length=100)


class CustomerSnapshot(Answer):
    """What a batch lookup's readers read of a customer: what order documents show of it, and
    its version to tell the newer of two (the rest of `Customer` carried as sent)."""

    id: Id
    email: str
    name: str
    version: Version


class CustomerCreated(CustomerSnapshot):
    """The customer just created (or, for a retry, created before), with what auth tells the
    one who registered."""

    created_at: IsoTime


class CustomersFound(Answer):
    items: list[CustomerSnapshot]
