"""Only an app's own sidecar may call it: the APP_API_TOKEN check in the shared app factory."""

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from services.shared.app import create_app
from tests.unit.test_shared_app import make_app

router = APIRouter()


@router.get("/api/things")
async def public_things() -> dict[str, str]:
    return {"seen": "by anyone"}


@router.get("/internal/things")
async def internal_things() -> dict[str, str]:
    return {"seen": "by the sidecar"}


def guarded_app(monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    monkeypatch.setenv("APP_API_TOKEN", "sidecar-secret")
    return create_app(
        title="test", lifespan=make_app().router.lifespan_context, routers=[router], public_paths=("/api",)
    )


def test_a_call_without_the_sidecars_token_is_refused_with_the_shared_error_shape(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with TestClient(guarded_app(monkeypatch)) as client:
        missing = client.get("/internal/things")
        wrong = client.get("/internal/things", headers={"dapr-api-token": "guess"})

    assert missing.status_code == wrong.status_code == 401
    assert missing.json() == {
        "detail": "calls to this app must come through its Dapr sidecar",
        "code": "unauthorized",
    }
    assert missing.headers["x-request-id"]


def test_the_sidecars_token_opens_internal_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    with TestClient(guarded_app(monkeypatch)) as client:
        response = client.get("/internal/things", headers={"dapr-api-token": "sidecar-secret"})

    assert response.status_code == 200
    assert response.json() == {"seen": "by the sidecar"}


def test_public_paths_and_health_probes_need_no_token(monkeypatch: pytest.MonkeyPatch) -> None:
    with TestClient(guarded_app(monkeypatch)) as client:
        assert client.get("/api/things").status_code == 200
        assert client.get("/healthz").status_code == 200
        # A prefix is a path segment, not a string prefix: /apix is not under /api.
        assert client.get("/apix").status_code == 401


def test_the_root_as_a_public_path_opens_the_root_page_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_API_TOKEN", "sidecar-secret")
    app = create_app(
        title="test", lifespan=make_app().router.lifespan_context, routers=[router], public_paths=("/",)
    )
    with TestClient(app) as client:
        assert client.get("/").status_code == 404  # through the guard, to a page this app lacks
        assert client.get("/internal/things").status_code == 401


def test_without_a_configured_token_the_check_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APP_API_TOKEN", raising=False)
    app = create_app(title="test", lifespan=make_app().router.lifespan_context, routers=[router])
    with TestClient(app) as client:
        assert client.get("/internal/things").status_code == 200
