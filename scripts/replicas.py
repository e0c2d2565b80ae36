"""Writes the multi-app run file for N replicas of every app, and the HAProxy configuration that
keeps the public ports (gateway 8000, notifications 8001) in front of their replicas.

    python scripts/replicas.py N OUT_DIR     # writes OUT_DIR/dapr.yaml and OUT_DIR/haproxy.cfg

Every replica has the same app-id and its own sidecar; Dapr's name resolution spreads calls
across them and the broker spreads each subscription's messages. Replica 0 of a backend app
keeps the ports dapr.yaml gives it (so `make run` with one replica is unchanged, and its sidecar
is where the tests and tools expect it); replica k adds 100 * k to each port. The public apps
move every replica off their public port, which HAProxy takes: replica k of the gateway listens
on 8000 + 100 * (k + 1). Replica k > 0 runs in .run/replicas/<k> so its logs have a directory of
their own (the CLI names log files by app-id and second).

HAProxy also refuses a flood at the edge: an address making far more requests than the gateway's
request budget would ever serve it is answered 429 by HAProxy itself, from a stick table, before
the request reaches a Python process (edge_rules; docs/security.md, "A login flood, measured").
With one replica, `EDGE=1` puts HAProxy in front all the same (scripts/run.sh).
"""

import hashlib
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the gateway's settings, for the edge's threshold

from services.gateway.config import Settings as GatewaySettings  # noqa: E402

PUBLIC = {"gateway": 8000, "notifications": 8001}
PORTS = ("appPort", "daprHTTPPort", "daprGRPCPort", "metricsPort")
STEP = 100

# The edge's flood guard counts each address's requests over this period (HAProxy's
# http_req_rate: the requests of the current period, plus the last period's weighted by how much
# of it is still within the last EDGE_PERIOD_S). Short, so that a flood is caught within a second
# or so of starting.
EDGE_PERIOD_S = 10
# ... and refuses an address past EDGE_MULTIPLE times the gateway's whole per-address budget in
# that period (edge_threshold).
EDGE_MULTIPLE = 2
# A client that stops is under the threshold again within two periods at most (the last period
# weighs in for one more).
EDGE_RETRY_AFTER_S = 2 * EDGE_PERIOD_S
# Never counted at the edge: the probes, the health report and the metrics, as the gateway's own
# budget leaves them out (services/gateway/budget.py), so a monitor polling through the edge is
# never refused.
EDGE_EXEMPT_PATHS = ("/healthz", "/readyz", "/metrics", "/api/health")
# Seconds HAProxy holds a refused request before answering it (its tarpit; EDGE_HOLD_S in the
# environment, 0 answers at once). Answered at once, a client that sends its next request as
# soon as it has the last answer only floods faster, and HAProxy's answers and the kernel's
# loopback traffic take the CPU the other clients' requests need (docs/security.md, "A login
# flood, measured"). Held a second, each of its connections makes one request a second.
EDGE_HOLD_S = float(os.environ.get("EDGE_HOLD_S", "1"))
# The body of the gateway's own 429 (services/shared/errors.py error_body, budget.py _REFUSED).
EDGE_REFUSED = json.dumps({"detail": "too many requests, try again later", "code": "too_many_requests"})


def instances(app: dict[str, Any], replicas: int) -> list[dict[str, Any]]:
    """The run-file entries of one app's replicas."""
    made = []
    for k in range(replicas):
        entry = dict(app)
        for port in PORTS:
            entry[port] = app[port] + STEP * k
        if app["appID"] in PUBLIC:
            entry["appPort"] = app["appPort"] + STEP * (k + 1)
        workdir = ROOT if k == 0 else ROOT / ".run" / "replicas" / str(k)
        if k > 0:
            # The components name files relative to the sidecar's directory (.run/secrets.json,
            # the name-resolution database): the same files for every replica.
            workdir.mkdir(parents=True, exist_ok=True)
            shared = workdir / ".run"
            if not shared.is_symlink():
                shared.symlink_to(ROOT / ".run")
        entry["appDirPath"] = str(workdir)
        # Each app's own Configuration (its access control), the same file for every replica.
        entry["configFilePath"] = os.path.normpath(ROOT / app["configFilePath"])
        entry["command"] = [str(ROOT / ".venv/bin/python"), "-m", app["command"][-1]]
        # The app runs from its replica's directory: Python finds the services package here.
        entry["env"] = {**app.get("env", {}), "PYTHONPATH": str(ROOT)}
        if app["appID"] in PUBLIC:
            # Every client reaches it through HAProxy on this host: the client's address is the
            # one HAProxy adds to X-Forwarded-For (option forwardfor below).
            entry["env"]["SHOP_TRUSTED_PROXIES"] = '["127.0.0.1"]'
        made.append(entry)
    return made


def run_file(replicas: int) -> dict[str, Any]:
    spec = yaml.safe_load((ROOT / "dapr.yaml").read_text())
    common = dict(spec["common"])
    # Absolute, without following links: .run/broker is a link that run.sh points at BROKER.
    common["resourcesPaths"] = [os.path.normpath(ROOT / p) for p in common["resourcesPaths"]]
    common["configFilePath"] = os.path.normpath(ROOT / common["configFilePath"])
    apps = [entry for app in spec["apps"] for entry in instances(app, replicas)]
    return {"version": spec["version"], "common": common, "apps": apps}


def edge_threshold(per_address: int, window_s: int) -> int:
    """Requests from one address in EDGE_PERIOD_S past which HAProxy refuses it: EDGE_MULTIPLE
    times what the gateway's budget lets one address make in its whole window (1200 a minute by
    default: 2,400 in 10 s, 240 a second, twelve times the budget's average rate). Never less
    than that in any period: with a window shorter than the period, the budget's rate scaled to
    the period. Far enough past the budget that the gateway's own 429 (with its RateLimit fields
    for the `address` policy) is what a client over its budget sees first, and that the users
    behind one address (an office, a carrier's NAT: each counted by token at the gateway, up to
    600 a minute) are not refused by the edge; close enough that a flood of thousands a second
    is cut off within a second of starting."""
    return math.ceil(EDGE_MULTIPLE * per_address * max(1.0, EDGE_PERIOD_S / window_s))


def edge_rules(per_address: int, window_s: int, hold_s: float) -> list[str]:
    """A frontend's flood guard: a stick table of request rates by source address, and a 429
    in the gateway's shape (Retry-After, the IETF draft's RateLimit fields for an `edge` policy,
    the project's error body) for an address past edge_threshold. The exempt paths are not
    counted, nor are WebSocket upgrades, which notifications bounds itself (per user and per
    address, close code 4429). Refused requests count too. With `hold_s`, each refusal is held
    that long first (HAProxy's tarpit): a client that waits for each answer is slowed to one
    request per connection each `hold_s`, and costs the edge next to nothing; when that falls
    under the threshold, its requests go through again until it is over: about the threshold's
    rate reaches the gateway, which refuses it on its own budget."""
    limit = edge_threshold(per_address, window_s)
    wait = EDGE_RETRY_AFTER_S
    action = "tarpit status 429" if hold_s > 0 else "return status 429"
    return [
        *([f"    timeout tarpit {round(hold_s * 1000)}ms"] if hold_s > 0 else []),
        # 100k addresses at about 50 bytes each; an address unseen for two periods is dropped.
        f"    stick-table type ip size 100k expire {2 * EDGE_PERIOD_S}s"
        f" store http_req_rate({EDGE_PERIOD_S}s)",
        f"    acl edge_exempt path {' '.join(EDGE_EXEMPT_PATHS)}",
        "    acl edge_exempt hdr(upgrade) -i websocket",
        "    http-request track-sc0 src unless edge_exempt",
        f"    http-request {action} content-type application/json string '{EDGE_REFUSED}'"
        f" hdr Retry-After {wait} hdr RateLimit '\"edge\";r=0;t={wait}'"
        f" hdr RateLimit-Policy '\"edge\";q={limit};w={EDGE_PERIOD_S}'"
        f" if {{ sc_http_req_rate(0) gt {limit} }}",
    ]


def haproxy_config(
    spec: dict[str, Any],
    settings: GatewaySettings | None = None,
    public: dict[str, int] = PUBLIC,
    hold_s: float = EDGE_HOLD_S,
    admin_socket: Path | None = None,
) -> str:
    """HAProxy in front of the public apps' replicas, on their `public` ports: health-checked
    (an app failing /healthz takes no new connection), WebSocket-aware (an upgraded connection
    stays on its replica), refusing a flood itself (edge_rules) by the gateway's per-address
    budget in `settings` (by default the gateway's, SHOP_RATE_LIMIT_* in the environment
    included), each refusal held `hold_s` first; with an `admin_socket`, administered there."""
    settings = settings or GatewaySettings(APP_ID="gateway", APP_PORT=PUBLIC["gateway"])
    lines = [
        "global",
        # Well within the file descriptors a process may open here (HAProxy needs two a connection).
        "    maxconn 4096",
        # A rolling restart (scripts/restart.py) takes each replica out and back in here.
        *([f"    stats socket {admin_socket} mode 600 level admin"] if admin_socket else []),
        "defaults",
        "    mode http",
        "    timeout connect 2s",
        "    timeout client 60s",
        "    timeout server 60s",
        # A WebSocket is idle between notifications: keep it open as long as its client does.
        "    timeout tunnel 1h",
        "    option redispatch",
        # The client's address for the apps' per-address limits (services/gateway/clients.py).
        "    option forwardfor",
        "    retries 2",
    ]
    for app_id, bound in public.items():
        ports = [a["appPort"] for a in spec["apps"] if a["appID"] == app_id]
        lines += [
            f"frontend {app_id}",
            f"    bind 127.0.0.1:{bound}",
            *edge_rules(settings.rate_limit_per_address, settings.rate_limit_window_s, hold_s),
            f"    default_backend {app_id}",
            f"backend {app_id}",
            "    balance leastconn",
            "    option httpchk GET /healthz",
            # Checked every second; out after 2 failures, back after 2 successes.
            "    default-server inter 1s fall 2 rise 2",
        ]
        lines += [f"    server {app_id}-{k} 127.0.0.1:{port} check" for k, port in enumerate(ports)]
    return "\n".join(lines) + "\n"


def admin_socket(out: Path) -> Path:
    """Where HAProxy's admin socket goes: beside its configuration, or in /tmp under a name of
    this checkout's when that path is past what a Unix socket's address holds (108 bytes)."""
    beside = out / "haproxy.sock"
    if len(str(beside).encode()) < 100:
        return beside
    return Path("/tmp") / f"dapr-shop-haproxy-{hashlib.sha256(str(out).encode()).hexdigest()[:12]}.sock"


def main() -> None:
    replicas, out = int(sys.argv[1]), Path(sys.argv[2])
    if not 1 <= replicas <= 9:
        sys.exit(f"REPLICAS={replicas}: choose 1 to 9")
    spec = run_file(replicas)
    out.mkdir(parents=True, exist_ok=True)
    # JSON is YAML: the CLI reads it as it reads dapr.yaml.
    (out / "dapr.yaml").write_text(json.dumps(spec, indent=2) + "\n")
    (out / "haproxy.cfg").write_text(haproxy_config(spec, admin_socket=admin_socket(out.resolve())))


if __name__ == "__main__":
    main()
