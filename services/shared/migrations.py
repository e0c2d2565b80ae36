"""Alembic, run programmatically: each service keeps its revisions in `<service>/migrations/`
and applies them at start-up, before it takes traffic."""

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine


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
