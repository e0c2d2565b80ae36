"""Each service's Alembic migrations create exactly the tables its code uses (SQLite, no server)."""

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import MetaData, create_engine, inspect, make_url

from services.auth.models import metadata as auth
from services.customers.models import metadata as customers
from services.notifications.store import metadata as notifications
from services.orders.models import metadata as orders
from services.products.models import metadata as products
from services.shared.migrations import upgrade, upgrade_in_child

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


def test_a_service_applies_its_migrations_in_a_child_process(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    asyncio.run(upgrade_in_child(make_url(url), ROOT / "services" / "orders" / "migrations"))

    assert set(inspect(create_engine(url)).get_table_names()) - {"alembic_version"} == set(orders.tables)


def test_a_failing_migration_child_raises_with_its_error(tmp_path: Path) -> None:
    url = make_url(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with pytest.raises(RuntimeError, match=r"(?s)failed \(exit 1\).*Path doesn't exist"):
        asyncio.run(upgrade_in_child(url, tmp_path / "no-migrations"))
