"""HAProxy's flood guard (scripts/replicas.py, edge_rules), in a real HAProxy started from the
configuration `make run` writes, on ports of its own: an address past the threshold is answered
429 by HAProxy itself (after holding it), in the gateway's shape, while another address, the health probes and
WebSocket upgrades go through. Behind it, a stand-in for the apps that answers 200 to
everything: what is tested is HAProxy's answer, not the apps'."""

import importlib.util
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from harness.waiting import wait_until
from services.gateway.config import Settings

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("replicas", ROOT / "scripts/replicas.py")
assert spec is not None and spec.loader is not None
replicas = importlib.util.module_from_spec(spec)
spec.loader.exec_module(replicas)

# The gateway's budget for one address: 3 a minute, so the edge refuses past 6 in 10 s.
PER_ADDRESS = 3
HOLD_S = 0.2  # each refusal held (HAProxy's tarpit), shorter than the shop's for a quick test
FLOODER, OTHER = "127.0.0.1", "127.0.0.2"


class Answers200(BaseHTTPRequestHandler):
    """200 to every request, and 101 to a WebSocket handshake (then closes)."""

    def do_GET(self) -> None:
        if self.headers.get("Upgrade", "").lower() == "websocket":
            self.send_response(101)
            self.send_header("Connection", "Upgrade")
            self.send_header("Upgrade", "websocket")
            # Any value: HAProxy does not check it, and no client reads it here.
            self.send_header("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
            self.end_headers()
            self.close_connection = True
            return
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:  # not on the test's output
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def edge(tmp_path: Path) -> Iterator[dict[str, str]]:
    """HAProxy in front of the stand-in; the base URL of each frontend, by app-id."""
    haproxy = shutil.which("haproxy")
    assert haproxy, "HAProxy is missing: run `make setup`"
    apps = ThreadingHTTPServer(("127.0.0.1", 0), Answers200)
    threading.Thread(target=apps.serve_forever, daemon=True).start()
    public = {"gateway": free_port(), "notifications": free_port()}
    run = {"apps": [{"appID": app_id, "appPort": apps.server_address[1]} for app_id in public]}
    settings = Settings(APP_ID="gateway", APP_PORT=8000, rate_limit_per_address=PER_ADDRESS)  # type: ignore[call-arg]
    config = tmp_path / "haproxy.cfg"
    config.write_text(replicas.haproxy_config(run, settings, public, hold_s=HOLD_S))
    log = (tmp_path / "haproxy.log").open("wb")  # what it said, if it does not come up
    proxy = subprocess.Popen([haproxy, "-db", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT)
    urls = {app_id: f"http://127.0.0.1:{port}" for app_id, port in public.items()}
    try:
        for url in urls.values():  # health checks are not counted
            wait_until(
                lambda url=url: httpx.get(f"{url}/healthz").status_code == 200,
                timeout=10,
                what=f"HAProxy on {url} with its backend up",
            )
        yield urls
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)
        log.close()
        apps.shutdown()


def client(address: str) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=5)


def test_an_address_past_the_threshold_is_refused_by_haproxy_in_the_gateways_shape(
    edge: dict[str, str],
) -> None:
    limit = replicas.edge_threshold(PER_ADDRESS, 60)
    with client(FLOODER) as flooder, client(OTHER) as other:
        served = [flooder.get(f"{edge['gateway']}/api/products").status_code for _ in range(limit)]
        refused = flooder.get(f"{edge['gateway']}/api/products")

        assert served == [200] * limit
        assert refused.status_code == 429
        assert refused.elapsed.total_seconds() >= HOLD_S
        assert refused.json() == {"detail": "too many requests, try again later", "code": "too_many_requests"}
        assert refused.headers["content-type"] == "application/json"
        assert refused.headers["retry-after"] == str(replicas.EDGE_RETRY_AFTER_S)
        assert refused.headers["ratelimit"] == f'"edge";r=0;t={replicas.EDGE_RETRY_AFTER_S}'
        assert refused.headers["ratelimit-policy"] == f'"edge";q={limit};w={replicas.EDGE_PERIOD_S}'
        # Another address is counted on its own; the probes and the health report never are.
        assert other.get(f"{edge['gateway']}/api/products").status_code == 200
        for path in replicas.EDGE_EXEMPT_PATHS:
            assert flooder.get(f"{edge['gateway']}{path}").status_code == 200, path


def handshake_status(url: str, address: str) -> int:
    """The status HAProxy answers a WebSocket handshake to /ws from `address` with."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5, source_address=(address, 0)) as conn:
        conn.sendall(
            b"GET /ws HTTP/1.1\r\nHost: shop\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
            b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        )
        status_line = conn.makefile("rb").readline().decode()
    return int(status_line.split()[1])


def test_websocket_upgrades_are_left_to_notifications_own_bounds(edge: dict[str, str]) -> None:
    limit = replicas.edge_threshold(PER_ADDRESS, 60)
    with client(FLOODER) as flooder:
        for _ in range(limit):
            flooder.get(f"{edge['notifications']}/notifications")
        refused = flooder.get(f"{edge['notifications']}/notifications")

    assert refused.status_code == 429, refused.text
    assert refused.json()["code"] == "too_many_requests"
    # Past the threshold, a handshake still reaches notifications, which bounds sockets itself.
    assert handshake_status(edge["notifications"], FLOODER) == 101
