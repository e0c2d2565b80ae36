// "Sell": my products (GET /api/products?seller_id=me), a form to add one, and per product its
// price and stock to change, or delete it.
import { api, explain } from "../api.js";
import { alertBox, field, h, money, render } from "../dom.js";
import { live } from "../live.js";
import { session } from "../session.js";

export async function show(main, { isCurrent }) {
  if (!session.me) session.me = await api("GET", "/me");
  const errors = alertBox();
  const list = h("div", { "aria-live": "polite" });
  const added = h("p", { role: "status" });
  const reload = async () => {
    try {
      const page = await api("GET", `/products?limit=100&seller_id=${encodeURIComponent(session.me.id)}`, { auth: false });
      render(list, page.items.length ? h("ul", { class: "mine", "aria-label": "My products" }, page.items.map((p) => mine(p, reload))) : h("p", {}, "You sell nothing yet."));
    } catch (error) {
      errors.textContent = explain(error);
    }
  };
  const create = async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    errors.textContent = "";
    try {
      const product = await api("POST", "/products", {
        json: {
          name: form.get("name"),
          description: form.get("description"),
          price_cents: Math.round(Number(form.get("price")) * 100),
          stock: Number(form.get("stock")),
        },
      });
      event.target.reset();
      added.textContent = `${product.name} is for sale.`;
      await reload();
    } catch (error) {
      errors.textContent = explain(error);
    }
  };
  render(
    main,
    h("h1", {}, "Sell"),
    h("h2", {}, "Add a product"),
    h(
      "form",
      { class: "stacked", onsubmit: create },
      field("Product name", { name: "name", required: true, maxLength: 200 }),
      field("Description", { name: "description", tag: "textarea", maxLength: 2000 }),
      field("Price", { name: "price", type: "number", min: "0.01", step: "0.01", max: 1000000, required: true }),
      field("Stock", { name: "stock", type: "number", min: 0, max: 1000000, step: 1, required: true }),
      h("button", { type: "submit" }, "Put up for sale"),
    ),
    errors,
    added,
    h("h2", {}, "My products"),
    list,
  );
  // A sale or a cancel changes stock: show it as it happens.
  const onNotification = () => (isCurrent() ? reload() : live.removeEventListener("notification", onNotification));
  live.addEventListener("notification", onNotification);
  await reload();
}

function mine(product, reload) {
  const errors = alertBox();
  const price = field(`Price of ${product.name}`, { type: "number", min: "0.01", step: "0.01", value: money(product.price_cents), required: true });
  const stock = field(`Stock of ${product.name}`, { type: "number", min: 0, step: 1, value: product.stock, required: true });
  const save = async (event) => {
    event.preventDefault();
    try {
      await api("PATCH", `/products/${product.id}`, {
        json: {
          price_cents: Math.round(Number(price.querySelector("input").value) * 100),
          stock: Number(stock.querySelector("input").value),
        },
      });
      await reload();
    } catch (error) {
      errors.textContent = explain(error);
    }
  };
  const remove = async () => {
    try {
      await api("DELETE", `/products/${product.id}`);
      await reload();
    } catch (error) {
      errors.textContent = explain(error);
    }
  };
  return h(
    "li",
    { class: "card" },
    h("h3", {}, h("a", { href: `#/products/${product.id}` }, product.name)),
    h("p", {}, `${money(product.price_cents)} · ${product.stock} in stock`),
    h("form", { class: "inline", onsubmit: save }, price, stock, h("button", { type: "submit", "aria-label": `Save ${product.name}` }, "Save")),
    h("button", { type: "button", "aria-label": `Delete ${product.name}`, onclick: remove }, "Delete"),
    errors,
  );
}
