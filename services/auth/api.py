"""The auth service's internal API (the gateway calls it through Dapr)."""

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from services.auth import service
from services.auth.models import Login, Registration

router = APIRouter(tags=["auth"])


@router.post("/register", status_code=201)
async def register(body: Registration, request: Request) -> dict[str, Any]:
    """Creates a customer account: the profile in customers, the credentials here."""
    state = request.app.state
    return await service.register(state.engine, state.dapr, body, id_key=state.customer_id_key)


@router.post("/login")
async def login(body: Login, request: Request) -> dict[str, Any]:
    """Exchanges email and password for a bearer token."""
    state = request.app.state
    return await run_in_threadpool(service.login, state.engine, state.tokens, body)
