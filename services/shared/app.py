"""The app factory every service's main.py calls: health, errors, request ids, request logs,
trace context, metrics, and the check that only the app's own sidecar calls it."""

import hmac
import json
import logging
import os
import random
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.shared import health, metrics
from services.shared.asgi import HttpMiddleware
from services.shared.errors import error_body, install_error_handlers
from services.shared.logging import request_id_var
from services.shared.tracing import TraceContextMiddleware

log = logging.getLogger("request")

REQUEST_ID_HEADER = b"x-request-id"
# Dapr's resiliency policies count every non-2xx answer as a failure, so a run of business
# rejections (409 insufficient_stock, 404 not_found) would open a circuit breaker. Between
# services a 4xx therefore travels as 200 plus this header; DaprSidecar.invoke restores it.
# Circuit breakers then open only on real failures: timeouts, 5xx, an app that is down.
STATUS_HEADER = b"x-shop-status"
# Marks a 503 the app chose to answer to shed load (auth's password hashing at capacity): carried
# like a 4xx, since a busy app is working as designed and a breaker opened by a flood would
# refuse every other caller too.
SHED_HEADER = b"x-shop-shed"
CALLER_HEADER = b"dapr-caller-app-id"
# Probed every few seconds (by sidecars, by Prometheus): logged only when they fail.
_QUIET_PATHS = {"/healthz", "/readyz", "/metrics"}
# Open without the sidecar's token: daprd's health probes send none, and they reveal nothing.
_UNGUARDED_PATHS = {"/healthz", "/readyz", "/metrics"}


class RequestContextMiddleware(HttpMiddleware):
    """Gives every request an id (the caller's X-Request-Id when sane), logs one line per
    request, and turns any unhandled exception into a JSON 500 carrying that id."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Unique, not secret (like trace ids): the fast generator, not an os.urandom syscall.
        request_id = _incoming_request_id(scope) or f"{random.getrandbits(128):032x}"
        via_dapr = any(name == CALLER_HEADER for name, _ in scope["headers"])
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = [*message.get("headers", []), (REQUEST_ID_HEADER, request_id.encode())]
                if via_dapr and (400 <= status < 500 or (status == 503 and _shed(headers))):
                    headers.append((STATUS_HEADER, str(status).encode()))
                    message["status"] = 200
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            log.exception("unhandled error", extra={"error_type": type(exc).__name__})
            if not response_started:
                body = json.dumps(
                    error_body("internal error", "internal_error", request_id=request_id)
                ).encode()
                await send_with_id(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [(b"content-type", b"application/json")],
                    }
                )
                await send({"type": "http.response.body", "body": body})
        finally:
            if scope["path"] not in _QUIET_PATHS or status >= 400:
                log.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    },
                )
            request_id_var.reset(token)


def _shed(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(name == SHED_HEADER for name, _ in headers)


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER:
            text = value.decode("latin-1")
            # Accept the caller's id only when it is short and printable (it goes into logs).
            if 0 < len(text) <= 64 and text.replace("-", "").replace("_", "").isalnum():
                return text
    return None


class AppTokenMiddleware:
    """Refuses any call that did not come through this app's own sidecar: daprd sends
    APP_API_TOKEN as `dapr-api-token` on every invocation and event delivery. Public paths (the
    gateway's API, the notifications WebSocket) are reached by clients directly and stay open."""

    def __init__(self, app: ASGIApp, *, token: str, public_paths: Sequence[str]) -> None:
        self.app = app
        self.token = token.encode()
        self.public_paths = tuple(public_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self._open(scope["path"]):
            await self.app(scope, receive, send)
            return
        given = next((value for name, value in scope["headers"] if name == b"dapr-api-token"), b"")
        if hmac.compare_digest(given, self.token):
            await self.app(scope, receive, send)
            return
        log.warning("refused a call without its sidecar's token", extra={"path": scope["path"]})
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 4401, "reason": "unauthorized"})
            return
        body = json.dumps(
            error_body("calls to this app must come through its Dapr sidecar", "unauthorized")
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _open(self, path: str) -> bool:
        # A prefix is a path segment: "/api" opens /api/... but not /apix. "/" opens the root
        # page alone (as a prefix it would open every path).
        return path in _UNGUARDED_PATHS or any(
            path == prefix or (prefix != "/" and path.startswith(prefix.rstrip("/") + "/"))
            for prefix in self.public_paths
        )


def create_app(
    *,
    title: str,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[Any]],
    routers: Sequence[APIRouter] = (),
    public_paths: Sequence[str] = (),
    unavailable_errors: dict[type[Exception], str] | None = None,
    **fastapi_kwargs: Any,
) -> FastAPI:
    """Builds a service's FastAPI app with the shared plumbing around its own routers.

    When APP_API_TOKEN is set (scripts/run.sh sets it), every path but `public_paths` and the
    health probes answers only calls carrying it, i.e. calls from the app's own sidecar.
    """
    app = FastAPI(title=title, lifespan=lifespan, **fastapi_kwargs)
    app.state.readiness_checks = {}
    install_error_handlers(app, unavailable=unavailable_errors)
    app.include_router(health.router)
    app.include_router(metrics.router)
    for router in routers:
        app.include_router(router)
    app_token = os.environ.get("APP_API_TOKEN")
    if app_token:
        app.add_middleware(AppTokenMiddleware, token=app_token, public_paths=public_paths)
    else:
        log.warning("APP_API_TOKEN is not set: this app answers anyone who can reach its port")
    # The last added runs first. Metrics sit inside RequestContextMiddleware, so they count a 4xx
    # as itself before it is carried past Dapr as a 200, and outside the token check, so refused
    # calls are counted too. RequestContextMiddleware logs refused calls with a request id, and
    # the trace context is outermost, so even the request's own log line names its trace.
    app.add_middleware(metrics.RequestMetricsMiddleware)
    app.add_middleware(RequestContextMiddleware)
    app.add_middleware(TraceContextMiddleware)
    return app
