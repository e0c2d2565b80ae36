"""Alembic, run programmatically: each service keeps its revisions in `<service>/migrations/`
and applies them at start-up, before it takes traffic.

A service applies them in a child process (upgrade_in_child): Alembic weighs about 9 MB once
imported and would otherwise stay resident in every long-running service for nothing."""

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import URL, Engine, create_engine

from services.shared.db import Timestamp, release_named_lock, take_named_lock
from services.shared.logging import configure_logging
from services.shared.tracing import TRACEPARENT_LENGTH

MIGRATION_LOCK = "migrations"
# Text compares by the Unicode 5.2 collation: utf8mb4_unicode_ci (UCA 4.0) gives every character
# outside the Basic Multilingual Plane one and the same weight, so two keys differing only in an
# emoji collide on a primary key. utf8mb4_unicode_520_ci exists in MariaDB and MySQL alike.
TEXT_COLLATION = "utf8mb4_unicode_520_ci"
MIGRATION_LOCK_WAIT_S = 90

# Where `python -m services...` resolves from, whatever the app's working directory.
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]


async def upgrade_in_child(url: URL, migrations_dir: Path, *, timeout_s: float = 120.0) -> None:
    """Runs `upgrade` in `python -m services.shared.migrations DIR`; the URL, password included,
    goes over stdin rather than the command line or the environment."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.shared.migrations",
        str(migrations_dir),
        cwd=_PACKAGE_ROOT,
        stdin=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    secret_url = url.render_as_string(hide_password=False).encode()
    try:
        _, stderr = await asyncio.wait_for(child.communicate(secret_url), timeout_s)
    except TimeoutError:
        raise RuntimeError(f"migrations in {migrations_dir} did not finish within {timeout_s:.0f}s") from None
    finally:
        if child.returncode is None:  # timed out, or the app was stopped during start-up
            child.kill()
            await child.wait()
    if child.returncode != 0:
        detail = stderr.decode(errors="replace").strip()[-2000:]
        raise RuntimeError(f"migrations in {migrations_dir} failed (exit {child.returncode}): {detail}")


def upgrade(engine: Engine, migrations_dir: Path) -> None:
    """Brings the service's database to the newest revision."""
    # Imported here: only the migration child (or a test) pays for Alembic.
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    with engine.begin() as conn:
        # Replicas starting together take turns: the first applies the revisions, the others
        # then find the database at head. Without it two would both create the same table.
        if not take_named_lock(conn, MIGRATION_LOCK, wait_s=MIGRATION_LOCK_WAIT_S):
            raise RuntimeError(f"another replica held the migration lock for {MIGRATION_LOCK_WAIT_S}s")
        try:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
        finally:
            release_named_lock(conn, MIGRATION_LOCK)


def run_migrations(context: Any) -> None:
    """The body of every service's migrations/env.py: online mode on the given connection."""
    connection = context.config.attributes["connection"]
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()


def create_outbox(op: Any) -> None:
    """The outbox table (services.shared.outbox), created by each publishing service's first
    migration."""
    op.create_table(
        "outbox",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("sent_at", Timestamp, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_index("ix_outbox_unsent", "outbox", ["sent_at", "seq"])


def add_outbox_traceparent(op: Any) -> None:
    """The W3C traceparent of the request that wrote an outbox row (services.shared.outbox),
    so its later publish joins that request's trace."""
    op.add_column("outbox", sa.Column("traceparent", sa.String(TRACEPARENT_LENGTH), nullable=True))


def use_text_collation(op: Any) -> None:
    """Makes TEXT_COLLATION the default of the service's database and converts every table in it
    (a revision of each service: databases made before it used utf8mb4_unicode_ci). Rebuilds
    each table: on a large production table, run it in a maintenance window."""
    bind = op.get_bind()
    if bind.dialect.name != "mysql":  # SQLite (the unit tests) compares text by code point anyway
        return
    database = bind.execute(sa.text("SELECT DATABASE()")).scalar_one()
    op.execute(f"ALTER DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE {TEXT_COLLATION}")
    # MariaDB refuses to change a column a foreign key uses, even with foreign_key_checks off:
    # the foreign keys go, the tables change, the same foreign keys come back.
    foreign_keys = bind.execute(
        sa.text(
            "SELECT k.table_name, k.constraint_name, k.column_name, k.referenced_table_name,"
            " k.referenced_column_name, r.update_rule, r.delete_rule"
            " FROM information_schema.key_column_usage k JOIN information_schema.referential_constraints r"
            " ON r.constraint_schema = k.constraint_schema AND r.constraint_name = k.constraint_name"
            " WHERE k.table_schema = :db AND k.referenced_table_name IS NOT NULL"
            " ORDER BY k.table_name, k.constraint_name, k.ordinal_position"
        ),
        {"db": database},
    ).all()
    constraints: dict[tuple[str, str], list[Any]] = {}
    for row in foreign_keys:
        constraints.setdefault((row.table_name, row.constraint_name), []).append(row)
    for table, name in constraints:
        op.execute(f"ALTER TABLE `{table}` DROP FOREIGN KEY `{name}`")
    tables = bind.execute(
        sa.text(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = :db AND table_type = 'BASE TABLE'"
        ),
        {"db": database},
    ).scalars()
    # Converting rebuilds each table and its FULLTEXT indexes, which take the session's stopword
    # setting: the product name search keeps every word ("the" too), as its own revision made it.
    op.execute("SET SESSION innodb_ft_enable_stopword = OFF")
    for table in tables.all():
        op.execute(f"ALTER TABLE `{table}` CONVERT TO CHARACTER SET utf8mb4 COLLATE {TEXT_COLLATION}")
    for (table, name), rows in constraints.items():
        columns = ", ".join(f"`{row.column_name}`" for row in rows)
        referenced = ", ".join(f"`{row.referenced_column_name}`" for row in rows)
        op.execute(
            f"ALTER TABLE `{table}` ADD CONSTRAINT `{name}` FOREIGN KEY ({columns})"
            f" REFERENCES `{rows[0].referenced_table_name}` ({referenced})"
            f" ON UPDATE {rows[0].update_rule} ON DELETE {rows[0].delete_rule}"
        )


def main() -> None:
    """The migration child: `python -m services.shared.migrations DIR`, the database URL on stdin."""
    configure_logging(os.environ.get("APP_ID", "migrations"), os.environ.get("SHOP_LOG_LEVEL", "INFO"))
    engine = create_engine(sys.stdin.read().strip())
    try:
        upgrade(engine, Path(sys.argv[1]))
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
