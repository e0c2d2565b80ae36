// One product: price, stock, seller, and "Add to cart".
import { api, explain } from "../api.js";
import { alertBox, field, h, money, render } from "../dom.js";
import { cart, session } from "../session.js";

export async function show(main, { id }) {
  let product;
  try {
    product = await api("GET", `/products/${id}`, { auth: false });
  } catch (error) {
    render(main, h("h1", {}, "Product"), h("p", { role: "alert", class: "error" }, explain(error)));
    return;
  }
  const errors = alertBox();
  const done = h("p", { role: "status" });
  const mine = session.me && session.me.id === product.seller_id;
  const quantity = field("Quantity", { type: "number", name: "quantity", min: 1, max: Math.max(1, Math.min(100, product.stock)), value: 1, required: true });
  const add = (event) => {
    event.preventDefault();
    const n = Number(quantity.querySelector("input").value);
    if (!Number.isInteger(n) || n < 1 || n > 100) {
      errors.textContent = "Choose a quantity from 1 to 100.";
      return;
    }
    cart.add(product, n);
    errors.textContent = "";
    render(done, `Added ${n} x ${product.name} to your cart. `, h("a", { href: "#/cart" }, "Go to the cart"));
  };
  render(
    main,
    h("p", {}, h("a", { href: "#/" }, "← Catalogue")),
    h("h1", {}, product.name),
    product.description ? h("p", { class: "description" }, product.description) : null,
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Price"),
      h("dd", { class: "price" }, money(product.price_cents)),
      h("dt", {}, "In stock"),
      h("dd", {}, String(product.stock)),
      h("dt", {}, "Seller"),
      h("dd", {}, mine ? "You" : `Seller ${product.seller_id.slice(0, 8)}`),
    ),
    product.stock > 0
      ? h("form", { class: "inline", onsubmit: add }, quantity, h("button", { type: "submit" }, "Add to cart"))
      : h("p", {}, "Sold out."),
    errors,
    done,
  );
}
