"""Calling the apps behind the gateway through Dapr, and handing their answers to the client.

Internal apps already answer in the public error shape, so an answer is forwarded unchanged. An
internal 4xx crosses Dapr as a 200 with the real status in a header, so that a client's mistakes
never open Dapr's circuit breakers (services/shared/app.py, docs/decisions/0001); the sidecar
client restores the status (`DaprSidecar.invoke`), so every status seen here is the app's own.
"""

from typing import Any

from fastapi import Response
from fastapi.responses import JSONResponse

from services.gateway.cache import Answer
from services.shared.dapr import DaprSidecar, ServiceUnavailable
from services.shared.identity import Actor


async def call(
    dapr: DaprSidecar,
    app_id: str,
    method: str,
    path: str,
    *,
    actor: Actor | None = None,
    json: Any = None,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any] | None]:
    """Calls an internal app through Dapr as `actor`; returns its status and JSON body (None for 204)."""
    sent_headers = {**(actor.headers() if actor else {}), **(headers or {})}
    response = await dapr.invoke(app_id, method, path, json=json, params=params, headers=sent_headers)
    if response.status_code == 204:
        return 204, None
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ServiceUnavailable(app_id, f"unreadable answer ({response.status_code})")
    return response.status_code, body


async def forward(dapr: DaprSidecar, app_id: str, method: str, path: str, **kwargs: Any) -> Response:
    """Hands an internal app's answer to the client unchanged (internal apps already speak the
    public error shape)."""
    return respond(*await call(dapr, app_id, method, path, **kwargs))


def respond(status: int, body: dict[str, Any] | None) -> Response:
    """The client's answer for an internal app's status and body (no body: 204)."""
    return Response(status_code=204) if body is None else JSONResponse(body, status_code=status)


async def fetch(dapr: DaprSidecar, app_id: str, path: str) -> Answer:
    """A GET through Dapr kept as the client gets it (status and JSON bytes), for the cache."""
    response = await dapr.invoke(app_id, "GET", path)
    if not response.headers.get("content-type", "").startswith("application/json"):
        raise ServiceUnavailable(app_id, f"unreadable answer ({response.status_code})")
    return Answer(response.status_code, response.content)
