"""Runs a service under uvicorn on the port `dapr run` gave it (APP_PORT)."""

import os

import uvicorn

from services.shared.logging import configure_logging

# How long an idle keep-alive connection stays open. Longer than the clients keep theirs idle
# (daprd's app channel: Go's 90 s), so a client never sends on a connection the server is
# closing at that moment: uvicorn's 5 s default lost that race now and then (the request
# fails with a reset and, a POST, is not retried by the client).
KEEP_ALIVE_S = 100
# The largest WebSocket message a client may send (the notifications channel reads only a small
# authorize message): a bigger one closes the connection with 1009, "message too big", instead
# of the 16 MiB uvicorn would otherwise buffer per message.
WS_MAX_MESSAGE_BYTES = 16 * 1024


def serve(app_path: str, service: str) -> None:
    """Starts uvicorn for `app_path` ("package.module:app"), logging JSON from the first line."""
    configure_logging(service, os.environ.get("SHOP_LOG_LEVEL", "INFO"))
    uvicorn.run(
        app_path,
        host=os.environ.get("SHOP_BIND_HOST", "127.0.0.1"),
        port=int(os.environ["APP_PORT"]),
        log_config=None,
        access_log=False,
        proxy_headers=False,
        timeout_keep_alive=KEEP_ALIVE_S,
        timeout_graceful_shutdown=5,
        # WebSocket heartbeats: a client that stops answering pings is dropped within ~20 s.
        ws_ping_interval=10,
        ws_ping_timeout=10,
        ws_max_size=WS_MAX_MESSAGE_BYTES,
    )
