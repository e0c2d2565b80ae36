"""Every answer that crosses a service boundary has a model: each route of each app declares
the Pydantic model of its success body (FastAPI checks every answer against it), and the
gateway, which forwards most answers unchanged, declares in its OpenAPI the very model the app
that built the answer declares (services/shared/calls/, services/gateway/answers.py)."""

import importlib
from functools import cache
from typing import Any

import pytest

from services.gateway.answers import Profile
from services.shared.calls import Customer, Order, OrderDocument, OrderDocumentPage
from services.shared.order_document import compose

APPS = ("auth", "customers", "products", "orders", "notifications", "order_view", "gateway")


@cache
def openapi(name: str) -> dict[str, Any]:
    """An app's OpenAPI document: what FastAPI knows of its routes' answers."""
    document: dict[str, Any] = importlib.import_module(f"services.{name}.main").app.openapi()
    return document


def operations(name: str) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """Operation id -> (method, path, operation), for an app."""
    return {
        operation["operationId"]: (method.upper(), path, operation)
        for path, methods in openapi(name)["paths"].items()
        for method, operation in methods.items()
    }


def success(operation: dict[str, Any]) -> tuple[str, str | None]:
    """An operation's success status and the model its body has (None: no model, e.g. a
    `dict[str, Any]`), from its document."""
    status = next(code for code in operation["responses"] if code.startswith("2"))
    schema = operation["responses"][status].get("content", {}).get("application/json", {}).get("schema", {})
    reference = schema.get("$ref", "")
    return status, reference.removeprefix("#/components/schemas/") or None


@pytest.mark.parametrize("name", APPS)
def test_every_answer_of_every_app_has_a_model(name: str) -> None:
    untyped = [
        f"{method} {path}"
        for method, path, operation in operations(name).values()
        if success(operation)[0] != "204" and success(operation)[1] is None
    ]
    assert not untyped, f"answers without a Pydantic model (declare one in services/shared/calls/): {untyped}"


# The gateway's operations whose success body is an app's answer, forwarded: operation id ->
# (app, method, the app's route).
FORWARDED = {
    "list_products": ("products", "GET", "/products"),
    "get_product": ("products", "GET", "/products/{product_id}"),
    "create_product": ("products", "POST", "/products"),
    "change_product": ("products", "PATCH", "/products/{product_id}"),
    "place_order": ("orders", "POST", "/orders"),
    "cancel_order": ("orders", "POST", "/orders/{order_id}/cancel"),
    "list_orders": ("order_view", "GET", "/orders"),
    "get_order": ("order_view", "GET", "/orders/{order_id}"),
    "register": ("auth", "POST", "/register"),
    "login": ("auth", "POST", "/login"),
    "list_notifications": ("notifications", "GET", "/notifications"),
    "mark_notification_read": ("notifications", "POST", "/notifications/{notification_id}/read"),
    "list_customers": ("customers", "GET", "/customers"),
    "dead_letters": ("order_view", "GET", "/dead-letters"),
    "replay_dead_letters": ("order_view", "POST", "/dead-letters/replay"),
    "rebuild_read_model": ("order_view", "POST", "/rebuild"),
    "read_model_status": ("order_view", "GET", "/rebuild"),
}
# Those whose body the gateway builds: the caller's profile (customers' answer with the role
# added), the health of the whole system; and every app's own health probes.
BUILT = {"me", "change_me", "system_health", "healthz_healthz_get", "readyz_readyz_get"}


def test_every_gateway_answer_is_either_an_apps_forwarded_or_built_by_the_gateway() -> None:
    with_body = {
        op for op, (_, _, operation) in operations("gateway").items() if success(operation)[0] != "204"
    }
    assert with_body == set(FORWARDED) | BUILT


@pytest.mark.parametrize("operation", sorted(FORWARDED))
def test_the_gateway_declares_the_model_the_app_answers_with(operation: str) -> None:
    """The same status, the same model, and the same schema in both documents (a model of
    the same name but another shape would show there)."""
    app, method, path = FORWARDED[operation]
    internal = openapi(app)["paths"][path][method.lower()]
    public = operations("gateway")[operation][2]

    assert success(public) == success(internal)
    model = success(public)[1]
    assert model is not None
    assert schema_of(model, "gateway") == schema_of(model, app)


def schema_of(model: str, app: str) -> dict[str, Any]:
    """A component's schema with every model it refers to, resolved."""
    components = openapi(app)["components"]["schemas"]

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(components[node["$ref"].removeprefix("#/components/schemas/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(components[model])
    return resolved


def test_the_profile_is_the_customer_the_gateway_reads_with_the_role_added() -> None:
    assert issubclass(Profile, Customer)
    assert set(Profile.model_fields) - set(Customer.model_fields) == {"role"}


ORDER = Order.model_validate(
    {
        "id": "0b6e1c2a-7d1f-4c55-9a43-3f0d3c2b1a00",
        "customer_id": "c1",
        "status": "confirmed",
        "items": [
            {
                "product_id": "p1",
                "quantity": 2,
                "unit_price_cents": 250,
                "product_name": "Lamp",
                "seller_id": "s1",
            }
        ],
        "total_cents": 500,
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:01.5Z",
        "version": 2,
    }
)


def test_a_document_aggregated_live_is_the_document_order_view_answers() -> None:
    """The gateway composes documents itself when order-view is down: the same model."""
    customers = {"c1": {"id": "c1", "name": "Ann", "email": "ann@example.com", "version": 1}}
    products = {"p1": {"id": "p1", "name": "Lamp", "seller_id": "s1", "version": 3}}

    document = OrderDocument.model_validate(compose(ORDER.model_dump(), customers["c1"], products))
    page = OrderDocumentPage(items=[document], total=1, limit=20, offset=0)

    assert page.items[0].items[0].line_total_cents == 500
    # Names not known yet (the lookups failed): still a document, with nulls.
    assert OrderDocument.model_validate(compose(ORDER.model_dump(), None, {})).customer.name is None
