"""Entry point: `python -m services.customers` (what dapr.yaml runs for app-id customers)."""

from services.shared.server import serve

serve("services.customers.main:app", service="customers")
