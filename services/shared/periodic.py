"""A step run in the background every few seconds until the app stops (the inbox follower, this
replica's entry in the list of replicas): one loop, so each such job is only its step."""

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class Periodic:
    """Runs `step` every `every_s` seconds from start() to stop(). A step failing with one of
    `transient` (a dependency restarting) is logged and the next runs as planned."""

    def __init__(
        self,
        name: str,
        step: Callable[[], Awaitable[object]],
        *,
        every_s: float,
        transient: tuple[type[Exception], ...],
    ) -> None:
        self.name = name
        self.step = step
        self.every_s = every_s
        self.transient = transient
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            try:
                await self.step()
            except self.transient as exc:
                log.warning(f"{self.name} cannot run yet", extra={"error": str(exc)})
            await asyncio.sleep(self.every_s)
