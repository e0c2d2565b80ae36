"""order-view's metrics: the newest event applied per topic (what the read model's lag is
derived from in monitoring/alerts.yaml) and the dead letters kept, read at each scrape."""

import math
import time

from prometheus_client import REGISTRY

from services.order_view import metrics
from services.order_view.service import LastApplied


def sample(name: str, topic: str | None = None) -> float | None:
    return REGISTRY.get_sample_value(name, {"topic": topic} if topic else {})


def test_a_replica_that_applied_nothing_counts_as_current_as_of_its_start() -> None:
    before = time.time()
    metrics.started(["orders", "products"], lambda: 3)

    assert (sample("shop_read_model_last_applied_timestamp_seconds", "orders") or 0) >= before
    assert sample("shop_read_model_event_lag_seconds", "products") == 0
    assert sample("shop_dead_letters") == 3


def test_the_newest_publication_applied_is_kept_whatever_order_events_arrive_in() -> None:
    metrics.started(["customers"], lambda: 0)
    last = LastApplied()
    now = time.time()

    last.note("customers", {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 60))})
    last.note("customers", {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 30))})
    last.note("customers", {"time": "not a time"})  # nothing to say about the lag

    newest = sample("shop_read_model_last_applied_timestamp_seconds", "customers")
    assert newest is not None and abs(newest - (int(now) + 60)) <= 1
    # The last event with a time: published "in 30 s", so applied no later than it was published.
    assert sample("shop_read_model_event_lag_seconds", "customers") == 0


def test_the_dead_letters_are_nan_while_mongodb_is_down_so_the_scrape_still_answers() -> None:
    def down() -> int:
        raise ConnectionError("refused")

    metrics.started([], down)

    assert math.isnan(sample("shop_dead_letters") or 0.0)
