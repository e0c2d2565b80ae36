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
