"""order-view's routes: the admin-only ones refuse anyone else before doing anything, and the
others answer what the service layer gives them. Fakes stand in for the rebuild and the store."""

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.order_view.api import router
from services.order_view.service import LastApplied
from services.shared.errors import install_error_handlers
from services.shared.identity import USER_ID_HEADER, USER_ROLE_HEADER

ADMIN = {USER_ID_HEADER: "a1", USER_ROLE_HEADER: "admin"}
CUSTOMER = {USER_ID_HEADER: "c1", USER_ROLE_HEADER: "customer"}


class FakeRebuilder:
    def __init__(self) -> None:
        self.requests = 0

    async def request(self) -> bool:
        self.requests += 1
        return False

    def progress(self) -> dict[str, Any]:
        return {"state": "running", "built": 0, "total": None}


class FakeDocuments:
    def count_orders(self) -> int:
        return 3

    def get_order(self, order_id: str) -> dict[str, Any] | None:
        return DOCUMENT | {"id": order_id} if order_id == "o1" else None


DOCUMENT = {
    "id": "o1",
    "status": "confirmed",
    "customer": {"id": "c1", "name": "Ann", "email": "ann@example.com"},
    "items": [],
    "total_cents": 0,
    "created_at": "2026-01-01T00:00:00Z",
    "updated_at": "2026-01-01T00:00:00Z",
    "version": 2,
}


class FakeStore:
    documents = FakeDocuments()


@pytest.fixture
def client() -> Iterator[TestClient]:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router)
    app.state.rebuilder, app.state.store, app.state.last_applied = FakeRebuilder(), FakeStore(), LastApplied()
    with TestClient(app) as client:
        yield client


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/rebuild"), ("GET", "/dead-letters"), ("POST", "/dead-letters/replay")],
)
def test_an_admin_only_route_refuses_a_customer_and_an_anonymous_caller(
    client: TestClient, method: str, path: str
) -> None:
    assert client.request(method, path, headers=CUSTOMER).status_code == 403
    assert client.request(method, path).status_code == 401
    assert client.app.state.rebuilder.requests == 0  # type: ignore[attr-defined]


def test_an_admin_asks_for_a_rebuild_and_anyone_reads_its_progress(client: TestClient) -> None:
    asked = client.post("/rebuild", headers=ADMIN)
    status = client.get("/rebuild")

    assert (asked.status_code, asked.json()) == (
        202,
        {"restarted": False, "state": "running", "built": 0, "total": None},
    )
    assert status.json() == {
        "state": "running",
        "built": 0,
        "total": None,
        "documents": 3,
        "last_event_at": None,
        "lag_ms": None,
    }


def test_an_order_of_someone_else_is_not_found_for_a_customer_but_shown_to_an_admin(
    client: TestClient,
) -> None:
    other = {USER_ID_HEADER: "c2", USER_ROLE_HEADER: "customer"}

    assert client.get("/orders/o1", headers=CUSTOMER).status_code == 200
    assert client.get("/orders/o1", headers=other).status_code == 404
    assert client.get("/orders/o1", headers=ADMIN).status_code == 200
