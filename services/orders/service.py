"""Order rules: stock is reserved in the products service before an order is confirmed, prices
are fixed at that moment, and every status change is versioned and published."""

import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, select, update
from sqlalchemy.exc import IntegrityError

from services.orders import events
from services.orders.models import NewOrder, order_lines, orders
from services.shared.calls import ReservationOutcome, ReservedLine
from services.shared.errors import ApiError
from services.shared.identity import Actor
from services.shared.timeutil import iso, utcnow

log = logging.getLogger(__name__)

# Deterministic order ids from Idempotency-Keys: the same key can only ever make one order.
IDEMPOTENCY_NAMESPACE = uuid.UUID("6f1c4a52-3b7e-4c0e-9d55-2f8b8a3e9c10")


def order_id_for(customer_id: str, idempotency_key: str | None) -> str:
    if idempotency_key is None:
        return str(uuid.uuid4())
    return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{customer_id}:{idempotency_key}"))


def snapshot(row: Mapping[Any, Any], lines: Sequence[Mapping[Any, Any]]) -> dict[str, Any]:
    """The order as the API and the events show it, from its row and its lines' rows."""
    return {
        "id": row["id"],
        "customer_id": row["customer_id"],
        "status": row["status"],
        "items": [
            {
                "product_id": line["product_id"],
                "quantity": line["quantity"],
                "unit_price_cents": line.get("unit_price_cents"),
                "product_name": line.get("product_name"),
                "seller_id": line.get("seller_id"),
            }
            for line in sorted(lines, key=lambda line: line["product_id"])
        ],
        "total_cents": row["total_cents"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
        "version": row["version"],
    }


def _read(conn: Connection, order_id: str, *, as_settled: bool = False) -> dict[str, Any] | None:
    """The order as it stands; `as_settled`: as it was when confirmed or rejected (what placing
    it answered), which differs only for an order cancelled since."""
    row = conn.execute(select(orders).where(orders.c.id == order_id)).one_or_none()
    if row is None:
        return None
    lines = conn.execute(select(order_lines).where(order_lines.c.order_id == order_id)).all()
    shown = snapshot(row._mapping, [line._mapping for line in lines])
    if as_settled and row.status == "cancelled":
        # Only a confirmed order is cancelled, and the cancel was its one change since.
        settled_at = iso(row.settled_at) if row.settled_at is not None else shown["updated_at"]
        shown.update(status="confirmed", version=row.version - 1, updated_at=settled_at)
    return shown


def _read_many(conn: Connection, order_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Several orders in the order of `order_ids` (absent ones left out): two queries, not two
    per order (a page of a listing, or of a read-model rebuild that reads every order)."""
    if not order_ids:
        return []
    rows = {row.id: row for row in conn.execute(select(orders).where(orders.c.id.in_(order_ids)))}
    lines: dict[str, list[Mapping[Any, Any]]] = {order_id: [] for order_id in rows}
    for line in conn.execute(select(order_lines).where(order_lines.c.order_id.in_(order_ids))):
        lines[line.order_id].append(line._mapping)
    return [snapshot(rows[i]._mapping, lines[i]) for i in order_ids if i in rows]


def find(engine: Engine, *, order_id: str, as_settled: bool = False) -> dict[str, Any] | None:
    with engine.connect() as conn:
        return _read(conn, order_id, as_settled=as_settled)


def visible(engine: Engine, *, actor: Actor, order_id: str) -> dict[str, Any]:
    """An order its customer (or an admin) may see; anyone else gets the same 404 as for none."""
    order = find(engine, order_id=order_id)
    if order is None or (order["customer_id"] != actor.id and not actor.is_admin):
        raise ApiError(404, "not_found", "order not found")
    return order


def record_pending(
    engine: Engine, *, order_id: str, customer_id: str, new: NewOrder
) -> tuple[dict[str, Any], bool]:
    """Writes the order before any stock is touched, so nothing reserved is ever orphaned.
    Returns the order and whether it is new (False: that order id was recorded before, and the
    order is returned as it was settled, the answer its placing gave)."""
    now = utcnow()
    row = {
        "id": order_id,
        "customer_id": customer_id,
        "status": "pending",
        "total_cents": 0,
        "created_at": now,
        "updated_at": now,
        "version": 1,
    }
    lines = [{"order_id": order_id, "product_id": i.product_id, "quantity": i.quantity} for i in new.items]
    try:
        with engine.begin() as conn:
            conn.execute(orders.insert().values(**row))
            conn.execute(order_lines.insert(), lines)
    except IntegrityError:  # the same Idempotency-Key again: the order exists
        existing = find(engine, order_id=order_id, as_settled=True)
        if existing is None:
            raise
        return existing, False
    return snapshot(row, lines), True


def settle(engine: Engine, *, pending: dict[str, Any], reservation: ReservationOutcome) -> dict[str, Any]:
    """Confirms or rejects a pending order from its reservation's outcome, with its event.

    `pending` is the order as recorded (record_pending's answer, or a read): it is not read
    again, since the update below only applies to an order still pending."""
    order_id = pending["id"]
    status = "confirmed" if reservation.status == "reserved" else "rejected"
    reserved = {line.product_id: line for line in reservation.lines}
    items = [{**item, **_as_sold(reserved[item["product_id"]])} for item in pending["items"]]
    total = sum(item["unit_price_cents"] * item["quantity"] for item in items)
    now = utcnow()
    with engine.begin() as conn:
        changed = conn.execute(
            update(orders)
            .where(orders.c.id == order_id, orders.c.status == "pending")
            .values(
                status=status, total_cents=total, updated_at=now, settled_at=now, version=orders.c.version + 1
            )
        ).rowcount
        if not changed:  # settled meanwhile (a retry and the stale-order sweep): as settled
            current = _read(conn, order_id, as_settled=True)
            assert current is not None
            return current
        for item in items:
            conn.execute(
                update(order_lines)
                .where(order_lines.c.order_id == order_id, order_lines.c.product_id == item["product_id"])
                .values({column: item[column] for column in SOLD})
            )
        # The order as just written, not read back.
        order = {
            **pending,
            "status": status,
            "items": items,
            "total_cents": total,
            "updated_at": iso(now),
            "version": pending["version"] + 1,
        }
        events.publish(conn, order)
    return order


# What an order line keeps of its product as sold, from the reservation's answer.
SOLD = ("unit_price_cents", "product_name", "seller_id")


def _as_sold(reserved: ReservedLine) -> dict[str, Any]:
    return {
        "unit_price_cents": reserved.unit_price_cents,
        "product_name": reserved.name,
        "seller_id": reserved.seller_id,
    }


def abandon(engine: Engine, *, order_id: str) -> None:
    """Removes a pending order whose lines named an unknown product (nothing was reserved)."""
    with engine.begin() as conn:
        conn.execute(order_lines.delete().where(order_lines.c.order_id == order_id))
        conn.execute(orders.delete().where(orders.c.id == order_id, orders.c.status == "pending"))


def mark_cancelled(engine: Engine, *, order_id: str) -> dict[str, Any]:
    with engine.begin() as conn:
        changed = conn.execute(
            update(orders)
            .where(orders.c.id == order_id, orders.c.status == "confirmed")
            .values(status="cancelled", updated_at=utcnow(), version=orders.c.version + 1)
        ).rowcount
        if not changed:
            raise ApiError(409, "not_cancellable", "only a confirmed order can be cancelled")
        order = _read(conn, order_id)
        assert order is not None
        events.publish(conn, order)
    return order


def page(engine: Engine, *, customer_id: str | None, limit: int, offset: int) -> dict[str, Any]:
    """Orders newest first: one customer's, or everyone's (admins, read-model rebuilds)."""
    where = [] if customer_id is None else [orders.c.customer_id == customer_id]
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(orders).where(*where)).scalar_one()
        ids = (
            conn.execute(
                select(orders.c.id)
                .where(*where)
                .order_by(orders.c.created_at.desc(), orders.c.id)
                .limit(limit)
                .offset(offset)
            )
            .scalars()
            .all()
        )
        items = _read_many(conn, ids)
    return {"items": items, "total": total, "limit": limit, "offset": offset}


def stale_pending(engine: Engine, *, older_than_s: float, limit: int = 50) -> list[dict[str, Any]]:
    """Pending orders whose placing request never finished (the products call failed)."""
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    with engine.connect() as conn:
        ids = (
            conn.execute(
                select(orders.c.id)
                .where(orders.c.status == "pending", orders.c.created_at < cutoff)
                .limit(limit)
            )
            .scalars()
            .all()
        )
        return _read_many(conn, ids)
