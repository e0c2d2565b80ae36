"""The public API's request budget (services/gateway/budget.py), counted by the `limits`
library in its in-memory storage (the e2e tests count in Redis, across replicas)."""

from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from starlette.middleware import Middleware

from services.gateway.budget import BudgetMiddleware, Policy, RequestBudget, verified_actor
from services.shared.identity import Actor
from services.shared.tokens import TokenIssuer

KEY = "k" * 32
PER_USER, PER_ADDRESS, WINDOW_S = 3, 5, 60


def token(user_id: str) -> dict[str, str]:
    issued = TokenIssuer(KEY).issue(Actor(id=user_id, role="customer"), email=f"{user_id}@example.com")
    return {"Authorization": f"Bearer {issued}"}


def app_with(storage: Storage) -> FastAPI:
    app = FastAPI(middleware=[Middleware(BudgetMiddleware)])
    app.state.budget = RequestBudget(
        storage,
        per_user=Policy("user", PER_USER, WINDOW_S),
        per_address=Policy("address", PER_ADDRESS, WINDOW_S),
        trusted_proxies=frozenset({"10.0.0.9"}),
        jwt_key=KEY,
    )

    @app.get("/api/products")
    @app.get("/api/health")
    @app.get("/assets/app.js")
    def answer(request: Request) -> dict[str, str | None]:
        actor = verified_actor(request.scope)
        return {"verified": actor.id if actor else None}

    return app


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(app_with(MemoryStorage())) as client:
        yield client


def statuses(client: TestClient, n: int, path: str = "/api/products", **kwargs: object) -> list[int]:
    return [client.get(path, **kwargs).status_code for _ in range(n)]  # type: ignore[arg-type]


def test_a_user_over_budget_is_refused_with_the_drafts_fields_while_another_is_served(
    client: TestClient,
) -> None:
    assert statuses(client, PER_USER, headers=token("alice")) == [200] * PER_USER

    refused = client.get("/api/products", headers=token("alice"))
    assert refused.status_code == 429
    assert refused.json() == {"detail": "too many requests, try again later", "code": "too_many_requests"}
    wait_s = int(refused.headers["retry-after"])
    assert 1 <= wait_s <= WINDOW_S
    assert refused.headers["ratelimit"] == f'"user";r=0;t={wait_s}'
    assert refused.headers["ratelimit-policy"] == f'"user";q={PER_USER};w={WINDOW_S}'

    assert client.get("/api/products", headers=token("bob")).status_code == 200


def test_without_a_valid_token_the_address_is_the_client(client: TestClient) -> None:
    invalid = {"Authorization": "Bearer not-a-token"}
    assert statuses(client, PER_ADDRESS, headers=invalid) == [200] * PER_ADDRESS
    refused = client.get("/api/products")
    assert refused.status_code == 429
    assert refused.headers["ratelimit-policy"] == f'"address";q={PER_ADDRESS};w={WINDOW_S}'
    # A user at that address has a budget of its own.
    assert client.get("/api/products", headers=token("carol")).status_code == 200


def test_behind_a_trusted_proxy_each_forwarded_address_has_its_own_budget() -> None:
    with TestClient(app_with(MemoryStorage()), client=("10.0.0.9", 40000)) as client:
        first = {"X-Forwarded-For": "203.0.113.1"}
        assert statuses(client, PER_ADDRESS + 1, headers=first)[-1] == 429
        assert client.get("/api/products", headers={"X-Forwarded-For": "203.0.113.2"}).status_code == 200


def test_health_and_anything_outside_the_api_are_not_counted(client: TestClient) -> None:
    assert statuses(client, PER_ADDRESS + 2, "/api/health") == [200] * (PER_ADDRESS + 2)
    assert statuses(client, PER_ADDRESS + 2, "/assets/app.js") == [200] * (PER_ADDRESS + 2)
    assert statuses(client, PER_ADDRESS) == [200] * PER_ADDRESS


def test_the_route_gets_the_caller_the_budget_verified(client: TestClient) -> None:
    assert client.get("/api/products", headers=token("dave")).json() == {"verified": "dave"}
    assert client.get("/api/products").json() == {"verified": None}


def test_an_unreachable_redis_leaves_requests_served_uncounted() -> None:
    # Nothing listens on port 1: every connection is refused at once.
    storage = RedisStorage("async+redis://127.0.0.1:1", implementation="redispy", socket_connect_timeout=0.25)
    with TestClient(app_with(storage)) as client:
        assert statuses(client, PER_USER + 2, headers=token("erin")) == [200] * (PER_USER + 2)


def test_a_refusal_is_remembered_until_its_wait_is_over_without_asking_redis_again() -> None:
    app = app_with(MemoryStorage())
    with TestClient(app) as client:
        assert statuses(client, PER_USER + 1, headers=token("frank"))[-1] == 429
        # Were the storage asked again, a fresh one would find the budget whole.
        app.state.budget.limiter = SlidingWindowCounterRateLimiter(MemoryStorage())
        again = client.get("/api/products", headers=token("frank"))
        assert again.status_code == 429
        assert 1 <= int(again.headers["retry-after"]) <= WINDOW_S
