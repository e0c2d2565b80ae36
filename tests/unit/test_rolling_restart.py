"""The rolling restart's plumbing (scripts/restart.py): which HAProxy server is which replica,
the flags it reads from a sidecar's command line, and what it refuses. The restart itself runs
against the real system in the fault tests (tests/faults, REPLICAS=2: a row per app)."""

import importlib.util
import socket
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


@pytest.fixture
def sock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The admin socket HAProxy's configuration (two replicas of every app) names; nothing is
    bound to it yet."""
    cfg, sock = tmp_path / "haproxy.cfg", tmp_path / "haproxy.sock"
    cfg.write_text(replicas.haproxy_config(replicas.run_file(2), admin_socket=sock))
    monkeypatch.setattr(restart, "HAPROXY_CFG", cfg)
    return sock


def test_each_public_replica_is_found_as_its_haproxy_server(sock: Path) -> None:
    with socket.socket(socket.AF_UNIX) as listening:  # HAProxy's, as while it runs
        listening.bind(str(sock))

        edge = restart.HAProxy()

    assert edge.socket == sock
    assert edge.servers == {
        8100: "gateway/gateway-0",
        8200: "gateway/gateway-1",
        8101: "notifications/notifications-0",
        8201: "notifications/notifications-1",
    }


def test_without_haproxy_running_no_replica_is_taken_out_of_it(sock: Path) -> None:
    assert restart.HAProxy().servers == {}


def test_the_admin_socket_moves_to_tmp_when_the_checkout_path_is_too_long_for_one() -> None:
    short, deep = Path("/work/shop/.run/replicas"), Path("/" + "a" * 90 + "/.run/replicas")

    assert replicas.admin_socket(short) == short / "haproxy.sock"
    moved = replicas.admin_socket(deep)
    assert moved.parent == Path("/tmp") and len(str(moved)) < 100
    assert moved == replicas.admin_socket(deep)  # the same checkout, the same socket


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


def test_a_socket_haproxy_left_behind_stops_the_restart_with_a_reason(sock: Path) -> None:
    with socket.socket(socket.AF_UNIX) as left_behind:  # bound, never listening: nobody answers
        left_behind.bind(str(sock))
        edge = restart.HAProxy()

        with pytest.raises(restart.RestartFailed, match=r"admin socket .* does not answer"):
            edge.set_state("gateway/gateway-0", "maint")
