"""The sidecar client, against a fake sidecar (httpx.MockTransport)."""

import asyncio

import httpx
import pytest

from services.shared.dapr import DaprSidecar, ServiceUnavailable


def sidecar(handler: httpx.MockTransport) -> DaprSidecar:
    client = httpx.AsyncClient(base_url="http://sidecar", transport=handler)
    return DaprSidecar(app_id="test", timeout_s=1, client=client)


def test_a_carried_4xx_is_restored_for_the_caller() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1.0/invoke/products/method/reservations"
        return httpx.Response(200, headers={"x-shop-status": "409"}, json={"detail": "short", "code": "x"})

    response = asyncio.run(sidecar(httpx.MockTransport(answer)).invoke("products", "POST", "reservations"))

    assert response.status_code == 409


def test_an_error_raised_by_dapr_itself_means_the_target_is_unavailable() -> None:
    def answer(_: httpx.Request) -> httpx.Response:
        return httpx.Response(
            500, json={"errorCode": "ERR_DIRECT_INVOKE", "message": "circuit breaker is open"}
        )

    with pytest.raises(ServiceUnavailable) as raised:
        asyncio.run(sidecar(httpx.MockTransport(answer)).invoke("orders", "GET", "orders"))
    assert raised.value.reason == "ERR_DIRECT_INVOKE"


REFUSED = (
    "failed to invoke, id: orders, err: rpc error: code = Unavailable desc = connection error: desc ="
    ' "transport: Error while dialing: dial tcp 127.0.0.1:6640: connect: connection refused"'
)


def test_a_call_that_reached_no_replica_goes_again_a_post_too() -> None:
    """A stopped replica stays listed in name resolution for a moment: the call goes again."""
    calls = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        if len(calls) == 1:
            return httpx.Response(500, json={"errorCode": "ERR_DIRECT_INVOKE", "message": REFUSED})
        return httpx.Response(201, json={"id": "o1"})

    response = asyncio.run(sidecar(httpx.MockTransport(answer)).invoke("orders", "POST", "orders"))

    assert (response.status_code, calls) == (201, ["POST", "POST"])


def test_a_call_still_refused_after_the_retries_is_unavailable() -> None:
    calls = []

    def answer(_: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(500, json={"errorCode": "ERR_DIRECT_INVOKE", "message": REFUSED})

    with pytest.raises(ServiceUnavailable):
        asyncio.run(sidecar(httpx.MockTransport(answer)).invoke("orders", "GET", "orders"))
    assert len(calls) == 5  # the first call and four more


def test_a_5xx_from_the_app_itself_is_returned_not_hidden() -> None:
    def answer(_: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"detail": "internal error", "code": "internal_error"})

    response = asyncio.run(sidecar(httpx.MockTransport(answer)).invoke("orders", "GET", "orders"))

    assert response.status_code == 500


def test_a_publish_sends_a_structured_cloudevent_with_our_id() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    asyncio.run(
        sidecar(httpx.MockTransport(answer)).publish(
            "orders", event_id="e-1", event_type="order.confirmed", data={"a": 1}
        )
    )

    assert seen[0].url.path == "/v1.0/publish/pubsub/orders"
    assert seen[0].headers["content-type"] == "application/cloudevents+json"
    body = httpx.Response(200, content=seen[0].content).json()
    assert (body["id"], body["type"], body["source"], body["data"]) == (
        "e-1",
        "order.confirmed",
        "test",
        {"a": 1},
    )
