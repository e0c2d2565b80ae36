// Who is logged in and what is in the cart, kept in localStorage so a reload keeps both. The
// token never goes into a URL; it is sent only in the Authorization header and the WebSocket's
// first message.

const TOKEN = "shop.token";
const CART = "shop.cart";
const CHECKOUT_KEY = "shop.checkout-key";

class Session extends EventTarget {
  me = null;

  get token() {
    const token = localStorage.getItem(TOKEN);
    if (token && expiresAt(token) <= Date.now()) {
      this.expired();
      return null;
    }
    return token;
  }

  get loggedIn() {
    return this.token !== null;
  }

  get isAdmin() {
    return this.me?.role === "admin";
  }

  logIn(token, me) {
    localStorage.setItem(TOKEN, token);
    this.me = me;
    this.changed();
  }

  logOut() {
    localStorage.removeItem(TOKEN);
    this.me = null;
    this.changed();
  }

  /** The token was refused or ran out: back to the login page, saying why. */
  expired() {
    if (localStorage.getItem(TOKEN) === null) return;
    localStorage.removeItem(TOKEN);
    this.me = null;
    this.changed();
    this.dispatchEvent(new CustomEvent("expired"));
  }

  changed() {
    this.dispatchEvent(new CustomEvent("change"));
  }
}

/** When a JWT runs out (its `exp`), in ms; a token that cannot be read counts as expired. */
function expiresAt(token) {
  try {
    const payload = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    return typeof payload.exp === "number" ? payload.exp * 1000 : Infinity;
  } catch {
    return 0;
  }
}

export const session = new Session();

class Cart extends EventTarget {
  /** {productId: {id, name, price_cents, quantity}} */
  get lines() {
    try {
      return JSON.parse(localStorage.getItem(CART)) || {};
    } catch {
      return {};
    }
  }

  get count() {
    return Object.values(this.lines).reduce((n, line) => n + line.quantity, 0);
  }

  get totalCents() {
    return Object.values(this.lines).reduce((n, line) => n + line.quantity * line.price_cents, 0);
  }

  add(product, quantity) {
    const lines = this.lines;
    const line = lines[product.id] || { id: product.id, name: product.name, price_cents: product.price_cents, quantity: 0 };
    line.quantity = Math.min(100, line.quantity + quantity);
    lines[product.id] = line;
    this.save(lines);
  }

  setQuantity(productId, quantity) {
    const lines = this.lines;
    if (!lines[productId]) return;
    lines[productId].quantity = Math.max(1, Math.min(100, quantity));
    this.save(lines);
  }

  remove(productId) {
    const lines = this.lines;
    delete lines[productId];
    this.save(lines);
  }

  clear() {
    this.save({});
  }

  /** The Idempotency-Key of this cart's order: the same for every attempt (a double click, a
   *  retry after a network error) until the cart changes, so the shop places it once. */
  get checkoutKey() {
    let key = localStorage.getItem(CHECKOUT_KEY);
    if (!key) {
      // getRandomValues, not randomUUID: the latter exists only on https or localhost.
      key = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
      localStorage.setItem(CHECKOUT_KEY, key);
    }
    return key;
  }

  /** After a definite answer (placed, or refused for a reason a retry cannot change). */
  forgetCheckoutKey() {
    localStorage.removeItem(CHECKOUT_KEY);
  }

  save(lines) {
    localStorage.setItem(CART, JSON.stringify(lines));
    localStorage.removeItem(CHECKOUT_KEY);
    this.dispatchEvent(new CustomEvent("change"));
  }
}

export const cart = new Cart();
