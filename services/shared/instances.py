"""Which replicas of each app are up: every replica renews its entry, with an expiry, in one
state-store key per app ("instances:<app-id>"); the gateway's /api/health counts the live ones.

Each renewal is a read and a save guarded by the value's ETag, retried when another replica
saved in between, so two replicas renewing at once both stay listed. An entry past its expiry
is a replica that stopped without leaving (kill -9): no longer counted, and dropped by the next
renewal of any replica.
"""

import contextlib
import time
import uuid

from services.shared.dapr import DaprSidecar, ServiceUnavailable
from services.shared.periodic import Periodic

STORE = "instances"  # components/instances.yaml
RENEW_EVERY_S = 5.0
# Three renewals missed: the replica is gone.
EXPIRES_AFTER_S = 15.0


def key(app_id: str) -> str:
    return f"instances:{app_id}"


class InstanceRegistry:
    """Keeps this replica listed while it runs, and unlists it when it stops."""

    def __init__(self, dapr: DaprSidecar, app_id: str) -> None:
        self.dapr = dapr
        self.app_id = app_id
        self.instance = uuid.uuid4().hex[:12]
        self._loop = Periodic(
            "replica registry", self._renew, every_s=RENEW_EVERY_S, transient=(ServiceUnavailable,)
        )

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
        with contextlib.suppress(Exception):  # best effort: expiry unlists it anyway
            await self._update(leaving=True)

    async def _renew(self) -> None:
        await self._update(leaving=False)

    async def _update(self, *, leaving: bool) -> None:
        for _ in range(5):
            listed, etag = await self.dapr.get_state_versioned(STORE, key(self.app_id))
            now = time.time()
            live = {i: until for i, until in (listed or {}).items() if until > now and i != self.instance}
            if not leaving:
                live[self.instance] = now + EXPIRES_AFTER_S
            if await self.dapr.save_state_if_unchanged(STORE, key(self.app_id), live, etag=etag):
                return


async def count(dapr: DaprSidecar, app_ids: tuple[str, ...]) -> dict[str, int]:
    """Live replicas of each app."""
    found = await dapr.get_states(STORE, [key(app_id) for app_id in app_ids])
    now = time.time()
    return {
        app_id: sum(1 for until in found.get(key(app_id), {}).values() if until > now) for app_id in app_ids
    }
