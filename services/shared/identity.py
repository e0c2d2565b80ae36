"""Who is calling: the gateway authenticates the JWT and passes the caller to internal services
in two headers it always sets itself (clients' own copies never get through the gateway)."""

from dataclasses import dataclass
from typing import Literal

from fastapi import Request

from services.shared.errors import ApiError

USER_ID_HEADER = "x-shop-user-id"
USER_ROLE_HEADER = "x-shop-user-role"

Role = Literal["customer", "admin"]


@dataclass(frozen=True)
class Actor:
    """The authenticated caller of a request."""

    id: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def headers(self) -> dict[str, str]:
        """The headers that carry this actor on an internal call."""
        return {USER_ID_HEADER: self.id, USER_ROLE_HEADER: self.role}


async def require_actor(request: Request) -> Actor:
    """FastAPI dependency for internal routes that act on behalf of a user. `async` though it
    awaits nothing: FastAPI runs a plain `def` dependency in a worker thread, a thread hop per
    request for reading two headers."""
    user_id = request.headers.get(USER_ID_HEADER)
    role = request.headers.get(USER_ROLE_HEADER)
    if not user_id or role not in ("customer", "admin"):
        raise ApiError(401, "unauthorized", "no authenticated caller")
    return Actor(id=user_id, role=role)  # type: ignore[arg-type]


def customer_scope(actor: Actor, customer_id: str | None) -> str | None:
    """Whose records a listing may show: a customer's own only (asking for anyone else's is a
    403); an admin's choice of one customer, or everyone's (None)."""
    if actor.is_admin:
        return customer_id
    if customer_id not in (None, actor.id):
        raise ApiError(403, "forbidden", "customers see their own records only")
    return actor.id
