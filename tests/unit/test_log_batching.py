"""JSON log lines leave in batches (one write per interval, not per line), warnings at once,
and nothing queued is lost at exit."""

import io
import json
import logging
import threading

from harness.waiting import wait_until
from services.shared.logging import BatchingStreamHandler, JsonFormatter


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


def logger(stream: Stream, *, interval_s: float, max_queued: int = 20_000) -> logging.Logger:
    handler = BatchingStreamHandler(stream, interval_s=interval_s, max_queued=max_queued)
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

    batches = wait_until(stream.messages, timeout=5, what="the warning to be written")
    assert batches == [["request 1", "sidecar unreachable"]]


def test_flush_at_exit_writes_whatever_is_queued() -> None:
    stream = Stream()
    log = logger(stream, interval_s=60)
    log.info("last words")
    assert stream.messages() == []

    for handler in log.handlers:
        handler.flush()  # what logging.shutdown does at exit
    assert stream.messages() == [["last words"]]


class StalledStream(Stream):
    """A pipe whose reader stopped reading: a write blocks until `resume` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.resume = threading.Event()
        self.blocked = threading.Event()

    def write(self, text: str) -> int:
        self.blocked.set()
        self.resume.wait()
        return super().write(text)


def test_a_stalled_stream_never_blocks_logging_and_drops_only_past_the_queue() -> None:
    stream = StalledStream()
    log = logger(stream, interval_s=0.01, max_queued=5)
    log.warning("first")  # taken by the writer, whose write now hangs
    wait_until(stream.blocked.is_set, timeout=5, what="the writer to be stuck in its write")

    logged = threading.Thread(target=lambda: [log.info(f"line {n}") for n in range(8)], daemon=True)
    logged.start()
    logged.join(timeout=5)
    assert not logged.is_alive()  # every call returned while the stream took nothing

    stream.resume.set()
    expected = [["first"], ["line 0", "line 1", "line 2", "line 3", "line 4", "log lines dropped"]]
    written = wait_until(
        lambda: (
            (m := [[text.split(":")[0] for text in batch] for batch in stream.messages()]) == expected and m
        ),
        timeout=5,
        what="the queued lines and the count of those dropped",
    )
    assert written == expected


def test_shutdown_flushes_while_the_writer_is_mid_write_without_a_deadlock() -> None:
    stream = StalledStream()
    log = logger(stream, interval_s=0.01)
    (handler,) = log.handlers
    log.warning("before exit")
    wait_until(stream.blocked.is_set, timeout=5, what="the writer to be stuck in its write")
    log.info("last words")

    def shutdown() -> None:  # what logging.shutdown does: flush while holding the handler's lock
        handler.acquire()
        try:
            handler.flush()
        finally:
            handler.release()

    exiting = threading.Thread(target=shutdown, daemon=True)
    exiting.start()
    stream.resume.set()
    exiting.join(timeout=5)

    assert not exiting.is_alive()
    assert stream.messages() == [["before exit"], ["last words"]]
