"""Two outbox relays (two replicas of one service) over one MariaDB outbox: every row goes out
once, in the order it was written, while rows keep arriving."""

import asyncio
import json
import threading

import httpx
from sqlalchemy import Engine

from harness.waiting import wait_until
from services.customers.models import metadata, outbox
from services.shared.dapr import DaprSidecar
from services.shared.db import autocommit_engine
from services.shared.outbox import OutboxRelay, add_event

ROWS = 300


def test_two_relays_publish_every_row_once_in_the_order_written(mariadb: Engine) -> None:
    metadata.create_all(mariadb, tables=[outbox])
    published: list[tuple[str, int]] = []  # (relay, row number), in the order publishes happened
    lock = threading.Lock()

    def sidecar(name: str) -> DaprSidecar:
        def broker(request: httpx.Request) -> httpx.Response:
            with lock:
                published.append((name, json.loads(request.content)["data"]["n"]))
            return httpx.Response(204)

        client = httpx.AsyncClient(base_url="http://sidecar", transport=httpx.MockTransport(broker))
        return DaprSidecar(app_id=name, timeout_s=1, client=client)

    def write_rows() -> None:
        for n in range(ROWS):
            with mariadb.begin() as conn:
                add_event(conn, outbox, topic="customers", event_type="customer.updated", data={"n": n})

    async def scenario() -> None:
        # Each with its own autocommit engine, as each replica has (services/shared/runtime_db.py).
        relays = [
            OutboxRelay(mariadb, outbox, sidecar(name), batch_size=20, autocommit=autocommit_engine(mariadb))
            for name in ("a", "b")
        ]
        for relay in relays:
            relay.start()
        writer = threading.Thread(target=write_rows)
        writer.start()
        try:
            await asyncio.to_thread(
                wait_until, lambda: len(published) >= ROWS, timeout=60, what=f"{ROWS} rows published"
            )
        finally:
            writer.join()
            for relay in relays:
                await relay.stop()

    asyncio.run(scenario())

    numbers = [n for _, n in published]
    assert numbers == list(range(ROWS))  # each once, in order
    assert {name for name, _ in published} == {"a", "b"}  # both took turns
