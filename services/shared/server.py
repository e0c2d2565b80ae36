"""Runs a service under uvicorn on the port `dapr run` gave it (APP_PORT)."""

import os

import uvicorn

from services.shared.logging import configure_logging


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
        timeout_graceful_shutdown=5,
        # WebSocket heartbeats: a client that stops answering pings is dropped within ~20 s.
        ws_ping_interval=10,
        ws_ping_timeout=10,
    )
