"""What a person does in the storefront, step by step, found the way a screen reader finds it:
by label, role and accessible name (so these steps check accessibility too)."""

import base64
import json
import re
import uuid
from typing import Any

from playwright.sync_api import Page, expect

from harness.shop import unique_email

PASSWORD = "a-good-password"


def register(page: Page, name: str) -> dict[str, str]:
    """Creates an account through the register page; the person is then logged in."""
    email = unique_email(name.lower())
    page.goto("/#/register")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    return {"email": email, "password": PASSWORD, "id": me(page)["id"]}


def log_in(page: Page, email: str, password: str) -> None:
    page.goto("/#/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def token(page: Page) -> str:
    """The token the page keeps (for the test's own API calls, as the same person)."""
    return str(page.evaluate("localStorage.getItem('shop.token')"))


def me(page: Page) -> dict[str, Any]:
    response = page.request.get("/api/me", headers={"authorization": f"Bearer {token(page)}"})
    assert response.ok, response.text()
    return dict(response.json())


def sell(page: Page, name: str, *, price: str = "15.00", stock: int = 3) -> str:
    """Puts a product up for sale on the Sell page; returns its id."""
    page.get_by_role("link", name="Sell", exact=True).click()
    page.get_by_label("Product name").fill(name)
    page.get_by_label("Description").fill("Made for the browser tests.")
    page.get_by_label("Price", exact=True).fill(price)
    page.get_by_label("Stock", exact=True).fill(str(stock))
    page.get_by_role("button", name="Put up for sale").click()
    expect(page.get_by_role("status")).to_have_text(f"{name} is for sale.")
    link = page.get_by_role("list", name="My products").get_by_role("link", name=name)
    return str(link.get_attribute("href")).rsplit("/", 1)[-1]


def find_and_add_to_cart(page: Page, search: str, name: str, quantity: int = 1) -> None:
    """Searches the catalogue, opens the product, puts it in the cart."""
    page.get_by_role("link", name="Catalogue", exact=True).click()
    page.get_by_label("Search products by name").fill(search)
    page.get_by_role("button", name="Search").click()
    page.get_by_role("list", name="Products").get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    page.get_by_label("Quantity").fill(str(quantity))
    page.get_by_role("button", name="Add to cart").click()
    expect(page.get_by_role("status")).to_contain_text(f"Added {quantity} x {name}")


def unique(name: str) -> str:
    """A product name no earlier run used, with a word the search finds it by."""
    return f"{name} {uuid.uuid4().hex[:8]}"


def expired_token(page: Page) -> str:
    """A token shaped like the shop's, already expired (the page notices before asking)."""
    header = _b64({"alg": "HS256", "typ": "JWT"})
    return f"{header}.{_b64({'sub': 'x', 'exp': 1})}.c2ln"


def forged_token(page: Page) -> str:
    """A token that looks valid for an hour, but the shop did not sign it."""
    now = int(page.evaluate("Date.now() / 1000"))
    return f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{_b64({'sub': 'x', 'exp': now + 3600})}.c2ln"


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def order_id_in_url(page: Page) -> str:
    match = re.search(r"#/orders/([\w-]+)$", page.url)
    assert match, page.url
    return match.group(1)
