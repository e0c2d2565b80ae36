"""Composition root of the customers service."""

from pathlib import Path

from services.customers.api import router
from services.customers.config import get_settings
from services.customers.models import outbox
from services.shared.runtime_db import database_app

app = database_app(
    "Shop customers service",
    get_settings,
    [router],
    migrations=Path(__file__).parent / "migrations",
    outbox=outbox,
)
