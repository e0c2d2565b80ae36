"""How an event changes the read model: an order's event (re)builds its document from the order
and the newest customer and product snapshots; a customer's or product's event keeps its snapshot
and, when a field the documents show changed, renames them. The rebuild builds documents the
same way (rebuild.py).

Events arrive in any order and on any replica, so a document may be built from a snapshot older
than one applied meanwhile; every document records the snapshot versions it shows
(`shown_versions`), and renames are counted before they rewrite documents, so the newest name
always ends up shown (`_catch_up_renames`).
"""

from typing import Any

from starlette.concurrency import run_in_threadpool

from services.order_view.events import Delivery
from services.order_view.store import ReadModelStore
from services.order_view.store.snapshots import Snapshots
from services.shared.dapr import DaprSidecar, batch_lookup
from services.shared.order_document import compose

# The fields of a customer or product that order documents show (services/shared/order_document.py).
SHOWN = {"customer": ("name", "email"), "product": ("name", "seller_id")}


async def apply(dapr: DaprSidecar, store: ReadModelStore, delivery: Delivery) -> None:
    """Applies one event; a repeated or older one changes nothing."""
    if delivery.kind == "order":
        await apply_order(dapr, store, delivery.data)
    elif await _remember_if_shown_fields_changed(store.snapshots, delivery.kind, delivery.data):
        documents = store.documents
        rename = documents.rename_customer if delivery.kind == "customer" else documents.rename_product
        await run_in_threadpool(rename, delivery.data)


async def fetch_related(
    dapr: DaprSidecar, snapshots: Snapshots, orders: list[dict[str, Any]]
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Customers and products of some orders. The snapshots order-view keeps from their own
    events come first; only the ones it has not seen yet (an order's event delivered before its
    customer's) are asked of the owning service, one batch call each. As current as asking every
    time: a change still on its way renames the documents when its event arrives
    (`_catch_up_renames` covers a document saved meanwhile), and asking for every order would
    cost two invocations per order, each through two sidecars."""
    customer_ids = sorted({order["customer_id"] for order in orders})
    product_ids = sorted({line["product_id"] for order in orders for line in order["items"]})
    known_customers = await _known(snapshots, "customer", customer_ids)
    known_products = await _known(snapshots, "product", product_ids)
    customers = await batch_lookup(dapr, "customers", [i for i in customer_ids if i not in known_customers])
    products = await batch_lookup(dapr, "products", [i for i in product_ids if i not in known_products])
    return _newest(customers, known_customers), _newest(products, known_products)


async def _known(snapshots: Snapshots, kind: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    """Snapshots held in memory, the others (if any) from the database on a worker thread: a
    thread hand-off costs about as much as the lookup itself, and most events need none."""
    found = snapshots.recall(kind, ids)
    if missing := [entity_id for entity_id in ids if entity_id not in found]:
        found.update(await run_in_threadpool(snapshots.known, kind, missing))
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
    customers, products = await fetch_related(dapr, store.snapshots, [order])
    document = compose(order, customers.get(order["customer_id"]), products)
    versions = shown_versions(order, customers, products)
    saved = await run_in_threadpool(store.documents.save_order, document, versions)
    # A rename applied (by any replica) while this document was being built, or one this
    # replica's memory has not seen, must not leave it showing the old name.
    if saved and await run_in_threadpool(store.snapshots.renames_since_synced):
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
    for snapshot in (await _known(store.snapshots, "customer", [order["customer_id"]])).values():
        if _shows_newer(snapshot, used_customer, SHOWN["customer"]):
            await run_in_threadpool(store.documents.rename_customer, snapshot)
    known_products = await _known(store.snapshots, "product", list(products))
    for product_id, snapshot in known_products.items():
        if _shows_newer(snapshot, products[product_id], SHOWN["product"]):
            await run_in_threadpool(store.documents.rename_product, snapshot)


def _shows_newer(snapshot: dict[str, Any], used: dict[str, Any], shown: tuple[str, ...]) -> bool:
    """Whether a snapshot is newer than the one a document was built from and changes what it shows."""
    return snapshot.get("version", 0) > used.get("version", 0) and any(
        snapshot.get(field) != used.get(field) for field in shown
    )


async def _remember_if_shown_fields_changed(
    snapshots: Snapshots, kind: str, snapshot: dict[str, Any]
) -> bool:
    """Keeps a newer snapshot; True when order documents need rewriting, i.e. a field they show
    changed. A stock change (most product.updated events) rewrites nothing."""
    kept, previous = await run_in_threadpool(snapshots.remember, kind, snapshot)
    if not kept:
        return False
    if previous is None:
        # A creation (version 1) changes nothing shown: documents are built from data at least
        # that new. A later version seen first may have renamed what documents show.
        renamed = int(snapshot.get("version", 0)) > 1
    else:
        renamed = any(previous.get(field) != snapshot.get(field) for field in SHOWN[kind])
    if renamed:
        # Counted before the documents are rewritten: see Snapshots.renames_since_synced.
        await run_in_threadpool(snapshots.note_rename)
    return renamed
