"""The bodies services exchange through Dapr invocation (services/shared/calls/), checked as a
consumer-driven contract without Dapr: each caller's own code sends its request to the callee's
own routes (a FastAPI app per callee, on SQLite), so what the caller builds must validate there,
and what the callee answers must parse on the caller's side. An answer that does not fit is
ServiceUnavailable (a broken peer, a 503), never a 500."""

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, MetaData

from services.auth import service as auth
from services.auth.models import Registration
from services.auth.models import metadata as auth_tables
from services.customers import service as customers
from services.customers.api import router as customers_api
from services.customers.models import metadata as customers_tables
from services.gateway.contract import ErrorBody
from services.orders import placing
from services.orders.models import NewOrder
from services.orders.models import metadata as orders_tables
from services.products import service as products
from services.products.api import router as products_api
from services.products.models import NewProduct
from services.products.models import metadata as products_tables
from services.shared.calls import MAX_LOOKUP, NewCustomer, Order, Reservation
from services.shared.dapr import ServiceUnavailable, batch_lookup, lookup_customers, lookup_products
from services.shared.errors import install_error_handlers
from services.shared.identity import Actor

SELLER, BUYER = Actor(id=str(uuid.uuid4()), role="customer"), Actor(id=str(uuid.uuid4()), role="customer")
ID_KEY = b"test-id-key"


class RoutedSidecar:
    """Stands in for Dapr invocation: `invoke(app, ...)` calls that app's own routes."""

    def __init__(self, apps: dict[str, TestClient]) -> None:
        self.apps = apps
        self.calls: list[tuple[str, str, Any]] = []

    async def invoke(
        self, target: str, method: str, path: str, *, json: Any = None, **_: Any
    ) -> httpx.Response:
        self.calls.append((target, path, json))
        return self.apps[target].request(method, f"/{path.lstrip('/')}", json=json)


def callee(router: APIRouter, engine: Engine) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router)
    app.state.engine = engine
    return TestClient(app)


@pytest.fixture
def dbs(make_db: Callable[[MetaData], Engine]) -> dict[str, Engine]:
    tables = {"products": products_tables, "customers": customers_tables}
    return {
        app: make_db(metadata)
        for app, metadata in {**tables, "orders": orders_tables, "auth": auth_tables}.items()
    }


@pytest.fixture
def dapr(dbs: dict[str, Engine]) -> RoutedSidecar:
    return RoutedSidecar(
        {
            "products": callee(products_api, dbs["products"]),
            "customers": callee(customers_api, dbs["customers"]),
        }
    )


def listed(engine: Engine, *, stock: int = 5, price: int = 250, name: str = "Lamp 💡") -> str:
    return products.create(engine, seller=SELLER, new=NewProduct(name=name, price_cents=price, stock=stock))[
        "id"
    ]


# --- orders -> products: reservations and releases ----------------------------------------------


def test_an_order_placed_and_cancelled_reserves_and_releases_through_products_own_routes(
    dbs: dict[str, Engine], dapr: RoutedSidecar
) -> None:
    lamp, kettle = listed(dbs["products"], price=250), listed(dbs["products"], price=1000, name="Kettle")
    new = NewOrder.model_validate(
        {"items": [{"product_id": lamp, "quantity": 2}, {"product_id": kettle, "quantity": 1}]}
    )

    status, order = asyncio.run(
        placing.place(
            dbs["orders"],
            dapr,
            actor=BUYER,
            new=new,
            idempotency_key=None,  # type: ignore[arg-type]
        )
    )

    assert (status, order["status"], order["total_cents"]) == (201, "confirmed", 1500)
    # The body orders answers as it was built (not through FastAPI's check): the model its
    # route declares must hold it.
    assert Order.model_validate(order).model_dump() == order
    assert {(i["product_id"], i["product_name"], i["seller_id"]) for i in order["items"]} == {
        (lamp, "Lamp 💡", SELLER.id),
        (kettle, "Kettle", SELLER.id),
    }
    assert products.get(dbs["products"], product_id=lamp)["stock"] == 3

    cancelled = asyncio.run(placing.cancel(dbs["orders"], dapr, actor=BUYER, order_id=order["id"]))  # type: ignore[arg-type]

    assert cancelled["status"] == "cancelled"
    assert products.get(dbs["products"], product_id=lamp)["stock"] == 5
    assert [path for _, path, _ in dapr.calls] == ["reservations", f"reservations/{order['id']}/release"]


def test_a_short_line_rejects_the_order_with_the_prices_products_fixed(
    dbs: dict[str, Engine], dapr: RoutedSidecar
) -> None:
    lamp = listed(dbs["products"], stock=1, price=250)
    new = NewOrder.model_validate({"items": [{"product_id": lamp, "quantity": 2}]})

    status, body = asyncio.run(
        placing.place(
            dbs["orders"],
            dapr,
            actor=BUYER,
            new=new,
            idempotency_key=None,  # type: ignore[arg-type]
        )
    )

    assert (status, body["code"]) == (409, "insufficient_stock")
    assert ErrorBody.model_validate(body).order_id is not None


def test_a_repeated_idempotency_key_gets_the_first_answer_even_after_a_cancel(
    dbs: dict[str, Engine], dapr: RoutedSidecar
) -> None:
    """The answer is rebuilt from the order (no copy kept elsewhere): the same status and body,
    the order as it was confirmed, without a second reservation."""
    lamp = listed(dbs["products"], price=250)
    new = NewOrder.model_validate({"items": [{"product_id": lamp, "quantity": 2}]})

    def place() -> tuple[int, dict[str, Any]]:
        return asyncio.run(
            placing.place(dbs["orders"], dapr, actor=BUYER, new=new, idempotency_key="checkout-1")  # type: ignore[arg-type]
        )

    first = place()
    again = place()
    asyncio.run(placing.cancel(dbs["orders"], dapr, actor=BUYER, order_id=first[1]["id"]))  # type: ignore[arg-type]
    after_cancel = place()

    assert first[0] == 201 and again == first and after_cancel == first
    assert [path for _, path, _ in dapr.calls] == ["reservations", f"reservations/{first[1]['id']}/release"]


def test_every_order_the_public_api_takes_makes_a_reservation_products_takes() -> None:
    """The widest order NewOrder admits (its limits) fits the reservation's."""
    lines = [{"product_id": f"{n:036d}", "quantity": 100} for n in range(50)]
    new = NewOrder.model_validate({"items": lines})

    asked = placing._reservation(str(uuid.uuid4()), ((line.product_id, line.quantity) for line in new.items))

    assert Reservation.model_validate_json(asked.model_dump_json()) == asked


# --- auth -> customers: creation ----------------------------------------------------------------


def test_a_registration_creates_the_customer_through_customers_own_route(
    dbs: dict[str, Engine], dapr: RoutedSidecar
) -> None:
    form = Registration(email="Ann@Example.com", password="correct horse", name="Ann 🌻")

    registered = asyncio.run(auth.register(dbs["auth"], dapr, form, id_key=ID_KEY))  # type: ignore[arg-type]

    stored = customers.get(dbs["customers"], customer_id=registered.id)
    assert registered.model_dump() == {
        "id": stored["id"],
        "email": "ann@example.com",
        "name": "Ann 🌻",
        "role": "customer",
        "created_at": stored["created_at"],
    }


def test_every_registration_auth_takes_makes_a_customer_customers_takes() -> None:
    """The longest email and name Registration admits fit NewCustomer's limits."""
    email = f"{'a' * 64}@{'b' * 63}.{'c' * 63}.{'d' * 57}.com"
    form = Registration(email=email, password="x" * 128, name="n" * 100)

    new = NewCustomer(
        id=auth.customer_id_for(form.email, key=ID_KEY), email=form.email.lower(), name=form.name
    )

    assert NewCustomer.model_validate_json(new.model_dump_json()) == new


# --- batch lookups ------------------------------------------------------------------------------


def test_batch_lookups_answer_typed_snapshots_and_leave_unknown_ids_out(
    dbs: dict[str, Engine], dapr: RoutedSidecar
) -> None:
    lamp = listed(dbs["products"])
    ann = customers.register(
        dbs["customers"], new=NewCustomer(id=str(uuid.uuid4()), email="ann@example.com", name="Ann")
    )
    unknown = str(uuid.uuid4())

    found_products = asyncio.run(lookup_products(dapr, [lamp, unknown]))  # type: ignore[arg-type]
    found_customers = asyncio.run(lookup_customers(dapr, [ann["id"], unknown]))  # type: ignore[arg-type]

    assert list(found_products) == [lamp]
    assert (found_products[lamp].name, found_products[lamp].seller_id, found_products[lamp].version) == (
        "Lamp 💡",
        SELLER.id,
        1,
    )
    assert list(found_customers) == [ann["id"]]
    assert (found_customers[ann["id"]].name, found_customers[ann["id"]].email) == ("Ann", "ann@example.com")


def test_the_dict_lookup_still_gives_each_snapshot_exactly_as_its_service_shows_it(
    dbs: dict[str, Engine], dapr: RoutedSidecar
) -> None:
    lamp = listed(dbs["products"])

    found = asyncio.run(batch_lookup(dapr, "products", [lamp]))  # type: ignore[arg-type]

    assert found == {lamp: products.get(dbs["products"], product_id=lamp)}


def test_a_lookup_of_more_ids_than_one_call_takes_is_split(
    dbs: dict[str, Engine], dapr: RoutedSidecar
) -> None:
    lamp = listed(dbs["products"])
    ids = [lamp, *(str(uuid.uuid4()) for _ in range(2 * MAX_LOOKUP))]

    found = asyncio.run(lookup_products(dapr, ids))  # type: ignore[arg-type]

    assert list(found) == [lamp]
    assert [len(body["ids"]) for _, _, body in dapr.calls] == [MAX_LOOKUP, MAX_LOOKUP, 1]


def test_no_ids_make_no_call(dapr: RoutedSidecar) -> None:
    assert asyncio.run(lookup_customers(dapr, [])) == {}  # type: ignore[arg-type]
    assert dapr.calls == []


# --- answers that do not fit: a broken peer, never a 500 ----------------------------------------


class Answering:
    """A peer that answers every call with `status` and `body`."""

    def __init__(self, status: int, body: bytes) -> None:
        self.status, self.body = status, body

    async def invoke(self, target: str, method: str, path: str, **_: Any) -> httpx.Response:
        return httpx.Response(self.status, content=self.body, headers={"content-type": "application/json"})


MALFORMED = {
    "not JSON": b"<html>oops</html>",
    "no items": b'{"products": []}',
    "a field missing": b'{"items": [{"id": "p1", "name": "Lamp", "version": 1}]}',
    "a field of the wrong type": b'{"items": [{"id": "p1", "name": "Lamp", "seller_id": 7, "version": 1}]}',
    "a version below 1": b'{"items": [{"id": "p1", "name": "Lamp", "seller_id": "s1", "version": 0}]}',
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_lookup_answer_that_does_not_fit_is_a_broken_peer(body: bytes) -> None:
    with pytest.raises(ServiceUnavailable) as broken:
        asyncio.run(lookup_products(Answering(200, body), ["p1"]))  # type: ignore[arg-type]
    assert broken.value.target == "products"


@pytest.mark.parametrize(
    "body",
    [
        b'{"order_id": "o1", "status": "maybe", "lines": []}',
        b'{"order_id": "o1", "status": "reserved", "lines": [{"product_id": "p1", "quantity": 1}]}',
        b"[]",
    ],
    ids=["an unknown status", "a line without its price", "a list"],
)
def test_a_reservation_answer_that_does_not_fit_leaves_the_order_pending_as_products_down_would(
    dbs: dict[str, Engine], body: bytes
) -> None:
    new = NewOrder.model_validate({"items": [{"product_id": "p1", "quantity": 1}]})

    with pytest.raises(ServiceUnavailable):
        asyncio.run(
            placing.place(
                dbs["orders"],
                Answering(200, body),  # type: ignore[arg-type]
                actor=BUYER,
                new=new,
                idempotency_key=None,
            )
        )


def test_a_creation_answer_that_does_not_fit_stores_no_credentials(dbs: dict[str, Engine]) -> None:
    form = Registration(email="ann@example.com", password="correct horse", name="Ann")
    without_created_at = b'{"id": "c1", "email": "ann@example.com", "name": "Ann", "version": 1}'

    with pytest.raises(ServiceUnavailable):
        asyncio.run(auth.register(dbs["auth"], Answering(201, without_created_at), form, id_key=ID_KEY))  # type: ignore[arg-type]

    assert not auth.email_taken(dbs["auth"], "ann@example.com")
