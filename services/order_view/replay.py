"""Replaying dead letters: each goes back to the one subscriber that could not apply it.

Not a re-publish: the topic belongs to its owning service (topic scoping), and the other
subscribers applied the event already. order-view calls the subscriber's own delivery route
through Dapr service invocation, exactly as its sidecar would deliver the event, and reads the
answer: SUCCESS forgets the dead letter; RETRY, DROP or no answer keeps it, with the outcome.
"""

import logging
import time
from typing import Any

from starlette.concurrency import run_in_threadpool

from services.order_view.store.inbox import DeadLetters
from services.shared.calls import FailedReplay, ReplayReport
from services.shared.dapr import DaprSidecar, ServiceUnavailable, answer_of
from services.shared.events import Delivered

log = logging.getLogger(__name__)

# Where each subscriber takes deliveries: components/subscriptions/*.yaml routes.
SUBSCRIBERS = {"order-view", "notifications"}
# The topic an event came from, by its type's entity (order.confirmed -> orders).
TOPIC_OF_ENTITY = {"order": "orders", "customer": "customers", "product": "products"}
MAX_PER_REPLAY = 100
# A replay stops taking the next letter after this long, well within the 3 s its caller waits
# (components/resiliency.yaml): letters that keep failing stay, and a hundred slow redeliveries
# must not turn the answer into a timeout. What is left shows in `remaining`; ask again.
REPLAY_BUDGET_S = 1.0


async def replay(
    dapr: DaprSidecar, dead_letters: DeadLetters, ids: list[str] | None, *, budget_s: float = REPLAY_BUDGET_S
) -> ReplayReport:
    """Redelivers the given dead letters (or the oldest MAX_PER_REPLAY), for at most about
    `budget_s`, and reports each one it tried."""
    letters = await run_in_threadpool(dead_letters.dead_letters_to_replay, ids, limit=MAX_PER_REPLAY)
    replayed: list[str] = []
    failed: list[FailedReplay] = []
    deadline = time.monotonic() + budget_s
    for n, letter in enumerate(letters):
        if n and time.monotonic() >= deadline:
            break
        outcome = await _redeliver(dapr, letter["subscriber"], letter["envelope"])
        context = {"dead_letter": letter["_id"], "subscriber": letter["subscriber"], "outcome": outcome}
        if outcome == "SUCCESS":
            await run_in_threadpool(dead_letters.forget_dead_letter, letter["_id"])
            replayed.append(letter["_id"])
            log.info("dead letter replayed", extra=context)
        else:
            await run_in_threadpool(dead_letters.note_failed_replay, letter["_id"], outcome)
            failed.append(FailedReplay(id=letter["_id"], outcome=outcome))
            log.warning("dead letter replay failed; kept", extra=context)
    found = {letter["_id"] for letter in letters}
    return ReplayReport(
        replayed=replayed,
        failed=failed,
        not_found=[letter_id for letter_id in ids or [] if letter_id not in found],
        remaining=await run_in_threadpool(dead_letters.count_dead_letters),
    )


async def _redeliver(dapr: DaprSidecar, subscriber: str, envelope: dict[str, Any]) -> str:
    topic = TOPIC_OF_ENTITY.get(str(envelope.get("type", "")).split(".")[0])
    if subscriber not in SUBSCRIBERS or topic is None:
        return "DROP"  # no subscriber route could ever take it
    try:
        response = await dapr.invoke(subscriber, "POST", f"events/{topic}", json=envelope)
        if response.status_code != 200:
            return f"HTTP {response.status_code}"
        return answer_of(response, Delivered, target=subscriber).status
    except ServiceUnavailable as exc:
        return f"UNAVAILABLE: {exc.reason}"
