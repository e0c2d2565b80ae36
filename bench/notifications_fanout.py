"""Bounded fan-out check of the notifications service (`make fanout`, the system running).

Connects CLIENTS buyers over WebSocket (plus the seller), has every buyer place ORDERS_EACH
orders at FANOUT_RATE orders/s (0 = a burst), and measures how many notifications per second
the service pushes to the connected clients (first to last message) and the time from each
order's 201 to its buyer receiving `order.confirmed`.
Loopback only; stops by itself (at most DEADLINE_S).
"""

import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

from bench.stats import percentile

GATEWAY = "http://127.0.0.1:8000/api"
WS = "ws://127.0.0.1:8001/ws"
CLIENTS = int(os.environ.get("FANOUT_CLIENTS", "200"))
ORDERS_EACH = int(os.environ.get("FANOUT_ORDERS_EACH", "3"))
CONCURRENCY = int(os.environ.get("FANOUT_CONCURRENCY", "16"))
# Orders per second; 0 places them as fast as the system takes them (a burst).
RATE = float(os.environ.get("FANOUT_RATE", "20"))
DEADLINE_S = float(os.environ.get("FANOUT_DEADLINE_S", "300"))


async def account(http: httpx.AsyncClient, name: str) -> tuple[str, str]:
    email = f"fanout-{uuid.uuid4().hex[:10]}@example.com"
    r = await http.post("/auth/register", json={"email": email, "password": "fanout-password", "name": name})
    r.raise_for_status()
    r = await http.post("/auth/login", json={"email": email, "password": "fanout-password"})
    r.raise_for_status()
    return r.json()["access_token"], email


async def main() -> int:
    limits = httpx.Limits(max_connections=CONCURRENCY * 2)
    async with httpx.AsyncClient(base_url=GATEWAY, timeout=30, limits=limits) as http:
        print(f"[fanout] registering 1 seller and {CLIENTS} buyers ...", flush=True)
        sem = asyncio.Semaphore(CONCURRENCY)

        async def limited(coro):  # type: ignore[no-untyped-def]
            async with sem:
                return await coro

        seller_token, _ = await account(http, "Fanout seller")
        buyers = await asyncio.gather(*(limited(account(http, f"Buyer {i}")) for i in range(CLIENTS)))
        r = await http.post(
            "/products",
            json={"name": "Fan-out widget", "price_cents": 100, "stock": CLIENTS * ORDERS_EACH + 10},
            headers={"authorization": f"Bearer {seller_token}"},
        )
        r.raise_for_status()
        product_id = r.json()["id"]

        received: dict[str, float] = {}
        window: list[float] = []
        counts = {"messages": 0}
        sockets = []
        for token, _ in [(seller_token, None), *buyers]:
            ws = await connect(f"{WS}?token={token}", open_timeout=10, max_queue=None)
            assert json.loads(await ws.recv()) == {"event": "authorized"}
            sockets.append(ws)
        print(
            f"[fanout] {len(sockets)} clients connected; placing {CLIENTS * ORDERS_EACH} orders", flush=True
        )

        async def listen(ws) -> None:  # type: ignore[no-untyped-def]
            async for raw in ws:
                message = json.loads(raw)
                if message.get("event") == "notification":
                    counts["messages"] += 1
                    window.append(time.perf_counter())
                    if message["data"]["type"] == "order.confirmed":
                        received[message["data"]["order_id"]] = time.perf_counter()

        listeners = [asyncio.create_task(listen(ws)) for ws in sockets]
        acknowledged: dict[str, float] = {}

        async def order(token: str) -> None:
            async with sem:
                r = await http.post(
                    "/orders",
                    json={"items": [{"product_id": product_id, "quantity": 1}]},
                    headers={"authorization": f"Bearer {token}"},
                )
            if r.status_code == 201:
                acknowledged[r.json()["id"]] = time.perf_counter()

        async def paced(i: int, token: str) -> None:
            if RATE > 0:
                await asyncio.sleep(i / RATE)
            await order(token)

        started = time.perf_counter()
        tokens = [token for token, _ in buyers for _ in range(ORDERS_EACH)]
        await asyncio.gather(*(paced(i, token) for i, token in enumerate(tokens)))
        expected = CLIENTS * ORDERS_EACH * 2  # buyer's confirmation + the seller's sale
        deadline = started + DEADLINE_S
        while counts["messages"] < expected and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
        for task in listeners:
            task.cancel()
        for ws in sockets:
            await ws.close()

    latencies = [max(0.0, received[o] - t) * 1000 for o, t in acknowledged.items() if o in received]
    result = {
        "clients": len(sockets),
        "orders_acknowledged": len(acknowledged),
        "notifications_expected": expected,
        "notifications_received": counts["messages"],
        "orders_per_s_offered": RATE or "burst",
        "seconds": round(elapsed, 2),
        "notifications_per_s": round(counts["messages"] / max(window[-1] - window[0], 1e-9), 1)
        if window
        else 0,
        "p50_ms_201_to_message": round(statistics.median(latencies), 1) if latencies else None,
        "p99_ms_201_to_message": round(p99, 1) if (p99 := percentile(latencies, 99)) is not None else None,
    }
    print(json.dumps(result, indent=2))
    out = Path(__file__).parent / "results" / "notifications_fanout.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"[fanout] written to {out}")
    return 0 if counts["messages"] >= expected else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
