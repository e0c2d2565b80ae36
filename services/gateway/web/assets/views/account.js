// Log in and register. The token is kept by the session (localStorage), never put in a URL.
import { go } from "../app.js";
import { api, explain } from "../api.js";
import { alertBox, field, h, render } from "../dom.js";
import { session } from "../session.js";

export async function show(main, { mode, params }) {
  const next = safeNext(params.get("next"));
  const errors = alertBox();
  const register = mode === "register";
  const fields = [
    register ? field("Name", { name: "name", autocomplete: "name", required: true, maxLength: 200 }) : null,
    field("Email", { name: "email", type: "email", autocomplete: "email", required: true, maxLength: 254 }),
    field("Password", {
      name: "password",
      type: "password",
      autocomplete: register ? "new-password" : "current-password",
      required: true,
      minLength: register ? 8 : 1,
      maxLength: 200,
    }),
  ];
  const button = h("button", { type: "submit" }, register ? "Create account" : "Log in");
  const submit = async (event) => {
    event.preventDefault();
    const form = Object.fromEntries(new FormData(event.target));
    button.disabled = true;
    errors.textContent = "";
    try {
      if (register) await api("POST", "/auth/register", { json: form, auth: false });
      const { access_token } = await api("POST", "/auth/login", {
        json: { email: form.email, password: form.password },
        auth: false,
      });
      session.logIn(access_token, null);
      session.me = await api("GET", "/me");
      session.changed();
      go(next);
    } catch (error) {
      errors.textContent =
        error.code === "invalid_credentials" ? "That email and password do not match an account." : explain(error);
      button.disabled = false;
    }
  };
  render(
    main,
    h("h1", {}, register ? "Create an account" : "Log in"),
    h("form", { class: "stacked", onsubmit: submit }, fields, errors, button),
    h(
      "p",
      {},
      register ? "Already have an account? " : "New here? ",
      h("a", { href: register ? "#/login" : "#/register" }, register ? "Log in" : "Create an account"),
    ),
  );
  main.querySelector("input").focus();
}

/** Only a path inside this app (never another site). */
function safeNext(next) {
  return next && /^\/[\w/?=&%.-]*$/.test(next) && !next.startsWith("//") ? next : "/";
}
