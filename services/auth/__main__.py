"""Entry point: `python -m services.auth` (what dapr.yaml runs for app-id auth)."""

from services.shared.server import serve

serve("services.auth.main:app", service="auth")
