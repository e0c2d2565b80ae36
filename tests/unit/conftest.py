"""Unit-tier fixtures: services' own tables on an in-memory SQLite database (no server)."""

from collections.abc import Callable

import pytest
from sqlalchemy import Engine, MetaData, create_engine, select
from sqlalchemy.pool import StaticPool


@pytest.fixture
def make_db() -> Callable[[MetaData], Engine]:
    def build(metadata: MetaData) -> Engine:
        engine = create_engine("sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool)
        metadata.create_all(engine)
        return engine

    return build


def outbox_events(engine: Engine, outbox) -> list[tuple[str, dict]]:  # type: ignore[no-untyped-def]
    """(event type, payload) of every queued event, oldest first."""
    with engine.connect() as conn:
        return [(row.event_type, row.payload) for row in conn.execute(select(outbox).order_by(outbox.c.seq))]
