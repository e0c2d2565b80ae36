"""The customers service's tables and the shapes of its internal API."""

from pydantic import EmailStr, Field
from sqlalchemy import Column, Integer, MetaData, String, Table

from services.shared.contracts import Strict
from services.shared.db import Timestamp
from services.shared.outbox import outbox_table

metadata = MetaData()

customers = Table(
    "customers",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("name", String(100), nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    Column("version", Integer, nullable=False),
)
outbox = outbox_table(metadata)


class NewCustomer(Strict):
    """Sent by auth when someone registers; auth chose the id."""

    id: str = Field(min_length=36, max_length=36)
    email: EmailStr = Field(max_length=254)
    name: str = Field(min_length=1, max_length=100)


class CustomerChanges(Strict):
    name: str = Field(min_length=1, max_length=100)


class CustomerIds(Strict):
    ids: list[str] = Field(min_length=1, max_length=200)
