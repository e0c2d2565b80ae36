"""JSON logs, one object per line, carrying the service name, the current request id and the
current trace id (the W3C trace the request belongs to: the same id Zipkin shows)."""

import json
import logging
import sys
import threading
import time
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
    write was a sixth of the gateway's time. A warning or an error goes out at once, with the
    lines queued before it; at exit everything queued is written (logging.shutdown flushes).
    A kill -9 loses at most the last `interval_s` of info lines."""

    def __init__(self, stream: TextIO, *, interval_s: float = 0.05, max_lines: int = 512) -> None:
        super().__init__()
        self.stream = stream
        self.interval_s = interval_s
        self.max_lines = max_lines
        self._lines: list[str] = []
        self._queued = threading.Event()  # set while lines wait for the writer
        threading.Thread(target=self._write_batches, name="log-writer", daemon=True).start()

    def emit(self, record: logging.LogRecord) -> None:
        # Called under self.lock (Handler.handle).
        try:
            self._lines.append(self.format(record))
        except Exception:
            self.handleError(record)
            return
        if record.levelno >= logging.WARNING or len(self._lines) >= self.max_lines:
            self._write()
        else:
            self._queued.set()

    def flush(self) -> None:
        self.acquire()
        try:
            self._write()
        finally:
            self.release()

    def _write(self) -> None:
        self._queued.clear()
        if self._lines:
            text = "\n".join(self._lines) + "\n"
            self._lines.clear()
            try:
                self.stream.write(text)
                self.stream.flush()
            except (OSError, ValueError):  # stdout is gone (its reader exited): nowhere to write
                pass

    def _write_batches(self) -> None:
        """The writer thread: asleep while nothing is logged, else one write per interval."""
        while True:
            self._queued.wait()
            time.sleep(self.interval_s)  # let the batch gather
            self.flush()


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
