"""Customer rules: one profile per email, every change versioned and published."""

from typing import Any

from sqlalchemy import Engine, Row, func, select, update
from sqlalchemy.exc import IntegrityError

from services.customers import events
from services.customers.models import CustomerChanges, customers
from services.shared.calls import NewCustomer
from services.shared.errors import ApiError
from services.shared.integration_events import CustomerRegistered, CustomerUpdated
from services.shared.timeutil import iso, utcnow


def snapshot(row: Row[Any]) -> dict[str, Any]:
    """The customer as the API and the events show it."""
    return {
        "id": row.id,
        "email": row.email,
        "name": row.name,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "version": row.version,
    }


def register(engine: Engine, *, new: NewCustomer) -> dict[str, Any]:
    """Creates the profile and queues `customer.registered`, atomically."""
    now = utcnow()
    values = {
        "id": new.id,
        "email": new.email.lower(),
        "name": new.name,
        "created_at": now,
        "updated_at": now,
    }
    try:
        with engine.begin() as conn:
            conn.execute(customers.insert().values(**values, version=1))
            row = conn.execute(select(customers).where(customers.c.id == new.id)).one()
            events.publish(conn, CustomerRegistered, snapshot(row))
    except IntegrityError as exc:
        existing = find(engine, customer_id=new.id)
        if existing is not None and existing["email"] == values["email"]:
            return existing  # a retried registration: same id, same email
        raise ApiError(409, "email_taken", "that email is already registered") from exc
    return snapshot(row)


def find(engine: Engine, *, customer_id: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(customers).where(customers.c.id == customer_id)).one_or_none()
    return None if row is None else snapshot(row)


def get(engine: Engine, *, customer_id: str) -> dict[str, Any]:
    found = find(engine, customer_id=customer_id)
    if found is None:
        raise ApiError(404, "not_found", "customer not found")
    return found


def change(engine: Engine, *, customer_id: str, changes: CustomerChanges) -> dict[str, Any]:
    """Renames a customer, bumping its version and queueing `customer.updated`."""
    with engine.begin() as conn:
        result = conn.execute(
            update(customers)
            .where(customers.c.id == customer_id)
            .values(name=changes.name, updated_at=utcnow(), version=customers.c.version + 1)
        )
        if result.rowcount == 0:
            raise ApiError(404, "not_found", "customer not found")
        row = conn.execute(select(customers).where(customers.c.id == customer_id)).one()
        events.publish(conn, CustomerUpdated, snapshot(row))
    return snapshot(row)


def batch(engine: Engine, *, ids: list[str]) -> list[dict[str, Any]]:
    """Many customers in one query (order-view and the live fallback use it)."""
    with engine.connect() as conn:
        rows = conn.execute(select(customers).where(customers.c.id.in_(set(ids)))).all()
    return [snapshot(row) for row in rows]


def page(engine: Engine, *, limit: int, offset: int) -> dict[str, Any]:
    """All customers, oldest first, for rebuilding read models."""
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(customers)).scalar_one()
        rows = conn.execute(
            select(customers).order_by(customers.c.created_at, customers.c.id).limit(limit).offset(offset)
        ).all()
    return {"items": [snapshot(row) for row in rows], "total": total, "limit": limit, "offset": offset}
