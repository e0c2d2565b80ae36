"""The fan-out's look in the inbox (services/notifications/fanout.py): after looks that failed,
the next one reaches back from the last that succeeded, so a database outage longer than the
look-back window hides no notification."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from services.notifications import fanout
from services.notifications.fanout import InboxFollower

T0 = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)


class Store:
    def __init__(self) -> None:
        self.since: list[datetime] = []
        self.down = False

    def stored_since(self, users: list[str], since: datetime) -> list[tuple[str, dict[str, Any]]]:
        if self.down:
            raise OperationalError("select", {}, Exception("MariaDB restarting"))
        self.since.append(since)
        return []


class Hub:
    def users(self) -> list[str]:
        return ["u1"]

    def push(self, user_id: str, notification: dict[str, Any]) -> int:
        return 1


def test_a_look_after_an_outage_reaches_back_from_the_last_look_that_succeeded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store, now = Store(), [T0]
    monkeypatch.setattr(fanout, "utcnow", lambda: now[0])
    follower = InboxFollower(store, Hub(), every_s=0.2, lookback_s=5)  # type: ignore[arg-type]

    async def scenario() -> None:
        await follower.look()  # at T0
        store.down = True
        for seconds in (1, 4, 9):  # the database is down for longer than the look-back
            now[0] = T0 + timedelta(seconds=seconds)
            with pytest.raises(OperationalError):
                await follower.look()
        store.down = False
        now[0] = T0 + timedelta(seconds=12)
        await follower.look()
        now[0] = T0 + timedelta(seconds=13)
        await follower.look()

    asyncio.run(scenario())

    back = timedelta(seconds=5)
    assert store.since == [T0 - back, T0 - back, T0 + timedelta(seconds=12) - back]
