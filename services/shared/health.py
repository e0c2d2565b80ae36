"""Liveness (/healthz) and readiness (/readyz) endpoints shared by every service."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

# A readiness check raises (or times out) when its dependency is not usable.
ReadinessCheck = Callable[[], Awaitable[None]]
CHECK_TIMEOUT_S = 2.0

router = APIRouter(tags=["health"])


class Alive(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: dict[str, str] = Field(description="Each check's outcome: `ok`, `timeout` or `error: ...`.")


ALIVE = Alive(status="ok")


@router.get("/healthz")
async def healthz() -> Alive:
    """The process is up and serving; says nothing about its dependencies."""
    return ALIVE


@router.get(
    "/readyz",
    response_model=None,
    responses={200: {"model": Readiness}, 503: {"model": Readiness, "description": "Not ready"}},
)
async def readyz(request: Request) -> Response:
    """Runs the checks the app registered in its lifespan (`app.state.readiness_checks`)."""
    checks: dict[str, ReadinessCheck] = getattr(request.app.state, "readiness_checks", {})
    results = await asyncio.gather(*(_run(check) for check in checks.values()))
    report = dict(zip(checks, results, strict=True))
    ready = all(result == "ok" for result in results)
    answer = Readiness(status="ready" if ready else "not_ready", checks=report)
    return Response(
        answer.model_dump_json(), status_code=200 if ready else 503, media_type="application/json"
    )


async def _run(check: ReadinessCheck) -> str:
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT_S)
    except TimeoutError:
        return "timeout"
    except Exception as exc:  # a failing dependency is a report, not a crash
        return f"error: {type(exc).__name__}"
    return "ok"
