"""Creates (or updates) one JetStream stream per pub/sub topic, for BROKER=nats. Idempotent.

Dapr's pubsub.jetstream publishes to a subject named after the topic and needs a stream that
captures it. One stream per topic lets every app keep one durable consumer per stream named
after its app-id (components/brokers/nats/pubsub.yaml). The topics are read from the declarative
subscriptions, so a new topic there gets its stream too. Speaks the NATS text protocol over a
plain socket: no client library and no `nats` CLI needed.

Usage: python scripts/nats_streams.py [--url 127.0.0.1:4222] [--timeout 30]
"""

import argparse
import json
import re
import socket
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUBSCRIPTIONS = ROOT / "components/subscriptions"
INBOX = "_INBOX.shop-streams"
# JetStream's error code for "stream name already in use with a different configuration".
STREAM_EXISTS_DIFFERENTLY = 10058


def topics() -> list[str]:
    """Every topic and dead-letter topic the declarative subscriptions name."""
    found: set[str] = set()
    for path in sorted(SUBSCRIPTIONS.glob("*.yaml")):
        found.update(re.findall(r"^\s*(?:topic|deadLetterTopic):\s*(\S+)", path.read_text(), re.M))
    return sorted(found)


def stream_config(topic: str) -> dict[str, object]:
    # On disk, so events survive a server restart; bounded like the Redis streams (oldest go first).
    # JetStream drops a republished CloudEvent id within 2 minutes (the default duplicate window).
    return {
        "name": topic,
        "subjects": [topic],
        "retention": "limits",
        "storage": "file",
        "discard": "old",
        "max_msgs": 100_000,
        "num_replicas": 1,
    }


class Nats:
    """Just enough of the NATS protocol for JetStream API requests."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=5)
        self.buffer = b""
        self._line()  # the server's INFO
        self.sock.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\nSUB ' + INBOX.encode() + b" 1\r\n")

    def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("nats-server closed the connection")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def _payload(self, size: int) -> bytes:
        while len(self.buffer) < size + 2:
            self.buffer += self.sock.recv(65536)
        payload, self.buffer = self.buffer[:size], self.buffer[size + 2 :]
        return payload

    def request(self, subject: str, body: dict[str, object]) -> dict[str, object]:
        data = json.dumps(body).encode()
        self.sock.sendall(f"PUB {subject} {INBOX} {len(data)}\r\n".encode() + data + b"\r\n")
        while True:
            line = self._line()
            if line.startswith(b"PING"):
                self.sock.sendall(b"PONG\r\n")
            elif line.startswith(b"MSG"):
                reply: dict[str, object] = json.loads(self._payload(int(line.split()[-1])))
                return reply
            elif line.startswith(b"-ERR"):
                raise ConnectionError(line.decode())


def ensure_stream(nats: Nats, topic: str) -> str:
    config = stream_config(topic)
    reply = nats.request(f"$JS.API.STREAM.CREATE.{topic}", config)
    error = reply.get("error")
    if isinstance(error, dict) and error.get("err_code") == STREAM_EXISTS_DIFFERENTLY:
        reply = nats.request(f"$JS.API.STREAM.UPDATE.{topic}", config)
        error = reply.get("error")
    if error:
        raise RuntimeError(f"stream {topic}: {error}")
    return topic


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="127.0.0.1:4222")
    parser.add_argument("--timeout", type=float, default=30)
    args = parser.parse_args()
    host, port = args.url.removeprefix("nats://").rsplit(":", 1)
    # JetStream answers a few moments after the port opens: retry until the deadline.
    deadline = time.monotonic() + args.timeout
    while True:
        nats = None
        try:
            nats = Nats(host, int(port))
            made = [ensure_stream(nats, topic) for topic in topics()]
            print(f"JetStream streams ready: {', '.join(made)}")
            return 0
        except (OSError, RuntimeError) as exc:
            if time.monotonic() >= deadline:
                print(f"could not create the JetStream streams: {exc}", file=sys.stderr)
                return 1
            time.sleep(0.5)
        finally:
            if nats is not None:
                nats.sock.close()


if __name__ == "__main__":
    sys.exit(main())
