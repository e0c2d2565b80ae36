"""Every service's real migrations on a database made the earlier way (utf8mb4_unicode_ci):
afterwards every text column tells characters outside the Basic Multilingual Plane apart, and
text comes back exactly as written."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from services.shared.migrations import TEXT_COLLATION, upgrade

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("auth", "customers", "notifications", "orders", "products")


@pytest.fixture
def earlier_database(mariadb_root: Engine) -> Iterator[Engine]:
    name = f"it_{uuid.uuid4().hex[:12]}"
    with mariadb_root.begin() as conn:
        conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
    engine = create_engine(
        f"mysql+pymysql://root@localhost/{name}?unix_socket={ROOT}/.run/mariadb.sock&charset=utf8mb4"
    )
    yield engine
    engine.dispose()
    with mariadb_root.begin() as conn:
        conn.execute(text(f"DROP DATABASE `{name}`"))


@pytest.mark.parametrize("service", SERVICES)
def test_after_the_migrations_every_text_column_uses_the_unicode_520_collation(
    service: str, earlier_database: Engine
) -> None:
    upgrade(earlier_database, ROOT / "services" / service / "migrations")

    with earlier_database.connect() as conn:
        columns = conn.execute(
            text(
                "SELECT table_name, column_name, collation_name FROM information_schema.columns"
                " WHERE table_schema = DATABASE() AND collation_name IS NOT NULL"
            )
        ).all()
        default = conn.execute(text("SELECT @@collation_database")).scalar_one()

    assert columns, "the migrations created no text column"
    others = [(t, c, coll) for t, c, coll in columns if coll not in (TEXT_COLLATION, "utf8mb4_bin")]
    assert others == []
    assert default == TEXT_COLLATION


def test_order_lines_keep_two_products_that_differ_only_in_an_emoji(earlier_database: Engine) -> None:
    upgrade(earlier_database, ROOT / "services/orders/migrations")
    order_id = str(uuid.uuid4())

    with earlier_database.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO orders (id, customer_id, status, total_cents, created_at, updated_at, version)"
                " VALUES (:id, 'c', 'pending', 0, NOW(6), NOW(6), 1)"
            ),
            {"id": order_id},
        )
        for product_id, name in (("p😀", "café 😀"), ("p😁", "𝄞 clef")):
            conn.execute(
                text(
                    "INSERT INTO order_lines (order_id, product_id, quantity, product_name)"
                    " VALUES (:o, :p, 1, :n)"
                ),
                {"o": order_id, "p": product_id, "n": name},
            )
    with earlier_database.connect() as conn:
        lines = conn.execute(
            text("SELECT product_id, product_name FROM order_lines ORDER BY product_name")
        ).all()

    assert sorted(map(tuple, lines)) == [("p😀", "café 😀"), ("p😁", "𝄞 clef")]


def test_the_foreign_keys_are_back_after_the_conversion(earlier_database: Engine) -> None:
    upgrade(earlier_database, ROOT / "services/orders/migrations")

    with earlier_database.connect() as conn:
        foreign_keys = conn.execute(
            text(
                "SELECT table_name, column_name, referenced_table_name, referenced_column_name"
                " FROM information_schema.key_column_usage"
                " WHERE table_schema = DATABASE() AND referenced_table_name IS NOT NULL"
            )
        ).all()

    assert ("order_lines", "order_id", "orders", "id") in [tuple(row) for row in foreign_keys]
