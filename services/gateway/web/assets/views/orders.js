// "My orders" and one order, from the read model. An order's page follows its notifications:
// when the order's event arrives over the WebSocket, its status changes on the page.
import { api, explain } from "../api.js";
import { alertBox, h, money, render, when } from "../dom.js";
import { live } from "../live.js";

const STATUS_OF = { "order.confirmed": "confirmed", "order.cancelled": "cancelled" };

export async function show(main, args) {
  return args.mode === "list" ? list(main) : one(main, args.id, args.isCurrent);
}

async function list(main) {
  const errors = alertBox();
  render(main, h("h1", {}, "My orders"), errors);
  try {
    const page = await api("GET", "/orders?limit=50");
    main.append(
      page.items.length
        ? h(
            "ul",
            { class: "orders", "aria-label": "Orders" },
            page.items.map((order) =>
              h(
                "li",
                {},
                h("a", { href: `#/orders/${order.id}` }, `Order ${order.id.slice(0, 8)}`),
                ` · ${when(order.created_at)} · ${money(order.total_cents)} · `,
                h("span", { class: `status ${order.status}` }, order.status),
              ),
            ),
          )
        : h("p", {}, "No orders yet. ", h("a", { href: "#/" }, "Browse the catalogue")),
    );
  } catch (error) {
    errors.textContent = explain(error);
  }
}

async function one(main, id, isCurrent) {
  const errors = alertBox();
  const status = h("strong", { class: "status" });
  const actions = h("p");
  let order;
  const draw = (shown) => {
    order = shown;
    status.textContent = order.status;
    status.className = `status ${order.status}`;
    render(
      actions,
      order.status === "confirmed" ? h("button", { type: "button", onclick: () => cancel(order.id, errors, (now) => draw({ ...order, status: now })) }, "Cancel order") : null,
    );
  };
  try {
    order = await api("GET", `/orders/${id}`);
  } catch (error) {
    render(main, h("h1", {}, "Order"), h("p", { role: "alert", class: "error" }, explain(error)));
    return;
  }
  render(
    main,
    h("p", {}, h("a", { href: "#/orders" }, "← My orders")),
    h("h1", {}, `Order ${order.id.slice(0, 8)}`),
    h("p", { "aria-live": "polite" }, "Status: ", status),
    h("p", { class: "muted" }, `Placed ${when(order.created_at)}`),
    h(
      "table",
      {},
      h("caption", { class: "visually-hidden" }, "Products in this order"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Product"), h("th", { scope: "col" }, "Quantity"), h("th", { scope: "col" }, "Price"))),
      h(
        "tbody",
        {},
        order.items.map((line) =>
          h(
            "tr",
            {},
            h("th", { scope: "row" }, line.product.name || line.product.id),
            h("td", {}, String(line.quantity)),
            h("td", {}, money(line.line_total_cents)),
          ),
        ),
      ),
    ),
    h("p", { class: "total" }, `Total: ${money(order.total_cents)}`),
    actions,
    errors,
  );
  draw(order);
  const follow = ({ detail }) => {
    if (!isCurrent()) {
      live.removeEventListener("notification", follow);
      return;
    }
    const next = STATUS_OF[detail.type];
    if (detail.order_id === order.id && next && next !== order.status) draw({ ...order, status: next });
  };
  live.addEventListener("notification", follow);
}

async function cancel(id, errors, showStatus) {
  errors.textContent = "";
  try {
    const cancelled = await api("POST", `/orders/${id}/cancel`);
    showStatus(cancelled.status);
  } catch (error) {
    errors.textContent = explain(error);
  }
}
