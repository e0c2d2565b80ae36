"""Who a client is, by address, for the limits counted per address: the gateway's (login and
registration throttling, the request budget) and the notifications WebSocket's. Read off a bare
ASGI scope, so a middleware can tell before routing (services/gateway/budget.py)."""

from starlette.types import Scope


def address_of(scope: Scope, trusted_proxies: frozenset[str]) -> str | None:
    """The client's address: the connection's peer, unless the peer is a trusted proxy; then
    the last address in X-Forwarded-For that no trusted proxy added. Proxies append, so the
    entries before theirs are whatever the client wrote and are never read."""
    peer = scope["client"][0] if scope.get("client") else None
    if peer not in trusted_proxies:
        return peer
    hops = [
        hop.strip()
        for name, value in scope["headers"]
        if name == b"x-forwarded-for"
        for hop in value.decode("latin-1").split(",")
    ]
    for hop in reversed(hops):
        if hop and hop not in trusted_proxies:
            return hop
    return peer
