"""Alembic, run programmatically: each service keeps its revisions in `<service>/migrations/`
and applies them at start-up, before it takes traffic."""

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from services.shared.db import Timestamp
from services.shared.tracing import TRACEPARENT_LENGTH


def upgrade(engine: Engine, migrations_dir: Path) -> None:
    """Brings the service's database to the newest revision."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


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
