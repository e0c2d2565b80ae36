"""Bearer-token authentication at the edge: the gateway verifies the JWT and passes the caller
on to internal services (services.shared.identity)."""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.gateway.budget import verified_actor
from services.shared.errors import ApiError
from services.shared.identity import Actor
from services.shared.tokens import InvalidToken, verify

bearer = HTTPBearer(auto_error=False)


async def current_actor(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Actor:
    """The caller named by a valid bearer token; 401 otherwise."""
    verified = verified_actor(request.scope)  # the request budget read the token already
    if verified is not None:
        return verified
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(401, "unauthorized", "a bearer token is required")
    try:
        return verify(credentials.credentials, request.app.state.jwt_key)
    except InvalidToken as exc:
        raise ApiError(401, "invalid_token", "the token is invalid or expired") from exc


async def admin_actor(actor: Annotated[Actor, Depends(current_actor)]) -> Actor:
    """Like current_actor, and the caller must be an admin (403 otherwise)."""
    if not actor.is_admin:
        raise ApiError(403, "forbidden", "admins only")
    return actor


CurrentActor = Annotated[Actor, Depends(current_actor)]
AdminActor = Annotated[Actor, Depends(admin_actor)]
