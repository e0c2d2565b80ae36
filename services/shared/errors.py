"""One error shape for every service: `{"detail": ..., "code": ...}`, never a stack trace."""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.shared.dapr import ServiceUnavailable

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


class ApiError(Exception):
    """An expected failure a client should see, with its HTTP status and a stable code."""

    def __init__(self, status: int, code: str, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers  # e.g. Retry-After with a 429 or a 503


def error_body(detail: str, code: str, **extra: object) -> dict[str, object]:
    """The JSON body of every error response."""
    return {"detail": detail, "code": code, **extra}


def install_error_handlers(app: FastAPI, *, unavailable: dict[type[Exception], str] | None = None) -> None:
    """Maps every exception to the shared error shape. `unavailable` names exceptions that mean
    a dependency is down (e.g. a lost database connection: {OperationalError: "database"}): they
    answer 503 like ServiceUnavailable, not an unexpected 500."""

    @app.exception_handler(ApiError)
    async def on_api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.detail, exc.code), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        # Only where and what, never the submitted values (they may hold a password).
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        detail = f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
        return JSONResponse(error_body(detail, "validation_error", errors=errors), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "error")
        return JSONResponse(
            error_body(str(exc.detail), code), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(ServiceUnavailable)
    async def on_unavailable(_: Request, exc: ServiceUnavailable) -> JSONResponse:
        log.warning("dependency unavailable", extra={"target": exc.target, "reason": exc.reason})
        return JSONResponse(
            error_body(f"{exc.target} is unavailable, try again later", "service_unavailable"),
            status_code=503,
            headers={"Retry-After": "1"},
        )

    for error_type, target in (unavailable or {}).items():

        async def on_dependency_error(request: Request, exc: Exception, target: str = target) -> JSONResponse:
            return await on_unavailable(request, ServiceUnavailable(target, type(exc).__name__))

        app.add_exception_handler(error_type, on_dependency_error)
