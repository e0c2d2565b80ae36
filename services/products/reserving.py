"""Reserving stock for orders: all lines or none, never below zero, keyed by the order so a
retry never reserves twice and always gets the same answer. The orders service calls it while
it places an order (services/orders/placing.py) and when one is cancelled. Stock moved here is
no product event: the order's own events name the products and quantities."""

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.exc import IntegrityError

from services.products.models import products, reservation_lines, reservations
from services.shared.calls import Reservation, ReservationOutcome, ReservedLine
from services.shared.errors import ApiError
from services.shared.timeutil import utcnow


def reserve(engine: Engine, *, reservation: Reservation) -> ReservationOutcome:
    """Reserves the stock of every line, or none. The same order id always gets the same answer.

    A first attempt is by far the common case, so it is not looked up first: a repeated one
    fails on the reservation's key (or, its product deleted since, as unknown) before any stock
    moves, and is answered from what the first stored."""
    try:
        with engine.begin() as conn:
            return _reserve(conn, reservation)
    except (IntegrityError, ApiError):  # reserved before (a retry, or concurrently): that answer
        with engine.connect() as conn:
            stored = _stored_reservation(conn, reservation.order_id)
        if stored is None:
            raise
        return stored


def _reserve(conn: Connection, reservation: Reservation) -> ReservationOutcome:
    ids = sorted(line.product_id for line in reservation.lines)
    # Lock in id order, so concurrent reservations of overlapping products cannot deadlock.
    rows = conn.execute(
        select(products)
        .where(products.c.id.in_(ids), products.c.deleted_at.is_(None))
        .order_by(products.c.id)
        .with_for_update()
    ).all()
    found = {row.id: row for row in rows}
    unknown = [product_id for product_id in ids if product_id not in found]
    if unknown:
        raise ApiError(422, "unknown_product", f"unknown product: {', '.join(unknown)}")
    now = utcnow()
    short = [line.product_id for line in reservation.lines if found[line.product_id].stock < line.quantity]
    status = "rejected" if short else "reserved"
    conn.execute(
        reservations.insert().values(
            order_id=reservation.order_id, status=status, created_at=now, updated_at=now
        )
    )
    lines = [
        {
            "order_id": reservation.order_id,
            "product_id": line.product_id,
            "quantity": line.quantity,
            "unit_price_cents": found[line.product_id].price_cents,
        }
        for line in reservation.lines
    ]
    conn.execute(reservation_lines.insert(), lines)
    for sold in lines:
        product = found[sold["product_id"]]
        sold.update(name=product.name, seller_id=product.seller_id)
    if status == "reserved":
        for line in reservation.lines:
            _move_stock(conn, line.product_id, -line.quantity, now)
    return _result(reservation.order_id, status, lines)


def _move_stock(conn: Connection, product_id: str, delta: int, now: datetime) -> None:
    """Stock taken by a reservation or given back by a release. Not a product.updated event:
    the order's own events (order.confirmed, order.cancelled) name the products and quantities,
    and a product event per order doubled the events of every order for consumers that show
    no stock (order-view keeps names, notifications nothing of products)."""
    conn.execute(
        update(products)
        .where(products.c.id == product_id)
        .values(stock=products.c.stock + delta, updated_at=now, version=products.c.version + 1)
    )


def _stored_reservation(conn: Connection, order_id: str) -> ReservationOutcome | None:
    row = conn.execute(select(reservations).where(reservations.c.order_id == order_id)).one_or_none()
    if row is None:
        return None
    return _result(order_id, row.status, _lines_of(conn, order_id))


def _lines_of(conn: Connection, order_id: str) -> list[dict[str, Any]]:
    """A reservation's lines with their products' names and sellers."""
    query = (
        select(reservation_lines, products.c.name, products.c.seller_id)
        .join(products, products.c.id == reservation_lines.c.product_id)
        .where(reservation_lines.c.order_id == order_id)
        .order_by(reservation_lines.c.product_id)
    )
    return [row._asdict() for row in conn.execute(query)]


def _result(order_id: str, status: str, lines: list[dict[str, Any]]) -> ReservationOutcome:
    """What a reservation answers: per line the price it fixed, and the product's name and
    seller, so the order (and whoever reads its events) need not ask products again."""
    return ReservationOutcome.model_validate(
        {
            "order_id": order_id,
            "status": status,
            "lines": [
                ReservedLine(
                    product_id=line["product_id"],
                    quantity=line["quantity"],
                    unit_price_cents=line["unit_price_cents"],
                    name=line["name"],
                    seller_id=line["seller_id"],
                )
                for line in lines
            ],
        }
    )


def release(engine: Engine, *, order_id: str) -> ReservationOutcome:
    """Gives a reserved order's stock back, once; releasing again changes nothing."""
    with engine.begin() as conn:
        row = conn.execute(
            select(reservations).where(reservations.c.order_id == order_id).with_for_update()
        ).one_or_none()
        if row is None:
            raise ApiError(404, "not_found", "no reservation for that order")
        lines = _lines_of(conn, order_id)
        if row.status == "reserved":
            now = utcnow()
            for line in lines:
                _move_stock(conn, line["product_id"], line["quantity"], now)
            conn.execute(
                update(reservations)
                .where(reservations.c.order_id == order_id)
                .values(status="released", updated_at=now)
            )
            return _result(order_id, "released", lines)
        return _result(order_id, row.status, lines)
