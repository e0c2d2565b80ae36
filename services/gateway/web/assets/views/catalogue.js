// The catalogue: products newest first, a page at a time, and a search by name.
import { api, explain } from "../api.js";
import { alertBox, h, money, render } from "../dom.js";

const PAGE = 12;

export async function show(main, { params, isCurrent }) {
  const q = (params.get("q") || "").trim();
  const page = Math.max(0, Number(params.get("page")) || 0);
  const search = h("input", { id: "search", type: "search", name: "q", value: q, maxLength: 100, autocomplete: "off" });
  const errors = alertBox();
  const list = h("ul", { class: "products", "aria-label": "Products" });
  const status = h("p", { class: "muted", "aria-live": "polite" });
  const pager = h("nav", { class: "pager", "aria-label": "Pages" });
  render(
    main,
    h("h1", {}, q ? `Products matching “${q}”` : "Catalogue"),
    h(
      "form",
      { role: "search", class: "inline", onsubmit: (event) => find(event, search) },
      h("label", { htmlFor: "search" }, "Search products by name"),
      search,
      h("button", { type: "submit" }, "Search"),
    ),
    errors,
    status,
    list,
    pager,
  );
  const query = new URLSearchParams({ limit: PAGE, offset: page * PAGE });
  if (q) query.set("q", q);
  let result;
  try {
    result = await api("GET", `/products?${query}`, { auth: false });
  } catch (error) {
    errors.textContent = explain(error);
    return;
  }
  if (!isCurrent()) return;
  render(list, result.items.map(card));
  status.textContent = result.total
    ? `${result.total} product${result.total === 1 ? "" : "s"}${q ? " found" : ""}; page ${page + 1} of ${Math.ceil(result.total / PAGE)}.`
    : q
      ? "No product matches that search."
      : "Nothing is for sale yet.";
  const to = (n) => `#/?${new URLSearchParams({ ...(q ? { q } : {}), page: n })}`;
  render(
    pager,
    page > 0 ? h("a", { href: to(page - 1) }, "Previous page") : null,
    (page + 1) * PAGE < result.total ? h("a", { href: to(page + 1) }, "Next page") : null,
  );
  performance.mark("shop:interactive");
}

function card(product) {
  return h(
    "li",
    { class: "card" },
    h("h2", {}, h("a", { href: `#/products/${product.id}` }, product.name)),
    h("p", { class: "price" }, money(product.price_cents)),
    h("p", { class: "muted" }, product.stock > 0 ? `${product.stock} in stock` : "Sold out"),
  );
}

function find(event, search) {
  event.preventDefault();
  const q = search.value.trim();
  location.hash = q ? `/?${new URLSearchParams({ q })}` : "/";
}
