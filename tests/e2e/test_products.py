"""The marketplace: anyone lists, only the seller (or an admin) changes."""

import uuid

from harness.shop import admin, api, create_product, register, view_knows
from harness.system import System, invoke, one_gateway
from harness.waiting import wait_until


def test_a_customer_lists_a_product_and_becomes_its_seller(system: System) -> None:
    seller = register()
    product = create_product(seller, stock=5, price_cents=1999, name="Lamp")

    assert product["seller_id"] == seller.id
    assert (product["name"], product["price_cents"], product["stock"]) == ("Lamp", 1999, 5)
    assert {"id", "description", "created_at", "updated_at"} <= set(product)
    assert api("GET", f"/products/{product['id']}").json()["name"] == "Lamp"
    wait_until(
        lambda: view_knows("product", product["id"]), timeout=10, what="product.created at the subscriber"
    )


def test_the_product_list_is_public_and_paged(system: System) -> None:
    seller = register()
    for i in range(3):
        create_product(seller, name=f"Paged {i}")
    first = api("GET", "/products", params={"limit": 2, "offset": 0})
    second = api("GET", "/products", params={"limit": 2, "offset": 2})

    assert first.status_code == 200
    assert (first.json()["limit"], first.json()["offset"], len(first.json()["items"])) == (2, 0, 2)
    assert first.json()["total"] >= 3
    assert {p["id"] for p in first.json()["items"]}.isdisjoint({p["id"] for p in second.json()["items"]})
    assert api("GET", "/products", params={"limit": 101}).status_code == 422


def test_an_unknown_product_is_404_and_an_id_that_is_no_uuid_is_422(system: System) -> None:
    for product_id in (str(uuid.uuid4()), ".."):
        response = api("GET", f"/products/{product_id}")
        assert (response.status_code, response.json()["code"]) == (404, "not_found"), product_id

    malformed = api("GET", "/products/not-a-uuid")

    assert (malformed.status_code, malformed.json()["code"]) == (422, "validation_error")
    assert malformed.json()["errors"][0]["loc"] == ["path", "product_id"]


def test_text_comes_back_exactly_as_sent_and_text_utf8_cannot_carry_is_422(system: System) -> None:
    seller = register("Zoë 🦊 Ünïcode")
    text = {"name": "Teapot ☕ 𝄞 😀", "description": "日本語, emoji 👩‍👩‍👧, café"}

    created = seller.call("POST", "/products", json={**text, "price_cents": 100, "stock": 1})
    product_id = created.json()["id"]
    read = api("GET", f"/products/{product_id}", headers={"cache-control": "no-cache"})
    # A lone surrogate is valid JSON but no UTF-8: refused at the edge, never a 500 further in.
    surrogate = seller.call(
        "POST",
        "/products",
        content=b'{"name": "bad \\ud800 name", "price_cents": 100, "stock": 1}',
        headers={"content-type": "application/json"},
    )

    assert created.status_code == 201, created.text
    assert {key: read.json()[key] for key in text} == text
    assert seller.call("GET", "/me").json()["name"] == "Zoë 🦊 Ünïcode"
    assert (surrogate.status_code, surrogate.json()["code"]) == (422, "validation_error"), surrogate.text


def test_product_input_is_validated_and_the_seller_cannot_be_chosen(system: System) -> None:
    seller = register()
    victim = register()
    cases = [
        {"name": "x", "price_cents": 0, "stock": 1},
        {"name": "x", "price_cents": 100, "stock": -1},
        {"name": "", "price_cents": 100, "stock": 1},
        {"name": "x", "price_cents": 1.5, "stock": 1},
        {"name": "x", "price_cents": 100, "stock": 1, "seller_id": victim.id},
    ]
    for body in cases:
        response = seller.call("POST", "/products", json=body)
        assert response.status_code == 422, body


def test_only_the_seller_or_an_admin_changes_or_deletes_a_product(system: System) -> None:
    seller, other = register(), register()
    product = create_product(seller, price_cents=500)
    path = f"/products/{product['id']}"

    assert other.call("PATCH", path, json={"price_cents": 1}).status_code == 403
    assert other.call("DELETE", path).status_code == 403
    assert api("PATCH", path, json={"price_cents": 1}).status_code == 401
    changed = seller.call("PATCH", path, json={"price_cents": 750, "name": "Renamed"})
    assert changed.status_code == 200
    assert (changed.json()["price_cents"], changed.json()["name"]) == (750, "Renamed")
    assert changed.json()["version"] == product["version"] + 1
    assert admin().call("PATCH", path, json={"stock": 42}).json()["stock"] == 42
    assert seller.call("PATCH", path, json={"seller_id": other.id}).status_code == 422
    assert api("GET", path).json()["seller_id"] == seller.id
    wait_until(
        lambda: view_knows("product", product["id"], product["version"] + 2),
        timeout=10,
        what="product.updated",
    )

    # The replica that served the delete drops the product from its cache at once (another
    # replica's cached page lives out its second, docs/operations.md#replicas).
    one = one_gateway()
    assert api("GET", path, via=one).status_code == 200  # cached there now
    assert seller.call("DELETE", path, via=one).status_code == 204
    assert api("GET", path, via=one).status_code == 404
    wait_until(lambda: api("GET", path).status_code == 404, timeout=5, what="every replica's page to expire")


def test_a_product_page_comes_from_the_gateway_cache_and_is_never_more_than_the_ttl_stale(
    system: System,
) -> None:
    seller = register()
    product = create_product(seller, stock=5)
    path = f"/products/{product['id']}"
    # One gateway replica (each keeps its own cache; with one replica, the only one).
    one = one_gateway()

    assert [api("GET", path, via=one).headers["x-cache"] for _ in range(2)] == ["miss", "hit"]
    # Through this gateway a change shows at once (it drops what it changes from its cache).
    assert seller.call("PATCH", path, json={"stock": 6}, via=one).status_code == 200
    assert api("GET", path, via=one).json()["stock"] == 6

    # A change this gateway cannot see (another replica's), made straight through Dapr...
    def change_behind_the_gateway(stock: int) -> None:
        status, _ = invoke(
            "products",
            "PATCH",
            f"products/{product['id']}",
            json={"stock": stock},
            headers={"x-shop-user-id": seller.id, "x-shop-user-role": "customer"},
        )
        assert status == 200

    # ...shows once the cached page is product_cache_ttl_s (1 s) old,
    change_behind_the_gateway(7)
    wait_until(lambda: api("GET", path, via=one).json()["stock"] == 7, timeout=5, what="the page to expire")
    # and at once to a client sending Cache-Control: no-cache, whose fresh answer is then kept.
    change_behind_the_gateway(8)
    fresh = api("GET", path, headers={"Cache-Control": "no-cache"}, via=one)
    assert (fresh.json()["stock"], fresh.headers["x-cache"]) == (8, "bypass")
    assert (api("GET", path, via=one).json()["stock"], api("GET", path, via=one).headers["x-cache"]) == (
        8,
        "hit",
    )
