"""order-view's own metrics, beside the shared ones (services/shared/metrics.py): how recent the
read model is on each topic, and the dead letters waiting for a replay.

The read model's lag is derived in Prometheus (monitoring/alerts.yaml, record
topic:shop_read_model_lag_seconds) from these and each publisher's
shop_outbox_last_published_timestamp_seconds, so it works on every broker, not only where the
broker tells its queue depth.
"""

import time
from collections.abc import Callable, Iterable

from prometheus_client import Gauge

from services.shared.metrics import read_at_scrape

APPLIED = Gauge(
    "shop_read_model_last_applied_timestamp_seconds",
    "Publication time (the CloudEvent's time) of the newest event applied, by topic",
    ["topic"],
)
EVENT_LAG = Gauge(
    "shop_read_model_event_lag_seconds",
    "From publication to application of the last event applied, by topic",
    ["topic"],
)
DEAD_LETTERS = Gauge("shop_dead_letters", "Dead letters kept for a replay (every subscriber's)")

_newest: dict[str, float] = {}  # what APPLIED shows, by topic


def started(topics: Iterable[str], dead_letters: Callable[[], int]) -> None:
    """A replica that has applied nothing yet counts as current as of its start: events
    published later and not applied make it lag; those published before (it cannot know which
    it missed) do not."""
    now = time.time()
    for topic in topics:
        _newest[topic] = now
        APPLIED.labels(topic).set(now)
        EVENT_LAG.labels(topic).set(0)
    read_at_scrape(DEAD_LETTERS, dead_letters)


def applied(topic: str, published: float, at: float) -> None:
    """An event published at `published` was applied at `at` (Unix times). Events arrive out of
    order: the newest publication time is kept."""
    if published > _newest.get(topic, 0.0):
        _newest[topic] = published
        APPLIED.labels(topic).set(published)
    EVENT_LAG.labels(topic).set(max(0.0, at - published))
