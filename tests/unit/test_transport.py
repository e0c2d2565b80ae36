"""The aiohttp transport under httpx, against a small aiohttp server on loopback: what a caller
sees (status, headers, body, errors) is what httpx's own transport gives."""

import asyncio
import gzip
import json
from collections.abc import Awaitable, Callable

import httpx
import pytest
from aiohttp import web

from services.shared.transport import AiohttpTransport

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def echo(request: web.Request) -> web.Response:
    body = await request.read()
    return web.json_response(
        {
            "method": request.method,
            "path": request.path_qs,
            "body": body.decode(),
            "token": request.headers.get("x-token"),
        },
        status=409,
        headers={"x-shop-status": "409"},
    )


async def gzipped(_: web.Request) -> web.Response:
    return web.Response(
        body=gzip.compress(b'{"ok": true}'),
        headers={"content-encoding": "gzip", "content-type": "application/json"},
    )


async def slow(_: web.Request) -> web.Response:
    """Never answers: the client's 0.5 s timeout is what ends the call."""
    await asyncio.Event().wait()
    return web.Response(text="never")


async def call(
    handler: Handler, send: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]
) -> httpx.Response:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    # A handler still waiting when the test ends (the never-answering one) is not waited for.
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", transport=AiohttpTransport(max_connections=4), timeout=0.5
        ) as client:
            return await send(client)
    finally:
        await runner.cleanup()


def test_status_headers_body_and_query_travel_both_ways() -> None:
    response = asyncio.run(
        call(echo, lambda c: c.post("/orders?limit=2", json={"a": 1}, headers={"x-token": "t"}))
    )

    assert response.status_code == 409
    assert response.headers["x-shop-status"] == "409"
    assert response.json() == {
        "method": "POST",
        "path": "/orders?limit=2",
        "body": json.dumps({"a": 1}, separators=(",", ":")),
        "token": "t",
    }


def test_a_compressed_answer_is_decoded_once() -> None:
    assert asyncio.run(call(gzipped, lambda c: c.get("/"))).json() == {"ok": True}


def test_no_answer_in_time_is_an_httpx_timeout() -> None:
    with pytest.raises(httpx.TimeoutException):
        asyncio.run(call(slow, lambda c: c.get("/")))


def test_nothing_listening_is_an_httpx_transport_error() -> None:
    async def refused() -> None:
        async with httpx.AsyncClient(transport=AiohttpTransport(max_connections=1)) as client:
            await client.get("http://127.0.0.1:9/")  # the discard port: nothing listens here

    with pytest.raises(httpx.TransportError):
        asyncio.run(refused())
