"""Calling the apps behind the gateway through Dapr, and handing their answers to the client.

Internal apps answer in the public shapes (their answers are the models the gateway's OpenAPI
declares, services/gateway/answers.py; their errors the public error shape), so an answer is
forwarded unchanged, as the bytes that came: the gateway reads through a model (`answer_of`)
only what it uses itself. An internal 4xx crosses Dapr as a 200 with the real status in a
header, so that a client's mistakes never open Dapr's circuit breakers (services/shared/app.py,
docs/decisions/0001); the sidecar client restores the status (`DaprSidecar.invoke`), so every
status seen here is the app's own.
"""

from typing import Any

import httpx
from fastapi import Response
from pydantic import BaseModel

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
) -> httpx.Response:
    """Calls an internal app through Dapr as `actor`. Its answer is JSON or no body at all
    (204); anything else means the app is broken: ServiceUnavailable."""
    sent_headers = {**(actor.headers() if actor else {}), **(headers or {})}
    response = await dapr.invoke(app_id, method, path, json=json, params=params, headers=sent_headers)
    if response.status_code != 204 and not _is_json(response):
        raise ServiceUnavailable(app_id, f"unreadable answer ({response.status_code})")
    return response


async def forward(dapr: DaprSidecar, app_id: str, method: str, path: str, **kwargs: Any) -> Response:
    """Hands an internal app's answer to the client unchanged."""
    return relay(await call(dapr, app_id, method, path, **kwargs))


def relay(response: httpx.Response) -> Response:
    """The client's answer for an internal app's: its status and its JSON bytes (no body: 204)."""
    if response.status_code == 204:
        return Response(status_code=204)
    return Response(response.content, status_code=response.status_code, media_type="application/json")


def respond(model: BaseModel, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """The client's answer for a body the gateway built itself."""
    return Response(
        model.model_dump_json(), status_code=status, headers=headers, media_type="application/json"
    )


async def fetch(dapr: DaprSidecar, app_id: str, path: str) -> Answer:
    """A GET through Dapr kept as the client gets it (status and JSON bytes), for the cache."""
    response = await dapr.invoke(app_id, "GET", path)
    if not response.headers.get("content-type", "").startswith("application/json"):
        raise ServiceUnavailable(app_id, f"unreadable answer ({response.status_code})")
    return Answer(response.status_code, response.content)


def _is_json(response: httpx.Response) -> bool:
    return response.headers.get("content-type", "").startswith("application/json")
