"""The run file for N replicas (scripts/replicas.py): every replica has ports of its own, the
public apps leave their public port to HAProxy, and HAProxy lists every public replica."""

import importlib.util
from collections import Counter
from pathlib import Path

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
