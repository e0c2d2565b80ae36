"""An httpx transport that sends each request through aiohttp's connection pool.

httpcore's pool checks every pooled connection on every request (a poll() system call and a
handful of attribute lookups each): with the few dozen keep-alive connections a busy app holds
to its sidecar, that check was most of the gateway's CPU (py-spy under `make bench`). aiohttp
hands out an idle connection in constant time. httpx stays the API the services and the unit
tests use (requests, responses, errors, MockTransport); only the wire underneath changes.
"""

from typing import Any

import aiohttp
import httpx


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Plain HTTP/1.1 to one local peer (the sidecar): no proxies, no TLS settings of its own."""

    def __init__(self, *, max_connections: int) -> None:
        self.max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        # Built on first use: an aiohttp session belongs to the event loop that runs it.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.max_connections),
                # httpx decodes the body by its Content-Encoding, as with its own transport.
                auto_decompress=False,
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in request.headers.raw]
        body = await request.aread()
        return await self.send(
            request.method,
            str(request.url),
            headers=headers,
            body=body or None,
            timeout=_timeout(request.extensions.get("timeout", {})),
            request=request,
        )

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Any,
        body: bytes | None,
        timeout: aiohttp.ClientTimeout,
        request: httpx.Request | None = None,
    ) -> httpx.Response:
        """One exchange, answered as an httpx.Response; aiohttp's errors as httpx's. DaprSidecar
        calls it directly: httpx.AsyncClient's own request path (URL parsing, request and cookie
        models) cost an app about 0.2 ms of CPU per sidecar call (make bench-sdk)."""
        try:
            async with self._client().request(
                method, url, headers=headers, data=body, timeout=timeout, allow_redirects=False
            ) as answer:
                content = await answer.read()
                return httpx.Response(
                    answer.status, headers=list(answer.raw_headers), content=content, request=request
                )
        except TimeoutError as exc:  # aiohttp's timeouts are TimeoutErrors too
            raise httpx.ReadTimeout(f"no answer within {timeout.total} s", request=request) from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        except aiohttp.ClientError as exc:  # the peer closed the connection, a malformed answer
            raise httpx.ReadError(f"{type(exc).__name__}: {exc}", request=request) from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


def _timeout(httpx_timeouts: dict[str, Any]) -> aiohttp.ClientTimeout:
    """httpx's per-phase timeouts as one bound on the whole exchange (the read timeout)."""
    return aiohttp.ClientTimeout(total=httpx_timeouts.get("read"), connect=httpx_timeouts.get("connect"))
