"""Entry point: `python -m services.order_view` (what dapr.yaml runs for app-id order-view)."""

from services.shared.server import serve

serve("services.order_view.main:app", service="order-view")
