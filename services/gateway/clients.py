"""Who a client is, for the limits counted per client address (auth's login and registration
throttling, services/auth/guard.py; the gateway's request budget, budget.py), and the sign-in
calls that carry it to auth.

The address is the connection's peer, unless the peer is a trusted proxy (settings:
trusted_proxies): services/shared/client_address.py."""

from fastapi import Request, Response

from services.gateway.models import Login, Registration
from services.shared.calls import CLIENT_ADDRESS_HEADER
from services.shared.client_address import address_of
from services.shared.dapr import DaprSidecar, ServiceUnavailable

# Headers of auth's answer the client gets too: how long to wait after a 429 or a 503.
KEPT_HEADERS = ("retry-after",)


def client_address(request: Request, trusted_proxies: frozenset[str]) -> str | None:
    return address_of(request.scope, trusted_proxies)


async def sign_in(dapr: DaprSidecar, path: str, form: Login | Registration, address: str | None) -> Response:
    """Calls auth's `login` or `register` on behalf of the client at `address`, and hands its
    answer (Token, Registered) on as it came, Retry-After included."""
    headers = {CLIENT_ADDRESS_HEADER: address} if address else {}
    response = await dapr.invoke("auth", "POST", path, json=form.model_dump(), headers=headers)
    if not response.headers.get("content-type", "").startswith("application/json"):
        raise ServiceUnavailable("auth", f"unreadable answer ({response.status_code})")
    kept = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
    return Response(
        response.content, status_code=response.status_code, headers=kept, media_type="application/json"
    )
