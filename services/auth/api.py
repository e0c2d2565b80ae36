"""The auth service's internal API (the gateway calls it through Dapr)."""

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from services.auth import service
from services.auth.guard import SignInGuard
from services.auth.models import Login, Registration
from services.shared.calls import CLIENT_ADDRESS_HEADER, Registered, Token

router = APIRouter(tags=["auth"])


@router.post("/register", status_code=201)
async def register(body: Registration, request: Request) -> Registered:
    """Creates a customer account: the profile in customers, the credentials here."""
    state = request.app.state
    guard: SignInGuard = state.guard
    await guard.register(request.headers.get(CLIENT_ADDRESS_HEADER))
    return await service.register(
        state.engine, state.dapr, body, id_key=state.customer_id_key, hashing=guard.slots
    )


@router.post("/login")
async def login(body: Login, request: Request) -> Token:
    """Exchanges email and password for a bearer token (throttled: guard.py)."""
    state = request.app.state
    guard: SignInGuard = state.guard

    async def attempt() -> Token:
        return await run_in_threadpool(service.login, state.engine, state.tokens, body)

    return await guard.login(body.email, request.headers.get(CLIENT_ADDRESS_HEADER), attempt)
