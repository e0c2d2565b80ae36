"""The gateway serves the storefront: its page with a strict Content-Security-Policy, its assets."""

from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from services.gateway import storefront
from services.gateway.config import get_settings


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("APP_ID", "gateway")
    monkeypatch.setenv("APP_PORT", "8000")
    get_settings.cache_clear()
    app = FastAPI()
    storefront.install(app)
    yield TestClient(app, base_url="http://shop.example:8000")
    get_settings.cache_clear()


def test_the_page_allows_scripts_from_the_shop_alone_and_the_notifications_socket(client: TestClient) -> None:
    page = client.get("/")

    assert page.status_code == 200
    policy = dict(part.split(" ", 1) for part in page.headers["content-security-policy"].split("; "))
    assert policy["script-src"] == "'self'"  # no 'unsafe-inline', no CDN
    assert policy["connect-src"] == "'self' ws://shop.example:8001/ws"
    assert policy["frame-ancestors"] == "'none'"
    assert '<meta name="notifications-url" content="ws://shop.example:8001/ws">' in page.text
    assert '<script type="module" src="/assets/app.js"></script>' in page.text
    assert "<script>" not in page.text  # nothing inline


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("shop.example:8000", "ws://shop.example:8001/ws"),
        ("[::1]:8000", "ws://[::1]:8001/ws"),
        ('evil"><script>alert(1)</script>', "ws://127.0.0.1:8001/ws"),
        ("a.example; script-src *", "ws://127.0.0.1:8001/ws"),
    ],
)
def test_the_socket_is_on_the_host_the_page_came_from_and_a_forged_one_never_reaches_it(
    client: TestClient, host: str, url: str
) -> None:
    request = Request(
        {"type": "http", "headers": [(b"host", host.encode())], "path": "/", "query_string": b""}
    )

    assert storefront.notifications_url(request) == url


def test_assets_are_served_as_their_type_and_revalidated(client: TestClient) -> None:
    script = client.get("/assets/app.js")

    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.headers["x-content-type-options"] == "nosniff"
    assert script.headers["cache-control"] == "no-cache"
    again = client.get("/assets/app.js", headers={"if-none-match": script.headers["etag"]})
    assert again.status_code == 304


def test_no_asset_builds_html_from_strings() -> None:
    # Output is escaped by construction: the views create elements and text nodes only.
    for path in (storefront.WEB / "assets").rglob("*.js"):
        source = path.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in source, f"{path.name} uses {sink}"
