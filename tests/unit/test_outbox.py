"""The outbox relay looks for rows when a transaction that queued an event commits, and only then;
it misses no commit and does not look again after a batch that took everything there was."""

import asyncio
import json
from datetime import datetime
from typing import Any, Literal

import httpx
import pytest
from prometheus_client import REGISTRY
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


def test_a_connection_lost_mid_transaction_fails_with_its_own_error(make_db) -> None:  # type: ignore[no-untyped-def]
    """The database restarting under a write: the caller sees the lost connection (a 503), not
    an error from the relay's bookkeeping (it was a 500)."""
    engine = make_db(metadata)
    unused = httpx.AsyncClient(transport=httpx.MockTransport(lambda _: httpx.Response(204)))
    OutboxRelay(engine, outbox, DaprSidecar(app_id="test", timeout_s=1, client=unused)).watch_commits()

    with pytest.raises(ConnectionResetError), engine.begin() as conn:
        add_event(conn, outbox, topic="customers", event_type="x", data={})
        conn.invalidate()  # what SQLAlchemy does on a disconnect error
        raise ConnectionResetError("server closed the connection")


def test_a_commit_while_a_batch_is_published_goes_out_at_once_and_a_short_batch_costs_one_look(  # type: ignore[no-untyped-def]
    make_db,
) -> None:
    engine = make_db(metadata)
    published: list[str] = []
    settled = asyncio.Event()  # the relay waits for a commit again, both events out

    class WatchedWake(asyncio.Event):
        async def wait(self) -> Literal[True]:
            if len(published) == 2:
                settled.set()
            return await super().wait()

    event_times: list[float] = []

    def broker(request: httpx.Request) -> httpx.Response:
        event = json.loads(request.content)
        published.append(event["type"])
        event_times.append(datetime.fromisoformat(event["time"]).timestamp())
        if len(published) == 1:  # another request commits its event meanwhile
            with engine.begin() as conn:
                add_event(conn, outbox, topic="customers", event_type="second", data={})
        return httpx.Response(204)

    client = httpx.AsyncClient(base_url="http://sidecar", transport=httpx.MockTransport(broker))
    # Polling as good as off: only the commits wake the relay here.
    relay = OutboxRelay(
        engine, outbox, DaprSidecar(app_id="test", timeout_s=1, client=client), idle_poll_s=60
    )
    looks = 0
    take_turn = relay._take_turn

    def counted_take_turn() -> Any:
        nonlocal looks
        looks += 1
        return take_turn()

    relay._take_turn = counted_take_turn  # type: ignore[method-assign]

    async def scenario() -> None:
        relay._wake = WatchedWake()
        with engine.begin() as conn:
            add_event(conn, outbox, topic="customers", event_type="first", data={})
        relay.start()
        try:
            await asyncio.wait_for(settled.wait(), timeout=5)
        finally:
            await relay.stop()

    asyncio.run(scenario())

    # One look for each batch, none finding nothing: each batch was shorter than batch_size.
    assert (published, looks) == (["first", "second"], 2)
    # When it last published, never later than the event's own time (the read model's lag
    # compares the two: monitoring/alerts.yaml).
    last = REGISTRY.get_sample_value("shop_outbox_last_published_timestamp_seconds", {"topic": "customers"})
    assert last is not None and event_times[0] <= last <= event_times[1]


def test_an_idle_relay_looks_less_and_less_often_and_at_once_again_after_a_commit(  # type: ignore[no-untyped-def]
    make_db, monkeypatch
) -> None:
    engine = make_db(metadata)
    unused = httpx.AsyncClient(transport=httpx.MockTransport(lambda _: httpx.Response(204)))
    relay = OutboxRelay(
        engine,
        outbox,
        DaprSidecar(app_id="test", timeout_s=1, client=unused),
        idle_poll_s=0.5,
        max_idle_poll_s=4,
    )
    waits: list[float] = []
    done = asyncio.Event()

    async def wait_for(awaitable: Any, timeout: float) -> None:
        """Each look's wait for a commit: none comes, except after the fifth look."""
        awaitable.close()
        waits.append(timeout)
        if len(waits) == 7:
            done.set()
            await asyncio.Event().wait()  # the relay stays here until stopped
        if len(waits) != 5:
            raise TimeoutError

    monkeypatch.setattr("services.shared.outbox.asyncio.wait_for", wait_for)

    async def scenario() -> None:
        relay.start()
        try:
            await done.wait()
        finally:
            await relay.stop()

    asyncio.run(scenario())

    assert waits == [0.5, 1, 2, 4, 4, 0.5, 1]


def test_a_turn_that_fails_midway_ends_its_session_so_the_lock_goes_with_it(make_db) -> None:  # type: ignore[no-untyped-def]
    """A connection returned to the pool would keep the named lock (it belongs to the session)
    and shut every other replica's relay out."""
    engine = make_db(metadata)
    unused = httpx.AsyncClient(transport=httpx.MockTransport(lambda _: httpx.Response(204)))
    relay = OutboxRelay(engine, outbox, DaprSidecar(app_id="test", timeout_s=1, client=unused))
    with engine.begin() as conn:
        add_event(conn, outbox, topic="customers", event_type="x", data={})
    turn = relay._take_turn()
    assert turn is not None
    holder, rows = turn

    def failing(*_: Any, **__: Any) -> None:
        raise RuntimeError("lock wait timeout")

    holder.execute = failing  # type: ignore[method-assign]
    invalidate, ended = holder.invalidate, []
    holder.invalidate = lambda *a, **k: (ended.append(True), invalidate(*a, **k))  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        relay._end_turn(holder, [rows[0].seq], None)

    assert (ended, holder.closed) == ([True], True)
