"""Placing and cancelling orders through the gateway: stock, prices, idempotency, ownership."""

import uuid
from concurrent.futures import ThreadPoolExecutor

from harness.shop import User, admin, api, create_product, place_order, register, view_shows
from harness.system import System
from harness.waiting import wait_until


def stock_of(product_id: str) -> int:
    return api("GET", f"/products/{product_id}").json()["stock"]


def listed(user: User, *, count: int, **params: str) -> list[dict]:  # type: ignore[type-arg]
    """The user's order list once it shows `count` orders (lists come from the read model,
    which follows the writes within moments)."""
    return wait_until(
        lambda: len(items := user.call("GET", "/orders", params=params).json()["items"]) == count and items,
        timeout=10,
        what=f"{count} orders in the list",
    )


def test_an_order_reserves_stock_and_fixes_the_prices(system: System) -> None:
    seller, buyer = register(), register()
    lamp = create_product(seller, stock=5, price_cents=1000)
    rug = create_product(seller, stock=2, price_cents=2500)

    response = place_order(buyer, [(lamp["id"], 2), (rug["id"], 1)])

    assert response.status_code == 201
    order = response.json()
    assert (order["status"], order["customer_id"], order["total_cents"]) == ("confirmed", buyer.id, 4500)
    assert sorted((i["product_id"], i["quantity"], i["unit_price_cents"]) for i in order["items"]) == sorted(
        [(lamp["id"], 2, 1000), (rug["id"], 1, 2500)]
    )
    assert (stock_of(lamp["id"]), stock_of(rug["id"])) == (3, 1)
    seller.call("PATCH", f"/products/{lamp['id']}", json={"price_cents": 9999})
    assert buyer.call("GET", f"/orders/{order['id']}").json()["total_cents"] == 4500
    wait_until(
        lambda: view_shows(order["id"], "confirmed"), timeout=10, what="order.confirmed at the subscriber"
    )


def test_not_enough_stock_is_409_and_the_order_is_recorded_as_rejected(system: System) -> None:
    seller, buyer = register(), register()
    product = create_product(seller, stock=1)

    response = place_order(buyer, [(product["id"], 2)])

    assert (response.status_code, response.json()["code"]) == (409, "insufficient_stock")
    orders = listed(buyer, count=1)
    assert [o["status"] for o in orders] == ["rejected"]
    assert stock_of(product["id"]) == 1
    wait_until(
        lambda: view_shows(orders[0]["id"], "rejected"), timeout=10, what="order.rejected at the subscriber"
    )


def test_an_unknown_product_is_422_and_reserves_nothing(system: System) -> None:
    seller, buyer = register(), register()
    product = create_product(seller, stock=3)

    response = place_order(buyer, [(product["id"], 1), (str(uuid.uuid4()), 1)])

    assert (response.status_code, response.json()["code"]) == (422, "unknown_product")
    assert stock_of(product["id"]) == 3
    assert buyer.call("GET", "/orders").json()["total"] == 0


def test_order_input_is_bounded_and_prices_or_status_cannot_be_sent(system: System) -> None:
    seller, buyer = register(), register()
    pid = create_product(seller, stock=100)["id"]
    cases = [
        {"items": []},
        {"items": [{"product_id": pid, "quantity": 0}]},
        {"items": [{"product_id": pid, "quantity": 101}]},
        {"items": [{"product_id": pid, "quantity": 1}, {"product_id": pid, "quantity": 1}]},
        {"items": [{"product_id": str(uuid.uuid4()), "quantity": 1} for _ in range(51)]},
        {"items": [{"product_id": pid, "quantity": 1, "unit_price_cents": 1}]},
        {"items": [{"product_id": pid, "quantity": 1}], "status": "confirmed"},
        {"items": [{"product_id": pid, "quantity": 1}], "customer_id": seller.id},
        {"items": [{"product_id": pid, "quantity": 1}], "total_cents": 1},
        # Ids are UUIDs: two that differ only in an emoji once collided on the order lines' key.
        {"items": [{"product_id": "p😀", "quantity": 1}, {"product_id": "p😁", "quantity": 1}]},
    ]
    for body in cases:
        response = buyer.call("POST", "/orders", json=body)
        assert response.status_code == 422, body
    assert stock_of(pid) == 100


def test_the_same_idempotency_key_returns_the_first_answer_and_orders_once(system: System) -> None:
    seller, buyer = register(), register()
    product = create_product(seller, stock=10)
    key = {"Idempotency-Key": f"checkout-{uuid.uuid4()}"}

    first = place_order(buyer, [(product["id"], 3)], headers=dict(key))
    again = place_order(buyer, [(product["id"], 3)], headers=dict(key))
    other = register()
    others = place_order(other, [(product["id"], 1)], headers=dict(key))

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert [o["id"] for o in listed(buyer, count=1)] == [first.json()["id"]]
    assert others.status_code == 201 and others.json()["id"] != first.json()["id"]
    assert stock_of(product["id"]) == 6


def test_cancelling_releases_the_stock_once(system: System) -> None:
    seller, buyer = register(), register()
    product = create_product(seller, stock=4)
    order = place_order(buyer, [(product["id"], 3)]).json()

    cancelled = buyer.call("POST", f"/orders/{order['id']}/cancel")
    again = buyer.call("POST", f"/orders/{order['id']}/cancel")

    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")
    assert (again.status_code, again.json()["code"]) == (409, "not_cancellable")
    assert stock_of(product["id"]) == 4
    wait_until(
        lambda: view_shows(order["id"], "cancelled"), timeout=10, what="order.cancelled at the subscriber"
    )


def test_a_rejected_order_cannot_be_cancelled(system: System) -> None:
    seller, buyer = register(), register()
    product = create_product(seller, stock=0)
    place_order(buyer, [(product["id"], 1)])
    rejected = listed(buyer, count=1)[0]

    response = buyer.call("POST", f"/orders/{rejected['id']}/cancel")

    assert (response.status_code, response.json()["code"]) == (409, "not_cancellable")


def test_customers_cannot_see_or_cancel_each_others_orders(system: System) -> None:
    seller, buyer, intruder = register(), register(), register()
    product = create_product(seller, stock=5)
    order = place_order(buyer, [(product["id"], 1)]).json()

    assert intruder.call("GET", f"/orders/{order['id']}").status_code == 404
    assert intruder.call("POST", f"/orders/{order['id']}/cancel").status_code == 404
    assert intruder.call("GET", "/orders").json()["total"] == 0
    assert intruder.call("GET", "/orders", params={"customer_id": buyer.id}).status_code == 403
    assert buyer.call("GET", f"/orders/{order['id']}").status_code == 200
    assert api("GET", f"/orders/{order['id']}").status_code == 401
    assert buyer.call("GET", f"/orders/{order['id']}").json()["status"] == "confirmed"


def test_an_admin_sees_and_cancels_any_order(system: System) -> None:
    seller, buyer = register(), register()
    product = create_product(seller, stock=5)
    order = place_order(buyer, [(product["id"], 2)]).json()
    boss = admin()

    assert [o["id"] for o in listed(boss, count=1, customer_id=buyer.id)] == [order["id"]]
    assert boss.call("GET", f"/orders/{order['id']}").status_code == 200
    assert boss.call("POST", f"/orders/{order['id']}/cancel").json()["status"] == "cancelled"
    assert stock_of(product["id"]) == 5


def test_forty_concurrent_orders_for_ten_in_stock_confirm_exactly_ten(system: System) -> None:
    seller = register()
    buyers = [register(f"Buyer {i}") for i in range(8)]
    product = create_product(seller, stock=10)

    with ThreadPoolExecutor(max_workers=40) as pool:
        statuses = list(
            pool.map(lambda i: place_order(buyers[i % 8], [(product["id"], 1)]).status_code, range(40))
        )

    assert statuses.count(201) == 10
    assert statuses.count(409) == 30
    assert stock_of(product["id"]) == 0
