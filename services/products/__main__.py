"""Entry point: `python -m services.products` (what dapr.yaml runs for app-id products)."""

from services.shared.server import serve

serve("services.products.main:app", service="products")
