"""Product rules: a marketplace where any customer sells, stock never negative, reservations
all-or-nothing and keyed by order so a retry never reserves twice. A seller's change is a
product event; stock an order takes or gives back is told by the order's events."""

import re
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Row, func, select, update
from sqlalchemy.exc import IntegrityError

from services.products.models import (
    NewProduct,
    ProductChanges,
    Reservation,
    outbox,
    products,
    reservation_lines,
    reservations,
)
from services.shared.errors import ApiError
from services.shared.identity import Actor
from services.shared.outbox import add_event
from services.shared.timeutil import iso, utcnow

TOPIC = "products"


def snapshot(row: Row[Any]) -> dict[str, Any]:
    """The product as the API and the events show it."""
    return {
        "id": row.id,
        "seller_id": row.seller_id,
        "name": row.name,
        "description": row.description,
        "price_cents": row.price_cents,
        "stock": row.stock,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "version": row.version,
        "deleted": row.deleted_at is not None,
    }


def _load(conn: Connection, product_id: str, *, lock: bool = False) -> Row[Any]:
    query = select(products).where(products.c.id == product_id, products.c.deleted_at.is_(None))
    row = conn.execute(query.with_for_update() if lock else query).one_or_none()
    if row is None:
        raise ApiError(404, "not_found", "product not found")
    return row


def _publish(conn: Connection, product_id: str, event_type: str) -> dict[str, Any]:
    row = conn.execute(select(products).where(products.c.id == product_id)).one()
    data = snapshot(row)
    add_event(conn, outbox, topic=TOPIC, event_type=event_type, data=data)
    return data


def create(engine: Engine, *, seller: Actor, new: NewProduct) -> dict[str, Any]:
    """Lists a product for sale; the seller is always the caller."""
    now = utcnow()
    product_id = str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(
            products.insert().values(
                id=product_id,
                seller_id=seller.id,
                **new.model_dump(),
                created_at=now,
                updated_at=now,
                version=1,
            )
        )
        return _publish(conn, product_id, "product.created")


def get(engine: Engine, *, product_id: str) -> dict[str, Any]:
    with engine.connect() as conn:
        return snapshot(_load(conn, product_id))


def page(
    engine: Engine,
    *,
    limit: int,
    offset: int,
    include_deleted: bool = False,
    q: str | None = None,
    seller_id: str | None = None,
) -> dict[str, Any]:
    """Products for sale, newest first (with deleted ones too, for rebuilding read models);
    with `q`, only those whose name has every word of it (see name_search); with `seller_id`,
    one seller's."""
    where: list[ColumnElement[bool]] = [] if include_deleted else [products.c.deleted_at.is_(None)]
    if q is not None:
        where.extend(name_search(q))
    if seller_id is not None:
        where.append(products.c.seller_id == seller_id)
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(products).where(*where)).scalar_one()
        rows = conn.execute(
            select(products)
            .where(*where)
            .order_by(products.c.created_at.desc(), products.c.id)
            .limit(limit)
            .offset(offset)
        ).all()
    return {"items": [snapshot(row) for row in rows], "total": total, "limit": limit, "offset": offset}


# InnoDB's FULLTEXT index holds words of 3 characters or more (innodb_ft_min_token_size).
MIN_INDEXED_WORD = 3
MAX_SEARCH_WORDS = 8


def name_search(q: str) -> list[ColumnElement[bool]]:
    """Conditions finding the names that contain a word starting with each word of `q`, through
    the FULLTEXT index on names (migration 0003). Words shorter than the index holds narrow down
    what the longer ones found; a search made of short words only is refused, since it could
    only be answered by reading every product. Letters and digits only reach the query, so no
    search operator can be smuggled in."""
    words = re.findall(r"[^\W_]+", q.lower())[:MAX_SEARCH_WORDS]
    indexed = [word for word in words if len(word) >= MIN_INDEXED_WORD]
    if not indexed:
        raise ApiError(
            422, "search_too_short", f"search for at least one word of {MIN_INDEXED_WORD} letters or more"
        )
    conditions = [products.c.name.match(" ".join(f"+{word}*" for word in indexed))]
    conditions.extend(products.c.name.contains(word) for word in words if len(word) < MIN_INDEXED_WORD)
    return conditions


def batch(engine: Engine, *, ids: list[str]) -> list[dict[str, Any]]:
    """Many products in one query, deleted ones included (orders still name them)."""
    with engine.connect() as conn:
        rows = conn.execute(select(products).where(products.c.id.in_(set(ids)))).all()
    return [snapshot(row) for row in rows]


def _authorize(actor: Actor, row: Row[Any]) -> None:
    if row.seller_id != actor.id and not actor.is_admin:
        raise ApiError(403, "forbidden", "only the seller or an admin may change this product")


def change(engine: Engine, *, actor: Actor, product_id: str, changes: ProductChanges) -> dict[str, Any]:
    with engine.begin() as conn:
        _authorize(actor, _load(conn, product_id, lock=True))
        conn.execute(
            update(products)
            .where(products.c.id == product_id)
            .values(
                **changes.model_dump(exclude_unset=True), updated_at=utcnow(), version=products.c.version + 1
            )
        )
        return _publish(conn, product_id, "product.updated")


def delete(engine: Engine, *, actor: Actor, product_id: str) -> None:
    """Takes a product off sale (kept, so past orders still show it)."""
    with engine.begin() as conn:
        _authorize(actor, _load(conn, product_id, lock=True))
        now = utcnow()
        conn.execute(
            update(products)
            .where(products.c.id == product_id)
            .values(deleted_at=now, updated_at=now, version=products.c.version + 1)
        )
        _publish(conn, product_id, "product.deleted")


def reserve(engine: Engine, *, reservation: Reservation) -> dict[str, Any]:
    """Reserves the stock of every line, or none. The same order id always gets the same answer."""
    try:
        with engine.begin() as conn:
            stored = _stored_reservation(conn, reservation.order_id)
            if stored is not None:
                return stored
            return _reserve(conn, reservation)
    except IntegrityError:  # the same order reserved concurrently: the other attempt won
        with engine.connect() as conn:
            stored = _stored_reservation(conn, reservation.order_id)
        if stored is None:
            raise
        return stored


def _reserve(conn: Connection, reservation: Reservation) -> dict[str, Any]:
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


def _stored_reservation(conn: Connection, order_id: str) -> dict[str, Any] | None:
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


def _result(order_id: str, status: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
    """What a reservation answers: per line the price it fixed, and the product's name and
    seller, so the order (and whoever reads its events) need not ask products again."""
    return {
        "order_id": order_id,
        "status": status,
        "lines": [
            {
                "product_id": line["product_id"],
                "quantity": line["quantity"],
                "unit_price_cents": line["unit_price_cents"],
                "name": line["name"],
                "seller_id": line["seller_id"],
            }
            for line in lines
        ],
    }


def release(engine: Engine, *, order_id: str) -> dict[str, Any]:
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
