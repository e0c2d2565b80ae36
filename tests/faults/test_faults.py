"""Nothing lost, nothing stuck: under a steady stream of orders, one piece of the system is
killed (or restarted) and started again; after a drain, the orders service's database, the
events order-view received and its documents must agree (tests/e2e/traffic.py). A rolling
restart must not cost a single order either."""

import time
from dataclasses import dataclass

import pytest

from harness.shop import api, create_product, register
from harness.system import System
from harness.waiting import wait_until
from tests.e2e.traffic import Ledger, Listeners, OrderStream, reconcile, record, watch_recovery
from tests.faults.faults import FAULTS, Fault

RATE = 5.0  # orders per second
BEFORE = 15  # orders acknowledged before the fault: the stream is flowing
WHILE_DOWN = 20  # orders sent while the piece is down (about 4 s)
AFTER = 15  # orders acknowledged once the system has recovered


@dataclass
class Catalogue:
    product_ids: list[str]


@pytest.fixture(scope="module")
def catalogue(system: System) -> Catalogue:
    """Products with far more stock than the faults order: no order is refused for stock."""
    seller = register("Fault seller")
    return Catalogue([create_product(seller, stock=100_000, name=f"Fault item {n}")["id"] for n in range(3)])


@pytest.mark.parametrize("fault", FAULTS, ids=[fault.name for fault in FAULTS])
def test_under_a_steady_stream_of_orders_nothing_is_lost_or_applied_twice_when(
    fault: Fault, system: System, catalogue: Catalogue
) -> None:
    wait_until(
        lambda: api("GET", "/health").status_code == 200, timeout=60, what="every service up before the fault"
    )
    buyers = [register(f"Fault buyer {n}") for n in range(3)]
    ledger = Ledger([buyer.id for buyer in buyers])

    with Listeners(buyers) as listeners:
        with OrderStream(ledger, buyers, catalogue.product_ids, rate=RATE):
            wait_until(lambda: len(ledger.acked) >= BEFORE, timeout=30, what=f"{BEFORE} orders acknowledged")
            broken = time.monotonic()
            restart = fault.inject(system)
            sent = ledger.sent
            wait_until(
                lambda: ledger.sent >= sent + WHILE_DOWN,
                timeout=30,
                what=f"{WHILE_DOWN} orders sent meanwhile",
            )
            restart()
            fault_end = time.monotonic()
            recover_s = watch_recovery(ledger, fault_end=fault_end, timeout=60)
            if recover_s is not None:
                recovered = time.monotonic()
                wait_until(
                    lambda: ledger.acked_since(recovered) >= AFTER,
                    timeout=30,
                    what=f"{AFTER} orders acknowledged after recovering",
                )
        # The stream stopped; the listeners still listen while the rest arrives.
        down_s = fault_end - broken
        result = record(
            reconcile(
                fault.name,
                ledger,
                listeners=listeners,
                refusals_allowed=fault.refusals_allowed,
                down_s=down_s,
                recover_s=recover_s,
            )
        )
    assert not result.problems(), f"{fault.name}: {'; '.join(result.problems())}"
