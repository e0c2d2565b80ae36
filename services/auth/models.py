"""The auth service's table and the shapes of its internal API."""

from pydantic import EmailStr, Field
from sqlalchemy import Column, MetaData, String, Table

from services.shared.contracts import Strict
from services.shared.db import Timestamp

metadata = MetaData()

credentials = Table(
    "credentials",
    metadata,
    Column("id", String(36), primary_key=True),  # the customer's id
    Column("email", String(254), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at", Timestamp, nullable=False),
)


class Registration(Strict):
    email: EmailStr = Field(max_length=254)
    password: str = Field(min_length=8, max_length=128)
    name: str = Field(min_length=1, max_length=100)


class Login(Strict):
    email: EmailStr = Field(max_length=254)
    password: str = Field(min_length=1, max_length=128)
