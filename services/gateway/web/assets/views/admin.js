// Admin: every service's health, the read model's status and rebuild, dead letters and replay.
import { api, explain } from "../api.js";
import { alertBox, h, render, when } from "../dom.js";

export async function show(main) {
  const errors = alertBox();
  const health = h("ul", { "aria-label": "Services" });
  const model = h("dl", { class: "facts" });
  const letters = h("div");
  const done = h("p", { role: "status" });
  render(
    main,
    h("h1", {}, "Admin"),
    errors,
    done,
    h("h2", {}, "Services"),
    health,
    h("h2", {}, "Order read model"),
    model,
    h("button", { type: "button", onclick: () => act("POST", "/admin/read-model/rebuild", "Rebuild started.") }, "Rebuild the read model"),
    h("h2", {}, "Dead letters"),
    letters,
    h("button", { type: "button", onclick: () => act("POST", "/admin/dead-letters/replay", "Replay done.") }, "Replay dead letters"),
  );
  async function act(method, path, message) {
    errors.textContent = "";
    try {
      await api(method, path);
      done.textContent = message;
      await load();
    } catch (error) {
      errors.textContent = explain(error);
    }
  }
  async function load() {
    // /api/health answers 503 with the same body when a service is down: show it either way.
    const report = await fetch("/api/health", { cache: "no-store" }).then((r) => r.json()).catch(() => null);
    render(
      health,
      report
        ? Object.entries(report.services).map(([name, state]) => {
            const replicas = report.replicas?.[name];
            return h("li", {}, `${name}: `, h("strong", { class: `status ${state}` }, state), replicas > 1 ? ` (${replicas} replicas)` : "");
          })
        : h("li", {}, "The gateway did not answer."),
    );
    try {
      const [status, dead] = await Promise.all([api("GET", "/admin/read-model/status"), api("GET", "/admin/dead-letters")]);
      render(
        model,
        Object.entries(status).flatMap(([key, value]) => [h("dt", {}, key.replace(/_/g, " ")), h("dd", {}, value === null ? "—" : String(value))]),
      );
      const items = dead.items || [];
      render(
        letters,
        items.length
          ? h(
              "ul",
              { "aria-label": "Dead letters" },
              items.map((d) =>
                h(
                  "li",
                  {},
                  `${d.type || "an event"} that ${d.subscriber} could not apply, received ${when(d.received_at)}`,
                  d.replays ? ` (replayed ${d.replays} times, last: ${d.last_replay?.outcome ?? "?"})` : "",
                ),
              ),
            )
          : h("p", {}, "No dead letters."),
      );
    } catch (error) {
      errors.textContent = explain(error);
    }
  }
  await load();
}
