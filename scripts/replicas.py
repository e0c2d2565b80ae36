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
"""

import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
PUBLIC = {"gateway": 8000, "notifications": 8001}
PORTS = ("appPort", "daprHTTPPort", "daprGRPCPort", "metricsPort")
STEP = 100


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


def haproxy_config(spec: dict[str, Any]) -> str:
    """HAProxy in front of the public apps' replicas: health-checked (an app failing /healthz
    takes no new connection), WebSocket-aware (an upgraded connection stays on its replica)."""
    lines = [
        "global",
        # Well within the file descriptors a process may open here (HAProxy needs two a connection).
        "    maxconn 4096",
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
    for app_id, public in PUBLIC.items():
        ports = [a["appPort"] for a in spec["apps"] if a["appID"] == app_id]
        lines += [
            f"frontend {app_id}",
            f"    bind 127.0.0.1:{public}",
            f"    default_backend {app_id}",
            f"backend {app_id}",
            "    balance leastconn",
            "    option httpchk GET /healthz",
            # Checked every second; out after 2 failures, back after 2 successes.
            "    default-server inter 1s fall 2 rise 2",
        ]
        lines += [f"    server {app_id}-{k} 127.0.0.1:{port} check" for k, port in enumerate(ports)]
    return "\n".join(lines) + "\n"


def main() -> None:
    replicas, out = int(sys.argv[1]), Path(sys.argv[2])
    if not 1 <= replicas <= 9:
        sys.exit(f"REPLICAS={replicas}: choose 1 to 9")
    spec = run_file(replicas)
    out.mkdir(parents=True, exist_ok=True)
    # JSON is YAML: the CLI reads it as it reads dapr.yaml.
    (out / "dapr.yaml").write_text(json.dumps(spec, indent=2) + "\n")
    (out / "haproxy.cfg").write_text(haproxy_config(spec))


if __name__ == "__main__":
    main()
