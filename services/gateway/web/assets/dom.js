// The one way this app builds the page: elements and text nodes, never HTML strings, so whatever
// a product name or a notification holds is shown as text.

/** h("a", {href: "#/"}, "Home"): an element with attributes, properties and children. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key in el && !key.includes("-") && key !== "list") el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces everything inside `el`. */
export function render(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function money(cents) {
  return cents === null || cents === undefined ? "?" : (cents / 100).toFixed(2);
}

let fieldIds = 0;

/** A labelled form field: <label for> + <input id>. */
export function field(label, attrs = {}) {
  const id = attrs.id || `f${++fieldIds}`;
  const input = attrs.tag === "textarea" ? h("textarea", { ...attrs, id, tag: undefined }) : h("input", { ...attrs, id });
  return h("p", { class: "field" }, h("label", { htmlFor: id }, label), input);
}

/** A place for a form's errors, announced to screen readers when it changes. */
export function alertBox() {
  return h("p", { role: "alert", class: "error" });
}

export function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "";
}
