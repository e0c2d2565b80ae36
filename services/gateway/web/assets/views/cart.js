// The cart (kept in this browser) and checkout. The order goes out with the cart's
// Idempotency-Key: a double click, or a retry after a network error or a 503, asks the shop
// for the same order again and gets the first answer, never a second order.
import { go } from "../app.js";
import { api, explain } from "../api.js";
import { alertBox, h, money, render } from "../dom.js";
import { cart, session } from "../session.js";

export async function show(main) {
  const errors = alertBox();
  const body = h("div");
  render(main, h("h1", {}, "Your cart"), errors, body);
  const draw = () => {
    const lines = Object.values(cart.lines);
    if (!lines.length) {
      render(body, h("p", {}, "Your cart is empty. ", h("a", { href: "#/" }, "Browse the catalogue")));
      return;
    }
    const placing = { busy: false };
    const button = h("button", { type: "button", class: "primary", onclick: () => checkout(button, errors, placing) }, "Place order");
    render(
      body,
      h(
        "table",
        {},
        h("caption", { class: "visually-hidden" }, "Products in your cart"),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Product"), h("th", { scope: "col" }, "Price"), h("th", { scope: "col" }, "Quantity"), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
        h("tbody", {}, lines.map((line) => row(line))),
      ),
      h("p", { class: "total" }, `Total: ${money(cart.totalCents)}`),
      session.loggedIn
        ? button
        : h("p", {}, h("a", { href: `#/login?next=${encodeURIComponent("/cart")}` }, "Log in to place your order")),
    );
  };
  cart.addEventListener("change", draw);
  window.addEventListener("hashchange", () => cart.removeEventListener("change", draw), { once: true });
  draw();
}

function row(line) {
  const id = `qty-${line.id}`;
  const quantity = h("input", {
    id,
    type: "number",
    min: 1,
    max: 100,
    value: line.quantity,
    onchange: (event) => {
      const n = Number(event.target.value);
      if (Number.isInteger(n) && n >= 1 && n <= 100) cart.setQuantity(line.id, n);
    },
  });
  return h(
    "tr",
    {},
    h("th", { scope: "row" }, h("a", { href: `#/products/${line.id}` }, line.name)),
    h("td", {}, money(line.price_cents)),
    h("td", {}, h("label", { htmlFor: id, class: "visually-hidden" }, `Quantity of ${line.name}`), quantity),
    h("td", {}, h("button", { type: "button", "aria-label": `Remove ${line.name}`, onclick: () => cart.remove(line.id) }, "Remove")),
  );
}

async function checkout(button, errors, placing) {
  // A second click while the first is on its way changes nothing: the button is disabled, and
  // even if it was not, the same Idempotency-Key makes the shop answer with the same order.
  if (placing.busy) return;
  placing.busy = true;
  button.disabled = true;
  button.textContent = "Placing your order…";
  errors.textContent = "";
  const lines = Object.values(cart.lines);
  const names = Object.fromEntries(lines.map((line) => [line.id, line.name]));
  try {
    const order = await api("POST", "/orders", {
      json: { items: lines.map((line) => ({ product_id: line.id, quantity: line.quantity })) },
      headers: { "idempotency-key": cart.checkoutKey },
    });
    cart.clear();
    go(`/orders/${order.id}`);
    return;
  } catch (error) {
    if (error.code === "insufficient_stock") {
      cart.forgetCheckoutKey();
      errors.textContent = "Not enough stock for this order: it was not placed. Lower a quantity and try again.";
    } else if (error.code === "unknown_product") {
      cart.forgetCheckoutKey();
      const gone = lines.filter((line) => error.message.includes(line.id)).map((line) => names[line.id]);
      errors.textContent = `${gone.length ? gone.join(", ") : "A product"} is no longer for sale: remove it from your cart and try again.`;
    } else {
      errors.textContent = explain(error); // 503 says when to retry; the key stays for the retry
    }
  }
  placing.busy = false;
  button.disabled = false;
  button.textContent = "Place order";
}
