"""Entry point: `python -m services.notifications` (what dapr.yaml runs for app-id notifications)."""

from services.shared.server import serve

serve("services.notifications.main:app", service="notifications")
