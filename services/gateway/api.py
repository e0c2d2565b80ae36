"""The gateway's public REST API."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.gateway import service
from services.gateway.config import BACKEND_APPS, get_settings

router = APIRouter(prefix="/api")


@router.get("/health", tags=["health"])
async def system_health(request: Request) -> JSONResponse:
    """Health of every service behind the gateway: 200 when all are up, 503 otherwise."""
    settings = get_settings()
    report = await service.system_health(
        request.app.state.dapr, BACKEND_APPS, timeout_s=settings.health_probe_timeout_s
    )
    return JSONResponse(report, status_code=200 if report["status"] == "ok" else 503)
