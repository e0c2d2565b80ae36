"""Between services: only an app's own sidecar calls the app (APP_API_TOKEN), only the app calls
its sidecar (DAPR_API_TOKEN), and only a topic's owner publishes to it (topic scoping)."""

import uuid

import httpx

from harness.shop import api
from harness.system import System, publish, secret, sidecar

PRODUCTS_APP = "http://127.0.0.1:8030"


def test_an_internal_app_refuses_calls_that_bypass_its_sidecar(system: System) -> None:
    without = httpx.get(f"{PRODUCTS_APP}/products", timeout=10)
    forged = httpx.get(f"{PRODUCTS_APP}/products", headers={"dapr-api-token": "guess"}, timeout=10)
    with_token = httpx.get(
        f"{PRODUCTS_APP}/products", headers={"dapr-api-token": secret("app-api-token")}, timeout=10
    )

    assert without.status_code == forged.status_code == 401
    assert without.json()["code"] == "unauthorized"
    assert with_token.status_code == 200
    # Health probes stay open: daprd probes them without a token.
    assert httpx.get(f"{PRODUCTS_APP}/healthz", timeout=10).status_code == 200


def test_a_sidecar_refuses_calls_without_the_dapr_api_token(system: System) -> None:
    url = f"{sidecar('products')}/v1.0/invoke/products/method/products"

    assert httpx.get(url, timeout=10).status_code == 401
    assert httpx.get(url, headers={"dapr-api-token": "guess"}, timeout=10).status_code == 401
    assert httpx.get(url, headers={"dapr-api-token": secret("dapr-api-token")}, timeout=10).status_code == 200


def test_only_the_owning_service_may_publish_to_its_topic(system: System) -> None:
    event = {
        "specversion": "1.0",
        "id": f"e2e-{uuid.uuid4()}",
        "source": "products",
        "type": "order.confirmed",
        "datacontenttype": "application/json",
        "data": {"id": str(uuid.uuid4())},
    }

    forged = publish("products", "orders", event)
    from_gateway = publish("gateway", "orders", event)

    assert forged.status_code == from_gateway.status_code == 403
    assert forged.json()["errorCode"] == "ERR_PUBSUB_FORBIDDEN"


def test_the_public_api_needs_no_sidecar_token(system: System) -> None:
    assert api("GET", "/products").status_code == 200
