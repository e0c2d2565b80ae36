"""A steady stream of orders, and the reconciliation that says whether any was lost, left
pending or applied twice.

The reconciliation compares three records: the orders service's database (the truth: every
order and its status), the events it published (its outbox) and order-view received (its
inbox), and order-view's documents. It reads MariaDB and FerretDB directly and only by primary
key (FerretDB v1 scans a collection for any other filter). Used by the fault tests
(tests/faults) and the broker-outage test (test_outbox.py); results recorded with `record()`
are printed at the end of the pytest run (`summary_lines()`).
"""

import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import httpx
import pymongo
import pymysql
from websockets.exceptions import WebSocketException
from websockets.sync.client import connect

from harness.shop import User, place_order
from harness.system import secret
from harness.waiting import WaitTimeout, wait_until


@dataclass
class Ledger:
    """What the clients sent and what they were told: each 201 with its order id and when it
    arrived; every other answer (a 503 during a fault is an honest "not taken") by its status."""

    customer_ids: list[str]
    sent: int = 0
    acked: dict[str, float] = field(default_factory=dict)  # order id -> time.monotonic() of its 201
    refused: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def place(self, buyer: User, product_id: str) -> None:
        """Places one order of one item and records the answer."""
        with self._lock:
            self.sent += 1
        try:
            response = place_order(buyer, [(product_id, 1)])
        except httpx.HTTPError as exc:  # a timeout or a refused connection: not acknowledged
            answer, order_id = type(exc).__name__, None
        else:
            answer = str(response.status_code)
            order_id = response.json()["id"] if response.status_code == 201 else None
        with self._lock:
            if order_id is not None:
                self.acked[order_id] = time.monotonic()
            else:
                self.refused[answer] += 1

    def acked_since(self, moment: float) -> int:
        with self._lock:
            return sum(1 for at in self.acked.values() if at >= moment)

    def snapshot(self) -> dict[str, float]:
        with self._lock:
            return dict(self.acked)


class OrderStream:
    """Places orders at a steady rate from a background thread, round-robin over some buyers and
    products, until stopped (use it as a context manager). Requests run on a small pool, so an
    answer that is slow during a fault does not hold up the pace; `limit_s` bounds the stream
    even if nobody stops it."""

    def __init__(
        self,
        ledger: Ledger,
        buyers: Sequence[User],
        product_ids: Sequence[str],
        *,
        rate: float = 5.0,
        limit_s: float = 240,
    ) -> None:
        self.ledger, self.buyers, self.product_ids = ledger, buyers, product_ids
        self.rate, self.limit_s = rate, limit_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="order-stream", daemon=True)

    def __enter__(self) -> "OrderStream":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stops placing orders and waits for the answers still outstanding."""
        self._stop.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=8, thread_name_prefix="order") as pool:
            for n in itertools.count():
                due = started + n / self.rate  # a fixed schedule: late requests do not shift it
                if self._stop.wait(max(0.0, due - time.monotonic())) or due - started > self.limit_s:
                    return
                pool.submit(
                    self.ledger.place,
                    self.buyers[n % len(self.buyers)],
                    self.product_ids[n % len(self.product_ids)],
                )


class Listeners:
    """Every buyer connected to the notifications WebSocket through the public port for the whole
    stream, reconnecting at once when its connection drops (a replica killed or restarted):
    which notification ids each connection heard, to compare with the inbox afterwards."""

    URL = "ws://127.0.0.1:8001/ws"

    def __init__(self, buyers: Sequence[User]) -> None:
        self.buyers = buyers
        self.heard: dict[str, list[list[str]]] = {buyer.id: [] for buyer in buyers}  # by connection
        self.connections = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._listen, args=(b,), daemon=True) for b in buyers]

    def __enter__(self) -> "Listeners":
        for thread in self._threads:
            thread.start()
        wait_until(lambda: self.connections >= len(self.buyers), timeout=10, what="every listener connected")
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def _listen(self, buyer: User) -> None:
        while not self._stop.is_set():
            heard: list[str] = []
            try:
                with connect(self.URL, open_timeout=3) as ws:
                    ws.send(json.dumps({"event": "authorize", "data": {"token": buyer.token}}))
                    if json.loads(ws.recv(timeout=5)) != {"event": "authorized"}:
                        continue
                    with self._lock:
                        self.heard[buyer.id].append(heard)
                        self.connections += 1
                    while not self._stop.is_set():
                        try:
                            message = json.loads(ws.recv(timeout=0.5))
                        except TimeoutError:
                            continue
                        if message.get("event") == "notification":
                            with self._lock:
                                heard.append(message["data"]["id"])
            except (OSError, WebSocketException, TimeoutError):
                self._stop.wait(0.2)  # the replica went away: connect again, to another

    def all_heard(self) -> set[str]:
        with self._lock:
            return {n for connections in self.heard.values() for heard in connections for n in heard}

    def twice_on_one_connection(self) -> int:
        with self._lock:
            return sum(len(h) - len(set(h)) for connections in self.heard.values() for h in connections)


def inbox_ids(user_ids: Sequence[str]) -> set[str]:
    """The ids of every notification stored for these users (the notifications database)."""
    with service_db("notifications") as cursor:
        cursor.execute(f"SELECT id FROM notifications WHERE user_id IN ({_in(user_ids)})", list(user_ids))
        return {row[0] for row in cursor.fetchall()}


# --- the three records ------------------------------------------------------------------------


@contextmanager
def service_db(service: str) -> Iterator[Any]:
    """A service's own database, with the credentials it gets from the secret store."""
    conn = pymysql.connect(
        host="127.0.0.1",
        port=3306,
        user=service,
        password=secret(f"{service}-db-password"),
        database=service,
        connect_timeout=3,
        read_timeout=10,
    )
    try:
        yield conn.cursor()
    finally:
        conn.close()


def _in(values: Sequence[str]) -> str:
    return ", ".join(["%s"] * len(values))


def source_orders(customer_ids: Sequence[str]) -> dict[str, tuple[str, int]]:
    """Every order of these customers in the orders database: id -> (status, version)."""
    with service_db("orders") as cursor:
        cursor.execute(
            f"SELECT id, status, version FROM orders WHERE customer_id IN ({_in(customer_ids)})",
            list(customer_ids),
        )
        return {order_id: (status, version) for order_id, status, version in cursor.fetchall()}


def published_events(customer_ids: Sequence[str]) -> dict[str, bool]:
    """The order events of these customers in the outbox: event id -> published yet."""
    with service_db("orders") as cursor:
        cursor.execute(
            "SELECT event_id, sent_at IS NOT NULL FROM outbox WHERE topic = 'orders'"
            f" AND JSON_VALUE(payload, '$.customer_id') IN ({_in(customer_ids)})",
            list(customer_ids),
        )
        return {event_id: bool(sent) for event_id, sent in cursor.fetchall()}


class ReadModel:
    """order-view's collections, read by _id."""

    def __init__(self) -> None:
        self.client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
            "mongodb://127.0.0.1:27017", serverSelectionTimeoutMS=3000
        )
        self.db = self.client["order_view"]

    def close(self) -> None:
        self.client.close()

    def document(self, order_id: str) -> dict[str, Any] | None:
        fields = {"status": 1, "version": 1, "applied_versions": 1}
        return self.db["orders"].find_one({"_id": order_id}, fields)

    def received(self, event_id: str) -> bool:
        return self.db["processed_events"].find_one({"_id": event_id}, {"_id": 1}) is not None


# --- recovery and reconciliation ------------------------------------------------------------


def watch_recovery(ledger: Ledger, *, fault_end: float, timeout: float) -> float | None:
    """Seconds from the fault's end until the system is whole again: the view holds every order
    acknowledged before the fault ended, and one acknowledged after it. None if not within
    `timeout`. Runs while the stream goes on."""
    view = ReadModel()
    backlog = {order_id for order_id, at in ledger.snapshot().items() if at < fault_end}

    def whole() -> bool:
        backlog.difference_update([order_id for order_id in list(backlog) if view.document(order_id)])
        fresh = sorted((at, order_id) for order_id, at in ledger.snapshot().items() if at >= fault_end)
        # The oldest order taken after the fault: the last in line to reach the view.
        return not backlog and bool(fresh) and view.document(fresh[0][1]) is not None

    try:
        wait_until(whole, timeout=timeout, what="recovery", interval=0.2)
    except WaitTimeout:
        return None
    finally:
        view.close()
    return time.monotonic() - fault_end


@dataclass
class Reconciliation:
    """One fault's counts; `problems()` lists what must be zero and is not."""

    name: str
    sent: int
    acked: int
    refused: Counter[str]
    in_view: int
    lost: int  # acknowledged with a 201, missing from the view
    # Settled in the orders database, shown with another status in the view; or, for an order
    # the client never heard back about, not shown at all (an acknowledged one counts as lost).
    mismatched: int
    stuck: int  # still pending in the orders database
    duplicates: int  # a change applied twice to a document
    events: int  # order events in the outbox
    received: int  # ... of which order-view recorded as applied
    down_s: float | None = None
    recover_s: float | None = None
    # With WebSocket listeners: inbox notifications no connection heard, and ones a connection
    # heard twice.
    ws_missed: int | None = None
    ws_twice: int | None = None
    # A few order ids behind the non-zero counts, to look up in the logs.
    examples: list[str] = field(default_factory=list)
    # Whether an order may go unacknowledged (a 503, a timeout): not during a rolling restart.
    refusals_allowed: bool = True

    def problems(self) -> list[str]:
        checks = {
            "lost": self.lost,
            "status differs": self.mismatched,
            "stuck pending": self.stuck,
            "duplicated": self.duplicates,
            "events not received": self.events - self.received,
            "notifications no listener heard": self.ws_missed or 0,
            "notifications heard twice on one connection": self.ws_twice or 0,
            # A fault may refuse an order (503, or no answer in time), never fail on it.
            "server errors other than 503": sum(
                count for answer, count in self.refused.items() if answer.startswith("5") and answer != "503"
            ),
        }
        if not self.refusals_allowed:
            checks["orders not acknowledged"] = sum(self.refused.values())
        found = [f"{what}: {count}" for what, count in checks.items() if count]
        if self.recover_s is None:
            found.append("did not recover in time")
        if found and self.examples:
            found.append(f"orders to look up: {', '.join(self.examples)}")
        return found

    def row(self) -> str:
        refused = " ".join(f"{answer}x{count}" for answer, count in sorted(self.refused.items())) or "-"
        return (
            f"{self.name:<34} {self.sent:>5} {self.acked:>5} {self.in_view:>7} {self.lost:>4}"
            f" {self.mismatched:>7} {self.stuck:>5} {self.duplicates:>4} {self.received:>5}/{self.events:<5}"
            f" {_seconds(self.down_s):>6} {_seconds(self.recover_s):>8}"
            f" {_count_or_dash(self.ws_missed):>6} {_count_or_dash(self.ws_twice):>5}   {refused}"
        )


HEADER = (
    f"{'fault':<34} {'sent':>5} {'acked':>5} {'in view':>7} {'lost':>4} {'status≠':>7} {'stuck':>5}"
    f" {'dup':>4} {'events recv/pub':<11} {'down':>6} {'recover':>8} {'ws mis':>6} {'ws 2x':>5}"
    "   refused (not acknowledged)"
)


def _count_or_dash(value: int | None) -> str:
    return "-" if value is None else str(value)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def reconcile(
    name: str,
    ledger: Ledger,
    *,
    drain_timeout: float = 90,
    listeners: Listeners | None = None,
    refusals_allowed: bool = True,
    **figures: float | None,
) -> Reconciliation:
    """Waits (up to `drain_timeout`) until the view agrees with the orders database, then counts
    what still differs; with listeners, until they heard every notification in the buyers'
    inboxes. `figures` (down_s, recover_s) are carried into the result, and whether an order
    may have gone unacknowledged."""
    view = ReadModel()
    shown: dict[str, dict[str, Any]] = {}  # documents already agreeing with the database

    def agrees() -> bool:
        source = source_orders(ledger.customer_ids)
        for order_id, (status, version) in source.items():
            if order_id not in shown and status != "pending":
                document = view.document(order_id)
                if document and (document["status"], document["version"]) == (status, version):
                    shown[order_id] = document
        # Every order settled (none left pending) and shown as the database has it.
        return all(order_id in shown for order_id in ledger.acked) and all(
            order_id in shown for order_id in source
        )

    try:
        wait_until(agrees, timeout=drain_timeout, what="the view to agree with the orders database")
        events = published_events(ledger.customer_ids)
        wait_until(
            lambda: all(view.received(event_id) for event_id in events),
            timeout=10,
            what="order-view to record every published order event",
        )
    except WaitTimeout:
        pass  # count what differs: the counts say what went wrong
    try:
        result = _count(name, ledger, view, figures)
        result.refusals_allowed = refusals_allowed
    finally:
        view.close()
    if listeners is not None:
        with suppress(WaitTimeout):
            wait_until(
                lambda: inbox_ids(ledger.customer_ids) <= listeners.all_heard(),
                timeout=15,
                what="every stored notification heard by a listener",
            )
        result.ws_missed = len(inbox_ids(ledger.customer_ids) - listeners.all_heard())
        result.ws_twice = listeners.twice_on_one_connection()
    return result


def _count(name: str, ledger: Ledger, view: ReadModel, figures: dict[str, float | None]) -> Reconciliation:
    source = source_orders(ledger.customer_ids)
    documents = {order_id: view.document(order_id) for order_id in source.keys() | ledger.acked.keys()}
    events = published_events(ledger.customer_ids)
    in_view = sum(1 for order_id in ledger.acked if documents[order_id])
    settled = {order_id: status for order_id, (status, _) in source.items() if status != "pending"}
    statuses = {order_id: (document or {}).get("status") for order_id, document in documents.items()}
    differing = sorted(order_id for order_id, (status, _) in source.items() if statuses[order_id] != status)
    return Reconciliation(
        name=name,
        sent=ledger.sent,
        acked=len(ledger.acked),
        refused=ledger.refused,
        in_view=in_view,
        lost=len(ledger.acked) - in_view,
        mismatched=sum(
            1
            for order_id, status in settled.items()
            if _shown_otherwise(status, documents[order_id], acked=order_id in ledger.acked)
        ),
        stuck=len(source) - len(settled),
        duplicates=sum(_repeats(doc.get("applied_versions", [])) for doc in documents.values() if doc),
        events=len(events),
        received=sum(1 for event_id in events if view.received(event_id)),
        down_s=figures.get("down_s"),
        recover_s=figures.get("recover_s"),
        examples=differing[:3],
    )


def _shown_otherwise(status: str, document: dict[str, Any] | None, *, acked: bool) -> bool:
    if document is None:
        return not acked  # an acknowledged order missing from the view is counted as lost
    return bool(document["status"] != status)


def _repeats(values: list[int]) -> int:
    return len(values) - len(set(values))


# --- results, printed at the end of the run ---------------------------------------------------

RESULTS: list[Reconciliation] = []


def record(result: Reconciliation) -> Reconciliation:
    RESULTS.append(result)
    print(HEADER, result.row(), sep="\n")
    return result


def summary_lines() -> list[str]:
    """The table of every reconciliation recorded in this run (empty if none)."""
    return [HEADER, *(result.row() for result in RESULTS)] if RESULTS else []
