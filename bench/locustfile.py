"""Simulated shoppers for `make load` (Locust, headless), against a running shop (`make run`).

Each shopper registers and logs in, then browses much more than it buys, with the proportions
of Google's Online Boutique load generator (browse a product 10, the catalogue 1, "cart" views
3, checkout 1): view a product 10, list products 2, list my orders 3, open one of my orders 2,
place an order (with an Idempotency-Key) 2, cancel one of my confirmed orders 1. Before the
first shopper starts, the admin (.run/secrets.json) lists products with stock to buy.

    make load USERS=50 DURATION=60s         (SHOPPER_WAIT="1,10": seconds between a user's tasks)
"""

import logging
import os
import random
import uuid
from typing import Any

from locust import HttpUser, between, events, task

from harness import shop

PRODUCTS = int(os.environ.get("LOAD_PRODUCTS", "20"))
WAIT_MIN, WAIT_MAX = (float(s) for s in os.environ.get("SHOPPER_WAIT", "1,10").split(","))
product_ids: list[str] = []
# The setup's requests go through httpx (harness/shop.py), which logs each at INFO.
logging.getLogger("httpx").setLevel(logging.WARNING)


@events.test_start.add_listener
def stock_the_shop(**_: Any) -> None:
    """Once per run: the admin lists PRODUCTS products with stock no run can exhaust."""
    admin = shop.admin()
    for i in range(PRODUCTS):
        product = shop.create_product(admin, stock=1_000_000, price_cents=199 + 100 * i, name=f"Item {i}")
        product_ids.append(product["id"])
    print(f"[load] the admin listed {PRODUCTS} products with stock", flush=True)


class Shopper(HttpUser):
    wait_time = between(WAIT_MIN, WAIT_MAX)

    def on_start(self) -> None:
        email = f"shopper-{uuid.uuid4().hex[:12]}@example.com"
        password = "a-shopper-password"
        self.client.post("/api/auth/register", json={"email": email, "password": password, "name": "Shopper"})
        response = self.client.post("/api/auth/login", json={"email": email, "password": password})
        self.client.headers["authorization"] = f"Bearer {response.json()['access_token']}"
        self.confirmed: list[str] = []
        self.orders: list[str] = []

    @task(10)
    def view_product(self) -> None:
        self.client.get(f"/api/products/{random.choice(product_ids)}", name="/api/products/{id}")

    @task(2)
    def browse_catalogue(self) -> None:
        offset = random.randrange(0, 60, 20)
        self.client.get(f"/api/products?limit=20&offset={offset}", name="/api/products?limit&offset")

    @task(3)
    def my_orders(self) -> None:
        self.client.get("/api/orders?limit=20", name="/api/orders")

    @task(2)
    def one_order(self) -> None:
        if self.orders:
            self.client.get(f"/api/orders/{random.choice(self.orders)}", name="/api/orders/{id}")

    @task(2)
    def place_order(self) -> None:
        lines = random.sample(product_ids, k=random.randint(1, 3))
        body = {"items": [{"product_id": pid, "quantity": random.randint(1, 3)} for pid in lines]}
        headers = {"idempotency-key": f"load-{uuid.uuid4()}"}
        with self.client.post("/api/orders", json=body, headers=headers, catch_response=True) as response:
            if response.status_code != 201:
                response.failure(f"{response.status_code}: {response.text[:200]}")
                return
            order_id = response.json()["id"]
        self.orders.append(order_id)
        self.confirmed.append(order_id)

    @task(1)
    def cancel_one(self) -> None:
        if self.confirmed:
            order_id = self.confirmed.pop(random.randrange(len(self.confirmed)))
            self.client.post(f"/api/orders/{order_id}/cancel", name="/api/orders/{id}/cancel")
