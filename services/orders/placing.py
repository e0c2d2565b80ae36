"""Placing and cancelling orders: the steps that cross into the products service.

An order is written as `pending` first, then its stock is reserved (idempotently, keyed by the
order id), then it is settled `confirmed` or `rejected` with its event. If the products call
fails midway, the pending order is settled later by `settle_stale_orders`, which repeats the
same reservation: nothing is reserved twice and no reservation is left without its order.
"""

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from services.orders import service
from services.orders.models import NewOrder
from services.shared.calls import Reservation, ReservationLine, ReservationOutcome
from services.shared.dapr import DaprSidecar, ServiceUnavailable, answer_of
from services.shared.errors import ApiError
from services.shared.identity import Actor

log = logging.getLogger(__name__)


async def _reserve(dapr: DaprSidecar, reservation: Reservation) -> ReservationOutcome:
    response = await dapr.invoke("products", "POST", "reservations", json=reservation.model_dump(mode="json"))
    if response.status_code == 422:
        body = response.json()
        raise ApiError(422, body.get("code", "unknown_product"), body.get("detail", "unknown product"))
    if response.status_code != 200:
        raise ServiceUnavailable("products", f"reservation answered {response.status_code}")
    return answer_of(response, ReservationOutcome, target="products")


def _reservation(order_id: str, lines: Iterable[tuple[str, int]]) -> Reservation:
    """The reservation of an order's (product id, quantity) lines."""
    return Reservation(
        order_id=order_id,
        lines=[ReservationLine(product_id=product_id, quantity=quantity) for product_id, quantity in lines],
    )


def _status_of(order: dict[str, Any]) -> int:
    return 409 if order["status"] == "rejected" else 201


async def place(
    engine: Engine, dapr: DaprSidecar, *, actor: Actor, new: NewOrder, idempotency_key: str | None
) -> tuple[int, dict[str, Any]]:
    """Places an order; returns (HTTP status, body). A repeated Idempotency-Key gets the first answer.

    The key names the order (its id is derived from it), so the first answer is rebuilt from the
    order itself: as it was settled, confirmed (201) or rejected (409). Nothing else is kept for
    it: writing each answer to the state store cost an order about 2 ms of CPU (app, sidecar,
    Redis), and it expired after a day where the order does not."""
    order_id = service.order_id_for(actor.id, idempotency_key)
    order, _ = await run_in_threadpool(
        service.record_pending, engine, order_id=order_id, customer_id=actor.id, new=new
    )
    if (
        order["customer_id"] != actor.id
    ):  # a uuid5 collision across customers cannot happen; be explicit anyway
        raise ApiError(409, "conflict", "idempotency key already used")
    if order["status"] == "pending":  # new, or its first request never got to settle it
        asked = _reservation(order_id, ((line.product_id, line.quantity) for line in new.items))
        try:
            reservation = await _reserve(dapr, asked)
        except ApiError:
            await run_in_threadpool(service.abandon, engine, order_id=order_id)
            raise
        order = await run_in_threadpool(service.settle, engine, pending=order, reservation=reservation)
    status = _status_of(order)
    return status, order if status == 201 else _rejection(order)


def _rejection(order: dict[str, Any]) -> dict[str, Any]:
    return {
        "detail": "not enough stock for this order",
        "code": "insufficient_stock",
        "order_id": order["id"],
    }


async def cancel(engine: Engine, dapr: DaprSidecar, *, actor: Actor, order_id: str) -> dict[str, Any]:
    """Cancels a confirmed order: the stock goes back first, then the order changes status."""
    order = await run_in_threadpool(service.visible, engine, actor=actor, order_id=order_id)
    if order["status"] != "confirmed":
        raise ApiError(409, "not_cancellable", f"a {order['status']} order cannot be cancelled")
    response = await dapr.invoke("products", "POST", f"reservations/{order_id}/release")
    if response.status_code != 200:
        raise ServiceUnavailable("products", f"release answered {response.status_code}")
    answer_of(response, ReservationOutcome, target="products")  # a broken products answers 503
    return await run_in_threadpool(service.mark_cancelled, engine, order_id=order_id)


async def settle_stale_orders(
    engine: Engine, dapr: DaprSidecar, *, older_than_s: float = 10, every_s: float = 5
) -> None:
    """Background task: settles orders left pending by a failed products call."""
    while True:
        await asyncio.sleep(every_s)
        try:
            for order in await run_in_threadpool(service.stale_pending, engine, older_than_s=older_than_s):
                asked = _reservation(order["id"], ((i["product_id"], i["quantity"]) for i in order["items"]))
                try:
                    reservation = await _reserve(dapr, asked)
                except ApiError:
                    await run_in_threadpool(service.abandon, engine, order_id=order["id"])
                    continue
                settled = await run_in_threadpool(
                    service.settle, engine, pending=order, reservation=reservation
                )
                log.info(
                    "pending order settled", extra={"order_id": order["id"], "status": settled["status"]}
                )
        except Exception as exc:  # products or the database still down: try again next round
            log.warning("cannot settle pending orders yet", extra={"error": str(exc)})
