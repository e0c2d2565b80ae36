"""Abuse resistance at the edge (docs/security.md): failed logins throttled per account and per
address in the state store every auth replica shares, each client's request budget at the
gateway counted in the Redis every gateway replica shares, and a bound on each user's WebSockets."""

import json
import random
import socket
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from harness.shop import User, api, register, unique_email
from harness.system import System, SystemManager, app_environ, app_ports, stop_app
from harness.waiting import wait_until
from tests.e2e.conftest import BROKER

# Short windows and low limits, so that the tests take seconds and leave no counter behind that
# would throttle the next run (the counters live in Redis, which keeps them across runs): auth is
# restarted with them for the login tests, then as it was. A window of another length counts in
# other keys, so the default settings' counters are untouched.
WINDOW_S, ACCOUNT_LIMIT, ADDRESS_LIMIT = 8, 3, 20
SHORT = {
    "SHOP_LOGIN_WINDOW_S": str(WINDOW_S),
    "SHOP_LOGIN_FAILURES_PER_ACCOUNT": str(ACCOUNT_LIMIT),
    "SHOP_LOGIN_FAILURES_PER_ADDRESS": str(ADDRESS_LIMIT),
}
# The gateway's per-user request budget, small and short for the same reasons (the suite runs
# with it raised: harness/system.py). The per-address one stays raised: every test's anonymous
# requests come from 127.0.0.1, the login tests' many failures too.
BUDGET, BUDGET_WINDOW_S = 10, 5
SMALL_BUDGET = {"SHOP_RATE_LIMIT_PER_USER": str(BUDGET), "SHOP_RATE_LIMIT_WINDOW_S": str(BUDGET_WINDOW_S)}
# WebSockets per address, lowered from the suite's (every socket comes from 127.0.0.1).
PER_ADDRESS = 7
FEW_SOCKETS = {"SHOP_MAX_CONNECTIONS_PER_ADDRESS": str(PER_ADDRESS)}


def log_in(email: str, password: str) -> httpx.Response:
    return api("POST", "/auth/login", json={"email": email, "password": password})


def fail_until_refused(email: str, *, within: int) -> httpx.Response:
    """Wrong passwords for `email` until the first answer that is not 401; fails past `within`."""
    for attempt in range(1, within + 1):
        response = log_in(email, "not-the-password")
        if response.status_code != 401:
            return response
        assert attempt < within, f"still 401 after {within} wrong passwords for one account"
    raise AssertionError("unreachable")


def assert_throttled(response: httpx.Response, *, window_s: int) -> None:
    assert response.status_code == 429, response.text
    assert response.json() == {"detail": "too many attempts, try again later", "code": "too_many_requests"}
    assert 1 <= int(response.headers["retry-after"]) <= window_s


# --- WebSockets -----------------------------------------------------------------------------

# Each notifications replica's own port (not HAProxy's): the sockets of one user are spread over
# them, so the bound holds across replicas, not per replica.
WS_PORTS = app_ports("notifications", 8001)
PER_USER = 5  # services/notifications/config.py
# Counted across replicas through leases renewed every quarter of socket_lease_s (12 s): a
# replica closes its socket a newer one on another replica evicted within about 3 s.
EVICTED_WITHIN_S = 10


def open_socket(stack: ExitStack, user: User, k: int = 0, source: str | None = None) -> ClientConnection:
    """The user's socket on replica k (modulo their number), from `source` when given (an
    address of the loopback network: Linux answers on all of 127.0.0.0/8)."""
    port = WS_PORTS[k % len(WS_PORTS)]
    sock = socket.create_connection(("127.0.0.1", port), 5, (source, 0)) if source else None
    ws = stack.enter_context(
        connect(f"ws://127.0.0.1:{port}/ws?token={user.token}", open_timeout=5, sock=sock)
    )
    assert json.loads(ws.recv(timeout=5)) == {"event": "authorized"}
    return ws


def closed_with(ws: ClientConnection, timeout: float = EVICTED_WITHIN_S) -> int | None:
    try:
        ws.recv(timeout=timeout)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    return None


def test_a_users_sixth_websocket_closes_the_oldest(system: System) -> None:
    user = register()
    with ExitStack() as stack:
        sockets = [open_socket(stack, user, k) for k in range(PER_USER + 1)]
        assert closed_with(sockets[0]) == 4429
        # The other five stay open.
        for ws in sockets[1:]:
            with pytest.raises(TimeoutError):
                ws.recv(timeout=0.2)


def test_a_message_over_the_size_bound_closes_the_websocket(system: System) -> None:
    with ExitStack() as stack:
        ws = open_socket(stack, register())
        ws.send("x" * 32 * 1024)
        assert closed_with(ws) == 1009


# --- login throttling, the request budget, WebSockets per address (last: the fixture restarts
# auth, the gateway and notifications as they were when the module ends) ---


@pytest.fixture(scope="module")
def short_windows(systems: SystemManager) -> Iterator[None]:
    system = systems.ensure(BROKER)
    changed = {"auth": SHORT, "gateway": SMALL_BUDGET, "notifications": FEW_SOCKETS}
    environs = {app_id: app_environ(app_id) for app_id in changed}
    for app_id in changed:
        stop_app(app_id)
    system.restart_apps_and_wait(
        {app_id: [{**environ, **changed[app_id]} for environ in environs[app_id]] for app_id in changed}
    )
    try:
        yield
    finally:
        for app_id in changed:
            stop_app(app_id)
        system.restart_apps_and_wait(environs)


def test_a_user_over_the_request_budget_is_refused_while_another_is_served(
    system: System, short_windows: None
) -> None:
    """Every gateway replica counts in the same Redis: with two, a budget counted per replica
    would let twice as many through."""
    alice, bob = register(), register()

    def products(user: User) -> httpx.Response:
        return api("GET", "/products?limit=1", token=user.token)

    answers: list[httpx.Response] = []
    while len(answers) <= 2 * BUDGET and (not answers or answers[-1].status_code == 200):
        answers.append(products(alice))

    refused = answers[-1]
    # A sliding window counter weighs in the window before: a request or two more may pass.
    assert BUDGET <= len(answers) - 1 <= BUDGET + 2, [r.status_code for r in answers]
    assert refused.status_code == 429, refused.text
    assert refused.json() == {"detail": "too many requests, try again later", "code": "too_many_requests"}
    wait_s = int(refused.headers["retry-after"])
    assert 1 <= wait_s <= BUDGET_WINDOW_S
    assert refused.headers["ratelimit"] == f'"user";r=0;t={wait_s}'
    assert refused.headers["ratelimit-policy"] == f'"user";q={BUDGET};w={BUDGET_WINDOW_S}'

    assert products(bob).status_code == 200
    wait_until(
        lambda: products(alice).status_code == 200,
        timeout=3 * BUDGET_WINDOW_S,
        what=f"alice served again after the {BUDGET_WINDOW_S} s window",
    )


def test_websockets_from_one_address_are_bounded_whoever_opens_them(
    system: System, short_windows: None
) -> None:
    """From an address of its own, so that no other test's sockets count: a lease given back a
    moment late would be the oldest."""
    alice, bob = register(), register()
    address = f"127.77.{random.randrange(256)}.{random.randrange(1, 255)}"
    with ExitStack() as stack:
        first = [open_socket(stack, alice, k, address) for k in range(PER_ADDRESS // 2 + 1)]
        rest = [open_socket(stack, bob, k, address) for k in range(PER_ADDRESS - len(first) + 1)]
        # One more than the address may hold: alice's oldest gives way, though she has fewer
        # than her own bound.
        assert closed_with(first[0]) == 4429
        for ws in [*first[1:], *rest]:
            with pytest.raises(TimeoutError):
                ws.recv(timeout=0.2)


def test_failed_logins_for_one_account_are_refused_with_429_then_even_with_its_password(
    system: System, short_windows: None
) -> None:
    user = register()
    for _ in range(ACCOUNT_LIMIT):
        assert log_in(user.email, "not-the-password").status_code == 401

    assert_throttled(log_in(user.email, "not-the-password"), window_s=WINDOW_S)
    # Throttled is throttled: the right password says nothing more until the window ends.
    assert_throttled(log_in(user.email, user.password), window_s=WINDOW_S)


def test_an_unknown_account_is_throttled_exactly_like_a_known_one(
    system: System, short_windows: None
) -> None:
    email = unique_email("nobody")
    answers = [log_in(email, "not-the-password") for _ in range(ACCOUNT_LIMIT)]
    assert {(r.status_code, r.json()["code"]) for r in answers} == {(401, "invalid_credentials")}

    assert_throttled(log_in(email, "not-the-password"), window_s=WINDOW_S)


def test_the_right_password_works_again_once_the_window_has_passed(
    system: System, short_windows: None
) -> None:
    user = register()
    assert_throttled(fail_until_refused(user.email, within=ACCOUNT_LIMIT + 1), window_s=WINDOW_S)

    def logged_in() -> bool:
        return log_in(user.email, user.password).status_code == 200

    wait_until(
        logged_in, timeout=3 * WINDOW_S, what=f"a login with the right password after the {WINDOW_S} s window"
    )


def test_failed_logins_from_one_address_are_refused_for_any_account(
    system: System, short_windows: None
) -> None:
    """Every test runs from 127.0.0.1: after ADDRESS_LIMIT failures, each for another account,
    one more account never tried before is refused too. (A window may end on the way, the
    counting then starts again: twice the limit is always enough.)"""
    answers: list[httpx.Response] = []
    while len(answers) <= 2 * ADDRESS_LIMIT and (not answers or answers[-1].status_code == 401):
        answers.append(log_in(unique_email("spray"), "not-the-password"))

    # No account was tried twice: the refusal is the address's.
    assert_throttled(answers[-1], window_s=WINDOW_S)
