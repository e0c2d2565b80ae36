"""What order-view does with each CloudEvent Dapr delivers (components/subscriptions/).

Delivery is at least once and in no guaranteed order, so every write is guarded by the entity's
version: a duplicate, or an event older than what is stored, changes nothing. A dependency that is
down answers RETRY (Dapr redelivers, then dead-letters); an event that can never be applied
answers DROP, which Dapr forwards to the dead-letter topic; every DROP is logged with its reason.
"""

import logging
from typing import Any

from pymongo.errors import PyMongoError
from starlette.concurrency import run_in_threadpool

from services.order_view.store import ReadModelStore
from services.shared.dapr import DaprSidecar, ServiceUnavailable, batch_lookup
from services.shared.events import Outcome
from services.shared.order_document import compose

log = logging.getLogger(__name__)

# The fields of a customer or product that order documents show (services/shared/order_document.py).
SHOWN = {"customer": ("name", "email"), "product": ("name", "seller_id")}


class Unprocessable(Exception):
    """The event can never be applied (malformed, or names what does not exist)."""


async def fetch_related(
    dapr: DaprSidecar, store: ReadModelStore, orders: list[dict[str, Any]]
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Customers and products of some orders. The snapshots order-view keeps from their own
    events come first; only the ones it has not seen yet (an order's event delivered before its
    customer's) are asked of the owning service, one batch call each. As current as asking every
    time: a change still on its way renames the documents when its event arrives
    (`_catch_up_renames` covers a document saved meanwhile), and asking for every order cost two
    invocations, each through two sidecars, a third of what order-view spent per order."""
    customer_ids = sorted({order["customer_id"] for order in orders})
    product_ids = sorted({line["product_id"] for order in orders for line in order["items"]})
    known_customers = await _known(store, "customer", customer_ids)
    known_products = await _known(store, "product", product_ids)
    customers = await batch_lookup(dapr, "customers", [i for i in customer_ids if i not in known_customers])
    products = await batch_lookup(dapr, "products", [i for i in product_ids if i not in known_products])
    return _newest(customers, known_customers), _newest(products, known_products)


async def _known(store: ReadModelStore, kind: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    """Snapshots held in memory, the others (if any) from the database on a worker thread: a
    thread hand-off costs about as much as the lookup itself, and most events need none."""
    found = store.recall(kind, ids)
    if missing := [entity_id for entity_id in ids if entity_id not in found]:
        found.update(await run_in_threadpool(store.known, kind, missing))
    return found


def _newest(
    fetched: dict[str, dict[str, Any]], known: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    merged = dict(fetched)
    for entity_id, snapshot in known.items():
        if entity_id not in merged or snapshot.get("version", 0) > merged[entity_id].get("version", 0):
            merged[entity_id] = snapshot
    return merged


def shown_versions(
    order: dict[str, Any], customers: dict[str, dict[str, Any]], products: dict[str, dict[str, Any]]
) -> dict[str, int]:
    """The versions of the snapshots an order's document shows: of its customer ("customer")
    and of each product (by id)."""
    versions = {"customer": int(customers.get(order["customer_id"], {}).get("version", 0))}
    for line in order["items"]:
        versions[line["product_id"]] = int(products.get(line["product_id"], {}).get("version", 0))
    return versions


async def apply_order(dapr: DaprSidecar, store: ReadModelStore, order: dict[str, Any]) -> bool:
    """Builds and stores an order's document, unless the stored one is as new (the write is
    guarded by version)."""
    customers, products = await fetch_related(dapr, store, [order])
    document = compose(order, customers.get(order["customer_id"]), products)
    saved = await run_in_threadpool(store.save_order, document, shown_versions(order, customers, products))
    # A rename applied (by any replica) while this document was being built, or one this
    # replica's memory has not seen, must not leave it showing the old name.
    if saved and await run_in_threadpool(store.renames_since_synced):
        await _catch_up_renames(store, order, customers, products)
    return saved


async def _catch_up_renames(
    store: ReadModelStore,
    order: dict[str, Any],
    customers: dict[str, dict[str, Any]],
    products: dict[str, dict[str, Any]],
) -> None:
    """Rewrites the names a just-saved document shows when a newer snapshot changed them.

    Only a changed shown field counts, not a newer version: every reservation bumps a product's
    version, so under load a newer snapshot (a stock change) arrives for almost every order,
    and a rename scans every order document on FerretDB."""
    used_customer = customers.get(order["customer_id"], {})
    for snapshot in (await _known(store, "customer", [order["customer_id"]])).values():
        if _shows_newer(snapshot, used_customer, SHOWN["customer"]):
            await run_in_threadpool(store.rename_customer, snapshot)
    known_products = await _known(store, "product", list(products))
    for product_id, snapshot in known_products.items():
        if _shows_newer(snapshot, products[product_id], SHOWN["product"]):
            await run_in_threadpool(store.rename_product, snapshot)


def _shows_newer(snapshot: dict[str, Any], used: dict[str, Any], shown: tuple[str, ...]) -> bool:
    """Whether a snapshot is newer than the one a document was built from and changes what it shows."""
    return snapshot.get("version", 0) > used.get("version", 0) and any(
        snapshot.get(field) != used.get(field) for field in shown
    )


async def _apply(dapr: DaprSidecar, store: ReadModelStore, event_type: str, data: dict[str, Any]) -> None:
    if event_type.startswith("order."):
        await apply_order(dapr, store, data)
    elif event_type.startswith("customer."):
        if await _remember_if_shown_fields_changed(store, "customer", data, SHOWN["customer"]):
            await run_in_threadpool(store.rename_customer, data)
    elif event_type.startswith("product."):
        if await _remember_if_shown_fields_changed(store, "product", data, SHOWN["product"]):
            await run_in_threadpool(store.rename_product, data)
    else:
        raise Unprocessable(f"unknown event type {event_type}")


async def _remember_if_shown_fields_changed(
    store: ReadModelStore, kind: str, snapshot: dict[str, Any], shown: tuple[str, ...]
) -> bool:
    """Keeps a newer snapshot; True when order documents need rewriting, i.e. a field they show
    changed. A stock change (most product.updated events) rewrites nothing."""
    kept, previous = await run_in_threadpool(store.remember, kind, snapshot)
    if not kept:
        return False
    if previous is None:
        # A creation (version 1) changes nothing shown: documents are built from data at least
        # that new. A later version seen first may have renamed what documents show.
        renamed = int(snapshot.get("version", 0)) > 1
    else:
        renamed = any(previous.get(field) != snapshot.get(field) for field in shown)
    if renamed:
        # Counted before the documents are rewritten: see ReadModelStore.renames_since_synced.
        await run_in_threadpool(store.note_rename)
    return renamed


REQUIRED = {
    "order": ("id", "customer_id", "status", "items", "version"),
    "customer": ("id", "name", "version"),
    "product": ("id", "name", "version"),
}


def _validate(event_type: str, data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise Unprocessable("data is not an object")
    missing = [field for field in REQUIRED.get(event_type.split(".")[0], ()) if field not in data]
    if missing:
        raise Unprocessable(f"data lacks {', '.join(missing)}")
    return data


async def handle(dapr: DaprSidecar, store: ReadModelStore, topic: str, envelope: dict[str, Any]) -> Outcome:
    """Applies one delivery and says what Dapr should do with it."""
    event_id, event_type = envelope.get("id"), envelope.get("type")
    context = {"event_id": event_id, "event_type": event_type, "topic": topic}
    try:
        if not isinstance(event_id, str) or not event_id or not isinstance(event_type, str):
            raise Unprocessable("no id or type")
        data = _validate(event_type, envelope.get("data"))
        # Applied before it is looked up: every write is guarded by version, so a redelivery
        # changes nothing, and finding that out costs no read of the inbox first (a lookup in
        # FerretDB per event, for the rare redelivery).
        await _apply(dapr, store, event_type, data)
        first = await run_in_threadpool(
            store.record_event,
            event_id=event_id,
            topic=topic,
            event_type=event_type,
            entity_id=data.get("id"),
        )
        if not first:
            log.info("duplicate event: changed nothing", extra=context)
            return "SUCCESS"
    except Unprocessable as exc:
        log.warning("dropping event (to the dead-letter topic)", extra={**context, "reason": str(exc)})
        return "DROP"
    except (ServiceUnavailable, PyMongoError) as exc:
        log.warning("cannot apply event yet, asking for redelivery", extra={**context, "error": str(exc)})
        return "RETRY"
    log.info("event applied", extra=context)
    return "SUCCESS"
