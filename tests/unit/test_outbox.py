"""The outbox relay looks for rows when a transaction that queued an event commits, and only then."""

import asyncio
from collections.abc import Callable

import httpx
from sqlalchemy import Connection, select

from services.customers.models import metadata, outbox
from services.shared.dapr import DaprSidecar
from services.shared.outbox import OutboxRelay, add_event


def test_only_a_commit_that_queued_an_event_wakes_the_relay(make_db) -> None:  # type: ignore[no-untyped-def]
    engine = make_db(metadata)
    unused = httpx.AsyncClient(transport=httpx.MockTransport(lambda _: httpx.Response(204)))
    relay = OutboxRelay(engine, outbox, DaprSidecar(app_id="test", timeout_s=1, client=unused))

    async def woken_after(write: Callable[[Connection], object]) -> bool:
        relay.watch_commits()
        with engine.begin() as conn:
            write(conn)
        await asyncio.sleep(0)  # one loop turn: the commit hook's wake-up, if any, has run
        return relay._wake.is_set()

    plain = asyncio.run(woken_after(lambda conn: conn.execute(select(outbox.c.seq))))
    relay._wake.clear()
    queued = asyncio.run(
        woken_after(lambda conn: add_event(conn, outbox, topic="customers", event_type="x", data={}))
    )

    assert (plain, queued) == (False, True)
