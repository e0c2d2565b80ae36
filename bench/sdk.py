"""`python -m bench.sdk` (`make bench-sdk`, one to two minutes): the project's sidecar client
(`DaprSidecar`, services/shared/dapr.py) against the Dapr Python SDK's clients, call for call,
on one daprd of its own (bench/sdk_system.py, which needs no machine lock): what each call costs
in CPU (this process, which runs only the client; and daprd) and its latency, for publish, state
save, state get, secret get and service invocation. What the figures decided:
docs/decisions/0005-hand-written-sidecar-client.md. One module of about 350 lines: each client's
five calls side by side, so a reader compares like with like.

Clients:
- `DaprSidecar`, as every app builds it.
- aiohttp alone: the same HTTP requests without httpx above it, to tell the cost of the
  protocol from the cost of the library.
- the SDK's async `dapr.aio.clients.DaprClient`: gRPC, and service invocation over HTTP (the
  SDK's default, DAPR_API_METHOD_INVOCATION_PROTOCOL=http). Built as the apps would have to
  build it: with an interceptor that sends the request id and trace context on every call.
- the SDK's sync `dapr.clients.DaprClient` (gRPC), one call at a time: an async app could only
  use it from a thread. Its invocation runs an event loop of its own per call: left out.

Every call runs inside a request id and an unsampled W3C trace context, so each client sends
them as when serving a request (daprd records no span for an unsampled one).

Knobs (environment): BENCH_SDK_CALLS (measured calls per operation, client and concurrency;
2000), BENCH_SDK_CONCURRENCY (calls in flight, a list; "1,16"), BENCH_SYSTEM_CPUS and
BENCH_LOADGEN_CPUS (bench/cpus.py). Prints a Markdown table; writes bench/results/sdk.json."""

import asyncio
import json
import os
import secrets
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import aiohttp
import grpc
from cloudevents.core.bindings.http import to_structured
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from dapr.aio.clients import DaprClient as SdkAsyncClient
from dapr.clients import DaprClient as SdkSyncClient
from dapr.conf import settings as dapr_settings

from bench.cpus import LOADGEN_CPUS, SYSTEM_CPUS, named, split_available
from bench.sdk_system import APP_ID, PORTS, PUBSUB, SECRET, SECRETS, STORE, cpu_seconds, running, say
from bench.stats import percentile
from harness.system import ROOT
from services.shared.dapr import DaprSidecar, _context_headers
from services.shared.logging import request_id_var
from services.shared.tracing import parse, trace_context_var

CALLS = int(os.environ.get("BENCH_SDK_CALLS", "2000"))
CONCURRENCY = [int(n) for n in os.environ.get("BENCH_SDK_CONCURRENCY", "1,16").split(",")]
WARMUP_CALLS = 200
# Measured in turns (a share of every kind of call, then the next round), so a drift in the
# machine's speed during the run loads every client alike.
ROUNDS = 4
RESULTS = ROOT / "bench/results/sdk.json"
TOPIC = "bench"
# About what the shop keeps in its state store (an idempotency record).
VALUE = {"order_id": "0f8fad5b-d9cb-469f-a165-70867728950e", "status": "placed", "total_cents": 12990}
OPERATIONS = ("publish", "state save", "state get", "secret get", "invoke")
UNSAMPLED = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
# Where every client finds the bench's sidecar: the SDK's settings, which the apps read too.
SIDECAR_SETTINGS: dict[str, Any] = {
    "DAPR_HTTP_PORT": PORTS["http"],
    "DAPR_GRPC_PORT": PORTS["grpc"],
    "DAPR_HTTP_ENDPOINT": None,
    "DAPR_GRPC_ENDPOINT": None,
}

Call = Callable[[int], Awaitable[Any]]
# `count` calls, numbered from `first` (the number picks the state key): their latencies.
Batch = Callable[[int, int], list[float]]
T = TypeVar("T")


def _event() -> bytes:
    """One structured CloudEvent as the apps publish it (DaprSidecar.publish)."""
    event = CloudEvent(
        attributes={
            "id": str(uuid.uuid4()),
            "type": "bench.ping",
            "source": APP_ID,
            "datacontenttype": "application/json",
        },
        data=VALUE,
    )
    return to_structured(event, JSONFormat()).body


def _sidecar_calls(sidecar: DaprSidecar) -> dict[str, Call]:
    return {
        "publish": lambda i: sidecar.publish(
            TOPIC, event_id=str(uuid.uuid4()), event_type="bench.ping", data=VALUE
        ),
        "state save": lambda i: sidecar.save_state(STORE, f"sidecar-{i % 100}", VALUE),
        "state get": lambda i: sidecar.get_state(STORE, f"sidecar-{i % 100}"),
        "secret get": lambda i: sidecar.get_secret(SECRETS, SECRET),
        "invoke": lambda i: sidecar.invoke(APP_ID, "GET", "hello"),
    }


def _aiohttp_calls(session: aiohttp.ClientSession) -> dict[str, Call]:
    url = f"http://127.0.0.1:{PORTS['http']}/v1.0"

    async def send(method: str, path: str, expected: int, **kwargs: Any) -> bytes:
        async with session.request(method, f"{url}/{path}", **kwargs) as answer:
            body = await answer.read()
            if answer.status != expected:
                raise RuntimeError(f"{method} {path} answered {answer.status}: {body[:200]!r}")
            return body

    async def publish(i: int) -> None:
        headers = {"content-type": "application/cloudevents+json", **_context_headers()}
        await send("POST", f"publish/{PUBSUB}/{TOPIC}", 204, data=_event(), headers=headers)

    async def save(i: int) -> None:
        await send("POST", f"state/{STORE}", 204, json=[{"key": f"aiohttp-{i % 100}", "value": VALUE}])

    async def get(i: int) -> Any:
        return json.loads(await send("GET", f"state/{STORE}/aiohttp-{i % 100}", 200))

    async def secret(i: int) -> str:
        return str(json.loads(await send("GET", f"secrets/{SECRETS}/{SECRET}", 200))[SECRET])

    async def invoke(i: int) -> Any:
        return json.loads(await send("GET", f"invoke/{APP_ID}/method/hello", 200, headers=_context_headers()))

    return {"publish": publish, "state save": save, "state get": get, "secret get": secret, "invoke": invoke}


class ContextMetadata(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """What the apps would add to the SDK's gRPC client: the request id and trace context of the
    request being served on every call (DaprSidecar sends them as headers)."""

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        metadata = [*(details.metadata or ()), *_context_headers().items()]
        details = details._replace(metadata=metadata)
        return await continuation(details, request)


def _sdk_async_calls(client: SdkAsyncClient) -> dict[str, Call]:
    async def get(i: int) -> Any:
        return json.loads((await client.get_state(STORE, f"sdk-{i % 100}")).data)

    async def secret(i: int) -> str:
        return (await client.get_secret(SECRETS, SECRET)).secret[SECRET]

    async def invoke(i: int) -> Any:
        return (await client.invoke_method(APP_ID, "hello", http_verb="GET")).json()

    return {
        "publish": lambda i: client.publish_event(
            PUBSUB, TOPIC, _event(), data_content_type="application/cloudevents+json"
        ),
        "state save": lambda i: client.save_state(STORE, f"sdk-{i % 100}", json.dumps(VALUE)),
        "state get": get,
        "secret get": secret,
        "invoke": invoke,
    }


def _sdk_sync_calls(client: SdkSyncClient) -> dict[str, Callable[[int], Any]]:
    return {
        "publish": lambda i: client.publish_event(
            PUBSUB, TOPIC, _event(), data_content_type="application/cloudevents+json"
        ),
        "state save": lambda i: client.save_state(STORE, f"sync-{i % 100}", json.dumps(VALUE)),
        "state get": lambda i: json.loads(client.get_state(STORE, f"sync-{i % 100}").data),
        "secret get": lambda i: client.get_secret(SECRETS, SECRET).secret[SECRET],
    }


@dataclass
class Measured:
    latencies_s: list[float] = field(default_factory=list)
    client_cpu_s: float = 0.0
    daprd_cpu_s: float = 0.0
    wall_s: float = 0.0

    def row(self, operation: str, client: str, in_flight: int) -> dict[str, Any]:
        calls = len(self.latencies_s)
        ms = [s * 1000 for s in self.latencies_s]
        return {
            "operation": operation,
            "client": client,
            "in_flight": in_flight,
            "calls": calls,
            "p50_ms": round(percentile(ms, 50) or 0, 2),
            "p99_ms": round(percentile(ms, 99) or 0, 2),
            "client_cpu_us": round(self.client_cpu_s * 1e6 / calls),
            "daprd_cpu_us": round(self.daprd_cpu_s * 1e6 / calls),
            "calls_per_s": round(calls / self.wall_s),
        }


async def _calls_async(call: Call, first: int, count: int, in_flight: int) -> list[float]:
    latencies: list[float] = []
    numbers = iter(range(first, first + count))

    async def caller() -> None:
        for i in numbers:  # one iterator shared by every caller: each call made once
            started = time.perf_counter()
            await call(i)
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(caller() for _ in range(in_flight)))
    return latencies


def _calls_sync(call: Callable[[int], Any], first: int, count: int) -> list[float]:
    latencies = []
    for i in range(first, first + count):
        started = time.perf_counter()
        call(i)
        latencies.append(time.perf_counter() - started)
    return latencies


def measure(daprd_pid: int) -> list[dict[str, Any]]:
    """Every kind of call (operation, client, calls in flight): warmed up, then measured in turns."""
    loop = asyncio.new_event_loop()
    sidecar = DaprSidecar(app_id=APP_ID, timeout_s=10)
    session = loop.run_until_complete(_built_in_loop(_session))
    sdk_async = loop.run_until_complete(_built_in_loop(_sdk_async_client))
    sdk_sync = SdkSyncClient()
    async_clients = {
        "DaprSidecar": _sidecar_calls(sidecar),
        "aiohttp alone": _aiohttp_calls(session),
        "SDK async": _sdk_async_calls(sdk_async),
    }

    def in_loop(call: Call, in_flight: int) -> Batch:
        return lambda first, count: loop.run_until_complete(_calls_async(call, first, count, in_flight))

    batches: dict[tuple[str, str, int], Batch] = {}
    for in_flight in CONCURRENCY:
        for client, calls in async_clients.items():
            for operation, call in calls.items():
                batches[operation, client, in_flight] = in_loop(call, in_flight)
    for operation, sync_call in _sdk_sync_calls(sdk_sync).items():
        batches[operation, "SDK sync", 1] = partial(_calls_sync, sync_call)
    # Listed operation by operation, the clients side by side (a stable sort keeps their order).
    batches = dict(sorted(batches.items(), key=lambda item: (OPERATIONS.index(item[0][0]), item[0][2])))
    try:
        say(f"warming up: {WARMUP_CALLS} calls of each of {len(batches)} kinds")
        for batch in batches.values():
            batch(0, WARMUP_CALLS)
        results = {key: Measured() for key in batches}
        each = CALLS // ROUNDS
        for round_ in range(ROUNDS):
            say(f"round {round_ + 1} of {ROUNDS}: {each} calls of each kind")
            for key, batch in batches.items():
                cpu, daprd, wall = time.process_time(), cpu_seconds(daprd_pid), time.perf_counter()
                latencies = batch(WARMUP_CALLS + round_ * each, each)
                measured = results[key]
                measured.wall_s += time.perf_counter() - wall
                measured.client_cpu_s += time.process_time() - cpu
                measured.daprd_cpu_s += cpu_seconds(daprd_pid) - daprd
                measured.latencies_s += latencies
    finally:
        loop.run_until_complete(sidecar.aclose())
        loop.run_until_complete(session.close())
        loop.run_until_complete(sdk_async.close())
        sdk_sync.close()
        loop.close()
    return [measured.row(*key) for key, measured in results.items()]


async def _built_in_loop(build: Callable[[], T]) -> T:
    """The SDK's async client (its gRPC channel) and an aiohttp session belong to the loop that
    runs them: built inside it."""
    return build()


def _sdk_async_client() -> SdkAsyncClient:
    return SdkAsyncClient(interceptors=[ContextMetadata()])


def _session() -> aiohttp.ClientSession:
    """As DaprSidecar's transport holds it (services/shared/transport.py), with the API token."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=200),
        headers={"dapr-api-token": dapr_settings.DAPR_API_TOKEN},
        auto_decompress=False,
    )


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as Markdown; CPU per call is this process's (the client) and daprd's."""
    lines = [
        "| operation | client | in flight | p50 | p99 | client CPU/call | daprd CPU/call | calls/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['operation']} | {r['client']} | {r['in_flight']} | {r['p50_ms']:.2f} ms "
            f"| {r['p99_ms']:.2f} ms | {r['client_cpu_us']} µs | {r['daprd_cpu_us']} µs "
            f"| {r['calls_per_s']:,} |"
        )
    lines.append(
        "\nSDK async: gRPC, but service invocation over HTTP (its default), a new aiohttp session per "
        "call. SDK sync: gRPC, one call at a time."
    )
    return "\n".join(lines)


def figures() -> dict[str, Any]:
    """Starts the bench's daprd, measures every client and stops it again."""
    token = secrets.token_hex(16)
    wanted = {**SIDECAR_SETTINGS, "DAPR_API_TOKEN": token}
    before = {name: getattr(dapr_settings, name) for name in wanted}
    for name, value in wanted.items():
        setattr(dapr_settings, name, value)
    request = request_id_var.set("bench-sdk")
    trace = trace_context_var.set(parse(UNSAMPLED))
    affinity = os.sched_getaffinity(0)
    pinning = split_available()
    where = f"daprd, Redis and the app on {named(SYSTEM_CPUS)}, the clients on {named(LOADGEN_CPUS)}"
    say(where if pinning else "CPUs not pinned (this process may not use the bench's split, bench/cpus.py)")
    started = time.perf_counter()
    try:
        with running(token) as daprd_pid:
            if pinning:
                os.sched_setaffinity(0, LOADGEN_CPUS)
            rows = measure(daprd_pid)
    finally:
        os.sched_setaffinity(0, affinity)
        trace_context_var.reset(trace)
        request_id_var.reset(request)
        for name, value in before.items():
            setattr(dapr_settings, name, value)
    return {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "cpus": where if pinning else "not pinned",
        "calls": CALLS,
        "run_seconds": round(time.perf_counter() - started),
        "rows": rows,
    }


def main() -> int:
    document = figures()
    print(table(document["rows"]))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(document, indent=2) + "\n")
    say(f"whole run {document['run_seconds']} s; written to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
