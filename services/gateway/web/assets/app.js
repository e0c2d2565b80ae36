// The storefront's shell: the navigation, the flash message, and the router that shows one view
// per `#/...` address. Each view module exports `show(main, params)` and is loaded when first
// visited, so the catalogue loads only what it needs.
import { api, ApiError, explain } from "./api.js";
import { h, render } from "./dom.js";
import { cart, session } from "./session.js";

const ROUTES = [
  [/^\/$/, "catalogue"],
  [/^\/products\/([\w-]+)$/, "product"],
  [/^\/login$/, "account", "login"],
  [/^\/register$/, "account", "register"],
  [/^\/cart$/, "cart"],
  [/^\/orders$/, "orders", "list"],
  [/^\/orders\/([\w-]+)$/, "orders", "one"],
  [/^\/sell$/, "sell"],
  [/^\/notifications$/, "notifications"],
  [/^\/admin$/, "admin"],
];
const NEEDS_LOGIN = new Set(["orders", "sell", "notifications", "admin"]);

const main = document.getElementById("main");
const flashBox = document.getElementById("flash");
let live = null; // loaded once someone is logged in
let showing = 0;
let flashOn = null;

/** A message at the top of the page, announced (role="alert"). It stays while the person is on
 *  `on` (a path such as "/login"), and goes with the next navigation otherwise. */
export function flash(text, { on = null } = {}) {
  flashBox.textContent = text;
  flashBox.hidden = !text;
  flashOn = on;
}

export function go(path) {
  if (location.hash === `#${path}`) route();
  else location.hash = path;
}

async function route() {
  const hash = location.hash.startsWith("#/") ? location.hash.slice(1) : "/";
  const [path, query = ""] = hash.split("?");
  const params = new URLSearchParams(query);
  const found = ROUTES.map(([pattern, view, mode]) => [path.match(pattern), view, mode]).find(([m]) => m);
  if (flashOn !== path) flash("");
  if (!found) {
    render(main, h("h1", {}, "Not found"), h("p", {}, h("a", { href: "#/" }, "Back to the catalogue")));
    return;
  }
  const [match, view, mode] = found;
  if (NEEDS_LOGIN.has(view) && !session.loggedIn) {
    // (An expired token has just said so itself, through the session's "expired" event.)
    if (!flashBox.textContent) flash("Please log in first.", { on: "/login" });
    go(`/login?next=${encodeURIComponent(hash)}`);
    return;
  }
  const current = ++showing;
  const module = await import(`./views/${view}.js`);
  if (current !== showing) return; // the person went elsewhere meanwhile
  render(main);
  try {
    await module.show(main, { id: match[1], mode, params, isCurrent: () => current === showing });
  } catch (error) {
    // A refused token already sent the person to log in; anything else is said on the page.
    if (current === showing && !(error instanceof ApiError && error.status === 401)) {
      render(main, h("h1", {}, "Something went wrong"), h("p", { role: "alert", class: "error" }, explain(error)));
    }
  }
  if (current === showing) document.title = `${main.querySelector("h1")?.textContent || "Shop"} · dapr-shop`;
}

function navigation() {
  const link = (href, text, extra = {}) => h("li", {}, h("a", { href, ...extra }, text));
  const n = cart.count;
  const items = [link("#/", "Catalogue"), link("#/cart", `Cart (${n})`, { "aria-label": `Cart, ${n} item${n === 1 ? "" : "s"}` })];
  if (session.loggedIn) {
    const unread = live ? live.unread : 0;
    items.push(
      link("#/orders", "My orders"),
      link("#/sell", "Sell"),
      link("#/notifications", `Notifications (${unread})`, {
        "aria-label": `Notifications, ${unread} unread`,
        class: unread ? "badge" : "",
      }),
    );
    if (session.isAdmin) items.push(link("#/admin", "Admin"));
    items.push(h("li", {}, h("button", { type: "button", class: "link", onclick: logOut }, "Log out")));
  } else {
    items.push(link("#/login", "Log in"), link("#/register", "Register"));
  }
  render(document.getElementById("nav"), items);
}

function logOut() {
  session.logOut();
  cart.clear(); // the next person at this browser starts with an empty cart
  flash("You are logged out.", { on: "/" });
  go("/");
}

async function startLive() {
  if (!session.loggedIn) {
    live?.stop();
    return;
  }
  if (!live) {
    ({ live } = await import("./live.js"));
    live.addEventListener("change", navigation);
  }
  live.start();
}

async function whoAmI() {
  if (!session.loggedIn || session.me) return;
  try {
    session.me = await api("GET", "/me");
    navigation();
  } catch {
    // An expired token is handled by the session; anything else shows on the next call.
  }
}

session.addEventListener("expired", () => {
  flash("Your session has expired: please log in again.", { on: "/login" });
  go(`/login?next=${encodeURIComponent(location.hash.slice(1) || "/")}`);
});
let wasLoggedIn = session.loggedIn;
session.addEventListener("change", () => {
  navigation();
  if (session.loggedIn !== wasLoggedIn) {
    wasLoggedIn = session.loggedIn;
    startLive();
  }
});
cart.addEventListener("change", navigation);
window.addEventListener("hashchange", route);
document.querySelector("[data-skip]").addEventListener("click", (event) => {
  event.preventDefault();
  main.focus();
});

navigation();
route();
whoAmI();
startLive();
