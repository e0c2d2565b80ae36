"""Composition root of the products service."""

from pathlib import Path

from services.products.api import router
from services.products.config import get_settings
from services.products.models import outbox
from services.shared.runtime_db import database_app

app = database_app(
    "Shop products service",
    get_settings,
    [router],
    migrations=Path(__file__).parent / "migrations",
    outbox=outbox,
)
