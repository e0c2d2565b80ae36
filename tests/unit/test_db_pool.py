"""The MySQL pool talks to the server only when it has to: it pings a connection that idled
(the server may have closed it) and rolls back one returned with a transaction still open."""

from dataclasses import dataclass, field
from typing import Any

import pytest
from pymysql.constants.SERVER_STATUS import SERVER_STATUS_AUTOCOMMIT, SERVER_STATUS_IN_TRANS
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import PoolResetState

from services.shared import db


@dataclass
class FakeConnection:
    """What the listeners use of a pymysql connection: its last reported status, ping, rollback."""

    server_status: int = 0
    alive: bool = True
    calls: list[str] = field(default_factory=list)

    def ping(self, reconnect: bool) -> None:
        self.calls.append("ping")
        if not self.alive:
            raise ConnectionResetError("gone")

    def rollback(self) -> None:
        self.calls.append("rollback")


@dataclass
class FakeRecord:
    info: dict[str, Any] = field(default_factory=dict)


def _returned(connection: FakeConnection, record: FakeRecord, *, seconds_ago: float) -> None:
    db._note_return(connection, record)  # type: ignore[arg-type]
    record.info["returned_at"] -= seconds_ago


def test_a_connection_in_steady_use_is_lent_without_a_ping() -> None:
    connection, record = FakeConnection(), FakeRecord()
    db._ping_if_idle(connection, record, None)  # type: ignore[arg-type]  # just opened
    _returned(connection, record, seconds_ago=0.0)
    db._ping_if_idle(connection, record, None)  # type: ignore[arg-type]
    assert connection.calls == []


def test_a_connection_that_idled_is_pinged_first_and_replaced_if_gone() -> None:
    alive, dead, record = FakeConnection(), FakeConnection(alive=False), FakeRecord()
    _returned(alive, record, seconds_ago=db.PING_AFTER_IDLE_S + 1)
    db._ping_if_idle(alive, record, None)  # type: ignore[arg-type]
    _returned(dead, record, seconds_ago=db.PING_AFTER_IDLE_S + 1)
    with pytest.raises(DisconnectionError):  # the pool discards it and lends another
        db._ping_if_idle(dead, record, None)  # type: ignore[arg-type]
    assert (alive.calls, dead.calls) == (["ping"], ["ping"])


@pytest.mark.parametrize(
    ("server_status", "rolled_back"),
    [
        (SERVER_STATUS_AUTOCOMMIT, False),  # committed: nothing open on the server
        (SERVER_STATUS_IN_TRANS, True),  # a transaction left open
        (None, True),  # status unknown: reset to be safe
    ],
)
def test_a_returned_connection_is_rolled_back_only_with_a_transaction_open(
    server_status: int | None, rolled_back: bool
) -> None:
    connection = FakeConnection(server_status=server_status)  # type: ignore[arg-type]
    state = PoolResetState(transaction_was_reset=False, terminate_only=False, asyncio_safe=True)
    db._end_open_transaction(connection, FakeRecord(), state)  # type: ignore[arg-type]
    assert connection.calls == (["rollback"] if rolled_back else [])


def test_a_connection_its_user_already_rolled_back_is_not_rolled_back_again() -> None:
    connection = FakeConnection(server_status=SERVER_STATUS_IN_TRANS)
    state = PoolResetState(transaction_was_reset=True, terminate_only=False, asyncio_safe=True)
    db._end_open_transaction(connection, FakeRecord(), state)  # type: ignore[arg-type]
    assert connection.calls == []
