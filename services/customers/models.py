"""The customers service's tables and the bodies of its own API (the bodies other services
send it are in services/shared/calls/customers.py)."""

from pydantic import Field
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


class CustomerChanges(Strict):
    name: str = Field(min_length=1, max_length=100)
