"""The client address the gateway counts a sign-in by (services/gateway/clients.py)."""

from starlette.requests import Request

from services.gateway.clients import client_address

PROXY = frozenset({"127.0.0.1"})


def request(peer: str, *forwarded: str) -> Request:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return Request({"type": "http", "client": (peer, 50000), "headers": headers})


def test_the_peer_is_the_client_unless_it_is_a_trusted_proxy() -> None:
    assert client_address(request("203.0.113.7", "198.51.100.1"), frozenset()) == "203.0.113.7"
    assert client_address(request("203.0.113.7", "198.51.100.1"), PROXY) == "203.0.113.7"


def test_behind_a_trusted_proxy_the_address_it_added_counts_not_what_the_client_wrote() -> None:
    # The client wrote "10.0.0.1" itself; HAProxy appended the address it saw.
    assert client_address(request("127.0.0.1", "10.0.0.1", "203.0.113.7"), PROXY) == "203.0.113.7"
    assert client_address(request("127.0.0.1", "10.0.0.1, 203.0.113.7"), PROXY) == "203.0.113.7"


def test_a_client_on_the_proxys_own_host_is_that_host() -> None:
    assert client_address(request("127.0.0.1", "127.0.0.1"), PROXY) == "127.0.0.1"
    assert client_address(request("127.0.0.1"), PROXY) == "127.0.0.1"
