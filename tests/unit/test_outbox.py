"""The outbox relay looks for rows when a transaction that queued an event commits, and only then."""

import httpx
from sqlalchemy import select

from services.customers.models import metadata, outbox
from services.shared.dapr import DaprSidecar
from services.shared.outbox import OutboxRelay, add_event


def test_only_a_commit_that_queued_an_event_wakes_the_relay(make_db) -> None:  # type: ignore[no-untyped-def]
    engine = make_db(metadata)
    unused = httpx.AsyncClient(transport=httpx.MockTransport(lambda _: httpx.Response(204)))
    relay = OutboxRelay(engine, outbox, DaprSidecar(app_id="test", timeout_s=1, client=unused))
    wakes: list[str] = []
    relay.notify = lambda: wakes.append("woken")  # type: ignore[method-assign]
    relay.watch_commits()

    with engine.begin() as conn:
        conn.execute(select(outbox.c.seq))
    after_plain = list(wakes)
    with engine.begin() as conn:
        add_event(conn, outbox, topic="customers", event_type="x", data={})
    with engine.begin() as conn:  # the flag went with the commit it belonged to
        conn.execute(select(outbox.c.seq))

    assert (after_plain, wakes) == ([], ["woken"])
