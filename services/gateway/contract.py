"""The public API's contract beyond its request bodies: the one error shape every answer other
than a success has, which statuses (and which `code`s) each operation can answer, and the
operation ids a generated client names its methods after."""

from typing import Any, Literal

from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field


class FieldError(BaseModel):
    model_config = ConfigDict(extra="forbid")

    loc: list[str | int] = Field(description="Where: `body`, `query` or `path`, then the field.")
    msg: str


class ErrorBody(BaseModel):
    """Every error the API answers (services.shared.errors). Never a stack trace, never the
    submitted values."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"detail": "not enough stock for this order", "code": "insufficient_stock"}]
        },
    )

    detail: str = Field(description="For a person: what went wrong.")
    code: str = Field(description="For a program: a stable identifier of the failure.")
    errors: list[FieldError] | None = Field(default=None, description="422 only: every invalid field.")
    request_id: str | None = Field(default=None, description="500 only: the id to quote in a report.")
    order_id: str | None = Field(
        default=None, description="409 `insufficient_stock` only: the rejected order."
    )


class HealthReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["ok", "degraded"]
    services: dict[str, Literal["up", "down"]] = Field(description="Each app behind the gateway.")
    replicas: dict[str, int] | None = Field(description="Running replicas by app; null when unknown.")


# What each status means, whichever operation answers it; the codes an operation can produce
# are listed where it declares the status (errors()).
_MEANING = {
    400: "The body is not readable (not UTF-8)",
    401: "No valid bearer token",
    403: "Not allowed for this caller",
    404: "Not found",
    409: "Conflict with the current state",
    422: "Invalid request",
    429: "Too many requests from this client (its budget, docs/security.md) or attempts; retry "
    "after `Retry-After` seconds",
    503: "A service behind the gateway is unavailable or overloaded; retry after `Retry-After` seconds",
}
_RETRY_AFTER = {
    "description": "Seconds to wait before trying again.",
    "schema": {"type": "integer", "minimum": 1},
}
# The IETF draft's fields (draft-ietf-httpapi-ratelimit-headers-11), on a 429 of the request budget.
_RATE_LIMIT = {
    "RateLimit": {
        "description": 'The quota left under the policy and when it is back, e.g. `"user";r=0;t=12`.',
        "schema": {"type": "string"},
    },
    "RateLimit-Policy": {
        "description": 'The policy: requests per window in seconds, e.g. `"user";q=600;w=60`.',
        "schema": {"type": "string"},
    },
}
_DEFAULT_CODES = {
    400: ("bad_request",),
    401: ("unauthorized", "invalid_token"),
    403: ("forbidden",),
    404: ("not_found",),
    422: ("validation_error",),
    429: ("too_many_requests",),
    503: ("service_unavailable",),
}


def errors(*statuses: int, **codes: tuple[str, ...] | str) -> dict[int | str, dict[str, Any]]:
    """The `responses` of an operation: each status with ErrorBody and the codes it can carry,
    e.g. errors(401, 404, 409, c409="not_cancellable"). 429 and 503 are always there: every
    operation draws on the client's request budget (budget.py) and calls an app behind the gateway."""
    declared: dict[int | str, dict[str, Any]] = {}
    for status in sorted({*statuses, 429, 503}):
        given = codes.get(f"c{status}")
        status_codes = (given,) if isinstance(given, str) else given or _DEFAULT_CODES.get(status, ())
        if status == 422 and "validation_error" not in status_codes:
            status_codes = ("validation_error", *status_codes)
        listed = ", ".join(f"`{code}`" for code in status_codes)
        declared[status] = {"model": ErrorBody, "description": f"{_MEANING[status]}: {listed}"}
        if status == 429:
            declared[status]["headers"] = {"Retry-After": _RETRY_AFTER, **_RATE_LIMIT}
    return declared


_SUCCESS = {200: "OK", 201: "Created", 202: "Accepted"}


def ok(model: type[BaseModel], status: int = 200) -> dict[int | str, dict[str, Any]]:
    """A success answer and its body's model (services/gateway/answers.py)."""
    return {status: {"model": model, "description": _SUCCESS[status]}}


def created(
    param: str, *operations: str, model: type[BaseModel] | None = None, **bodies: Any
) -> dict[int | str, dict[str, Any]]:
    """A 201 whose answer's `id` is the `param` of these operations, or goes into the request
    body of others (`place_order={...}`): OpenAPI links, which a client or a fuzzer can follow
    from what it created."""
    links: dict[str, Any] = {
        op: {"operationId": op, "parameters": {param: "$response.body#/id"}} for op in operations
    }
    links |= {op: {"operationId": op, "requestBody": body} for op, body in bodies.items()}
    return {201: {"description": "Created", "links": links, **({"model": model} if model else {})}}


def operation_id(route: APIRoute) -> str:
    """A generated client's method names: the route function's own (`place_order`)."""
    return route.name
