"""Order placement figures against the running shop: sustained orders/s as fast as it takes
them, and at a steady offered rate the time from each order's 201 to its document appearing in
the read model (order-view's FerretDB collection, read by _id: the cheap lookup both FerretDB
and MongoDB answer from an index, so the polling barely loads the system it measures)."""

import asyncio
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from pymongo import MongoClient

from bench.stats import percentile
from tests.e2e import shop
from tests.support import wait_until

GATEWAY = "http://127.0.0.1:8000/api"
MONGO_URL = "mongodb://127.0.0.1:27017"
# How often the read model is polled for each waiting order: the propagation figures' resolution.
# One _id lookup per waiting order per round (~10 waiting at 50 orders/s): a few hundred cheap
# queries a second on the system's CPU, a small part of what the orders themselves cost.
POLL_S = 0.02


def wait_for_rebuild(timeout: float) -> float:
    """Waits until order-view's start-up rebuild is done (before it, the read model is busy
    reading every order once); returns how long that took."""
    admin = shop.admin()
    started = time.perf_counter()
    wait_until(
        lambda: admin.call("GET", "/admin/read-model/status").json().get("state") == "done",
        timeout=timeout,
        interval=0.5,
        what="order-view's start-up rebuild to finish",
    )
    return time.perf_counter() - started


@dataclass
class Shoppers:
    """Buyers with tokens and products with stock enough for every order of the bench."""

    tokens: list[str]
    product_ids: list[str]

    @classmethod
    def create(cls, buyers: int = 20, products: int = 10) -> "Shoppers":
        admin = shop.admin()
        product_ids = [
            shop.create_product(admin, stock=1_000_000, price_cents=500 + i, name=f"Bench item {i}")["id"]
            for i in range(products)
        ]
        tokens = [shop.register(f"Bench buyer {i}").token for i in range(buyers)]
        return cls(tokens, product_ids)


@dataclass
class Placed:
    latencies_ms: list[float] = field(default_factory=list)
    # order id -> perf_counter() at its 201
    acknowledged: dict[str, float] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)

    def summary(self, seconds: float) -> dict[str, Any]:
        return {
            "orders": len(self.latencies_ms),
            "orders_per_s": round(len(self.latencies_ms) / seconds, 1),
            "p50_ms": _round(percentile(self.latencies_ms, 50)),
            "p99_ms": _round(percentile(self.latencies_ms, 99)),
            "failures": self.failures,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


async def _place(http: httpx.AsyncClient, shoppers: Shoppers, n: int, placed: Placed) -> None:
    body = {"items": [{"product_id": shoppers.product_ids[n % len(shoppers.product_ids)], "quantity": 1}]}
    headers = {
        "authorization": f"Bearer {shoppers.tokens[n % len(shoppers.tokens)]}",
        "idempotency-key": f"bench-{uuid.uuid4()}",
    }
    started = time.perf_counter()
    try:
        response = await http.post("/orders", json=body, headers=headers)
    except httpx.HTTPError as exc:
        placed.failures[type(exc).__name__] = placed.failures.get(type(exc).__name__, 0) + 1
        return
    done = time.perf_counter()
    if response.status_code != 201:
        key = str(response.status_code)
        placed.failures[key] = placed.failures.get(key, 0) + 1
        return
    placed.latencies_ms.append((done - started) * 1000)
    placed.acknowledged[response.json()["id"]] = done


def _client(connections: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(base_url=GATEWAY, timeout=30, limits=limits)


async def sustained(
    shoppers: Shoppers, *, seconds: float, concurrency: int
) -> tuple[dict[str, Any], list[str]]:
    """Closed loop: `concurrency` buyers each placing the next order as soon as one is answered.
    Returns the figures and the ids of the orders acknowledged."""
    placed = Placed()
    deadline = time.perf_counter() + seconds
    counter = iter(range(10**9))

    async def buyer() -> None:
        while time.perf_counter() < deadline:
            await _place(http, shoppers, next(counter), placed)

    async with _client(concurrency) as http:
        started = time.perf_counter()
        await asyncio.gather(*(buyer() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    figures = {"concurrency": concurrency, "seconds": round(elapsed, 1), **placed.summary(elapsed)}
    return figures, list(placed.acknowledged)


def drain(order_ids: list[str], *, timeout: float) -> float:
    """Waits until the read model holds every one of these orders (a backlog left by an
    overloading run must not count as the next run's propagation); returns the seconds taken."""
    client: MongoClient[dict[str, Any]] = MongoClient(MONGO_URL, serverSelectionTimeoutMS=3000)
    orders = client["order_view"]["orders"]
    missing = set(order_ids)
    started = time.perf_counter()
    try:

        def caught_up() -> bool:
            missing.difference_update(
                [oid for oid in list(missing) if orders.find_one({"_id": oid}, {"_id": 1})]
            )
            return not missing

        wait_until(
            caught_up, timeout=timeout, interval=0.5, what=f"the read model to hold {len(missing)} orders"
        )
    finally:
        client.close()
    return time.perf_counter() - started


class ReadModelWatcher:
    """Polls order-view's collection by _id for orders placed but not yet seen there."""

    def __init__(self, placed: Placed) -> None:
        self.placed = placed
        self.seen: dict[str, float] = {}
        self.stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._client: MongoClient[dict[str, Any]] = MongoClient(MONGO_URL, serverSelectionTimeoutMS=3000)

    def start(self) -> None:
        self._thread.start()

    def wait_all(self, timeout: float) -> None:
        deadline = time.perf_counter() + timeout
        while len(self.seen) < len(self.placed.acknowledged) and time.perf_counter() < deadline:
            time.sleep(0.05)
        self.stop.set()
        self._thread.join()
        self._client.close()

    def _run(self) -> None:
        orders = self._client["order_view"]["orders"]
        while not self.stop.is_set():
            round_started = time.perf_counter()
            for order_id in [oid for oid in list(self.placed.acknowledged) if oid not in self.seen]:
                if orders.find_one({"_id": order_id}, {"_id": 1}) is not None:
                    self.seen[order_id] = time.perf_counter()
            self.stop.wait(max(0.0, POLL_S - (time.perf_counter() - round_started)))


async def propagation(shoppers: Shoppers, *, rate: float, seconds: float) -> dict[str, Any]:
    """Open loop: one order every 1/rate s whatever the answers, then order 201 -> visible in
    the read model for each."""
    placed = Placed()
    watcher = ReadModelWatcher(placed)
    watcher.start()
    count = int(rate * seconds)
    async with _client(200) as http:
        started = time.perf_counter()

        async def at(n: int) -> None:
            await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
            await _place(http, shoppers, n, placed)

        await asyncio.gather(*(at(n) for n in range(count)))
        elapsed = time.perf_counter() - started
    await asyncio.to_thread(watcher.wait_all, 30)
    lags = [(watcher.seen[o] - t) * 1000 for o, t in placed.acknowledged.items() if o in watcher.seen]
    return {
        "offered_per_s": rate,
        "seconds": round(elapsed, 1),
        **placed.summary(elapsed),
        "propagated": len(lags),
        "not_propagated_within_30s": len(placed.acknowledged) - len(lags),
        "propagation_p50_ms": _round(percentile(lags, 50)),
        "propagation_p99_ms": _round(percentile(lags, 99)),
        "propagation_max_ms": _round(max(lags) if lags else None),
        "poll_interval_ms": POLL_S * 1000,
        "acknowledged_ids": list(placed.acknowledged),
    }
