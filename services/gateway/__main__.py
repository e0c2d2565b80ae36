"""Entry point: `python -m services.gateway` (what dapr.yaml runs for app-id gateway)."""

from services.shared.server import serve

serve("services.gateway.main:app", service="gateway")
