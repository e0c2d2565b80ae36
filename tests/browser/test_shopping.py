"""Two people in two browsers: one sells, the other finds it, buys it and sees it confirmed; the
seller sees the sale arrive live; a cancel shows on both pages."""

import re
import time

from playwright.sync_api import Page, Route, expect

from harness.shop import api
from harness.system import System, log_dirs
from harness.waiting import wait_until
from tests.browser.conftest import SCREENSHOTS, People
from tests.browser.store import find_and_add_to_cart, order_id_in_url, register, sell, token, unique


def orders_of(page: Page) -> list[dict]:  # type: ignore[type-arg]
    """The person's orders, as the API shows them (read model)."""
    return list(api("GET", "/orders", token=token(page)).json()["items"])


def logged_since(started: float) -> str:
    """What every app and sidecar (of every replica) logged since `started`, one file a process."""
    files = [path for d in log_dirs() for path in d.glob("*.log") if path.stat().st_mtime >= started]
    assert files, "no log written during the test"
    return "".join(path.read_text(errors="replace") for path in files)


def test_a_seller_and_a_buyer_trade_and_each_sees_it_happen_live(people: People, system: System) -> None:
    started = time.time()
    seller, buyer = people.open("seller"), people.open("buyer")
    sally = register(seller, "Sally")
    name = unique("Brass lantern")
    sell(seller, name, price="15.00", stock=3)
    seller.get_by_role("link", name=re.compile("Notifications")).click()
    expect(seller.get_by_text("0 unread · live")).to_be_visible()

    bob = register(buyer, "Bob")
    find_and_add_to_cart(buyer, name.split()[-1], name)
    buyer.get_by_role("link", name="Cart, 1 item").click()
    buyer.evaluate("window.notReloaded = true")
    buyer.get_by_role("button", name="Place order").dblclick()

    expect(buyer.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Order \w{8}$"))
    expect(buyer.get_by_text("Status: confirmed")).to_be_visible()
    order_id = order_id_in_url(buyer)
    # The buyer's own notification arrives over the WebSocket: the count changes in place.
    expect(buyer.get_by_role("link", name="Notifications, 1 unread")).to_be_visible()
    # The seller's page shows the sale as it happens, without a reload.
    sold = seller.get_by_role("list", name="Notifications").get_by_text(re.compile(rf"You sold 1 x {name}"))
    expect(sold).to_be_visible()
    expect(seller.get_by_role("link", name="Notifications, 1 unread")).to_be_visible()
    assert buyer.evaluate("window.notReloaded") is True
    if SCREENSHOTS:
        buyer.screenshot(path=SCREENSHOTS / "order.png")
    # A double click placed one order.
    orders = wait_until(lambda: orders_of(buyer), timeout=10, what="the order in the read model")
    assert [o["id"] for o in orders] == [order_id]

    buyer.get_by_role("button", name="Cancel order").click()
    expect(buyer.get_by_text("Status: cancelled")).to_be_visible()
    expect(buyer.get_by_role("button", name="Cancel order")).to_have_count(0)
    cancelled = seller.get_by_role("list", name="Notifications").get_by_text(re.compile(r"was cancelled"))
    expect(cancelled).to_be_visible()
    expect(seller.get_by_role("link", name="Notifications, 2 unread")).to_be_visible()

    # Marked read through the API: the count goes down, and stays down after a reload.
    seller.get_by_role("button", name=re.compile(f"Mark read: You sold 1 x {name}")).click()
    expect(seller.get_by_role("link", name="Notifications, 1 unread")).to_be_visible()
    seller.reload()
    expect(seller.get_by_role("link", name="Notifications, 1 unread")).to_be_visible()
    # The seller's stock came back with the cancel.
    seller.get_by_role("link", name="Sell", exact=True).click()
    expect(seller.get_by_role("list", name="My products")).to_contain_text("15.00 · 3 in stock")

    # Nothing secret or personal went into a URL the servers logged.
    logs = logged_since(started)
    for secret in (token(buyer), token(seller), sally["email"], bob["email"], sally["password"]):
        assert secret not in logs


def test_an_order_whose_answer_was_lost_is_placed_once_when_retried(people: People, system: System) -> None:
    seller, buyer = people.open("seller"), people.open("buyer")
    register(seller, "Sam")
    name = unique("Teapot")
    sell(seller, name, stock=5)
    register(buyer, "Bea")
    find_and_add_to_cart(buyer, name.split()[-1], name, quantity=2)
    buyer.get_by_role("link", name="Cart, 2 items").click()

    def lose_the_answer(route: Route) -> None:
        route.fetch()  # the shop places the order...
        route.abort("connectionreset")  # ...and the browser never hears of it

    buyer.route("**/api/orders", lose_the_answer, times=1)
    people.allow(r"Failed to load resource: net::ERR_CONNECTION_RESET")
    buyer.get_by_role("button", name="Place order").click()
    expect(buyer.get_by_role("alert")).to_have_text(re.compile("cannot be reached"))
    buyer.get_by_role("button", name="Place order").click()  # the person tries again

    expect(buyer.get_by_text("Status: confirmed")).to_be_visible()
    orders = wait_until(lambda: orders_of(buyer), timeout=10, what="the order in the read model")
    assert [o["id"] for o in orders] == [order_id_in_url(buyer)]
    assert orders[0]["items"][0]["quantity"] == 2

    # Cancelled elsewhere (another device): the open page follows the order's event.
    cancelled = api("POST", f"/orders/{orders[0]['id']}/cancel", token=token(buyer))
    assert cancelled.status_code == 200, cancelled.text
    expect(buyer.get_by_text("Status: cancelled")).to_be_visible()


def test_an_order_the_stock_cannot_cover_shows_why(people: People, system: System) -> None:
    seller, buyer = people.open("seller"), people.open("buyer")
    register(seller, "Sue")
    name = unique("Last kettle")
    product_id = sell(seller, name, stock=1)
    register(buyer, "Ben")
    find_and_add_to_cart(buyer, name.split()[-1], name)
    # Sold elsewhere meanwhile: the seller takes the stock down to zero.
    changed = api("PATCH", f"/products/{product_id}", token=token(seller), json={"stock": 0})
    assert changed.status_code == 200, changed.text

    buyer.get_by_role("link", name="Cart, 1 item").click()
    people.allow(r"status of 409")
    buyer.get_by_role("button", name="Place order").click()

    expect(buyer.get_by_role("alert")).to_have_text(re.compile("Not enough stock for this order"))
    expect(buyer.get_by_role("button", name="Place order")).to_be_enabled()
    assert buyer.url.endswith("#/cart")


def test_a_product_gone_from_sale_and_a_busy_shop_are_each_explained(people: People, system: System) -> None:
    seller, buyer = people.open("seller"), people.open("buyer")
    register(seller, "Tess")
    gone, kept = unique("Paper lamp"), unique("Paper fan")
    gone_id = sell(seller, gone)
    sell(seller, kept)
    register(buyer, "Ugo")
    find_and_add_to_cart(buyer, gone.split()[-1], gone)
    find_and_add_to_cart(buyer, kept.split()[-1], kept)
    # On "Sell", the seller takes one off sale and changes the other's price and stock.
    seller.get_by_role("button", name=f"Delete {gone}").click()
    mine = seller.get_by_role("list", name="My products")
    expect(mine.get_by_role("link", name=gone)).to_have_count(0)
    seller.get_by_label(f"Price of {kept}").fill("12.50")
    seller.get_by_label(f"Stock of {kept}").fill("7")
    seller.get_by_role("button", name=f"Save {kept}").click()
    expect(mine).to_contain_text("12.50 · 7 in stock")
    assert api("GET", f"/products/{gone_id}").status_code == 404
    buyer.get_by_role("link", name="Cart, 2 items").click()
    people.allow(r"status of (422|503)")

    buyer.get_by_role("button", name="Place order").click()
    expect(buyer.get_by_role("alert")).to_have_text(
        f"{gone} is no longer for sale: remove it from your cart and try again."
    )

    buyer.get_by_role("button", name=f"Remove {gone}").click()
    # The shop answers 503 with Retry-After when it is overloaded (the gateway's admission limit).
    busy = {"detail": "orders is unavailable, try again later", "code": "service_unavailable"}
    buyer.route(
        "**/api/orders",
        lambda route: route.fulfill(status=503, headers={"retry-after": "2"}, json=busy),
        times=1,
    )
    buyer.get_by_role("button", name="Place order").click()
    expect(buyer.get_by_role("alert")).to_have_text(
        "The shop is busy right now: please try again in 2 seconds."
    )
    buyer.get_by_role("button", name="Place order").click()
    expect(buyer.get_by_text("Status: confirmed")).to_be_visible()
    expect(buyer.get_by_text("Total: 12.50")).to_be_visible()  # the shop's price, not the cart's
