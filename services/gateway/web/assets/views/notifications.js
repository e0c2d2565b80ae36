// The notifications list: live, newest first, each unread one with a "Mark read" button.
import { explain } from "../api.js";
import { alertBox, h, render, when } from "../dom.js";
import { live } from "../live.js";

export async function show(main, { isCurrent }) {
  const errors = alertBox();
  const state = h("p", { class: "muted" });
  const list = h("ul", { class: "notifications", "aria-label": "Notifications", "aria-live": "polite" });
  render(main, h("h1", {}, "Notifications"), state, errors, list);
  const draw = () => {
    if (!isCurrent()) {
      live.removeEventListener("change", draw);
      return;
    }
    state.textContent = `${live.unread} unread · ${live.connected ? "live" : "reconnecting…"}`;
    const items = live.sorted;
    render(
      list,
      items.length
        ? items.map((n) =>
            h(
              "li",
              { class: n.read ? "read" : "unread" },
              h("span", {}, n.text),
              " ",
              h("span", { class: "muted" }, when(n.created_at)),
              n.read
                ? null
                : h(
                    "button",
                    { type: "button", "aria-label": `Mark read: ${n.text}`, onclick: () => live.markRead(n.id).catch((e) => (errors.textContent = explain(e))) },
                    "Mark read",
                  ),
            ),
          )
        : h("li", {}, "Nothing yet."),
    );
  };
  live.addEventListener("change", draw);
  draw();
  await live.refresh();
}
