"""JSON log lines leave in batches (one write per interval, not per line), warnings at once,
and nothing queued is lost at exit."""

import io
import json
import logging
import threading

from services.shared.logging import BatchingStreamHandler, JsonFormatter
from tests.support import wait_until


class Stream(io.StringIO):
    """stdout as the handler sees it: remembers each write."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []
        self.guard = threading.Lock()

    def write(self, text: str) -> int:
        with self.guard:
            self.writes.append(text)
        return len(text)

    def messages(self) -> list[list[str]]:
        with self.guard:
            return [[json.loads(line)["message"] for line in w.splitlines()] for w in self.writes]


def logger(stream: Stream, *, interval_s: float) -> logging.Logger:
    handler = BatchingStreamHandler(stream, interval_s=interval_s)
    handler.setFormatter(JsonFormatter("test"))
    log = logging.getLogger(f"batching-{id(stream)}")
    log.handlers[:] = [handler]
    log.propagate = False
    log.setLevel(logging.INFO)
    return log


def test_info_lines_logged_together_leave_in_one_write() -> None:
    stream = Stream()
    log = logger(stream, interval_s=0.2)
    for n in range(3):
        log.info(f"request {n}")

    batches = wait_until(stream.messages, timeout=5, what="the batch to be written")
    assert batches == [["request 0", "request 1", "request 2"]]


def test_a_warning_goes_out_at_once_with_the_lines_before_it() -> None:
    stream = Stream()
    log = logger(stream, interval_s=60)  # the writer thread would wait a minute
    log.info("request 1")
    log.warning("sidecar unreachable")

    assert stream.messages() == [["request 1", "sidecar unreachable"]]


def test_flush_at_exit_writes_whatever_is_queued() -> None:
    stream = Stream()
    log = logger(stream, interval_s=60)
    log.info("last words")
    assert stream.messages() == []

    for handler in log.handlers:
        handler.flush()  # what logging.shutdown does at exit
    assert stream.messages() == [["last words"]]
