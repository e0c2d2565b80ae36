"""scripts/provision_db.py: its statements survive the driver's %-formatting for any user host
(docker-compose's is `%`, which once broke provisioning)."""

import importlib.util
from pathlib import Path

import pymysql.converters
import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("provision_db", ROOT / "scripts/provision_db.py")
assert spec and spec.loader
provision_db = importlib.util.module_from_spec(spec)
spec.loader.exec_module(provision_db)


@pytest.mark.parametrize("user_host", ["127.0.0.1", "%"])
def test_every_statement_formats_as_the_driver_does(user_host: str) -> None:
    secrets = {f"{svc}-db-password": f"pw-{svc}'%" for svc in provision_db.SERVICES}

    # What pymysql's cursor does with a statement and its parameters (cursor._mogrify).
    rendered = [
        sql % tuple(pymysql.converters.escape_string(p).join("''") for p in params) if params else sql
        for sql, params in provision_db.statements(secrets, user_host)
    ]

    assert f"CREATE USER IF NOT EXISTS 'auth'@'{user_host}' IDENTIFIED BY 'pw-auth\\'%'" in rendered
    assert f"GRANT ALL PRIVILEGES ON `orders`.* TO 'orders'@'{user_host}'" in rendered


def test_databases_are_made_with_the_collation_the_migrations_convert_to() -> None:
    from services.shared.migrations import TEXT_COLLATION

    assert provision_db.TEXT_COLLATION == TEXT_COLLATION
    secrets = {f"{svc}-db-password": "pw" for svc in provision_db.SERVICES}
    created = [sql for sql, _ in provision_db.statements(secrets, "%") if sql.startswith("CREATE DATABASE")]
    assert len(created) == len(provision_db.SERVICES)
    assert all(sql.endswith(f"CHARACTER SET utf8mb4 COLLATE {TEXT_COLLATION}") for sql in created)
