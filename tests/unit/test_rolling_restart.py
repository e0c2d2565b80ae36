"""The rolling restart's plumbing (scripts/restart.py): which HAProxy server is which replica,
the flags it reads from a sidecar's command line, and what it refuses. The restart itself runs
against the real system in the fault tests (tests/faults, REPLICAS=2: a row per app)."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load(name: str):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(name, ROOT / f"scripts/{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


restart = load("restart")
replicas = load("replicas")


def test_haproxy_is_administered_on_a_socket_only_its_owner_may_use(tmp_path: Path) -> None:
    config = replicas.haproxy_config(replicas.run_file(2), admin_socket=tmp_path / "haproxy.sock")

    assert f"    stats socket {tmp_path / 'haproxy.sock'} mode 600 level admin" in config.splitlines()


def test_each_public_replica_is_found_as_its_haproxy_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg, sock = tmp_path / "haproxy.cfg", tmp_path / "haproxy.sock"
    cfg.write_text(replicas.haproxy_config(replicas.run_file(2), admin_socket=sock))
    sock.touch()
    monkeypatch.setattr(restart, "HAPROXY_CFG", cfg)
    monkeypatch.setattr(restart, "HAPROXY_SOCKET", sock)

    assert restart.HAProxy().servers == {
        8100: "gateway/gateway-0",
        8200: "gateway/gateway-1",
        8101: "notifications/notifications-0",
        8201: "notifications/notifications-1",
    }


def test_without_haproxy_running_no_replica_is_taken_out_of_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(restart, "HAPROXY_SOCKET", tmp_path / "absent.sock")

    assert restart.HAProxy().servers == {}


def test_a_sidecars_ports_are_read_from_its_command_line() -> None:
    argv = ["/x/daprd", "--app-id", "orders", "--app-port", "8140", "--dapr-http-port", "3640"]

    assert restart.flag(argv, "--app-port") == "8140"
    assert restart.flag(argv, "--dapr-http-port") == "3640"
    assert restart.flag(argv, "--metrics-port") is None
    assert restart.flag(["/x/daprd", "--app-port"], "--app-port") is None  # a flag without its value


def test_an_unknown_app_is_refused_with_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.argv", ["restart.py", "ordres"])

    with pytest.raises(SystemExit) as refused:
        restart.main()

    assert "unknown app(s): ordres" in str(refused.value.code)
    assert "orders" in str(refused.value.code)


def test_a_replica_counts_as_listed_as_long_as_the_resolvers_list_it() -> None:
    # components/config.yaml: a sidecar renews its registration well within this.
    assert restart.update_interval_s() == 2
