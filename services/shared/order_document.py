"""The order read model's document: an order joined with its customer and products.

Built by order-view from events (and kept in MongoDB), and by the gateway when it aggregates live
because order-view is down; one function, so both answer with exactly the same shape.
"""

from typing import Any


def compose(
    order: dict[str, Any], customer: dict[str, Any] | None, products: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """`order` as the orders service publishes it, `customer` and `products` (by id) as their
    services do. Prices are the order's own (fixed when it was placed); names are current."""
    items = []
    for line in order["items"]:
        product = products.get(line["product_id"], {})
        unit = line.get("unit_price_cents")
        items.append(
            {
                "product": {
                    "id": line["product_id"],
                    "name": product.get("name"),
                    "seller_id": product.get("seller_id"),
                },
                "quantity": line["quantity"],
                "unit_price_cents": unit,
                "line_total_cents": None if unit is None else unit * line["quantity"],
            }
        )
    return {
        "id": order["id"],
        "status": order["status"],
        "customer": {
            "id": order["customer_id"],
            "name": (customer or {}).get("name"),
            "email": (customer or {}).get("email"),
        },
        "items": items,
        "total_cents": order["total_cents"],
        "created_at": order["created_at"],
        "updated_at": order["updated_at"],
        "version": order["version"],
    }
