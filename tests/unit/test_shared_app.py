"""The shared app factory: error shapes, request ids, readiness."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import OperationalError

from services.shared.app import create_app
from services.shared.db import DATABASE_UNAVAILABLE
from services.shared.errors import ApiError

router = APIRouter()


class Signup(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(max_length=50)
    password: str = Field(min_length=8)


@router.post("/signup")
async def signup(body: Signup) -> dict[str, str]:
    return {"email": body.email}


@router.get("/conflict")
async def conflict() -> None:
    raise ApiError(409, "email_taken", "that email is registered")


@router.get("/boom")
async def boom() -> None:
    raise RuntimeError("SELECT * FROM secrets -- internal detail")


def make_app(*, database_ok: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async def database() -> None:
            if not database_ok:
                raise ConnectionError("refused")

        app.state.readiness_checks["database"] = database
        yield

    return create_app(title="test", lifespan=lifespan, routers=[router])


def test_expected_errors_use_the_shared_shape() -> None:
    with TestClient(make_app()) as client:
        response = client.get("/conflict")

    assert response.status_code == 409
    assert response.json() == {"detail": "that email is registered", "code": "email_taken"}


def test_validation_errors_are_422_without_echoing_the_input() -> None:
    with TestClient(make_app()) as client:
        response = client.post("/signup", json={"email": "a@b.c", "password": "hunter2", "role": "admin"})

    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert "hunter2" not in response.text
    assert {tuple(e["loc"]) for e in body["errors"]} == {("body", "password"), ("body", "role")}


def test_an_unexpected_failure_is_a_500_with_a_request_id_and_no_internals() -> None:
    with TestClient(make_app(), raise_server_exceptions=False) as client:
        response = client.get("/boom", headers={"X-Request-Id": "req-123"})

    assert response.status_code == 500
    assert response.json() == {"detail": "internal error", "code": "internal_error", "request_id": "req-123"}
    assert response.headers["x-request-id"] == "req-123"
    assert "SELECT" not in response.text


def test_every_response_carries_a_request_id() -> None:
    with TestClient(make_app()) as client:
        response = client.get("/healthz")

    assert response.status_code == 200
    assert len(response.headers["x-request-id"]) == 32


def test_a_sane_request_id_from_the_client_is_kept_and_anything_else_replaced() -> None:
    with TestClient(make_app()) as client:
        kept = client.get("/healthz", headers={"X-Request-Id": "client-chosen_42"})
        replaced = client.get("/healthz", headers={"X-Request-Id": "bad id; with\tjunk"})

    assert kept.headers["x-request-id"] == "client-chosen_42"
    assert len(replaced.headers["x-request-id"]) == 32


def test_unknown_routes_are_json_404s() -> None:
    with TestClient(make_app()) as client:
        response = client.get("/nope")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_readiness_reports_each_dependency() -> None:
    with TestClient(make_app(database_ok=False)) as client:
        response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"status": "not_ready", "checks": {"database": "error: ConnectionError"}}


def test_a_4xx_to_another_service_travels_as_200_with_its_status_in_a_header() -> None:
    with TestClient(make_app()) as client:
        direct = client.get("/conflict")
        via_dapr = client.get("/conflict", headers={"dapr-caller-app-id": "gateway"})

    assert direct.status_code == 409
    assert via_dapr.status_code == 200
    assert via_dapr.headers["x-shop-status"] == "409"
    assert via_dapr.json()["code"] == "email_taken"


def test_a_lost_database_connection_is_a_503_to_retry_not_a_500() -> None:
    lost = APIRouter()

    @lost.get("/orders")
    async def orders() -> None:
        raise OperationalError("SELECT 1", {}, ConnectionError("Lost connection to server"))

    app = create_app(
        title="test",
        lifespan=make_app().router.lifespan_context,
        routers=[lost],
        unavailable_errors=DATABASE_UNAVAILABLE,
    )
    with TestClient(app) as client:
        response = client.get("/orders")

    assert response.status_code == 503
    assert response.json() == {
        "detail": "database is unavailable, try again later",
        "code": "service_unavailable",
    }
    assert response.headers["retry-after"] == "1"


def test_a_503_that_sheds_load_travels_as_200_so_no_breaker_counts_it() -> None:
    shedding = APIRouter()

    @shedding.get("/busy")
    async def busy() -> None:
        raise ApiError(503, "service_unavailable", "busy", headers={"Retry-After": "1", "x-shop-shed": "1"})

    @shedding.get("/down")
    async def down() -> None:
        raise ApiError(503, "service_unavailable", "down")

    app = create_app(title="test", lifespan=make_app().router.lifespan_context, routers=[shedding])
    with TestClient(app) as client:
        busy_answer = client.get("/busy", headers={"dapr-caller-app-id": "gateway"})
        down_answer = client.get("/down", headers={"dapr-caller-app-id": "gateway"})

    assert (busy_answer.status_code, busy_answer.headers["x-shop-status"]) == (200, "503")
    assert busy_answer.headers["retry-after"] == "1"
    assert down_answer.status_code == 503
