"""W3C trace context (`traceparent`, `tracestate`) carried from each request to every call it
makes, so one client request is one trace in Zipkin.

The apps send no spans of their own: the sidecars do (components/config.yaml). An app only passes
on the context its sidecar handed it: on a call from Dapr (service invocation or a pub/sub
delivery) `traceparent` names the sidecar's span, and every outgoing Dapr call made while
handling it carries that header, so the next sidecar's span becomes its child. A request that
arrives without one (the public gateway, a client calling it directly) starts a new trace here.
"""

import random
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from starlette.types import Receive, Scope, Send

from services.shared.asgi import HttpMiddleware

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
TRACEPARENT_LENGTH = 55
# version-traceid-parentid-flags; version ff and all-zero ids are invalid (W3C Trace Context).
_TRACEPARENT = re.compile(r"^(?!ff)[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$")
_MAX_TRACESTATE = 512  # the spec's floor that every vendor must accept


@dataclass(frozen=True)
class TraceContext:
    traceparent: str
    tracestate: str | None = None

    @property
    def trace_id(self) -> str:
        return self.traceparent[3:35]

    def headers(self) -> dict[str, str]:
        """The headers that carry this context on an outgoing call."""
        headers = {TRACEPARENT: self.traceparent}
        if self.tracestate:
            headers[TRACESTATE] = self.tracestate
        return headers


trace_context_var: ContextVar[TraceContext | None] = ContextVar("trace_context", default=None)


def parse(traceparent: str | None, tracestate: str | None = None) -> TraceContext | None:
    """A valid context from header values, or None (a malformed one is ignored, as the spec says)."""
    if not traceparent:
        return None
    traceparent = traceparent.strip().lower()
    if not _TRACEPARENT.match(traceparent):
        return None
    state = tracestate.strip() if tracestate else None
    return TraceContext(traceparent, state if state and len(state) <= _MAX_TRACESTATE else None)


def new_trace() -> TraceContext:
    """A new sampled trace, for a request that came in without one. Ids need to be unique, not
    secret (W3C Trace Context): the fast generator, not os.urandom's two syscalls a request.
    (All zeros is the one invalid id.)"""
    trace_id, span_id = random.getrandbits(128) or 1, random.getrandbits(64) or 1
    return TraceContext(f"00-{trace_id:032x}-{span_id:016x}-01")


def current_trace_id() -> str | None:
    context = trace_context_var.get()
    return context.trace_id if context else None


def current_traceparent() -> str | None:
    """The current request's traceparent, kept with work done later on its behalf (outbox rows)."""
    context = trace_context_var.get()
    return context.traceparent if context else None


def outgoing_headers() -> dict[str, str]:
    """Trace headers for a call to the sidecar: the current context's, none outside any."""
    context = trace_context_var.get()
    return context.headers() if context else {}


@contextmanager
def continued(traceparent: str | None) -> Iterator[None]:
    """Runs a block in a trace begun elsewhere (an outbox row relayed after its request ended);
    a missing or malformed traceparent leaves the block outside any trace."""
    token = trace_context_var.set(parse(traceparent))
    try:
        yield
    finally:
        trace_context_var.reset(token)


class TraceContextMiddleware(HttpMiddleware):
    """Puts the incoming request's trace context (or a new one) into `trace_context_var` for the
    whole request, so its log lines and outgoing Dapr calls carry it."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])
        incoming = parse(
            headers.get(TRACEPARENT.encode(), b"").decode("latin-1"),
            headers.get(TRACESTATE.encode(), b"").decode("latin-1"),
        )
        token = trace_context_var.set(incoming or new_trace())
        try:
            await self.app(scope, receive, send)
        finally:
            trace_context_var.reset(token)
