// Live notifications over the notifications service's WebSocket: the inbox (GET
// /api/notifications) when logged in, then each new notification as it is pushed. The socket
// reconnects by itself (backing off up to 5 s); on connecting the service sends every unread
// notification again, and the inbox is read again, so nothing sent meanwhile is missed.
import { api } from "./api.js";
import { session } from "./session.js";

const SOCKET_URL = document.querySelector('meta[name="notifications-url"]').content;
const UNAUTHORIZED = 4401;

class Live extends EventTarget {
  /** Newest first, by id. */
  items = new Map();
  unread = 0;
  connected = false;
  #socket = null;
  #retryMs = 500;
  #timer = null;
  #refreshTimer = null;

  start() {
    this.stop();
    if (!session.loggedIn) return;
    this.#connect();
    this.refresh();
  }

  stop() {
    clearTimeout(this.#timer);
    clearTimeout(this.#refreshTimer);
    if (this.#socket) {
      this.#socket.onclose = null;
      this.#socket.close();
      this.#socket = null;
    }
    this.items.clear();
    this.unread = 0;
    this.#setConnected(false);
  }

  /** Reads the inbox: the newest notifications and the unread count. */
  async refresh() {
    try {
      const page = await api("GET", "/notifications?limit=50");
      for (const n of page.items) this.items.set(n.id, n);
      this.unread = page.unread;
      this.#changed();
    } catch {
      // Not reachable yet (say, the service is starting again): once more shortly, while the
      // socket is up; when it is down, its reconnection reads the inbox again.
      clearTimeout(this.#refreshTimer);
      if (this.connected) this.#refreshTimer = setTimeout(() => this.refresh(), 1000);
    }
  }

  async markRead(id) {
    await api("POST", `/notifications/${id}/read`);
    const n = this.items.get(id);
    if (n && !n.read) {
      n.read = true;
      this.unread = Math.max(0, this.unread - 1);
    }
    this.#changed();
  }

  get sorted() {
    return [...this.items.values()].sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
  }

  #connect() {
    const token = session.token;
    if (!token) return;
    const socket = new WebSocket(SOCKET_URL);
    this.#socket = socket;
    socket.onopen = () => socket.send(JSON.stringify({ event: "authorize", data: { token } }));
    socket.onmessage = (message) => {
      const { event, data } = JSON.parse(message.data);
      if (event === "authorized") {
        this.#retryMs = 500;
        this.#setConnected(true);
        this.refresh();
      } else if (event === "notification") {
        this.#receive(data);
      }
    };
    socket.onclose = (closed) => {
      this.#socket = null;
      this.#setConnected(false);
      if (closed.code === UNAUTHORIZED) {
        session.expired();
        return;
      }
      this.#timer = setTimeout(() => this.#connect(), this.#retryMs);
      this.#retryMs = Math.min(5000, this.#retryMs * 2);
    };
  }

  #receive(notification) {
    const known = this.items.get(notification.id);
    if (!known && !notification.read) this.unread += 1;
    this.items.set(notification.id, known ? { ...known, ...notification, read: known.read } : notification);
    this.#changed();
    if (!known) this.dispatchEvent(new CustomEvent("notification", { detail: notification }));
  }

  #setConnected(connected) {
    this.connected = connected;
    this.#changed();
  }

  #changed() {
    this.dispatchEvent(new CustomEvent("change"));
  }
}

export const live = new Live();
