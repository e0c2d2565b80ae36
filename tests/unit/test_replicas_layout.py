"""The run file for N replicas (scripts/replicas.py): every replica has ports of its own, the
public apps leave their public port to HAProxy, and HAProxy lists every public replica; and
HAProxy's flood guard, which refuses an address far past the gateway's budget itself."""

import importlib.util
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from services.gateway.budget import _REFUSED

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("replicas", ROOT / "scripts/replicas.py")
assert spec is not None and spec.loader is not None
replicas = importlib.util.module_from_spec(spec)
spec.loader.exec_module(replicas)

PORTS = ("appPort", "daprHTTPPort", "daprGRPCPort", "metricsPort")


def test_three_replicas_of_every_app_share_the_app_ids_and_no_port() -> None:
    run = replicas.run_file(3)

    assert Counter(app["appID"] for app in run["apps"]) == dict.fromkeys(
        ("gateway", "notifications", "auth", "customers", "products", "orders", "order-view"), 3
    )
    ports = [app[port] for app in run["apps"] for port in PORTS]
    assert len(ports) == len(set(ports))
    assert not {8000, 8001} & set(ports)  # HAProxy's


def test_replica_zero_of_a_backend_app_keeps_the_ports_of_dapr_yaml() -> None:
    orders = [app for app in replicas.run_file(2)["apps"] if app["appID"] == "orders"]

    assert [(app["appPort"], app["daprHTTPPort"]) for app in orders] == [(8040, 3540), (8140, 3640)]


def test_haproxy_sends_the_public_ports_to_every_public_replica() -> None:
    config = replicas.haproxy_config(replicas.run_file(2))

    assert "bind 127.0.0.1:8000" in config and "bind 127.0.0.1:8001" in config
    for port in (8100, 8200, 8101, 8201):
        assert f"127.0.0.1:{port} check" in config


def test_the_public_apps_read_the_clients_address_from_haproxy_only() -> None:
    run = replicas.run_file(2)
    trusted = {app["appID"]: app["env"].get("SHOP_TRUSTED_PROXIES") for app in run["apps"]}

    assert "option forwardfor" in replicas.haproxy_config(run)
    assert trusted["gateway"] == trusted["notifications"] == '["127.0.0.1"]'
    assert trusted["auth"] is None


# --- the edge's flood guard: HAProxy refuses an address far past the gateway's budget itself


def edge_lines(config: str, frontend: str) -> list[str]:
    """The lines of one frontend section of HAProxy's configuration."""
    section = config.split(f"frontend {frontend}\n", 1)[1].split("\nbackend ", 1)[0]
    return [line.strip() for line in section.splitlines()]


def test_haproxy_refuses_a_flood_with_the_gateways_429(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SHOP_RATE_LIMIT_PER_ADDRESS", "SHOP_RATE_LIMIT_WINDOW_S"):
        monkeypatch.delenv(name, raising=False)  # the gateway's defaults
    config = replicas.haproxy_config(replicas.run_file(1))

    for frontend in ("gateway", "notifications"):
        lines = edge_lines(config, frontend)
        assert "stick-table type ip size 100k expire 20s store http_req_rate(10s)" in lines
        assert "http-request track-sc0 src unless edge_exempt" in lines
        # Held a second before it is answered (the tarpit), so a closed loop slows down.
        assert "timeout tarpit 1000ms" in lines
        refusal = next(line for line in lines if line.startswith("http-request tarpit"))
        assert refusal.startswith("http-request tarpit status 429 content-type application/json ")
        # The defaults: 1200 a minute per address at the gateway, twice that in 10 s at the edge.
        assert refusal.endswith("if { sc_http_req_rate(0) gt 2400 }")
        assert "hdr Retry-After 20 " in refusal
        assert """hdr RateLimit '"edge";r=0;t=20'""" in refusal
        assert """hdr RateLimit-Policy '"edge";q=2400;w=10'""" in refusal
        # Byte for byte the gateway's own refusal, so a client handles both alike.
        assert f"string '{_REFUSED.decode()}'" in refusal


def test_without_a_hold_haproxy_answers_a_refusal_at_once() -> None:
    lines = edge_lines(replicas.haproxy_config(replicas.run_file(2), hold_s=0), "gateway")

    assert not any("tarpit" in line for line in lines)
    assert any(
        line.startswith("http-request return status 429 content-type application/json ") for line in lines
    )


def test_health_metrics_and_websocket_upgrades_are_not_counted_at_the_edge() -> None:
    lines = edge_lines(replicas.haproxy_config(replicas.run_file(2)), "notifications")

    assert "acl edge_exempt path /healthz /readyz /metrics /api/health" in lines
    assert "acl edge_exempt hdr(upgrade) -i websocket" in lines


def test_the_edge_never_refuses_what_the_gateways_budget_serves() -> None:
    for per_address, window_s in ((1200, 60), (5, 60), (1200, 1), (1200, 3600), (100_000_000, 60)):
        limit = replicas.edge_threshold(per_address, window_s)
        # Within any EDGE_PERIOD_S the gateway serves one address at most its whole budget, or
        # its rate over a period when the window is shorter: the edge lets twice that through.
        served_at_most = per_address * max(1, replicas.EDGE_PERIOD_S / window_s)
        assert limit >= 2 * served_at_most


def test_the_edge_threshold_follows_the_gateways_settings_in_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The suite raises the budget (harness/system.py): the edge must not refuse it either.
    monkeypatch.setenv("SHOP_RATE_LIMIT_PER_ADDRESS", "100000000")

    config = replicas.haproxy_config(replicas.run_file(2))

    assert "if { sc_http_req_rate(0) gt 200000000 }" in config


@pytest.mark.parametrize("hold_s", [1.0, 0.0])
def test_haproxy_accepts_the_configuration(tmp_path: Path, hold_s: float) -> None:
    haproxy = shutil.which("haproxy")
    assert haproxy, "HAProxy is missing: run `make setup`"
    path = tmp_path / "haproxy.cfg"
    path.write_text(replicas.haproxy_config(replicas.run_file(2), hold_s=hold_s))

    checked = subprocess.run([haproxy, "-c", "-f", str(path)], capture_output=True, text=True)

    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_one_replica_behind_the_edge_leaves_the_public_port_to_haproxy() -> None:
    gateway = next(app for app in replicas.run_file(1)["apps"] if app["appID"] == "gateway")

    assert gateway["appPort"] == 8100
    assert gateway["env"]["SHOP_TRUSTED_PROXIES"] == '["127.0.0.1"]'
