"""Product rules: a marketplace where any customer sells; a seller's change is versioned and
published as a product event. Reserving stock for orders is in reserving.py."""

import re
import uuid
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Row, func, select, update

from services.products import events
from services.products.models import NewProduct, ProductChanges, products
from services.shared.errors import ApiError
from services.shared.identity import Actor
from services.shared.integration_events import (
    ProductCreated,
    ProductDeleted,
    ProductEvent,
    ProductUpdated,
)
from services.shared.timeutil import iso, utcnow


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


def _publish(conn: Connection, product_id: str, kind: type[ProductEvent]) -> dict[str, Any]:
    """Queues the product as it now stands as `kind` of event; returns it as shown."""
    shown = snapshot(conn.execute(select(products).where(products.c.id == product_id)).one())
    events.publish(conn, kind, shown)
    return shown


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
        return _publish(conn, product_id, ProductCreated)


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
        return _publish(conn, product_id, ProductUpdated)


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
        _publish(conn, product_id, ProductDeleted)
