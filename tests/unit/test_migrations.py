"""Each service's Alembic migrations create exactly the tables its code uses (SQLite, no server)."""

from pathlib import Path

import pytest
from sqlalchemy import MetaData, create_engine, inspect

from services.auth.models import metadata as auth
from services.customers.models import metadata as customers
from services.notifications.store import metadata as notifications
from services.orders.models import metadata as orders
from services.products.models import metadata as products
from services.shared.migrations import upgrade

SERVICES = {
    "auth": auth,
    "customers": customers,
    "products": products,
    "orders": orders,
    "notifications": notifications,
}
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_migrations_create_the_tables_and_columns_the_code_uses(service: str, tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine, ROOT / "services" / service / "migrations")
    upgrade(engine, ROOT / "services" / service / "migrations")  # idempotent

    migrated = inspect(engine)
    expected: MetaData = SERVICES[service]
    assert set(migrated.get_table_names()) - {"alembic_version"} == set(expected.tables)
    for name, table in expected.tables.items():
        assert {c["name"] for c in migrated.get_columns(name)} == {c.name for c in table.columns}, name
