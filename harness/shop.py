"""A small client for the public API, used by the test tiers and the bench."""

import json
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from harness.system import GATEWAY, ROOT, invoke
from harness.waiting import wait_until

_client = httpx.Client(base_url=GATEWAY, timeout=15)


def api(
    method: str, path: str, *, token: str | None = None, via: str | None = None, **kwargs: Any
) -> httpx.Response:
    """A call to the public API: through the public port, or `via` one gateway replica's URL."""
    headers = kwargs.pop("headers", {})
    if token:
        headers["authorization"] = f"Bearer {token}"
    if via is not None:
        return httpx.request(method, f"{via}/api{path}", headers=headers, timeout=15, **kwargs)
    return _client.request(method, f"/api{path}", headers=headers, **kwargs)


@dataclass
class User:
    id: str
    email: str
    password: str
    token: str

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return api(method, path, token=self.token, **kwargs)


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


def register(name: str = "Test User", *, email: str | None = None, password: str = "a-good-password") -> User:
    email = email or unique_email()
    response = api("POST", "/auth/register", json={"email": email, "password": password, "name": name})
    assert response.status_code == 201, response.text
    return User(id=response.json()["id"], email=email, password=password, token=login(email, password))


def login(email: str, password: str) -> str:
    response = api("POST", "/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def admin() -> User:
    """The admin account created on first start from the secret store."""
    secrets = json.loads((ROOT / ".run/secrets.json").read_text())

    def admin_login() -> str | None:
        response = api(
            "POST",
            "/auth/login",
            json={"email": secrets["admin-email"], "password": secrets["admin-password"]},
        )
        return response.json()["access_token"] if response.status_code == 200 else None

    token = wait_until(admin_login, timeout=30, what="the admin account to exist")
    me = api("GET", "/me", token=token).json()
    return User(id=me["id"], email=secrets["admin-email"], password=secrets["admin-password"], token=token)


def create_product(
    seller: User, *, stock: int = 10, price_cents: int = 1000, name: str = "Widget"
) -> dict[str, Any]:
    response = seller.call(
        "POST",
        "/products",
        json={"name": name, "description": "e2e", "price_cents": price_cents, "stock": stock},
    )
    assert response.status_code == 201, response.text
    return response.json()


def place_order(buyer: User, items: list[tuple[str, int]], **kwargs: Any) -> httpx.Response:
    body = {"items": [{"product_id": pid, "quantity": qty} for pid, qty in items]}
    return buyer.call("POST", "/orders", json=body, **kwargs)


def applied_events(event_type: str, *entity_ids: str) -> list[dict[str, Any]]:
    """Events of a type for some entities that reached the order-view subscriber through the
    broker (one query: FerretDB scans for it, so poll the cheap lookups below instead)."""
    status, body = invoke(
        "order-view",
        "GET",
        "events",
        params={"type": event_type, "entity_id": list(entity_ids)},
        via="order-view",
    )
    assert status == 200, body
    return body["items"]


def view_knows(kind: str, entity_id: str, version: int = 1) -> bool:
    """Whether order-view applied a customer/product event of at least this version."""
    status, body = invoke("order-view", "GET", f"known/{kind}/{entity_id}", via="order-view")
    return status == 200 and body["version"] >= version


def view_order(order_id: str) -> dict[str, Any] | None:
    """An order's document in order-view, read as an admin would."""
    status, body = invoke(
        "order-view",
        "GET",
        f"orders/{order_id}",
        headers={"x-shop-user-id": "e2e", "x-shop-user-role": "admin"},
    )
    return body if status == 200 else None


def view_shows(order_id: str, status: str) -> bool:
    """Whether order-view's document for the order has reached this status."""
    document = view_order(order_id)
    return document is not None and document["status"] == status
