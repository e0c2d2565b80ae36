"""The storefront: a small JavaScript app (ES modules, no build step) served at `/`, beside the
REST API under `/api`. It calls only the public API and the notifications WebSocket, so the
browser holds no more power than curl.

Every response of the storefront carries a Content-Security-Policy that allows scripts, styles
and connections from this origin only (plus the notifications WebSocket): no inline script, no
CDN. The page itself is a template with one value, the WebSocket's URL."""

import html
import re
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.gateway.config import get_settings

WEB = Path(__file__).resolve().parent / "web"
ASSETS = "/assets"
PAGE = (WEB / "index.html").read_text()
# A Host header is the client's to choose: only a plain host name or address reaches the page.
_HOST = re.compile(r"^[A-Za-z0-9.-]{1,253}$|^\[[0-9A-Fa-f:.]{2,45}\]$")

router = APIRouter(include_in_schema=False)


def notifications_url(request: Request) -> str:
    """ws://<the host the browser used>:<notifications port>/ws, unless configured."""
    settings = get_settings()
    if settings.storefront_notifications_url:
        return settings.storefront_notifications_url
    host = request.url.hostname or "127.0.0.1"
    if ":" in host:  # IPv6, as the URL writes it
        host = f"[{host}]"
    if not _HOST.match(host):
        host = "127.0.0.1"
    return f"ws://{host}:{settings.notifications_public_port}/ws"


def content_security_policy(ws_url: str) -> str:
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src 'self' {ws_url}",
            "manifest-src 'self'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


@router.get("/", response_class=HTMLResponse)
async def storefront_page(request: Request) -> HTMLResponse:
    """The single page of the storefront; its views are routed in the browser (`/#/...`)."""
    ws_url = notifications_url(request)
    page = PAGE.replace("{{notifications_url}}", html.escape(ws_url, quote=True))
    return HTMLResponse(
        page,
        headers={
            "Content-Security-Policy": content_security_policy(ws_url),
            # The page changes with each release: ask the server every time (a 200 of ~2 KB).
            "Cache-Control": "no-cache",
        },
    )


class AssetHeaders:
    """Security headers on every asset; revalidated by ETag, so a release shows at once."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-content-type-options", b"nosniff"),
                    (b"cache-control", b"no-cache"),
                    (b"content-security-policy", b"default-src 'none'"),
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install(app: FastAPI) -> None:
    """Serves the storefront page at `/` and its files under `/assets`."""
    app.include_router(router)
    app.mount(ASSETS, AssetHeaders(StaticFiles(directory=WEB / "assets")), name="assets")
