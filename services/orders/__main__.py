"""Entry point: `python -m services.orders` (what dapr.yaml runs for app-id orders)."""

from services.shared.server import serve

serve("services.orders.main:app", service="orders")
