"""JSON logs, one object per line, carrying the service name, the current request id and the
current trace id (the W3C trace the request belongs to: the same id Zipkin shows)."""

import json
import logging
import sys
import threading
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TextIO

from services.shared.tracing import current_trace_id

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object; extra= fields become top-level keys."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        trace_id = current_trace_id()
        if trace_id:
            entry["trace_id"] = trace_id
        entry.update({k: v for k, v in vars(record).items() if k not in _RESERVED and not k.startswith("_")})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class BatchingStreamHandler(logging.Handler):
    """Writes log lines in batches: what the last `interval_s` logged in one write, instead of a
    write (and a wake-up of whoever reads the pipe: `dapr run`) per line. Under load that per-line
    write was a sixth of the gateway's time. A warning or an error wakes the writer at once; at
    exit everything queued is written (logging.shutdown flushes). A kill -9 loses at most the
    last `interval_s` of info lines.

    Logging never waits for the stream: only the writer thread writes, outside the lock that
    logging calls take. A pipe whose reader stops reading (`dapr run` suspended or busy, a slow
    log shipper) then fills up without freezing the app: lines queue, up to `max_queued`; past
    that they are counted, dropped, and the count is logged once the stream takes lines again.
    (Written under that lock, as before, the app froze on its next log line until the reader
    read again: tests/unit/test_log_batching.py.)"""

    def __init__(
        self, stream: TextIO, *, interval_s: float = 0.05, max_lines: int = 512, max_queued: int = 20_000
    ) -> None:
        super().__init__()
        self.stream = stream
        self.interval_s = interval_s
        self.max_lines = max_lines
        self.max_queued = max_queued
        self._lines: list[str] = []
        self._dropped = 0
        self._queued = threading.Event()  # set while lines wait for the writer
        self._urgent = threading.Event()  # set when they should not wait for the interval
        # Batches are written one at a time, in the order they were taken from the queue: each
        # takes a ticket under self.lock, then waits its turn with that lock released.
        self._tickets = 0
        self._written = 0
        self._turn = threading.Condition()
        threading.Thread(target=self._write_batches, name="log-writer", daemon=True).start()

    def emit(self, record: logging.LogRecord) -> None:
        # Called under self.lock (Handler.handle): quick, never a write.
        if len(self._lines) >= self.max_queued:
            self._dropped += 1
            return
        try:
            self._lines.append(self.format(record))
        except Exception:
            self.handleError(record)
            return
        if record.levelno >= logging.WARNING or len(self._lines) >= self.max_lines:
            self._urgent.set()
        self._queued.set()

    def flush(self) -> None:
        """Writes everything queued, from the calling thread (the writer; logging.shutdown at
        exit, which calls it holding self.lock: the write itself never needs that lock)."""
        self.acquire()
        try:
            lines, self._lines = self._lines, []
            dropped, self._dropped = self._dropped, 0
            self._queued.clear()
            self._urgent.clear()
            ticket, self._tickets = self._tickets, self._tickets + 1
        finally:
            self.release()
        if dropped:
            lines.append(self.format(_dropped_notice(dropped)))
        with self._turn:
            self._turn.wait_for(lambda: self._written == ticket)
            try:
                if lines:
                    self.stream.write("\n".join(lines) + "\n")
                    self.stream.flush()
            except (OSError, ValueError):  # stdout is gone (its reader exited): nowhere to write
                pass
            finally:
                self._written += 1
                self._turn.notify_all()

    def _write_batches(self) -> None:
        """The writer thread: asleep while nothing is logged, else one write per interval (or
        at once for a warning)."""
        while True:
            self._queued.wait()
            self._urgent.wait(self.interval_s)  # let the batch gather, unless it should not
            self.flush()


def _dropped_notice(dropped: int) -> logging.LogRecord:
    return logging.makeLogRecord(
        {
            "name": __name__,
            "levelno": logging.WARNING,
            "levelname": "WARNING",
            "msg": "log lines dropped: stdout took none while the queue was full",
            "dropped": dropped,
        }
    )


def configure_logging(service: str, level: str = "INFO") -> None:
    """Routes every logger (uvicorn's included) through one JSON handler on stdout."""
    handler = BatchingStreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # Access lines would double every request log; the request middleware logs instead.
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("httpx").setLevel(logging.WARNING)
