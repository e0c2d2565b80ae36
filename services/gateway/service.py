"""Gateway logic: aggregate the health of every backend app through Dapr service invocation."""

import asyncio

from services.shared.dapr import DaprSidecar, ServiceUnavailable


async def probe(dapr: DaprSidecar, app_id: str, *, timeout_s: float) -> str:
    """'up' when the app answers its liveness endpoint through Dapr in time, else 'down'."""
    try:
        response = await asyncio.wait_for(
            dapr.invoke(app_id, "GET", "healthz", timeout_s=timeout_s), timeout_s
        )
    except (ServiceUnavailable, TimeoutError):
        return "down"
    return "up" if response.status_code == 200 else "down"


async def system_health(dapr: DaprSidecar, apps: tuple[str, ...], *, timeout_s: float) -> dict[str, object]:
    """Probes every app at once; the whole report takes at most one probe timeout."""
    states = await asyncio.gather(*(probe(dapr, app, timeout_s=timeout_s) for app in apps))
    services = dict(zip(apps, states, strict=True))
    status = "ok" if all(state == "up" for state in states) else "degraded"
    return {"status": status, "services": services}
