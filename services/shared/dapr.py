"""The one way services talk to their Dapr sidecar: invocation, pub/sub, secrets, health.

Calls go over HTTP to the sidecar on localhost (ports and API token read by the Dapr SDK's
settings from DAPR_HTTP_PORT / DAPR_API_TOKEN, which `dapr run` sets). One async client per
process, built in the app's lifespan.
"""

import asyncio
import json as jsonlib
import logging
import time
from collections.abc import Mapping
from typing import Any, TypeVar
from urllib.parse import urlencode

import aiohttp
import httpx
from cloudevents.core.bindings.http import to_structured
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from dapr.conf import settings as dapr_settings
from pydantic import BaseModel, ValidationError

from services.shared.calls import (
    MAX_LOOKUP,
    CustomersFound,
    CustomerSnapshot,
    Lookup,
    ProductsFound,
    ProductSnapshot,
)
from services.shared.contracts import describe
from services.shared.logging import request_id_var
from services.shared.tracing import outgoing_headers
from services.shared.transport import AiohttpTransport

log = logging.getLogger(__name__)

# A call that reached no app is made again after these pauses: together longer than a stopped
# replica stays listed in name resolution (the resolver's updateInterval plus its one-second
# cache, components/config.yaml), so the call then goes to a live replica.
UNREACHED_RETRY_DELAYS_S = (0.25, 0.5, 1.0, 1.5)


class ServiceUnavailable(Exception):
    """The target app (or its sidecar, or ours) could not answer in time."""

    def __init__(self, target: str, reason: str) -> None:
        super().__init__(f"{target} unavailable: {reason}")
        self.target = target
        self.reason = reason


class DaprSidecar:
    """A thin async client for this app's own Dapr sidecar."""

    def __init__(
        self,
        *,
        app_id: str,
        timeout_s: float,
        pubsub_name: str = "pubsub",
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.app_id = app_id
        self.pubsub_name = pubsub_name
        self.timeout_s = timeout_s
        self._base_url = f"http://{dapr_settings.DAPR_RUNTIME_HOST}:{dapr_settings.DAPR_HTTP_PORT}"
        token = dapr_settings.DAPR_API_TOKEN
        self._headers = {"dapr-api-token": token} if token else {}
        # Calls go straight to the transport; the httpx client is kept for the unit tests' fakes
        # (a client given) and to close the transport.
        self._transport = AiohttpTransport(max_connections=200) if client is None else None
        self.http = client or httpx.AsyncClient(
            base_url=self._base_url, headers=self._headers, timeout=timeout_s, transport=self._transport
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> httpx.Response:
        """One call to the sidecar. Through aiohttp directly, not httpx.AsyncClient: its request
        path cost an app about 0.2 ms of CPU per call (docs/performance.md)."""
        timeout = timeout_s or self.timeout_s
        if self._transport is None:
            return await self.http.request(
                method, path, json=json, content=content, params=params, headers=headers, timeout=timeout
            )
        sent = {**self._headers, **{name.lower(): value for name, value in (headers or {}).items()}}
        if json is not None:  # as httpx encodes it
            content = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
            sent.setdefault("content-type", "application/json")
        url = self._base_url + path + (f"?{urlencode(params, doseq=True)}" if params else "")
        return await self._transport.send(
            method, url, headers=sent, body=content, timeout=aiohttp.ClientTimeout(total=timeout)
        )

    async def invoke(
        self,
        target: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> httpx.Response:
        """Calls `path` on app `target` through Dapr service invocation.

        Returns the target's response whatever its status; raises ServiceUnavailable when no
        answer came from the target app itself (timeout, sidecar error, app down).
        """
        url = f"/v1.0/invoke/{target}/method/{path.lstrip('/')}"
        headers = {**_context_headers(), **(headers or {})}
        for delay in (*UNREACHED_RETRY_DELAYS_S, None):
            try:
                response = await self._request(
                    method, url, json=json, params=params, headers=headers, timeout_s=timeout_s
                )
            except httpx.TimeoutException as exc:
                raise ServiceUnavailable(target, "timeout") from exc
            except httpx.TransportError as exc:
                raise ServiceUnavailable(target, f"sidecar unreachable: {type(exc).__name__}") from exc
            if not _is_dapr_error(response):
                break
            error = response.json()
            if delay is None or not _unreached(error):
                raise ServiceUnavailable(target, error.get("errorCode", "dapr error"))
            # The call reached no app (a replica that just stopped, still listed for a moment):
            # nothing was done, so any call, a POST too, may go again, to another replica.
            log.info("target replica unreachable, calling again", extra={"target": target, "retry_s": delay})
            await asyncio.sleep(delay)
        carried = response.headers.get("x-shop-status")
        if carried and response.status_code == 200:  # a 4xx carried past Dapr's breakers (shared/app.py)
            response.status_code = int(carried)
        return response

    async def publish(self, topic: str, *, event_id: str, event_type: str, data: dict[str, Any]) -> None:
        """Publishes one CloudEvent (our id and type, so consumers can deduplicate) to `topic`."""
        event = CloudEvent(
            attributes={
                "id": event_id,
                "type": event_type,
                "source": self.app_id,
                "datacontenttype": "application/json",
            },
            data=data,
        )
        message = to_structured(event, JSONFormat())
        # The event carries no trace attributes of its own: Dapr then puts its publish span, the
        # child of this traceparent header, into the CloudEvent, and subscribers continue the trace.
        response = await self._request(
            "POST",
            f"/v1.0/publish/{self.pubsub_name}/{topic}",
            content=message.body,
            headers={**dict(message.headers), **_context_headers()},
        )
        if response.status_code != 204:
            raise ServiceUnavailable(
                "pubsub", f"publish answered {response.status_code}: {response.text[:200]}"
            )

    async def get_state(self, store: str, key: str) -> Any:
        """A value from a Dapr state store, or None when the key is absent (or expired)."""
        value, _ = await self.get_state_versioned(store, key)
        return value

    async def get_state_versioned(self, store: str, key: str) -> tuple[Any, str | None]:
        """A value and its ETag (None, None when there is none), for a save that must not
        overwrite a change made since (save_state_if_unchanged)."""
        try:
            response = await self._request("GET", f"/v1.0/state/{store}/{key}")
        except httpx.TransportError as exc:
            raise ServiceUnavailable(store, type(exc).__name__) from exc
        if response.status_code == 204:
            return None, None
        if response.status_code != 200:
            raise ServiceUnavailable(store, f"state get answered {response.status_code}")
        return response.json(), response.headers.get("etag")

    async def save_state_if_unchanged(
        self, store: str, key: str, value: Any, *, etag: str | None, ttl_s: int | None = None
    ) -> bool:
        """Saves a value only if the stored one still has this ETag (or, with None, if there is
        none yet), expiring after ttl_s when given; False when another writer changed it first."""
        item: dict[str, Any] = {"key": key, "value": value, "options": {"concurrency": "first-write"}}
        if etag is not None:
            item["etag"] = etag
        if ttl_s is not None:
            item["metadata"] = {"ttlInSeconds": str(ttl_s)}
        try:
            response = await self._request("POST", f"/v1.0/state/{store}", json=[item])
        except httpx.TransportError as exc:
            raise ServiceUnavailable(store, type(exc).__name__) from exc
        if response.status_code == 409:
            return False
        if response.status_code != 204:
            raise ServiceUnavailable(store, f"state save answered {response.status_code}")
        return True

    async def get_states(self, store: str, keys: list[str]) -> dict[str, Any]:
        """Several values in one call (missing ones are absent)."""
        try:
            response = await self._request("POST", f"/v1.0/state/{store}/bulk", json={"keys": keys})
        except httpx.TransportError as exc:
            raise ServiceUnavailable(store, type(exc).__name__) from exc
        if response.status_code != 200:
            raise ServiceUnavailable(store, f"state bulk get answered {response.status_code}")
        return {item["key"]: item["data"] for item in response.json() if item.get("data") is not None}

    async def save_state(self, store: str, key: str, value: Any, *, ttl_s: int | None = None) -> None:
        """Saves a value to a Dapr state store, expiring after ttl_s when given."""
        item: dict[str, Any] = {"key": key, "value": value}
        if ttl_s is not None:
            item["metadata"] = {"ttlInSeconds": str(ttl_s)}
        try:
            response = await self._request("POST", f"/v1.0/state/{store}", json=[item])
        except httpx.TransportError as exc:
            raise ServiceUnavailable(store, type(exc).__name__) from exc
        if response.status_code != 204:
            raise ServiceUnavailable(store, f"state save answered {response.status_code}")

    async def get_secret(self, store: str, key: str) -> str:
        """Reads one secret from a Dapr secret store."""
        response = await self._request("GET", f"/v1.0/secrets/{store}/{key}")
        if response.status_code != 200:
            raise RuntimeError(
                f"secret {key!r} not readable from {store!r}: {response.status_code} {response.text[:200]}"
            )
        return str(response.json()[key])

    async def outbound_ready(self) -> bool:
        """True once the sidecar's components are loaded (it need not see the app yet)."""
        try:
            response = await self._request("GET", "/v1.0/healthz/outbound", timeout_s=2)
        except httpx.TransportError:
            return False
        return response.status_code == 204

    async def wait_until_ready(self, timeout_s: float = 60) -> None:
        """Polls the sidecar until it can serve outbound calls; raises with what it waited for."""
        deadline = time.monotonic() + timeout_s
        while not await self.outbound_ready():
            if time.monotonic() > deadline:
                raise RuntimeError(f"Dapr sidecar at {self.http.base_url} not ready after {timeout_s:.0f}s")
            log.info("waiting for the Dapr sidecar", extra={"sidecar": str(self.http.base_url)})
            await asyncio.sleep(0.5)


def _context_headers() -> dict[str, str]:
    """What every outgoing call carries from the request it serves: one request id across every
    service a request touches, and its W3C trace context (services/shared/tracing.py)."""
    request_id = request_id_var.get()
    return {**({"x-request-id": request_id} if request_id else {}), **outgoing_headers()}


def _unreached(error: dict[str, Any]) -> bool:
    """Whether Dapr's error says the call never reached an app: the target's sidecar, or the
    target app behind it, refused the connection."""
    return "connection refused" in str(error.get("message", ""))


def _is_dapr_error(response: httpx.Response) -> bool:
    """Dapr marks errors it raised itself (not the target app's) with an ERR_ error code."""
    if response.status_code < 400 or "json" not in response.headers.get("content-type", ""):
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and str(body.get("errorCode", "")).startswith("ERR_")


M = TypeVar("M", bound=BaseModel)


def answer_of(response: httpx.Response, model: type[M], *, target: str) -> M:
    """A peer's answer as `model` (services/shared/calls/). An answer that does not fit is
    ServiceUnavailable naming the fields at fault: the peer is broken, which is no fault of our
    caller's request, so it gets a 503 as for a peer that is down, never a 500."""
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        raise ServiceUnavailable(target, f"answer does not fit {model.__name__}: {describe(exc)}") from exc


async def _lookup(dapr: DaprSidecar, app_id: str, ids: list[str], answer: type[M]) -> list[M]:
    """`POST <app>/batch`, at most MAX_LOOKUP ids a call (a page of orders may name more)."""
    found = []
    for start in range(0, len(ids), MAX_LOOKUP):
        request = Lookup(ids=ids[start : start + MAX_LOOKUP])
        response = await dapr.invoke(app_id, "POST", f"{app_id}/batch", json=request.model_dump(mode="json"))
        if response.status_code != 200:
            raise ServiceUnavailable(app_id, f"batch lookup answered {response.status_code}")
        found.append(answer_of(response, answer, target=app_id))
    return found


async def lookup_products(dapr: DaprSidecar, ids: list[str]) -> dict[str, ProductSnapshot]:
    """Products by id, in one call to products (per MAX_LOOKUP ids): id -> product, unknown ids
    absent. Raises ServiceUnavailable when products cannot answer, so the caller decides
    whether names may stay empty."""
    answers = await _lookup(dapr, "products", ids, ProductsFound)
    return {product.id: product for found in answers for product in found.items}


async def lookup_customers(dapr: DaprSidecar, ids: list[str]) -> dict[str, CustomerSnapshot]:
    """Customers by id, as lookup_products does products."""
    answers = await _lookup(dapr, "customers", ids, CustomersFound)
    return {customer.id: customer for found in answers for customer in found.items}


async def batch_lookup(dapr: DaprSidecar, app_id: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    """lookup_products or lookup_customers by app id, each entity as the dict its service
    sent (checked by its model on the way): for readers that keep snapshots as documents."""
    found: Mapping[str, BaseModel]
    if app_id == "products":
        found = await lookup_products(dapr, ids)
    elif app_id == "customers":
        found = await lookup_customers(dapr, ids)
    else:
        raise ValueError(f"{app_id} serves no batch lookup")
    return {entity_id: entity.model_dump() for entity_id, entity in found.items()}
