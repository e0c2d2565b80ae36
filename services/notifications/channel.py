"""The WebSocket push channel buyers and sellers connect to (port 8001, not through Dapr: Dapr
service invocation carries no WebSocket).

A client authorizes (a token in `?token=`, or a first message), gets its unread notifications
oldest first, then live ones as they are stored. A client that falls too far behind is
disconnected (hub.Connection) and catches up from the inbox when it reconnects; an inbox that
cannot be read refuses the connection, and the client reconnects shortly.
"""

import asyncio
import contextlib
import json
import logging
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from services.notifications.config import get_settings
from services.notifications.hub import TOO_MANY_CONNECTIONS, TOO_SLOW, Connection
from services.shared.client_address import address_of
from services.shared.identity import Actor
from services.shared.tokens import InvalidToken, verify

log = logging.getLogger(__name__)

# Close codes a client can act on (4000-4999 are the application's own).
BAD_REQUEST, UNAUTHORIZED, AUTH_TIMEOUT = 4400, 4401, 4408
UNAVAILABLE = 1011


class Refused(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


async def serve(websocket: WebSocket, token: str | None) -> None:
    """One client's session, from the handshake until it goes away."""
    await websocket.accept()
    try:
        actor = await _authorize(websocket, token)
    except Refused as refused:
        await websocket.close(code=refused.code, reason=refused.reason)
        return
    except WebSocketDisconnect:
        return
    await websocket.send_json({"event": "authorized"})
    state, settings = websocket.app.state, get_settings()
    connection = Connection(websocket, actor.id, settings.send_queue_size)
    state.hub.add(connection)
    tasks: list[asyncio.Task[Any]] = []
    try:
        address = address_of(websocket.scope, settings.trusted_proxies)
        connection.lease = await state.leases.open(actor.id, address)
        try:
            backlog = await run_in_threadpool(state.store.unread, actor.id)
        except SQLAlchemyError:
            log.warning("inbox unavailable, refusing connection", extra={"user_id": actor.id})
            await websocket.close(code=UNAVAILABLE, reason="inbox unavailable: reconnect shortly")
            return
        connection.start_with(backlog)
        tasks = [
            asyncio.create_task(connection.pump()),
            asyncio.create_task(_until_disconnected(websocket)),
            asyncio.create_task(connection.overflowed.wait()),
            asyncio.create_task(connection.replaced.wait()),
        ]
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if tasks[3] in done:
            log.info("a newer connection of the user replaced this one", extra={"user_id": actor.id})
            await websocket.close(
                code=TOO_MANY_CONNECTIONS,
                reason="too many connections for this user or address: the oldest is closed",
            )
        elif tasks[2] in done:
            log.info("client too far behind, disconnecting", extra={"user_id": actor.id})
            await websocket.close(
                code=TOO_SLOW, reason="too far behind: reconnect to catch up from the inbox"
            )
    except WebSocketDisconnect:
        pass
    finally:
        state.hub.remove(connection)
        await state.leases.close(connection.lease)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if websocket.client_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await websocket.close()


async def _authorize(websocket: WebSocket, token: str | None) -> Actor:
    """The caller, from `?token=` or a first message `{"event": "authorize", "data": {"token"}}`."""
    if token is None:
        try:
            raw = await asyncio.wait_for(websocket.receive_text(), get_settings().authorize_timeout_s)
        except TimeoutError as exc:
            raise Refused(AUTH_TIMEOUT, "no authorize message in time") from exc
        try:
            message = json.loads(raw)
            assert message["event"] == "authorize"
            token = str(message["data"]["token"])
        except (ValueError, KeyError, TypeError, AssertionError) as exc:
            raise Refused(BAD_REQUEST, 'expected {"event": "authorize", "data": {"token": ...}}') from exc
    try:
        return verify(token, websocket.app.state.jwt_key)
    except InvalidToken as exc:
        raise Refused(UNAUTHORIZED, "invalid or expired token") from exc


async def _until_disconnected(websocket: WebSocket) -> None:
    """Reads (and ignores) what the client sends, until it goes away."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
